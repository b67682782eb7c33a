package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// Event pacing of the progress stream.
const (
	// eventGap is the least time between two progress events: a backfill
	// finishing thousands of tasks a second wakes the stream constantly.
	eventGap = 500 * time.Millisecond
	// eventPoll is how often progress is read without a wake-up (a
	// worker of another process, paused runs).
	eventPoll = 2 * time.Second
)

// events streams a run's progress as server-sent events: "progress" with
// the run's progress (as GET /api/v1/runs/{id} answers it) when it
// changes, at most every 500 ms, and "end" with the last progress once
// the run succeeded, failed or was cancelled; the stream then closes.
// A paused or tripped run keeps its stream open (it may be resumed).
func (s *Server) events(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		run, ok := s.getRun(w, r, kind)
		if !ok {
			return
		}
		flusher, ok := w.(http.Flusher)
		if !ok {
			writeError(w, http.StatusInternalServerError, fmt.Errorf("this server cannot stream responses"))
			return
		}
		ctx := r.Context()
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		seq := 0
		send := func(event string, v any) {
			data, _ := json.Marshal(v)
			seq++
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", seq, event, data)
			flusher.Flush()
		}
		var last []byte
		for {
			wake := s.Store.TaskWake() // before reading, so no change is missed
			p, err := scheduler.RunProgressAt(ctx, s.Store, run.ID, s.Clock.Now())
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				send("error", map[string]string{"error": "the state store failed: " + redact(err)})
				return
			}
			if ended(store.RunStatus(p.Status)) {
				send("end", p)
				return
			}
			// The time stamp changes every read; only a change of the
			// rest is news.
			at := p.At
			p.At = time.Time{}
			data, _ := json.Marshal(p)
			p.At = at
			if string(data) != string(last) {
				send("progress", p)
				last = data
			} else {
				fmt.Fprint(w, ": waiting\n\n") // keeps proxies from closing an idle stream
				flusher.Flush()
			}
			select {
			case <-ctx.Done():
				return
			case <-wake:
			case <-s.Clock.After(eventPoll):
			}
			select {
			case <-ctx.Done():
				return
			case <-s.Clock.After(eventGap):
			}
		}
	}
}

// ended reports whether a run's status is final.
func ended(st store.RunStatus) bool {
	return st == store.RunSucceeded || st == store.RunFailed || st == store.RunCancelled
}
