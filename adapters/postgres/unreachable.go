package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnreachable reports whether err means the database cannot be reached for now (refused, not
// answering, starting up, shutting down, out of connections), as opposed to a mistake that waiting
// does not mend: a bad URL, a refused login, a missing database, a certificate that does not match,
// or any error of a query the server did run.
func IsUnreachable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// The server answered; only its "not now" answers are worth waiting out.
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", // admin_shutdown
			pgErr.Code == "57P02", // crash_shutdown
			pgErr.Code == "57P03", // cannot_connect_now: starting up, or in recovery
			pgErr.Code == "53300": // too_many_connections
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		// No server answered: refused, unknown host (DNS may not be up yet), timed out, or closed
		// before it said anything. Anything else at connect time (a TLS refusal, a certificate that
		// does not match) is a setting, and stays wrong however long one waits.
		var netErr net.Error
		return errors.As(err, &netErr) || pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) ||
			errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	}
	// Nothing was sent to the server yet (pgx says so of, for instance, a connection found closed).
	return pgconn.SafeToRetry(err)
}
