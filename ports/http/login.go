package http

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// accountLocked says, before a password is compared, whether failed logins have locked the
// account, and then how many seconds are left, which it puts in Retry-After. It answers the same for
// an e-mail no admin has, so a refusal tells a guesser nothing of which accounts exist.
func (s *Server) accountLocked(c echo.Context, email string) (secs int, locked bool) {
	wait := s.opts.Lockout.Locked(email)
	if wait <= 0 {
		return 0, false
	}
	secs = int(math.Ceil(wait.Seconds()))
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	s.logger.InfoContext(c.Request().Context(), "login refused: account locked",
		"account", maskAccount(email), "client", c.RealIP(), "route", c.Path())
	return secs, true
}

// loginFailed logs a wrong e-mail or password and counts it against the account, logging the lock
// it starts, if any. The password is never logged, nor the whole e-mail.
func (s *Server) loginFailed(c echo.Context, email string) {
	ctx, account, client := c.Request().Context(), maskAccount(email), c.RealIP()
	s.logger.WarnContext(ctx, "login failed", "account", account, "client", client, "route", c.Path())
	if d := s.opts.Lockout.Failed(email); d > 0 {
		s.logger.WarnContext(ctx, "login locked: too many failed logins", "account", account, "client", client,
			"locked_for", d.Round(time.Second).String())
	}
}

// maskAccount is an e-mail as the log shows it: the first character of the local part and the
// domain (o**@example.in), cut short when a stranger sends a long one.
func maskAccount(email string) string {
	email = strings.ToLower(strings.TrimSpace(email))
	at := strings.LastIndexByte(email, '@')
	if at <= 0 {
		return "***"
	}
	first, _ := utf8.DecodeRuneInString(email)
	domain := email[at:]
	const maxDomain = 64
	if len(domain) > maxDomain {
		cut := maxDomain
		for cut > 0 && !utf8.RuneStart(domain[cut]) {
			cut--
		}
		domain = domain[:cut] + "…"
	}
	return string(first) + "**" + domain
}
