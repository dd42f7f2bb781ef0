package templates

import (
	"slices"
	"testing"
)

func TestLinksInFindsEveryLinkOnce(t *testing.T) {
	for name, c := range map[string]struct {
		in   string
		want []string
	}{
		"html": {`<a href="https://a.in/x?p=1&amp;q=2" style="x">Go</a> <img src="https://img.in/l.png"> <a href="mailto:help@shop.in">help@shop.in</a> <p>or see https://b.in/y.</p> <a href="https://a.in/x?p=1&amp;q=2">again</a>`,
			[]string{"https://a.in/x?p=1&q=2", "https://img.in/l.png", "mailto:help@shop.in", "https://b.in/y"}},
		"text": {"View your order: https://orders.in/orders/1?t=AbC-d_9\nTrack (https://track.in/p/9), or www.shop.in!",
			[]string{"https://orders.in/orders/1?t=AbC-d_9", "https://track.in/p/9", "www.shop.in"}},
		"sms":  {"CertiBuy: Hi Asha, order CB-1 is confirmed: https://s.in/o/CB-1/AAdWkF3sYq2Pz0cX", []string{"https://s.in/o/CB-1/AAdWkF3sYq2Pz0cX"}},
		"none": {"CertiBuy: Hi Asha, order CB-1 is out for delivery. Write to help@shop.in.", nil},
	} {
		if got := LinksIn(c.in); !slices.Equal(got, c.want) {
			t.Errorf("%s: LinksIn = %q, want %q", name, got, c.want)
		}
	}
}
