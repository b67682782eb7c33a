package pipelines

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// CheckName reports asset keys, tags, groups and pools that weir cannot use
// in selections and object-storage paths.
func CheckName(what, name string) error {
	if !keyPattern.MatchString(name) || strings.Contains(name, "..") || len(name) > 128 {
		return fmt.Errorf("%s %q is not a valid name: use letters, digits, '_', '-' and '.', starting with a letter or digit, at most 128 bytes", what, name)
	}
	return nil
}

// Validate reports what is wrong with a on its own, every problem joined:
// an invalid key, a missing compute function, negative limits, invalid
// pool, group and tag names, unnamed or duplicate checks. What needs other
// assets (unknown deps, partition mappings, cycles) is lineage.New's.
func (a *Asset) Validate() error {
	if err := CheckName("asset key", a.Key); err != nil {
		return err
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("asset %q: "+format, append([]any{a.Key}, args...)...))
	}
	if a.Compute == nil {
		bad("no Compute function")
	}
	if a.Eager && len(a.Deps) == 0 {
		bad("Eager, but it depends on nothing: eager assets run when an upstream partition they read is promoted")
	}
	if a.MaxPartitionsPerRun < 0 {
		bad("MaxPartitionsPerRun %d is negative", a.MaxPartitionsPerRun)
	}
	if a.Timeout < 0 {
		bad("Timeout %s is negative", a.Timeout)
	}
	if a.Retry.MaxAttempts < 0 || a.Retry.InitialBackoff < 0 || a.Retry.MaxBackoff < 0 {
		bad("retry policy %+v has a negative value", a.Retry)
	}
	if a.Pool != "" {
		if err := CheckName("pool", a.Pool); err != nil {
			bad("%v", err)
		}
	}
	if a.Group != "" {
		if err := CheckName("group", a.Group); err != nil {
			bad("%v", err)
		}
	}
	for _, t := range a.Tags {
		if err := CheckName("tag", t); err != nil {
			bad("%v", err)
		}
	}
	checks := map[string]bool{}
	for _, c := range a.Checks {
		if c.Name == "" || c.Func == nil {
			bad("every check needs a Name and a Func")
		} else if checks[c.Name] {
			bad("check %q is declared twice", c.Name)
		}
		checks[c.Name] = true
	}
	return errors.Join(errs...)
}
