package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/verify"
)

// failsOnceAfterWriting wraps a compute so that its first call over any of
// keys writes its output and then fails: an attempt whose version is in the
// bucket and never promoted.
func failsOnceAfterWriting(compute pipelines.ComputeFunc, keys ...string) pipelines.ComputeFunc {
	var mu sync.Mutex
	failed := map[string]bool{}
	return func(ctx context.Context, t *pipelines.Task) error {
		if err := compute(ctx, t); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, k := range t.Keys {
			if slices.Contains(keys, k) && !failed[k] {
				failed[k] = true
				return errors.New("failed after writing")
			}
		}
		return nil
	}
}

// TestRecordedGarbageIsWhatASweepFinds: gc from the store's records finds
// exactly the versions a listing of the bucket finds (superseded versions
// beyond the retention, attempts never promoted, over one partition and
// over several, with the provenance of current versions kept), and once
// they are deleted and recorded, neither finds anything.
func TestRecordedGarbageIsWhatASweepFinds(t *testing.T) {
	assets := chain()
	retry := pipelines.RetryPolicy{MaxAttempts: 2}
	assets[0].Compute, assets[0].Retry = failsOnceAfterWriting(writeKey, "2024-01-02"), retry
	assets[1].Compute, assets[1].Retry = failsOnceAfterWriting(writeKey, "2024-01-05"), retry // a task over 2024-01-04...06
	e := newEnv(t, assets...)
	ctx := context.Background()
	if res := e.run(t, plan.Request{Selection: "*", Partitions: "2024-01-01...2024-01-10"}); res.Status != store.RunSucceeded {
		t.Fatalf("first run: %+v", res)
	}
	// raw's first days promoted four more times: their oldest versions
	// fall beyond the newest three, but the ones clean read stay.
	for range 4 {
		e.clock.Advance(time.Hour)
		e.run(t, plan.Request{Selection: "raw", Partitions: "2024-01-01...2024-01-03", Reprocess: plan.ReprocessAll})
	}
	e.clock.Advance(31 * 24 * time.Hour)
	opts := verify.GCOpts{Now: e.clock.Now(), OlderThan: 30 * 24 * time.Hour}
	var swept, recorded []verify.Garbage
	var records []store.GarbageCandidate
	var keys []string
	for _, a := range assets {
		keys = append(keys, a.Key)
	}
	cands, err := e.store.GarbageCandidates(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	byAsset := map[string][]store.GarbageCandidate{}
	for _, c := range cands {
		byAsset[c.Asset] = append(byAsset[c.Asset], c)
	}
	for _, a := range assets {
		found, err := verify.FindGarbage(ctx, e.store, e.bucket, a.Key, opts)
		if err != nil {
			t.Fatal(err)
		}
		swept = append(swept, found...)
		o := opts
		o.Keys = func(first, last string, n int64) ([]string, error) {
			lo, _ := daily.Index(first)
			return partitions.Keys(daily, partitions.Span(lo, lo+n)), nil
		}
		found, gone, err := verify.RecordedGarbage(ctx, e.store, e.bucket, byAsset[a.Key], o)
		if err != nil {
			t.Fatal(err)
		}
		if len(gone) != 0 {
			t.Errorf("%s: %d candidates without objects before any deletion: %+v", a.Key, len(gone), gone)
		}
		recorded = append(recorded, found...)
		for _, g := range found {
			records = append(records, *g.Record)
		}
	}
	show := func(gs []verify.Garbage) []string {
		var out []string
		for _, g := range gs {
			out = append(out, fmt.Sprintf("%s %s %s files=%d bytes=%d: %s", g.Asset, g.Partition, g.Version, g.Files, g.Bytes, g.Why))
		}
		slices.Sort(out)
		return out
	}
	want, got := show(swept), show(recorded)
	if !slices.Equal(got, want) {
		t.Fatalf("recorded garbage differs from a sweep:\nrecorded:\n%q\nsweep:\n%q", got, want)
	}
	var never, old, multi int
	for _, g := range recorded {
		switch {
		case g.Why == "never promoted" && g.Record.PartitionCount > 1:
			multi++
		case g.Why == "never promoted":
			never++
		default:
			old++
		}
	}
	// raw 2024-01-02's failed attempt; clean 2024-01-04...06's failed
	// attempt, three partitions; raw's five versions of three days, the
	// newest three kept, and of the two oldest the first (clean and
	// weekly read it) kept too.
	if never != 1 || multi != 3 || old != 3 {
		t.Fatalf("never promoted %d, of a task over several partitions %d, beyond the retention %d; want 1, 3, 3:\n%q", never, multi, old, got)
	}
	for _, g := range recorded {
		if err := verify.DeleteVersion(ctx, e.bucket, g.StoredVersion); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.VersionsCollected(ctx, records); err != nil {
		t.Fatal(err)
	}
	for _, a := range assets {
		if found, _ := verify.FindGarbage(ctx, e.store, e.bucket, a.Key, opts); len(found) != 0 {
			t.Errorf("%s: a sweep after deleting finds %q", a.Key, show(found))
		}
		if cands, _ := e.store.GarbageCandidates(ctx, []string{a.Key}); len(cands) != 0 {
			// Left: superseded versions kept by rank or provenance.
			for _, c := range cands {
				if c.MaterializationID == 0 {
					t.Errorf("%s: an attempt's version is still a candidate after it was collected: %+v", a.Key, c)
				}
			}
		}
	}
}
