package http

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"
)

// WaitingForDatabase is what the HTTP listener answers while the service waits for its database at
// start-up, before the Server can be built: a load balancer or probe then sees a process that is
// alive and not ready, rather than a refused connection. /healthz answers 200, /readyz 503
// database_unreachable, as the Server's do; every other request is the 503 database_unavailable
// (with Retry-After) that the Server answers while the database is down, as JSON, or under the
// console and the customer's pages, as a page.
func WaitingForDatabase() http.Handler {
	mux := http.NewServeMux()
	// A GET pattern takes HEAD too; another method on these paths falls to "/".
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", retryAfterUnavailable)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": ReasonDatabaseUnreachable})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", retryAfterUnavailable)
		if isConsoleRoute(r.URL.Path) || isCustomerRoute(r.URL.Path) {
			setCustomerHeaders(w.Header())
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(waitingPage))
			return
		}
		ae := errDatabaseUnavailable()
		writeJSON(w, ae.Status, map[string]*APIError{"error": ae})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every answer carries an X-Request-ID, as the Server's do.
		w.Header().Set(echo.HeaderXRequestID, requestID(r))
		mux.ServeHTTP(w, r)
	})
}

// waitingPage is the console's and the customer's page while the service waits for its database:
// the pages' templates and styles come with the Server, which is not built yet.
const waitingPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Briefly unavailable</title></head>
<body><h1>Our shop's system is briefly unavailable</h1><p>Please try again in a minute or two.</p></body></html>
`

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
