package order

import (
	"net/url"
	"strings"
)

// Carrier is a courier the shop hands parcels to, and where its customers follow a parcel.
type Carrier struct {
	// Name is how the carrier is written in messages and pages.
	Name string
	// track builds the public tracking page of a tracking id.
	track func(trackingID string) string
}

// OtherCarrier is the carrier name for a courier outside the table; its tracking URL is given at
// shipping.
const OtherCarrier = "other"

// Carriers is the table of couriers whose tracking pages the service knows, in the order a form
// lists them.
func Carriers() []Carrier {
	q := url.QueryEscape
	p := url.PathEscape
	return []Carrier{
		{"Delhivery", func(id string) string { return "https://www.delhivery.com/track/package/" + p(id) }},
		{"Blue Dart", func(id string) string { return "https://www.bluedart.com/tracking?trackFor=0&trackNo=" + q(id) }},
		{"DTDC", func(id string) string { return "https://www.dtdc.in/tracking.asp?strCnno=" + q(id) }},
		{"Ecom Express", func(id string) string { return "https://ecomexpress.in/tracking/?awb_field=" + q(id) }},
		{"Xpressbees", func(id string) string { return "https://www.xpressbees.com/shipment/tracking?awbNo=" + q(id) }},
		{"India Post", func(id string) string {
			return "https://www.indiapost.gov.in/_layouts/15/dop.portal.tracking/trackconsignment.aspx?consignment=" + q(id)
		}},
		{"Shadowfax", func(id string) string { return "https://tracker.shadowfax.in/#/track/" + p(id) }},
		{"Ekart", func(id string) string { return "https://ekartlogistics.com/shipmenttrack/" + p(id) }},
	}
}

// carrierKey matches names however they are spaced or capitalised ("BlueDart", "blue dart").
func carrierKey(name string) string { return strings.ToLower(strings.Join(strings.Fields(name), "")) }

// LookupCarrier finds a carrier of the table by name. "Speed Post" is India Post's.
func LookupCarrier(name string) (Carrier, bool) {
	k := carrierKey(name)
	if k == "speedpost" {
		k = "indiapost"
	}
	for _, c := range Carriers() {
		if carrierKey(c.Name) == k {
			return c, true
		}
	}
	return Carrier{}, false
}

// TrackingURL is the carrier's public tracking page for a shipment, or "" for a carrier outside the
// table.
func TrackingURL(carrier, trackingID string) string {
	c, ok := LookupCarrier(carrier)
	if !ok {
		return ""
	}
	return c.track(trackingID)
}

// checkTrackingURL accepts the tracking page given for a carrier outside the table: an https address
// of at most 500 characters, so that a link in a customer's message cannot be anything else.
func checkTrackingURL(s string) error {
	if s == "" {
		return invalid("tracking_url", "required for a carrier outside the table (%s): the page where the customer tracks the parcel", carrierNames())
	}
	if len(s) > 500 {
		return invalid("tracking_url", "at most 500 characters")
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.ContainsAny(s, " \t\r\n\"'<>") {
		return invalid("tracking_url", "want an https:// address, got %q", s)
	}
	return nil
}

func carrierNames() string {
	var names []string
	for _, c := range Carriers() {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}
