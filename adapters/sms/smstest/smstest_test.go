package smstest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/certibuy/orders/adapters/sms/smstest"
)

func post(t *testing.T, url string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The fakes refuse what the real services refuse, so a client test against them means something.
func TestMSG91FakeValidates(t *testing.T) {
	f := smstest.NewMSG91(t, "key")
	url := f.URL() + "/api/v5/flow"
	json := map[string]string{"authkey": "key", "Content-Type": "application/json"}
	for _, c := range []struct {
		name   string
		header map[string]string
		body   string
		status int
		reply  string
	}{
		{"ok", json, `{"template_id":"t1","short_url":"0","recipients":[{"mobiles":"919876543210","name":"Asha"}]}`, 200, `"type":"success"`},
		{"wrong key", map[string]string{"authkey": "other", "Content-Type": "application/json"}, `{}`, 401, `{"code":"401","message":"Invalid authkey","type":"error"}`},
		{"form body", map[string]string{"authkey": "key", "Content-Type": "application/x-www-form-urlencoded"}, `template_id=t1`, 400, `"type":"error"`},
		{"no template", json, `{"recipients":[{"mobiles":"919876543210"}]}`, 400, "Template ID missing"},
		{"plus sign", json, `{"template_id":"t1","recipients":[{"mobiles":"+919876543210"}]}`, 400, "Invalid mobile number"},
		{"ten digits", json, `{"template_id":"t1","recipients":[{"mobiles":"9876543210"}]}`, 400, "Invalid mobile number"},
		{"no recipients", json, `{"template_id":"t1","recipients":[]}`, 400, "Recipients missing"},
	} {
		status, reply := post(t, url, c.header, c.body)
		if status != c.status || !strings.Contains(reply, c.reply) {
			t.Errorf("%s: %d %s, want %d with %s", c.name, status, reply, c.status, c.reply)
		}
	}
	got := f.Received()
	if len(got) != 7 || got[0].Mobiles != "919876543210" || got[0].Vars["name"] != "Asha" || len(got[0].RequestID) != 24 {
		t.Errorf("recorded %+v", got)
	}
}

func TestFast2SMSFakeValidates(t *testing.T) {
	f := smstest.NewFast2SMS(t, "key")
	url := f.URL() + "/dev/bulkV2"
	auth := map[string]string{"authorization": "key", "Content-Type": "application/json"}
	for _, c := range []struct {
		name   string
		header map[string]string
		body   string
		status int
		reply  string
	}{
		{"ok", auth, `{"route":"q","message":"hi","numbers":"9876543210,9123456789","flash":"0"}`, 200, `"return":true`},
		{"wrong key", map[string]string{"authorization": "nope"}, `{}`, 401, `{"message":"Invalid Authentication, Check Authorization Key","return":false,"status_code":412}`},
		{"country code", auth, `{"route":"q","message":"hi","numbers":"919876543210"}`, 400, `"status_code":411`},
		{"no route", auth, `{"message":"hi","numbers":"9876543210"}`, 400, `"status_code":403`},
		{"no text", auth, `{"route":"q","numbers":"9876543210"}`, 400, `"status_code":402`},
		{"dlt without sender", auth, `{"route":"dlt","message":"1712","numbers":"9876543210"}`, 400, `"status_code":401`},
		{"unknown route", auth, `{"route":"x","message":"hi","numbers":"9876543210"}`, 400, `"status_code":408`},
	} {
		status, reply := post(t, url, c.header, c.body)
		if status != c.status || !strings.Contains(reply, c.reply) {
			t.Errorf("%s: %d %s, want %d with %s", c.name, status, reply, c.status, c.reply)
		}
	}
	if got := f.Received(); len(got) != 7 || len(got[0].Numbers) != 2 || got[0].Numbers[1] != "9123456789" {
		t.Errorf("recorded %+v", got)
	}
}

func TestFailNextThenNormal(t *testing.T) {
	f := smstest.NewMSG91(t, "key")
	f.FailNext(2, 503, "busy")
	body := `{"template_id":"t1","recipients":[{"mobiles":"919876543210"}]}`
	h := map[string]string{"authkey": "key", "Content-Type": "application/json"}
	var statuses []int
	for range 3 {
		s, _ := post(t, f.URL()+"/api/v5/flow", h, body)
		statuses = append(statuses, s)
	}
	if statuses[0] != 503 || statuses[1] != 503 || statuses[2] != 200 {
		t.Errorf("statuses %v, want 503 503 200", statuses)
	}
}
