package openlineage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/examples/nightly"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/lineage/openlineage"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
)

// schemas compiles the OpenLineage schemas in testdata/schemas (no
// network), with formats (uuid, uri, date-time) asserted.
func schemas(t *testing.T) *jsonschema.Compiler {
	t.Helper()
	dir := filepath.Join("testdata", "schemas") // copied from the team's shared/openlineage
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("OpenLineage schemas not found in %s: %v", dir, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func validate(t *testing.T, c *jsonschema.Compiler, url string, v any) {
	t.Helper()
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s: %v", url, err)
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("%s does not validate against %s: %v", data, url, err)
	}
}

// TestEventsValidate runs two days of the example pipeline (its
// cleaned_orders checks included) and validates every event, and every
// facet against its own schema.
func TestEventsValidate(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
	clk := clock.NewFake(time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC))
	g := lineage.Must(nightly.Assets()...)
	pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, plan.Request{Selection: "*", Partitions: "2024-01-01...2024-01-02"}, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	tg, err := pl.Expand()
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&scheduler.Executor{Store: st, Bucket: bucket, Clock: clk}).Run(ctx, tg, scheduler.RunOpts{})
	if err != nil || res.Status != store.RunSucceeded {
		t.Fatalf("run %v %v", res, err)
	}
	events, err := openlineage.FromRun(ctx, st, res.RunID, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 16 { // 8 tasks: START and COMPLETE each
		t.Fatalf("%d events", len(events))
	}
	// Streamed three tasks at a time: the same events.
	restore := openlineage.SetEventPage(3)
	var streamed []string
	err = openlineage.EachRunEvent(ctx, st, res.RunID, "mem://", func(ev openlineage.RunEvent) error {
		streamed = append(streamed, ev.EventType+" "+ev.Run.RunID+" "+fmt.Sprint(len(ev.Inputs), len(ev.Outputs)))
		return nil
	})
	restore()
	var all []string
	for _, ev := range events {
		all = append(all, ev.EventType+" "+ev.Run.RunID+" "+fmt.Sprint(len(ev.Inputs), len(ev.Outputs)))
	}
	slices.Sort(streamed)
	slices.Sort(all)
	if err != nil || !slices.Equal(streamed, all) {
		t.Fatalf("streamed in pages of 3: %v %v\nall at once: %v", streamed, err, all)
	}
	c := schemas(t)
	facetSchemas := map[string]string{
		"dataQualityAssertions": "https://openlineage.io/spec/facets/1-1-0/DataQualityAssertionsDatasetFacet.json#/$defs/DataQualityAssertionsDatasetFacet",
		"outputStatistics":      "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet",
		"parent":                "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet",
		"version":               "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
	}
	quality, versions := 0, 0
	for _, ev := range events {
		validate(t, c, openlineage.SchemaURL, ev)
		for name, f := range ev.Run.Facets {
			if url, ok := facetSchemas[name]; ok {
				validate(t, c, url, f)
			}
		}
		for _, ds := range append(ev.Inputs, ev.Outputs...) {
			for name, f := range ds.Facets {
				url, ok := facetSchemas[name]
				if !ok {
					t.Errorf("dataset facet %q has no schema here", name)
					continue
				}
				validate(t, c, url, f)
				switch name {
				case "dataQualityAssertions":
					quality++
				case "version":
					versions++
				}
			}
			for name, f := range ds.OutputFacets {
				validate(t, c, facetSchemas[name], f)
			}
		}
		if ev.EventType == "COMPLETE" && ev.Job.Name == "daily_revenue" && (len(ev.Inputs) != 1 || ev.Inputs[0].Name[:len("cleaned_orders/")] != "cleaned_orders/") {
			t.Errorf("daily_revenue's inputs %+v", ev.Inputs)
		}
	}
	if quality != 2 { // cleaned_orders, two partitions
		t.Errorf("%d dataQualityAssertions facets, want 2", quality)
	}
	if versions == 0 {
		t.Error("no dataset carries a version facet")
	}
}
