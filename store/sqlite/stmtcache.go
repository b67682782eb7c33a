package sqlite

import (
	"container/list"
	"context"
	"database/sql/driver"
)

// The store runs the same few dozen statements over and over (a worker's
// group commit is a handful of statements per batch), and database/sql
// hands each to the driver as text: SQLite parsed and planned every one,
// inside the single connection's transactions, which made parsing a
// seventh of a worker's CPU and a larger share of the time the connection
// is held. A cachingConn keeps the statements it prepared by their text
// and runs them again, as database/sql's own *sql.Stmt would; SQLite
// re-prepares a kept statement itself when the schema changes.

// maxCachedStmts bounds a connection's kept statements: batch statements
// with a VALUES list have a text per batch size. maxCachedBytes bounds the
// length of their texts together, which is what their memory follows (a
// statement's program grows with its placeholders): 512 statements of a
// few thousand rows each held ~57 MB of a benchmark's heap. A statement
// longer than maxKeptStmt is not kept at all.
const (
	maxCachedStmts = 512
	maxCachedBytes = 1 << 20
	maxKeptStmt    = maxCachedBytes / 16
)

// cachingConnector opens connections that keep their statements.
type cachingConnector struct{ base driver.Connector }

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	bc, ok := conn.(baseConn)
	if !ok {
		return conn, nil // not the driver this was written for: as it is
	}
	return &cachingConn{baseConn: bc, stmts: map[string]*cachedStmt{}, lru: list.New()}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.base.Driver() }

// baseConn is what the SQLite driver's connections implement, and what a
// wrapper must forward (see sqlite.NewConnector).
type baseConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is a connection that keeps the statements ExecContext and
// QueryContext prepare. database/sql uses a connection from one goroutine
// at a time, rows included, so it needs no lock.
type cachingConn struct {
	baseConn
	stmts map[string]*cachedStmt
	lru   *list.List // of *cachedStmt, most recently used first
	bytes int        // the kept statements' texts together
}

type cachedStmt struct {
	query string
	stmt  driver.Stmt
	elem  *list.Element
	// busy: rows of it are open, so it cannot run again until they close;
	// evicted: it is out of the cache and closes when they do.
	busy, evicted bool
}

// Unwrap returns the driver's connection.
func (c *cachingConn) Unwrap() driver.Conn { return c.baseConn }

// stmt returns the kept statement for query, preparing it the first time.
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if cs, ok := c.stmts[query]; ok {
		c.lru.MoveToFront(cs.elem)
		return cs, nil
	}
	if len(query) > maxKeptStmt {
		return nil, nil // run once as it is
	}
	s, err := c.baseConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if _, ok := s.(driver.StmtExecContext); !ok {
		s.Close()
		return nil, nil
	}
	if _, ok := s.(driver.StmtQueryContext); !ok {
		s.Close()
		return nil, nil
	}
	cs := &cachedStmt{query: query, stmt: s}
	cs.elem = c.lru.PushFront(cs)
	c.stmts[query] = cs
	c.bytes += len(query)
	for c.lru.Len() > maxCachedStmts || c.bytes > maxCachedBytes {
		old := c.lru.Remove(c.lru.Back()).(*cachedStmt)
		delete(c.stmts, old.query)
		c.bytes -= len(old.query)
		if old.busy {
			old.evicted = true
		} else {
			old.stmt.Close()
		}
	}
	return cs, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil || cs.busy {
		return c.baseConn.ExecContext(ctx, query, args)
	}
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil || cs.busy {
		return c.baseConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	if full, ok := rows.(typedRows); ok {
		return &keptTypedRows{typedRows: full, stmt: cs}, nil
	}
	return &keptRows{Rows: rows, stmt: cs}, nil
}

// Close closes the kept statements and the connection.
func (c *cachingConn) Close() error {
	for e := c.lru.Front(); e != nil; e = e.Next() {
		e.Value.(*cachedStmt).stmt.Close()
	}
	c.stmts, c.lru, c.bytes = nil, list.New(), 0
	return c.baseConn.Close()
}

// typedRows is what the driver's rows implement beyond driver.Rows.
type typedRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

// release frees a kept statement whose rows closed to run again, and
// closes it if it left the cache meanwhile.
func (cs *cachedStmt) release() {
	cs.busy = false
	if cs.evicted {
		cs.stmt.Close()
	}
}

// keptRows and keptTypedRows are rows of a kept statement: closing them
// frees the statement to run again. database/sql closes rows once.
type keptRows struct {
	driver.Rows
	stmt *cachedStmt
}

func (r *keptRows) Close() error { defer r.stmt.release(); return r.Rows.Close() }

type keptTypedRows struct {
	typedRows
	stmt *cachedStmt
}

func (r *keptTypedRows) Close() error { defer r.stmt.release(); return r.typedRows.Close() }
