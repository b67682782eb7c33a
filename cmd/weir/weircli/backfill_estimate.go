package weircli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/store"
)

// estimateJSON is a dry run's guess at a backfill's duration, from how long
// the same assets' tasks took before.
type estimateJSON struct {
	Seconds float64 `json:"seconds"`
	// Parallel is how many tasks are assumed to run at once.
	Parallel int `json:"parallel"`
	// Measured counts the past tasks the guess rests on.
	Measured int `json:"measured_tasks"`
	// NoHistory are assets with tasks to run and no succeeded task yet
	// (left out of the guess).
	NoHistory []string `json:"no_history,omitempty"`
	// RateBound is set when the --rate limit, not the work, sets the
	// duration.
	RateBound bool `json:"rate_bound,omitempty"`
}

func (e estimateJSON) String() string {
	if e.Measured == 0 {
		return "no past tasks of these assets to estimate from"
	}
	s := fmt.Sprintf("about %s with %d at a time (from %s)", (time.Duration(e.Seconds) * time.Second).String(), e.Parallel, plural(int64(e.Measured), "past task"))
	if e.RateBound {
		s += ", bound by --rate"
	}
	if len(e.NoHistory) > 0 {
		s += "; not counted, no history: " + strings.Join(e.NoHistory, ", ")
	}
	return s
}

// estimate guesses how long plan takes: each asset's tasks at the mean of
// its latest 100 succeeded tasks, spread over the tasks allowed at once,
// and no faster than the rate limit allows.
func estimate(ctx context.Context, st store.Store, pl *plan.Plan, th store.Throttle, concurrency int) (estimateJSON, error) {
	e := estimateJSON{Parallel: concurrency}
	if th.MaxConcurrent > 0 {
		e.Parallel = min(e.Parallel, th.MaxConcurrent)
	}
	var work time.Duration
	var tasks int64
	for _, ap := range pl.Assets {
		n := ap.TaskCount()
		if n == 0 {
			continue
		}
		tasks += n
		ds, err := st.TaskDurations(ctx, ap.Asset.Key, 100)
		if err != nil {
			return e, err
		}
		if len(ds) == 0 {
			e.NoHistory = append(e.NoHistory, ap.Asset.Key)
			continue
		}
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		e.Measured += len(ds)
		work += sum / time.Duration(len(ds)) * time.Duration(n)
	}
	e.Seconds = work.Seconds() / float64(e.Parallel)
	if th.RatePerSec > 0 {
		if byRate := float64(tasks) / th.RatePerSec; byRate > e.Seconds {
			e.Seconds, e.RateBound = byRate, true
		}
	}
	return e, nil
}
