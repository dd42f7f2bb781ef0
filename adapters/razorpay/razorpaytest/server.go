// Package razorpaytest is a fake Razorpay API for tests. It follows the documented contract, error
// envelopes included: orders (create, list by receipt, fetch) and refunds with X-Refund-Idempotency,
// behind HTTP Basic auth. Helpers play the customer's side (pay, fail a payment), build webhook
// bodies in Razorpay's envelope, settle refunds, and inject faults (canned answers, slow answers).
//
// It builds its answers from its own JSON shapes rather than the client's types, so a test of the
// client against it checks the wire format, not just that both sides agree with themselves. Like
// Razorpay it sends an empty notes object as [].
package razorpaytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/certibuy/orders/adapters/razorpay"
)

// Request is one request the fake received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header // includes Authorization and X-Refund-Idempotency
	Body   []byte
}

// Server is the fake. Its methods are safe for concurrent use with the requests it serves.
type Server struct {
	tb        testing.TB
	srv       *httptest.Server
	keyID     string
	keySecret string
	accountID string

	mu            sync.Mutex
	orders        map[string]*order
	orderIDs      []string // in creation order
	receipts      map[string]string
	payments      map[string]*payment
	refunds       map[string]*refund
	refundIDs     []string // in creation order
	idempotency   map[string]*idempotent
	requests      []Request
	faults        int
	faultStatus   int
	faultBody     string
	delay         time.Duration
	refundOutcome string
	refundRefusal string
}

type order struct {
	id        string
	amount    int64
	paid      int64
	currency  string
	receipt   string
	status    string
	attempts  int64
	notes     map[string]string
	createdAt int64
}

type payment struct {
	id             string
	orderID        string
	amount         int64
	currency       string
	status         string
	method         string
	captured       bool
	amountRefunded int64
	email          string
	contact        string
	notes          map[string]string
	errCode        string
	errDescription string
	createdAt      int64
}

type refund struct {
	id             string
	paymentID      string
	amount         int64
	currency       string
	receipt        string
	notes          map[string]string
	status         string
	speedRequested string
	speedProcessed string
	arn            string
	createdAt      int64
}

// idempotent remembers one X-Refund-Idempotency key: what it was sent with and what it made.
type idempotent struct {
	request  string // payment id and canonical body
	refundID string
	inFlight bool // the first request's answer has not been written yet
}

// NewServer starts a fake that accepts keyID:keySecret and closes it when the test ends.
func NewServer(tb testing.TB, keyID, keySecret string) *Server {
	tb.Helper()
	s := &Server{
		tb:            tb,
		keyID:         keyID,
		keySecret:     keySecret,
		accountID:     "acc_" + randomID(),
		orders:        map[string]*order{},
		receipts:      map[string]string{},
		payments:      map[string]*payment{},
		refunds:       map[string]*refund{},
		idempotency:   map[string]*idempotent{},
		refundOutcome: razorpay.RefundPending,
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

// URL is the base URL to give the client (Config.BaseURL).
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server now, so a test can see an unreachable Razorpay. It is safe to call twice.
func (s *Server) Close() { s.srv.Close() }

// AccountID is the account the webhooks name.
func (s *Server) AccountID() string { return s.accountID }

// FailNext answers the next n requests, whatever they are, with status and body instead of
// serving them; they are recorded but change nothing. A body that is valid JSON is sent as
// application/json, anything else as text/html.
func (s *Server) FailNext(n, status int, body string) {
	s.tb.Helper()
	if n < 0 || status < 100 || status > 599 {
		s.tb.Fatalf("razorpaytest: FailNext(%d, %d): want n >= 0 and an HTTP status", n, status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.faultStatus, s.faultBody = n, status, body
}

// Delay holds every answer back by d after the request was applied, to provoke client timeouts
// the way a slow network does: the request takes effect even when the client gives up. Delay(0)
// ends it.
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetRefundOutcome sets the status new refunds get: razorpay.RefundPending (the default; settle
// them with RefundProcessedWebhook or RefundFailedWebhook) or razorpay.RefundProcessed.
func (s *Server) SetRefundOutcome(status string) {
	s.tb.Helper()
	if status != razorpay.RefundPending && status != razorpay.RefundProcessed {
		s.tb.Fatalf("razorpaytest: SetRefundOutcome(%q): want pending or processed", status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refundOutcome = status
}

// RefuseRefunds makes the fake refuse every new refund request that it would otherwise make, with a
// 400 BAD_REQUEST_ERROR whose description is the given one, as Razorpay refuses a refund the
// account's balance cannot cover: nothing is made and the idempotency key is not kept. A key that
// already made a refund still gets that refund back. RefuseRefunds("") ends it.
func (s *Server) RefuseRefunds(description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refundRefusal = description
}

// Requests returns copies of the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = Request{Method: r.Method, Path: r.Path, Query: cloneValues(r.Query), Header: r.Header.Clone(), Body: bytes.Clone(r.Body)}
	}
	return out
}

// Order returns the order with the given id as the API would show it.
func (s *Server) Order(id string) (razorpay.Order, bool) {
	s.tb.Helper()
	s.mu.Lock()
	o, ok := s.orders[id]
	var b []byte
	if ok {
		b = mustJSON(o.json())
	}
	s.mu.Unlock()
	if !ok {
		return razorpay.Order{}, false
	}
	var out razorpay.Order
	if err := json.Unmarshal(b, &out); err != nil {
		s.tb.Fatalf("razorpaytest: decode order: %v", err)
	}
	return out, true
}

// Refunds returns the refunds of a payment as the API would show them, oldest first.
func (s *Server) Refunds(paymentID string) []razorpay.Refund {
	s.tb.Helper()
	s.mu.Lock()
	var bodies [][]byte
	for _, id := range s.refundIDs {
		if r := s.refunds[id]; r.paymentID == paymentID {
			bodies = append(bodies, mustJSON(r.json()))
		}
	}
	s.mu.Unlock()
	out := make([]razorpay.Refund, len(bodies))
	for i, b := range bodies {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			s.tb.Fatalf("razorpaytest: decode refund: %v", err)
		}
	}
	return out
}

// Pay plays a customer paying the order with method (card, upi, netbanking, wallet): the payment
// is captured and the order paid. It returns the payment id and the checkout signature the browser
// would post to our callback.
func (s *Server) Pay(orderID, method string) (paymentID, signature string) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderID]
	switch {
	case !ok:
		s.tb.Fatalf("razorpaytest: Pay: no order %q", orderID)
	case o.status == razorpay.OrderPaid:
		s.tb.Fatalf("razorpaytest: Pay: order %q is already paid", orderID)
	}
	p := s.newPayment(o, method)
	p.status, p.captured = "captured", true
	o.status, o.paid = razorpay.OrderPaid, o.amount
	return p.id, razorpay.SignPayment(s.keySecret, o.id, p.id)
}

// PayAgain plays a second payment captured on an order that is paid already: the customer paid in
// two tabs, or a UPI retry went through late. Razorpay captures it all the same under automatic
// capture; it is the merchant's to refund.
func (s *Server) PayAgain(orderID, method string) (paymentID, signature string) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderID]
	if !ok || o.status != razorpay.OrderPaid {
		s.tb.Fatalf("razorpaytest: PayAgain: no paid order %q", orderID)
	}
	p := s.newPayment(o, method)
	p.status, p.captured = "captured", true
	o.paid += o.amount
	return p.id, razorpay.SignPayment(s.keySecret, o.id, p.id)
}

// PayOther plays a payment captured on an unpaid order for another amount or in another currency
// than the order's (a partial payment, or a gateway that got it wrong): Razorpay reports it in
// payment.captured all the same, and it is the merchant's to refund. The order is left unpaid.
func (s *Server) PayOther(orderID, method string, amount int64, currency string) (paymentID, signature string) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderID]
	if !ok || o.status == razorpay.OrderPaid {
		s.tb.Fatalf("razorpaytest: PayOther: no unpaid order %q", orderID)
	}
	p := s.newPayment(o, method)
	p.amount, p.currency = amount, currency
	p.status, p.captured = "captured", true
	return p.id, razorpay.SignPayment(s.keySecret, o.id, p.id)
}

// CapturedWebhook returns the body of the payment.captured webhook for a payment made with Pay.
func (s *Server) CapturedWebhook(paymentID string) []byte {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[paymentID]
	if !ok || !p.captured {
		s.tb.Fatalf("razorpaytest: CapturedWebhook: no captured payment %q", paymentID)
	}
	return s.webhook(razorpay.EventPaymentCaptured, map[string]any{"payment": entity(p.json())})
}

// FailedWebhook plays a failed payment attempt on the order (the order becomes attempted) and
// returns the body of its payment.failed webhook.
func (s *Server) FailedWebhook(orderID, code, description string) []byte {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderID]
	if !ok {
		s.tb.Fatalf("razorpaytest: FailedWebhook: no order %q", orderID)
	}
	p := s.newPayment(o, "card")
	p.status, p.errCode, p.errDescription = "failed", code, description
	if o.status == razorpay.OrderCreated {
		o.status = razorpay.OrderAttempted
	}
	return s.webhook(razorpay.EventPaymentFailed, map[string]any{"payment": entity(p.json())})
}

// RefundProcessedWebhook settles a pending refund as processed (with an ARN) and returns the body
// of its refund.processed webhook. For a refund already processed it returns the webhook again, as
// a redelivery.
func (s *Server) RefundProcessedWebhook(refundID string) []byte {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[refundID]
	switch {
	case !ok:
		s.tb.Fatalf("razorpaytest: RefundProcessedWebhook: no refund %q", refundID)
	case r.status == razorpay.RefundFailed:
		s.tb.Fatalf("razorpaytest: RefundProcessedWebhook: refund %q already failed", refundID)
	}
	s.process(r)
	return s.refundWebhook(razorpay.EventRefundProcessed, r)
}

// RefundFailedWebhook settles a pending refund as failed (the amount is refundable again) and
// returns the body of its refund.failed webhook.
func (s *Server) RefundFailedWebhook(refundID string) []byte {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[refundID]
	switch {
	case !ok:
		s.tb.Fatalf("razorpaytest: RefundFailedWebhook: no refund %q", refundID)
	case r.status == razorpay.RefundProcessed:
		s.tb.Fatalf("razorpaytest: RefundFailedWebhook: refund %q already processed", refundID)
	}
	if r.status != razorpay.RefundFailed {
		r.status = razorpay.RefundFailed
		s.payments[r.paymentID].amountRefunded -= r.amount
	}
	return s.refundWebhook(razorpay.EventRefundFailed, r)
}

func (s *Server) refundWebhook(event string, r *refund) []byte {
	return s.webhook(event, map[string]any{
		"refund":  entity(r.json()),
		"payment": entity(s.payments[r.paymentID].json()),
	})
}

func (s *Server) process(r *refund) {
	r.status = razorpay.RefundProcessed
	if r.arn == "" {
		r.arn = fmt.Sprintf("7499%019d", rand.Int64N(1e18))
	}
}

// webhook builds Razorpay's envelope; contains lists the payload's entities, refund first.
func (s *Server) webhook(event string, payload map[string]any) []byte {
	var contains []string
	for _, k := range []string{"refund", "payment", "order"} {
		if _, ok := payload[k]; ok {
			contains = append(contains, k)
		}
	}
	return mustJSON(struct {
		Entity    string         `json:"entity"`
		AccountID string         `json:"account_id"`
		Event     string         `json:"event"`
		Contains  []string       `json:"contains"`
		Payload   map[string]any `json:"payload"`
		CreatedAt int64          `json:"created_at"`
	}{"event", s.accountID, event, contains, payload, time.Now().Unix()})
}

func (s *Server) newPayment(o *order, method string) *payment {
	p := &payment{
		id: "pay_" + randomID(), orderID: o.id, amount: o.amount, currency: o.currency, method: method,
		email: "gaurav.kumar@example.com", contact: "+919000090000", notes: maps.Clone(o.notes), createdAt: time.Now().Unix(),
	}
	s.payments[p.id] = p
	o.attempts++
	return p
}

// serve records the request, answers it (or a queued fault) under the lock, then waits out the
// delay without the lock, so a slow answer does not hold back other requests.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body})
	delay := s.delay
	var a answer
	if s.faults > 0 {
		s.faults--
		a = answer{status: s.faultStatus, body: []byte(s.faultBody)}
	} else {
		a = s.route(r, body)
	}
	s.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done(): // the client gave up; the request stays applied
		}
		t.Stop()
	}
	if a.done != nil {
		s.mu.Lock()
		a.done()
		s.mu.Unlock()
	}
	if json.Valid(a.body) {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

type answer struct {
	status int
	body   []byte
	done   func() // run under the lock once the answer is about to be written
}

func ok(v any) answer { return answer{status: http.StatusOK, body: mustJSON(v)} }

// apiError is Razorpay's error envelope. field is omitted when empty, as Razorpay does.
type apiError struct {
	status      int
	code        string
	description string
	source      string
	step        string
	reason      string
	field       string
}

func (e apiError) answer() answer {
	inner := map[string]any{
		"code": e.code, "description": e.description, "source": e.source, "step": e.step,
		"reason": e.reason, "metadata": map[string]any{},
	}
	if e.field != "" {
		inner["field"] = e.field
	}
	return answer{status: e.status, body: mustJSON(map[string]any{"error": inner})}
}

// badRequest is a 400 input validation failure on field.
func badRequest(field, format string, args ...any) answer {
	return apiError{status: http.StatusBadRequest, code: "BAD_REQUEST_ERROR", description: fmt.Sprintf(format, args...),
		source: "business", step: "payment_initiation", reason: "input_validation_failed", field: field}.answer()
}

func notApplicable(status int, description string) answer {
	return apiError{status: status, code: "BAD_REQUEST_ERROR", description: description, source: "NA", step: "NA", reason: "NA"}.answer()
}

func (s *Server) route(r *http.Request, body []byte) answer {
	id, secret, hasAuth := r.BasicAuth()
	switch {
	case !hasAuth:
		return notApplicable(http.StatusUnauthorized, "Please provide your api key for authentication purposes.")
	case id != s.keyID || secret != s.keySecret:
		return notApplicable(http.StatusUnauthorized, "The api key/secret provided is invalid")
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(segs) == 2 && segs[0] == "v1" && segs[1] == "orders" && r.Method == http.MethodPost:
		return s.createOrder(r, body)
	case len(segs) == 2 && segs[0] == "v1" && segs[1] == "orders" && r.Method == http.MethodGet:
		return s.listOrders(r.URL.Query())
	case len(segs) == 3 && segs[0] == "v1" && segs[1] == "orders" && r.Method == http.MethodGet:
		return s.fetchOrder(segs[2])
	case len(segs) == 4 && segs[0] == "v1" && segs[1] == "payments" && segs[3] == "refund" && r.Method == http.MethodPost:
		return s.createRefund(r, segs[2], body)
	}
	return notApplicable(http.StatusNotFound, "The requested URL was not found on the server.")
}

// decodeBody checks the content type and reads a JSON object, keeping numbers as written.
func decodeBody(r *http.Request, body []byte) (map[string]any, *answer) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		a := badRequest("", "Content-Type must be application/json")
		return nil, &a
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		a := badRequest("", "The request body is not a valid JSON object")
		return nil, &a
	}
	if _, err := dec.Token(); err != io.EOF {
		a := badRequest("", "The request body is not a valid JSON object")
		return nil, &a
	}
	return m, nil
}

// extraField finds a field the endpoint does not take: Razorpay refuses those.
func extraField(m map[string]any, allowed ...string) *answer {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			a := badRequest(k, "%s is/are not required and should not be sent", k)
			return &a
		}
	}
	return nil
}

// integer reads a JSON integer; Razorpay refuses 100.5, 100.0, 1e2 and "100" alike.
func integer(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	return i, err == nil
}

func checkReceipt(v any) (string, *answer) {
	if v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		a := badRequest("receipt", "The receipt must be a string.")
		return "", &a
	}
	if utf8.RuneCountInString(s) > razorpay.MaxReceiptLength {
		a := badRequest("receipt", "The receipt may not be greater than %d characters.", razorpay.MaxReceiptLength)
		return "", &a
	}
	return s, nil
}

func checkNotes(v any) (map[string]string, *answer) {
	fail := func(format string, args ...any) (map[string]string, *answer) {
		a := badRequest("notes", format, args...)
		return nil, &a
	}
	switch n := v.(type) {
	case nil:
		return nil, nil
	case []any:
		if len(n) == 0 {
			return nil, nil
		}
		return fail("The notes must be an object.")
	case map[string]any:
		if len(n) > razorpay.MaxNotes {
			return fail("Number of fields in notes should be less than or equal to %d", razorpay.MaxNotes)
		}
		out := make(map[string]string, len(n))
		for k, val := range n {
			var s string
			switch x := val.(type) {
			case string:
				s = x
			case json.Number:
				s = x.String()
			case bool:
				s = strconv.FormatBool(x)
			default:
				return fail("The notes value for %s must be a string.", k)
			}
			if utf8.RuneCountInString(k) > razorpay.MaxNoteLength || utf8.RuneCountInString(s) > razorpay.MaxNoteLength {
				return fail("The notes key or value for %s may not be greater than %d characters.", k, razorpay.MaxNoteLength)
			}
			out[k] = s
		}
		return out, nil
	}
	return fail("The notes must be an object.")
}

func (s *Server) createOrder(r *http.Request, body []byte) answer {
	m, fail := decodeBody(r, body)
	if fail != nil {
		return *fail
	}
	if fail := extraField(m, "amount", "currency", "receipt", "notes", "partial_payment"); fail != nil {
		return *fail
	}
	if m["amount"] == nil {
		return badRequest("amount", "The amount field is required.")
	}
	amount, isInt := integer(m["amount"])
	switch {
	case !isInt:
		return badRequest("amount", "The amount must be an integer.")
	case amount < razorpay.MinAmountPaise:
		return badRequest("amount", "The amount must be atleast INR 1.00")
	}
	currency, _ := m["currency"].(string)
	switch {
	case m["currency"] == nil:
		return badRequest("currency", "The currency field is required.")
	case currency != "INR":
		return badRequest("currency", "Currency is not supported")
	}
	receipt, fail := checkReceipt(m["receipt"])
	if fail != nil {
		return *fail
	}
	if _, taken := s.receipts[receipt]; taken && receipt != "" {
		return badRequest("receipt", "Order receipt should be unique.")
	}
	notes, fail := checkNotes(m["notes"])
	if fail != nil {
		return *fail
	}
	o := &order{
		id: "order_" + randomID(), amount: amount, currency: currency, receipt: receipt,
		status: razorpay.OrderCreated, notes: notes, createdAt: time.Now().Unix(),
	}
	s.orders[o.id] = o
	s.orderIDs = append(s.orderIDs, o.id)
	if receipt != "" {
		s.receipts[receipt] = o.id
	}
	return ok(o.json())
}

// listOrders answers GET /v1/orders: newest first, filtered by receipt, count (default 10, at
// most 100) and skip.
func (s *Server) listOrders(q url.Values) answer {
	count, skip := 10, 0
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return badRequest("count", "The count must be between 1 and 100.")
		}
		count = n
	}
	if v := q.Get("skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return badRequest("skip", "The skip must be at least 0.")
		}
		skip = n
	}
	receipt, filter := q.Get("receipt"), q.Has("receipt")
	items := []any{}
	for i := len(s.orderIDs) - 1; i >= 0; i-- {
		o := s.orders[s.orderIDs[i]]
		if filter && o.receipt != receipt {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if len(items) == count {
			break
		}
		items = append(items, o.json())
	}
	return ok(map[string]any{"entity": "collection", "count": len(items), "items": items})
}

func (s *Server) fetchOrder(id string) answer {
	o, found := s.orders[id]
	if !found {
		return badRequest("id", "The id provided does not exist")
	}
	return ok(o.json())
}

func (s *Server) createRefund(r *http.Request, paymentID string, body []byte) answer {
	m, fail := decodeBody(r, body)
	if fail != nil {
		return *fail
	}
	key, hasKey := r.Header.Get(razorpay.HeaderRefundIdempotency), r.Header.Get(razorpay.HeaderRefundIdempotency) != ""
	if hasKey && !validKey(key) {
		return badRequest(razorpay.HeaderRefundIdempotency, "The idempotency key must be 10 to 64 characters of A-Z, a-z, 0-9, _ and -.")
	}
	canonical := paymentID + " " + string(mustJSON(m)) // map keys sorted: equal bodies compare equal
	if hasKey {
		if prev, seen := s.idempotency[key]; seen {
			switch {
			case prev.inFlight:
				return apiError{status: http.StatusConflict, code: "BAD_REQUEST_ERROR",
					description: "A request with the same idempotency key is being processed", source: "NA", step: "NA", reason: "NA",
					field: razorpay.HeaderRefundIdempotency}.answer()
			case prev.request != canonical:
				return badRequest(razorpay.HeaderRefundIdempotency, "The idempotency key was already used with a different request")
			}
			return ok(s.refunds[prev.refundID].json())
		}
	}
	if fail := extraField(m, "amount", "speed", "receipt", "notes"); fail != nil {
		return *fail
	}
	p, found := s.payments[paymentID]
	switch {
	case !found:
		return badRequest("payment_id", "The id provided does not exist")
	case !p.captured:
		return badRequest("payment_id", "The payment has not been captured")
	}
	left := p.amount - p.amountRefunded
	amount := left
	if v, given := m["amount"]; given {
		a, isInt := integer(v)
		switch {
		case !isInt:
			return badRequest("amount", "The amount must be an integer.")
		case a < razorpay.MinAmountPaise:
			return badRequest("amount", "The amount must be atleast INR 1.00")
		}
		amount = a
	}
	switch {
	case left == 0:
		return badRequest("amount", "The payment has been fully refunded already")
	case amount > left:
		return badRequest("amount", "The refund amount provided is greater than amount not refunded on the payment")
	}
	speed := razorpay.SpeedNormal
	if v, given := m["speed"]; given {
		speed, _ = v.(string)
		if speed != razorpay.SpeedNormal && speed != razorpay.SpeedOptimum {
			return badRequest("speed", "The selected speed is invalid.")
		}
	}
	receipt, fail := checkReceipt(m["receipt"])
	if fail != nil {
		return *fail
	}
	notes, fail := checkNotes(m["notes"])
	if fail != nil {
		return *fail
	}
	if s.refundRefusal != "" {
		return apiError{status: http.StatusBadRequest, code: "BAD_REQUEST_ERROR", description: s.refundRefusal,
			source: "business", step: "refund_initiation", reason: "insufficient_balance"}.answer()
	}
	rf := &refund{
		id: "rfnd_" + randomID(), paymentID: p.id, amount: amount, currency: p.currency, receipt: receipt,
		notes: notes, status: razorpay.RefundPending, speedRequested: speed, speedProcessed: razorpay.SpeedNormal,
		createdAt: time.Now().Unix(),
	}
	if speed == razorpay.SpeedOptimum {
		rf.speedProcessed = "instant"
	}
	if s.refundOutcome == razorpay.RefundProcessed {
		s.process(rf)
	}
	s.refunds[rf.id] = rf
	s.refundIDs = append(s.refundIDs, rf.id)
	p.amountRefunded += amount
	a := ok(rf.json())
	if hasKey {
		entry := &idempotent{request: canonical, refundID: rf.id, inFlight: true}
		s.idempotency[key] = entry
		a.done = func() { entry.inFlight = false }
	}
	return a
}

func validKey(k string) bool {
	if len(k) < razorpay.MinIdempotencyKeyLength || len(k) > razorpay.MaxIdempotencyKeyLength {
		return false
	}
	for i := 0; i < len(k); i++ {
		b := k[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// JSON shapes, in Razorpay's field order.

func (o *order) json() any {
	return struct {
		ID         string  `json:"id"`
		Entity     string  `json:"entity"`
		Amount     int64   `json:"amount"`
		AmountPaid int64   `json:"amount_paid"`
		AmountDue  int64   `json:"amount_due"`
		Currency   string  `json:"currency"`
		Receipt    *string `json:"receipt"`
		OfferID    *string `json:"offer_id"`
		Status     string  `json:"status"`
		Attempts   int64   `json:"attempts"`
		Notes      any     `json:"notes"`
		CreatedAt  int64   `json:"created_at"`
	}{o.id, "order", o.amount, o.paid, o.amount - o.paid, o.currency, nullable(o.receipt), nil, o.status, o.attempts, notesJSON(o.notes), o.createdAt}
}

func (p *payment) json() any {
	refundStatus := ""
	status := p.status
	switch {
	case p.amountRefunded > 0 && p.amountRefunded == p.amount:
		refundStatus, status = "full", "refunded"
	case p.amountRefunded > 0:
		refundStatus = "partial"
	}
	var errSource, errStep, errReason string
	if p.errCode != "" {
		errSource, errStep, errReason = "customer", "payment_authorization", "payment_failed"
	}
	return struct {
		ID               string  `json:"id"`
		Entity           string  `json:"entity"`
		Amount           int64   `json:"amount"`
		Currency         string  `json:"currency"`
		Status           string  `json:"status"`
		OrderID          string  `json:"order_id"`
		InvoiceID        *string `json:"invoice_id"`
		International    bool    `json:"international"`
		Method           string  `json:"method"`
		AmountRefunded   int64   `json:"amount_refunded"`
		RefundStatus     *string `json:"refund_status"`
		Captured         bool    `json:"captured"`
		Description      *string `json:"description"`
		Email            string  `json:"email"`
		Contact          string  `json:"contact"`
		Notes            any     `json:"notes"`
		Fee              *int64  `json:"fee"`
		Tax              *int64  `json:"tax"`
		ErrorCode        *string `json:"error_code"`
		ErrorDescription *string `json:"error_description"`
		ErrorSource      *string `json:"error_source"`
		ErrorStep        *string `json:"error_step"`
		ErrorReason      *string `json:"error_reason"`
		AcquirerData     any     `json:"acquirer_data"`
		CreatedAt        int64   `json:"created_at"`
	}{
		p.id, "payment", p.amount, p.currency, status, p.orderID, nil, false, p.method, p.amountRefunded,
		nullable(refundStatus), p.captured, nil, p.email, p.contact, notesJSON(p.notes), nil, nil,
		nullable(p.errCode), nullable(p.errDescription), nullable(errSource), nullable(errStep), nullable(errReason),
		map[string]any{"auth_code": nil}, p.createdAt,
	}
}

func (r *refund) json() any {
	return struct {
		ID             string         `json:"id"`
		Entity         string         `json:"entity"`
		Amount         int64          `json:"amount"`
		Currency       string         `json:"currency"`
		PaymentID      string         `json:"payment_id"`
		Notes          any            `json:"notes"`
		Receipt        *string        `json:"receipt"`
		AcquirerData   map[string]any `json:"acquirer_data"`
		CreatedAt      int64          `json:"created_at"`
		BatchID        *string        `json:"batch_id"`
		Status         string         `json:"status"`
		SpeedProcessed string         `json:"speed_processed"`
		SpeedRequested string         `json:"speed_requested"`
	}{
		r.id, "refund", r.amount, r.currency, r.paymentID, notesJSON(r.notes), nullable(r.receipt),
		map[string]any{"arn": nullable(r.arn)}, r.createdAt, nil, r.status, r.speedProcessed, r.speedRequested,
	}
}

func entity(v any) map[string]any { return map[string]any{"entity": v} }

// notesJSON is how Razorpay writes notes: an empty set as [].
func notesJSON(n map[string]string) any {
	if len(n) == 0 {
		return []any{}
	}
	return n
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("razorpaytest: encode: %v", err)) // only our own shapes are encoded
	}
	return b
}

// randomID is 14 base62 characters, the length of Razorpay's ids after the prefix.
func randomID() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 14)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}
