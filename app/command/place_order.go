package command

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

// PlaceOrder is a checkout request as the customer sent it.
type PlaceOrder struct {
	IdempotencyKey  string        `json:"-"`
	Customer        CustomerInput `json:"customer"`
	Items           []ItemInput   `json:"items"`
	ShippingAddress AddressInput  `json:"shipping_address"`
}

// CustomerInput is the customer part of a checkout.
type CustomerInput struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// ItemInput is one line of a checkout.
type ItemInput struct {
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int64  `json:"quantity"`
	UnitPricePaise int64  `json:"unit_price_paise"`
}

// AddressInput is the shipping address of a checkout.
type AddressInput struct {
	Name    string `json:"name,omitempty"`
	Line1   string `json:"line1"`
	Line2   string `json:"line2,omitempty"`
	City    string `json:"city"`
	State   string `json:"state"`
	Pincode string `json:"pincode"`
}

// PlaceOrderResult is what checkout answers. AccessToken is shown once: only its hash is stored.
type PlaceOrderResult struct {
	OrderID     uuid.UUID `json:"order_id"`
	OrderNumber string    `json:"order_number"`
	Status      string    `json:"status"`
	TotalPaise  int64     `json:"total_paise"`
	Total       string    `json:"total"`
	Currency    string    `json:"currency"`
	// Payment and AccessToken are left out of a replay once the order no longer awaits payment.
	Payment     *PaymentInfo `json:"payment,omitempty"`
	AccessToken string       `json:"access_token,omitempty"`
	// Replayed is true when this answers an earlier request with the same key.
	Replayed bool `json:"-"`
}

// PaymentInfo is what the browser needs to open the gateway's checkout.
type PaymentInfo struct {
	Gateway        string `json:"gateway"`
	KeyID          string `json:"key_id"`
	GatewayOrderID string `json:"gateway_order_id"`
	AmountPaise    int64  `json:"amount"`
	Currency       string `json:"currency"`
	// Simulated is true with the development gateway: no money moves.
	Simulated bool `json:"simulated,omitempty"`
	// PayURL is the development gateway's payment page.
	PayURL string `json:"pay_url,omitempty"`
}

// ErrIdempotencyKeyReused is returned when a key comes back with a different request.
var ErrIdempotencyKeyReused = errors.New("this Idempotency-Key was used with a different request")

const checkoutScope = "checkout"

// PlaceOrderHandler places orders.
type PlaceOrderHandler struct {
	repo    order.Repository
	tx      TxRunner
	idem    IdempotencyStore
	tokens  AccessTokens
	gateway PaymentGateway
	rand    io.Reader
	// maxTotal is the most one order may be; zero leaves only the domain's bound.
	maxTotal order.Money
}

// WithMaxTotal caps what one order may total (MAX_ORDER_TOTAL_PAISE).
func (h PlaceOrderHandler) WithMaxTotal(m order.Money) PlaceOrderHandler {
	h.maxTotal = m
	return h
}

// NewPlaceOrderHandler wires the handler; random draws order numbers (crypto/rand.Reader).
func NewPlaceOrderHandler(repo order.Repository, tx TxRunner, idem IdempotencyStore, tokens AccessTokens, gateway PaymentGateway, random io.Reader) PlaceOrderHandler {
	return PlaceOrderHandler{repo: repo, tx: tx, idem: idem, tokens: tokens, gateway: gateway, rand: random}
}

// ErrGatewayUnavailable is returned when the payment gateway could not create the order to pay.
var ErrGatewayUnavailable = errors.New("the payment gateway is not answering; try again shortly")

// errReplay rolls back a checkout whose key turned out to be taken, carrying the first answer out.
type errReplay struct{ stored *StoredResponse }

func (e errReplay) Error() string { return "idempotency key already used" }

// Handle validates the request, asks the gateway for an order to pay, then stores OrderPlaced and
// PaymentRequested and, with an idempotency key, the answer, all in one transaction: a repeated
// request gets the same answer and no second order. The gateway is asked first, outside any database
// transaction; if the transaction then fails, the gateway order is left unpaid and expires.
//
// The access token is stored only hashed, so a replayed answer cannot repeat it: while the order
// awaits payment it carries a fresh token for the same order instead (replay).
func (h PlaceOrderHandler) Handle(ctx context.Context, cmd PlaceOrder) (PlaceOrderResult, error) {
	in, err := cmd.toDomain()
	if err != nil {
		return PlaceOrderResult{}, err
	}
	hash := cmd.hash()
	if cmd.IdempotencyKey != "" {
		stored, err := h.idem.Get(ctx, checkoutScope, cmd.IdempotencyKey)
		if err != nil {
			return PlaceOrderResult{}, fmt.Errorf("place order: %w", err)
		}
		if stored != nil {
			return h.replay(ctx, stored, hash)
		}
	}
	in.ID = es.NewID()
	in.MaxTotal = h.maxTotal
	for attempt := 0; ; attempt++ {
		if in.Number, err = order.NewNumber(h.rand); err != nil {
			return PlaceOrderResult{}, fmt.Errorf("place order: %w", err)
		}
		// Place checks every rule before anything is stored or asked of the gateway.
		o, err := order.Place(in)
		if err != nil {
			return PlaceOrderResult{}, err
		}
		gwOrder, err := h.gateway.CreateOrder(ctx, o.Number().String(), o.Total().Paise(), map[string]string{"order_id": o.ID().String()})
		if err != nil {
			return PlaceOrderResult{}, fmt.Errorf("%w: %w", ErrGatewayUnavailable, err)
		}
		if err := o.RequestPayment(h.gateway.Name(), gwOrder.ID); err != nil {
			return PlaceOrderResult{}, err
		}
		var res PlaceOrderResult
		err = h.tx.InTx(ctx, func(ctx context.Context) error {
			if err := h.repo.Create(ctx, o); err != nil {
				return err
			}
			res = PlaceOrderResult{OrderID: o.ID(), OrderNumber: o.Number().String(), Status: string(o.Status()),
				TotalPaise: o.Total().Paise(), Total: o.Total().String(), Currency: order.Currency,
				Payment: &PaymentInfo{Gateway: h.gateway.Name(), KeyID: h.gateway.KeyID(), GatewayOrderID: gwOrder.ID,
					AmountPaise: o.Total().Paise(), Currency: order.Currency, Simulated: h.gateway.Name() == SimulatorGateway}}
			if cmd.IdempotencyKey != "" {
				body, err := json.Marshal(res)
				if err != nil {
					return fmt.Errorf("encode response: %w", err)
				}
				stored, err := h.idem.Save(ctx, checkoutScope, cmd.IdempotencyKey,
					StoredResponse{RequestHash: hash, StatusCode: http.StatusCreated, Body: body})
				if err != nil {
					return err
				}
				if stored != nil {
					return errReplay{stored}
				}
			}
			res.AccessToken, err = h.tokens.Issue(ctx, o.ID())
			return err
		})
		var r errReplay
		switch {
		case err == nil:
			return res, nil
		case errors.As(err, &r):
			return h.replay(ctx, r.stored, hash)
		case errors.Is(err, order.ErrNumberTaken) && attempt < 3:
			continue // draw another number
		}
		return PlaceOrderResult{}, fmt.Errorf("place order: %w", err)
	}
}

func (h PlaceOrderHandler) replay(ctx context.Context, stored *StoredResponse, hash []byte) (PlaceOrderResult, error) {
	if string(stored.RequestHash) != string(hash) {
		return PlaceOrderResult{}, ErrIdempotencyKeyReused
	}
	var res PlaceOrderResult
	if err := json.Unmarshal(stored.Body, &res); err != nil {
		return PlaceOrderResult{}, fmt.Errorf("decode stored checkout response: %w", err)
	}
	res.Replayed = true
	o, err := h.repo.Get(ctx, res.OrderID)
	if err != nil {
		return PlaceOrderResult{}, fmt.Errorf("replay checkout: %w", err)
	}
	res.Status = string(o.Status())
	if o.Status() != order.StatusPlaced {
		// Paid, cancelled or further on: there is nothing to pay (a second payment would only be
		// refunded), and the customer's e-mails carry the order's link. A fresh token now would let
		// anyone who repeats the request, key and body, into the order for good.
		res.Payment = nil
		return res, nil
	}
	token, err := h.tokens.Issue(ctx, res.OrderID)
	if err != nil {
		return PlaceOrderResult{}, fmt.Errorf("replay checkout: %w", err)
	}
	res.AccessToken = token
	return res, nil
}

func (cmd PlaceOrder) hash() []byte {
	b, _ := json.Marshal(cmd) // plain structs of strings and ints: cannot fail
	sum := sha256.Sum256(b)
	return sum[:]
}

// toDomain turns the raw request into value objects, naming the field of the first bad value.
func (cmd PlaceOrder) toDomain() (order.PlaceInput, error) {
	var in order.PlaceInput
	email, err := order.NewEmail(cmd.Customer.Email)
	if err != nil {
		return in, &order.FieldError{Field: "customer.email", Err: err}
	}
	phone, err := order.NewPhone(cmd.Customer.Phone)
	if err != nil {
		return in, &order.FieldError{Field: "customer.phone", Err: err}
	}
	in.Customer = order.Customer{ID: cmd.Customer.ID, Name: cmd.Customer.Name, Email: email, Phone: phone}
	for i, it := range cmd.Items {
		price, err := order.NewMoney(it.UnitPricePaise)
		if err != nil {
			return in, &order.FieldError{Field: fmt.Sprintf("items[%d].unit_price_paise", i), Err: err}
		}
		in.Lines = append(in.Lines, order.Line{SKU: it.SKU, Name: it.Name, Quantity: it.Quantity, UnitPrice: price})
	}
	a := cmd.ShippingAddress
	in.Address = order.Address{Name: a.Name, Line1: a.Line1, Line2: a.Line2, City: a.City, State: a.State, Pincode: a.Pincode}
	return in, nil
}
