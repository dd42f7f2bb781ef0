// Package links makes the links customers' messages carry and checks the tokens in them. A token
// opens one order until it expires; it is an HMAC of the order id and the expiry day under a key the
// service holds, so nothing is stored per link and a token appears only in the message it was made for.
// The expiry day is a day in India (IST), the shop's and its customers' time zone: a link is good to
// the end of the day, as a customer reads it, on which its TTL runs out.
package links

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/app/query"
)

// Errors of Check (the application's: the order page says which, so a customer with an old e-mail
// knows to ask for help rather than retype the link).
var (
	ErrInvalid = query.ErrLinkInvalid
	ErrExpired = query.ErrLinkExpired
)

// Token layout: two bytes of expiry day (the date in IST, counted in days since 1 January 1970; good
// until the year 2149) and ten bytes of MAC: 80 bits no one can guess, in 16 URL-safe characters,
// short enough for an SMS.
//
// Tokens made before the day was read in IST named a UTC day, the one after the TTL ran out, and
// expired as it began (05:30 IST). The bytes are the same, so such a token now opens its order to the
// end of that date in IST: 18½ hours longer than it was made for, never shorter.
const (
	dayBytes = 2
	macBytes = 10
	// TokenLength is the length of a token in characters.
	TokenLength = (dayBytes + macBytes) * 4 / 3
	// MinKeyBytes is the shortest key accepted.
	MinKeyBytes = 32
	// MaxSMSBaseURL is the longest SMS_LINK_BASE_URL accepted: the SMS templates fit one GSM-7 part
	// with a link this long.
	MaxSMSBaseURL = 40
	// DefaultTTL is how long a link opens its order.
	DefaultTTL = 180 * 24 * time.Hour
)

// Return tokens: the order page gives the payment gateway's checkout, in its callback URL, a token
// that only leads the customer back from a failed payment, not the link token, which would open and
// cancel the order for months in the hands of the gateway's script and servers. Layout: four bytes
// of expiry (Unix seconds) and ten bytes of MAC, under the link key with a purpose of its own, so
// that neither kind of token passes for the other.
const (
	returnExpiryBytes = 4
	// ReturnTokenLength is the length of a return token in characters.
	ReturnTokenLength = ((returnExpiryBytes+macBytes)*8 + 5) / 6
	// ReturnTTL is how long a return token leads back: a checkout left open longer ends on a page
	// saying the payment did not go through, and the customer opens the order from its message.
	ReturnTTL = 6 * time.Hour
)

// MAC purposes: a token is good only for what it was made for.
const (
	purposeLink   = "certibuy order link\x00" // the original tokens' prefix: it must not change
	purposeReturn = "certibuy pay-return\x00"
)

// Config says where links point.
type Config struct {
	// Key signs tokens; at least MinKeyBytes.
	Key []byte
	// TTL is how long a token stays good; DefaultTTL when zero.
	TTL time.Duration
	// PublicBaseURL is this service's address: the order page is PublicBaseURL/orders/{id}?t={token}.
	PublicBaseURL string
	// StorefrontOrderURL, when set, replaces the order page link: a URL template with {order_id},
	// {order_number} and {token}.
	StorefrontOrderURL string
	// ReviewURL, when set, is where the delivered messages ask for a review (same placeholders);
	// without it they ask for none.
	ReviewURL string
	// SMSLinkBaseURL is the DLT-registered address SMS links use (short links this service
	// answers with a redirect); without it SMS carry no link.
	SMSLinkBaseURL string
}

// Links makes and checks order links.
type Links struct {
	cfg Config
	now func() time.Time
	loc *time.Location // the shop's time zone, whose days the tokens name
}

// Message is the set of links one message may carry. Empty fields are links the settings leave out.
type Message struct {
	OrderURL     string
	ReviewURL    string
	SMSOrderURL  string
	SMSReviewURL string
}

// New checks the settings and returns the link maker.
func New(cfg Config, now func() time.Time) (*Links, error) {
	if len(cfg.Key) < MinKeyBytes {
		return nil, fmt.Errorf("order link key: want at least %d bytes, got %d", MinKeyBytes, len(cfg.Key))
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.TTL < time.Hour {
		return nil, fmt.Errorf("ORDER_LINK_TTL %s: want at least an hour", cfg.TTL)
	}
	cfg.PublicBaseURL = strings.TrimRight(cfg.PublicBaseURL, "/")
	cfg.SMSLinkBaseURL = strings.TrimRight(cfg.SMSLinkBaseURL, "/")
	if err := checkBase("PUBLIC_BASE_URL", cfg.PublicBaseURL); err != nil {
		return nil, err
	}
	if err := checkTemplate("STOREFRONT_ORDER_URL", cfg.StorefrontOrderURL); err != nil {
		return nil, err
	}
	if err := checkTemplate("REVIEW_URL", cfg.ReviewURL); err != nil {
		return nil, err
	}
	if cfg.SMSLinkBaseURL != "" {
		if err := checkBase("SMS_LINK_BASE_URL", cfg.SMSLinkBaseURL); err != nil {
			return nil, err
		}
		if len(cfg.SMSLinkBaseURL) > MaxSMSBaseURL {
			return nil, fmt.Errorf("SMS_LINK_BASE_URL %q: at most %d characters, so that every SMS stays one part", cfg.SMSLinkBaseURL, MaxSMSBaseURL)
		}
	}
	// India has one time zone (Asia/Kolkata) and no daylight saving: a fixed offset is exact, and
	// needs no time zone database on the machine.
	return &Links{cfg: cfg, now: now, loc: time.FixedZone("IST", 5*60*60+30*60)}, nil
}

func checkBase(name, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s %q: want an http(s) address without query, such as https://shop.example.in", name, s)
	}
	return nil
}

// placeholders are those a URL template may hold.
var placeholders = []string{"{order_id}", "{order_number}", "{token}"}

func checkTemplate(name, tmpl string) error {
	if tmpl == "" {
		return nil
	}
	rest := tmpl
	for _, p := range placeholders {
		rest = strings.ReplaceAll(rest, p, "x")
	}
	if strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("%s %q: the only placeholders are %s", name, tmpl, strings.Join(placeholders, ", "))
	}
	u, err := url.Parse(rest)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q: want an http(s) URL", name, tmpl)
	}
	return nil
}

// Token returns a token that opens the order for the configured TTL from now, and to the end of the
// day in IST on which the TTL runs out.
func (l *Links) Token(orderID uuid.UUID) string {
	y, m, d := l.now().Add(l.cfg.TTL).In(l.loc).Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
	b := make([]byte, dayBytes, dayBytes+macBytes)
	binary.BigEndian.PutUint16(b, uint16(min(day, 0xffff)))
	b = append(b, l.mac(purposeLink, orderID, b[:dayBytes])...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Check says whether token opens the order: nil, ErrInvalid or ErrExpired.
func (l *Links) Check(orderID uuid.UUID, token string) error {
	exp, err := l.verified(purposeLink, orderID, token, TokenLength, dayBytes)
	if err != nil {
		return err
	}
	if !l.now().Before(l.expiry(binary.BigEndian.Uint16(exp))) {
		return ErrExpired
	}
	return nil
}

// verified decodes a token of the purpose and length and checks its MAC over the order and the
// expiry it leads with, in constant time; it returns that expiry's bytes, or ErrInvalid.
func (l *Links) verified(purpose string, orderID uuid.UUID, token string, length, expiryBytes int) ([]byte, error) {
	if len(token) != length {
		return nil, ErrInvalid
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != expiryBytes+macBytes {
		return nil, ErrInvalid
	}
	if !hmac.Equal(b[expiryBytes:], l.mac(purpose, orderID, b[:expiryBytes])) {
		return nil, ErrInvalid
	}
	return b[:expiryBytes], nil
}

// expiry is the moment a token naming day stops opening its order: midnight in IST at the end of
// that date.
func (l *Links) expiry(day uint16) time.Time {
	y, m, d := time.Unix(int64(day)*86400, 0).UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, l.loc)
}

func (l *Links) mac(purpose string, orderID uuid.UUID, expiry []byte) []byte {
	m := hmac.New(sha256.New, l.cfg.Key)
	m.Write([]byte(purpose))
	m.Write(orderID[:])
	m.Write(expiry)
	return m.Sum(nil)[:macBytes]
}

// ReturnToken returns a token that leads the customer back to the order from a failed payment for
// ReturnTTL from now. It opens nothing: Check refuses it.
func (l *Links) ReturnToken(orderID uuid.UUID) string {
	exp := l.now().Add(ReturnTTL).Unix()
	b := make([]byte, returnExpiryBytes, returnExpiryBytes+macBytes)
	binary.BigEndian.PutUint32(b, uint32(min(max(exp, 0), 0xffffffff)))
	b = append(b, l.mac(purposeReturn, orderID, b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CheckReturn says whether token is a return token of the order: nil, ErrInvalid (a link token
// among them) or ErrExpired.
func (l *Links) CheckReturn(orderID uuid.UUID, token string) error {
	exp, err := l.verified(purposeReturn, orderID, token, ReturnTokenLength, returnExpiryBytes)
	if err != nil {
		return err
	}
	if !l.now().Before(time.Unix(int64(binary.BigEndian.Uint32(exp)), 0)) {
		return ErrExpired
	}
	return nil
}

// OrderPage is this service's page for the order, opened by token.
func (l *Links) OrderPage(orderID uuid.UUID, token string) string {
	return l.cfg.PublicBaseURL + "/orders/" + orderID.String() + "?t=" + token
}

// OrderURL is where a customer's order link goes: the storefront's page when one is configured,
// else this service's.
func (l *Links) OrderURL(orderID uuid.UUID, number, token string) string {
	if l.cfg.StorefrontOrderURL != "" {
		return fill(l.cfg.StorefrontOrderURL, orderID, number, token)
	}
	return l.OrderPage(orderID, token)
}

// ReviewURL is where a review link goes, or "" when none is configured.
func (l *Links) ReviewURL(orderID uuid.UUID, number, token string) string {
	if l.cfg.ReviewURL == "" {
		return ""
	}
	return fill(l.cfg.ReviewURL, orderID, number, token)
}

// Short link paths on SMSLinkBaseURL; this service answers them with a redirect to the long link.
const (
	ShortOrderPath  = "/o/"
	ShortReviewPath = "/r/"
)

// CustomerOrderURL is where a customer's order link goes, with a fresh token: for a customer who
// has just shown they are the order's (a payment the gateway signed for it).
func (l *Links) CustomerOrderURL(orderID uuid.UUID, number string) string {
	return l.OrderURL(orderID, number, l.Token(orderID))
}

// ForMessage returns the links a message about the order may carry, with a fresh token.
func (l *Links) ForMessage(orderID uuid.UUID, number string) Message {
	return l.withToken(orderID, number, l.Token(orderID))
}

// HiddenToken stands for the token in the links Shown makes.
const HiddenToken = "…"

// Shown returns the links a message about the order carries with the token left out, for showing
// a message to staff: a real token would open the order, and is made only for the message sent.
func (l *Links) Shown(orderID uuid.UUID, number string) Message {
	return l.withToken(orderID, number, HiddenToken)
}

func (l *Links) withToken(orderID uuid.UUID, number, token string) Message {
	m := Message{OrderURL: l.OrderURL(orderID, number, token), ReviewURL: l.ReviewURL(orderID, number, token)}
	if l.cfg.SMSLinkBaseURL != "" {
		// The number, not the id: it is 25 characters shorter, and the order is found by it.
		m.SMSOrderURL = l.cfg.SMSLinkBaseURL + ShortOrderPath + number + "/" + token
		if m.ReviewURL != "" {
			m.SMSReviewURL = l.cfg.SMSLinkBaseURL + ShortReviewPath + number + "/" + token
		}
	}
	return m
}

func fill(tmpl string, orderID uuid.UUID, number, token string) string {
	return strings.NewReplacer("{order_id}", orderID.String(), "{order_number}", url.PathEscape(number),
		"{token}", token).Replace(tmpl)
}

// Opens reports whether token is a good link token for the order, so that a link in a message opens
// what the checkout's access token opens (command.AccessChecker).
func (l *Links) Opens(_ context.Context, orderID uuid.UUID, token string) (bool, error) {
	return l.Check(orderID, token) == nil, nil
}
