package sms

import (
	"context"
	"fmt"
)

// Fallback sends through a primary provider and, only when the primary certainly did not send
// (NotSent: a rejection, an unreachable provider, a missing template), through a secondary one.
// After an AmbiguousError it stops: the primary may have sent the SMS, and a second provider would
// send it twice.
//
// Retrying after an AmbiguousError must use the provider named in Result.Provider alone (see
// Provider), not the Fallback: should that provider now refuse, the Fallback would move on to the
// other one although the first attempt may have gone through.
type Fallback struct {
	primary, secondary Sender
}

var _ Sender = (*Fallback)(nil)

// NewFallback returns a Sender that tries primary, then secondary. A nil secondary means no
// fallback.
func NewFallback(primary, secondary Sender) *Fallback {
	return &Fallback{primary: primary, secondary: secondary}
}

// Name is "primary>secondary", e.g. "msg91>fast2sms".
func (f *Fallback) Name() string {
	if f.secondary == nil {
		return f.primary.Name()
	}
	return f.primary.Name() + ">" + f.secondary.Name()
}

// Provider returns the provider called name, for retrying after an ambiguous attempt.
func (f *Fallback) Provider(name string) (Sender, bool) {
	for _, s := range []Sender{f.primary, f.secondary} {
		if s != nil && s.Name() == name {
			return s, true
		}
	}
	return nil, false
}

// FallbackError says neither provider sent the SMS. Attempts holds both results, raw responses
// included.
type FallbackError struct {
	Primary, Secondary error
	Attempts           []Result
}

func (e *FallbackError) Error() string {
	return fmt.Sprintf("no provider sent the SMS: %v; then %v", e.Primary, e.Secondary)
}

// Unwrap gives both errors to errors.Is and errors.As.
func (e *FallbackError) Unwrap() []error { return []error{e.Primary, e.Secondary} }

// Send tries the primary, then, if it certainly did not send, the secondary. The result is the last
// provider's, with Attempts listing every provider's.
func (f *Fallback) Send(ctx context.Context, m Message) (Result, error) {
	first, err := f.primary.Send(ctx, m)
	first.Attempts = nil
	if err == nil || f.secondary == nil || !NotSent(err) || ctx.Err() != nil {
		res := first
		res.Attempts = []Result{first}
		return res, err
	}
	second, err2 := f.secondary.Send(ctx, m)
	second.Attempts = nil
	res := second
	res.Attempts = []Result{first, second}
	if err2 == nil {
		return res, nil
	}
	if IsAmbiguous(err2) {
		return res, err2
	}
	return res, &FallbackError{Primary: err, Secondary: err2, Attempts: res.Attempts}
}
