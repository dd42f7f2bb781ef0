package smstest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"sync/atomic"
	"testing"
	"time"
)

// MSG91Request is one request the fake MSG91 received.
type MSG91Request struct {
	// AuthKey is the authkey header as sent.
	AuthKey     string
	ContentType string
	TemplateID  string
	ShortURL    string
	// Mobiles is recipients[0].mobiles, e.g. 919876543210.
	Mobiles string
	// Vars are recipients[0]'s other fields: the template variables.
	Vars map[string]string
	// Recipients counts the recipients in the request.
	Recipients int
	// CRQID is the client reference sent with the request, which MSG91 returns in its reports.
	CRQID string
	// Body is the raw request body.
	Body string
	// Status and Response are what the fake answered (also when the client had given up).
	Status   int
	Response string
	// RequestID is the id given on success.
	RequestID string
}

// MSG91 is a fake of MSG91's Flow API: POST /api/v5/flow.
type MSG91 struct {
	*fake
	authKey string
	log     *recorder[MSG91Request]
	tb      testing.TB
	// early, when set, is a report posted for each SMS taken before the answer goes out: the race
	// real providers produce, a report before the send's outcome is recorded.
	early atomic.Pointer[earlyReport]
}

type earlyReport struct{ url, format, status, desc string }

// ReportBeforeAnswering makes the fake post a report with status and desc to url, in format, for
// every SMS it takes, before it answers the send.
func (m *MSG91) ReportBeforeAnswering(url, format, status, desc string) {
	m.early.Store(&earlyReport{url, format, status, desc})
}

var msg91Mobile = regexp.MustCompile(`^91[6-9][0-9]{9}$`)

// NewMSG91 starts a fake MSG91 that accepts authKey, and stops it when the test ends.
func NewMSG91(t testing.TB, authKey string) *MSG91 {
	m := &MSG91{authKey: authKey, log: &recorder[MSG91Request]{}, tb: t}
	m.fake = newFake(t, http.HandlerFunc(m.serve))
	return m
}

// URL is the base URL to give the client (MSG91Config.BaseURL).
func (m *MSG91) URL() string { return m.srv.URL }

// Received returns every request so far, in order, whatever the answer.
func (m *MSG91) Received() []MSG91Request { return m.log.all() }

// FailNext makes the next n requests get status and body instead of the real answer, e.g.
// FailNext(1, 500, `{"type":"error","message":"Internal Server Error","code":"500"}`) or a 200
// with {"type":"error",…}.
func (m *MSG91) FailNext(n, status int, body string) { m.failNext(n, status, body) }

// Delay makes every answer wait d, to make the client time out.
func (m *MSG91) Delay(d time.Duration) { m.setDelay(d) }

func msg91Error(status int, code, message string) (int, string) {
	b, _ := json.Marshal(map[string]string{"type": "error", "message": message, "code": code})
	return status, string(b)
}

func (m *MSG91) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	req := MSG91Request{AuthKey: r.Header.Get("authkey"), ContentType: r.Header.Get("Content-Type"), Body: string(raw)}
	req.Status, req.Response = m.answer(r, raw, &req)
	m.log.add(req)
	if e := m.early.Load(); e != nil && req.RequestID != "" {
		if _, err := m.Report(e.url, e.format, req.RequestID, e.status, e.desc, ""); err != nil {
			m.tb.Errorf("msg91 fake: early report: %v", err)
		}
	}
	if m.wait(r.Context()) {
		reply(w, req.Status, req.Response)
	}
}

// answer decides the reply, filling in what it parsed of the request.
func (m *MSG91) answer(r *http.Request, raw []byte, req *MSG91Request) (int, string) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v5/flow" {
		return msg91Error(http.StatusNotFound, "404", "Not Found")
	}
	var body struct {
		TemplateID string           `json:"template_id"`
		ShortURL   string           `json:"short_url"`
		CRQID      string           `json:"CRQID"`
		Recipients []map[string]any `json:"recipients"`
	}
	parseErr := json.Unmarshal(raw, &body)
	if parseErr == nil {
		req.TemplateID, req.ShortURL, req.Recipients, req.CRQID = body.TemplateID, body.ShortURL, len(body.Recipients), body.CRQID
		if len(body.Recipients) > 0 {
			req.Vars = map[string]string{}
			for k, v := range body.Recipients[0] {
				if k == "mobiles" {
					req.Mobiles = fmt.Sprint(v)
				} else {
					req.Vars[k] = fmt.Sprint(v)
				}
			}
		}
	}
	if c, ok := m.nextFailure(); ok {
		return c.status, c.body
	}
	if req.AuthKey != m.authKey {
		return msg91Error(http.StatusUnauthorized, "401", "Invalid authkey")
	}
	if mt, _, _ := mime.ParseMediaType(req.ContentType); mt != "application/json" {
		return msg91Error(http.StatusBadRequest, "400", "Content-Type must be application/json")
	}
	switch {
	case parseErr != nil:
		return msg91Error(http.StatusBadRequest, "400", "Invalid JSON")
	case body.TemplateID == "":
		return msg91Error(http.StatusBadRequest, "400", "Template ID missing")
	case len(body.Recipients) == 0:
		return msg91Error(http.StatusBadRequest, "400", "Recipients missing")
	}
	for _, rc := range body.Recipients {
		mob, _ := rc["mobiles"].(string)
		if !msg91Mobile.MatchString(mob) {
			return msg91Error(http.StatusBadRequest, "400", "Invalid mobile number: want country code 91 and 10 digits, no +")
		}
		for k, v := range rc {
			if _, ok := v.(string); !ok {
				return msg91Error(http.StatusBadRequest, "400", "Variable "+k+" must be a string")
			}
		}
	}
	req.RequestID = randomID(24)
	b, _ := json.Marshal(map[string]string{"type": "success", "message": req.RequestID})
	return http.StatusOK, string(b)
}
