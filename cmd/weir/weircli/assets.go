package weircli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/provenance"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

func (a *app) assetsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "assets", Short: "List and inspect assets"}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List assets with their partitions and how many are materialized",
		Args:  noArgs,
		RunE:  a.assetsList,
	}, a.assetsShowCommand(), a.assetsStatusCommand())
	return cmd
}

func (a *app) assetsShowCommand() *cobra.Command {
	var partition string
	cmd := &cobra.Command{
		Use:   "show KEY [--partition K]",
		Short: "Show an asset (definition, deps, partition status as ranges) or one partition (version, manifest, inputs, checks, history)",
		Args:  exactArgs(1, "one asset key"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if partition != "" {
				return a.partitionShow(cmd, args[0], partition)
			}
			return a.assetsShow(cmd, args)
		},
	}
	cmd.Flags().StringVarP(&partition, "partition", "p", "", "show this partition: current version, manifest, checksums, inputs, check results, history")
	return cmd
}

// assetStatus is an asset's partitions as interval sets. Each existing
// partition is in exactly one of materialized, failed and missing.
type assetStatus struct {
	def                       partitions.Definition
	all, materialized, failed partitions.Subset
	missing                   partitions.Subset
	// failedWithVersion are the failed partitions whose last attempt
	// failed after an earlier version was promoted: readers still get it.
	failedWithVersion partitions.Subset
}

func (a *app) status(ctx context.Context, st store.Store, as *pipelines.Asset, now time.Time) (*assetStatus, error) {
	def, err := plan.BindDefinition(ctx, st, as)
	if err != nil {
		return nil, err
	}
	cur, err := plan.ReadStatus(ctx, st, as.Key, def)
	if err != nil {
		return nil, failedError(err)
	}
	s := &assetStatus{def: def, all: partitions.All(def, now)}
	s.failed = cur.Failed.Intersect(s.all)
	s.materialized = cur.Materialized.Difference(cur.Failed).Intersect(s.all)
	s.failedWithVersion = s.failed.Intersect(cur.Materialized)
	s.missing = s.all.Difference(s.materialized).Difference(s.failed)
	return s, nil
}

type assetJSON struct {
	Key          string     `json:"key"`
	Description  string     `json:"description,omitempty"`
	Group        string     `json:"group,omitempty"`
	Tags         []string   `json:"tags,omitempty"`
	CodeVersion  string     `json:"code_version,omitempty"`
	Pool         string     `json:"pool"`
	Partitions   string     `json:"partitions"`
	Deps         []depJSON  `json:"deps"`
	Dependents   []string   `json:"dependents"`
	Checks       []string   `json:"checks,omitempty"`
	Existing     int64      `json:"partitions_existing"`
	Materialized rangesJSON `json:"materialized"`
	Failed       rangesJSON `json:"failed"`
	Missing      rangesJSON `json:"missing"`
	// FailedWithOlderVersion are the failed partitions that still serve
	// an earlier promoted version; they are counted in Failed only.
	FailedWithOlderVersion rangesJSON                   `json:"failed_with_older_version"`
	Latest                 []provenance.Materialization `json:"latest_materializations,omitempty"`
	CheckResults           []provenance.CheckResult     `json:"latest_checks,omitempty"`
}

// result says how a check went, in a few words.
type depJSON struct {
	Asset   string `json:"asset"`
	Mapping string `json:"mapping"`
}

type rangesJSON = partitions.Summary

func ranges(def partitions.Definition, s partitions.Subset) rangesJSON {
	return partitions.Summarize(def, s)
}

func describe(g *lineage.Graph, as *pipelines.Asset, s *assetStatus) assetJSON {
	j := assetJSON{Key: as.Key, Description: as.Description, Group: as.Group, Tags: as.Tags, CodeVersion: as.CodeVersion, Pool: as.PoolName(), Checks: as.CheckLabels(),
		Partitions: s.def.String(), Dependents: g.Dependents(as.Key), Existing: s.all.Len(),
		Materialized: ranges(s.def, s.materialized), Failed: ranges(s.def, s.failed), Missing: ranges(s.def, s.missing),
		FailedWithOlderVersion: ranges(s.def, s.failedWithVersion)}
	for _, d := range as.Deps {
		j.Deps = append(j.Deps, depJSON{Asset: d.Asset, Mapping: g.Mapping(as.Key, d.Asset).String()})
	}
	if j.Deps == nil {
		j.Deps = []depJSON{}
	}
	if j.Dependents == nil {
		j.Dependents = []string{}
	}
	return j
}

func (a *app) assetsList(cmd *cobra.Command, _ []string) error {
	ctx := cmd.Context()
	g, err := a.graph()
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	now := a.cfg.Clock.Now()
	var out []assetJSON
	for _, as := range g.Assets() {
		s, err := a.status(ctx, st, as, now)
		if err != nil {
			return err
		}
		out = append(out, describe(g, as, s))
	}
	if a.output == "json" {
		return a.json(out)
	}
	w := a.table()
	fmt.Fprintln(w, "ASSET\tGROUP\tPARTITIONS\tDEPS\tMATERIALIZED\tFAILED")
	for _, j := range out {
		var deps []string
		for _, d := range j.Deps {
			deps = append(deps, d.Asset)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d/%d\t%d\n", j.Key, dash(j.Group), j.Partitions, dash(strings.Join(deps, ",")),
			j.Materialized.Count, j.Existing, j.Failed.Count)
	}
	return w.Flush()
}

// graphAsset returns the asset graph and its asset key; an unknown key is
// a usage error naming the assets there are.
func (a *app) graphAsset(key string) (*lineage.Graph, *pipelines.Asset, error) {
	g, err := a.graph()
	if err != nil {
		return nil, nil, err
	}
	as, err := g.Asset(key)
	if err != nil {
		return nil, nil, usageError(err)
	}
	return g, as, nil
}

func (a *app) assetsShow(cmd *cobra.Command, args []string) error {
	ctx := cmd.Context()
	g, as, err := a.graphAsset(args[0])
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := a.status(ctx, st, as, a.cfg.Clock.Now())
	if err != nil {
		return err
	}
	j := describe(g, as, s)
	mats, err := st.MaterializationList(ctx, store.MaterializationListParams{Asset: as.Key, Limit: 5})
	if err != nil {
		return failedError(err)
	}
	for _, m := range mats {
		j.Latest = append(j.Latest, provenance.NewMaterialization(m))
	}
	checks, err := st.CheckResultList(ctx, store.CheckResultListParams{Asset: as.Key, Limit: 8})
	if err != nil {
		return failedError(err)
	}
	for _, c := range checks {
		j.CheckResults = append(j.CheckResults, provenance.NewCheckResult(c))
	}
	if a.output == "json" {
		return a.json(j)
	}
	w := a.table()
	var deps []string
	for _, d := range j.Deps {
		deps = append(deps, fmt.Sprintf("%s (%s)", d.Asset, d.Mapping))
	}
	retry := as.Retry.Attempts()
	rows := [][2]string{
		{"asset", j.Key}, {"description", dash(j.Description)}, {"group", dash(j.Group)}, {"tags", dash(strings.Join(j.Tags, ", "))},
		{"code version", dash(j.CodeVersion)}, {"pool", j.Pool},
		{"retry", fmt.Sprintf("%d attempt(s)", retry)}, {"timeout", timeoutString(as.Timeout)},
		{"partitions", fmt.Sprintf("%s (%d exist now)", j.Partitions, j.Existing)},
		{"deps", dash(strings.Join(deps, ", "))}, {"dependents", dash(strings.Join(j.Dependents, ", "))},
		{"checks", dash(strings.Join(j.Checks, ", "))},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%s:\t%s\n", r[0], r[1])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "STATUS\tCOUNT\tPARTITIONS")
	for _, r := range []struct {
		name string
		r    rangesJSON
	}{{"materialized", j.Materialized}, {"failed", j.Failed}, {"missing", j.Missing}} {
		fmt.Fprintf(w, "%s\t%d\t%s\n", r.name, r.r.Count, dash(r.r.Ranges))
	}
	if n := j.FailedWithOlderVersion.Count; n > 0 {
		fmt.Fprintf(w, "\t\t(%d of the failed still serve an older version: %s)\n", n, j.FailedWithOlderVersion.Ranges)
	}
	if len(j.Latest) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "LATEST\tVERSION\tRUN\tATTEMPT\tFILES\tBYTES\tPROMOTED")
		for _, m := range j.Latest {
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", m.Partition, m.Version, m.RunID, m.Attempt, m.Files, m.Bytes, fmtTime(m.Promoted))
		}
	}
	if len(j.CheckResults) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "CHECK\tPARTITIONS\tRUN\tATTEMPT\tRESULT\tVALUE")
		for _, c := range j.CheckResults {
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\n", c.Name, c.Partitions, c.RunID, c.Attempt, scheduler.CheckOutcome(c.Warn, c.Passed, c.Error), dash(c.Value))
		}
	}
	return w.Flush()
}

func timeoutString(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return d.String()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
