package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// rawWorkers and rawBatch shape the raw-SQL ceiling: that many goroutines,
// each leasing and completing batches of that many jobs.
const rawWorkers, rawBatch = 4, 100

// errDrained ends a raw worker: no job is left.
var errDrained = errors.New("no job left")

// rawQueue is what the raw-SQL ceiling does on one database: lease a batch
// (ids and tokens), then complete it fenced by those tokens with one
// materialization row per job, each in a transaction of its own.
type rawQueue interface {
	lease(ctx context.Context) (ids, tokens []int64, err error)
	complete(ctx context.Context, ids, tokens []int64) error
}

// benchRaw measures the database's own ceiling for what a queue must do
// at the least, with rawWorkers goroutines on the queue's tables.
func benchRaw(ctx context.Context, c config, backend string) (sample, error) {
	where, drop, err := scratch(ctx, c, backend)
	if err != nil {
		return sample{}, err
	}
	defer drop()
	var q rawQueue
	if backend == "sqlite" {
		db, err := sql.Open("sqlite", "file:"+where+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_txlock=immediate")
		if err != nil {
			return sample{}, err
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		q, err = newSQLiteRaw(ctx, db, c.jobs)
		if err != nil {
			return sample{}, err
		}
	} else {
		pool, err := pgxpool.New(ctx, where)
		if err != nil {
			return sample{}, err
		}
		defer pool.Close()
		if q, err = newPostgresRaw(ctx, pool, c.jobs); err != nil {
			return sample{}, err
		}
	}
	cpu0, db0 := processCPU(), dbCPU(c, backend)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, rawWorkers)
	for w := range rawWorkers {
		wg.Go(func() {
			for {
				ids, tokens, err := q.lease(ctx)
				if err == nil {
					err = q.complete(ctx, ids, tokens)
				}
				if err != nil {
					if !errors.Is(err, errDrained) {
						errs[w] = err
					}
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return sample{}, err
	}
	s := sample{rate: float64(c.jobs) / took.Seconds(), cpuPer1000: per1000(processCPU()-cpu0, c.jobs), dbCPUPer1000: -1}
	if db1 := dbCPU(c, backend); db0 >= 0 && db1 >= 0 {
		s.dbCPUPer1000 = per1000(db1-db0, c.jobs)
	}
	return s, nil
}

type postgresRaw struct{ pool *pgxpool.Pool }

func newPostgresRaw(ctx context.Context, pool *pgxpool.Pool, jobs int) (*postgresRaw, error) {
	for _, q := range []string{`CREATE TABLE jobs (id BIGINT PRIMARY KEY, state TEXT NOT NULL, token BIGINT NOT NULL DEFAULT 0)`,
		`CREATE INDEX jobs_pending ON jobs (id) WHERE state = 'pending'`,
		`CREATE TABLE mats (id BIGSERIAL PRIMARY KEY, job_id BIGINT NOT NULL, version TEXT NOT NULL)`,
		fmt.Sprintf(`INSERT INTO jobs (id, state) SELECT i, 'pending' FROM generate_series(1, %d) i`, jobs),
		`ANALYZE jobs`} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return nil, err
		}
	}
	return &postgresRaw{pool}, nil
}

func (r *postgresRaw) lease(ctx context.Context) (ids, tokens []int64, err error) {
	rows, err := r.pool.Query(ctx, `UPDATE jobs SET state = 'running', token = token + 1 WHERE id IN (
		SELECT id FROM jobs WHERE state = 'pending' ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING id, token`, rawBatch)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	return scanLeases(rows)
}

func (r *postgresRaw) complete(ctx context.Context, ids, tokens []int64) error {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `WITH done AS (UPDATE jobs SET state = 'done' FROM unnest($1::bigint[], $2::bigint[]) AS v(id, token)
			WHERE jobs.id = v.id AND jobs.token = v.token AND jobs.state = 'running' RETURNING jobs.id)
		INSERT INTO mats (job_id, version) SELECT id, 'v1' FROM done`, ids, tokens); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

type sqliteRaw struct{ db *sql.DB }

func newSQLiteRaw(ctx context.Context, db *sql.DB, jobs int) (*sqliteRaw, error) {
	for _, q := range []string{`CREATE TABLE jobs (id INTEGER PRIMARY KEY, state TEXT NOT NULL, token INTEGER NOT NULL DEFAULT 0)`,
		`CREATE INDEX jobs_pending ON jobs (id) WHERE state = 'pending'`,
		`CREATE TABLE mats (id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL, version TEXT NOT NULL)`,
		fmt.Sprintf(`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d) INSERT INTO jobs (id, state) SELECT i, 'pending' FROM s`, jobs)} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return nil, err
		}
	}
	return &sqliteRaw{db}, nil
}

func (r *sqliteRaw) lease(ctx context.Context) (ids, tokens []int64, err error) {
	rows, err := r.db.QueryContext(ctx, `UPDATE jobs SET state = 'running', token = token + 1 WHERE id IN (
		SELECT id FROM jobs WHERE state = 'pending' ORDER BY id LIMIT ?) RETURNING id, token`, rawBatch)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	return scanLeases(rows)
}

func (r *sqliteRaw) complete(ctx context.Context, ids, tokens []int64) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	args := make([]any, 0, 2*len(ids))
	for i := range ids {
		args = append(args, ids[i], tokens[i])
	}
	values := strings.TrimSuffix(strings.Repeat("(?, ?), ", len(ids)), ", ")
	if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'done' FROM (VALUES `+values+`) AS v
		WHERE jobs.id = v.column1 AND jobs.token = v.column2 AND jobs.state = 'running'`, args...); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO mats (job_id, version) SELECT column1, 'v1' FROM (VALUES `+values+`)`, args...); err != nil {
		return err
	}
	return tx.Commit()
}

// scanLeases reads leased ids and tokens; none left is errDrained.
func scanLeases(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) (ids, tokens []int64, err error) {
	for rows.Next() {
		var id, token int64
		if err := rows.Scan(&id, &token); err != nil {
			return nil, nil, err
		}
		ids, tokens = append(ids, id), append(tokens, token)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if len(ids) == 0 {
		return nil, nil, errDrained
	}
	return ids, tokens, nil
}
