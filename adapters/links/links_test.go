package links_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/adapters/links"
)

var key = bytes.Repeat([]byte("k"), links.MinKeyBytes)

func newLinks(t *testing.T, cfg links.Config, now func() time.Time) *links.Links {
	t.Helper()
	if cfg.Key == nil {
		cfg.Key = key
	}
	if cfg.PublicBaseURL == "" {
		cfg.PublicBaseURL = "https://orders.example.in/"
	}
	l, err := links.New(cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestATokenOpensItsOrderUntilItExpires(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l := newLinks(t, links.Config{TTL: 180 * 24 * time.Hour}, clock)
	id, other := uuid.New(), uuid.New()
	tok := l.Token(id)
	if len(tok) != links.TokenLength {
		t.Fatalf("token %q is %d characters, want %d", tok, len(tok), links.TokenLength)
	}
	if err := l.Check(id, tok); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	if err := l.Check(other, tok); !errors.Is(err, links.ErrInvalid) {
		t.Fatalf("token on another order: %v, want ErrInvalid", err)
	}
	flipped := []byte(tok)
	flipped[len(flipped)-1] ^= 1
	if err := l.Check(id, string(flipped)); !errors.Is(err, links.ErrInvalid) {
		t.Fatalf("tampered token: %v, want ErrInvalid", err)
	}
	for _, bad := range []string{"", "short", tok + "x", strings.Repeat("!", links.TokenLength)} {
		if err := l.Check(id, bad); !errors.Is(err, links.ErrInvalid) {
			t.Fatalf("token %q: %v, want ErrInvalid", bad, err)
		}
	}
	otherKey := newLinks(t, links.Config{Key: bytes.Repeat([]byte("z"), links.MinKeyBytes)}, clock)
	if err := otherKey.Check(id, tok); !errors.Is(err, links.ErrInvalid) {
		t.Fatalf("token checked under another key: %v, want ErrInvalid", err)
	}

	now = now.Add(179 * 24 * time.Hour)
	if err := l.Check(id, tok); err != nil {
		t.Fatalf("after 179 days: %v", err)
	}
	now = now.Add(2 * 24 * time.Hour)
	if err := l.Check(id, tok); !errors.Is(err, links.ErrExpired) {
		t.Fatalf("after 181 days: %v, want ErrExpired", err)
	}
}

// A link is good for its TTL and to the end of that day as a customer in India reads it: one e-mailed
// at 05:00 IST opens the order all day, and on the last day until midnight IST, not until the UTC day
// ends at 05:30 IST.
func TestATokenIsGoodToTheEndOfItsLastDayInIndia(t *testing.T) {
	ist := time.FixedZone("IST", 5*60*60+30*60)
	issued := time.Date(2026, 12, 1, 5, 0, 0, 0, ist)
	now := issued
	l := newLinks(t, links.Config{TTL: 180 * 24 * time.Hour}, func() time.Time { return now })
	id := uuid.New()
	tok := l.Token(id)
	lastDay := issued.AddDate(0, 0, 180) // 30 May 2027
	for _, c := range []struct {
		at   time.Time
		want error
	}{
		{issued.Add(30 * time.Minute), nil},
		{issued.Add(time.Hour), nil},
		{time.Date(2026, 12, 1, 23, 59, 59, 0, ist), nil},
		{lastDay, nil},
		{lastDay.Add(time.Hour), nil}, // 06:00 IST: past 05:30 IST, when the UTC day ends
		{time.Date(2027, 5, 30, 23, 59, 59, 0, ist), nil},
		{time.Date(2027, 5, 31, 0, 0, 0, 0, ist), links.ErrExpired},
		{time.Date(2027, 6, 2, 12, 0, 0, 0, ist), links.ErrExpired},
	} {
		now = c.at
		if err := l.Check(id, tok); !errors.Is(err, c.want) {
			t.Errorf("token made %s, checked %s: %v, want %v", issued.Format(time.DateTime+" MST"), c.at.Format(time.DateTime+" MST"), err, c.want)
		}
	}
}

// A token made before expiry days were read in IST named the UTC day after its TTL ran out and
// expired as that day began; it still opens its order until then, and to the end of that date in IST.
func TestATokenMadeWhenDaysWereUTCStillOpensItsOrder(t *testing.T) {
	ist := time.FixedZone("IST", 5*60*60+30*60)
	issued := time.Date(2026, 12, 1, 12, 0, 0, 0, ist)
	now := issued
	l := newLinks(t, links.Config{TTL: 180 * 24 * time.Hour}, func() time.Time { return now })
	id := uuid.New()
	// The old Token: the day after the TTL runs out, in UTC, signed as today.
	day := make([]byte, 2, 12)
	binary.BigEndian.PutUint16(day, uint16(issued.Add(180*24*time.Hour).Unix()/86400+1))
	m := hmac.New(sha256.New, key)
	m.Write([]byte("certibuy order link\x00"))
	m.Write(id[:])
	m.Write(day)
	old := base64.RawURLEncoding.EncodeToString(append(day, m.Sum(nil)[:10]...))
	oldExpiry := time.Date(2027, 5, 31, 0, 0, 0, 0, time.UTC) // 05:30 IST on 31 May
	for _, c := range []struct {
		at   time.Time
		want error
	}{
		{issued, nil},
		{oldExpiry.Add(-time.Second), nil},
		{time.Date(2027, 5, 31, 23, 59, 59, 0, ist), nil},
		{time.Date(2027, 6, 1, 0, 0, 0, 0, ist), links.ErrExpired},
	} {
		now = c.at
		if err := l.Check(id, old); !errors.Is(err, c.want) {
			t.Errorf("old token checked %s: %v, want %v", c.at.Format(time.DateTime+" MST"), err, c.want)
		}
	}
}

func TestLinksGoToTheOrderPageOrTheConfiguredStorefront(t *testing.T) {
	id := uuid.MustParse("0193a0f4-5b6c-7d8e-9f00-112233445566")
	l := newLinks(t, links.Config{}, time.Now)
	m := l.ForMessage(id, "CB-7K3M9Q2X")
	if !strings.HasPrefix(m.OrderURL, "https://orders.example.in/orders/"+id.String()+"?t=") {
		t.Fatalf("order URL %q", m.OrderURL)
	}
	if m.ReviewURL != "" || m.SMSOrderURL != "" || m.SMSReviewURL != "" {
		t.Fatalf("links the settings do not ask for: %+v", m)
	}

	l = newLinks(t, links.Config{
		StorefrontOrderURL: "https://shop.example.in/account/orders/{order_number}?id={order_id}&t={token}",
		ReviewURL:          "https://shop.example.in/review/{order_id}?t={token}",
		SMSLinkBaseURL:     "https://s.example.in/",
	}, time.Now)
	m = l.ForMessage(id, "CB-7K3M9Q2X")
	tok := m.OrderURL[strings.LastIndex(m.OrderURL, "=")+1:]
	if err := l.Check(id, tok); err != nil {
		t.Fatalf("storefront link's token: %v", err)
	}
	want := "https://shop.example.in/account/orders/CB-7K3M9Q2X?id=" + id.String() + "&t=" + tok
	if m.OrderURL != want {
		t.Fatalf("order URL %q, want %q", m.OrderURL, want)
	}
	if m.ReviewURL != "https://shop.example.in/review/"+id.String()+"?t="+tok {
		t.Fatalf("review URL %q", m.ReviewURL)
	}
	if m.SMSOrderURL != "https://s.example.in/o/CB-7K3M9Q2X/"+tok || m.SMSReviewURL != "https://s.example.in/r/CB-7K3M9Q2X/"+tok {
		t.Fatalf("SMS links %q, %q", m.SMSOrderURL, m.SMSReviewURL)
	}

	// The links shown to staff have the same shape, and no token.
	shown := l.Shown(id, "CB-7K3M9Q2X")
	for _, pair := range [][2]string{{m.OrderURL, shown.OrderURL}, {m.ReviewURL, shown.ReviewURL}, {m.SMSOrderURL, shown.SMSOrderURL}, {m.SMSReviewURL, shown.SMSReviewURL}} {
		if pair[1] != strings.Replace(pair[0], tok, links.HiddenToken, 1) {
			t.Fatalf("shown %q for %q", pair[1], pair[0])
		}
	}
}

func TestSettingsThatWouldMakeBrokenLinksAreRefused(t *testing.T) {
	for name, cfg := range map[string]links.Config{
		"short key":              {Key: []byte("short")},
		"relative base":          {PublicBaseURL: "/orders"},
		"unknown placeholder":    {StorefrontOrderURL: "https://shop.example.in/o/{id}"},
		"storefront not a URL":   {StorefrontOrderURL: "shop.example.in/{order_id}"},
		"review on ftp":          {ReviewURL: "ftp://shop.example.in/{order_id}"},
		"SMS base too long":      {SMSLinkBaseURL: "https://" + strings.Repeat("s", links.MaxSMSBaseURL) + ".in"},
		"SMS base with a query":  {SMSLinkBaseURL: "https://s.example.in/?x=1"},
		"a TTL shorter than 1 h": {TTL: time.Minute},
	} {
		t.Run(name, func(t *testing.T) {
			if cfg.Key == nil {
				cfg.Key = key
			}
			if cfg.PublicBaseURL == "" {
				cfg.PublicBaseURL = "https://orders.example.in"
			}
			if _, err := links.New(cfg, time.Now); err == nil {
				t.Fatalf("accepted %+v", cfg)
			}
		})
	}
}

// A return token, which the order page puts in the payment gateway's callback URL, leads back to its
// order for a few hours and opens nothing: it is not a link token, and a link token is not one.
func TestAReturnTokenLeadsBackForHoursAndOpensNothing(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l := newLinks(t, links.Config{}, clock)
	id, other := uuid.New(), uuid.New()
	ret := l.ReturnToken(id)
	if len(ret) != links.ReturnTokenLength {
		t.Fatalf("return token %q is %d characters, want %d", ret, len(ret), links.ReturnTokenLength)
	}
	if err := l.CheckReturn(id, ret); err != nil {
		t.Fatalf("fresh return token: %v", err)
	}
	if err := l.Check(id, ret); !errors.Is(err, links.ErrInvalid) {
		t.Fatalf("a return token as a link token: %v, want ErrInvalid", err)
	}
	if ok, err := l.Opens(t.Context(), id, ret); ok || err != nil {
		t.Fatalf("a return token gives access to the order: %v %v", ok, err)
	}
	if err := l.CheckReturn(id, l.Token(id)); !errors.Is(err, links.ErrInvalid) {
		t.Fatalf("a link token as a return token: %v, want ErrInvalid", err)
	}
	if err := l.CheckReturn(other, ret); !errors.Is(err, links.ErrInvalid) {
		t.Fatalf("return token on another order: %v, want ErrInvalid", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(ret)
	if err != nil {
		t.Fatal(err)
	}
	// A later expiry under the same MAC is refused: the expiry is signed.
	binary.BigEndian.PutUint32(raw, binary.BigEndian.Uint32(raw)+86400)
	if err := l.CheckReturn(id, base64.RawURLEncoding.EncodeToString(raw)); !errors.Is(err, links.ErrInvalid) {
		t.Fatalf("return token with its expiry moved: %v, want ErrInvalid", err)
	}
	// A link token's MAC over the same bytes, under the same key, is not a return token's.
	m := hmac.New(sha256.New, key)
	m.Write([]byte("certibuy order link\x00"))
	m.Write(id[:])
	m.Write(raw[:4])
	forged := base64.RawURLEncoding.EncodeToString(append(raw[:4:4], m.Sum(nil)[:10]...))
	if err := l.CheckReturn(id, forged); !errors.Is(err, links.ErrInvalid) {
		t.Fatalf("a return token signed as a link: %v, want ErrInvalid", err)
	}
	for _, bad := range []string{"", "short", ret + "x", strings.Repeat("!", links.ReturnTokenLength)} {
		if err := l.CheckReturn(id, bad); !errors.Is(err, links.ErrInvalid) {
			t.Fatalf("return token %q: %v, want ErrInvalid", bad, err)
		}
	}

	now = now.Add(links.ReturnTTL - time.Second)
	if err := l.CheckReturn(id, ret); err != nil {
		t.Fatalf("a second before it expires: %v", err)
	}
	now = now.Add(time.Second)
	if err := l.CheckReturn(id, ret); !errors.Is(err, links.ErrExpired) {
		t.Fatalf("after %s: %v, want ErrExpired", links.ReturnTTL, err)
	}
}
