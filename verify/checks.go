package verify

import (
	"context"
	"errors"
	"fmt"

	"github.com/weir-dev/weir/pipelines"
)

// CheckResult is the outcome of one check on one attempt.
type CheckResult struct {
	Name   string
	Warn   bool
	Passed bool
	// Value is what the check measured.
	Value string
	Error string
}

// Warn makes c a warning check: a failure is recorded, promotion goes on.
func Warn(c pipelines.Check) pipelines.Check {
	c.Warn = true
	return c
}

// CheckFailure is RunChecks's error: blocking checks failed, and the
// output must not be promoted.
type CheckFailure struct {
	// Checks names the blocking checks that failed.
	Checks []string
	err    error
}

func (e *CheckFailure) Error() string { return e.err.Error() }
func (e *CheckFailure) Unwrap() error { return e.err }

// RunChecks runs every check against staged and returns all results. The
// error, a *CheckFailure, joins the failures of blocking checks: non-nil
// means the output must not be promoted. A check that panics fails.
func RunChecks(ctx context.Context, checks []pipelines.Check, staged pipelines.Staged) ([]CheckResult, error) {
	var results []CheckResult
	var blocking []error
	var names []string
	for _, c := range checks {
		value, err := runCheck(ctx, c, staged)
		r := CheckResult{Name: c.Name, Warn: c.Warn, Passed: err == nil, Value: value}
		if err != nil {
			r.Error = err.Error()
			if !c.Warn {
				blocking = append(blocking, fmt.Errorf("check %q failed: %w", c.Name, err))
				names = append(names, c.Name)
			}
		}
		results = append(results, r)
	}
	if len(blocking) == 0 {
		return results, nil
	}
	return results, &CheckFailure{Checks: names, err: errors.Join(blocking...)}
}

func runCheck(ctx context.Context, c pipelines.Check, staged pipelines.Staged) (value string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return c.Func(ctx, staged)
}
