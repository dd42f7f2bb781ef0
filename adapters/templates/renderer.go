// Package templates renders the e-mail and SMS messages of the embedded templates (the top-level
// templates package) from notification.MessageData.
package templates

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"strings"
	texttemplate "text/template"
	"text/template/parse"

	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/templates"
)

// Email is a rendered e-mail: the subject line, the plain-text part and the HTML part.
type Email struct {
	Subject string
	Text    string
	HTML    string
}

// Renderer renders every notification type for both channels. It is built once by New and is safe
// for concurrent use.
type Renderer struct {
	html map[notification.Type]*htmltemplate.Template
	text map[notification.Type]*texttemplate.Template
	sms  map[notification.Type]*texttemplate.Template
}

// New parses every template of every notification type from the embedded files, checks that each
// reads only the fields its row of the notification catalogue fills, and renders each one once with
// sample data, so a missing file, a syntax error or a misspelt field stops the service at start-up
// rather than failing a customer's message later.
func New() (*Renderer, error) {
	return newRenderer(templates.FS)
}

// newRenderer is New over any file system, so tests can prove that broken templates are refused.
func newRenderer(fsys fs.FS) (*Renderer, error) {
	r := &Renderer{
		html: make(map[notification.Type]*htmltemplate.Template),
		text: make(map[notification.Type]*texttemplate.Template),
		sms:  make(map[notification.Type]*texttemplate.Template),
	}
	htmlLayout, err := htmltemplate.New("layout.html").Funcs(htmlFuncs()).ParseFS(fsys, "emails/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse e-mail layout: %w", err)
	}
	textLayout, err := texttemplate.New("layout.txt").Funcs(textFuncs()).ParseFS(fsys, "emails/layout.txt")
	if err != nil {
		return nil, fmt.Errorf("parse plain-text e-mail layout: %w", err)
	}
	sample := SampleData()
	for _, kind := range notification.Catalogue() {
		t := kind.Type
		// Each type gets its own copy of the layout, since every type defines "title" and "content".
		h, err := htmlLayout.Clone()
		if err == nil {
			h, err = h.ParseFS(fsys, "emails/"+string(t)+".html")
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s e-mail HTML: %w", t, err)
		}
		r.html[t] = h
		x, err := textLayout.Clone()
		if err == nil {
			x, err = x.ParseFS(fsys, "emails/"+string(t)+".txt")
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s e-mail text: %w", t, err)
		}
		if x.Lookup("subject") == nil {
			return nil, fmt.Errorf("parse %s e-mail text: it does not define a \"subject\" template", t)
		}
		r.text[t] = x
		s, err := texttemplate.New(string(t)+".txt").Funcs(textFuncs()).ParseFS(fsys, "sms/"+string(t)+".txt")
		if err != nil {
			return nil, fmt.Errorf("parse %s SMS: %w", t, err)
		}
		r.sms[t] = s

		htmlTree := func(name string) *parse.Tree {
			if x := h.Lookup(name); x != nil {
				return x.Tree
			}
			return nil
		}
		textTree := func(x *texttemplate.Template) func(string) *parse.Tree {
			return func(name string) *parse.Tree {
				if y := x.Lookup(name); y != nil {
					return y.Tree
				}
				return nil
			}
		}
		for _, part := range []struct {
			what string
			ch   notification.Channel
			read []string
		}{
			{"e-mail HTML", notification.Email, fieldsRead(htmlTree(string(t)+".html"), htmlTree)},
			{"e-mail text", notification.Email, fieldsRead(x.Lookup(string(t)+".txt").Tree, textTree(x))},
			{"e-mail subject", notification.Email, fieldsRead(x.Lookup("subject").Tree, textTree(x))},
			{"SMS", notification.SMS, fieldsRead(s.Tree, textTree(s))},
		} {
			for _, f := range part.read {
				if !kind.Says(part.ch, f) {
					return nil, fmt.Errorf("check %s %s: it reads .%s, which the notification catalogue does not fill for %s %s", t, part.what, f, t, part.ch)
				}
			}
		}
		// Field names are only checked when a template runs: run each one now, with the data a
		// request of this type stores.
		if _, err := r.Email(t, kind.Keep(notification.Email, sample)); err != nil {
			return nil, fmt.Errorf("check %s e-mail: %w", t, err)
		}
		if _, err := r.SMS(t, kind.Keep(notification.SMS, sample)); err != nil {
			return nil, fmt.Errorf("check %s SMS: %w", t, err)
		}
	}
	return r, nil
}

// ErrUnknownType is returned for a notification type that has no templates.
var ErrUnknownType = errors.New("no templates for notification type")

// Email renders the e-mail for t: subject, plain text and HTML (HTML-escaped by html/template). Text
// from outside the shop is defanged, so that it cannot add a link.
func (r *Renderer) Email(t notification.Type, d notification.MessageData) (Email, error) {
	h, ok := r.html[t]
	if !ok {
		return Email{}, fmt.Errorf("render e-mail: %w %q", ErrUnknownType, t)
	}
	x := r.text[t]
	d = defangData(d)
	var subject, text, html bytes.Buffer
	if err := x.ExecuteTemplate(&subject, "subject", d); err != nil {
		return Email{}, fmt.Errorf("render %s e-mail subject for order %s: %w", t, d.OrderNumber, err)
	}
	if err := x.ExecuteTemplate(&text, string(t)+".txt", d); err != nil {
		return Email{}, fmt.Errorf("render %s e-mail text for order %s: %w", t, d.OrderNumber, err)
	}
	if err := h.ExecuteTemplate(&html, string(t)+".html", d); err != nil {
		return Email{}, fmt.Errorf("render %s e-mail HTML for order %s: %w", t, d.OrderNumber, err)
	}
	return Email{
		// One line: a newline from the data must not end the header early.
		Subject: strings.Join(strings.Fields(subject.String()), " "),
		Text:    tidyText(text.String()),
		HTML:    strings.TrimSpace(html.String()) + "\n",
	}, nil
}

// SMS renders the SMS for t as one line of GSM-7 text. Whitespace runs become one space, and any
// character GSM-7 lacks is replaced (see ToGSM7), so that a stray ₹ in the data cannot make the
// message UCS-2 and split it into three parts.
func (r *Renderer) SMS(t notification.Type, d notification.MessageData) (string, error) {
	s, ok := r.sms[t]
	if !ok {
		return "", fmt.Errorf("render SMS: %w %q", ErrUnknownType, t)
	}
	var b bytes.Buffer
	if err := s.Execute(&b, defangData(d)); err != nil {
		return "", fmt.Errorf("render %s SMS for order %s: %w", t, d.OrderNumber, err)
	}
	return ToGSM7(strings.Join(strings.Fields(b.String()), " ")), nil
}

// tidyText trims trailing spaces from each line, squeezes runs of blank lines into one and ends the
// text with one newline, so the templates can be laid out for reading.
func tidyText(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	out := make([]string, 0, len(lines))
	blank := true // drops leading blank lines
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			if blank {
				continue
			}
			blank = true
		} else {
			blank = false
		}
		out = append(out, l)
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
}

// dict builds a map from key/value pairs, so a shared block ("button", "highlight") can take
// arguments: {{template "button" dict "URL" .OrderURL "Label" "View your order"}}.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments %d", len(kv))
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

func htmlFuncs() htmltemplate.FuncMap {
	return htmltemplate.FuncMap{"dict": dict}
}

func textFuncs() texttemplate.FuncMap {
	return texttemplate.FuncMap{"dict": dict, "smsname": SMSName}
}

// SampleData is a fully filled MessageData, used to check the templates at start-up and by the
// notify-test command to show what customers receive.
func SampleData() notification.MessageData {
	return notification.MessageData{
		ShopName:      "CertiBuy",
		SupportEmail:  "support@certibuy.local",
		CustomerName:  "Asha Rao",
		OrderNumber:   "CB-7K3M9Q2X",
		Items:         []notification.MessageItem{{Name: "Boat Rockerz 450 Headphones", Quantity: 2, UnitPrice: "₹1,499.00", LineTotal: "₹2,998.00"}, {Name: "Classmate Notebook (pack of 6)", Quantity: 1, UnitPrice: "₹312.00", LineTotal: "₹312.00"}},
		Total:         "₹3,310.00",
		TotalDigits:   "3,310.00",
		PaymentID:     "pay_29QQoUBi66xm2f",
		PaymentMethod: "UPI",
		Carrier:       "Delhivery",
		TrackingID:    "1490511234567",
		TrackingURL:   "https://www.delhivery.com/track/package/1490511234567",
		RefundAmount:  "₹3,310.00",
		RefundDigits:  "3,310.00",

		RefundExpectation: "5–7 working days",
		CancelReason:      "Ordered the wrong size",

		// Links as adapters/links makes them, with every setting on (the token is made up).
		OrderURL:     "http://localhost:8080/orders/0190f5a2-7c1e-7b3a-9c4d-2e5f6a7b8c9d?t=AAdWkF3sYq2Pz0cX",
		ReviewURL:    "https://www.certibuy.in/review/CB-7K3M9Q2X?t=AAdWkF3sYq2Pz0cX",
		SMSOrderURL:  "https://s.certibuy.in/o/CB-7K3M9Q2X/AAdWkF3sYq2Pz0cX",
		SMSReviewURL: "https://s.certibuy.in/r/CB-7K3M9Q2X/AAdWkF3sYq2Pz0cX",
	}
}

// RenderEmail is Email with its parts apart, as the application's Renderer port has it.
func (r *Renderer) RenderEmail(t notification.Type, d notification.MessageData) (subject, text, html string, err error) {
	e, err := r.Email(t, d)
	return e.Subject, e.Text, e.HTML, err
}
