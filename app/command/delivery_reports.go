package command

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// ProviderReport is one SMS delivery report as a provider posted it, read by that provider's parser.
type ProviderReport struct {
	Provider string
	// RequestID is the id the provider answered the send with; Number the phone, as it writes it.
	RequestID, Number string
	// Status and Description are the provider's own words; Reason says why it failed, when it says.
	Status, Description, Reason string
	// Reference is the client reference sent with the SMS (MSG91's CRQID), when it comes back.
	Reference  string
	ReportedAt time.Time
	// Delivered is set when the SMS reached the phone; Rejected when the operator refused its text
	// as not matching its registered template.
	Delivered, Rejected bool
}

// InboxReport is a report kept in the inbox until it folds into its notification.
type InboxReport struct {
	ID int64
	ProviderReport
	ReceivedAt time.Time
}

// ReportParser reads the reports of a provider's webhook body.
type ReportParser interface {
	ParseReports(contentType string, body []byte) ([]ProviderReport, error)
}

// ReportInbox keeps delivery reports from their arrival until they fold into their notification.
type ReportInbox interface {
	// Add keeps the reports not seen before and returns those, with their ids; a report posted
	// again (same provider, request id, number and status) is left out.
	Add(ctx context.Context, reports []ProviderReport) ([]InboxReport, error)
	// Pending returns up to limit reports not yet settled, oldest first.
	Pending(ctx context.Context, limit int) ([]InboxReport, error)
	// AttemptOf finds the notification and attempt a provider answered with requestID; ok is false
	// while no attempt has it (its outcome is not recorded yet, or it is not ours).
	AttemptOf(ctx context.Context, provider, requestID string) (stream string, attempt int, ok bool, err error)
	// Settle marks a report folded into stream, or unknown (stream "").
	Settle(ctx context.Context, id int64, stream string) error
}

// ReceiveDeliveryReports is a provider's webhook delivery: who posted it, the secret token of the URL
// and the raw body.
type ReceiveDeliveryReports struct {
	Provider    string
	Token       string
	ContentType string
	Body        []byte
}

// ReceivedReports says what a webhook delivery held.
type ReceivedReports struct {
	Received   int `json:"received"`
	Duplicates int `json:"duplicates"`
	Applied    int `json:"applied"`
	// Pending are reports whose attempt is not known yet: they fold in once it is, or are counted
	// as unknown.
	Pending int `json:"pending"`
	// Mismatched are reports whose request id is a notification's but whose number is not its
	// recipient's: kept, logged once, never folded.
	Mismatched int `json:"mismatched,omitempty"`
}

// errOtherNumber is a report for a notification's request id that names another number: no later
// sweep can fold it.
var errOtherNumber = errors.New("the report names another number than the notification's")

// Errors of ReceiveDeliveryReports.
var (
	ErrReportsOff      = errors.New("delivery reports are off: set SMS_WEBHOOK_TOKEN and put it in the report URL")
	ErrBadReportToken  = errors.New("the token in the report URL is not this service's")
	ErrUnknownProvider = errors.New("no such SMS provider")
)

// DeliveryReportsHandler takes SMS delivery reports in and folds them into their notifications.
type DeliveryReportsHandler struct {
	token   []byte
	parsers map[string]ReportParser
	inbox   ReportInbox
	store   NotificationStore
	// fallback is the provider a rejected template goes through instead, by the provider that
	// rejected it ("" or absent: none).
	fallback map[string]string
	logger   *slog.Logger
}

// NewDeliveryReportsHandler wires the handler. An empty token turns reports off.
func NewDeliveryReportsHandler(token string, parsers map[string]ReportParser, inbox ReportInbox, store NotificationStore,
	fallback map[string]string, logger *slog.Logger) DeliveryReportsHandler {
	return DeliveryReportsHandler{token: []byte(token), parsers: parsers, inbox: inbox, store: store, fallback: fallback, logger: logger}
}

// Handle checks the token (in constant time), reads the reports, keeps the new ones and folds those
// whose attempt is known. A report for a request id no attempt has is kept and answered like the
// others, so that the provider does not retry it; the sweep folds it later or counts it as unknown.
func (h DeliveryReportsHandler) Handle(ctx context.Context, cmd ReceiveDeliveryReports) (ReceivedReports, error) {
	if len(h.token) == 0 {
		return ReceivedReports{}, ErrReportsOff
	}
	if subtle.ConstantTimeCompare([]byte(cmd.Token), h.token) != 1 {
		return ReceivedReports{}, ErrBadReportToken
	}
	parser, ok := h.parsers[cmd.Provider]
	if !ok {
		return ReceivedReports{}, fmt.Errorf("%w %q", ErrUnknownProvider, cmd.Provider)
	}
	reports, err := parser.ParseReports(cmd.ContentType, cmd.Body)
	if err != nil {
		return ReceivedReports{}, &order.FieldError{Field: "body", Err: fmt.Errorf("%w: %v", order.ErrInvalidInput, err)}
	}
	fresh, err := h.inbox.Add(ctx, reports)
	if err != nil {
		return ReceivedReports{}, fmt.Errorf("keep delivery reports: %w", err)
	}
	res := ReceivedReports{Received: len(reports), Duplicates: len(reports) - len(fresh)}
	for _, r := range fresh {
		applied, err := h.apply(ctx, r)
		switch {
		case errors.Is(err, errOtherNumber):
			if err := h.settleMismatch(ctx, r); err != nil {
				return res, err
			}
			res.Mismatched++
			continue
		case err != nil:
			// Kept in the inbox: the sweep tries again. The provider hears 2xx all the same.
			h.logger.WarnContext(ctx, "delivery report not folded yet", "provider", r.Provider, "request_id", r.RequestID, "err", err)
		}
		if applied {
			res.Applied++
		} else {
			res.Pending++
		}
	}
	return res, nil
}

// apply folds one report into its notification, when its attempt is known.
func (h DeliveryReportsHandler) apply(ctx context.Context, r InboxReport) (bool, error) {
	stream, attempt, ok, err := h.inbox.AttemptOf(ctx, r.Provider, r.RequestID)
	if err != nil || !ok {
		return false, err
	}
	ctx = withActor(ctx, es.Gateway(r.Provider))
	var n *notification.Notification
	failed := false // by this report: no provider was left to reroute it to
	err = retryOnConflict(func() error {
		cur, err := h.store.Get(ctx, stream)
		if err != nil {
			return err
		}
		n = cur
		if !sameNumber(n.Request().Recipient, r.Number) {
			return errOtherNumber
		}
		wasSent := n.Status() == notification.StatusSent
		reroute, err := n.ReportDelivery(notification.Report{Attempt: attempt, Provider: r.Provider, RequestID: r.RequestID,
			Status: r.Status, Description: r.Description, Reason: r.Reason, ReportedAt: r.ReportedAt}, r.Delivered, r.Rejected, h.fallback[r.Provider])
		if err != nil {
			return err
		}
		var d *Delivery
		if reroute {
			q := DeliveryOf(n.Request(), n.Version())
			d = &q
		}
		if err := h.store.Save(ctx, stream, n, d); err != nil {
			return err
		}
		failed = n.Status() == notification.StatusFailed && wasSent
		return nil
	})
	if err != nil {
		return false, err
	}
	if failed {
		// As the delivery handler does: one line per notification that failed for good.
		req := n.Request()
		h.logger.WarnContext(ctx, "notification failed for good",
			"notification", stream, "type", string(req.Type), "channel", string(req.Channel),
			"provider", r.Provider, "order_number", req.OrderNumber, "attempts", n.Attempts(),
			"permanent", true, "reason", logSafe(n.LastError(), req.Recipient))
	}
	return true, h.inbox.Settle(ctx, r.ID, stream)
}

// SweepReports folds the reports kept while their attempt was not known, and counts as unknown
// those still unmatched after unknownAfter (not ours, or a request id the provider got wrong).
type SweepReports struct {
	UnknownAfter time.Duration
	Now          time.Time
}

// SweptReports is what a sweep did.
type SweptReports struct {
	Applied, Unknown int
}

// Sweep runs one sweep.
func (h DeliveryReportsHandler) Sweep(ctx context.Context, cmd SweepReports) (SweptReports, error) {
	pending, err := h.inbox.Pending(ctx, 500)
	if err != nil {
		return SweptReports{}, fmt.Errorf("sweep delivery reports: %w", err)
	}
	var out SweptReports
	var errs []error
	for _, r := range pending {
		applied, err := h.apply(ctx, r)
		switch {
		case applied:
			out.Applied++
		case errors.Is(err, errOtherNumber):
			if err := h.settleMismatch(ctx, r); err != nil {
				errs = append(errs, err)
			}
			out.Unknown++
		case cmd.Now.Sub(r.ReceivedAt) > cmd.UnknownAfter:
			h.logger.WarnContext(ctx, "delivery report for a request id no notification has", "provider", r.Provider,
				"request_id", r.RequestID, "status", r.Status, "err", err)
			if err := h.inbox.Settle(ctx, r.ID, ""); err != nil {
				errs = append(errs, err)
			}
			out.Unknown++
		case err != nil:
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// settleMismatch takes a report that names another number out of the inbox, with one warning: it
// was an error in every sweep, every five seconds, for the half hour before it counted as unknown.
func (h DeliveryReportsHandler) settleMismatch(ctx context.Context, r InboxReport) error {
	h.logger.WarnContext(ctx, "delivery report names another number than its notification's; not folded",
		"provider", r.Provider, "request_id", r.RequestID, "status", r.Status)
	if err := h.inbox.Settle(ctx, r.ID, ""); err != nil {
		return fmt.Errorf("settle delivery report %s: %w", r.RequestID, err)
	}
	return nil
}

// sameNumber compares a stored E.164 number with one as a provider writes it (91XXXXXXXXXX, or
// the ten national digits): the last ten digits decide.
func sameNumber(e164, reported string) bool {
	digits := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
	}
	a, b := digits(e164), digits(reported)
	return len(a) >= 10 && len(b) >= 10 && a[len(a)-10:] == b[len(b)-10:]
}
