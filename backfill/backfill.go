// Package backfill turns a backfill as a person asks for it (the command
// line's flags, the HTTP API's JSON, the web UI's launcher form) into a
// plan and a stored run, with one validation and one set of errors for all
// of them: Options.Check, Preview (the dry run, with an estimate) and
// Create (plan, expand, enqueue in one transaction).
package backfill

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// Options are a backfill request. An empty Reprocess, Order or Priority
// means its default; Defaults returns every default spelled out (start
// from it: MinTasks' zero is a value, not the default).
type Options struct {
	// Select is a selection expression (lineage.Graph.Select): "*",
	// "cleaned_orders+", "+daily_revenue". Required.
	Select string `json:"select"`
	// Partitions is the compact partition form: "2024-01-01...2024-01-31",
	// "2024-03-01,2024-03-05", "2024-01-05". Required when a selected
	// asset is partitioned.
	Partitions string `json:"partitions"`
	// Reprocess is missing (default), failed, stale or all.
	Reprocess string `json:"reprocess"`
	// Order is oldest-first (default) or newest-first.
	Order string `json:"order"`
	// MaxConcurrent caps the backfill's running tasks across all workers
	// (0: no limit).
	MaxConcurrent int `json:"max_concurrent"`
	// Rate caps task starts across all workers: "5/s", "120/m", "30/h".
	Rate string `json:"rate"`
	// Pool, if set, runs every task in this pool instead of its asset's.
	Pool string `json:"pool"`
	// Priority is low, normal (default) or high.
	Priority string `json:"priority"`
	// MaxFailureRate trips the breaker when more than this share of
	// finished tasks failed, once MinTasks finished (0: off).
	MaxFailureRate float64 `json:"max_failure_rate"`
	// MinTasks is how many tasks must finish before MaxFailureRate
	// applies (Defaults: 10).
	MinTasks int `json:"min_tasks"`
	// MaxConsecutiveFailures trips the breaker after this many failed
	// tasks in a row (0: off).
	MaxConsecutiveFailures int `json:"max_consecutive_failures"`
}

// DefaultMinTasks is Options.MinTasks when it is 0.
const DefaultMinTasks = 10

// Defaults returns the options a backfill has when nothing is said.
func Defaults() Options {
	return Options{Reprocess: string(plan.ReprocessMissing), Order: string(scheduler.OldestFirst), Priority: "normal", MinTasks: DefaultMinTasks}
}

// OptionError is a bad option. Option is its JSON name (max_failure_rate);
// the command line shows it as its flag (--max-failure-rate).
type OptionError struct {
	Option string
	// Problem reads after the option's name: `"5" is not a rate ...`.
	Problem string
}

func (e *OptionError) Error() string { return e.Option + " " + e.Problem }

// Flag returns the error as the command line says it, the option named
// as its flag.
func (e *OptionError) Flag() string {
	return "--" + strings.ReplaceAll(e.Option, "_", "-") + " " + e.Problem
}

func bad(option, format string, args ...any) error {
	return &OptionError{Option: option, Problem: fmt.Sprintf(format, args...)}
}

var poolName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Bounds of Rate: slower than one start an hour is a pause, faster than
// the store can lease is no limit.
const (
	minRatePerSec = 1.0 / 3600
	maxRatePerSec = 100_000
)

// ParseRate reads R/s, R/m or R/h as starts per second.
func ParseRate(s string) (float64, error) {
	num, unit, ok := strings.Cut(s, "/")
	r, err := strconv.ParseFloat(num, 64)
	per := map[string]float64{"s": 1, "m": 60, "h": 3600}[unit]
	if !ok || err != nil || per == 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return 0, bad("rate", "%q is not a rate R/s, R/m or R/h, e.g. 5/s, 120/m or 30/h", s)
	}
	if r /= per; r < minRatePerSec || r > maxRatePerSec {
		return 0, bad("rate", "%q is out of range: allowed are 1/h to %d/s", s, maxRatePerSec)
	}
	return r, nil
}

// ParsePriority reads low, normal or high ("" is normal).
func ParsePriority(s string) (int, error) {
	switch s {
	case "low":
		return store.PriorityLow, nil
	case "normal", "":
		return store.PriorityNormal, nil
	case "high":
		return store.PriorityHigh, nil
	}
	return 0, bad("priority", "%q is not one of low, normal, high", s)
}

// Check validates the options and returns the plan request and the
// enqueue options they mean (Kind "backfill"; CreatedBy and Now unset).
// Every error names the option and what it allows; an *OptionError when
// one option is at fault.
func (o Options) Check() (plan.Request, scheduler.EnqueueOpts, error) {
	var req plan.Request
	eo := scheduler.EnqueueOpts{Kind: "backfill"}
	if strings.TrimSpace(o.Select) == "" {
		return req, eo, bad("select", "is required, e.g. '*' or 'cleaned_orders+'")
	}
	r, err := plan.ParseReprocess(o.Reprocess)
	if err != nil {
		return req, eo, &OptionError{Option: "reprocess", Problem: strings.TrimPrefix(err.Error(), "reprocess policy ")}
	}
	req = plan.Request{Selection: o.Select, Partitions: o.Partitions, Reprocess: r}
	if o.Order == "" {
		eo.Order = scheduler.OldestFirst
	} else if eo.Order, err = scheduler.ParseOrder(o.Order); err != nil {
		return req, eo, bad("order", "%q is not one of oldest-first, newest-first", o.Order)
	}
	if o.MaxConcurrent < 0 {
		return req, eo, bad("max_concurrent", "%d must be 0 (no limit) or more", o.MaxConcurrent)
	}
	eo.Throttle.MaxConcurrent = o.MaxConcurrent
	if o.Rate != "" {
		if eo.Throttle.RatePerSec, err = ParseRate(o.Rate); err != nil {
			return req, eo, err
		}
	}
	if o.Pool != "" && !poolName.MatchString(o.Pool) {
		return req, eo, bad("pool", "%q: a pool name is 1-64 letters, digits, '_', '.' or '-'", o.Pool)
	}
	eo.Pool = o.Pool
	if eo.Priority, err = ParsePriority(o.Priority); err != nil {
		return req, eo, err
	}
	if math.IsNaN(o.MaxFailureRate) || o.MaxFailureRate < 0 || o.MaxFailureRate > 1 {
		return req, eo, bad("max_failure_rate", "%g is not a share between 0 and 1 (0.2 trips above 20%% failed)", o.MaxFailureRate)
	}
	if o.MinTasks < 0 {
		return req, eo, bad("min_tasks", "%d must be 0 or more", o.MinTasks)
	}
	if o.MaxConsecutiveFailures < 0 {
		return req, eo, bad("max_consecutive_failures", "%d must be 0 (off) or more", o.MaxConsecutiveFailures)
	}
	eo.Breaker = store.Breaker{MaxFailureRate: o.MaxFailureRate, MinTasks: o.MinTasks, MaxConsecutive: o.MaxConsecutiveFailures}
	return req, eo, nil
}

// ErrInput marks an error in what was asked (unknown asset, bad partition
// key, bad option) as opposed to a store that failed: the command line
// exits 2 for it, the API answers 400.
var ErrInput = errors.New("bad backfill request")

type inputError struct{ err error }

func (e *inputError) Error() string        { return e.err.Error() }
func (e *inputError) Unwrap() error        { return e.err }
func (e *inputError) Is(target error) bool { return target == ErrInput }

func input(err error) error { return &inputError{err} }

// Preview is a backfill planned and not stored: the dry run.
type Preview struct {
	Plan     plan.Summary       `json:"plan"`
	Estimate scheduler.Estimate `json:"estimate"`
	// Throttle says the throttles and breaker as `backfill status` does.
	Throttle string `json:"throttle"`
}

// Planned is a backfill's plan with the options it was checked with.
type Planned struct {
	Plan    *plan.Plan
	Enqueue scheduler.EnqueueOpts
}

// PlanOf checks o and plans it at now against st's status. Bad options
// and a request the graph or partitions refuse are ErrInput.
func PlanOf(ctx context.Context, st store.Store, g *lineage.Graph, o Options, now time.Time) (*Planned, error) {
	req, eo, err := o.Check()
	if err != nil {
		return nil, input(err)
	}
	pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, req, now)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, input(err)
	}
	eo.Now = now
	return &Planned{Plan: pl, Enqueue: eo}, nil
}

// Preview estimates the planned backfill with concurrency tasks at once
// (the workers' slots that will run it), storing nothing.
func (p *Planned) Preview(ctx context.Context, st store.Store, concurrency int) (*Preview, error) {
	est, err := scheduler.EstimatePlan(ctx, st, p.Plan, p.Enqueue.Throttle, concurrency)
	if err != nil {
		return nil, err
	}
	run := &store.Run{Priority: p.Enqueue.Priority, Throttle: p.Enqueue.Throttle, Pool: p.Enqueue.Pool}
	return &Preview{Plan: p.Plan.Summarize(), Estimate: est, Throttle: scheduler.ThrottleString(run)}, nil
}

// ErrNothingToRun is returned by Create when every requested partition is
// kept by the reprocess policy or queued in another run: nothing is stored.
var ErrNothingToRun = errors.New("nothing to backfill: the reprocess policy keeps every requested partition that is not queued in another run (the plan's kept and kept_missing say which; reprocess all runs them again); nothing was stored")

// Create stores the planned backfill, all its tasks in one transaction,
// as created by by.
func (p *Planned) Create(ctx context.Context, st store.Store, by string) (*store.Run, error) {
	if p.Plan.Empty() {
		return nil, ErrNothingToRun
	}
	tg, err := p.Plan.Expand()
	if err != nil {
		return nil, input(err)
	}
	eo := p.Enqueue
	eo.CreatedBy = by
	run, _, err := scheduler.Enqueue(ctx, st, tg, eo)
	return run, err
}
