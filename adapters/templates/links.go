package templates

import (
	"html"
	"regexp"
	"strings"

	"github.com/certibuy/orders/domain/notification"
)

var (
	// linkAttribute finds the attributes of rendered HTML that a mail client follows or loads.
	linkAttribute = regexp.MustCompile(`(?i)\b(?:href|src)\s*=\s*"([^"]*)"`)
	// writtenLink finds an address written out in text.
	writtenLink = regexp.MustCompile(`(?i)(?:https?://|mailto:|www\.)[^\s<>"']+`)
)

// LinksIn returns every link a reader of a rendered message can follow, in order, each once: the
// href and src values of an HTML part (unescaped), and the addresses written out in a text part,
// an SMS or the HTML's text. Tests use it to check that no message links anywhere unexpected.
func LinksIn(message string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(l string) {
		if l != "" && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	for _, m := range linkAttribute.FindAllStringSubmatch(message, -1) {
		add(html.UnescapeString(m[1]))
	}
	rest := linkAttribute.ReplaceAllString(message, "")
	for _, l := range writtenLink.FindAllString(rest, -1) {
		// A sentence's punctuation after an address is not part of it.
		add(html.UnescapeString(strings.TrimRight(l, ".,;:!?)")))
	}
	return out
}

// domainDot is a dot between a name and what could be a top-level domain.
var domainDot = regexp.MustCompile(`([A-Za-z0-9-])\.([A-Za-z]{2,})`)

// defang breaks what a mail client would turn into a link ("https://x.in", "www.x.in", "x.in",
// "a@x.in") in text that comes from outside the shop: https[:]//x[.]in. Anyone may check out with
// someone else's address, so a name or an item name must not put a link in the shop's message.
func defang(s string) string {
	s = strings.ReplaceAll(s, "://", "[:]//")
	for i := 0; i < 8 && domainDot.MatchString(s); i++ { // "a.b.c": each pass takes every other dot
		s = domainDot.ReplaceAllString(s, "$1[.]$2")
	}
	return s
}

// defangData returns d with its text from outside the shop defanged: what the customer typed at
// checkout (name, item names, a cancellation's reason) and what an admin typed at shipping.
func defangData(d notification.MessageData) notification.MessageData {
	d.CustomerName, d.CancelReason = defang(d.CustomerName), defang(d.CancelReason)
	d.Carrier, d.TrackingID, d.PaymentMethod = defang(d.Carrier), defang(d.TrackingID), defang(d.PaymentMethod)
	items := make([]notification.MessageItem, len(d.Items))
	for i, it := range d.Items {
		it.Name = defang(it.Name)
		items[i] = it
	}
	d.Items = items
	return d
}
