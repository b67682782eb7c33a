package partitions

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Definition orders the partitions of an asset. Index 0 is the first
// partition; every partition has one canonical key string, and Key and Index
// are inverses.
type Definition interface {
	// String describes the definition for people, e.g.
	// "daily from 2024-01-01 in Europe/Berlin".
	String() string
	// Len returns how many partitions exist at now. Time windows without an
	// end grow with now: only complete windows exist.
	Len(now time.Time) int64
	// Key returns the canonical key of partition i. It is defined for every
	// i >= 0 that Index can return.
	Key(i int64) string
	// Index returns the index of a canonical key, or an error that names the
	// key and says what a key of this definition looks like. Index does not
	// check the upper bound of open-ended definitions; see Resolve.
	Index(key string) (int64, error)
}

// ErrInvalidKey is wrapped by every error about a malformed key or a key
// outside its definition.
var ErrInvalidKey = errors.New("invalid partition key")

// KeyError reports a partition key that is malformed or outside its
// definition.
type KeyError struct {
	Key    string
	Def    string // the definition's String
	Reason string
}

func (e *KeyError) Error() string {
	if e.Def == "" {
		return fmt.Sprintf("partition key %q %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("partition key %q %s (partitions: %s)", e.Key, e.Reason, e.Def)
}

// Unwrap makes errors.Is(err, ErrInvalidKey) hold.
func (e *KeyError) Unwrap() error { return ErrInvalidKey }

// Separators that keys of user-named partitions may not contain, because the
// compact subset form and multi-dimensional keys use them.
const (
	rangeSep = "..."
	listSep  = ","
	dimSep   = "|"
)

// CheckKey reports keys that would be unsafe as a path segment in object
// storage or ambiguous in weir's compact forms: empty keys, keys with '/',
// '\\', "..", NUL or other control characters, leading or trailing spaces,
// and the separators ',' and '|'.
func CheckKey(key string) error {
	if strings.ContainsAny(key, listSep+dimSep) {
		return &KeyError{Key: key, Reason: "contains ',' or '|', which separate keys in partition lists and multi-dimensional keys"}
	}
	return checkSafe(key)
}

// checkSafe is CheckKey without the separators, for whole keys of
// multi-dimensional definitions.
func checkSafe(key string) error {
	bad := func(reason string) error { return &KeyError{Key: key, Reason: reason} }
	switch {
	case key == "":
		return bad("is empty")
	case strings.ContainsAny(key, `/\`):
		return bad(`contains a path separator ('/' or '\'); keys become object-storage path segments`)
	case strings.Contains(key, ".."):
		return bad(`contains ".."; keys become object-storage path segments`)
	case strings.TrimSpace(key) != key:
		return bad("has leading or trailing white space")
	case len(key) > 200:
		return bad("is longer than 200 bytes")
	}
	for _, r := range key {
		if r == 0 || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return bad("contains a NUL, control or invalid UTF-8 character")
		}
	}
	return nil
}

// Resolve returns the index of key in def as it stands at now: a key must be
// safe as a path segment (see CheckKey), canonical, and within [0, def.Len(now)).
func Resolve(def Definition, key string, now time.Time) (int64, error) {
	if err := checkSafe(key); err != nil {
		if ke, ok := err.(*KeyError); ok {
			ke.Def = def.String()
		}
		return 0, err
	}
	i, err := def.Index(key)
	if err != nil {
		return 0, err
	}
	if n := def.Len(now); i >= n {
		reason := "does not exist yet"
		if n > 0 {
			reason = fmt.Sprintf("is after the last partition %q that exists at %s", def.Key(n-1), now.UTC().Format(time.RFC3339))
		} else {
			reason = fmt.Sprintf("does not exist yet: no partition exists at %s", now.UTC().Format(time.RFC3339))
		}
		return 0, &KeyError{Key: key, Def: def.String(), Reason: reason}
	}
	return i, nil
}

// All returns the subset of every partition of def that exists at now.
func All(def Definition, now time.Time) Subset { return Span(0, def.Len(now)) }

// Keys returns the keys of s in def, in index order.
func Keys(def Definition, s Subset) []string {
	keys := make([]string, 0, s.Len())
	for i := range s.All() {
		keys = append(keys, def.Key(i))
	}
	return keys
}

// FromKeys returns the subset of def holding keys, each resolved at now.
func FromKeys(def Definition, keys []string, now time.Time) (Subset, error) {
	var b Builder
	for _, k := range keys {
		i, err := Resolve(def, k, now)
		if err != nil {
			return Subset{}, err
		}
		b.Add(i)
	}
	return b.Subset(), nil
}

// Same reports whether a and b define the same partitions with the same
// indexes. Definitions are compared by description, which names every
// parameter.
func Same(a, b Definition) bool { return a.String() == b.String() }

// unpartitioned is the definition of an asset with a single partition.
type unpartitioned struct{}

// UnpartitionedKey is the key of the only partition of an unpartitioned
// asset.
const UnpartitionedKey = "all"

// Unpartitioned returns the definition of an asset with one partition, keyed
// UnpartitionedKey.
func Unpartitioned() Definition { return unpartitioned{} }

// IsUnpartitioned reports whether def is the one-partition definition.
func IsUnpartitioned(def Definition) bool {
	_, ok := def.(unpartitioned)
	return ok || def == nil
}

func (unpartitioned) String() string      { return "unpartitioned" }
func (unpartitioned) Len(time.Time) int64 { return 1 }
func (unpartitioned) Key(int64) string    { return UnpartitionedKey }
func (u unpartitioned) Index(key string) (int64, error) {
	if key != UnpartitionedKey {
		return 0, &KeyError{Key: key, Def: u.String(), Reason: fmt.Sprintf("is not %q, the only key of an unpartitioned asset", UnpartitionedKey)}
	}
	return 0, nil
}
