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
	Error  string
}

// RunChecks runs every check against staged and returns all results. The
// error joins the failures of blocking checks: non-nil means the output must
// not be promoted. A check that panics fails.
func RunChecks(ctx context.Context, checks []pipelines.Check, staged pipelines.Staged) ([]CheckResult, error) {
	var results []CheckResult
	var blocking []error
	for _, c := range checks {
		err := runCheck(ctx, c, staged)
		r := CheckResult{Name: c.Name, Warn: c.Warn, Passed: err == nil}
		if err != nil {
			r.Error = err.Error()
			if !c.Warn {
				blocking = append(blocking, fmt.Errorf("check %q failed: %w", c.Name, err))
			}
		}
		results = append(results, r)
	}
	return results, errors.Join(blocking...)
}

func runCheck(ctx context.Context, c pipelines.Check, staged pipelines.Staged) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return c.Func(ctx, staged)
}
