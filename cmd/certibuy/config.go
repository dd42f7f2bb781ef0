package main

import (
	"fmt"

	"github.com/certibuy/orders/adapters/razorpay"
	httpport "github.com/certibuy/orders/ports/http"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the service's settings, read from the environment (see .env.example).
type Config struct {
	DatabaseURL   string
	DBMaxConns    int
	HTTPAddr      string
	PublicBaseURL string
	LogLevel      slog.Level
	LogFormat     string // json or text

	// Router settings.
	HandlerTimeout time.Duration
	PollInterval   time.Duration
	RetryMax       int
	RetryInitial   time.Duration
	RetryMaxDelay  time.Duration

	ShutdownTimeout time.Duration

	// Payments: "razorpay" or "simulator".
	PaymentGateway string
	Razorpay       razorpay.Config

	CheckoutLimit, LoginLimit httpport.RateLimit
}

// DefaultDatabaseURL is the local database used when DATABASE_URL is not set.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/certibuy?sslmode=disable"

// LoadConfig reads the settings from getenv, with the local defaults of DESIGN.md §6.
func LoadConfig(getenv func(string) string, stderr io.Writer) (Config, error) {
	c := Config{
		DatabaseURL:     or(getenv("DATABASE_URL"), DefaultDatabaseURL),
		HTTPAddr:        or(getenv("HTTP_ADDR"), ":8080"),
		PublicBaseURL:   strings.TrimRight(or(getenv("PUBLIC_BASE_URL"), "http://localhost:8080"), "/"),
		HandlerTimeout:  30 * time.Second,
		ShutdownTimeout: 30 * time.Second,
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
	if c.PollInterval, err = duration(getenv, "EVENTS_POLL_INTERVAL", 50*time.Millisecond); err != nil {
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
	c.Razorpay = razorpay.Config{KeyID: getenv("RAZORPAY_KEY_ID"), KeySecret: getenv("RAZORPAY_KEY_SECRET"),
		WebhookSecret: getenv("RAZORPAY_WEBHOOK_SECRET"), BaseURL: getenv("RAZORPAY_BASE_URL")}
	c.PaymentGateway = getenv("PAYMENT_GATEWAY")
	switch c.PaymentGateway {
	case "":
		c.PaymentGateway = "simulator"
		if c.Razorpay.KeyID != "" && c.Razorpay.KeySecret != "" {
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
	return c, nil
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
