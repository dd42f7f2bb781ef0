package sms_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/sms"
)

func TestMSG91ReportsInBothShapes(t *testing.T) {
	v2 := url.Values{"data": {`[{"senderId":"CRTBUY","requestId":"3763646c3058373530393832","userId":"411234","campaignName":"API",
		"report":[{"date":"2026-12-01 19:05:10","number":"919876543210","status":"1","desc":"DELIVRD","clientid":"919876543210","CRQID":"abc-sms.1"},
		{"date":"2026-12-01 19:05:11","number":"919876543211","status":"16","desc":"Rejected","failedReason":"Template mismatch"},
		{"date":"2026-12-01 19:05:12","number":"919876543212","status":"8","desc":"Submitted"}]}]`}}.Encode()
	got, err := sms.MSG91Reports{}.ParseReports("application/x-www-form-urlencoded", []byte(v2))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d reports, want 2 (status 8 is not final): %+v", len(got), got)
	}
	d, r := got[0], got[1]
	ist := time.FixedZone("IST", 19800)
	if d.Provider != "msg91" || d.RequestID != "3763646c3058373530393832" || d.Number != "919876543210" || !d.Delivered || d.Rejected ||
		d.Reference != "abc-sms.1" || !d.ReportedAt.Equal(time.Date(2026, 12, 1, 19, 5, 10, 0, ist)) {
		t.Errorf("delivered report %+v", d)
	}
	if r.Delivered || !r.Rejected || r.Reason != "Template mismatch" || r.Status != "16" {
		t.Errorf("rejected report %+v", r)
	}

	v3 := `{"requestId":"3763646c3058373530393833","number":"919876543210","status":"2","desc":"Failed","date":"2026-12-01 19:06:00","senderId":"CRTBUY","CRQID":"x.2"}`
	got, err = sms.MSG91Reports{}.ParseReports("application/json; charset=utf-8", []byte(v3))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Delivered || got[0].Rejected || got[0].Reason == "" || got[0].RequestID != "3763646c3058373530393833" {
		t.Fatalf("v3 failure %+v", got)
	}
	for name, status := range map[string]string{"NDNC": "9", "blocked": "17", "rejected (25)": "25"} {
		got, err := sms.MSG91Reports{}.ParseReports("application/json", []byte(`{"requestId":"r","number":"919876543210","status":"`+status+`"}`))
		if err != nil || len(got) != 1 || got[0].Delivered || (status == "25") != got[0].Rejected {
			t.Errorf("%s: %+v %v", name, got, err)
		}
	}
}

func TestReportBodiesThatCannotBeReadAreRefused(t *testing.T) {
	for name, c := range map[string]struct{ ct, body string }{
		"no data field":         {"application/x-www-form-urlencoded", "x=1"},
		"data not JSON":         {"application/x-www-form-urlencoded", url.Values{"data": {"[{"}}.Encode()},
		"a key given twice":     {"application/json", `{"requestId":"a","requestId":"b","number":"919876543210","status":"1"}`},
		"a key in another case": {"application/json", `{"RequestId":"a","number":"919876543210","status":"1"}`},
		"no request id":         {"application/json", `{"number":"919876543210","status":"1"}`},
		"plain text":            {"text/plain", "status=1"},
	} {
		if got, err := (sms.MSG91Reports{}).ParseReports(c.ct, []byte(c.body)); err == nil {
			t.Errorf("%s: read as %+v", name, got)
		}
	}
	if got, err := (sms.Fast2SMSReports{}).ParseReports("application/json", []byte(`{"request_id":"r","status":"Delivered"}`)); err == nil {
		t.Errorf("a Fast2SMS report without its number: read as %+v", got)
	}
}

func TestFast2SMSReportsInTheDocumentedBody(t *testing.T) {
	for _, c := range []struct {
		ct, body            string
		delivered, rejected bool
		none                bool
	}{
		{ct: "application/json", body: `{"request_id":"f2s-1","number":"9876543210","status":"Delivered","description":"","time":"2026-12-01 19:05:10"}`, delivered: true},
		{ct: "application/json", body: `{"request_id":"f2s-1","number":"9876543210","status":"Failed","description":"Absent subscriber","time":""}`},
		{ct: "application/json", body: `{"request_id":"f2s-1","number":"9876543210","status":"Rejected","description":"DLT template mismatch","time":""}`, rejected: true},
		{ct: "application/json", body: `{"request_id":"f2s-1","number":"9876543210","status":"Sent","description":"","time":""}`, none: true},
		{ct: "application/x-www-form-urlencoded", body: "request_id=f2s-1&number=9876543210&status=DELIVRD", delivered: true},
	} {
		got, err := sms.Fast2SMSReports{}.ParseReports(c.ct, []byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		if c.none {
			if len(got) != 0 {
				t.Errorf("%s: a status that is not final read as %+v", c.body, got)
			}
			continue
		}
		if len(got) != 1 || got[0].Provider != "fast2sms" || got[0].Delivered != c.delivered || got[0].Rejected != c.rejected ||
			got[0].Number != "9876543210" || (!c.delivered && got[0].Reason == "") {
			t.Errorf("%s: read as %+v", c.body, got)
		}
	}
}
