package lineage

import (
	"context"
	"strings"
	"testing"

	"github.com/weir-dev/weir/pipelines"
)

func noop(context.Context, *pipelines.Task) error { return nil }

func testGraph() *Graph {
	return Must(
		&pipelines.Asset{Key: "raw", Tags: []string{"nightly"}, Group: "ingest", Compute: noop},
		&pipelines.Asset{Key: "clean", Deps: []pipelines.Dep{pipelines.On("raw")}, Tags: []string{"nightly"}, Compute: noop},
		&pipelines.Asset{Key: "revenue", Deps: []pipelines.Dep{pipelines.On("clean")}, Group: "finance", Compute: noop},
		&pipelines.Asset{Key: "summary", Deps: []pipelines.Dep{pipelines.On("revenue")}, Group: "finance", Compute: noop},
		&pipelines.Asset{Key: "other", Compute: noop},
	)
}

func TestSelect(t *testing.T) {
	g := testGraph()
	for _, tc := range []struct{ expr, want string }{
		{"revenue", "revenue"},
		{"+revenue", "raw clean revenue"},
		{"revenue+", "revenue summary"},
		{"+revenue+", "raw clean revenue summary"},
		{"1+revenue", "clean revenue"},
		{"clean+1", "clean revenue"},
		{"tag:nightly", "raw clean"},
		{"group:finance", "revenue summary"},
		{"*", "raw clean revenue summary other"},
		{"other, summary", "summary other"},
		{"tag:nightly+1", "raw clean revenue"},
	} {
		got, err := g.Select(tc.expr)
		if err != nil {
			t.Errorf("Select(%q): %v", tc.expr, err)
			continue
		}
		if s := strings.Join(got, " "); s != tc.want {
			t.Errorf("Select(%q) = %q, want %q", tc.expr, s, tc.want)
		}
	}
}

func TestSelectErrors(t *testing.T) {
	g := testGraph()
	for _, tc := range []struct{ expr, want string }{
		{"revenu", `unknown asset "revenu" (did you mean "revenue"?)`},
		{"nosuchasset", `unknown asset "nosuchasset"`},
		{"tag:weekly", `no asset has tag "weekly" (tags in use: nightly)`},
		{"", "empty selection"},
		{"a:b", "is not a key"},
		{"0+raw", "at least 1"},
	} {
		_, err := g.Select(tc.expr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Select(%q) = %v, want error containing %q", tc.expr, err, tc.want)
		}
	}
}
