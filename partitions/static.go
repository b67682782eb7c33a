package partitions

import (
	"fmt"
	"strings"
	"time"
)

// Static partitions are a fixed, ordered list of keys, such as regions.
type Static struct {
	keys  []string
	index map[string]int64
	desc  string
}

// NewStatic validates keys (each must pass CheckKey, none may repeat) and
// returns the definition. Order matters: it is the partitions' order.
func NewStatic(keys ...string) (*Static, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("static partitions: no keys given")
	}
	s := &Static{keys: append([]string(nil), keys...), index: make(map[string]int64, len(keys))}
	for i, k := range keys {
		if err := CheckKey(k); err != nil {
			return nil, fmt.Errorf("static partitions: %w", err)
		}
		if _, dup := s.index[k]; dup {
			return nil, fmt.Errorf("static partitions: key %q is listed twice", k)
		}
		s.index[k] = int64(i)
	}
	s.desc = "static [" + strings.Join(keys, " ") + "]"
	return s, nil
}

// String describes the definition.
func (s *Static) String() string { return s.desc }

// Len returns the number of keys.
func (s *Static) Len(time.Time) int64 { return int64(len(s.keys)) }

// Key returns key i.
func (s *Static) Key(i int64) string { return s.keys[i] }

// Keys returns a copy of the keys in order.
func (s *Static) Keys() []string { return append([]string(nil), s.keys...) }

// Index returns the position of key.
func (s *Static) Index(key string) (int64, error) {
	i, ok := s.index[key]
	if !ok {
		return 0, &KeyError{Key: key, Def: s.desc, Reason: "is not one of the keys"}
	}
	return i, nil
}

// Dynamic partitions have keys added at run time, kept in the state store
// under the definition's name. Keys keep the order in which they were added,
// so indexes never change. A Dynamic value as declared has no keys; weir
// binds the stored keys with WithKeys before planning.
type Dynamic struct {
	name  string
	keys  []string
	index map[string]int64
}

// NewDynamic returns a dynamic definition whose keys are stored under name.
func NewDynamic(name string) (*Dynamic, error) {
	if err := CheckKey(name); err != nil {
		return nil, fmt.Errorf("dynamic partitions: name: %w", err)
	}
	return &Dynamic{name: name}, nil
}

// Name returns the name the keys are stored under.
func (d *Dynamic) Name() string { return d.name }

// WithKeys returns a copy of d bound to keys, in the order they were added.
func (d *Dynamic) WithKeys(keys []string) (*Dynamic, error) {
	b := &Dynamic{name: d.name, keys: append([]string(nil), keys...), index: make(map[string]int64, len(keys))}
	for i, k := range keys {
		if err := CheckKey(k); err != nil {
			return nil, fmt.Errorf("dynamic partitions %q: %w", d.name, err)
		}
		if _, dup := b.index[k]; dup {
			return nil, fmt.Errorf("dynamic partitions %q: key %q is listed twice", d.name, k)
		}
		b.index[k] = int64(i)
	}
	return b, nil
}

// String describes the definition. The keys are not part of it: adding a key
// does not change the definition.
func (d *Dynamic) String() string { return "dynamic " + d.name }

// Len returns the number of bound keys.
func (d *Dynamic) Len(time.Time) int64 { return int64(len(d.keys)) }

// Key returns key i.
func (d *Dynamic) Key(i int64) string { return d.keys[i] }

// Index returns the position of key among the bound keys.
func (d *Dynamic) Index(key string) (int64, error) {
	i, ok := d.index[key]
	if !ok {
		return 0, &KeyError{Key: key, Def: d.String(), Reason: fmt.Sprintf("is not among the %d keys added so far", len(d.keys))}
	}
	return i, nil
}

// Bind returns def with every dynamic definition in it bound to the keys
// that lookup returns for its name.
func Bind(def Definition, lookup func(name string) ([]string, error)) (Definition, error) {
	switch d := def.(type) {
	case *Dynamic:
		keys, err := lookup(d.name)
		if err != nil {
			return nil, err
		}
		return d.WithKeys(keys)
	case *Multi:
		outer, err := Bind(d.dims[0].Def, lookup)
		if err != nil {
			return nil, err
		}
		return NewMulti(Dim{d.dims[0].Name, outer}, d.dims[1])
	}
	return def, nil
}

// DynamicNames returns the names of the dynamic definitions inside def (def
// itself, or a dimension of it): what Bind looks up.
func DynamicNames(def Definition) []string {
	var names []string
	Bind(def, func(name string) ([]string, error) {
		names = append(names, name)
		return nil, nil
	})
	return names
}

// Windowed is a definition whose partitions are spans of time.
type Windowed interface {
	Definition
	// Window returns the start (inclusive) and end (exclusive) of
	// partition i.
	Window(i int64) (start, end time.Time)
}

// Dim is one named dimension of a multi-dimensional definition.
type Dim struct {
	Name string
	Def  Definition
}

// Multi partitions are the product of two dimensions, e.g. date × region.
// Index = outer index × len(inner) + inner index, so one outer key with all
// inner keys, or a range of outer keys, is one contiguous range. The inner
// dimension must be static so that indexes never move. Keys join the two
// keys with '|', outer first: "2024-01-01|eu".
type Multi struct {
	dims  [2]Dim
	inner int64
}

// NewMulti validates the dimensions and returns the definition.
func NewMulti(outer, inner Dim) (*Multi, error) {
	for _, d := range []Dim{outer, inner} {
		if d.Name == "" || d.Def == nil {
			return nil, fmt.Errorf("multi-dimensional partitions: every dimension needs a name and a definition")
		}
		if _, ok := d.Def.(*Multi); ok {
			return nil, fmt.Errorf("multi-dimensional partitions: dimension %q is itself multi-dimensional; two dimensions are supported", d.Name)
		}
	}
	if outer.Name == inner.Name {
		return nil, fmt.Errorf("multi-dimensional partitions: both dimensions are named %q", outer.Name)
	}
	st, ok := inner.Def.(*Static)
	if !ok {
		return nil, fmt.Errorf("multi-dimensional partitions: inner dimension %q is %s; it must be static so that indexes stay put (put the time or dynamic dimension first)", inner.Name, inner.Def)
	}
	return &Multi{dims: [2]Dim{outer, inner}, inner: int64(len(st.keys))}, nil
}

// Dims returns the outer and inner dimensions.
func (m *Multi) Dims() [2]Dim { return m.dims }

// DimIndex returns 0 for the outer and 1 for the inner dimension named name.
func (m *Multi) DimIndex(name string) (int, error) {
	for i, d := range m.dims {
		if d.Name == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("partitions %s have no dimension %q (they have %q and %q)", m, name, m.dims[0].Name, m.dims[1].Name)
}

// String describes the definition.
func (m *Multi) String() string {
	return fmt.Sprintf("%s: %s × %s: %s", m.dims[0].Name, m.dims[0].Def, m.dims[1].Name, m.dims[1].Def)
}

// Len returns len(outer) × len(inner).
func (m *Multi) Len(now time.Time) int64 { return m.dims[0].Def.Len(now) * m.inner }

// Key returns the key of partition i.
func (m *Multi) Key(i int64) string {
	return m.dims[0].Def.Key(i/m.inner) + dimSep + m.dims[1].Def.Key(i%m.inner)
}

// Index parses "outer|inner".
func (m *Multi) Index(key string) (int64, error) {
	o, in, ok := strings.Cut(key, dimSep)
	if !ok {
		return 0, &KeyError{Key: key, Def: m.String(), Reason: fmt.Sprintf("is not two keys joined by '|' (%s|%s)", m.dims[0].Name, m.dims[1].Name)}
	}
	oi, err := m.dims[0].Def.Index(o)
	if err != nil {
		return 0, err
	}
	ii, err := m.dims[1].Def.Index(in)
	if err != nil {
		return 0, err
	}
	return oi*m.inner + ii, nil
}

// Project returns the indexes of dimension dim (0 outer, 1 inner) that the
// partitions s touch.
func (m *Multi) Project(s Subset, dim int) Subset {
	var b Builder
	for _, r := range s.ranges {
		if dim == 0 {
			b.AddRange(Range{r.Lo / m.inner, (r.Hi-1)/m.inner + 1})
			continue
		}
		if r.Len() >= m.inner {
			return Span(0, m.inner)
		}
		lo, hi := r.Lo%m.inner, (r.Hi-1)%m.inner+1
		if lo < hi {
			b.AddRange(Range{lo, hi})
		} else { // wraps around the end of the inner dimension
			b.AddRange(Range{lo, m.inner})
			b.AddRange(Range{0, hi})
		}
	}
	return b.Subset()
}

// Expand returns every partition whose dimension dim index is in s and whose
// other index is in other (nil means every index that exists at now).
func (m *Multi) Expand(s Subset, dim int, other *Subset, now time.Time) Subset {
	var o Subset
	if other != nil {
		o = *other
	} else if dim == 0 {
		o = Span(0, m.inner)
	} else {
		o = Span(0, m.dims[0].Def.Len(now))
	}
	outer, inner := s, o
	if dim == 1 {
		outer, inner = o, s
	}
	if inner.Equal(Span(0, m.inner)) {
		var b Builder
		for _, r := range outer.ranges {
			b.AddRange(Range{r.Lo * m.inner, r.Hi * m.inner})
		}
		return b.Subset()
	}
	var b Builder
	for oi := range outer.All() {
		for _, r := range inner.ranges {
			b.AddRange(Range{oi*m.inner + r.Lo, oi*m.inner + r.Hi})
		}
	}
	return b.Subset()
}
