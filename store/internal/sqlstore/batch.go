package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/weir-dev/weir/store"
)

// maxBatchRows caps the rows of one statement of a batch, well inside both
// databases' limits on parameters (SQLite 32,766, PostgreSQL 65,535).
const maxBatchRows = 500

// rowset is a batch of rows to join against (UPDATE ... FROM) or insert
// from (INSERT ... SELECT): its columns are column1, column2, ... Each
// column has a kind: "int", "text" or "time" (a value as s.t encodes it).
type rowset struct {
	kinds []string
	cols  [][]any
	n     int
}

func newRowset(kinds ...string) *rowset {
	return &rowset{kinds: kinds, cols: make([][]any, len(kinds))}
}

// add appends a row; vals are in the order of the kinds.
func (r *rowset) add(vals ...any) {
	for i, v := range vals {
		r.cols[i] = append(r.cols[i], v)
	}
	r.n++
}

// from returns the rowset as a relation named v, and its parameters. With
// a dialect that takes arrays (PostgreSQL) each column is one array
// parameter, unnested, so the statement's text does not depend on the
// batch's size and stays prepared; otherwise (SQLite, which types a value
// as it is bound) it is a VALUES list.
func (s *Store) from(r *rowset) (string, []any) {
	var b strings.Builder
	if s.d.ArrayType != nil {
		args := make([]any, len(r.kinds))
		b.WriteString("unnest(")
		for i, k := range r.kinds {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("CAST(? AS " + s.d.ArrayType(k) + ")")
			args[i] = arrayOf(k, r.cols[i])
		}
		b.WriteString(") AS v(")
		for i := range r.kinds {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "column%d", i+1)
		}
		b.WriteString(")")
		return b.String(), args
	}
	b.WriteString("(VALUES ")
	b.WriteString(RowsOf(r.n, len(r.kinds)))
	b.WriteString(") AS v")
	args := make([]any, 0, r.n*len(r.kinds))
	for i := range r.n {
		for c := range r.kinds {
			args = append(args, r.cols[c][i])
		}
	}
	return b.String(), args
}

// in returns "IN (...)" for vals of a kind, and its parameters: with a
// dialect that takes arrays, "= ANY(...)" of one array parameter, which
// PostgreSQL plans as an index scan for each value.
func (s *Store) in(kind string, vals []any) (string, []any) {
	if s.d.ArrayType != nil {
		return "= ANY(CAST(? AS " + s.d.ArrayType(kind) + "))", []any{arrayOf(kind, vals)}
	}
	return "IN (" + marks(len(vals)) + ")", vals
}

// perRun returns a statement's arguments, led by the dialect's request to
// plan it on each run (Dialect.PlanEachRun) where it has one: a statement
// over a batch's rows, whose best plan depends on how many there are.
func (s *Store) perRun(args []any) []any {
	if s.d.PlanEachRun == nil {
		return args
	}
	return append([]any{s.d.PlanEachRun}, args...)
}

// arrayOf returns a column's values as the array parameter of its kind.
func arrayOf(kind string, vals []any) any {
	switch kind {
	case "int":
		out := make([]int64, len(vals))
		for i, v := range vals {
			out[i] = reflect.ValueOf(v).Int()
		}
		return out
	case "time":
		out := make([]*time.Time, len(vals))
		for i, v := range vals {
			if t, ok := v.(time.Time); ok {
				out[i] = &t
			}
		}
		return out
	default:
		out := make([]string, len(vals))
		for i, v := range vals {
			out[i] = reflect.ValueOf(v).String()
		}
		return out
	}
}

// columns lists a rowset's n columns for a SELECT: column1, ..., columnN.
func columns(n int) string {
	cs := make([]string, n)
	for i := range cs {
		cs[i] = fmt.Sprintf("column%d", i+1)
	}
	return strings.Join(cs, ", ")
}

// clock returns the function that turns a caller's time into the time the
// store records for leases and task ends: the database's clock, read once
// for the whole transaction, when the dialect reads it; else the caller's.
func (s *Store) clock(ctx context.Context, tx *sql.Tx) (func(caller time.Time) time.Time, error) {
	if s.d.ClockQuery == "" {
		return func(caller time.Time) time.Time { return caller }, nil
	}
	now, err := s.now(ctx, tx, time.Time{})
	if err != nil {
		return nil, err
	}
	return func(time.Time) time.Time { return now }, nil
}

// firstOfEach returns the indexes 0..n-1 whose id has not come before: a
// task named twice in one batch is written once (its second entry then
// finds its lease moved on, as it would in a transaction of its own).
func firstOfEach(n int, id func(int) int64) []int {
	seen := make(map[int64]bool, n)
	out := make([]int, 0, n)
	for i := range n {
		if !seen[id(i)] {
			seen[id(i)] = true
			out = append(out, i)
		}
	}
	return out
}

// TaskStageMany ends many compute phases in one transaction, each fenced by
// its own token.
func (s *Store) TaskStageMany(ctx context.Context, ps []store.TaskStageParams) ([]store.StageResult, error) {
	out := make([]store.StageResult, len(ps))
	if len(ps) == 0 {
		return out, nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		clear(out)
		clock, err := s.clock(ctx, tx)
		if err != nil {
			return err
		}
		first := firstOfEach(len(ps), func(i int) int64 { return ps[i].ID })
		index := make(map[int64]int, len(first))
		for _, i := range first {
			index[ps[i].ID] = i
		}
		err = batch(first, maxBatchRows, func(part []int) error {
			rs := newRowset("int", "int", "text", "time")
			for _, i := range part {
				p := ps[i]
				rs.add(p.ID, p.LeaseToken, p.Staged, s.t(clock(p.At).Add(p.LeaseFor)))
			}
			v, args := s.from(rs)
			tasks, err := s.queryTasks(ctx, tx, `UPDATE tasks SET phase = 'verify', staged = v.column3, attempt = attempt + 1,
					max_attempts = attempt + base_attempts, lease_token = lease_token + 1, lease_expires_at = v.column4, error = ''
				FROM `+v+`
				WHERE tasks.id = v.column1 AND tasks.lease_token = v.column2 AND tasks.state = 'running' AND tasks.phase = 'compute'
				RETURNING `+taskColumns, s.perRun(args)...)
			if err != nil || len(tasks) == 0 {
				return err
			}
			done := newRowset("int", "int", "time")
			started := newRowset("int", "int", "text", "text", "text", "time", "text")
			for _, t := range tasks {
				i := index[t.ID]
				out[i].Task = t
				at := s.t(ps[i].At)
				done.add(t.ID, t.Attempt-1, at)
				started.add(t.ID, t.Attempt, store.PhaseVerify, t.Worker, store.TaskRunning, at, t.Version)
			}
			v, args = s.from(done)
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE task_attempts SET state = 'succeeded', finished_at = v.column3
				FROM `+v+` WHERE task_attempts.task_id = v.column1 AND task_attempts.attempt = v.column2`), s.perRun(args)...); err != nil {
				return err
			}
			return s.insertAttempts(ctx, tx, started)
		})
		if err != nil {
			return err
		}
		for i, p := range ps {
			if out[i].Task == nil {
				out[i].Err = fmt.Errorf("stage task %d: %w", p.ID, store.ErrLeaseLost)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("stage %d tasks: %w", len(ps), err)
	}
	return out, nil
}

// TaskFinishMany ends many attempts in one transaction.
func (s *Store) TaskFinishMany(ctx context.Context, ps []store.TaskFinishParams) ([]store.FinishResult, error) {
	for _, p := range ps {
		switch p.State {
		case store.TaskSucceeded, store.TaskFailed, store.TaskPending:
		default:
			return nil, fmt.Errorf("finish task %d: state %q is not succeeded, failed or pending (retry)", p.ID, p.State)
		}
	}
	out := make([]store.FinishResult, len(ps))
	if len(ps) == 0 {
		return out, nil
	}
	var res []*store.TaskFinishResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = s.finishMany(ctx, tx, ps)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("finish %d tasks: %w", len(ps), err)
	}
	for i, r := range res {
		out[i].Result = r
		if r == nil {
			out[i].Err = fmt.Errorf("finish task %d: %w", ps[i].ID, store.ErrLeaseLost)
		}
	}
	if slices.ContainsFunc(res, func(r *store.TaskFinishResult) bool { return r != nil && r.Task.State == store.TaskSucceeded }) {
		s.waker.Notify()
	}
	if err := s.finishRunsMany(ctx, res, latest(ps, func(p store.TaskFinishParams) time.Time { return p.At })); err != nil {
		return out, fmt.Errorf("finish the runs of %d tasks: %w", len(ps), err)
	}
	return out, nil
}

func latest[T any](items []T, at func(T) time.Time) time.Time {
	var t time.Time
	for _, it := range items {
		if a := at(it); a.After(t) {
			t = a
		}
	}
	return t
}

// finishMany ends the attempts that still hold their tokens, in tx: their
// tasks and attempts, their dependents readied (one statement for the whole
// batch) or skipped, their runs' breakers. results[i] is nil where ps[i]'s
// lease was lost.
func (s *Store) finishMany(ctx context.Context, tx *sql.Tx, ps []store.TaskFinishParams) ([]*store.TaskFinishResult, error) {
	clock, err := s.clock(ctx, tx)
	if err != nil {
		return nil, err
	}
	// On the database's clock, like the tasks' starts: durations and retry
	// delays (measured against leasing's clock) must not mix two hosts'
	// clocks.
	ps = slices.Clone(ps)
	for i := range ps {
		p := &ps[i]
		now := clock(p.At)
		if !p.NotBefore.IsZero() {
			p.NotBefore = now.Add(p.NotBefore.Sub(p.At))
		}
		p.At = now
	}
	byID := map[int64]*store.TaskFinishResult{}
	deps := map[int64][]store.IDRange{}
	first := firstOfEach(len(ps), func(i int) int64 { return ps[i].ID })
	err = batch(first, maxBatchRows, func(part []int) error {
		rs := newRowset("int", "int", "text", "text", "time", "time")
		for _, i := range part {
			p := ps[i]
			rs.add(p.ID, p.LeaseToken, p.State, p.Error, s.t(p.NotBefore), s.t(p.At))
		}
		v, args := s.from(rs)
		rows, err := tx.QueryContext(ctx, s.q(`UPDATE tasks SET state = v.column3, error = v.column4, not_before = v.column5, finished_at = v.column6,
				lease_expires_at = NULL
			FROM `+v+`
			WHERE tasks.id = v.column1 AND tasks.lease_token = v.column2 AND tasks.state = 'running'
			RETURNING `+taskColumns+`, dependents`), s.perRun(args)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d string
			t, err := scanTask(rows, &d)
			if err != nil {
				return err
			}
			if deps[t.ID], err = store.DecodeDependents(d); err != nil {
				return err
			}
			byID[t.ID] = &store.TaskFinishResult{Task: t}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	out := make([]*store.TaskFinishResult, len(ps))
	var ended []int // indexes of the attempts that ended, in the caller's order
	for _, i := range first {
		if r := byID[ps[i].ID]; r != nil && r.Task.LeaseToken == ps[i].LeaseToken {
			out[i] = r
			ended = append(ended, i)
		}
	}
	if len(ended) == 0 {
		return out, nil
	}
	err = batch(ended, maxBatchRows, func(part []int) error {
		rs := newRowset("int", "int", "text", "text", "time")
		for _, i := range part {
			state := ps[i].State
			if state == store.TaskPending {
				state = store.TaskFailed // the attempt failed; the task retries
			}
			rs.add(ps[i].ID, out[i].Task.Attempt, state, ps[i].Error, s.t(ps[i].At))
		}
		v, args := s.from(rs)
		_, err := tx.ExecContext(ctx, s.q(`UPDATE task_attempts SET state = v.column3, error = v.column4, finished_at = v.column5,
				unpromoted = (v.column3 <> 'succeeded')
			FROM `+v+` WHERE task_attempts.task_id = v.column1 AND task_attempts.attempt = v.column2`), s.perRun(args)...)
		return err
	})
	if err != nil {
		return nil, err
	}
	c := newCounts()
	var ready []store.IDRange
	for _, i := range ended {
		c.move(out[i].Task, store.TaskRunning)
		if ps[i].State == store.TaskSucceeded {
			ready = append(ready, deps[ps[i].ID]...)
			c.paced(out[i].Task.RunID, ps[i].At, 0, 1)
		}
	}
	if err := s.readyDependents(ctx, tx, ready, latest(ps, func(p store.TaskFinishParams) time.Time { return p.At })); err != nil {
		return nil, err
	}
	for _, i := range ended {
		t := out[i].Task
		if ps[i].State == store.TaskFailed {
			if out[i].Skipped, err = s.skipDownstream(ctx, tx, fmt.Sprintf("not run: upstream task %d failed", t.ID), deps[t.ID], ps[i].At); err != nil {
				return nil, err
			}
			for _, sk := range out[i].Skipped {
				c.move(sk, store.TaskPending)
			}
		}
		if ps[i].State != store.TaskPending {
			if err := s.countBreaker(ctx, tx, t, ps[i].State == store.TaskFailed, ps[i].At); err != nil {
				return nil, err
			}
		}
	}
	return out, s.saveCounts(ctx, tx, c)
}

// readyDependents lowers the waiting count of each task in ranges by the
// number of ranges it is in, in one statement per maxBatchRows segments,
// stamping the tasks it makes ready with at, and wakes other processes'
// workers if a task became ready. A task that still waits for others wakes
// no one: where a daily partition reads 24 hourly ones, 23 of the 24
// promotions used to wake every listening worker on every host for a lease
// query that found nothing new.
func (s *Store) readyDependents(ctx context.Context, tx *sql.Tx, ranges []store.IDRange, at time.Time) error {
	segs := countCover(ranges)
	if len(segs) == 0 {
		return nil
	}
	readied := false
	err := batch(segs, maxBatchRows, func(part []segment) error {
		rs := newRowset("int", "int", "int")
		for _, g := range part {
			rs.add(g.lo, g.hi, g.n)
		}
		v, args := s.from(rs)
		update := `UPDATE tasks SET waiting = waiting - v.column3,
			ready_at = CASE WHEN waiting = v.column3 THEN ? ELSE ready_at END
			FROM ` + v + ` WHERE tasks.id BETWEEN v.column1 AND v.column2`
		args = append([]any{s.t(at)}, args...)
		if s.d.Notify == "" { // nobody else to wake
			_, err := tx.ExecContext(ctx, s.q(update), s.perRun(args)...)
			return err
		}
		waiting, err := s.ids(ctx, tx, update+` RETURNING tasks.waiting`, args)
		readied = readied || slices.Contains(waiting, 0)
		return err
	})
	if err != nil || !readied {
		return err
	}
	return s.notify(ctx, tx)
}

// segment is a range of ids each of which is in n of the ranges countCover
// was given.
type segment struct{ lo, hi, n int64 }

// countCover splits overlapping ranges into disjoint segments, each with
// how many ranges cover it, in id order: an UPDATE ... FROM applies one
// joined row per target row, so overlaps must be counted first.
func countCover(ranges []store.IDRange) []segment {
	type edge struct{ at, delta int64 }
	edges := make([]edge, 0, 2*len(ranges))
	for _, r := range ranges {
		if r.Hi >= r.Lo {
			edges = append(edges, edge{r.Lo, 1}, edge{r.Hi + 1, -1})
		}
	}
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Compare(a.at, b.at) })
	var out []segment
	var n int64
	for i := 0; i < len(edges); {
		at := edges[i].at
		for ; i < len(edges) && edges[i].at == at; i++ {
			n += edges[i].delta
		}
		if n > 0 && i < len(edges) {
			out = append(out, segment{lo: at, hi: edges[i].at - 1, n: n})
		}
	}
	return out
}

// finishRunsMany ends the runs of finished tasks, and of the tasks their
// failures skipped, once nothing of them is pending or running: each run
// once per batch. The last result of a run that ended says so.
func (s *Store) finishRunsMany(ctx context.Context, res []*store.TaskFinishResult, at time.Time) error {
	last := map[int64]*store.TaskFinishResult{}
	var runs []int64
	note := func(runID int64, r *store.TaskFinishResult) {
		if _, ok := last[runID]; !ok {
			runs = append(runs, runID)
		}
		if r != nil {
			last[runID] = r
		} else if _, ok := last[runID]; !ok {
			last[runID] = nil
		}
	}
	for _, r := range res {
		if r == nil || r.Task.State == store.TaskPending {
			continue
		}
		note(r.Task.RunID, r)
		for _, t := range r.Skipped {
			note(t.RunID, nil)
		}
	}
	for _, id := range runs {
		status, err := s.finishRunIfDone(ctx, id, at)
		if err != nil {
			return err
		}
		if r := last[id]; r != nil && status != "" {
			r.RunStatus, r.RunFinished = status, true
		}
	}
	return nil
}

// insertAttempts inserts task attempts: task_id, attempt, phase, worker,
// state, started_at, version.
func (s *Store) insertAttempts(ctx context.Context, tx *sql.Tx, rs *rowset) error {
	v, args := s.from(rs)
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO task_attempts (task_id, attempt, phase, worker, state, started_at, version)
		SELECT `+columns(7)+` FROM `+v), s.perRun(args)...)
	return err
}
