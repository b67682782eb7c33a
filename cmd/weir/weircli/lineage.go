package weircli

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/lineage/openlineage"
)

func (a *app) lineageCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "lineage", Short: "Export runtime lineage"}
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
--blob.`,
		Args: exactArgs(1, "one run id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, run, err := a.openRun(ctx, args[0], "")
			if err != nil {
				return err
			}
			defer st.Close()
			evs, err := openlineage.FromRun(ctx, st, run.ID, redactURL(a.blob))
			if err != nil {
				return failedError(err)
			}
			enc := json.NewEncoder(a.cfg.Stdout)
			for _, ev := range evs {
				if err := enc.Encode(ev); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.AddCommand(events)
	return cmd
}
