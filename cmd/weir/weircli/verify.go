package weircli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/alert"
	"github.com/weir-dev/weir/verify"
)

func (a *app) verifyCommand() *cobra.Command {
	var selection string
	var parts partitionFlags
	var repair, verbose bool
	cmd := &cobra.Command{
		Use:   "verify [--select EXPR] [--partition K,... | --partition-range A...B | --from A --to B] [--repair-pointers] [-v]",
		Short: "Re-verify published partitions against their manifests and the state store; exit 1 on any mismatch",
		Long: `verify reads every current version of the selected partitions back from object
storage: the manifest against the checksum the state store recorded at promotion,
each file against its size and SHA-256, and the partition's _current.json pointer
against the store. It exits 1 if anything does not match: run it nightly.

A pointer is written after the promotion commits, so a process killed in between
leaves it missing or naming the previous version. --repair-pointers rewrites
such pointers from the state store, for versions whose files verify; altered
files are never repaired, only reported.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rangeExpr, err := parts.expr()
			if err != nil {
				return usageError(err)
			}
			g, keys, err := a.selectAssets(selection)
			if err != nil {
				return err
			}
			st, bucket, closeAll, err := a.openBoth(ctx)
			if err != nil {
				return err
			}
			defer closeAll()
			var rows []verifyRow
			alerts := a.alertService(st) // nil without Config.Alerts
			bad := 0
			for _, key := range keys {
				as, _ := g.Asset(key)
				named, err := a.partitionFilter(ctx, st, as, rangeExpr)
				if err != nil {
					return err
				}
				status, err := st.PartitionStatusList(ctx, key)
				if err != nil {
					return failedError(err)
				}
				for _, ps := range status {
					if ps.Version == "" || !named(ps.PartitionKey) {
						continue
					}
					r := verifyRow{Asset: key, Partition: ps.PartitionKey, Version: ps.Version, OK: true}
					m, err := verify.Audit(ctx, bucket, key, ps.PartitionKey, ps.Version, ps.ManifestSHA256)
					if m != nil {
						r.Files, r.Bytes = len(m.Files), m.Bytes()
					}
					// Kept in the store: a version whose files fail is
					// stale (assets status, --reprocess stale); a missing
					// or wrong pointer alone is not.
					if perr := st.PartitionVerified(ctx, key, ps.PartitionKey, ps.Version, verify.DataProblems(err)); perr != nil {
						return failedError(perr)
					}
					if err != nil && repair {
						if fixed, rerr := verify.RepairPointer(ctx, st, bucket, key, ps); rerr != nil {
							err = errors.Join(err, rerr)
						} else if fixed {
							r.Problem, err = "pointer repaired", nil
						}
					}
					if err != nil {
						r.OK, r.Problem = false, strings.ReplaceAll(err.Error(), "\n", "; ")
						bad++
						a.alertMismatch(ctx, alerts, r)
					}
					rows = append(rows, r)
				}
			}
			if a.output == "json" {
				if rows == nil {
					rows = []verifyRow{}
				}
				if err := a.json(rows); err != nil {
					return err
				}
			} else {
				a.printVerify(rows, bad, verbose)
			}
			if bad > 0 {
				return failedError(fmt.Errorf("%d of %d partitions do not match what was promoted", bad, len(rows)))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&selection, "select", "s", "*", "assets to verify")
	parts.register(cmd.Flags(), "only these partitions")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every partition verified, not only the mismatches")
	cmd.Flags().BoolVar(&repair, "repair-pointers", false, "rewrite missing or stale pointers of versions whose files verify")
	return cmd
}

// verifyRow is one partition's verification.
type verifyRow struct {
	Asset     string `json:"asset"`
	Partition string `json:"partition"`
	Version   string `json:"version"`
	Files     int    `json:"files"`
	Bytes     int64  `json:"bytes"`
	OK        bool   `json:"ok"`
	Problem   string `json:"problem,omitempty"`
}

// printVerify prints a summary per asset, then the mismatches and repairs
// (every partition with verbose).
func (a *app) printVerify(rows []verifyRow, bad int, verbose bool) {
	type sum struct {
		partitions, mismatched, repaired, files int
		bytes                                   int64
	}
	var assets []string
	sums := map[string]*sum{}
	var shown []verifyRow
	for _, r := range rows {
		s := sums[r.Asset]
		if s == nil {
			s = &sum{}
			sums[r.Asset] = s
			assets = append(assets, r.Asset)
		}
		s.partitions++
		s.files += r.Files
		s.bytes += r.Bytes
		switch {
		case !r.OK:
			s.mismatched++
		case r.Problem != "":
			s.repaired++
		}
		if verbose || !r.OK || r.Problem != "" {
			shown = append(shown, r)
		}
	}
	w := a.table()
	fmt.Fprintln(w, "ASSET\tPARTITIONS\tFILES\tBYTES\tMISMATCHED\tREPAIRED")
	for _, k := range assets {
		s := sums[k]
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\n", k, s.partitions, s.files, s.bytes, s.mismatched, s.repaired)
	}
	if len(shown) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "ASSET\tPARTITION\tVERSION\tFILES\tBYTES\tRESULT")
		for _, r := range shown {
			result := "ok"
			if r.Problem != "" {
				result = "ok (" + r.Problem + ")"
			}
			if !r.OK {
				result = "MISMATCH: " + r.Problem
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\n", r.Asset, r.Partition, r.Version, r.Files, r.Bytes, result)
		}
	}
	w.Flush()
	fmt.Fprintf(a.cfg.Stdout, "%s verified, %d mismatched\n", plural(int64(len(rows)), "partition"), bad)
}

// alertMismatch records a partition verify found altered as an alert,
// when the binary has alerts (svc not nil): the daemon delivers it.
func (a *app) alertMismatch(ctx context.Context, svc *alert.Service, r verifyRow) {
	if svc == nil {
		return
	}
	_, err := svc.Record(ctx, alert.Event{ID: "verify_mismatch:" + r.Asset + ":" + r.Partition + ":" + r.Version, Kind: alert.VerifyMismatch,
		Asset: r.Asset, Partitions: r.Partition, Message: fmt.Sprintf("%s %s (version %s) does not match what was promoted: %s", r.Asset, r.Partition, r.Version, r.Problem)})
	if err != nil {
		a.logger().Error("record a verify alert", "error", err)
	}
}
