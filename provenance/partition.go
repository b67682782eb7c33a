package provenance

import (
	"context"
	"fmt"
	"time"

	"gocloud.dev/blob"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/verify"
)

// Partition is one partition of an asset as `weir assets show --partition`
// and the API show it: its current version with its manifest (files,
// sizes, rows, SHA-256), the upstream versions that version read, the
// check results that cover it and its latest versions.
type Partition struct {
	Asset     string           `json:"asset"`
	Partition string           `json:"partition"`
	Version   string           `json:"version,omitempty"`
	Manifest  *verify.Manifest `json:"manifest,omitempty"`
	Inputs    []Ref            `json:"inputs"`
	// Failed says its latest attempt failed (Error says why); a failed
	// partition may still have a current version from before.
	Failed  bool              `json:"failed"`
	Error   string            `json:"error,omitempty"`
	History []Materialization `json:"history"`
	Checks  []CheckResult     `json:"checks"`
}

// Materialization is one promoted version of a partition.
type Materialization struct {
	Partition string    `json:"partition"`
	Version   string    `json:"version"`
	RunID     int64     `json:"run_id"`
	Attempt   int       `json:"attempt"`
	Files     int       `json:"files"`
	Bytes     int64     `json:"bytes"`
	Manifest  string    `json:"manifest_sha256"`
	Promoted  time.Time `json:"promoted_at"`
}

// NewMaterialization is m as people read it.
func NewMaterialization(m *store.Materialization) Materialization {
	return Materialization{Partition: m.PartitionKey, Version: m.Version, RunID: m.RunID, Attempt: m.Attempt,
		Files: m.Files, Bytes: m.Bytes, Manifest: m.ManifestSHA256, Promoted: m.PromotedAt}
}

// CheckResult is one check's result on partitions, by the attempt that
// ran it.
type CheckResult struct {
	Name       string `json:"name"`
	Partitions string `json:"partitions"`
	RunID      int64  `json:"run_id"`
	Attempt    int    `json:"attempt"`
	Warn       bool   `json:"warn"`
	Passed     bool   `json:"passed"`
	Value      string `json:"value"`
	Error      string `json:"error,omitempty"`
}

// NewCheckResult is c as people read it.
func NewCheckResult(c store.CheckResult) CheckResult {
	return CheckResult{Name: c.Name, Partitions: c.Partitions, RunID: c.RunID, Attempt: c.Attempt, Warn: c.Warn, Passed: c.Passed, Value: c.Value, Error: c.Error}
}

// InputError is a request for an asset or partition that the graph or the
// partitions definition does not have.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Describe returns a partition of an asset of g at now, the manifest read
// from bucket (a manifest that cannot be read or does not match its
// recorded checksum is reported in Error, not returned as an error). An
// unknown asset or a key outside its definition is an *InputError.
func Describe(ctx context.Context, st store.Store, bucket *blob.Bucket, g *lineage.Graph, asset, key string, now time.Time) (*Partition, error) {
	as, err := g.Asset(asset)
	if err != nil {
		return nil, &InputError{err}
	}
	def, err := plan.BindDefinition(ctx, st, as)
	if err != nil {
		return nil, err
	}
	idx, err := partitions.Resolve(def, key, now)
	if err != nil {
		return nil, &InputError{fmt.Errorf("asset %q: %w", asset, err)}
	}
	o := &Partition{Asset: asset, Partition: key, Inputs: []Ref{}, History: []Materialization{}, Checks: []CheckResult{}}
	cur, err := st.PartitionStatusList(ctx, asset)
	if err != nil {
		return nil, err
	}
	for _, ps := range cur {
		if ps.PartitionKey != key {
			continue
		}
		o.Version, o.Failed, o.Error = ps.Version, ps.Failed, ps.Error
		if ps.Version != "" {
			if o.Manifest, err = verify.ReadManifest(ctx, bucket, asset, key, ps.Version, ps.ManifestSHA256); err != nil {
				o.Error = "manifest: " + err.Error()
			}
			if ins, err := st.MaterializationInputs(ctx, ps.MaterializationID); err == nil && ins != nil {
				o.Inputs = Refs(ins)
			}
		}
	}
	mats, err := st.MaterializationList(ctx, store.MaterializationListParams{Asset: asset, PartitionKey: key, Limit: 20})
	if err != nil {
		return nil, err
	}
	for _, m := range mats {
		o.History = append(o.History, NewMaterialization(m))
	}
	checks, err := st.CheckResultList(ctx, store.CheckResultListParams{Asset: asset, Limit: 200})
	if err != nil {
		return nil, err
	}
	for _, c := range checks {
		if s, err := partitions.Parse(def, c.Partitions, now); err == nil && s.Contains(idx) {
			o.Checks = append(o.Checks, NewCheckResult(c))
		}
	}
	return o, nil
}
