package weircli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/provenance"
	"github.com/weir-dev/weir/scheduler"
)

// partitionShow prints one partition: its current version with manifest,
// the upstream versions it read, check results and its version history.
func (a *app) partitionShow(cmd *cobra.Command, key, partition string) error {
	ctx := cmd.Context()
	g, err := a.graph()
	if err != nil {
		return err
	}
	st, bucket, closeAll, err := a.openBoth(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	o, err := provenance.Describe(ctx, st, bucket, g, key, partition, a.cfg.Clock.Now())
	var bad *provenance.InputError
	if errors.As(err, &bad) {
		return usageError(err)
	}
	if err != nil {
		return failedError(err)
	}
	if a.output == "json" {
		return a.json(o)
	}
	w := a.table()
	status := "never materialized"
	switch {
	case o.Version != "" && o.Failed:
		status = "materialized; the last attempt failed: " + firstLine(o.Error)
	case o.Version != "":
		status = "materialized"
	case o.Failed:
		status = "failed: " + firstLine(o.Error)
	}
	fmt.Fprintf(w, "asset:\t%s\npartition:\t%s\nstatus:\t%s\nversion:\t%s\n", key, partition, status, dash(o.Version))
	if o.Manifest != nil {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "FILE\tBYTES\tROWS\tSHA256\tSCHEMA")
		for _, f := range o.Manifest.Files {
			rows := "-"
			if f.Rows != nil {
				rows = fmt.Sprint(*f.Rows)
			}
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", f.Name, f.Size, rows, f.SHA256, dash(f.Schema))
		}
	}
	if len(o.Inputs) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "READ FROM\tPARTITION\tVERSION")
		for _, in := range o.Inputs {
			fmt.Fprintf(w, "%s\t%s\t%s\n", in.Asset, in.Partition, in.Version)
		}
	}
	if len(o.Checks) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "CHECK\tRUN\tATTEMPT\tRESULT\tVALUE")
		for _, c := range o.Checks {
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\n", c.Name, c.RunID, c.Attempt, scheduler.CheckOutcome(c.Warn, c.Passed, c.Error), dash(c.Value))
		}
	}
	if len(o.History) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "HISTORY\tRUN\tATTEMPT\tFILES\tBYTES\tPROMOTED")
		for _, m := range o.History {
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%s\n", m.Version, m.RunID, m.Attempt, m.Files, m.Bytes, fmtTime(m.Promoted))
		}
	}
	return w.Flush()
}
