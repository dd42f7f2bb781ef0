package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// newBrowser starts a headless Chromium for the test and returns a context to drive it with chromedp.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (apt-get install chromium; .ci/run does it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first action starts the browser; it must not run under a timeout, which would stop it.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// within runs step with a time limit, in the browser of ctx.
func within[T any](t *testing.T, ctx context.Context, d time.Duration, step chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	v, err := chromedp.Run(tctx, step)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

func TestPayingWithTheSimulatorInABrowser(t *testing.T) {
	t.Parallel()
	s := startService(t, nil)
	res := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil).json(t)
	pay := res["payment"].(map[string]any)
	url := pay["pay_url"].(string)

	ctx := newBrowser(t)
	within(t, ctx, 20*time.Second, chromedp.Navigate(url))
	banner := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS("p")))
	button := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS("button")))
	within(t, ctx, 10*time.Second, chromedp.Click(chromedp.CSS("button")))
	// The page posts the signed callback by itself; the customer lands on the order's page, thanked.
	flash := within(t, ctx, 20*time.Second, chromedp.Text(chromedp.CSS("#flash")))
	number := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS("#number")))
	status := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS("#status")))
	if !strings.Contains(banner, "SIMULATED PAYMENT") || !strings.Contains(button, "₹1,299.00") {
		t.Fatalf("pay page: banner %q, button %q", banner, button)
	}
	if number != res["order_number"].(string) || status != "Confirmed" || !strings.Contains(flash, "received your payment") {
		t.Fatalf("after paying: order %q, status %q, %q", number, status, flash)
	}
	// The pay page, opened again (a reload, a second tab), warns that the order takes no payment.
	within(t, ctx, 20*time.Second, chromedp.Navigate(url))
	if warn := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS("#not-payable"))); !strings.Contains(warn, "confirmed") || !strings.Contains(warn, "refunded") {
		t.Fatalf("the pay page of a paid order says %q", warn)
	}
	if n := s.count(t, `SELECT count(*) FROM events WHERE stream_id = 'order-`+res["order_id"].(string)+`' AND type IN ('order.payment_succeeded.v1', 'order.confirmed.v1')`); n != 2 {
		t.Fatalf("%d payment events after paying in the browser", n)
	}
}
