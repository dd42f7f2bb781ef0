package strictjson_test

import (
	"errors"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/certibuy/orders/domain/strictjson"
)

type body struct {
	Customer struct {
		Name string `json:"name"`
	} `json:"customer"`
	Items []struct {
		SKU      string `json:"sku"`
		Quantity int64  `json:"quantity"`
	} `json:"items"`
}

func TestUnmarshalReadsABodyOneWayOnly(t *testing.T) {
	var ok body
	if err := strictjson.Unmarshal([]byte(`{"customer": {"name": "Asha"}, "items": [{"sku": "TEA-1", "quantity": 2}]}`), &ok, true); err != nil ||
		ok.Customer.Name != "Asha" || ok.Items[0].Quantity != 2 {
		t.Fatalf("a plain body: %v %+v", err, ok)
	}
	for _, c := range []struct {
		raw, field string
		is         error
	}{
		{`{"customer": {"name": "Asha"}, "customer": {"name": "Mallory"}}`, "customer", jsontext.ErrDuplicateName},
		{`{"items": [{"sku": "A", "quantity": 1, "sku": "B"}]}`, "items[0].sku", jsontext.ErrDuplicateName},
		{`{"CUSTOMER": {"name": "Asha"}}`, "CUSTOMER", json.ErrUnknownName},
		{`{"customer": {"Name": "Asha"}}`, "customer.Name", json.ErrUnknownName},
		{`{"items": [{"sku": "A\u0000"}]}`, "items[0].sku", strictjson.ErrNUL},
	} {
		var b body
		err := strictjson.Unmarshal([]byte(c.raw), &b, true)
		var syn *jsontext.SyntacticError
		var sem *json.SemanticError
		var nul *strictjson.NULError
		var p jsontext.Pointer
		switch {
		case errors.As(err, &syn):
			p = syn.JSONPointer
		case errors.As(err, &sem):
			p = sem.JSONPointer
		case errors.As(err, &nul):
			p = nul.Pointer
		}
		if !errors.Is(err, c.is) || strictjson.Field(p) != c.field {
			t.Errorf("%s: %v at %q, want %v at %q", c.raw, err, strictjson.Field(p), c.is, c.field)
		}
	}
	// Unknown fields may be allowed (webhooks: Razorpay adds fields), but not a NUL in them.
	var b body
	if err := strictjson.Unmarshal([]byte(`{"extra": 1, "customer": {"name": "Asha", "more": [true]}}`), &b, false); err != nil {
		t.Fatalf("unknown fields allowed: %v", err)
	}
	if err := strictjson.Unmarshal([]byte(`{"extra": {"note": "x\u0000"}}`), &b, false); !errors.Is(err, strictjson.ErrNUL) {
		t.Fatalf("a NUL in an unknown field: %v", err)
	}
	if err := strictjson.Unmarshal([]byte(`{"extra": {"a": 1, "a": 2}}`), &b, false); !errors.Is(err, jsontext.ErrDuplicateName) {
		t.Fatalf("a key twice in an unknown field: %v", err)
	}
}
