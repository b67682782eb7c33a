package scheduler

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/store"
)

// Estimate is a guess at how long a plan takes to run, from how long the
// same assets' tasks took before.
type Estimate struct {
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

func (e Estimate) String() string {
	if e.Measured == 0 {
		return "no past tasks of these assets to estimate from"
	}
	s := fmt.Sprintf("about %s with %d at a time (from %s)", (time.Duration(e.Seconds) * time.Second).String(), e.Parallel, pastTasks(e.Measured))
	if e.RateBound {
		s += ", bound by --rate"
	}
	if len(e.NoHistory) > 0 {
		s += "; not counted, no history: " + strings.Join(e.NoHistory, ", ")
	}
	return s
}

// EstimatePlan guesses how long pl takes with concurrency tasks at once
// under throttle th: each asset's tasks at the mean of its latest 100
// succeeded tasks, spread over the tasks allowed at once, and no faster
// than the rate limit allows.
func EstimatePlan(ctx context.Context, st store.Queue, pl *plan.Plan, th store.Throttle, concurrency int) (Estimate, error) {
	e := Estimate{Parallel: max(concurrency, 1)}
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

func pastTasks(n int) string {
	if n == 1 {
		return "1 past task"
	}
	return fmt.Sprintf("%d past tasks", n)
}
