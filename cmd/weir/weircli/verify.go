package weircli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"gocloud.dev/blob"

	"github.com/weir-dev/weir/internal/store"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/verify"
)

func (a *app) verifyCommand() *cobra.Command {
	var selection, rangeExpr string
	var repair bool
	cmd := &cobra.Command{
		Use:   "verify --select EXPR [--partition-range A...B] [--repair-pointers]",
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
			if selection == "" {
				return usageError(errors.New("--select is required, e.g. --select '*'"))
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
			type row struct {
				Asset     string `json:"asset"`
				Partition string `json:"partition"`
				Version   string `json:"version"`
				Files     int    `json:"files"`
				Bytes     int64  `json:"bytes"`
				OK        bool   `json:"ok"`
				Problem   string `json:"problem,omitempty"`
			}
			var rows []row
			bad := 0
			for _, key := range keys {
				as, _ := g.Definitions().Asset(key)
				def, err := scheduler.BindDefinition(ctx, st, as)
				if err != nil {
					return failedError(err)
				}
				var want partitions.Subset
				if rangeExpr != "" && !partitions.IsUnpartitioned(def) {
					if want, err = partitions.Parse(def, rangeExpr, a.cfg.Clock.Now()); err != nil {
						return usageError(fmt.Errorf("asset %q: %w", key, err))
					}
				}
				status, err := st.PartitionStatusList(ctx, key)
				if err != nil {
					return failedError(err)
				}
				for _, ps := range status {
					if ps.Version == "" {
						continue
					}
					if rangeExpr != "" && !partitions.IsUnpartitioned(def) {
						i, err := def.Index(ps.PartitionKey)
						if err != nil || !want.Contains(i) {
							continue
						}
					}
					r := row{Asset: key, Partition: ps.PartitionKey, Version: ps.Version, OK: true}
					m, err := verify.Audit(ctx, bucket, key, ps.PartitionKey, ps.Version, ps.ManifestSHA256)
					if m != nil {
						r.Files, r.Bytes = len(m.Files), m.Bytes()
					}
					if err != nil && repair {
						if fixed, rerr := a.repairPointer(ctx, st, bucket, key, ps); rerr != nil {
							err = errors.Join(err, rerr)
						} else if fixed {
							r.Problem, err = "pointer repaired", nil
						}
					}
					if err != nil {
						r.OK, r.Problem = false, strings.ReplaceAll(err.Error(), "\n", "; ")
						bad++
					}
					rows = append(rows, r)
				}
			}
			if a.output == "json" {
				if rows == nil {
					rows = []row{}
				}
				if err := a.json(rows); err != nil {
					return err
				}
			} else {
				w := a.table()
				fmt.Fprintln(w, "ASSET\tPARTITION\tVERSION\tFILES\tBYTES\tRESULT")
				for _, r := range rows {
					result := "ok"
					if r.Problem != "" {
						result = "ok (" + r.Problem + ")"
					}
					if !r.OK {
						result = "MISMATCH: " + r.Problem
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\n", r.Asset, r.Partition, r.Version, r.Files, r.Bytes, result)
				}
				w.Flush()
				fmt.Fprintf(a.cfg.Stdout, "%s verified, %d mismatched\n", plural(int64(len(rows)), "partition"), bad)
			}
			if bad > 0 {
				return failedError(fmt.Errorf("%d of %d partitions do not match what was promoted", bad, len(rows)))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&selection, "select", "s", "", "assets to verify (required)")
	cmd.Flags().StringVar(&rangeExpr, "partition-range", "", "only these partitions (FIRST...LAST, or keys)")
	cmd.Flags().BoolVar(&repair, "repair-pointers", false, "rewrite missing or stale pointers of versions whose files verify")
	return cmd
}

// repairPointer rewrites a partition's pointer from the state store when the
// current version's manifest and files verify and only the pointer is
// missing or stale. It reports whether it wrote one.
func (a *app) repairPointer(ctx context.Context, st store.Store, b *blob.Bucket, asset string, ps store.PartitionStatus) (bool, error) {
	if _, err := verify.Verify(ctx, b, asset, ps.Version, []verify.PartitionVersion{{Key: ps.PartitionKey, Version: ps.Version, ManifestSHA256: ps.ManifestSHA256}}); err != nil {
		return false, nil // the files themselves are wrong: report, never paper over
	}
	ptr, err := verify.ReadPointer(ctx, b, asset, ps.PartitionKey)
	if err == nil && ptr.Version == ps.Version && ptr.ManifestSHA256 == ps.ManifestSHA256 {
		return false, nil
	}
	mats, err := st.MaterializationList(ctx, store.MaterializationListParams{Asset: asset, PartitionKey: ps.PartitionKey, Limit: -1})
	if err != nil {
		return false, err
	}
	for _, m := range mats {
		if m.Version == ps.Version {
			return true, verify.Publish(ctx, b, verify.Pointer{Asset: asset, Partition: ps.PartitionKey, Version: m.Version,
				ManifestSHA256: m.ManifestSHA256, PromotedAt: m.PromotedAt.UTC()}, scheduler.CurrentPointer(st, asset, ps.PartitionKey))
		}
	}
	return false, fmt.Errorf("no materialization of %s %s version %s in the state store", asset, ps.PartitionKey, ps.Version)
}
