package http

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// checkParams refuses a request with an unusable X-Request-ID (checkRequestID), or whose path or
// query parameters hold what no parameter may: text that is not UTF-8, or a control character (U+0000 among them, which PostgreSQL cannot store: it
// was a 500). Registered once for every route, after routing (echo's Use), so a route added later
// cannot forget it; the console's forms are checked where they are read (consoleForm).
func (s *Server) checkParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := checkRequestID(c.Request()); err != nil {
			return err
		}
		for _, name := range c.ParamNames() {
			field := name
			if name == "*" {
				field = "path"
			}
			v := c.Param(name)
			why := badText(v)
			if u, err := url.PathUnescape(v); why == "" && err == nil && u != v {
				// Echo routes on the path as sent when its escaping is not Go's own (%ff, not %FF), and
				// then leaves parameters escaped: judge what they stand for too.
				why = badText(u)
			}
			if why != "" {
				return apiErr(http.StatusBadRequest, "invalid_input", field, "%s %s", field, why)
			}
		}
		if err := checkValues(c.QueryParams()); err != nil {
			return err
		}
		return next(c)
	}
}

// checkValues checks the names and values of a query or a posted form, and that each name is given
// once, in name order so that the answer is the same each time.
func checkValues(v url.Values) error {
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if why := badText(name); why != "" {
			field := url.QueryEscape(name)
			return apiErr(http.StatusBadRequest, "invalid_input", field, "the parameter name %s %s", field, why)
		}
		for _, value := range v[name] {
			if why := badText(value); why != "" {
				return apiErr(http.StatusBadRequest, "invalid_input", name, "%s %s", name, why)
			}
		}
		// Readers take the first of a name given twice: refused, like a JSON key given twice, so
		// that what was acted on is never a guess.
		if len(v[name]) > 1 {
			return apiErr(http.StatusBadRequest, "duplicate_key", name, "%s is given %d times; send it once", name, len(v[name]))
		}
	}
	return nil
}

// badText says why a parameter cannot hold s: it is not UTF-8, or it holds a control character.
// It is "" for text a parameter may hold.
func badText(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("holds a control character (U+%04X)", r)
		}
	}
	return ""
}
