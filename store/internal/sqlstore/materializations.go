package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/weir-dev/weir/store"
)

// MaterializationPromote promotes an attempt's versions, fenced by its
// lease token.
func (s *Store) MaterializationPromote(ctx context.Context, p store.MaterializationPromoteParams) (*store.TaskFinishResult, error) {
	res, err := s.MaterializationPromoteMany(ctx, []store.MaterializationPromoteParams{p})
	if err != nil {
		return nil, err
	}
	return res[0].Result, res[0].Err
}

// MaterializationPromoteMany promotes many attempts' versions in one
// transaction, each fenced by its own lease token: the tasks end as
// succeeded, and the materializations of the attempts that held their
// leases, their inputs and their partitions' current versions are written
// with one statement each per maxBatchRows rows.
func (s *Store) MaterializationPromoteMany(ctx context.Context, ps []store.MaterializationPromoteParams) ([]store.FinishResult, error) {
	out := make([]store.FinishResult, len(ps))
	if len(ps) == 0 {
		return out, nil
	}
	var res []*store.TaskFinishResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		fps := make([]store.TaskFinishParams, len(ps))
		for i, p := range ps {
			fps[i] = store.TaskFinishParams{ID: p.TaskID, LeaseToken: p.LeaseToken, State: store.TaskSucceeded, At: p.PromotedAt}
		}
		var err error
		if res, err = s.finishMany(ctx, tx, fps); err != nil {
			return err
		}
		var held []store.MaterializationPromoteParams
		for i, r := range res {
			if r != nil {
				held = append(held, ps[i])
			}
		}
		return s.insertMaterializations(ctx, tx, held)
	})
	if err != nil {
		return nil, fmt.Errorf("promote %d attempts: %w", len(ps), err)
	}
	for i, r := range res {
		out[i].Result = r
		if r == nil {
			out[i].Err = fmt.Errorf("promote %s (task %d): %w", ps[i].Asset, ps[i].TaskID, store.ErrLeaseLost)
		}
	}
	s.waker.Notify()
	if err := s.finishRunsMany(ctx, res, latest(ps, func(p store.MaterializationPromoteParams) time.Time { return p.PromotedAt })); err != nil {
		return out, fmt.Errorf("finish the runs of %d promoted tasks: %w", len(ps), err)
	}
	return out, nil
}

// promotedRow is one partition of one promoted attempt.
type promotedRow struct {
	p    *store.MaterializationPromoteParams
	part *store.PromotedPartition
	id   int64 // the materialization's, once inserted
}

// insertMaterializations writes the materializations of promoted attempts,
// what each read, and makes each partition's the current version (where a
// batch promotes one partition twice, the later attempt's wins, as it would
// committing after the other).
func (s *Store) insertMaterializations(ctx context.Context, tx *sql.Tx, ps []store.MaterializationPromoteParams) error {
	var all []*promotedRow
	for i := range ps {
		for j := range ps[i].Partitions {
			all = append(all, &promotedRow{p: &ps[i], part: &ps[i].Partitions[j]})
		}
	}
	type key struct {
		task int64
		part string
	}
	err := batch(all, maxBatchRows, func(rows []*promotedRow) error {
		rs := newRowset("text", "text", "text", "int", "int", "int", "text", "text", "int", "int", "time", "time")
		byKey := make(map[key]*promotedRow, len(rows))
		for _, r := range rows {
			p, pp := r.p, r.part
			rs.add(p.Asset, pp.Key, pp.Version, p.RunID, p.TaskID, p.Attempt, p.CodeVersion, pp.ManifestSHA256,
				pp.Files, pp.Bytes, s.t(p.StartedAt), s.t(p.PromotedAt))
			byKey[key{p.TaskID, pp.Key}] = r
		}
		v, args := s.from(rs)
		res, err := tx.QueryContext(ctx, s.q(`INSERT INTO materializations (asset, partition_key, version, run_id, task_id, attempt, code_version,
			manifest_sha256, files, bytes, started_at, promoted_at) SELECT `+columns(12)+` FROM `+v+` RETURNING id, task_id, partition_key`), s.perRun(args)...)
		if err != nil {
			return err
		}
		defer res.Close()
		for res.Next() {
			var id int64
			var k key
			if err := res.Scan(&id, &k.task, &k.part); err != nil {
				return err
			}
			if r := byKey[k]; r != nil {
				r.id = id
			}
		}
		return res.Err()
	})
	if err != nil {
		return err
	}
	type input struct {
		id int64
		in store.Input
	}
	var inputs []input
	for _, r := range all {
		for _, in := range r.part.Inputs {
			inputs = append(inputs, input{r.id, in})
		}
	}
	err = batch(inputs, maxBatchRows, func(ins []input) error {
		rs := newRowset("int", "text", "text", "text")
		for _, in := range ins {
			rs.add(in.id, in.in.Asset, in.in.PartitionKey, in.in.Version)
		}
		v, args := s.from(rs)
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO materialization_inputs (materialization_id, upstream_asset, upstream_partition, upstream_version)
			SELECT `+columns(4)+` FROM `+v), s.perRun(args)...)
		return err
	})
	if err != nil {
		return err
	}
	// One row per partition: an upsert may not touch a row twice.
	type partKey struct{ asset, key string }
	latestOf := map[partKey]*promotedRow{}
	var keys []partKey
	for _, r := range all {
		k := partKey{r.p.Asset, r.part.Key}
		prev, seen := latestOf[k]
		if !seen {
			keys = append(keys, k)
		}
		if !seen || r.id > prev.id {
			latestOf[k] = r
		}
	}
	// A partition promoted twice in one batch: the older is superseded at
	// once.
	var older []int64
	for _, r := range all {
		if latestOf[partKey{r.p.Asset, r.part.Key}] != r {
			older = append(older, r.id)
		}
	}
	if err := s.markSuperseded(ctx, tx, older); err != nil {
		return err
	}
	return batch(keys, maxBatchRows, func(keys []partKey) error {
		rs := newRowset("text", "text", "int", "text", "text", "time", "text")
		ids := newRowset("int")
		for _, k := range keys {
			r := latestOf[k]
			rs.add(r.p.Asset, r.part.Key, r.id, r.part.Version, r.part.ManifestSHA256, s.t(r.p.PromotedAt), r.p.CodeVersion)
			if len(r.part.Inputs) > 0 {
				ids.add(r.id)
			}
		}
		v, args := s.from(rs)
		// The versions these replace are superseded now: garbage
		// collection finds them by the index of what it may delete.
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE materializations SET superseded = TRUE WHERE id IN (SELECT ap.materialization_id
			FROM `+v+` JOIN asset_partitions ap ON ap.asset = v.column1 AND ap.partition_key = v.column2 WHERE ap.materialization_id <> v.column3)`),
			s.perRun(args)...); err != nil {
			return err
		}
		// WHERE true: SQLite reads ON CONFLICT after a bare FROM as a join.
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO asset_partitions (asset, partition_key, materialization_id, version, manifest_sha256, updated_at,
				code_version, failed, failed_run_id, error, changed)
			SELECT `+columns(7)+`, FALSE, 0, '', `+s.d.ChangeMark+` FROM `+v+` WHERE true
			ON CONFLICT (asset, partition_key) DO UPDATE SET materialization_id = excluded.materialization_id, version = excluded.version,
				manifest_sha256 = excluded.manifest_sha256, failed = FALSE, failed_run_id = 0, error = '', fail_cause = '', updated_at = excluded.updated_at,
				verify_error = '', code_version = excluded.code_version, input_stale = FALSE, changed = excluded.changed`), s.perRun(args)...)
		if err != nil {
			return err
		}
		// The current versions that read an earlier version of a partition
		// promoted here are stale now. Found through the inputs' upstream
		// index; for a first promotion there are none, and nothing more
		// is written.
		readers, err := s.ids(ctx, tx, `SELECT mi.materialization_id FROM `+v+` JOIN materialization_inputs mi
			ON mi.upstream_asset = v.column1 AND mi.upstream_partition = v.column2 WHERE mi.upstream_version != v.column4`, args)
		if err != nil {
			return err
		}
		if ids.n > 0 {
			// And a version promoted here is stale already if a partition
			// it read has had another version promoted since it read it.
			iv, iargs := s.from(ids)
			late, err := s.ids(ctx, tx, `SELECT DISTINCT mi.materialization_id FROM `+iv+` JOIN materialization_inputs mi ON mi.materialization_id = v.column1
				JOIN asset_partitions up ON up.asset = mi.upstream_asset AND up.partition_key = mi.upstream_partition
				WHERE up.version != mi.upstream_version`, iargs)
			if err != nil {
				return err
			}
			readers = append(readers, late...)
		}
		return s.markInputStale(ctx, tx, readers)
	})
}

// ids runs a query of one integer column (ids, counts) over a rowset's
// arguments, planned on each run.
func (s *Store) ids(ctx context.Context, tx *sql.Tx, query string, args []any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, s.q(query), s.perRun(args)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// markInputStale marks the partitions whose current version is one of the
// materializations ids as input-stale (a materialization no longer current
// is left alone). The rows are found by their key, through the
// materializations, not by scanning for the id.
func (s *Store) markInputStale(ctx context.Context, tx *sql.Tx, ids []int64) error {
	return s.execIDs(ctx, tx, ids, func(v string) string {
		return `UPDATE asset_partitions SET input_stale = TRUE, changed = ` + s.d.ChangeMark + `
			WHERE NOT input_stale AND (asset, partition_key, materialization_id) IN (SELECT m.asset, m.partition_key, m.id FROM ` + v + ` JOIN materializations m ON m.id = v.column1)`
	})
}

// markSuperseded marks materializations superseded by id.
func (s *Store) markSuperseded(ctx context.Context, tx *sql.Tx, ids []int64) error {
	return s.execIDs(ctx, tx, ids, func(v string) string {
		return `UPDATE materializations SET superseded = TRUE WHERE id IN (SELECT v.column1 FROM ` + v + `)`
	})
}

// execIDs runs a statement over ids in batches: query gets the rowset of
// one int column (v.column1) to select from.
func (s *Store) execIDs(ctx context.Context, tx *sql.Tx, ids []int64, query func(v string) string) error {
	return batch(ids, maxBatchRows, func(ids []int64) error {
		rs := newRowset("int")
		for _, id := range ids {
			rs.add(id)
		}
		v, args := s.from(rs)
		_, err := tx.ExecContext(ctx, s.q(query(v)), s.perRun(args)...)
		return err
	})
}

// GarbageCandidates returns what the store's records say gc may delete of
// assets: superseded versions, and versions of ended attempts never
// promoted. Both are read through partial indexes that hold only what is
// not collected yet (migration 19).
func (s *Store) GarbageCandidates(ctx context.Context, assets []string) ([]store.GarbageCandidate, error) {
	if len(assets) == 0 {
		return nil, nil
	}
	names := make([]any, len(assets))
	wanted := make(map[string]bool, len(assets))
	for i, a := range assets {
		names[i], wanted[a] = a, true
	}
	in, args := s.in("text", names)
	var out []store.GarbageCandidate
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT asset, id, partition_key, version, task_id FROM materializations
		WHERE asset `+in+` AND superseded AND NOT collected ORDER BY asset, partition_key, id DESC`), args...)
	if err != nil {
		return nil, fmt.Errorf("superseded versions: %w", s.mapErr(err))
	}
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			c := store.GarbageCandidate{PartitionCount: 1}
			if err := rows.Scan(&c.Asset, &c.MaterializationID, &c.PartitionFirst, &c.Version, &c.TaskID); err != nil {
				return err
			}
			c.PartitionLast, c.Rank = c.PartitionFirst, 1
			if n := len(out); n > 0 && out[n-1].Asset == c.Asset && out[n-1].PartitionFirst == c.PartitionFirst {
				c.Rank = out[n-1].Rank + 1
			}
			out = append(out, c)
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("superseded versions: %w", s.mapErr(err))
	}
	// An attempt that ended without promoting its version: a failed,
	// cancelled or released compute attempt, or a verify attempt whose
	// task did not promote what it verified, unless the task is still at
	// that version (a verify phase to come) or promoted it after all.
	// Three steps of index reads instead of one join: with the statistics
	// a backfill leaves, PostgreSQL joined from the asset's 87,600 tasks
	// (6 s for 20 assets) rather than from the few unpromoted attempts.
	type attempt struct {
		task    int64
		version string
	}
	var ended []attempt
	rows, err = s.db.QueryContext(ctx, `SELECT task_id, version FROM task_attempts WHERE unpromoted AND NOT collected AND version <> ''
		ORDER BY task_id, version`)
	if err != nil {
		return nil, fmt.Errorf("unpromoted attempts: %w", s.mapErr(err))
	}
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			var a attempt
			if err := rows.Scan(&a.task, &a.version); err != nil {
				return err
			}
			if n := len(ended); n == 0 || ended[n-1] != a {
				ended = append(ended, a)
			}
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("unpromoted attempts: %w", s.mapErr(err))
	}
	ids := make([]any, 0, len(ended))
	for i, a := range ended {
		if i == 0 || ended[i-1].task != a.task {
			ids = append(ids, a.task)
		}
	}
	tasks := map[int64]*store.Task{}
	err = batch(ids, 500, func(ids []any) error {
		in, args := s.in("int", ids)
		got, err := s.queryTasks(ctx, s.db, `SELECT `+taskColumns+` FROM tasks WHERE id `+in, s.perRun(args)...)
		for _, t := range got {
			tasks[t.ID] = t
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("unpromoted attempts: %w", s.mapErr(err))
	}
	var unpromoted []store.GarbageCandidate
	for _, a := range ended {
		t := tasks[a.task]
		if t == nil || !wanted[t.Asset] || (t.Version == a.version && (t.State == store.TaskPending || t.State == store.TaskRunning)) {
			continue
		}
		var one int
		err := s.db.QueryRowContext(ctx, s.q(`SELECT 1 FROM materializations WHERE asset = ? AND partition_key = ? AND version = ?`),
			t.Asset, t.PartitionFirst, a.version).Scan(&one)
		if err == nil {
			continue // promoted after all
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("unpromoted attempts: %w", s.mapErr(err))
		}
		unpromoted = append(unpromoted, store.GarbageCandidate{Asset: t.Asset, Version: a.version, TaskID: t.ID, PartitionFirst: t.PartitionFirst,
			PartitionLast: t.PartitionLast, PartitionCount: t.PartitionCount})
	}
	out = append(out, unpromoted...)
	// By asset, each asset's superseded versions before its attempts.
	slices.SortStableFunc(out, func(x, y store.GarbageCandidate) int { return strings.Compare(x.Asset, y.Asset) })
	return out, nil
}

// VersionsCollected marks versions gc deleted: the materialization, or
// every attempt of the task at that version.
func (s *Store) VersionsCollected(ctx context.Context, vs []store.GarbageCandidate) error {
	var mats []int64
	var attempts []store.GarbageCandidate
	for _, c := range vs {
		if c.MaterializationID != 0 {
			mats = append(mats, c.MaterializationID)
		} else {
			attempts = append(attempts, c)
		}
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := s.execIDs(ctx, tx, mats, func(v string) string {
			return `UPDATE materializations SET collected = TRUE WHERE id IN (SELECT v.column1 FROM ` + v + `)`
		})
		if err != nil {
			return err
		}
		return batch(attempts, maxBatchRows, func(part []store.GarbageCandidate) error {
			rs := newRowset("int", "text")
			for _, c := range part {
				rs.add(c.TaskID, c.Version)
			}
			v, args := s.from(rs)
			_, err := tx.ExecContext(ctx, s.q(`UPDATE task_attempts SET collected = TRUE
				FROM `+v+` WHERE task_attempts.task_id = v.column1 AND task_attempts.version = v.column2`), s.perRun(args)...)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("record collected versions: %w", s.mapErr(err))
	}
	return nil
}

// MaterializationList returns an asset's materializations, newest first.
func (s *Store) MaterializationList(ctx context.Context, p store.MaterializationListParams) ([]*store.Materialization, error) {
	limit := p.Limit
	switch {
	case limit < 0:
		limit = 1 << 62
	case limit == 0:
		limit = 100
	}
	q := `SELECT id, asset, partition_key, version, run_id, task_id, attempt, code_version, manifest_sha256, files, bytes, started_at, promoted_at
		FROM materializations WHERE 1 = 1`
	q, args := whereAssetRun(q, p.Asset, p.RunID, p.TaskID, p.TaskIDTo)
	if p.PartitionKey != "" {
		q += ` AND partition_key = ?`
		args = append(args, p.PartitionKey)
	}
	order := ` ORDER BY id DESC LIMIT ?`
	if p.AfterID != 0 {
		q += ` AND id > ?`
		args = append(args, p.AfterID)
		order = ` ORDER BY id LIMIT ?`
	}
	rows, err := s.db.QueryContext(ctx, s.q(q+order), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list materializations: %w", s.mapErr(err))
	}
	return s.scanMaterializations(rows)
}

// scanMaterializations reads rows of materializationColumns and closes
// them.
func (s *Store) scanMaterializations(rows *sql.Rows) ([]*store.Materialization, error) {
	defer rows.Close()
	var out []*store.Materialization
	for rows.Next() {
		var m store.Materialization
		var started, promoted dbTime
		if err := rows.Scan(&m.ID, &m.Asset, &m.PartitionKey, &m.Version, &m.RunID, &m.TaskID, &m.Attempt, &m.CodeVersion, &m.ManifestSHA256,
			&m.Files, &m.Bytes, &started, &promoted); err != nil {
			return nil, err
		}
		m.StartedAt, m.PromotedAt = started.t, promoted.t
		out = append(out, &m)
	}
	return out, s.mapErr(rows.Err())
}

// MaterializationInputs returns what a materialization read.
func (s *Store) MaterializationInputs(ctx context.Context, id int64) ([]store.Input, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT upstream_asset, upstream_partition, upstream_version FROM materialization_inputs
		WHERE materialization_id = ? ORDER BY upstream_asset, upstream_partition`), id)
	if err != nil {
		return nil, fmt.Errorf("materialization %d inputs: %w", id, s.mapErr(err))
	}
	return s.scanInputs(rows)
}

// scanInputs reads rows of upstream asset, partition and version, and
// closes them.
func (s *Store) scanInputs(rows *sql.Rows) ([]store.Input, error) {
	defer rows.Close()
	var out []store.Input
	for rows.Next() {
		var in store.Input
		if err := rows.Scan(&in.Asset, &in.PartitionKey, &in.Version); err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, s.mapErr(rows.Err())
}

// PartitionVerified records what verifying a current version found.
func (s *Store) PartitionVerified(ctx context.Context, asset, key, version, problem string) error {
	// Only a change is written: verifying everything again writes nothing
	// where nothing changed, so status reads have no changes to re-read.
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE asset_partitions SET verify_error = ?, changed = `+s.d.ChangeMark+`
		WHERE asset = ? AND partition_key = ? AND version = ? AND verify_error <> ?`),
		problem, asset, key, version, problem); err != nil {
		return fmt.Errorf("record verification of %s %s: %w", asset, key, s.mapErr(err))
	}
	return nil
}

// PartitionInputsChanged returns, for asset's partitions marked
// input_stale, the upstream assets whose partitions they read have another
// current version now, with the keys of the partitions that read them.
func (s *Store) PartitionInputsChanged(ctx context.Context, asset string) (map[string][]string, error) {
	// Planned on each run: a generic plan for "asset = $1" joins whole
	// tables (6 s instead of 20 ms at 40,000 partitions).
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT DISTINCT ap.partition_key, mi.upstream_asset FROM asset_partitions ap
			JOIN materialization_inputs mi ON mi.materialization_id = ap.materialization_id
			JOIN asset_partitions up ON up.asset = mi.upstream_asset AND up.partition_key = mi.upstream_partition
		WHERE ap.asset = ? AND ap.input_stale AND up.version != mi.upstream_version ORDER BY ap.partition_key`), s.perRun([]any{asset})...)
	if err != nil {
		return nil, fmt.Errorf("changed inputs of %s: %w", asset, s.mapErr(err))
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var key, up string
		if err := rows.Scan(&key, &up); err != nil {
			return nil, err
		}
		out[up] = append(out[up], key)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("changed inputs of %s: %w", asset, s.mapErr(err))
	}
	return out, nil
}

// CurrentReaders returns the current materializations that read in.
func (s *Store) CurrentReaders(ctx context.Context, in store.Input) ([]*store.Materialization, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT m.id, m.asset, m.partition_key, m.version, m.run_id, m.task_id, m.attempt, m.code_version,
			m.manifest_sha256, m.files, m.bytes, m.started_at, m.promoted_at
		FROM materialization_inputs mi JOIN materializations m ON m.id = mi.materialization_id
			JOIN asset_partitions ap ON ap.asset = m.asset AND ap.partition_key = m.partition_key AND ap.materialization_id = m.id
		WHERE mi.upstream_asset = ? AND mi.upstream_partition = ? AND mi.upstream_version = ? ORDER BY m.asset, m.partition_key`),
		s.perRun([]any{in.Asset, in.PartitionKey, in.Version})...)
	if err != nil {
		return nil, fmt.Errorf("readers of %s %s %s: %w", in.Asset, in.PartitionKey, in.Version, s.mapErr(err))
	}
	return s.scanMaterializations(rows)
}

// InputEach streams every materialization input.
func (s *Store) InputEach(ctx context.Context, fn func(int64, store.Input) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT materialization_id, upstream_asset, upstream_partition, upstream_version FROM materialization_inputs
		ORDER BY materialization_id, upstream_asset, upstream_partition`)
	if err != nil {
		return fmt.Errorf("list materialization inputs: %w", s.mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var in store.Input
		if err := rows.Scan(&id, &in.Asset, &in.PartitionKey, &in.Version); err != nil {
			return err
		}
		if err := fn(id, in); err != nil {
			return err
		}
	}
	return s.mapErr(rows.Err())
}

// InputsOfCurrent returns the versions of asset that current versions read.
func (s *Store) InputsOfCurrent(ctx context.Context, asset string) ([]store.Input, error) {
	// Current means the partition's row names the materialization: found
	// through the materialization's (asset, partition) key, an index
	// lookup. Joined on materialization_id alone, SQLite scanned every
	// partition row per input row: 25 s per asset at 50,000 partitions.
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT DISTINCT mi.upstream_asset, mi.upstream_partition, mi.upstream_version
		FROM materialization_inputs mi JOIN materializations m ON m.id = mi.materialization_id
			JOIN asset_partitions ap ON ap.asset = m.asset AND ap.partition_key = m.partition_key AND ap.materialization_id = m.id
		WHERE mi.upstream_asset = ? ORDER BY mi.upstream_partition, mi.upstream_version`), s.perRun([]any{asset})...)
	if err != nil {
		return nil, fmt.Errorf("versions of %s that current versions read: %w", asset, s.mapErr(err))
	}
	return s.scanInputs(rows)
}

// PartitionFail records failed partitions.
func (s *Store) PartitionFail(ctx context.Context, p store.PartitionFailParams) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, s.q(`INSERT INTO asset_partitions (asset, partition_key, failed, failed_run_id, error, fail_cause, updated_at, changed)
			VALUES (?, ?, TRUE, ?, ?, ?, ?, `+s.d.ChangeMark+`)
			ON CONFLICT (asset, partition_key) DO UPDATE SET failed = TRUE, failed_run_id = excluded.failed_run_id, error = excluded.error,
				fail_cause = excluded.fail_cause, updated_at = excluded.updated_at, changed = excluded.changed`))
		if err != nil {
			return err
		}
		defer st.Close()
		for _, k := range p.Keys {
			if _, err := st.ExecContext(ctx, p.Asset, k, p.RunID, p.Error, string(p.Cause), s.t(p.At)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record failed partitions of %s: %w", p.Asset, err)
	}
	return nil
}

// PartitionPromotedAt returns when key's current version was promoted.
func (s *Store) PartitionPromotedAt(ctx context.Context, asset, key string) (time.Time, error) {
	var at dbTime
	err := s.db.QueryRowContext(ctx, s.q(`SELECT m.promoted_at FROM asset_partitions ap JOIN materializations m ON m.id = ap.materialization_id
		WHERE ap.asset = ? AND ap.partition_key = ?`), asset, key).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("when %s %q was promoted: %w", asset, key, s.mapErr(err))
	}
	return at.t, nil
}

const statusColumns = `partition_key, version, materialization_id, manifest_sha256, failed, failed_run_id, error, code_version, input_stale, verify_error, fail_cause`

func scanStatus(rows *sql.Rows) ([]store.PartitionStatus, error) {
	defer rows.Close()
	var out []store.PartitionStatus
	for rows.Next() {
		var ps store.PartitionStatus
		var matID sql.NullInt64
		if err := rows.Scan(&ps.PartitionKey, &ps.Version, &matID, &ps.ManifestSHA256, &ps.Failed, &ps.FailedRunID, &ps.Error,
			&ps.CodeVersion, &ps.InputStale, &ps.VerifyError, &ps.FailCause); err != nil {
			return nil, err
		}
		ps.MaterializationID = matID.Int64
		out = append(out, ps)
	}
	return out, rows.Err()
}

// PartitionStatusList returns every partition of asset with a status.
func (s *Store) PartitionStatusList(ctx context.Context, asset string) ([]store.PartitionStatus, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+statusColumns+` FROM asset_partitions WHERE asset = ? ORDER BY partition_key`), asset)
	if err != nil {
		return nil, fmt.Errorf("partition status of %s: %w", asset, s.mapErr(err))
	}
	out, err := scanStatus(rows)
	return out, s.mapErr(err)
}

// PartitionStateChanges streams the state of every partition of asset
// whose row changed at or after mark since (every partition when since is
// 0), and returns the mark to pass next time. The mark is read first: a
// row written between the two reads is read now and again next time.
func (s *Store) PartitionStateChanges(ctx context.Context, asset string, since int64, fn func(*store.PartitionState) error) (int64, error) {
	var next int64
	if err := s.db.QueryRowContext(ctx, s.d.ChangeWatermark).Scan(&next); err != nil {
		return 0, fmt.Errorf("partition states of %s: read the change mark: %w", asset, s.mapErr(err))
	}
	query, args := `SELECT partition_key, version != '', code_version, failed, verify_error != '', input_stale, fail_cause
		FROM asset_partitions WHERE asset = ?`, []any{asset}
	if since > 0 {
		query, args = query+` AND changed >= ? ORDER BY changed`, append(args, since)
	} else {
		query += ` ORDER BY partition_key`
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return 0, fmt.Errorf("partition states of %s: %w", asset, s.mapErr(err))
	}
	defer rows.Close()
	var st store.PartitionState
	var code, cause sql.RawBytes
	codes := map[string]string{} // one string per code version, not per row
	for rows.Next() {
		if err := rows.Scan(&st.Key, &st.Current, &code, &st.Failed, &st.VerifyFailed, &st.InputStale, &cause); err != nil {
			return 0, fmt.Errorf("partition states of %s: %w", asset, err)
		}
		c, ok := codes[string(code)]
		if !ok {
			c = string(code)
			codes[c] = c
		}
		st.CodeVersion = c
		st.FailCause = store.FailCause(cause)
		if err := fn(&st); err != nil {
			return 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("partition states of %s: %w", asset, s.mapErr(err))
	}
	return next, nil
}

// StatusSummaryGet returns the status summary kept for asset, nil if
// none was kept in this database.
func (s *Store) StatusSummaryGet(ctx context.Context, asset string) (*store.StatusSummary, error) {
	sum := &store.StatusSummary{Asset: asset}
	err := s.db.QueryRowContext(ctx, s.q(`SELECT definition, mark, body FROM asset_status_summaries
		WHERE asset = ? AND epoch = `+s.d.Epoch), asset).Scan(&sum.Definition, &sum.Mark, &sum.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("status summary of %s: %w", asset, s.mapErr(err))
	}
	return sum, nil
}

// StatusSummaryPut keeps each of sums unless a summary with a later mark
// is kept, in one transaction.
func (s *Store) StatusSummaryPut(ctx context.Context, sums ...store.StatusSummary) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, sum := range sums {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO asset_status_summaries (asset, definition, mark, epoch, body)
				VALUES (?, ?, ?, `+s.d.Epoch+`, ?)
				ON CONFLICT (asset) DO UPDATE SET definition = excluded.definition, mark = excluded.mark, epoch = excluded.epoch,
					body = excluded.body
				WHERE excluded.mark >= asset_status_summaries.mark OR excluded.epoch <> asset_status_summaries.epoch`),
				sum.Asset, sum.Definition, sum.Mark, sum.Body); err != nil {
				return fmt.Errorf("%s: %w", sum.Asset, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("keep status summaries: %w", s.mapErr(err))
	}
	return nil
}

// PartitionCurrentList returns the current versions of keys.
func (s *Store) PartitionCurrentList(ctx context.Context, asset string, keys []string) ([]store.PartitionStatus, error) {
	var out []store.PartitionStatus
	err := batch(keys, 500, func(ks []string) error {
		vals := make([]any, len(ks))
		for i, k := range ks {
			vals[i] = k
		}
		in, args := s.in("text", vals)
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+statusColumns+` FROM asset_partitions WHERE asset = ? AND version != ''
			AND partition_key `+in), s.perRun(append([]any{asset}, args...))...)
		if err != nil {
			return err
		}
		got, err := scanStatus(rows)
		out = append(out, got...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("current versions of %s: %w", asset, s.mapErr(err))
	}
	return out, nil
}

// DynamicPartitionAdd appends new keys.
func (s *Store) DynamicPartitionAdd(ctx context.Context, p store.DynamicPartitionAddParams) (int, error) {
	added := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		added = 0
		if s.d.RunInsertLock != "" { // concurrent adders must not take the same seq
			if _, err := tx.ExecContext(ctx, s.d.RunInsertLock); err != nil {
				return err
			}
		}
		var seq int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT coalesce(max(seq), 0) FROM dynamic_partitions WHERE name = ?`), p.Name).Scan(&seq); err != nil {
			return err
		}
		for _, k := range p.Keys {
			res, err := tx.ExecContext(ctx, s.q(`INSERT INTO dynamic_partitions (name, key, seq, added_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
				p.Name, k, seq+1, s.t(p.At))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				seq++
				added++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("add dynamic partitions to %s: %w", p.Name, err)
	}
	return added, nil
}

// DynamicPartitionList returns a dynamic definition's keys in order.
func (s *Store) DynamicPartitionList(ctx context.Context, name string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT key FROM dynamic_partitions WHERE name = ? ORDER BY seq`), name)
	if err != nil {
		return nil, fmt.Errorf("list dynamic partitions of %s: %w", name, s.mapErr(err))
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, s.mapErr(rows.Err())
}

// CheckResultInsertMany records check outcomes.
func (s *Store) CheckResultInsertMany(ctx context.Context, results []store.CheckResult) error {
	if len(results) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		return batch(results, maxBatchRows, func(results []store.CheckResult) error {
			args := make([]any, 0, 11*len(results))
			for _, r := range results {
				args = append(args, r.Asset, r.Partitions, r.RunID, r.TaskID, r.Attempt, r.Name, r.Warn, r.Passed, r.Value, r.Error, s.t(r.CheckedAt))
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO check_results (asset, partitions, run_id, task_id, attempt, name, warn, passed, value, error, checked_at)
				VALUES `+RowsOf(len(results), 11)), args...)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("record check results: %w", s.mapErr(err))
	}
	return nil
}

// CheckResultList returns an asset's check results, newest first.
func (s *Store) CheckResultList(ctx context.Context, p store.CheckResultListParams) ([]store.CheckResult, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 20
	}
	q, args := whereAssetRun(`SELECT id, asset, partitions, run_id, task_id, attempt, name, warn, passed, value, error, checked_at
		FROM check_results WHERE 1 = 1`, p.Asset, p.RunID, p.TaskID, p.TaskIDTo)
	rows, err := s.db.QueryContext(ctx, s.q(q+` ORDER BY id DESC LIMIT ?`), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list check results of %s: %w", p.Asset, s.mapErr(err))
	}
	defer rows.Close()
	var out []store.CheckResult
	for rows.Next() {
		var r store.CheckResult
		var at dbTime
		if err := rows.Scan(&r.ID, &r.Asset, &r.Partitions, &r.RunID, &r.TaskID, &r.Attempt, &r.Name, &r.Warn, &r.Passed, &r.Value, &r.Error, &at); err != nil {
			return nil, err
		}
		r.CheckedAt = at.t
		out = append(out, r)
	}
	return out, s.mapErr(rows.Err())
}

// whereAssetRun adds the optional asset, run and task filters to a query
// that ends in a WHERE clause (the task, or tasks taskID to taskIDTo, only
// with the run: the index is (run_id, task_id)).
func whereAssetRun(q, asset string, runID, taskID, taskIDTo int64) (string, []any) {
	var args []any
	if asset != "" {
		q += ` AND asset = ?`
		args = append(args, asset)
	}
	if runID != 0 {
		q += ` AND run_id = ?`
		args = append(args, runID)
		switch {
		case taskID != 0 && taskIDTo != 0:
			q += ` AND task_id BETWEEN ? AND ?`
			args = append(args, taskID, taskIDTo)
		case taskID != 0:
			q += ` AND task_id = ?`
			args = append(args, taskID)
		}
	}
	return q, args
}
