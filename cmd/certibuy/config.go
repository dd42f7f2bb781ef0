package main

import (
	"fmt"

	"github.com/certibuy/orders/adapters/links"
	"github.com/certibuy/orders/adapters/sms"
	"github.com/certibuy/orders/adapters/templates"
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"

	"github.com/certibuy/orders/adapters/razorpay"
	httpport "github.com/certibuy/orders/ports/http"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the service's settings, read from the environment (see .env.example).
type Config struct {
	DatabaseURL string
	DBMaxConns  int
	HTTPAddr    string
	// MetricsAddr is where /metrics is served, on a listener of its own away from the public API;
	// empty turns it off.
	MetricsAddr   string
	PublicBaseURL string
	LogLevel      slog.Level
	LogFormat     string // json or text

	// Router settings.
	HandlerTimeout time.Duration
	// PollInterval is the safety-net poll of the consumer groups and the projections: a commit that
	// appends events wakes them (LISTEN/NOTIFY), so they poll only in case a wake-up was lost.
	PollInterval time.Duration
	// Recheck is how soon a reader woken for nothing reads again (see postgres.WaitConfig).
	Recheck       time.Duration
	RetryMax      int
	RetryInitial  time.Duration
	RetryMaxDelay time.Duration
	// EventsBatchSize is how many outbox messages one consumer transaction takes.
	EventsBatchSize int

	ShutdownTimeout time.Duration

	// RefundSweep is how often refunds still owed are asked for again, and how long after a
	// cancellation or a refused refund; 0 turns the sweep off.
	RefundSweep time.Duration

	// Payments: "razorpay" or "simulator".
	PaymentGateway string
	Razorpay       razorpay.Config

	CheckoutLimit, LoginLimit httpport.RateLimit
	// CheckoutSecret is CHECKOUT_SECRET: when set, a checkout must be signed with it (the
	// storefront's server signs, since it knows the prices).
	CheckoutSecret string
	// TrustedProxies is TRUSTED_PROXIES: the reverse proxies whose X-Forwarded-For names the client.
	TrustedProxies []*net.IPNet
	// LoginClock is the time failed logins are counted and accounts locked at; nil is time.Now.
	// Tests set it, to see a lock end without waiting for it.
	LoginClock func() time.Time

	// Links say where the links in customers' messages go. Links.Key is left empty here: it is
	// ORDER_LINK_SECRET when set, else a key the database keeps (see OpenDeps).
	Links links.Config
	// OrderLinkSecret is ORDER_LINK_SECRET.
	OrderLinkSecret string
	// LinkClock is the time order links are made and checked at; nil is time.Now. Tests set it, to
	// open a link as a customer would days or months after it was sent.
	LinkClock func() time.Time
	// MaxOrderTotalPaise is the most one order may total; checkout refuses more.
	MaxOrderTotalPaise int64

	Notify NotifyConfig

	// NATS is where events go for other services (empty URL: nowhere).
	NATS NATSConfig
	// NoEvents makes serve answer HTTP only: no routers, projections, sweeps or forwarding
	// (serve --no-events, beside workers that take the events).
	NoEvents bool
	// ProcessName is the database connections' application_name: which command runs, so that doctor
	// can tell whether any process takes the events (see takerNames).
	ProcessName string
}

// NotifyConfig holds the notifier's settings.
type NotifyConfig struct {
	ShopName, SupportEmail string
	// SMSWebhookToken is the secret in the delivery-report URLs; empty refuses reports.
	SMSWebhookToken string
	// RefundExpectation says when a refund reaches the customer, in the cancellation and refund
	// messages and on the order page.
	RefundExpectation string
	// SMTPURL is smtp://user:pass@host:port (or smtps://); empty writes .eml files to MailDir.
	SMTPURL, MailFrom, MailDir string
	// SMSProvider is msg91, fast2sms or log; SMSFallback the other one, or none.
	SMSProvider, SMSFallback string
	MSG91                    sms.MSG91Config
	Fast2SMS                 sms.Fast2SMSConfig
	Policy                   command.RetryPolicy
	// InlineRetry is the longest wait spent inside a delivery handler; longer ones go back to the queue.
	InlineRetry time.Duration
	Concurrency int
	// RequestPartitions splits the request handlers into this many consumer groups, by order.
	RequestPartitions int
	QueuePoll         time.Duration
	Lease             time.Duration
	SendTimeout       time.Duration
}

// DefaultDatabaseURL is the local database used when DATABASE_URL is not set.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/certibuy?sslmode=disable"

// DefaultMetricsAddr is where /metrics listens when METRICS_ADDR is not set: this machine only.
const DefaultMetricsAddr = "127.0.0.1:9090"

// LoadConfig reads the settings from getenv, with the local defaults of .env.example. An empty value
// counts as unset; LoadConfigLookup tells the two apart.
func LoadConfig(getenv func(string) string, stderr io.Writer) (Config, error) {
	return LoadConfigLookup(func(k string) (string, bool) {
		v := getenv(k)
		return v, v != ""
	}, stderr)
}

// LoadConfigLookup reads the settings from lookup (os.LookupEnv in the binary): a setting that is set
// but empty, such as METRICS_ADDR=, is not the same as one left unset.
func LoadConfigLookup(lookup func(string) (string, bool), stderr io.Writer) (Config, error) {
	getenv := func(k string) string {
		v, _ := lookup(k)
		return v
	}
	c := Config{
		DatabaseURL:     or(getenv("DATABASE_URL"), DefaultDatabaseURL),
		HTTPAddr:        or(getenv("HTTP_ADDR"), ":8080"),
		PublicBaseURL:   strings.TrimRight(or(getenv("PUBLIC_BASE_URL"), "http://localhost:8080"), "/"),
		HandlerTimeout:  30 * time.Second,
		ShutdownTimeout: 30 * time.Second,
	}
	c.MetricsAddr = DefaultMetricsAddr
	if v, ok := lookup("METRICS_ADDR"); ok {
		c.MetricsAddr = v
	}
	var err error
	if c.LogLevel, err = parseLevel(getenv("LOG_LEVEL")); err != nil {
		return c, err
	}
	c.LogFormat = getenv("LOG_FORMAT")
	switch c.LogFormat {
	case "json", "text":
	case "":
		c.LogFormat = "json"
		if isTerminal(stderr) {
			c.LogFormat = "text"
		}
	default:
		return c, fmt.Errorf("LOG_FORMAT %q: want json or text", c.LogFormat)
	}
	if c.DBMaxConns, err = integer(getenv, "DB_MAX_CONNS", 20); err != nil {
		return c, err
	}
	if c.PollInterval, err = duration(getenv, "EVENTS_POLL_INTERVAL", 5*time.Second); err != nil {
		return c, err
	}
	if c.Recheck, err = duration(getenv, "EVENTS_RECHECK_INTERVAL", 10*time.Millisecond); err != nil {
		return c, err
	}
	if c.RetryInitial, err = duration(getenv, "EVENTS_RETRY_INITIAL", 200*time.Millisecond); err != nil {
		return c, err
	}
	if c.RetryMaxDelay, err = duration(getenv, "EVENTS_RETRY_MAX_DELAY", 2*time.Second); err != nil {
		return c, err
	}
	if c.RetryMax, err = integer(getenv, "EVENTS_RETRY_MAX", 3); err != nil {
		return c, err
	}
	if c.EventsBatchSize, err = integer(getenv, "EVENTS_BATCH_SIZE", 50); err != nil {
		return c, err
	}
	if c.EventsBatchSize < 1 {
		return c, fmt.Errorf("EVENTS_BATCH_SIZE must be at least 1")
	}
	if v := getenv("REFUND_SWEEP_INTERVAL"); v == "0" {
		c.RefundSweep = 0
	} else if c.RefundSweep, err = duration(getenv, "REFUND_SWEEP_INTERVAL", 5*time.Minute); err != nil {
		return c, err
	}
	c.Razorpay = razorpay.Config{KeyID: getenv("RAZORPAY_KEY_ID"), KeySecret: getenv("RAZORPAY_KEY_SECRET"),
		WebhookSecret: getenv("RAZORPAY_WEBHOOK_SECRET"), BaseURL: getenv("RAZORPAY_BASE_URL")}
	c.PaymentGateway = getenv("PAYMENT_GATEWAY")
	switch c.PaymentGateway {
	case "":
		c.PaymentGateway = "simulator"
		if c.Razorpay.KeyID != "" && c.Razorpay.KeySecret != "" {
			// The keys say Razorpay is meant; without the webhook secret it cannot check webhooks.
			if c.Razorpay.WebhookSecret == "" {
				return c, fmt.Errorf("RAZORPAY_KEY_ID and RAZORPAY_KEY_SECRET are set but RAZORPAY_WEBHOOK_SECRET is not: " +
					"Razorpay needs all three (or set PAYMENT_GATEWAY=simulator)")
			}
			c.PaymentGateway = "razorpay"
		}
	case "simulator":
	case "razorpay":
		if c.Razorpay.KeyID == "" || c.Razorpay.KeySecret == "" || c.Razorpay.WebhookSecret == "" {
			return c, fmt.Errorf("PAYMENT_GATEWAY=razorpay needs RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET and RAZORPAY_WEBHOOK_SECRET")
		}
	default:
		return c, fmt.Errorf("PAYMENT_GATEWAY %q: want razorpay or simulator", c.PaymentGateway)
	}
	var perMin, burst int
	if perMin, err = integer(getenv, "CHECKOUT_RATE_PER_MINUTE", 60); err != nil {
		return c, err
	}
	if burst, err = integer(getenv, "CHECKOUT_BURST", 20); err != nil {
		return c, err
	}
	c.CheckoutLimit = httpport.RateLimit{PerMinute: float64(perMin), Burst: burst}
	if perMin, err = integer(getenv, "LOGIN_RATE_PER_MINUTE", 10); err != nil {
		return c, err
	}
	if burst, err = integer(getenv, "LOGIN_BURST", 5); err != nil {
		return c, err
	}
	c.LoginLimit = httpport.RateLimit{PerMinute: float64(perMin), Burst: burst}
	if c.TrustedProxies, err = httpport.ParseTrustedProxies(getenv("TRUSTED_PROXIES")); err != nil {
		return c, err
	}
	maxTotal, err := integer(getenv, "MAX_ORDER_TOTAL_PAISE", 100_000_000) // ₹10,00,000
	if err != nil {
		return c, err
	}
	if maxTotal < order.MinTotalPaise || maxTotal > order.MaxPaise {
		return c, fmt.Errorf("MAX_ORDER_TOTAL_PAISE %d: want between %d and %d (2^53-1, what a JavaScript client reads exactly)",
			maxTotal, order.MinTotalPaise, int64(order.MaxPaise))
	}
	c.MaxOrderTotalPaise = int64(maxTotal)
	if c.Notify, err = loadNotifyConfig(getenv); err != nil {
		return c, err
	}
	if c.NATS, err = loadNATSConfig(getenv); err != nil {
		return c, err
	}
	c.Links = links.Config{PublicBaseURL: c.PublicBaseURL, StorefrontOrderURL: getenv("STOREFRONT_ORDER_URL"),
		ReviewURL: getenv("REVIEW_URL"), SMSLinkBaseURL: getenv("SMS_LINK_BASE_URL")}
	if c.Links.TTL, err = duration(getenv, "ORDER_LINK_TTL", links.DefaultTTL); err != nil {
		return c, err
	}
	c.CheckoutSecret = getenv("CHECKOUT_SECRET")
	if c.CheckoutSecret != "" && len(c.CheckoutSecret) < 32 {
		return c, fmt.Errorf("CHECKOUT_SECRET: want at least 32 characters (e.g. openssl rand -hex 32): it is all that keeps prices the storefront did not set out")
	}
	c.OrderLinkSecret = getenv("ORDER_LINK_SECRET")
	if c.OrderLinkSecret != "" && len(c.OrderLinkSecret) < links.MinKeyBytes {
		return c, fmt.Errorf("ORDER_LINK_SECRET: want at least %d characters (e.g. openssl rand -hex 32)", links.MinKeyBytes)
	}
	// Checked now with a stand-in key, so that a bad URL stops the service before it opens anything.
	check := c.Links
	check.Key = make([]byte, links.MinKeyBytes)
	if _, err := links.New(check, time.Now); err != nil {
		return c, err
	}
	return c, nil
}

func loadNotifyConfig(getenv func(string) string) (NotifyConfig, error) {
	n := NotifyConfig{
		ShopName:     or(getenv("SHOP_NAME"), "CertiBuy"),
		SupportEmail: or(getenv("SUPPORT_EMAIL"), "support@certibuy.local"),
		SMTPURL:      getenv("SMTP_URL"),
		MailFrom:     or(getenv("MAIL_FROM"), "CertiBuy <orders@certibuy.local>"),
		MailDir:      or(getenv("MAIL_DIR"), "var/mail"),
		MSG91: sms.MSG91Config{AuthKey: getenv("MSG91_AUTHKEY"), BaseURL: getenv("MSG91_BASE_URL"),
			Templates: map[notification.Type]string{}},
		Fast2SMS: sms.Fast2SMSConfig{APIKey: getenv("FAST2SMS_API_KEY"), BaseURL: getenv("FAST2SMS_BASE_URL"),
			Route: or(getenv("FAST2SMS_ROUTE"), "q"), SenderID: getenv("FAST2SMS_SENDER_ID"),
			DLTTemplates: map[notification.Type]string{}},
	}
	// Every SMS begins with the shop's name, and the refund messages say the expectation: both must
	// leave each SMS one GSM-7 part.
	if !templates.IsGSM7(n.ShopName) || templates.SMSWidth(n.ShopName) > templates.MaxSMSShopName {
		return n, fmt.Errorf("SHOP_NAME %q: every SMS begins with it, so at most %d characters of the GSM-7 alphabet (Latin letters, digits, common punctuation)", n.ShopName, templates.MaxSMSShopName)
	}
	n.RefundExpectation = strings.TrimSpace(or(getenv("REFUND_EXPECTATION"), "5–7 working days"))
	if templates.SMSWidth(n.RefundExpectation) > templates.MaxSMSRefundExpectation || strings.ContainsAny(n.RefundExpectation, "\r\n") {
		return n, fmt.Errorf("REFUND_EXPECTATION %q: at most %d characters on one line, so that the refund SMS stay one part", n.RefundExpectation, templates.MaxSMSRefundExpectation)
	}
	for _, t := range notification.Types() {
		if v := getenv("MSG91_TEMPLATE_" + strings.ToUpper(string(t))); v != "" {
			n.MSG91.Templates[t] = v
		}
		if v := getenv("FAST2SMS_DLT_TEMPLATE_" + strings.ToUpper(string(t))); v != "" {
			n.Fast2SMS.DLTTemplates[t] = v
		}
	}
	n.SMSWebhookToken = getenv("SMS_WEBHOOK_TOKEN")
	if n.SMSWebhookToken != "" && len(n.SMSWebhookToken) < 16 {
		return n, fmt.Errorf("SMS_WEBHOOK_TOKEN: want at least 16 characters (e.g. openssl rand -hex 16): it is all that keeps forged reports out")
	}
	n.SMSProvider = getenv("SMS_PROVIDER")
	if n.SMSProvider == "" {
		switch {
		case n.MSG91.AuthKey != "":
			n.SMSProvider = "msg91"
		case n.Fast2SMS.APIKey != "":
			n.SMSProvider = "fast2sms"
		default:
			n.SMSProvider = "log"
		}
	}
	n.SMSFallback = getenv("SMS_FALLBACK")
	if n.SMSFallback == "" {
		n.SMSFallback = "none"
		if n.SMSProvider == "msg91" && n.Fast2SMS.APIKey != "" {
			n.SMSFallback = "fast2sms"
		}
		if n.SMSProvider == "fast2sms" && n.MSG91.AuthKey != "" {
			n.SMSFallback = "msg91"
		}
	}
	for _, p := range []struct{ name, value string }{{"SMS_PROVIDER", n.SMSProvider}, {"SMS_FALLBACK", n.SMSFallback}} {
		switch p.value {
		case "msg91":
			if n.MSG91.AuthKey == "" {
				return n, fmt.Errorf("%s=msg91 needs MSG91_AUTHKEY", p.name)
			}
		case "fast2sms":
			if n.Fast2SMS.APIKey == "" {
				return n, fmt.Errorf("%s=fast2sms needs FAST2SMS_API_KEY", p.name)
			}
		case "log", "none":
			if p.value == "none" && p.name == "SMS_PROVIDER" {
				return n, fmt.Errorf("SMS_PROVIDER none: want msg91, fast2sms or log")
			}
		default:
			return n, fmt.Errorf("%s %q: want msg91, fast2sms, log or none", p.name, p.value)
		}
	}
	var err error
	if n.Policy.MaxAttempts, err = integer(getenv, "NOTIFY_MAX_ATTEMPTS", 3); err != nil {
		return n, err
	}
	if n.Policy.MaxAttempts < 1 {
		return n, fmt.Errorf("NOTIFY_MAX_ATTEMPTS must be at least 1")
	}
	if n.Policy.Backoff, err = duration(getenv, "NOTIFY_BACKOFF", 100*time.Second); err != nil {
		return n, err
	}
	if n.InlineRetry, err = duration(getenv, "NOTIFY_INLINE_RETRY", 2*time.Second); err != nil {
		return n, err
	}
	// 64 in flight keep a 20 ms SMTP server busy at 500 e-mails a second on two busy cores, where
	// 32 lagged behind the requests (certibuy bench).
	if n.Concurrency, err = integer(getenv, "NOTIFY_CONCURRENCY", 64); err != nil {
		return n, err
	}
	if n.RequestPartitions, err = integer(getenv, "NOTIFY_REQUEST_PARTITIONS", 2); err != nil {
		return n, err
	}
	if n.RequestPartitions < 1 || n.RequestPartitions > 64 {
		return n, fmt.Errorf("NOTIFY_REQUEST_PARTITIONS must be between 1 and 64")
	}
	if n.QueuePoll, err = duration(getenv, "NOTIFY_POLL_INTERVAL", 5*time.Second); err != nil {
		return n, err
	}
	if n.SendTimeout, err = duration(getenv, "NOTIFY_SEND_TIMEOUT", 15*time.Second); err != nil {
		return n, err
	}
	// Short, since it is renewed while a send runs: a dead worker's notifications go out again
	// within about this long.
	if n.Lease, err = duration(getenv, "NOTIFY_LEASE", 15*time.Second); err != nil {
		return n, err
	}
	if n.Lease < 3*time.Second {
		return n, fmt.Errorf("NOTIFY_LEASE %s: want at least 3s (it is renewed every third of it)", n.Lease)
	}
	return n, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", s)
	}
	return l, nil
}

func duration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s %q: want a positive duration such as 10s", name, v)
	}
	return d, nil
}

func integer(getenv func(string) string, name string, def int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s %q: want a whole number", name, v)
	}
	return n, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// NewLogger builds the slog logger the settings ask for.
func (c Config) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// envTemplates is the MSG91 template settings as environment variables, for commands run beside a
// running service.
func (c Config) envTemplates() map[string]string {
	out := map[string]string{}
	for t, id := range c.Notify.MSG91.Templates {
		out["MSG91_TEMPLATE_"+strings.ToUpper(string(t))] = id
	}
	return out
}
