package weircli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/provenance"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/verify"
)

// partitionShow prints one partition: its current version with manifest,
// the upstream versions it read, check results and its version history.
func (a *app) partitionShow(cmd *cobra.Command, key, partition string) error {
	ctx := cmd.Context()
	g, err := a.graph()
	if err != nil {
		return err
	}
	as, err := g.Asset(key)
	if err != nil {
		return usageError(err)
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	def, err := plan.BindDefinition(ctx, st, as)
	if err != nil {
		return failedError(err)
	}
	idx, err := partitions.Resolve(def, partition, a.cfg.Clock.Now())
	if err != nil {
		return usageError(fmt.Errorf("asset %q: %w", key, err))
	}
	bucket, err := a.openBucket(ctx)
	if err != nil {
		return err
	}
	defer bucket.Close()
	type out struct {
		Asset     string                `json:"asset"`
		Partition string                `json:"partition"`
		Version   string                `json:"version,omitempty"`
		Manifest  *verify.Manifest      `json:"manifest,omitempty"`
		Inputs    []provenance.Ref      `json:"inputs"`
		Failed    bool                  `json:"failed"`
		Error     string                `json:"error,omitempty"`
		History   []materializationJSON `json:"history"`
		Checks    []checkJSON           `json:"checks"`
	}
	o := out{Asset: key, Partition: partition, Inputs: []provenance.Ref{}, History: []materializationJSON{}, Checks: []checkJSON{}}
	cur, err := st.PartitionStatusList(ctx, key)
	if err != nil {
		return failedError(err)
	}
	for _, ps := range cur {
		if ps.PartitionKey != partition {
			continue
		}
		o.Version, o.Failed, o.Error = ps.Version, ps.Failed, ps.Error
		if ps.Version != "" {
			if o.Manifest, err = verify.ReadManifest(ctx, bucket, key, partition, ps.Version, ps.ManifestSHA256); err != nil {
				o.Error = "manifest: " + err.Error()
			}
			if ins, err := st.MaterializationInputs(ctx, ps.MaterializationID); err == nil && ins != nil {
				o.Inputs = provenance.Refs(ins)
			}
		}
	}
	mats, err := st.MaterializationList(ctx, store.MaterializationListParams{Asset: key, PartitionKey: partition, Limit: 20})
	if err != nil {
		return failedError(err)
	}
	for _, m := range mats {
		o.History = append(o.History, materializationJSON{Partition: m.PartitionKey, Version: m.Version, RunID: m.RunID, Attempt: m.Attempt,
			Files: m.Files, Bytes: m.Bytes, Manifest: m.ManifestSHA256, Promoted: m.PromotedAt})
	}
	checks, err := st.CheckResultList(ctx, store.CheckResultListParams{Asset: key, Limit: 200})
	if err != nil {
		return failedError(err)
	}
	for _, c := range checks {
		if s, err := partitions.Parse(def, c.Partitions, a.cfg.Clock.Now()); err == nil && s.Contains(idx) {
			o.Checks = append(o.Checks, checkJSON{Name: c.Name, Partitions: c.Partitions, RunID: c.RunID, Attempt: c.Attempt, Warn: c.Warn,
				Passed: c.Passed, Value: c.Value, Error: c.Error})
		}
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
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\n", c.Name, c.RunID, c.Attempt, c.result(), dash(c.Value))
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
