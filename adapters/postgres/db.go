// Package postgres is the PostgreSQL side of the service: the event store with its transactional
// outbox, the order repository, the schema migrations and the read models.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Querier is what a pool, a connection and a transaction have in common.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// DB is the connection pool plus the unit of work: InTx puts a transaction in the context, and every
// adapter method called with that context joins it.
type DB struct {
	Pool *pgxpool.Pool
	// Commits, when set, wakes the readers of the store after each commit that appended events.
	Commits *CommitNotifier
}

type txKey struct{}

// TxFrom returns the transaction InTx put in ctx.
func TxFrom(ctx context.Context) (pgx.Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	return tx, ok
}

// WithTx returns a context carrying tx, for code that opened its own transaction.
func WithTx(ctx context.Context, tx pgx.Tx) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

// Q returns the transaction in ctx, or the pool when there is none.
func (db *DB) Q(ctx context.Context) Querier {
	if tx, ok := TxFrom(ctx); ok {
		return tx
	}
	return db.Pool
}

// InTx runs fn in a transaction and commits when fn returns nil. When ctx already carries a
// transaction, fn runs in a savepoint of it: its writes commit with the outer transaction, and a
// failure undoes them without spoiling the outer one.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	_, nested := TxFrom(ctx)
	err := db.inTx(ctx, func(ctx context.Context) (pgx.Tx, error) {
		if outer, ok := TxFrom(ctx); ok {
			return outer.Begin(ctx)
		}
		return db.Pool.Begin(ctx)
	}, fn)
	if err == nil && !nested {
		// A command's transaction: it may have appended events. (A projection's step, which also
		// commits through inTx, tells the readers itself, and only when it applied events.)
		db.Commits.Committed()
	}
	return err
}

func (db *DB) inTx(ctx context.Context, begin func(context.Context) (pgx.Tx, error), fn func(ctx context.Context) error) (err error) {
	tx, err := begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			// The context may be cancelled already; the rollback must still reach the server.
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(WithTx(ctx, tx)); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// InRedoableTx is InTx for work that is redone from its source when it is lost: its commit does not
// wait for the WAL to reach the disk (synchronous_commit off). A crash of the database server may
// lose the last such commits, never part of one and never one that a later ordinary commit depends
// on, because an ordinary commit flushes all the WAL before its own. Read models moving with their
// checkpoint qualify; anything a customer or a provider has seen does not.
func (db *DB) InRedoableTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.inRedoableTx(ctx, "", fn)
}

// inRedoableTx is InRedoableTx with settings (SQL statements) sent with the BEGIN, in its round trip.
// A transaction already in ctx is joined without them.
func (db *DB) inRedoableTx(ctx context.Context, settings string, fn func(ctx context.Context) error) error {
	if _, ok := TxFrom(ctx); ok {
		return db.InTx(ctx, fn)
	}
	begin := RedoableBegin("begin")
	if settings != "" {
		begin += "; " + settings
	}
	return db.inTx(ctx, func(ctx context.Context) (pgx.Tx, error) {
		return db.Pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: begin})
	}, fn)
}

// RedoableBegin appends to a BEGIN statement the setting that lets its transaction commit without
// waiting for the WAL flush; see InRedoableTx. Sent as one simple query, it costs no round trip.
func RedoableBegin(begin string) string { return begin + "; SET LOCAL synchronous_commit = off" }

// PoolOptions tune the pool; zero values keep pgx's defaults.
type PoolOptions struct {
	MaxConns int32
	// ApplicationName is the connections' application_name (what pg_stat_activity shows), unless
	// the URL sets one.
	ApplicationName string
}

// DefaultConnectTimeout bounds each new connection when DATABASE_URL sets no connect_timeout: without
// it a server that takes the connection but never answers (a host half down, a stuck proxy) holds a
// request, or the start-up, for as long as the caller waits, and the error would not say why.
const DefaultConnectTimeout = 10 * time.Second

// Connect opens a pool on url and checks that the server answers.
func Connect(ctx context.Context, databaseURL string, opts PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.ApplicationName != "" && cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = opts.ApplicationName
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool on %s: %w", Redact(databaseURL), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", Redact(databaseURL), err)
	}
	return pool, nil
}

// EnsureDatabase creates the database named in databaseURL when it does not exist yet, connecting to
// the server's postgres database to do so. It reports whether it created one.
func EnsureDatabase(ctx context.Context, databaseURL string) (bool, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return false, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	name := cfg.Database
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return false, conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name: no such database
		return false, fmt.Errorf("connect to %s: %w", Redact(databaseURL), err)
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err = pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return false, fmt.Errorf("connect to the postgres database to create %q: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	if err != nil && !isCode(err, "42P04") { // duplicate_database: another process was quicker
		return false, fmt.Errorf("create database %q: %w", name, err)
	}
	return err == nil, nil
}

// Redact hides the passwords in a database URL, for logs and errors: the user's, and those libpq and
// pgx also take as query parameters (password, sslpassword).
func Redact(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Scheme == "" { // not a URL: a key=value string ("host=… password=…") or garbage
		if strings.Contains(databaseURL, "password") {
			return "(database URL with a password)"
		}
		return databaseURL
	}
	if q := u.Query(); q.Has("password") || q.Has("sslpassword") {
		for _, k := range []string{"password", "sslpassword"} {
			if q.Has(k) {
				q.Set(k, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

func isConstraint(err error, name string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == name
}

// where collects the conditions and arguments of a filtered query; "?" in a condition stands for the
// argument added with it.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(w.args))))
}

// addIf adds cond when arg is not the zero value of its type.
func (w *where) addIf(cond string, arg any) {
	switch v := arg.(type) {
	case string:
		if v == "" {
			return
		}
	case time.Time:
		if v.IsZero() {
			return
		}
	case uuid.UUID:
		if v == uuid.Nil {
			return
		}
	}
	w.add(cond, arg)
}

// sql returns " WHERE …" (or "") and appends more args, whose placeholders follow the conditions'.
func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// next is the placeholder of the next argument.
func (w *where) next(arg any) string {
	w.args = append(w.args, arg)
	return "$" + strconv.Itoa(len(w.args))
}
