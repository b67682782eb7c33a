package weircli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"gocloud.dev/blob"

	"github.com/weir-dev/weir/api"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/ui"
)

// checkHTTP refuses an --http address that is not loopback without a
// token, before anything starts.
func checkHTTP(addr, token string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageError(fmt.Errorf("--http %q: want HOST:PORT, e.g. 127.0.0.1:8300: %v", addr, err))
	}
	if ip := net.ParseIP(host); token == "" && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usageError(fmt.Errorf("--http %s listens beyond this host: give --token (or WEIR_TOKEN) so that only callers with it change anything", addr))
	}
	return nil
}

// serveAPI serves the web UI and the HTTP API on addr until stop is
// called.
func (a *app) serveAPI(addr, token string, publicRead bool, statusMaxAge time.Duration, st store.Store, bucket *blob.Bucket, g *lineage.Graph) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, failedError(fmt.Errorf("--http %s: %w", addr, err))
	}
	log := a.logger()
	h := ui.Handler((&api.Server{Store: st, Bucket: bucket, Graph: g, Schedules: a.cfg.Schedules, Query: a.cfg.Query, Alerts: a.cfg.Alerts, Sensors: a.cfg.Sensors, Clock: a.cfg.Clock, Logger: log, Token: token, PublicRead: publicRead, StatusMaxAge: statusMaxAge}).Handler())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http api", "error", err)
		}
	}()
	log.Info("serving the web UI and the HTTP API", "url", "http://"+ln.Addr().String()+"/", "api", "http://"+ln.Addr().String()+"/api/v1/",
		"token", token != "", "public_read", publicRead)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
