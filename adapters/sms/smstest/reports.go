package smstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Delivery reports, as the real providers post them: to a URL the account owner gives them, some
// time after they took the SMS (and sometimes before our side has recorded that they took it).

// MSG91 report formats (see docs/PROVIDERS.md).
const (
	MSG91V2 = "v2" // a form with one field "data": a JSON array of batches with a "report" list
	MSG91V3 = "v3" // one flat JSON object
)

// Report posts MSG91's delivery report of the SMS it answered with requestID to url, in format,
// with status ("1" delivered, "2" failed, "16" rejected, …), desc and failedReason, as MSG91
// writes them (every value a string). It returns the HTTP status the webhook answered.
func (m *MSG91) Report(url, format, requestID, status, desc, failedReason string) (int, error) {
	req, ok := m.byRequestID(requestID)
	if !ok {
		return 0, fmt.Errorf("msg91 fake: no SMS answered with %q", requestID)
	}
	return PostMSG91Report(url, format, MSG91DLR{RequestID: requestID, Number: req.Mobiles, Status: status, Desc: desc,
		FailedReason: failedReason, CRQID: req.CRQID, Date: time.Now().In(time.FixedZone("IST", 19800)).Format("2006-01-02 15:04:05")})
}

func (m *MSG91) byRequestID(id string) (MSG91Request, bool) {
	for _, r := range m.Received() {
		if r.RequestID == id && id != "" {
			return r, true
		}
	}
	return MSG91Request{}, false
}

// MSG91DLR is one report as MSG91 writes it.
type MSG91DLR struct {
	RequestID, Number, Status, Desc, FailedReason, CRQID, Date string
}

// PostMSG91Report posts reports in format to url, as MSG91 does; it returns the answer's status.
func PostMSG91Report(target, format string, reports ...MSG91DLR) (int, error) {
	var (
		body        string
		contentType string
	)
	switch format {
	case MSG91V2:
		var batches []map[string]any
		for _, r := range reports {
			batches = append(batches, map[string]any{"senderId": "CRTBUY", "requestId": r.RequestID, "userId": "411234",
				"campaignName": "API", "report": []map[string]string{{"date": r.Date, "number": r.Number, "status": r.Status,
					"desc": r.Desc, "clientid": r.Number, "CRQID": r.CRQID, "failedReason": r.FailedReason}}})
		}
		data, err := json.Marshal(batches)
		if err != nil {
			return 0, err
		}
		body, contentType = url.Values{"data": {string(data)}}.Encode(), "application/x-www-form-urlencoded"
	case MSG91V3:
		if len(reports) != 1 {
			return 0, fmt.Errorf("msg91 fake: v3 posts one report at a time")
		}
		r := reports[0]
		data, err := json.Marshal(map[string]string{"requestId": r.RequestID, "number": r.Number, "status": r.Status,
			"desc": r.Desc, "date": r.Date, "senderId": "CRTBUY", "CRQID": r.CRQID, "failedReason": r.FailedReason})
		if err != nil {
			return 0, err
		}
		body, contentType = string(data), "application/json"
	default:
		return 0, fmt.Errorf("msg91 fake: format %q: want v2 or v3", format)
	}
	return post(target, contentType, body)
}

// Report posts the delivery report of the SMS Fast2SMS answered with requestID to url, in the body
// docs/PROVIDERS.md tells the account owner to configure: JSON {"request_id", "number", "status",
// "description", "time"}. It returns the HTTP status the webhook answered.
func (f *Fast2SMS) Report(url, requestID, status, description string) (int, error) {
	var number string
	for _, r := range f.Received() {
		if r.RequestID == requestID && requestID != "" && len(r.Numbers) > 0 {
			number = r.Numbers[0]
		}
	}
	if number == "" {
		return 0, fmt.Errorf("fast2sms fake: no SMS answered with %q", requestID)
	}
	data, err := json.Marshal(map[string]string{"request_id": requestID, "number": number, "status": status,
		"description": description, "time": time.Now().In(time.FixedZone("IST", 19800)).Format("2006-01-02 15:04:05")})
	if err != nil {
		return 0, err
	}
	return post(url, "application/json", string(data))
}

func post(url, contentType, body string) (int, error) {
	res, err := http.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("post report: %w", err)
	}
	defer res.Body.Close()
	return res.StatusCode, nil
}
