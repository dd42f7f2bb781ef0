package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certibuy/orders/adapters/postgres"
)

// Headers of every published event. Nats-Msg-Id is the event id too: JetStream drops a repeat of an
// id inside the stream's duplicate window.
const (
	HeaderEventType     = "Certibuy-Event-Type" // the current type, version included: order.shipped.v2
	HeaderEventID       = "Certibuy-Event-Id"
	HeaderStreamID      = "Certibuy-Stream-Id" // order-<order id>, notification-<order event id>-<channel>
	HeaderStreamVersion = "Certibuy-Stream-Version"
	HeaderCorrelationID = "Certibuy-Correlation-Id"
	HeaderCausationID   = "Certibuy-Causation-Id"
	HeaderOccurredAt    = "Certibuy-Occurred-At" // RFC 3339, UTC
	// The event's place in the store's commit order; the forwarder reads the last one back after a
	// restart, so that it does not depend on the duplicate window alone.
	HeaderTxID     = "Certibuy-Tx-Id"
	HeaderPosition = "Certibuy-Position"
)

// DefaultDuplicates is the stream's duplicate window: longer than any wait between a publish and
// its repeat while the forwarder keeps running (its backoff stops at 30s, a publish times out in
// 5s). A repeat after a restart is caught by reading the stream's last event instead (Published).
const DefaultDuplicates = 5 * time.Minute

// Config says where events go.
type Config struct {
	URL           string
	Stream        string // the JetStream stream, created or updated at start
	SubjectPrefix string // subjects are <prefix>.<category>.<type>
	// Duplicates is the stream's duplicate window; zero means DefaultDuplicates.
	Duplicates time.Duration
	Logger     *slog.Logger
}

// Forwarder publishes events to a JetStream stream through Watermill's NATS publisher. It
// connects on first use and again after a failure, so that a NATS server that is away when the
// service starts delays nothing but the events.
type Forwarder struct {
	cfg      Config
	contract map[string]Fields

	mu     sync.Mutex
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	pub    *wmnats.Publisher
}

// NewForwarder returns a forwarder for cfg; it connects when first used.
func NewForwarder(cfg Config) *Forwarder {
	if cfg.Duplicates == 0 {
		cfg.Duplicates = DefaultDuplicates
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Forwarder{cfg: cfg, contract: Contract()}
}

// StreamConfig is the stream the forwarder creates or updates: file storage, every subject under the
// prefix, the duplicate window.
func StreamConfig(cfg Config) jetstream.StreamConfig {
	d := cfg.Duplicates
	if d == 0 {
		d = DefaultDuplicates
	}
	return jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "CertiBuy order and notification events (docs/EVENTS.md)",
		Subjects:    []string{cfg.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Duplicates:  d,
	}
}

// EnsureStream creates the stream, or updates its subjects and duplicate window, keeping the limits
// (max age, max bytes, replicas) an operator set on it.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, error) {
	want := StreamConfig(cfg)
	s, err := js.Stream(ctx, cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if s, err = js.CreateStream(ctx, want); err != nil {
			return nil, fmt.Errorf("create stream %s: %w", cfg.Stream, err)
		}
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", cfg.Stream, err)
	}
	have := s.CachedInfo().Config
	have.Subjects, have.Duplicates, have.Description = want.Subjects, want.Duplicates, want.Description
	if s, err = js.UpdateStream(ctx, have); err != nil {
		return nil, fmt.Errorf("update stream %s: %w", cfg.Stream, err)
	}
	return s, nil
}

// Connect opens a connection that keeps reconnecting, and fails fast while it is away (no buffering).
func Connect(url, name string) (*nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.Timeout(3*time.Second), nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second), nats.ReconnectBufSize(-1))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", Redact(url), err)
	}
	return nc, nil
}

func (f *Forwarder) connect(ctx context.Context) error {
	if f.nc != nil && !f.nc.IsClosed() {
		return nil
	}
	nc, err := Connect(f.cfg.URL, "certibuy-forwarder")
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return fmt.Errorf("jetstream: %w", err)
	}
	stream, err := EnsureStream(ctx, js, f.cfg)
	if err != nil {
		nc.Close()
		return err
	}
	pub, err := wmnats.NewPublisherWithNatsConn(nc, wmnats.PublisherPublishConfig{
		Marshaler:         &wmnats.NATSMarshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream: wmnats.JetStreamConfig{
			TrackMsgId:     true, // Nats-Msg-Id = the Watermill UUID = the event id
			ConnectOptions: []nats.JSOpt{nats.MaxWait(5 * time.Second)},
		},
	}, watermill.NewSlogLogger(f.cfg.Logger))
	if err != nil {
		nc.Close()
		return fmt.Errorf("watermill NATS publisher: %w", err)
	}
	f.nc, f.js, f.stream, f.pub = nc, js, stream, pub
	f.cfg.Logger.InfoContext(ctx, "forwarding events to JetStream", "url", Redact(f.cfg.URL), "stream", f.cfg.Stream,
		"subjects", f.cfg.SubjectPrefix+".>")
	return nil
}

// drop forgets the connection after a failure, so that the next call connects and sets up again.
func (f *Forwarder) drop() {
	if f.nc != nil {
		f.nc.Close()
	}
	f.nc, f.js, f.stream, f.pub = nil, nil, nil, nil
}

// Message builds the Watermill message of an event, and its subject.
func (f *Forwarder) Message(e postgres.RecordedEvent) (string, *message.Message, error) {
	pub, err := PublicEvent(f.contract, e.Type, e.Data)
	if err != nil {
		return "", nil, err
	}
	msg := message.NewMessage(e.EventID.String(), message.Payload(pub.Body))
	msg.Metadata.Set(HeaderEventType, pub.Type)
	msg.Metadata.Set(HeaderEventID, e.EventID.String())
	msg.Metadata.Set(HeaderStreamID, headerValue(e.StreamID))
	msg.Metadata.Set(HeaderStreamVersion, strconv.Itoa(e.StreamVersion))
	// A correlation id may come from a client's X-Request-Id.
	msg.Metadata.Set(HeaderCorrelationID, headerValue(e.Metadata.CorrelationID))
	if e.Metadata.CausationID != "" {
		msg.Metadata.Set(HeaderCausationID, headerValue(e.Metadata.CausationID))
	}
	at := e.Metadata.OccurredAt
	if at.IsZero() {
		at = e.RecordedAt
	}
	msg.Metadata.Set(HeaderOccurredAt, at.UTC().Format(time.RFC3339Nano))
	msg.Metadata.Set(HeaderTxID, strconv.FormatUint(e.TxID, 10))
	msg.Metadata.Set(HeaderPosition, strconv.FormatInt(e.Position, 10))
	return Subject(f.cfg.SubjectPrefix, e.StreamID, pub.Type), msg, nil
}

// headerValue keeps a header on its line: NATS headers are lines, as HTTP's are.
func headerValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// Publish sends events one after the other, each acknowledged by JetStream before the next, so that
// they are stored in the order of the store.
func (f *Forwarder) Publish(ctx context.Context, events []postgres.RecordedEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.connect(ctx); err != nil {
		return err
	}
	for _, e := range events {
		if err := ctx.Err(); err != nil {
			return err
		}
		subject, msg, err := f.Message(e)
		if err != nil {
			return err
		}
		if err := f.pub.Publish(subject, msg); err != nil {
			f.drop()
			return fmt.Errorf("publish %s to %s: %w", e.EventID, subject, err)
		}
	}
	return nil
}

// Published reads the place in the store of the stream's last event.
func (f *Forwarder) Published(ctx context.Context) (postgres.Checkpoint, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.connect(ctx); err != nil {
		return postgres.Checkpoint{}, false, err
	}
	info, err := f.stream.Info(ctx)
	if err != nil {
		f.drop()
		return postgres.Checkpoint{}, false, fmt.Errorf("stream %s info: %w", f.cfg.Stream, err)
	}
	if info.State.Msgs == 0 {
		return postgres.Checkpoint{}, false, nil
	}
	m, err := f.stream.GetMsg(ctx, info.State.LastSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return postgres.Checkpoint{}, false, nil
	}
	if err != nil {
		f.drop()
		return postgres.Checkpoint{}, false, fmt.Errorf("stream %s last message: %w", f.cfg.Stream, err)
	}
	tx, err1 := strconv.ParseUint(m.Header.Get(HeaderTxID), 10, 64)
	pos, err2 := strconv.ParseInt(m.Header.Get(HeaderPosition), 10, 64)
	if err1 != nil || err2 != nil {
		return postgres.Checkpoint{}, false, nil // not one of ours
	}
	return postgres.Checkpoint{TxID: tx, Position: pos}, true, nil
}

// Close closes the connection.
func (f *Forwarder) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drop()
}

// Redact hides the user and password of a NATS URL (nats://user:pass@host:4222).
func Redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if i := strings.LastIndex(rest, "@"); ok && i >= 0 {
		return scheme + "://***@" + rest[i+1:]
	}
	return url
}
