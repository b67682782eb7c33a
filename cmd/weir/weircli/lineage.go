package weircli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/lineage/openlineage"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/provenance"
)

func (a *app) lineageCommand() *cobra.Command {
	var (
		partition            string
		upstream, downstream bool
		depth                int
	)
	cmd := &cobra.Command{
		Use:   "lineage KEY [--partition K] [--upstream|--downstream] [--depth N] [-o table|json|dot|mermaid]",
		Short: "What a partition's current version was computed from, or what reads it; or the asset graph around KEY",
		Long: `lineage KEY shows the asset graph around KEY: the assets it depends on
(--upstream, the default) or that depend on it (--downstream).

With --partition, it shows runtime lineage: the exact versions the partition's
current version read, transitively down to the sources (--upstream), or the current
versions of downstream partitions that read it (--downstream, its impact). --depth
limits the levels (-1: all). Output: an indented tree, JSON, Graphviz dot or
Mermaid, their edges the way data flows.`,
		Annotations: map[string]string{outputFormats: "table,json,dot,mermaid"},
		Args:        exactArgs(1, "one asset key"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if upstream && downstream {
				return usageError(fmt.Errorf("--upstream and --downstream: choose one"))
			}
			if depth < -1 {
				return usageError(fmt.Errorf("--depth %d must be -1 (all) or more", depth))
			}
			up := !downstream
			g, as, err := a.graphAsset(args[0])
			if err != nil {
				return err
			}
			var root *provenance.Node
			if partition == "" {
				if root, err = provenance.AssetTree(g, as.Key, up, depth); err != nil {
					return usageError(err)
				}
			} else {
				ctx := cmd.Context()
				st, err := a.openStore(ctx)
				if err != nil {
					return err
				}
				defer st.Close()
				def, err := plan.BindDefinition(ctx, st, as)
				if err != nil {
					return failedError(err)
				}
				if _, err := def.Index(partition); err != nil {
					return usageError(fmt.Errorf("asset %s: %w", as.Key, err))
				}
				walk := provenance.Upstream
				if !up {
					walk = provenance.Downstream
				}
				if root, err = walk(ctx, st, as.Key, partition, depth); errors.Is(err, provenance.ErrNotMaterialized) {
					return usageError(err)
				} else if err != nil {
					return failedError(err)
				}
			}
			switch a.output {
			case "json":
				return a.json(root)
			case "dot":
				return provenance.WriteDot(a.cfg.Stdout, root, up)
			case "mermaid":
				return provenance.WriteMermaid(a.cfg.Stdout, root, up)
			}
			return provenance.WriteText(a.cfg.Stdout, root)
		},
	}
	var diffPartition, from, to string
	diff := &cobra.Command{
		Use:   "diff KEY --partition K --from VERSION --to VERSION",
		Short: "Two promoted versions of a partition side by side: code, checksums, size, inputs, checks",
		Args:  exactArgs(1, "one asset key"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if diffPartition == "" || from == "" || to == "" {
				return usageError(fmt.Errorf("give --partition, --from and --to (versions: weir assets show %s --partition K)", args[0]))
			}
			_, as, err := a.graphAsset(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			d, err := provenance.Diff(ctx, st, as.Key, diffPartition, from, to)
			if err != nil {
				return usageError(err)
			}
			if a.output == "json" {
				return a.json(d)
			}
			w := a.table()
			fmt.Fprintln(w, "FIELD\tFROM\tTO")
			row := func(field string, f, t any) { fmt.Fprintf(w, "%s\t%v\t%v%s\n", field, f, t, changed(f, t)) }
			row("version", d.From.Version, d.To.Version)
			row("code version", d.From.CodeVersion, d.To.CodeVersion)
			row("run", d.From.RunID, d.To.RunID)
			row("manifest sha256", d.From.ManifestSHA256, d.To.ManifestSHA256)
			row("files", d.From.Files, d.To.Files)
			row("bytes", d.From.Bytes, d.To.Bytes)
			row("promoted", fmtTime(d.From.PromotedAt), fmtTime(d.To.PromotedAt))
			for _, in := range d.Inputs {
				row("input "+in.Asset+" "+in.Partition, dash(in.From), dash(in.To))
			}
			checks := map[string][2]string{}
			var names []string
			for i, side := range []provenance.Side{d.From, d.To} {
				for _, c := range side.Checks {
					v, ok := checks[c.Name]
					if !ok {
						names = append(names, c.Name)
					}
					res := "passed"
					switch {
					case !c.Passed && c.Warn:
						res = "warned"
					case !c.Passed:
						res = "failed"
					}
					if c.Value != "" {
						res += " (" + c.Value + ")"
					}
					v[i] = res
					checks[c.Name] = v
				}
			}
			for _, n := range names {
				row("check "+n, dash(checks[n][0]), dash(checks[n][1]))
			}
			return w.Flush()
		},
	}
	diff.Flags().StringVar(&diffPartition, "partition", "", "the partition")
	diff.Flags().StringVar(&from, "from", "", "the older version")
	diff.Flags().StringVar(&to, "to", "", "the newer version")
	cmd.AddCommand(diff)
	cmd.Flags().StringVar(&partition, "partition", "", "a partition: show its current version's runtime lineage")
	cmd.Flags().BoolVar(&upstream, "upstream", false, "what it was computed from (the default)")
	cmd.Flags().BoolVar(&downstream, "downstream", false, "what reads it")
	cmd.Flags().IntVar(&depth, "depth", -1, "levels to show; -1 means all")
	events := &cobra.Command{
		Use:   "events RUN_ID",
		Short: "Print a run's OpenLineage events (newline-delimited JSON)",
		Long: `events prints the OpenLineage (spec 2-0-2) run events of a run or backfill, one
JSON object a line, ready to POST to a lineage backend (Marquez, DataHub, ...):
for each task a START event and a COMPLETE (inputs: the upstream partition
versions it read; outputs: the versions it promoted, with their size and the
results of the checks that gated promotion as a dataQualityAssertions facet), FAIL
or ABORT event. Each task is a run of the job named after its asset, with the
weir run as its parent. Datasets are "<asset>/<partition>" in the namespace of
--blob. Events come in time order within each 1,000 tasks, in task order across
them, as they are read: memory stays small however large the run.`,
		Args: exactArgs(1, "one run id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, run, err := a.openRun(ctx, args[0], "")
			if err != nil {
				return err
			}
			defer st.Close()
			enc := json.NewEncoder(a.cfg.Stdout)
			var werr error
			err = openlineage.EachRunEvent(ctx, st, run.ID, namespace(a.blob), func(ev openlineage.RunEvent) error {
				werr = enc.Encode(ev)
				return werr
			})
			if werr != nil {
				return werr
			}
			if err != nil {
				return failedError(err)
			}
			return nil
		},
	}
	cmd.AddCommand(events)
	return cmd
}

// changed marks a diff row whose sides differ.
func changed(from, to any) string {
	if fmt.Sprint(from) != fmt.Sprint(to) {
		return "\t*"
	}
	return ""
}
