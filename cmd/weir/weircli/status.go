package weircli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/plan"
)

// assetStatusJSON is one asset as `assets status -o json` shows it: each
// state as a count and partition ranges.
type assetStatusJSON struct {
	Asset   string            `json:"asset"`
	Fresh   rangesJSON        `json:"fresh"`
	Stale   rangesJSON        `json:"stale"`
	Missing rangesJSON        `json:"missing"`
	Failed  rangesJSON        `json:"failed"`
	Running rangesJSON        `json:"running"`
	Why     []staleReasonJSON `json:"why_stale"`
}

type staleReasonJSON struct {
	Why    string `json:"why"`
	Count  int64  `json:"count"`
	Ranges string `json:"ranges"`
}

func (a *app) assetsStatusCommand() *cobra.Command {
	var selection string
	cmd := &cobra.Command{
		Use:   "status [--select EXPR]",
		Short: "Per asset: fresh, stale (and why), missing, failed and running partitions, as ranges",
		Long: `status says, per asset, which partitions are fresh, stale, missing, failed or
running, as ranges with counts. A partition is stale when the code version that made
its current version is not the asset's, when a partition it read has another current
version now, or when a partition it reads is stale; each stale range says why.
--reprocess stale (materialize, backfill) runs exactly the stale partitions.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g, keys, err := a.selectAssets(selection)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			now := a.cfg.Clock.Now()
			stale, err := plan.Staleness(ctx, st, g, now)
			if err != nil {
				return failedError(err)
			}
			var out []assetStatusJSON
			for _, key := range keys {
				as, _ := g.Asset(key)
				def, err := plan.BindDefinition(ctx, st, as)
				if err != nil {
					return failedError(err)
				}
				status, err := plan.ReadStatus(ctx, st, key, def)
				if err != nil {
					return failedError(err)
				}
				running, _, _, err := plan.InFlight(ctx, st, key, def)
				if err != nil {
					return failedError(err)
				}
				s := stale[key]
				exists := partitions.Span(0, def.Len(now))
				j := assetStatusJSON{Asset: key, Fresh: ranges(def, status.Materialized.Difference(s.All)), Stale: ranges(def, s.All),
					Missing: ranges(def, exists.Difference(status.Materialized)), Failed: ranges(def, status.Failed), Running: ranges(def, running),
					Why: []staleReasonJSON{}}
				for _, r := range s.Reasons {
					j.Why = append(j.Why, staleReasonJSON{Why: r.Why, Count: r.Partitions.Len(), Ranges: partitions.Format(def, r.Partitions)})
				}
				out = append(out, j)
			}
			if a.output == "json" {
				return a.json(out)
			}
			w := a.table()
			fmt.Fprintln(w, "ASSET\tFRESH\tSTALE\tMISSING\tFAILED\tRUNNING")
			for _, j := range out {
				fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\n", j.Asset, j.Fresh.Count, j.Stale.Count, j.Missing.Count, j.Failed.Count, j.Running.Count)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			for _, j := range out {
				for _, r := range j.Why {
					fmt.Fprintf(a.cfg.Stdout, "%s stale %s (%d): %s\n", j.Asset, r.Ranges, r.Count, r.Why)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&selection, "select", "*", "assets to show (a selection expression)")
	return cmd
}
