package plan

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/store"
)

// summaryRewriteRows is how many changed partitions a status read applies
// to the kept summary before it keeps the result as the new summary: the
// next read then starts from there. Small enough that a read stays a few
// milliseconds over the summary, large enough that a read during a
// running backfill does not write each time.
var summaryRewriteRows = 512

// ReadStatus reads an asset's partition status and returns it as interval
// sets of def. Keys def does not know (it changed since) are ignored.
//
// It starts from the summary a reader last kept (StatusSummaryGet) and
// reads only the partitions that changed since (PartitionStateChanges),
// so its cost follows the changes, not the number of partitions; with no
// summary of def, it reads every partition. When it read many changes it
// keeps its result as the new summary. Keeping it is best-effort: a
// reader that may not write (a read-only role) still gets the status.
func ReadStatus(ctx context.Context, r StatusReader, asset string, def partitions.Definition) (AssetStatus, error) {
	var k summaries
	st, err := k.read(ctx, r, asset, def)
	k.put(ctx, r)
	return st, err
}

// summaries reads statuses and collects the summaries they make, to keep
// them in one write (one transaction: on SQLite one sync to disk, not one
// per asset). It is safe for concurrent reads.
type summaries struct {
	mu   sync.Mutex
	made []store.StatusSummary
}

func (k *summaries) read(ctx context.Context, r StatusReader, asset string, def partitions.Definition) (AssetStatus, error) {
	st, sum, err := readStatus(ctx, r, asset, def)
	if sum != nil {
		k.mu.Lock()
		k.made = append(k.made, *sum)
		k.mu.Unlock()
	}
	return st, err
}

// put keeps the summaries made, best-effort (see ReadStatus): the status
// read is right either way.
func (k *summaries) put(ctx context.Context, r StatusReader) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.made) > 0 {
		_ = r.StatusSummaryPut(ctx, k.made...)
		k.made = nil
	}
}

// readStatus is ReadStatus, returning the summary to keep instead of
// keeping it (nil when the one kept will do).
func readStatus(ctx context.Context, r StatusReader, asset string, def partitions.Definition) (AssetStatus, *store.StatusSummary, error) {
	id := definitionID(def)
	var (
		base  *AssetStatus
		since int64
	)
	sum, err := r.StatusSummaryGet(ctx, asset)
	if err != nil {
		return AssetStatus{}, nil, err
	}
	if sum != nil && sum.Definition == id {
		// A summary that does not decode (another weir's format) is made
		// again from every partition.
		if st, err := decodeStatus(sum.Body, def); err == nil {
			base, since = &st, sum.Mark
		}
	}
	var (
		changed, m, f, bl, vf, is partitions.Builder
		rows                      int
	)
	byCode := map[string]*partitions.Builder{}
	next, err := r.PartitionStateChanges(ctx, asset, since, func(row *store.PartitionState) error {
		rows++
		i, err := def.Index(row.Key)
		if err != nil {
			return nil // a key the definition no longer has
		}
		changed.Add(i)
		if row.Current {
			m.Add(i)
			b := byCode[row.CodeVersion]
			if b == nil {
				b = &partitions.Builder{}
				byCode[row.CodeVersion] = b
			}
			b.Add(i)
			if row.VerifyFailed {
				vf.Add(i)
			}
			if row.InputStale {
				is.Add(i)
			}
		}
		if row.Failed {
			f.Add(i)
			if row.FailCause == store.FailCheck {
				bl.Add(i)
			}
		}
		return nil
	})
	if err != nil {
		return AssetStatus{}, nil, err
	}
	st := AssetStatus{Def: def, Materialized: m.Subset(), Failed: f.Subset(), Blocked: bl.Subset(), ByCode: make(map[string]partitions.Subset, len(byCode)),
		VerifyFailed: vf.Subset(), InputStale: is.Subset()}
	for code, b := range byCode {
		st.ByCode[code] = b.Subset()
	}
	if base != nil {
		st = base.replace(changed.Subset(), st)
	}
	// Kept when there was none, or when many changes were applied and the
	// mark moved (a transaction left open on PostgreSQL holds it back:
	// keeping the same mark again would save the next read nothing).
	if base == nil || (rows >= summaryRewriteRows && next > since) {
		return st, &store.StatusSummary{Asset: asset, Definition: id, Mark: next, Body: encodeStatus(st)}, nil
	}
	return st, nil, nil
}

// replace returns s with the partitions changed taking their state from
// now (which holds nothing outside changed).
func (s *AssetStatus) replace(changed partitions.Subset, now AssetStatus) AssetStatus {
	keep := func(old, new partitions.Subset) partitions.Subset { return old.Difference(changed).Union(new) }
	out := AssetStatus{Def: now.Def,
		Materialized: keep(s.Materialized, now.Materialized),
		Failed:       keep(s.Failed, now.Failed),
		Blocked:      keep(s.Blocked, now.Blocked),
		VerifyFailed: keep(s.VerifyFailed, now.VerifyFailed),
		InputStale:   keep(s.InputStale, now.InputStale),
		ByCode:       map[string]partitions.Subset{},
	}
	for code, sub := range s.ByCode {
		if sub = keep(sub, now.ByCode[code]); !sub.IsEmpty() {
			out.ByCode[code] = sub
		}
	}
	for code, sub := range now.ByCode {
		if _, ok := out.ByCode[code]; !ok && !sub.IsEmpty() {
			out.ByCode[code] = sub
		}
	}
	return out
}

// definitionID identifies def's mapping of keys to indexes: a summary is
// used only with the definition it was made with. A definition's String
// names everything its indexes depend on (grain, start, end, time zone,
// the static keys) except the keys of a dynamic dimension, which are
// appended: a status read while there were fewer left out the partitions
// of the later ones, so their number is part of it.
func definitionID(def partitions.Definition) string {
	if def == nil {
		def = partitions.Unpartitioned()
	}
	id := def.String()
	if len(partitions.DynamicNames(def)) > 0 {
		id += fmt.Sprintf(" (%d partitions)", def.Len(time.Time{}))
	}
	return id
}

// statusFormat leads an encoded summary; another value is not read.
const statusFormat = 1

// encodeStatus writes st's sets as varint ranges: the lower bound's
// distance from the previous range's end, then the length.
func encodeStatus(st AssetStatus) []byte {
	b := []byte{statusFormat}
	set := func(s partitions.Subset) {
		rs := s.Ranges()
		b = binary.AppendUvarint(b, uint64(len(rs)))
		var prev int64
		for _, r := range rs {
			b = binary.AppendUvarint(b, uint64(r.Lo-prev))
			b = binary.AppendUvarint(b, uint64(r.Hi-r.Lo))
			prev = r.Hi
		}
	}
	for _, s := range []partitions.Subset{st.Materialized, st.Failed, st.Blocked, st.VerifyFailed, st.InputStale} {
		set(s)
	}
	codes := make([]string, 0, len(st.ByCode))
	for code := range st.ByCode {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	b = binary.AppendUvarint(b, uint64(len(codes)))
	for _, code := range codes {
		b = binary.AppendUvarint(b, uint64(len(code)))
		b = append(b, code...)
		set(st.ByCode[code])
	}
	return b
}

var errSummary = errors.New("status summary is not in the format this weir writes")

// decodeStatus reads what encodeStatus wrote.
func decodeStatus(b []byte, def partitions.Definition) (AssetStatus, error) {
	if len(b) == 0 || b[0] != statusFormat {
		return AssetStatus{}, errSummary
	}
	b = b[1:]
	num := func() (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > 1<<62 {
			return 0, errSummary
		}
		b = b[n:]
		return v, nil
	}
	set := func() (partitions.Subset, error) {
		n, err := num()
		if err != nil || n > uint64(len(b)) { // each range takes two bytes at least
			return partitions.Subset{}, errSummary
		}
		rs := make([]partitions.Range, 0, n)
		var prev int64
		for range n {
			gap, err := num()
			if err != nil {
				return partitions.Subset{}, err
			}
			size, err := num()
			if err != nil || size == 0 || int64(gap) > 1<<62-prev || int64(size) > 1<<62-prev-int64(gap) {
				return partitions.Subset{}, errSummary
			}
			lo := prev + int64(gap)
			rs = append(rs, partitions.Range{Lo: lo, Hi: lo + int64(size)})
			prev = lo + int64(size)
		}
		return partitions.FromRanges(rs...), nil
	}
	st := AssetStatus{Def: def, ByCode: map[string]partitions.Subset{}}
	for _, p := range []*partitions.Subset{&st.Materialized, &st.Failed, &st.Blocked, &st.VerifyFailed, &st.InputStale} {
		s, err := set()
		if err != nil {
			return AssetStatus{}, err
		}
		*p = s
	}
	n, err := num()
	if err != nil {
		return AssetStatus{}, err
	}
	for range n {
		size, err := num()
		if err != nil || size > uint64(len(b)) {
			return AssetStatus{}, errSummary
		}
		code := string(b[:size])
		b = b[size:]
		if st.ByCode[code], err = set(); err != nil {
			return AssetStatus{}, err
		}
	}
	if len(b) != 0 {
		return AssetStatus{}, errSummary
	}
	return st, nil
}
