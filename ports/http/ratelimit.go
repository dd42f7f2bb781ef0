package http

import (
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"
)

// RateLimit is a token bucket per client address: PerMinute requests a minute, bursts of Burst.
// A zero PerMinute means no limit.
type RateLimit struct {
	PerMinute float64
	Burst     int
}

func rateLimiter(l RateLimit, logger *slog.Logger) echo.MiddlewareFunc {
	if l.PerMinute <= 0 {
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	retryAfter := strconv.Itoa(int(math.Ceil(60 / l.PerMinute)))
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store: middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: rate.Limit(l.PerMinute / 60), Burst: max(l.Burst, 1), ExpiresIn: 5 * time.Minute,
		}),
		IdentifierExtractor: func(c echo.Context) (string, error) { return c.RealIP(), nil },
		DenyHandler: func(c echo.Context, id string, err error) error {
			logger.WarnContext(c.Request().Context(), "rate limited", "route", c.Path(), "client", id)
			c.Response().Header().Set("Retry-After", retryAfter)
			return apiErr(http.StatusTooManyRequests, "rate_limited", "", "too many requests from your address; try again in %s seconds", retryAfter)
		},
		ErrorHandler: func(c echo.Context, err error) error {
			return apiErr(http.StatusForbidden, "forbidden", "", "cannot tell who is asking")
		},
	})
}
