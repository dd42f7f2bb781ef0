package query

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/es"
)

// Person is an event's actor as a person reads it: an admin's name (with their e-mail), "customer",
// "Razorpay", "system".
type Person struct {
	Actor string `json:"actor"` // as stored: admin:<id>, customer:guest, gateway:razorpay, system
	Name  string `json:"name"`
	// Email is an admin's address, shown on hover.
	Email string `json:"email,omitempty"`
	// Kind is admin, customer, gateway, system, or unknown for an actor of no known shape.
	Kind string `json:"kind"`
}

// AdminName is an admin user as the console names them.
type AdminName struct {
	Name, Email string
}

// AdminDirectory finds admins by id, disabled ones included (they did what they did).
type AdminDirectory interface {
	AdminNames(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]AdminName, error)
}

// PeopleHandler names the actors of events.
type PeopleHandler struct {
	admins AdminDirectory
}

// NewPeopleHandler wires the handler.
func NewPeopleHandler(admins AdminDirectory) PeopleHandler { return PeopleHandler{admins: admins} }

// Handle names each actor, looking the admins among them up at once.
func (h PeopleHandler) Handle(ctx context.Context, actors []string) (map[string]Person, error) {
	out := make(map[string]Person, len(actors))
	var ids []uuid.UUID
	for _, a := range actors {
		if _, done := out[a]; done {
			continue
		}
		p := PersonOf(a)
		if p.Kind == "admin" {
			if id, err := uuid.Parse(strings.TrimPrefix(a, "admin:")); err == nil {
				ids = append(ids, id)
			}
		}
		out[a] = p
	}
	if len(ids) == 0 || h.admins == nil {
		return out, nil
	}
	names, err := h.admins.AdminNames(ctx, ids)
	if err != nil {
		return nil, err
	}
	for a, p := range out {
		if p.Kind != "admin" {
			continue
		}
		if id, err := uuid.Parse(strings.TrimPrefix(a, "admin:")); err == nil {
			if n, ok := names[id]; ok {
				p.Name, p.Email = n.Name, n.Email
				out[a] = p
			}
		}
	}
	return out, nil
}

// PersonOf names an actor without looking anything up: an admin is "an admin" until found.
func PersonOf(actor string) Person {
	p := Person{Actor: actor, Name: actor, Kind: "unknown"}
	if actor == string(es.System) {
		p.Name, p.Kind = "system", "system"
		return p
	}
	kind, id, _ := strings.Cut(actor, ":")
	switch kind {
	case "admin":
		p.Name, p.Kind = "an admin no longer known", "admin"
	case "customer":
		p.Name, p.Kind = "customer", "customer"
	case "gateway":
		p.Kind = "gateway"
		switch id {
		case "razorpay":
			p.Name = "Razorpay"
		default:
			p.Name = id
		}
	}
	return p
}
