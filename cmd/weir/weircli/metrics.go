package weircli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/weir-dev/weir/metrics"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// serveMetrics serves Prometheus metrics at http://addr/metrics when addr
// is set. It returns the metrics (nil without addr; their Observe chains
// into a worker's OnEvent, their ObserveTicks is a daemon's OnFired) and
// stop, which shuts the listener down.
func (a *app) serveMetrics(addr string, st store.Store) (m *metrics.Metrics, stop func(), err error) {
	if addr == "" {
		return nil, func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		var addrErr *net.AddrError
		if errors.As(err, &addrErr) {
			return nil, nil, usageError(fmt.Errorf("--metrics %q: want HOST:PORT, e.g. 127.0.0.1:9300: %v", addr, addrErr.Err))
		}
		return nil, nil, failedError(fmt.Errorf("--metrics %s: %w", addr, err))
	}
	m = metrics.New(st).WithClock(a.cfg.Clock)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	a.logger().Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return m, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// observe is m's task-event hook, or a no-op without metrics.
func observe(m *metrics.Metrics) func(scheduler.Event) {
	if m == nil {
		return func(scheduler.Event) {}
	}
	return m.Observe
}

// instrument is st timed into m's store latency, or st without metrics.
func instrument(m *metrics.Metrics, st store.Store) store.Store {
	if m == nil {
		return st
	}
	return m.Instrument(st)
}
