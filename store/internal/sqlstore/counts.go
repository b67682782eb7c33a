package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/weir-dev/weir/store"
)

// countSlots is how many rows each (run, asset, state) count and each
// second of a run's pace is spread over (see migration 6).
const countSlots = 16

// counts gathers what a transaction changes in run_counts and run_pace;
// saveCounts writes it before the transaction commits, so the counts move
// with the tasks' states.
type counts struct {
	tasks map[countKey]*countDelta
	pace  map[paceKey]*paceDelta
}

type countKey struct {
	run   int64
	asset string
	state store.TaskState
}

type countDelta struct{ tasks, partitions int64 }

type paceKey struct{ run, second int64 }

type paceDelta struct{ started, finished int64 }

func newCounts() *counts {
	return &counts{tasks: map[countKey]*countDelta{}, pace: map[paceKey]*paceDelta{}}
}

// add counts n tasks of partitions partitions into (run, asset, state);
// negative n takes them out.
func (c *counts) add(run int64, asset string, state store.TaskState, n, partitions int64) {
	k := countKey{run, asset, state}
	d := c.tasks[k]
	if d == nil {
		d = &countDelta{}
		c.tasks[k] = d
	}
	d.tasks += n
	d.partitions += partitions
}

// move counts t out of from and into its state now.
func (c *counts) move(t *store.Task, from store.TaskState) {
	c.add(t.RunID, t.Asset, from, -1, -t.PartitionCount)
	c.add(t.RunID, t.Asset, t.State, 1, t.PartitionCount)
}

// paced counts a compute start or a success of a task of run at at.
func (c *counts) paced(run int64, at time.Time, started, finished int64) {
	k := paceKey{run, at.Unix()}
	d := c.pace[k]
	if d == nil {
		d = &paceDelta{}
		c.pace[k] = d
	}
	d.started += started
	d.finished += finished
}

// saveCounts adds c to the counts, in one slot chosen at random, rows in
// key order (so two transactions in one slot never wait for each other in
// a cycle).
func (s *Store) saveCounts(ctx context.Context, tx *sql.Tx, c *counts) error {
	slot := rand.IntN(countSlots)
	keys := make([]countKey, 0, len(c.tasks))
	for k, d := range c.tasks {
		if d.tasks != 0 || d.partitions != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b countKey) int {
		return cmp.Or(cmp.Compare(a.run, b.run), cmp.Compare(a.asset, b.asset), cmp.Compare(a.state, b.state))
	})
	if len(keys) > 0 {
		rs := newRowset("int", "text", "text", "int", "int", "int")
		for _, k := range keys {
			rs.add(k.run, k.asset, k.state, slot, c.tasks[k].tasks, c.tasks[k].partitions)
		}
		v, args := s.from(rs)
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO run_counts (run_id, asset, state, slot, tasks, partitions)
			SELECT `+columns(6)+` FROM `+v+` WHERE true
			ON CONFLICT (run_id, asset, state, slot) DO UPDATE SET tasks = run_counts.tasks + excluded.tasks,
				partitions = run_counts.partitions + excluded.partitions`), s.perRun(args)...); err != nil {
			return err
		}
	}
	pace := make([]paceKey, 0, len(c.pace))
	for k := range c.pace {
		pace = append(pace, k)
	}
	if len(pace) == 0 {
		return nil
	}
	slices.SortFunc(pace, func(a, b paceKey) int { return cmp.Or(cmp.Compare(a.run, b.run), cmp.Compare(a.second, b.second)) })
	rs := newRowset("int", "int", "int", "int", "int")
	for _, k := range pace {
		rs.add(k.run, k.second, slot, c.pace[k].started, c.pace[k].finished)
	}
	v, args := s.from(rs)
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO run_pace (run_id, second, slot, started, finished)
		SELECT `+columns(5)+` FROM `+v+` WHERE true
		ON CONFLICT (run_id, second, slot) DO UPDATE SET started = run_pace.started + excluded.started,
			finished = run_pace.finished + excluded.finished`), s.perRun(args)...)
	return err
}
