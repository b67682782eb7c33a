package lineage

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Select evaluates a selection expression and returns the selected asset
// keys in topological order. The syntax, as in dbt:
//
//	orders          the asset
//	+orders         orders and everything upstream of it
//	orders+         orders and everything downstream of it
//	+orders+        both
//	2+orders        orders and upstream up to 2 levels (likewise orders+1)
//	tag:nightly     assets tagged nightly (the + forms work here too)
//	group:finance   assets in group finance
//	*               every asset
//	a,b             union
//
// An unknown key, tag or group is an error that says what exists.
func (g *Graph) Select(expr string) ([]string, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, fmt.Errorf("empty selection; select assets with a key, +key, key+, tag:NAME, group:NAME or *")
	}
	set := map[string]bool{}
	for _, term := range strings.Split(expr, ",") {
		keys, err := g.selectTerm(strings.TrimSpace(term))
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			set[k] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	return g.Sort(out), nil
}

func (g *Graph) selectTerm(term string) ([]string, error) {
	orig := term
	up, down := 0, 0 // 0 none, -1 all, n levels
	if i := strings.Index(term, "+"); i >= 0 && i < len(term)-1 && isDepthPrefix(term[:i]) {
		d, err := depth(term[:i], orig)
		if err != nil {
			return nil, err
		}
		up, term = d, term[i+1:]
	}
	if i := strings.LastIndex(term, "+"); i > 0 && isDepthPrefix(term[i+1:]) {
		d, err := depth(term[i+1:], orig)
		if err != nil {
			return nil, err
		}
		down, term = d, term[:i]
	}
	var base []string
	switch {
	case term == "*":
		base = g.Keys()
	case strings.HasPrefix(term, "tag:"), strings.HasPrefix(term, "group:"):
		var err error
		if base, err = g.byLabel(term); err != nil {
			return nil, err
		}
	case term == "" || strings.ContainsAny(term, "+*: "):
		return nil, fmt.Errorf("selection term %q is not a key, +key, key+, N+key, key+N, tag:NAME, group:NAME or *", orig)
	default:
		if _, err := g.Asset(term); err != nil {
			return nil, fmt.Errorf("selection %q: %w", orig, err)
		}
		base = []string{term}
	}
	out := append([]string(nil), base...)
	for _, k := range base {
		if up != 0 {
			out = append(out, g.Upstream(k, up)...)
		}
		if down != 0 {
			out = append(out, g.Downstream(k, down)...)
		}
	}
	return out, nil
}

func isDepthPrefix(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// depth turns "" into -1 (all levels) and "2" into 2.
func depth(s, term string) (int, error) {
	if s == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("selection term %q: depth %q must be a whole number of at least 1", term, s)
	}
	return n, nil
}

func (g *Graph) byLabel(term string) ([]string, error) {
	kind, name, _ := strings.Cut(term, ":")
	var out []string
	labels := map[string]bool{}
	for _, a := range g.assets {
		var has []string
		if kind == "tag" {
			has = a.Tags
		} else if a.Group != "" {
			has = []string{a.Group}
		}
		for _, l := range has {
			labels[l] = true
			if l == name {
				out = append(out, a.Key)
			}
		}
	}
	if len(out) == 0 {
		known := make([]string, 0, len(labels))
		for l := range labels {
			known = append(known, l)
		}
		sort.Strings(known)
		if len(known) == 0 {
			return nil, fmt.Errorf("selection %q: no asset has a %s", term, kind)
		}
		return nil, fmt.Errorf("selection %q: no asset has %s %q (%ss in use: %s)", term, kind, name, kind, strings.Join(known, ", "))
	}
	return out, nil
}
