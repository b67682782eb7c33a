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
			health, err := plan.AssetHealth(ctx, st, g, keys, now)
			if err != nil {
				return failedError(err)
			}
			out := make([]assetStatusJSON, 0, len(health))
			for _, h := range health {
				j := assetStatusJSON{Asset: h.Asset, Fresh: ranges(h.Def, h.Fresh), Stale: ranges(h.Def, h.Stale),
					Missing: ranges(h.Def, h.Missing), Failed: ranges(h.Def, h.Failed), Running: ranges(h.Def, h.Running),
					Why: []staleReasonJSON{}}
				for _, r := range h.Why {
					j.Why = append(j.Why, staleReasonJSON{Why: r.Why, Count: r.Partitions.Len(), Ranges: partitions.Format(h.Def, r.Partitions)})
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
