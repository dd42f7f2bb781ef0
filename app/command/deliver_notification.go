package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// DeliverNotification asks a worker to send a queued notification. Delivery is how many times the
// queue has handed it out since it was requested or resent (1 the first time).
type DeliverNotification struct {
	Stream   string
	Delivery int
	// Queued is the request the queued message carries, when this is the first time a handler sees
	// the message, and QueuedVersion the version the stream had when it was queued.
	Queued        *notification.Requested
	QueuedVersion int
}

// OrderLinks makes the links a message about an order carries. They are made as the message is
// sent, because their tokens open the order and must never be stored.
type OrderLinks interface {
	ForMessage(orderID uuid.UUID, number string) notification.Links
}

// DeliverNotificationHandler sends notifications: it calls the provider with no transaction open and
// records the answer. The queue's lease marks the notification as being sent while it does.
type DeliverNotificationHandler struct {
	store    NotificationStore
	mailer   Mailer
	sms      SMSSender
	renderer Renderer
	links    OrderLinks
	policy   RetryPolicy
	now      func() time.Time
	domain   string // for Message-IDs
	logger   *slog.Logger
}

// NewDeliverNotificationHandler wires the handler; mailDomain is the right-hand side of Message-IDs.
// logger gets one line per notification that fails for good and per attempt lost with its worker.
func NewDeliverNotificationHandler(store NotificationStore, mailer Mailer, sms SMSSender, renderer Renderer, links OrderLinks, policy RetryPolicy, now func() time.Time, mailDomain string, logger *slog.Logger) DeliverNotificationHandler {
	if logger == nil {
		logger = slog.Default()
	}
	return DeliverNotificationHandler{store: store, mailer: mailer, sms: sms, renderer: renderer, links: links, policy: policy, now: now, domain: mailDomain, logger: logger}
}

// Handle sends the notification unless it was sent or failed already. A failed attempt returns a
// RetryLaterError with the wait the policy gives, or, once the budget is spent (or the failure is
// permanent), ErrNotificationFailed.
func (h DeliverNotificationHandler) Handle(ctx context.Context, cmd DeliverNotification) error {
	ctx = withActor(ctx, es.System)
	n, err := h.load(ctx, cmd)
	if err != nil {
		return err
	}
	if n.Status() == notification.StatusSent || n.Status() == notification.StatusFailed {
		return nil // a redelivery of a message already settled
	}
	req := n.Request()
	provider := h.mailer.Name()
	if req.Channel == notification.SMS {
		provider = h.sms.Name()
	}
	// An attempt lost with its worker went to the first provider of a chain ("msg91>fast2sms"), unless
	// that one refused it; the first is the likelier, and retrying it never sends a second provider's.
	primary, _, _ := strings.Cut(provider, ">")
	before := n.Attempts()
	attemptNo, err := n.Attempt(max(cmd.Delivery, 1), primary)
	if err != nil {
		return err
	}
	// Attempts lost with their worker, recorded by Attempt; logged once the save has kept them.
	lost := attemptNo - before - 1

	only := n.ReroutedTo() // a template the first provider's operator rejected: the other one, once
	if o := n.LastOutcome(); o == notification.OutcomeAmbiguous || o == notification.OutcomeUnknown {
		only = n.LastProvider() // it may have been sent: never a second provider
	}
	start := h.now()
	res, messageID, sendErr := h.send(ctx, cmd.Stream, attemptNo, req, only)
	attempt := notification.DeliveryAttempted{Provider: res.Provider, ProviderMessageID: res.ProviderMessageID,
		Response: res.Response, RefusedBy: res.Refused, DurationMS: h.now().Sub(start).Milliseconds()}
	if attempt.Provider == "" {
		attempt.Provider = provider
	}
	if sendErr == nil {
		if err := n.Succeed(attempt, res.ProviderMessageID, messageID); err != nil {
			return err
		}
		if err := h.save(ctx, cmd.Stream, n); err != nil {
			return err
		}
		h.logLost(ctx, cmd.Stream, req, primary, attemptNo, lost)
		return nil
	}

	permanent := false
	var se *SendError
	if errors.As(sendErr, &se) {
		permanent = se.Permanent
		if se.Provider != "" {
			attempt.Provider = se.Provider
		}
		if se.Response != "" {
			attempt.Response = se.Response
		}
		if se.Ambiguous {
			attempt.Outcome = notification.OutcomeAmbiguous
		}
		attempt.RefusedBy = se.Refused
	}
	attempt.Error = sendErr.Error()
	failed, err := n.Fail(attempt, permanent, h.policy.MaxAttempts)
	if err != nil {
		return err
	}
	if err := h.save(ctx, cmd.Stream, n); err != nil {
		return err
	}
	h.logLost(ctx, cmd.Stream, req, primary, attemptNo, lost)
	if failed {
		// One line per notification that failed for good; the attempts before it are in its history.
		h.logger.WarnContext(ctx, "notification failed for good",
			"notification", cmd.Stream, "type", string(req.Type), "channel", string(req.Channel),
			"provider", attempt.Provider, "order_number", req.OrderNumber, "attempts", n.Attempts(),
			"permanent", permanent, "reason", logSafe(attempt.Error, req.Recipient))
		return fmt.Errorf("%w after %d attempts: %w", ErrNotificationFailed, n.Attempts(), sendErr)
	}
	return &RetryLaterError{After: h.policy.Delay(n.Round()), Err: sendErr}
}

// logLost logs the attempts before attemptNo whose worker stopped before the provider answered: the
// message may have gone, so the retry went through the same provider.
func (h DeliverNotificationHandler) logLost(ctx context.Context, stream string, req notification.Requested, provider string, attemptNo, lost int) {
	if lost <= 0 {
		return
	}
	h.logger.WarnContext(ctx, notification.ErrWorkerStopped+"; retried through the same provider",
		"notification", stream, "type", string(req.Type), "channel", string(req.Channel),
		"provider", provider, "order_number", req.OrderNumber, "lost_attempts", lost, "attempt", attemptNo)
}

// emailAddress finds what looks like an e-mail address in a provider's answer.
var emailAddress = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@([A-Za-z0-9\-]+\.)+[A-Za-z]{2,}`)

// phoneDigits finds digit runs long enough to be a phone number.
var phoneDigits = regexp.MustCompile(`\+?\d{10,}`)

// logSafe is a delivery error fit for the log: a provider may quote the recipient back, so the
// recipient, e-mail addresses (all but their domain) and phone numbers (all but their last four
// digits) are masked.
func logSafe(reason, recipient string) string {
	if recipient != "" {
		masked := "***"
		if i := strings.LastIndexByte(recipient, '@'); i >= 0 {
			masked += recipient[i:]
		} else {
			masked = order.MaskPhone(recipient)
		}
		reason = strings.ReplaceAll(reason, recipient, masked)
	}
	reason = emailAddress.ReplaceAllStringFunc(reason, func(a string) string { return "***" + a[strings.LastIndexByte(a, '@'):] })
	return phoneDigits.ReplaceAllStringFunc(reason, order.MaskPhone)
}

// load returns the notification as it stands. On its first delivery, a new notification is its
// request alone, which the message carries: nothing else can have been recorded on it before the
// queue first handed it out. Should that ever be wrong, the save's version check refuses the attempt.
func (h DeliverNotificationHandler) load(ctx context.Context, cmd DeliverNotification) (*notification.Notification, error) {
	if cmd.Queued != nil && cmd.Delivery == 1 && cmd.QueuedVersion == 1 {
		return notification.FromHistory([]notification.Event{*cmd.Queued})
	}
	return h.store.Get(ctx, cmd.Stream)
}

// save stores the attempt. A conflict means another worker took the notification over (its lease ran
// out while this attempt was slow): come back later and find out how it went.
func (h DeliverNotificationHandler) save(ctx context.Context, stream string, n *notification.Notification) error {
	err := h.store.Save(ctx, stream, n, nil)
	if errors.Is(err, es.ErrConcurrencyConflict) {
		return &RetryLaterError{After: time.Second, Err: err}
	}
	return err
}

// send renders the message, with its links made now, and hands it to the provider.
func (h DeliverNotificationHandler) send(ctx context.Context, stream string, attempt int, req notification.Requested, only string) (SendResult, string, error) {
	data := req.Data.WithLinks(h.links.ForMessage(req.OrderID, req.OrderNumber))
	switch req.Channel {
	case notification.Email:
		subject, text, html, err := h.renderer.RenderEmail(req.Type, data)
		if err != nil {
			return SendResult{}, "", &SendError{Provider: h.mailer.Name(), Permanent: true, Err: fmt.Errorf("render: %w", err)}
		}
		// One Message-ID per notification, the same on every retry.
		id := "<" + strings.TrimPrefix(stream, "notification-") + "@" + h.domain + ">"
		res, err := h.mailer.Send(ctx, Email{To: req.Recipient, Subject: subject, Text: text, HTML: html, MessageID: id,
			OrderNumber: req.OrderNumber, Type: req.Type})
		return res, id, err
	case notification.SMS:
		text, err := h.renderer.SMS(req.Type, data)
		if err != nil {
			return SendResult{}, "", &SendError{Provider: h.sms.Name(), Permanent: true, Err: fmt.Errorf("render: %w", err)}
		}
		phone, err := order.NewPhone(req.Recipient)
		if err != nil {
			return SendResult{}, "", &SendError{Provider: h.sms.Name(), Permanent: true, Err: err}
		}
		res, err := h.sms.Send(ctx, SMS{To: phone, Type: req.Type, Text: text, Data: data, Reference: SMSReference(stream, attempt)}, only)
		return res, "", err
	}
	return SendResult{}, "", &SendError{Permanent: true, Err: fmt.Errorf("unknown channel %q", req.Channel)}
}

// SMSReference is the client reference an SMS attempt is sent with (MSG91's CRQID): the
// notification and the attempt, so that a provider's report names the attempt it is about, and an
// operator can reconcile the provider's log with the notification's history.
func SMSReference(stream string, attempt int) string {
	return strings.TrimPrefix(stream, "notification-") + "." + strconv.Itoa(attempt)
}

// ResendNotification is an admin's request to send a failed notification again.
type ResendNotification struct {
	Stream  string
	AdminID string
}

// ResendNotificationHandler queues failed notifications again.
type ResendNotificationHandler struct {
	store NotificationStore
}

// NewResendNotificationHandler wires the handler.
func NewResendNotificationHandler(store NotificationStore) ResendNotificationHandler {
	return ResendNotificationHandler{store: store}
}

// Handle records the resend and queues the notification, in one transaction. Only a failed
// notification can be resent, so a sent one is never sent twice.
func (h ResendNotificationHandler) Handle(ctx context.Context, cmd ResendNotification) error {
	ctx = withActor(ctx, es.Admin(cmd.AdminID))
	n, err := h.store.Get(ctx, cmd.Stream)
	if err != nil {
		return err
	}
	if err := n.Resend(cmd.AdminID); err != nil {
		return err
	}
	d := DeliveryOf(n.Request(), n.Version())
	return h.store.Save(ctx, cmd.Stream, n, &d)
}
