package sms

import (
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"time"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/strictjson"
)

// Delivery reports (DLR): each provider posts them to a webhook of ours, in its own shape. The
// parsers read a body into command.ProviderReport; what a status means is decided here, once.

// ist is the zone the providers write report times in.
func ist() *time.Location { return time.FixedZone("IST", 5*60*60+30*60) }

// MSG91Reports reads MSG91's delivery reports in both shapes MSG91 posts: v2, a form whose one field
// "data" holds a JSON array of {requestId, senderId, report: [{number, status, desc, date, …}]}, and
// v3, a flat JSON object {requestId, number, status, desc, date, …} (or an array of them).
type MSG91Reports struct{}

// msg91Status is what MSG91's status codes mean; codes not listed are not final (sent on, queued)
// and are left out.
func msg91Status(code string) (delivered, rejected, final bool, meaning string) {
	switch code {
	case "1":
		return true, false, true, "delivered"
	case "2":
		return false, false, true, "failed: the phone was off, out of coverage, or the operator could not deliver it"
	case "9":
		return false, false, true, "NDNC: the number is on the do-not-disturb registry"
	case "16", "25":
		return false, true, true, "rejected: the text does not match its DLT template"
	case "17":
		return false, false, true, "blocked number"
	}
	return false, false, false, ""
}

type msg91Report struct {
	RequestID    string `json:"requestId"`
	Number       string `json:"number"`
	Status       string `json:"status"`
	Desc         string `json:"desc"`
	Date         string `json:"date"`
	CRQID        string `json:"CRQID"`
	FailedReason string `json:"failedReason"`
}

// ParseReports reads one webhook body.
func (MSG91Reports) ParseReports(contentType string, body []byte) ([]command.ProviderReport, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	var flat []msg91Report
	switch mt {
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("msg91 report: the form: %w", err)
		}
		data := form.Get("data")
		if data == "" {
			return nil, errors.New(`msg91 report: the form has no "data" field`)
		}
		var batches []struct {
			RequestID string        `json:"requestId"`
			Report    []msg91Report `json:"report"`
		}
		if err := strictjson.Unmarshal([]byte(data), &batches, false); err != nil {
			return nil, fmt.Errorf("msg91 report: data: %w", err)
		}
		for _, b := range batches {
			for _, r := range b.Report {
				if r.RequestID == "" {
					r.RequestID = b.RequestID
				}
				flat = append(flat, r)
			}
		}
	case "application/json":
		trimmed := strings.TrimSpace(string(body))
		if strings.HasPrefix(trimmed, "[") {
			if err := strictjson.Unmarshal(body, &flat, false); err != nil {
				return nil, fmt.Errorf("msg91 report: %w", err)
			}
		} else {
			var r msg91Report
			if err := strictjson.Unmarshal(body, &r, false); err != nil {
				return nil, fmt.Errorf("msg91 report: %w", err)
			}
			flat = append(flat, r)
		}
	default:
		return nil, fmt.Errorf("msg91 report: content type %q: want a form (v2) or JSON (v3)", contentType)
	}
	var out []command.ProviderReport
	for _, r := range flat {
		if r.RequestID == "" || r.Number == "" || r.Status == "" {
			return nil, errors.New("msg91 report: a report lacks requestId, number or status")
		}
		delivered, rejected, final, meaning := msg91Status(r.Status)
		if !final {
			continue
		}
		reason := ""
		if !delivered {
			reason = strings.TrimSpace(r.FailedReason)
			if reason == "" {
				reason = meaning
			}
		}
		out = append(out, command.ProviderReport{Provider: ProviderMSG91, RequestID: r.RequestID, Number: r.Number,
			Status: r.Status, Description: r.Desc, Reason: reason, Reference: r.CRQID, ReportedAt: reportTime(r.Date),
			Delivered: delivered, Rejected: rejected})
	}
	return out, nil
}

// Fast2SMSReports reads the delivery reports of Fast2SMS's "Standard" webhook, whose body the
// account owner writes from Fast2SMS's variables: docs/PROVIDERS.md gives the body to paste, JSON
// {"request_id", "number", "status", "description", "time"}; the same fields as a form are read too.
type Fast2SMSReports struct{}

type fast2smsReport struct {
	RequestID   string `json:"request_id"`
	Number      string `json:"number"`
	Status      string `json:"status"`
	Description string `json:"description"`
	Time        string `json:"time"`
}

// fast2smsStatus reads Fast2SMS's status words: delivered, or failed, or rejected by DLT scrubbing;
// anything else (sent, submitted, pending) is not final.
func fast2smsStatus(status, description string) (delivered, rejected, final bool) {
	s := strings.ToLower(strings.TrimSpace(status))
	switch {
	case s == "delivered" || s == "delivrd" || s == "success":
		return true, false, true
	case strings.Contains(s, "reject") || strings.Contains(strings.ToLower(description), "dlt"):
		return false, true, true
	case s == "failed" || s == "undelivered" || s == "undeliv" || s == "expired" || s == "blocked" || s == "ndnc":
		return false, false, true
	}
	return false, false, false
}

// ParseReports reads one webhook body.
func (Fast2SMSReports) ParseReports(contentType string, body []byte) ([]command.ProviderReport, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	var r fast2smsReport
	switch mt {
	case "application/json":
		if err := strictjson.Unmarshal(body, &r, false); err != nil {
			return nil, fmt.Errorf("fast2sms report: %w", err)
		}
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("fast2sms report: the form: %w", err)
		}
		r = fast2smsReport{RequestID: form.Get("request_id"), Number: form.Get("number"), Status: form.Get("status"),
			Description: form.Get("description"), Time: form.Get("time")}
	default:
		return nil, fmt.Errorf("fast2sms report: content type %q: want JSON or a form", contentType)
	}
	if r.RequestID == "" || r.Number == "" || r.Status == "" {
		return nil, errors.New("fast2sms report: request_id, number and status are required")
	}
	delivered, rejected, final := fast2smsStatus(r.Status, r.Description)
	if !final {
		return nil, nil
	}
	reason := ""
	if !delivered {
		reason = r.Description
		if reason == "" {
			reason = r.Status
		}
	}
	return []command.ProviderReport{{Provider: ProviderFast2SMS, RequestID: r.RequestID, Number: r.Number, Status: r.Status,
		Description: r.Description, Reason: reason, ReportedAt: reportTime(r.Time), Delivered: delivered, Rejected: rejected}}, nil
}

// reportTime reads "2006-01-02 15:04:05" in IST, or RFC 3339; the zero time when it is neither.
func reportTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if t, err := time.ParseInLocation("2006-01-02 15:04:05", s, ist()); err == nil {
		return t
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	return time.Time{}
}
