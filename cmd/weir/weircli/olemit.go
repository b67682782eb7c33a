package weircli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/weir-dev/weir/lineage/openlineage"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// namespace is the OpenLineage namespace of the datasets in a blob URL:
// the URL itself, its path made absolute for file:// (a relative one names
// nothing outside this directory), its secrets hidden.
func namespace(blobURL string) string {
	if rest, ok := strings.CutPrefix(blobURL, "file://"); ok && !strings.HasPrefix(rest, "/") {
		path, query, _ := strings.Cut(rest, "?")
		if abs, err := filepath.Abs(path); err == nil {
			blobURL = "file://" + abs
			if query != "" {
				blobURL += "?" + query
			}
		}
	}
	return redactURL(blobURL)
}

// openLineageURL parses --openlineage-url (nil when unset), refusing what
// cannot be sent to before any work is queued.
func (a *app) openLineageURL() (*url.URL, error) {
	if a.openlineage == "" {
		return nil, nil
	}
	u, err := url.Parse(a.openlineage)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") || (u.Scheme == "file" && u.Host+u.Path == "") || (u.Scheme != "file" && u.Host == "") {
		return nil, usageError(fmt.Errorf("--openlineage-url %q: want http(s)://HOST/PATH (POST each event) or file://PATH (newline-delimited JSON)",
			redactURL(a.openlineage)))
	}
	if u.Scheme == "file" {
		// file://events.ndjson is relative, as file://.weir/blobs is.
		u.Path, u.Host = u.Host+u.Path, ""
		if fi, err := os.Stat(filepath.Dir(u.Path)); err != nil || !fi.IsDir() {
			return nil, usageError(fmt.Errorf("--openlineage-url %s: directory %s does not exist", a.openlineage, filepath.Dir(u.Path)))
		}
	}
	return u, nil
}

// lineageEvents returns the hook every worker of this process chains into
// its OnEvent: alert recording (with Config.Alerts) and OpenLineage
// events. It starts sending OpenLineage events as tasks start and end
// when --openlineage-url is set (http(s):// to POST each event, file://PATH
// to append newline-delimited JSON). It returns the hook to chain into a
// worker's OnEvent (it only queues: a slow or dead endpoint never slows a
// task) and stop, which sends what is queued for up to 5 s more.
func (a *app) lineageEvents(ctx context.Context, st store.Store) (hook func(scheduler.Event), stop func(), err error) {
	hook, stop, err = a.openLineageEvents(ctx, st)
	if err != nil {
		return nil, nil, err
	}
	// Tasks that fail for good are recorded as alerts by whichever
	// process runs them; the daemon that leads delivers them.
	if svc := a.alertService(st); svc != nil {
		hook = chain(hook, svc.Observe)
	}
	return hook, stop, nil
}

// openLineageEvents is lineageEvents' OpenLineage part.
func (a *app) openLineageEvents(ctx context.Context, st store.Store) (hook func(scheduler.Event), stop func(), err error) {
	if a.openlineage == "" {
		return func(scheduler.Event) {}, func() {}, nil
	}
	u, err := a.openLineageURL()
	if err != nil {
		return nil, nil, err
	}
	em := &openlineage.Emitter{Store: st, Namespace: namespace(a.blob), Clock: a.cfg.Clock, Logger: a.logger()}
	var closeSink func() error
	if u.Scheme == "file" {
		f, err := os.OpenFile(u.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, nil, usageError(fmt.Errorf("--openlineage-url %s: %w", a.openlineage, err))
		}
		em.Sink, closeSink = &openlineage.WriterSink{W: f}, f.Close
	} else {
		em.Sink = &openlineage.HTTPSink{URL: a.openlineage}
	}
	ectx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); em.Run(ectx, 5*time.Second) }()
	hook = func(ev scheduler.Event) {
		switch ev.Kind {
		case scheduler.EventStarted:
			em.TaskStarted(ev.RunID, ev.TaskID)
		case scheduler.EventSucceeded, scheduler.EventFailed:
			em.TaskEnded(ev.RunID, ev.TaskID)
		}
	}
	stop = func() {
		cancel()
		<-done
		if closeSink != nil {
			closeSink()
		}
		if n := em.Dropped(); n > 0 {
			a.logger().Warn("lineage events dropped (queue full or endpoint down at exit)", "dropped", n, "sent", em.Sent())
		}
	}
	return hook, stop, nil
}

// chain calls first, then then.
func chain(first, then func(scheduler.Event)) func(scheduler.Event) {
	return func(ev scheduler.Event) {
		first(ev)
		if then != nil {
			then(ev)
		}
	}
}
