// Package strictjson reads JSON from outside one way only. A key given twice in one object is
// refused, and so is a key that matches a field only when case is ignored: a proxy or firewall in
// front may read such a body otherwise than we do (the first value, or another field), and then
// what it checked is not what we act on. The text must be valid UTF-8, and no string may hold
// U+0000, which PostgreSQL cannot store. It sits under domain, which every layer may import, because
// both the HTTP port and the Razorpay adapter read outside JSON with it; it does no I/O of its own.
package strictjson

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// ErrNUL is wrapped by the error of a body with a string that holds U+0000.
var ErrNUL = errors.New("holds the character U+0000")

// NULError names the string that holds U+0000.
type NULError struct {
	Pointer jsontext.Pointer
}

func (e *NULError) Error() string { return fmt.Sprintf("%s %s", Field(e.Pointer), ErrNUL) }
func (e *NULError) Unwrap() error { return ErrNUL }

// Decode reads r to its end and decodes the one JSON value it holds into v (see Unmarshal).
func Decode(r io.Reader, v any, rejectUnknown bool) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read the body: %w", err)
	}
	return Unmarshal(raw, v, rejectUnknown)
}

// Unmarshal decodes the one JSON value of raw into v. Keys match v's field names exactly; a key
// repeated in an object is a *jsontext.SyntacticError wrapping jsontext.ErrDuplicateName, an unknown
// key (when rejectUnknown) a *json.SemanticError wrapping json.ErrUnknownName, and a string holding
// U+0000 a *NULError. Both error types carry a JSON pointer to what is wrong.
func Unmarshal(raw []byte, v any, rejectUnknown bool) error {
	// The defaults of json v2 already; said here, because they are the point.
	opts := []json.Options{jsontext.AllowDuplicateNames(false), jsontext.AllowInvalidUTF8(false),
		json.MatchCaseInsensitiveNames(false), json.RejectUnknownMembers(rejectUnknown)}
	if err := json.Unmarshal(raw, v, opts...); err != nil {
		return err
	}
	return findNUL(raw)
}

// findNUL walks every string of raw, keys and the values of unknown fields included: whatever a
// type's own UnmarshalJSON does with them, none reaches the database.
func findNUL(raw []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.ReadToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err // cannot happen: raw was decoded already
		}
		if tok.Kind() == '"' && strings.IndexByte(tok.String(), 0) >= 0 {
			return &NULError{Pointer: dec.StackPointer()}
		}
	}
}

// Field writes a JSON pointer the way the API names fields: /items/0/quantity is items[0].quantity.
func Field(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

// KindOf says what JSON a Go type is read from, for an error message that names no Go type.
func KindOf(t reflect.Type) string {
	if t == nil {
		return "of another JSON type"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("a whole number that fits in %d bits", t.Bits())
	case reflect.Float32, reflect.Float64:
		return "a JSON number"
	case reflect.String:
		return "a JSON string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Pointer:
		return KindOf(t.Elem())
	}
	return "of another JSON type"
}
