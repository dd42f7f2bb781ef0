package sms_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/sms"
	"github.com/certibuy/orders/adapters/sms/smstest"
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/notification"
)

type fakes struct {
	msg91    *smstest.MSG91
	fast2sms *smstest.Fast2SMS
	fallback *sms.Fallback
}

func newFallback(t *testing.T, msg91Timeout time.Duration) fakes {
	t.Helper()
	f := fakes{msg91: smstest.NewMSG91(t, msg91Key), fast2sms: smstest.NewFast2SMS(t, fast2smsKey)}
	f.fallback = sms.NewFallback(
		newMSG91(t, f.msg91.URL(), msg91Timeout),
		newFast2SMS(t, sms.Fast2SMSConfig{BaseURL: f.fast2sms.URL()}),
	)
	return f
}

func TestFallbackPrimarySends(t *testing.T) {
	f := newFallback(t, 0)
	res, err := f.fallback.Send(context.Background(), message(t, notification.PaymentSuccessful))
	if err != nil {
		t.Fatal(err)
	}
	if res.Provider != "msg91" || len(res.Attempts) != 1 || res.Attempts[0].RequestID != f.msg91.Received()[0].RequestID {
		t.Errorf("Result = %+v", res)
	}
	if n := len(f.fast2sms.Received()); n != 0 {
		t.Errorf("Fast2SMS called %d times after MSG91 sent it", n)
	}
	if f.fallback.Name() != "msg91>fast2sms" {
		t.Errorf("Name = %q", f.fallback.Name())
	}
}

func TestFallbackSwitchesOnDefiniteRejection(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		body   string
	}{
		{"MSG91 500", 500, `{"type":"error","message":"Internal Server Error","code":"500"}`},
		{"MSG91 200 with type error", 200, `{"type":"error","message":"Insufficient balance","code":"302"}`},
		{"MSG91 401", 401, `{"type":"error","message":"Invalid authkey","code":"401"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFallback(t, 0)
			f.msg91.FailNext(1, c.status, c.body)
			res, err := f.fallback.Send(context.Background(), message(t, notification.PaymentSuccessful))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			f2 := f.fast2sms.Received()
			if len(f2) != 1 || f2[0].Numbers[0] != "9876543210" {
				t.Fatalf("Fast2SMS received %+v", f2)
			}
			if res.Provider != "fast2sms" || res.RequestID != f2[0].RequestID || res.Response != f2[0].Response {
				t.Errorf("Result = %+v, want Fast2SMS's", res)
			}
			if len(res.Attempts) != 2 {
				t.Fatalf("Attempts = %+v", res.Attempts)
			}
			first := res.Attempts[0]
			if first.Provider != "msg91" || first.Response != c.body || first.Error == "" || first.Ambiguous {
				t.Errorf("MSG91 attempt = %+v, want its raw body %q and error", first, c.body)
			}
			if second := res.Attempts[1]; second.Provider != "fast2sms" || second.Error != "" || second.RequestID == "" {
				t.Errorf("Fast2SMS attempt = %+v", second)
			}
		})
	}
}

func TestFallbackSwitchesWhenPrimaryUnreachableOrUnconfigured(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	fast := smstest.NewFast2SMS(t, fast2smsKey)
	fb := sms.NewFallback(newMSG91(t, dead, time.Second), newFast2SMS(t, sms.Fast2SMSConfig{BaseURL: fast.URL()}))
	if res, err := fb.Send(context.Background(), message(t, notification.PaymentSuccessful)); err != nil || res.Provider != "fast2sms" {
		t.Errorf("unreachable MSG91: %+v, %v", res, err)
	}
	// No MSG91 template for order_delivered: Fast2SMS's quick route sends the text.
	if res, err := fb.Send(context.Background(), message(t, notification.OrderDelivered)); err != nil || res.Provider != "fast2sms" {
		t.Errorf("no MSG91 template: %+v, %v", res, err)
	}
	if n := len(fast.Received()); n != 2 {
		t.Errorf("Fast2SMS received %d, want 2", n)
	}
}

func TestFallbackDoesNotSwitchAfterTimeout(t *testing.T) {
	f := newFallback(t, 200*time.Millisecond)
	f.msg91.Delay(3 * time.Second)
	res, err := f.fallback.Send(context.Background(), message(t, notification.PaymentSuccessful))
	var amb *sms.AmbiguousError
	if !errors.As(err, &amb) || amb.Provider != "msg91" {
		t.Fatalf("err = %v, want MSG91's AmbiguousError", err)
	}
	if n := len(f.fast2sms.Received()); n != 0 {
		t.Fatalf("Fast2SMS was called %d times after an ambiguous MSG91 attempt", n)
	}
	if res.Provider != "msg91" || !res.Ambiguous || len(res.Attempts) != 1 {
		t.Errorf("Result = %+v", res)
	}
	// The retry goes to the provider that may have sent it, alone.
	p, ok := f.fallback.Provider(res.Provider)
	if !ok || p.Name() != "msg91" {
		t.Fatalf("Provider(%q) = %v, %v", res.Provider, p, ok)
	}
}

func TestFallbackBothDown(t *testing.T) {
	f := newFallback(t, 0)
	const msg91Body = `{"type":"error","message":"Internal Server Error","code":"500"}`
	const fast2smsBody = `{"return":false,"status_code":416,"message":"You don't have sufficient wallet balance"}`
	f.msg91.FailNext(1, 500, msg91Body)
	f.fast2sms.FailNext(1, 400, fast2smsBody)
	res, err := f.fallback.Send(context.Background(), message(t, notification.PaymentSuccessful))
	var both *sms.FallbackError
	if !errors.As(err, &both) {
		t.Fatalf("err = %v, want a FallbackError", err)
	}
	var r1, r2 *sms.RejectedError
	if !errors.As(both.Primary, &r1) || r1.Provider != "msg91" || r1.StatusCode != 500 || !errors.As(both.Secondary, &r2) || r2.Provider != "fast2sms" || r2.Code != "416" {
		t.Errorf("errors %v / %v", both.Primary, both.Secondary)
	}
	if len(both.Attempts) != 2 || both.Attempts[0].Response != msg91Body || both.Attempts[1].Response != fast2smsBody {
		t.Errorf("FallbackError.Attempts = %+v, want both raw bodies", both.Attempts)
	}
	if len(res.Attempts) != 2 || res.Attempts[0].Response != msg91Body || res.Attempts[1].Response != fast2smsBody {
		t.Errorf("Result.Attempts = %+v, want both raw bodies", res.Attempts)
	}
	// MSG91's 500 may pass, so the pair is worth retrying although Fast2SMS's 416 is not.
	if sms.IsPermanent(err) {
		t.Error("IsPermanent for a 500 and a 416")
	}
}

func TestFallbackWithoutSecondary(t *testing.T) {
	fake := smstest.NewMSG91(t, msg91Key)
	fake.FailNext(1, 500, `{"type":"error","message":"down","code":"500"}`)
	fb := sms.NewFallback(newMSG91(t, fake.URL(), 0), nil)
	_, err := fb.Send(context.Background(), message(t, notification.PaymentSuccessful))
	var rej *sms.RejectedError
	if !errors.As(err, &rej) || fb.Name() != "msg91" {
		t.Errorf("err = %v, name %q", err, fb.Name())
	}
}

// The port names the providers that refused the SMS, so that the attempt records them: a refusal
// (an error answer), not an unreachable or unconfigured provider nor a throttled one.
func TestThePortNamesTheProvidersThatRefusedTheSMS(t *testing.T) {
	send := func(f fakes, typ notification.Type) (command.SendResult, error) {
		m := message(t, typ)
		return sms.NewPort(f.fallback).Send(context.Background(), command.SMS{To: m.To, Type: typ, Text: m.Text, Data: data()}, "")
	}
	for _, c := range []struct {
		name   string
		status int
		body   string
		want   []string
	}{
		{"MSG91 200 with type error", 200, `{"type":"error","message":"Template not approved","code":"211"}`, []string{"msg91"}},
		{"MSG91 500", 500, `{"type":"error","message":"Internal Server Error","code":"500"}`, []string{"msg91"}},
		{"MSG91 throttled", 429, `{"type":"error","message":"Too many requests","code":"429"}`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFallback(t, 0)
			f.msg91.FailNext(1, c.status, c.body)
			res, err := send(f, notification.PaymentSuccessful)
			if err != nil || res.Provider != "fast2sms" || !slices.Equal(res.Refused, c.want) {
				t.Fatalf("sent by %q, refused by %v (want %v): %v", res.Provider, res.Refused, c.want, err)
			}
		})
	}
	t.Run("no MSG91 template", func(t *testing.T) {
		res, err := send(newFallback(t, 0), notification.OrderDelivered)
		if err != nil || res.Provider != "fast2sms" || res.Refused != nil {
			t.Fatalf("sent by %q, refused by %v: %v", res.Provider, res.Refused, err)
		}
	})
	t.Run("both refuse", func(t *testing.T) {
		f := newFallback(t, 0)
		f.msg91.FailNext(1, 500, `{"type":"error","message":"down","code":"500"}`)
		f.fast2sms.FailNext(1, 400, `{"return":false,"status_code":995,"message":"Spamming detected"}`)
		_, err := send(f, notification.PaymentSuccessful)
		var se *command.SendError
		if !errors.As(err, &se) || !slices.Equal(se.Refused, []string{"msg91", "fast2sms"}) {
			t.Fatalf("err %v, refused by %+v", err, se)
		}
	})
}
