package smstest

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fast2SMSRequest is one request the fake Fast2SMS received.
type Fast2SMSRequest struct {
	// Authorization is the authorization header as sent.
	Authorization string
	Route         string
	// Numbers are the comma-separated numbers, split.
	Numbers []string
	// Message is the text (route q) or the DLT Message_ID (route dlt).
	Message         string
	SenderID        string
	VariablesValues string
	Flash           string
	// Body is the raw request body.
	Body string
	// Status and Response are what the fake answered (also when the client had given up).
	Status   int
	Response string
	// RequestID is the id given on success.
	RequestID string
}

// Fast2SMS is a fake of Fast2SMS's POST /dev/bulkV2 taking a JSON body.
type Fast2SMS struct {
	*fake
	apiKey string
	log    *recorder[Fast2SMSRequest]
}

var (
	nationalNumber = regexp.MustCompile(`^[6-9][0-9]{9}$`)
	dltMessageID   = regexp.MustCompile(`^[0-9]+$`)
)

// NewFast2SMS starts a fake Fast2SMS that accepts apiKey, and stops it when the test ends.
func NewFast2SMS(t testing.TB, apiKey string) *Fast2SMS {
	f := &Fast2SMS{apiKey: apiKey, log: &recorder[Fast2SMSRequest]{}}
	f.fake = newFake(t, http.HandlerFunc(f.serve))
	return f
}

// URL is the base URL to give the client (Fast2SMSConfig.BaseURL).
func (f *Fast2SMS) URL() string { return f.srv.URL }

// Received returns every request so far, in order, whatever the answer.
func (f *Fast2SMS) Received() []Fast2SMSRequest { return f.log.all() }

// FailNext makes the next n requests get status and body instead of the real answer, e.g.
// FailNext(1, 400, `{"return":false,"status_code":416,"message":"You don't have sufficient wallet balance"}`).
func (f *Fast2SMS) FailNext(n, status int, body string) { f.failNext(n, status, body) }

// Delay makes every answer wait d, to make the client time out.
func (f *Fast2SMS) Delay(d time.Duration) { f.setDelay(d) }

// fast2smsError is Fast2SMS's failure shape. The codes are Fast2SMS's published ones: 401 sender id
// missing, 402 message missing, 403 route missing, 405 numbers missing, 408 invalid route, 411
// invalid numbers, 412 invalid authentication, 424 invalid message id.
func fast2smsError(status, code int, message string) (int, string) {
	b, _ := json.Marshal(map[string]any{"return": false, "status_code": code, "message": message})
	return status, string(b)
}

func (f *Fast2SMS) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	req := Fast2SMSRequest{Authorization: r.Header.Get("authorization"), Body: string(raw)}
	req.Status, req.Response = f.answer(r, raw, &req)
	f.log.add(req)
	if f.wait(r.Context()) {
		reply(w, req.Status, req.Response)
	}
}

func (f *Fast2SMS) answer(r *http.Request, raw []byte, req *Fast2SMSRequest) (int, string) {
	if r.Method != http.MethodPost || r.URL.Path != "/dev/bulkV2" {
		return http.StatusNotFound, `{"return":false,"status_code":404,"message":"Not Found"}`
	}
	var body map[string]any
	parseErr := json.Unmarshal(raw, &body)
	str := func(k string) string {
		s, _ := body[k].(string)
		return s
	}
	if parseErr == nil {
		req.Route, req.Message, req.SenderID = str("route"), str("message"), str("sender_id")
		req.VariablesValues, req.Flash = str("variables_values"), str("flash")
		if n := str("numbers"); n != "" {
			req.Numbers = strings.Split(n, ",")
		}
	}
	if c, ok := f.nextFailure(); ok {
		return c.status, c.body
	}
	if req.Authorization != f.apiKey {
		return fast2smsError(http.StatusUnauthorized, 412, "Invalid Authentication, Check Authorization Key")
	}
	if parseErr != nil {
		return fast2smsError(http.StatusBadRequest, 400, "Invalid JSON body")
	}
	if len(req.Numbers) == 0 {
		return fast2smsError(http.StatusBadRequest, 405, "Numbers Missing")
	}
	for _, n := range req.Numbers {
		if !nationalNumber.MatchString(n) {
			return fast2smsError(http.StatusBadRequest, 411, "Invalid Numbers")
		}
	}
	switch req.Route {
	case "":
		return fast2smsError(http.StatusBadRequest, 403, "Route Missing")
	case "q":
		if req.Message == "" {
			return fast2smsError(http.StatusBadRequest, 402, "Message Text Missing")
		}
	case "dlt":
		if req.SenderID == "" {
			return fast2smsError(http.StatusBadRequest, 401, "Sender ID Missing")
		}
		if !dltMessageID.MatchString(req.Message) {
			return fast2smsError(http.StatusBadRequest, 424, "Invalid Message ID")
		}
	default:
		return fast2smsError(http.StatusBadRequest, 408, "Invalid Route")
	}
	req.RequestID = randomID(15)
	b, _ := json.Marshal(map[string]any{"return": true, "request_id": req.RequestID, "message": []string{"SMS sent successfully."}})
	return http.StatusOK, string(b)
}

// recorder keeps requests in arrival order.
type recorder[T any] struct {
	mu   sync.Mutex
	reqs []T
}

func (r *recorder[T]) add(v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, v)
}

func (r *recorder[T]) all() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.reqs...)
}
