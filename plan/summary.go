package plan

import (
	"encoding/json"

	"github.com/weir-dev/weir/partitions"
)

// Summary is a plan as it is stored with its run (store.Run.Plan, JSON) and
// shown to people: the request, and per asset the requested, kept,
// elsewhere-queued and to-run partitions in compact form.
type Summary struct {
	Selection  string         `json:"selection"`
	Partitions string         `json:"partitions,omitempty"`
	Reprocess  string         `json:"reprocess"`
	Tasks      int64          `json:"tasks"`
	Assets     []AssetSummary `json:"assets"`
}

// AssetSummary is one asset's part of a Summary.
type AssetSummary struct {
	Asset     string             `json:"asset"`
	Requested partitions.Summary `json:"requested"`
	// Kept are requested partitions the reprocess policy leaves as they
	// are (neither run here nor queued elsewhere); KeptMissing are those
	// of them without a current version (under --reprocess stale or
	// failed).
	Kept        partitions.Summary `json:"kept"`
	KeptMissing partitions.Summary `json:"kept_missing"`
	// LegacyFresh is what runs stored before weir said "kept" called it
	// (fresh, whatever the policy); ParseSummary moves it to Kept.
	LegacyFresh *partitions.Summary `json:"fresh,omitempty"`
	// InFlight are requested partitions queued or running in other runs
	// (InFlightRuns), which this run waits for instead of running twice.
	InFlight     partitions.Summary `json:"in_flight"`
	InFlightRuns []int64            `json:"in_flight_runs,omitempty"`
	ToRun        partitions.Summary `json:"to_run"`
	Tasks        int64              `json:"tasks"`
	// WhyStale, with reprocess stale, says why the partitions to run are
	// stale (reasons may overlap).
	WhyStale []WhyStale `json:"why_stale,omitempty"`
}

// WhyStale is one reason partitions are stale, with those partitions.
type WhyStale struct {
	Why string `json:"why"`
	partitions.Summary
}

// Summarize returns the plan's summary.
func (p *Plan) Summarize() Summary {
	s := Summary{Selection: p.Request.Selection, Partitions: p.Request.Partitions, Reprocess: string(p.Request.Reprocess), Tasks: p.TaskCount(),
		Assets: []AssetSummary{}}
	for _, ap := range p.Assets {
		as := AssetSummary{Asset: ap.Asset.Key, Requested: partitions.Summarize(ap.Def, ap.Requested),
			Kept: partitions.Summarize(ap.Def, ap.Kept()), KeptMissing: partitions.Summarize(ap.Def, ap.KeptMissing()), InFlight: partitions.Summarize(ap.Def, ap.InFlight), InFlightRuns: ap.InFlightRuns,
			ToRun: partitions.Summarize(ap.Def, ap.ToRun), Tasks: ap.TaskCount()}
		for _, why := range ap.Why {
			as.WhyStale = append(as.WhyStale, WhyStale{Why: why.Why, Summary: partitions.Summarize(ap.Def, why.Partitions)})
		}
		s.Assets = append(s.Assets, as)
	}
	return s
}

// ParseSummary reads a summary stored with a run; ok is false for a run
// stored without one.
func ParseSummary(stored string) (s Summary, ok bool) {
	if stored == "" || json.Unmarshal([]byte(stored), &s) != nil {
		return Summary{}, false
	}
	for i := range s.Assets {
		if a := &s.Assets[i]; a.LegacyFresh != nil {
			a.Kept, a.LegacyFresh = *a.LegacyFresh, nil
		}
	}
	return s, true
}
