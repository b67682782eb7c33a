package weircli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/verify"
)

func (a *app) verifyCommand() *cobra.Command {
	var selection, rangeExpr string
	cmd := &cobra.Command{
		Use:   "verify --select EXPR [--partition-range A...B]",
		Short: "Re-verify published partitions against their manifests and the state store; exit 1 on any mismatch",
		Long: `verify reads every current version of the selected partitions back from object
storage: the manifest against the checksum the state store recorded at promotion,
each file against its size and SHA-256, and the partition's _current.json pointer
against the store. It exits 1 if anything does not match: run it nightly.`,
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
	return cmd
}
