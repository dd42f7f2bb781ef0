package smtptest_test

import (
	"errors"
	"fmt"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/mail/smtptest"
)

func send(addr, to, body string) error {
	return smtp.SendMail(addr, nil, "orders@certibuy.local", []string{to}, []byte("Subject: t\r\n\r\n"+body+"\r\n"))
}

func TestRefuseNextCountsTransactions(t *testing.T) {
	srv := smtptest.NewServer(t)
	srv.RefuseNext(2, 451, "4.3.0 Try again later")
	var codes []int
	for i := range 3 {
		err := send(srv.Addr(), "asha@example.in", fmt.Sprint("try ", i))
		var tp *textproto.Error
		switch {
		case err == nil:
			codes = append(codes, 250)
		case errors.As(err, &tp):
			codes = append(codes, tp.Code)
			if tp.Msg != "4.3.0 Try again later" {
				t.Errorf("reply text %q", tp.Msg)
			}
		default:
			t.Fatal(err)
		}
	}
	if fmt.Sprint(codes) != "[451 451 250]" {
		t.Errorf("replies %v, want two refusals then acceptance", codes)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Data), "try 2") {
		t.Errorf("recorded %d messages, want only the accepted one", len(msgs))
	}
}

func TestRefuseNextRcpt(t *testing.T) {
	srv := smtptest.NewServer(t)
	srv.RefuseNextRcpt(1, 550, "5.1.1 No such user")
	var tp *textproto.Error
	if err := send(srv.Addr(), "nobody@example.in", "x"); !errors.As(err, &tp) || tp.Code != 550 {
		t.Errorf("err = %v, want 550", err)
	}
	if err := send(srv.Addr(), "asha@example.in", "x"); err != nil {
		t.Errorf("second send: %v", err)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].To[0] != "asha@example.in" {
		t.Errorf("messages %+v", msgs)
	}
}

func TestWaitForConcurrentSenders(t *testing.T) {
	srv := smtptest.NewServer(t)
	srv.SetDelay(20 * time.Millisecond)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if err := send(srv.Addr(), fmt.Sprintf("c%d@example.in", i), "x"); err != nil {
				t.Error(err)
			}
		})
	}
	got := srv.WaitFor(10, 5*time.Second)
	wg.Wait()
	seen := map[string]bool{}
	for _, m := range got {
		seen[m.To[0]] = true
	}
	if len(seen) != 10 {
		t.Errorf("%d distinct recipients, want 10", len(seen))
	}
}

func TestRequireAuthRefusesAnonymousMail(t *testing.T) {
	srv := smtptest.NewServer(t)
	srv.RequireAuth("orders", "pw")
	var tp *textproto.Error
	if err := send(srv.Addr(), "asha@example.in", "x"); !errors.As(err, &tp) || tp.Code != 530 {
		t.Errorf("err = %v, want 530", err)
	}
	auth := smtp.PlainAuth("", "orders", "pw", "127.0.0.1")
	addr := srv.Addr()
	if err := smtp.SendMail(addr, auth, "orders@certibuy.local", []string{"asha@example.in"}, []byte("Subject: t\r\n\r\nx\r\n")); err != nil {
		t.Errorf("authenticated send: %v", err)
	}
	if m := srv.Messages(); len(m) != 1 || m[0].User != "orders" {
		t.Errorf("messages %+v", m)
	}
}
