// Package openlineage turns what the state store recorded about a run into
// OpenLineage (spec 2-0-2) run events, so lineage tools (Marquez, DataHub,
// OpenMetadata...) can show what each partition version was computed from
// and how its checks went.
//
// Each task of a weir run is an OpenLineage run of the job named after the
// task's asset, with the weir run as its parent: a START event when the
// task started, then COMPLETE (with the partition versions it read as
// inputs, the versions it promoted as outputs, their sizes, and the results
// of the checks that gated promotion as a dataQualityAssertions facet) or
// FAIL (with the error). Datasets are named "<asset>/<partition>", the
// stable path readers use, in the namespace of the blob root.
package openlineage

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/weir-dev/weir/store"
)

// Schema URLs of the spec and facets the events use.
const (
	SchemaURL         = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
	parentURL         = "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet"
	errorURL          = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
	qualityURL        = "https://openlineage.io/spec/facets/1-1-0/DataQualityAssertionsDatasetFacet.json#/$defs/DataQualityAssertionsDatasetFacet"
	outputStatsURL    = "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"
	Producer          = "https://github.com/weir-dev/weir"
	JobNamespace      = "weir"
	runJobName        = "weir.run"
	uuidNamespaceName = "weir.dev/openlineage"
)

// RunEvent is an OpenLineage run event.
type RunEvent struct {
	EventType string    `json:"eventType"`
	EventTime time.Time `json:"eventTime"`
	Producer  string    `json:"producer"`
	SchemaURL string    `json:"schemaURL"`
	Run       Run       `json:"run"`
	Job       Job       `json:"job"`
	Inputs    []Dataset `json:"inputs"`
	Outputs   []Dataset `json:"outputs"`
}

// Run is the run an event is about.
type Run struct {
	RunID  string         `json:"runId"`
	Facets map[string]any `json:"facets,omitempty"`
}

// Job is the job that runs.
type Job struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Dataset is an input or output dataset with its facets.
type Dataset struct {
	Namespace    string         `json:"namespace"`
	Name         string         `json:"name"`
	Facets       map[string]any `json:"facets,omitempty"`
	OutputFacets map[string]any `json:"outputFacets,omitempty"`
}

// Assertion is one entry of the dataQualityAssertions facet.
type Assertion struct {
	Assertion string `json:"assertion"`
	Success   bool   `json:"success"`
	Severity  string `json:"severity"`
	Name      string `json:"name"`
	Actual    string `json:"actual,omitempty"`
	Message   string `json:"description,omitempty"`
}

var uuidSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte(uuidNamespaceName))

// RunID returns the OpenLineage run id of a weir task (or, with task 0,
// of a weir run): a name-based UUID, the same every time it is exported.
func RunID(runID, taskID int64) string {
	return uuid.NewSHA1(uuidSpace, fmt.Appendf(nil, "run/%d/task/%d", runID, taskID)).String()
}

func facet(url string, fields map[string]any) map[string]any {
	fields["_producer"] = Producer
	fields["_schemaURL"] = url
	return fields
}

// FromRun builds the events of every started task of a run, ordered by
// time, naming datasets in namespace (the blob root's URL).
func FromRun(ctx context.Context, st store.Store, runID int64, namespace string) ([]RunEvent, error) {
	var events []RunEvent
	err := EachRunEvent(ctx, st, runID, namespace, func(ev RunEvent) error {
		events = append(events, ev)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].EventTime.Before(events[j].EventTime) })
	return events, nil
}

// eventPage is how many tasks EachRunEvent reads at a time (a variable
// for the tests).
var eventPage = 1000

// EachRunEvent calls fn with the events of a run's tasks, a page of tasks
// at a time, in time order within each page of 1,000 tasks (in task
// order across pages): memory stays bounded by the page whatever the
// run's size. FromRun is the same, all in time order.
func EachRunEvent(ctx context.Context, st store.Store, runID int64, namespace string, fn func(RunEvent) error) error {
	var after int64
	for {
		tasks, err := st.TaskList(ctx, store.TaskListParams{RunID: runID, AfterID: after, Limit: eventPage})
		if err != nil {
			return err
		}
		if len(tasks) == 0 {
			return nil
		}
		first, last := tasks[0].ID, tasks[len(tasks)-1].ID
		mats, err := st.MaterializationList(ctx, store.MaterializationListParams{RunID: runID, TaskID: first, TaskIDTo: last, Limit: -1})
		if err != nil {
			return err
		}
		checks, err := st.CheckResultList(ctx, store.CheckResultListParams{RunID: runID, TaskID: first, TaskIDTo: last, Limit: 1 << 30})
		if err != nil {
			return err
		}
		matsByTask := map[int64][]*store.Materialization{}
		for _, m := range mats {
			matsByTask[m.TaskID] = append(matsByTask[m.TaskID], m)
		}
		checksBy := map[attemptKey][]Assertion{}
		for _, c := range checks {
			checksBy[attemptKey{c.TaskID, c.Attempt}] = append(checksBy[attemptKey{c.TaskID, c.Attempt}], assertion(c))
		}
		var events []RunEvent
		for _, t := range tasks {
			evs, err := taskEvents(ctx, st, runID, t, matsByTask[t.ID], checksBy, namespace)
			if err != nil {
				return err
			}
			events = append(events, evs...)
		}
		sort.SliceStable(events, func(i, j int) bool { return events[i].EventTime.Before(events[j].EventTime) })
		for _, ev := range events {
			if err := fn(ev); err != nil {
				return err
			}
		}
		if len(tasks) < eventPage {
			return nil
		}
		after = last
	}
}

// versionURL is the DatasetVersionDatasetFacet's schema.
const versionURL = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"

// attemptKey names one attempt of one task.
type attemptKey struct {
	task    int64
	attempt int
}

// taskEvents returns the events of one task of a run: START once it
// started, then COMPLETE, FAIL or ABORT once it ended. mats are the task's
// materializations, checksBy the run's check results by attempt.
func taskEvents(ctx context.Context, st store.Store, runID int64, t *store.Task, mats []*store.Materialization,
	checksBy map[attemptKey][]Assertion, namespace string) ([]RunEvent, error) {
	parent := facet(parentURL, map[string]any{
		"run": map[string]any{"runId": RunID(runID, 0)},
		"job": map[string]any{"namespace": JobNamespace, "name": runJobName},
	})
	var events []RunEvent
	if t.StartedAt.IsZero() || t.Attempt == 0 {
		return nil, nil // never started
	}
	_, attempts, err := st.TaskGet(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	start := t.StartedAt
	if len(attempts) > 0 {
		start = attempts[0].StartedAt
	}
	base := RunEvent{Producer: Producer, SchemaURL: SchemaURL, Job: Job{Namespace: JobNamespace, Name: t.Asset},
		Run: Run{RunID: RunID(runID, t.ID), Facets: map[string]any{"parent": parent}}, Inputs: []Dataset{}, Outputs: []Dataset{}}
	ev := base
	ev.EventType, ev.EventTime = "START", start.UTC()
	events = append(events, ev)
	switch t.State {
	case store.TaskSucceeded:
		ev := base
		ev.EventType, ev.EventTime = "COMPLETE", t.FinishedAt.UTC()
		seen := map[string]bool{}
		for _, m := range mats {
			ins, err := st.MaterializationInputs(ctx, m.ID)
			if err != nil {
				return nil, err
			}
			for _, in := range ins {
				name := in.Asset + "/" + in.PartitionKey
				if !seen[name] {
					seen[name] = true
					ev.Inputs = append(ev.Inputs, Dataset{Namespace: namespace, Name: name, Facets: map[string]any{
						"version": facet(versionURL, map[string]any{"datasetVersion": in.Version})}})
				}
			}
			out := Dataset{Namespace: namespace, Name: m.Asset + "/" + m.PartitionKey,
				Facets:       map[string]any{"version": facet(versionURL, map[string]any{"datasetVersion": m.Version})},
				OutputFacets: map[string]any{"outputStatistics": facet(outputStatsURL, map[string]any{"size": m.Bytes, "fileCount": m.Files})}}
			if as := checksBy[attemptKey{t.ID, m.Attempt}]; len(as) > 0 {
				out.Facets["dataQualityAssertions"] = facet(qualityURL, map[string]any{"assertions": as})
			}
			ev.Outputs = append(ev.Outputs, out)
		}
		sort.Slice(ev.Inputs, func(i, j int) bool { return ev.Inputs[i].Name < ev.Inputs[j].Name })
		events = append(events, ev)
	case store.TaskFailed, store.TaskCancelled:
		ev := base
		ev.EventType, ev.EventTime = "FAIL", t.FinishedAt.UTC()
		if t.State == store.TaskCancelled {
			ev.EventType = "ABORT"
		}
		ev.Run.Facets = map[string]any{"parent": parent,
			"errorMessage": facet(errorURL, map[string]any{"message": t.Error, "programmingLanguage": "Go"})}
		events = append(events, ev)
	}
	return events, nil
}

// TaskEvents returns the events of one task, as FromRun does for a run's.
func TaskEvents(ctx context.Context, st store.Store, runID, taskID int64, namespace string) ([]RunEvent, error) {
	t, _, err := st.TaskGet(ctx, taskID)
	if err != nil {
		return nil, err
	}
	own, err := st.MaterializationList(ctx, store.MaterializationListParams{RunID: runID, TaskID: taskID, Limit: -1})
	if err != nil {
		return nil, err
	}
	checks, err := st.CheckResultList(ctx, store.CheckResultListParams{RunID: runID, TaskID: taskID, Limit: 1 << 30})
	if err != nil {
		return nil, err
	}
	checksBy := map[attemptKey][]Assertion{}
	for _, c := range checks {
		checksBy[attemptKey{c.TaskID, c.Attempt}] = append(checksBy[attemptKey{c.TaskID, c.Attempt}], assertion(c))
	}
	return taskEvents(ctx, st, runID, t, own, checksBy, namespace)
}

// assertion is a check result as a data quality assertion.
func assertion(c store.CheckResult) Assertion {
	sev := "error"
	if c.Warn {
		sev = "warn"
	}
	return Assertion{Assertion: c.Name, Name: c.Name, Success: c.Passed, Severity: sev, Actual: c.Value, Message: c.Error}
}
