package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// rawWorkers and rawBatch shape the raw-SQL ceiling: that many goroutines,
// each leasing and completing batches of that many jobs.
const rawWorkers, rawBatch = 4, 100

// benchRaw measures the database's own ceiling for what a queue must do
// at the least: a batch leased with SKIP LOCKED (a token per job), then
// completed fenced by those tokens with one materialization row per job,
// each batch in two transactions.
func benchRaw(ctx context.Context, c config, backend string) (sample, error) {
	where, drop, err := scratch(ctx, c, backend)
	if err != nil {
		return sample{}, err
	}
	defer drop()
	if backend == "sqlite" {
		return rawSQLite(ctx, c, where)
	}
	pool, err := pgxpool.New(ctx, where)
	if err != nil {
		return sample{}, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE jobs (id BIGINT PRIMARY KEY, state TEXT NOT NULL, token BIGINT NOT NULL DEFAULT 0);
		CREATE INDEX jobs_pending ON jobs (id) WHERE state = 'pending';
		CREATE TABLE mats (id BIGSERIAL PRIMARY KEY, job_id BIGINT NOT NULL, version TEXT NOT NULL)`); err != nil {
		return sample{}, err
	}
	if _, err := pool.Exec(ctx, `INSERT INTO jobs (id, state) SELECT i, 'pending' FROM generate_series(1, $1) i`, c.jobs); err != nil {
		return sample{}, err
	}
	if _, err := pool.Exec(ctx, `ANALYZE jobs`); err != nil {
		return sample{}, err
	}
	cpu0, db0 := dispatchbenchCPU(c, backend)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, rawWorkers)
	for w := range rawWorkers {
		wg.Go(func() {
			for {
				var ids, tokens []int64
				rows, err := pool.Query(ctx, `UPDATE jobs SET state = 'running', token = token + 1 WHERE id IN (
					SELECT id FROM jobs WHERE state = 'pending' ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING id, token`, rawBatch)
				if err != nil {
					errs[w] = err
					return
				}
				for rows.Next() {
					var id, token int64
					if err := rows.Scan(&id, &token); err != nil {
						errs[w] = err
						return
					}
					ids, tokens = append(ids, id), append(tokens, token)
				}
				if errs[w] = rows.Err(); errs[w] != nil || len(ids) == 0 {
					return
				}
				tx, err := pool.Begin(ctx)
				if err != nil {
					errs[w] = err
					return
				}
				if _, err := tx.Exec(ctx, `WITH done AS (UPDATE jobs SET state = 'done' FROM unnest($1::bigint[], $2::bigint[]) AS v(id, token)
						WHERE jobs.id = v.id AND jobs.token = v.token AND jobs.state = 'running' RETURNING jobs.id)
					INSERT INTO mats (job_id, version) SELECT id, 'v1' FROM done`, ids, tokens); err != nil {
					tx.Rollback(ctx)
					errs[w] = err
					return
				}
				if errs[w] = tx.Commit(ctx); errs[w] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return sample{}, err
		}
	}
	var done int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM mats`).Scan(&done); err != nil || done != c.jobs {
		return sample{}, fmt.Errorf("raw: %d of %d jobs done (%v)", done, c.jobs, err)
	}
	return rawSample(c, backend, took, cpu0, db0), nil
}

func rawSQLite(ctx context.Context, c config, path string) (sample, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return sample{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{`CREATE TABLE jobs (id INTEGER PRIMARY KEY, state TEXT NOT NULL, token INTEGER NOT NULL DEFAULT 0)`,
		`CREATE INDEX jobs_pending ON jobs (id) WHERE state = 'pending'`,
		`CREATE TABLE mats (id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL, version TEXT NOT NULL)`,
		fmt.Sprintf(`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d) INSERT INTO jobs (id, state) SELECT i, 'pending' FROM s`, c.jobs)} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return sample{}, err
		}
	}
	cpu0, db0 := dispatchbenchCPU(c, "sqlite")
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, rawWorkers)
	for w := range rawWorkers {
		wg.Go(func() {
			for {
				var ids, tokens []int64
				rows, err := db.QueryContext(ctx, `UPDATE jobs SET state = 'running', token = token + 1 WHERE id IN (
					SELECT id FROM jobs WHERE state = 'pending' ORDER BY id LIMIT ?) RETURNING id, token`, rawBatch)
				if err != nil {
					errs[w] = err
					return
				}
				for rows.Next() {
					var id, token int64
					if err := rows.Scan(&id, &token); err != nil {
						rows.Close()
						errs[w] = err
						return
					}
					ids, tokens = append(ids, id), append(tokens, token)
				}
				rows.Close()
				if errs[w] = rows.Err(); errs[w] != nil || len(ids) == 0 {
					return
				}
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					errs[w] = err
					return
				}
				args := make([]any, 0, 2*len(ids))
				for i := range ids {
					args = append(args, ids[i], tokens[i])
				}
				values := strings.TrimSuffix(strings.Repeat("(?, ?), ", len(ids)), ", ")
				if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'done' FROM (VALUES `+values+`) AS v
					WHERE jobs.id = v.column1 AND jobs.token = v.column2 AND jobs.state = 'running'`, args...); err == nil {
					_, err = tx.ExecContext(ctx, `INSERT INTO mats (job_id, version) SELECT column1, 'v1' FROM (VALUES `+values+`)`, args...)
				}
				if err != nil {
					tx.Rollback()
					errs[w] = err
					return
				}
				if errs[w] = tx.Commit(); errs[w] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return sample{}, err
		}
	}
	return rawSample(c, "sqlite", took, cpu0, db0), nil
}

func dispatchbenchCPU(c config, backend string) (time.Duration, time.Duration) {
	return processCPU(), dbCPU(c, backend)
}

func rawSample(c config, backend string, took, cpu0, db0 time.Duration) sample {
	s := sample{rate: float64(c.jobs) / took.Seconds(), cpuPer1000: per1000(processCPU()-cpu0, c.jobs), dbCPUPer1000: -1}
	if db1 := dbCPU(c, backend); db0 >= 0 && db1 >= 0 {
		s.dbCPUPer1000 = per1000(db1-db0, c.jobs)
	}
	return s
}
