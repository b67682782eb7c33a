package provenance

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/weir-dev/weir/store"
)

// Side is one version as Diff shows it.
type Side struct {
	Version        string    `json:"version"`
	CodeVersion    string    `json:"code_version"`
	RunID          int64     `json:"run_id"`
	ManifestSHA256 string    `json:"manifest_sha256"`
	Files          int       `json:"files"`
	Bytes          int64     `json:"bytes"`
	PromotedAt     time.Time `json:"promoted_at"`
	Inputs         []Ref     `json:"inputs"`
	Checks         []Check   `json:"checks"`
}

// Ref names one version of one partition.
type Ref struct {
	Asset     string `json:"asset"`
	Partition string `json:"partition"`
	Version   string `json:"version"`
}

// Refs converts the store's inputs.
func Refs(ins []store.Input) []Ref {
	out := make([]Ref, len(ins))
	for i, in := range ins {
		out[i] = Ref{in.Asset, in.PartitionKey, in.Version}
	}
	return out
}

// Check is one check's result on a version.
type Check struct {
	Name   string `json:"name"`
	Warn   bool   `json:"warn"`
	Passed bool   `json:"passed"`
	Value  string `json:"value"`
	Error  string `json:"error,omitempty"`
}

// VersionDiff sets two versions of one partition side by side.
type VersionDiff struct {
	Asset     string `json:"asset"`
	Partition string `json:"partition"`
	From      Side   `json:"from"`
	To        Side   `json:"to"`
	// Inputs pairs the versions each side read of each upstream
	// partition, sorted by asset and partition.
	Inputs []InputPair `json:"inputs"`
}

// InputPair is what the two versions read of one upstream partition (""
// where a side did not read it).
type InputPair struct {
	Asset     string `json:"asset"`
	Partition string `json:"partition"`
	From      string `json:"from"`
	To        string `json:"to"`
}

// Diff returns two promoted versions of a partition side by side: code
// version, checksums, size, inputs and check results.
func Diff(ctx context.Context, cat store.Catalog, asset, partition, from, to string) (*VersionDiff, error) {
	mats, err := cat.MaterializationList(ctx, store.MaterializationListParams{Asset: asset, PartitionKey: partition, Limit: -1})
	if err != nil {
		return nil, err
	}
	side := func(version string) (Side, error) {
		for _, m := range mats {
			if m.Version != version {
				continue
			}
			s := Side{Version: m.Version, CodeVersion: m.CodeVersion, RunID: m.RunID, ManifestSHA256: m.ManifestSHA256, Files: m.Files,
				Bytes: m.Bytes, PromotedAt: m.PromotedAt.UTC(), Checks: []Check{}}
			ins, err := cat.MaterializationInputs(ctx, m.ID)
			if err != nil {
				return Side{}, err
			}
			s.Inputs = Refs(ins)
			checks, err := cat.CheckResultList(ctx, store.CheckResultListParams{Asset: asset, RunID: m.RunID, Limit: 1 << 20})
			if err != nil {
				return Side{}, err
			}
			for _, c := range checks {
				if c.TaskID == m.TaskID && c.Attempt == m.Attempt {
					s.Checks = append(s.Checks, Check{Name: c.Name, Warn: c.Warn, Passed: c.Passed, Value: c.Value, Error: c.Error})
				}
			}
			sort.Slice(s.Checks, func(i, j int) bool { return s.Checks[i].Name < s.Checks[j].Name })
			return s, nil
		}
		var known []string
		for _, m := range mats {
			known = append(known, m.Version)
		}
		return Side{}, fmt.Errorf("%s %s has no promoted version %q (promoted, newest first: %v)", asset, partition, version, known)
	}
	d := &VersionDiff{Asset: asset, Partition: partition}
	if d.From, err = side(from); err != nil {
		return nil, err
	}
	if d.To, err = side(to); err != nil {
		return nil, err
	}
	pairs := map[[2]string]*InputPair{}
	for i, s := range []Side{d.From, d.To} {
		for _, in := range s.Inputs {
			k := [2]string{in.Asset, in.Partition}
			p := pairs[k]
			if p == nil {
				p = &InputPair{Asset: in.Asset, Partition: in.Partition}
				pairs[k] = p
			}
			if i == 0 {
				p.From = in.Version
			} else {
				p.To = in.Version
			}
		}
	}
	d.Inputs = []InputPair{}
	for _, p := range pairs {
		d.Inputs = append(d.Inputs, *p)
	}
	sort.Slice(d.Inputs, func(i, j int) bool {
		if d.Inputs[i].Asset != d.Inputs[j].Asset {
			return d.Inputs[i].Asset < d.Inputs[j].Asset
		}
		return d.Inputs[i].Partition < d.Inputs[j].Partition
	})
	return d, nil
}
