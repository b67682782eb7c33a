package plan_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"
	"pgregory.net/rapid"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/postgres"
	"github.com/weir-dev/weir/store/postgres/pgtest"
)

// everyRow reads every partition on each status read: no summary is kept
// or used.
type everyRow struct{ store.Store }

func (everyRow) StatusSummaryGet(context.Context, string) (*store.StatusSummary, error) {
	return nil, nil
}
func (everyRow) StatusSummaryPut(context.Context, ...store.StatusSummary) error { return nil }

// sameStatus reports how a and b differ, "" if they do not.
func sameStatus(a, b plan.AssetStatus) string {
	type pair struct {
		name string
		a, b partitions.Subset
	}
	sets := []pair{{"materialized", a.Materialized, b.Materialized}, {"failed", a.Failed, b.Failed}, {"blocked", a.Blocked, b.Blocked},
		{"verify failed", a.VerifyFailed, b.VerifyFailed}, {"input stale", a.InputStale, b.InputStale}}
	for code := range a.ByCode {
		sets = append(sets, pair{"code " + code, a.ByCode[code], b.ByCode[code]})
	}
	for code := range b.ByCode {
		if _, ok := a.ByCode[code]; !ok {
			sets = append(sets, pair{"code " + code, a.ByCode[code], b.ByCode[code]})
		}
	}
	for _, s := range sets {
		if !s.a.Equal(s.b) {
			return fmt.Sprintf("%s: %s, want %s", s.name, s.a, s.b)
		}
	}
	return ""
}

// TestStatusFromSummariesIsStatusFromEveryRow: on SQLite and PostgreSQL,
// after each of a random sequence of runs (new code versions, failures,
// partitions made again so that what read them is input-stale) and
// verifications, the status read from the kept summary and the changes
// since it is the status read from every partition's row; summaries are
// kept after as few as one change and as many as never.
func TestStatusFromSummariesIsStatusFromEveryRow(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			st, days := openStore(t)
			if backend == "postgres" {
				pg, err := postgres.Open(ctx, pgtest.DSN(t))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { pg.Close() })
				st = pg
			}
			var (
				mu    sync.Mutex
				fails = map[string]bool{} // asset/key
			)
			write := func(ctx context.Context, t *pipelines.Task) error {
				mu.Lock()
				defer mu.Unlock()
				for _, k := range t.Keys {
					if fails[t.Asset.Key+"/"+k] {
						return fmt.Errorf("failing %s %s", t.Asset.Key, k)
					}
					w, err := t.Output.Create(ctx, k, "data.txt")
					if err != nil {
						return err
					}
					fmt.Fprint(w, k)
					if err := w.Close(); err != nil {
						return err
					}
				}
				return nil
			}
			graph := func(code string) *lineage.Graph {
				return lineage.Must(
					&pipelines.Asset{Key: "a", Partitions: days, Compute: write, CodeVersion: code},
					&pipelines.Asset{Key: "b", Partitions: days, Deps: []pipelines.Dep{pipelines.On("a")}, Compute: write},
					&pipelines.Asset{Key: "c", Partitions: days, Deps: []pipelines.Dep{pipelines.OnMapped("b", partitions.Trailing(2))},
						Compute: write, MaxPartitionsPerRun: 3},
				)
			}
			now := time.Date(2024, 1, 21, 0, 0, 0, 0, time.UTC)
			ex := &scheduler.Executor{Store: st, Bucket: memblob.OpenBucket(nil)}
			rng := rand.New(rand.NewPCG(uint64(len(backend)), 19))
			day := func() int64 { return rng.Int64N(20) }
			check := func(step string) {
				t.Helper()
				for _, asset := range []string{"a", "b", "c"} {
					got, err := plan.ReadStatus(ctx, st, asset, days)
					if err != nil {
						t.Fatal(err)
					}
					want, err := plan.ReadStatus(ctx, everyRow{st}, asset, days)
					if err != nil {
						t.Fatal(err)
					}
					if d := sameStatus(got, want); d != "" {
						t.Fatalf("after %s, %s: %s", step, asset, d)
					}
				}
			}
			run := func(g *lineage.Graph, sel string, lo, hi int64) {
				t.Helper()
				pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, plan.Request{Selection: sel,
					Partitions: days.Key(lo) + "..." + days.Key(hi), Reprocess: plan.ReprocessAll}, now)
				if err != nil {
					t.Fatal(err)
				}
				tg, err := pl.Expand()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ex.Run(ctx, tg, scheduler.RunOpts{}); err != nil {
					t.Fatal(err)
				}
			}
			run(graph("v0"), "*", 0, 19) // every partition made once: any range can run again
			check("the first run")
			for i := range 40 {
				plan.SetSummaryRewriteRows(t, []int{1, 3, 1 << 30}[i%3])
				switch op := rng.IntN(4); op {
				case 0, 1: // a run, some of its partitions failing
					lo := day()
					hi := min(lo+rng.Int64N(6), 19)
					mu.Lock()
					clear(fails)
					for range rng.IntN(3) {
						fails[[]string{"a", "b", "c"}[rng.IntN(3)]+"/"+days.Key(lo+rng.Int64N(hi-lo+1))] = true
					}
					mu.Unlock()
					sel := []string{"*", "a", "a+", "b+", "c"}[rng.IntN(5)]
					run(graph(fmt.Sprintf("v%d", rng.IntN(2))), sel, lo, hi)
					check(fmt.Sprintf("step %d: run %s %s...%s", i, sel, days.Key(lo), days.Key(hi)))
				case 2, 3: // a partition verified, found altered or fine
					asset := []string{"a", "b", "c"}[rng.IntN(3)]
					key := days.Key(day())
					cur, err := st.PartitionCurrentList(ctx, asset, []string{key})
					if err != nil {
						t.Fatal(err)
					}
					if len(cur) == 0 {
						continue
					}
					problem := []string{"", "data.txt: altered"}[rng.IntN(2)]
					if err := st.PartitionVerified(ctx, asset, key, cur[0].Version, problem); err != nil {
						t.Fatal(err)
					}
					check(fmt.Sprintf("step %d: verify %s %s %q", i, asset, key, problem))
				}
			}
		})
	}
}

// TestStatusSummariesRoundTrip: a status encoded and decoded is the same
// status, and bytes that are not a summary are refused, never misread.
func TestStatusSummariesRoundTrip(t *testing.T) {
	subset := func(rt *rapid.T, label string) partitions.Subset {
		var b partitions.Builder
		for _, i := range rapid.SliceOfN(rapid.Int64Range(0, 1<<40), 0, 20).Draw(rt, label) {
			b.AddRange(partitions.Range{Lo: i, Hi: i + rapid.Int64Range(1, 100).Draw(rt, label+" len")})
		}
		return b.Subset()
	}
	rapid.Check(t, func(rt *rapid.T) {
		st := plan.AssetStatus{Materialized: subset(rt, "m"), Failed: subset(rt, "f"), Blocked: subset(rt, "b"),
			VerifyFailed: subset(rt, "vf"), InputStale: subset(rt, "is"), ByCode: map[string]partitions.Subset{}}
		for _, code := range rapid.SliceOfN(rapid.String(), 0, 3).Draw(rt, "codes") {
			st.ByCode[code] = subset(rt, "code")
		}
		b := plan.EncodeStatus(st)
		got, err := plan.DecodeStatus(b, nil)
		if err != nil {
			rt.Fatal(err)
		}
		if d := sameStatus(got, st); d != "" {
			rt.Fatal(d)
		}
		// Cut short or with a byte changed, it is refused or decodes to
		// something well-formed; it never panics.
		if n := rapid.IntRange(0, len(b)-1).Draw(rt, "cut"); true {
			if _, err := plan.DecodeStatus(b[:n], nil); err == nil {
				rt.Fatalf("a summary cut to %d of %d bytes decoded", n, len(b))
			}
		}
		c := append([]byte(nil), b...)
		c[rapid.IntRange(0, len(c)-1).Draw(rt, "at")] ^= byte(rapid.IntRange(1, 255).Draw(rt, "xor"))
		plan.DecodeStatus(c, nil)
	})
}
