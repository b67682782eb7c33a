package weircli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/api"
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
	// Late are partitions past a freshness deadline (weircli.Config.Alerts)
	// without a promoted version.
	Late []api.LateRanges `json:"late"`
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
--reprocess stale (materialize, backfill) runs exactly the stale partitions.

Fresh, stale and missing add up to the partitions that exist now; failed and
running count some of them again: a partition whose last attempt failed may still
have a current version, and one queued or running is also fresh, stale or missing.`,
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
					Why: []staleReasonJSON{}, Late: api.LateOf(a.cfg.Alerts, h, now)}
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
				for _, l := range j.Late {
					fmt.Fprintf(a.cfg.Stdout, "%s late %s (%d): %s; the oldest %s past its deadline (%s)\n", j.Asset, l.Ranges, l.Count, l.Why,
						humanDuration(time.Duration(l.LateBySeconds)*time.Second), l.Deadline)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&selection, "select", "*", "assets to show (a selection expression)")
	return cmd
}

// humanDuration prints d in days and hours beyond two days: "1064d 17h",
// not "25553h27m12s".
func humanDuration(d time.Duration) string {
	if d < 48*time.Hour {
		return d.Round(time.Second).String()
	}
	return fmt.Sprintf("%dd %dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
}
