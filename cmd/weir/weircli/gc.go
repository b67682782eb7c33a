package weircli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/verify"
)

func (a *app) gcCommand() *cobra.Command {
	var (
		selection string
		parts     partitionFlags
		olderThan string
		keep      int
		dryRun    bool
		sweep     bool
	)
	cmd := &cobra.Command{
		Use:   "gc [--select EXPR] [--partition K,... | --partition-range A...B | --from A --to B] [--older-than 30d] [--keep-versions N] [--dry-run] [--sweep]",
		Short: "Delete attempts that were never promoted and old versions beyond the retention; never a current version",
		Long: `gc deletes, among versions older than --older-than:
  - attempts that were never promoted (failed audits or checks, dead workers);
  - promoted versions beyond the newest --keep-versions of a partition;
  - without --select and partitions: the task logs of runs that ended before
    --older-than (weir tasks logs no longer shows them).
The current version of a partition is never deleted, nor a version that a
current version records as read, nor anything younger than --older-than (a
running attempt may be writing it).

gc finds versions from the state store's records (every attempt's version is
recorded before it writes), so it takes time in proportion to the garbage,
not to the bucket. --sweep lists the bucket instead, to also find versions
the store never recorded: run it once on a store created before weir
recorded versions.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			age, err := parseAge(olderThan)
			if err != nil {
				return usageError(err)
			}
			if keep < 1 {
				return usageError(fmt.Errorf("--keep-versions %d must be at least 1 (the current version is always kept)", keep))
			}
			expr, err := parts.expr()
			if err != nil {
				return usageError(err)
			}
			ctx := cmd.Context()
			g, keys, err := a.selectAssets(selection)
			if err != nil {
				return err
			}
			st, bucket, closeAll, err := a.openBoth(ctx)
			if err != nil {
				return err
			}
			defer closeAll()
			type row = verify.Garbage
			var doomed []row
			var gone []store.GarbageCandidate // recorded, with no objects left
			recorded := map[string][]store.GarbageCandidate{}
			if !sweep {
				cands, err := st.GarbageCandidates(ctx, keys)
				if err != nil {
					return failedError(err)
				}
				for _, c := range cands {
					recorded[c.Asset] = append(recorded[c.Asset], c)
				}
			}
			for _, key := range keys {
				as, _ := g.Asset(key)
				opts := verify.GCOpts{Now: a.cfg.Clock.Now(), OlderThan: age, KeepVersions: keep}
				if expr != "" {
					if opts.Partitions, err = a.partitionFilter(ctx, st, as, expr); err != nil {
						return err
					}
				}
				var found []row
				if sweep {
					// Staged versions of tasks waiting to be verified are
					// not garbage: their verify phase reads them.
					if opts.InUse, err = stagedVersions(ctx, st, key); err != nil {
						return failedError(err)
					}
					found, err = verify.FindGarbage(ctx, st, bucket, key, opts)
				} else {
					opts.Keys = func(first, last string, n int64) ([]string, error) { return taskKeys(ctx, st, as, first, last, n) }
					var none []store.GarbageCandidate
					found, none, err = verify.RecordedGarbage(ctx, st, bucket, recorded[key], opts)
					gone = append(gone, none...)
				}
				if err != nil {
					return failedError(err)
				}
				doomed = append(doomed, found...)
			}
			sort.Slice(doomed, func(i, j int) bool {
				x, y := doomed[i], doomed[j]
				return x.Asset+"/"+x.Partition+"/"+x.Version < y.Asset+"/"+y.Partition+"/"+y.Version
			})
			var bytes int64
			collected := gone
			marked := map[store.GarbageCandidate]bool{}
			for _, d := range doomed {
				bytes += d.Bytes
				if !dryRun {
					if err := verify.DeleteVersion(ctx, bucket, d.StoredVersion); err != nil {
						return failedError(err)
					}
					// A version over several partitions is collected once
					// all of them were, which a narrowed gc does not do.
					if r := d.Record; r != nil && (r.PartitionCount == 1 || expr == "") && !marked[*r] {
						marked[*r] = true
						collected = append(collected, *r)
					}
				}
			}
			// Recorded once deleted: a gc killed between the two finds
			// the versions again, without objects, and records them then.
			if !dryRun && len(collected) > 0 {
				if err := st.VersionsCollected(ctx, collected); err != nil {
					return failedError(err)
				}
			}
			// Task logs belong to runs, not to assets or partitions: a
			// narrowed gc leaves them.
			logs := []scheduler.TaskLogs{}
			if selection == "*" && expr == "" {
				if logs, err = scheduler.TaskLogGarbage(ctx, bucket, st, a.cfg.Clock.Now().Add(-age)); err != nil {
					return failedError(err)
				}
			}
			var logFiles int
			var logBytes int64
			for _, l := range logs {
				logFiles, logBytes = logFiles+l.Files, logBytes+l.Bytes
				if !dryRun {
					if err := l.Delete(ctx, bucket); err != nil {
						return failedError(err)
					}
				}
			}
			if a.output == "json" {
				if doomed == nil {
					doomed = []row{}
				}
				if logs == nil {
					logs = []scheduler.TaskLogs{}
				}
				return a.json(map[string]any{"dry_run": dryRun, "versions": doomed, "bytes": bytes, "task_logs": logs,
					"task_log_files": logFiles, "task_log_bytes": logBytes})
			}
			w := a.table()
			if len(doomed) > 0 {
				fmt.Fprintln(w, "ASSET\tPARTITION\tVERSION\tFILES\tBYTES\tWHY")
				for _, d := range doomed {
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\n", d.Asset, d.Partition, d.Version, d.Files, d.Bytes, d.Why)
				}
			}
			verb := "deleted"
			if dryRun {
				verb = "would delete"
			}
			fmt.Fprintf(w, "%s %s, %d bytes\n", verb, plural(int64(len(doomed)), "version"), bytes)
			if len(logs) > 0 {
				fmt.Fprintf(w, "%s the task logs of %s ended over %s ago: %s, %d bytes\n", verb, plural(int64(len(logs)), "run"), olderThan,
					plural(int64(logFiles), "file"), logBytes)
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVarP(&selection, "select", "s", "*", "assets to collect")
	parts.register(f, "only versions of these partitions")
	f.StringVar(&olderThan, "older-than", "30d", "only versions created longer ago than this (e.g. 36h, 30d)")
	f.IntVar(&keep, "keep-versions", 3, "promoted versions to keep per partition, the current one included")
	f.BoolVar(&dryRun, "dry-run", false, "list what would be deleted and the bytes; delete nothing")
	f.BoolVar(&sweep, "sweep", false, "list the bucket instead of reading the store's records: also finds versions the store never recorded\n"+
		"(attempts leased before weir recorded versions, objects written by hand); takes time in proportion to the bucket")
	return cmd
}

// maxAge bounds --older-than: a hundred years, far below where a
// time.Duration overflows (292 years) and wraps to "minutes ago".
const maxAge = 100 * 365 * 24 * time.Hour

// parseAge reads a duration that may also be in days ("30d").
func parseAge(s string) (time.Duration, error) {
	bad := fmt.Errorf("--older-than %q is not a duration like 36h or 30d", s)
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 {
			return 0, bad
		}
		if n > int64(maxAge/(24*time.Hour)) {
			return 0, fmt.Errorf("--older-than %q is out of range: at most %dd", s, maxAge/(24*time.Hour))
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d < 0 {
			return 0, bad
		}
	}
	if d > maxAge {
		return 0, fmt.Errorf("--older-than %q is out of range: at most %dd", s, maxAge/(24*time.Hour))
	}
	return d, nil
}

// taskKeys names the n partitions of asset from first to last.
func taskKeys(ctx context.Context, st store.Store, as *pipelines.Asset, first, last string, n int64) ([]string, error) {
	def, err := plan.BindDefinition(ctx, st, as)
	if err != nil {
		return nil, err
	}
	lo, err1 := def.Index(first)
	hi, err2 := def.Index(last)
	if err := errors.Join(err1, err2); err != nil || hi-lo+1 != n {
		return nil, fmt.Errorf("partitions %s...%s (%d) of %s no longer fit its partitions %s: %v; run weir gc --sweep", first, last, n, as.Key, def, err)
	}
	return partitions.Keys(def, partitions.Span(lo, hi+1)), nil
}

// stagedVersions returns the versions that unfinished tasks of asset have
// staged and not yet verified.
func stagedVersions(ctx context.Context, st store.Store, asset string) (map[string]bool, error) {
	tasks, err := st.TaskStagedList(ctx, asset)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, t := range tasks {
		if v, ok := scheduler.StagedVersion(t); ok {
			out[v] = true
		}
	}
	return out, nil
}
