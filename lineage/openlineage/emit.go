package openlineage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/internal/urlredact"
	"github.com/weir-dev/weir/store"
)

// Sink receives events as they happen.
type Sink interface {
	// Send delivers events; an error means none may have arrived, and
	// they are sent again.
	Send(ctx context.Context, events []RunEvent) error
}

// HTTPSink POSTs each event as JSON to URL (OpenLineage's HTTP transport,
// e.g. Marquez's /api/v1/lineage).
type HTTPSink struct {
	URL string
	// Client defaults to one with a 10 s timeout.
	Client *http.Client
}

// Send posts the events one by one.
func (s *HTTPSink) Send(ctx context.Context, events []RunEvent) error {
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	for _, ev := range events {
		body, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err // it repeats the URL, secrets and all
			}
			return fmt.Errorf("post to %s: %s", urlredact.URL(s.URL), urlredact.Text(err.Error()))
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("post to %s: %s", urlredact.URL(s.URL), resp.Status)
		}
	}
	return nil
}

// WriterSink writes events to W as newline-delimited JSON.
type WriterSink struct {
	mu sync.Mutex
	W  io.Writer
}

// Send writes the events.
func (s *WriterSink) Send(_ context.Context, events []RunEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	enc := json.NewEncoder(s.W)
	for _, ev := range events {
		if err := enc.Encode(ev); err != nil {
			return err
		}
	}
	return nil
}

// Emitter sends the OpenLineage events of tasks as they start and end. It
// never slows or fails a task: TaskStarted and TaskEnded only queue (a full
// queue drops the event and counts it), and Run builds the events from the
// state store and sends them, retrying with backoff while the sink is down.
type Emitter struct {
	Store store.Store
	// Namespace names the datasets' namespace (the blob URL).
	Namespace string
	Sink      Sink
	// Capacity bounds the queue. Defaults to 10,000 events.
	Capacity int
	// Clock defaults to the system clock; Logger to discarding.
	Clock  clock.Clock
	Logger *slog.Logger

	once    sync.Once
	queue   chan job
	dropped atomic.Int64
	sent    atomic.Int64
}

type job struct {
	runID, taskID int64
	ended         bool
}

func (e *Emitter) init() {
	e.once.Do(func() {
		if e.Capacity <= 0 {
			e.Capacity = 10_000
		}
		if e.Clock == nil {
			e.Clock = clock.Real{}
		}
		if e.Logger == nil {
			e.Logger = slog.New(slog.DiscardHandler)
		}
		e.queue = make(chan job, e.Capacity)
	})
}

func (e *Emitter) enqueue(j job) {
	e.init()
	select {
	case e.queue <- j:
	default:
		e.dropped.Add(1)
	}
}

// TaskStarted queues a task's START event.
func (e *Emitter) TaskStarted(runID, taskID int64) { e.enqueue(job{runID, taskID, false}) }

// TaskEnded queues a task's COMPLETE, FAIL or ABORT event.
func (e *Emitter) TaskEnded(runID, taskID int64) { e.enqueue(job{runID, taskID, true}) }

// Dropped counts the events dropped because the queue was full.
func (e *Emitter) Dropped() int64 { return e.dropped.Load() }

// Sent counts the events delivered.
func (e *Emitter) Sent() int64 { return e.sent.Load() }

// Run sends queued events until ctx ends, then what is still queued for
// at most drain, each tried once: a stopping process does not wait out an
// endpoint that is down (what it could not send is counted as dropped).
func (e *Emitter) Run(ctx context.Context, drain time.Duration) {
	e.init()
	for {
		select {
		case j := <-e.queue:
			e.deliver(ctx, j, true)
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
			defer cancel()
			for {
				select {
				case j := <-e.queue:
					if !e.deliver(dctx, j, false) {
						e.dropped.Add(int64(len(e.queue))) // not sent: the rest would not be either
						return
					}
				default:
					return
				}
			}
		}
	}
}

// deliver builds a job's events and sends them, retrying with backoff (1 s
// doubling to 30 s) until they arrive or ctx ends if retry is set. It
// reports whether the sink took them.
func (e *Emitter) deliver(ctx context.Context, j job, retry bool) bool {
	all, err := TaskEvents(context.WithoutCancel(ctx), e.Store, j.runID, j.taskID, e.Namespace)
	if err != nil {
		e.Logger.Error("build lineage events", "run", j.runID, "task", j.taskID, "error", err)
		return true // nothing the sink could fix
	}
	var events []RunEvent
	for _, ev := range all {
		if (ev.EventType == "START") != j.ended {
			events = append(events, ev)
		}
	}
	if len(events) == 0 {
		return true
	}
	sendCtx := ctx
	if retry {
		// A send under way finishes (the sink's own timeout bounds it);
		// stopping ends the waits between sends.
		sendCtx = context.WithoutCancel(ctx)
	}
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		err := e.Sink.Send(sendCtx, events)
		if err == nil {
			e.sent.Add(int64(len(events)))
			return true
		}
		if !retry || ctx.Err() != nil {
			e.dropped.Add(int64(len(events)))
			e.Logger.Warn("send lineage events: dropped", "error", err, "events", len(events))
			return false
		}
		e.Logger.Warn("send lineage events: will retry", "error", err, "in", wait)
		select {
		case <-ctx.Done():
			e.dropped.Add(int64(len(events)))
			return false
		case <-e.Clock.After(wait):
		}
	}
}
