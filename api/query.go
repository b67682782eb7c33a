package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/store"
)

// QueryFunc runs an analyst's read-only SQL over weir's metadata (`weir
// query`: connectors/duckdb.QueryMetadata) and returns at most maxRows
// rows. An error wrapping ErrBadQuery is the caller's SQL at fault.
type QueryFunc func(ctx context.Context, st store.Store, g *lineage.Graph, now time.Time, sql string, maxRows int) (*QueryResult, error)

// QueryResult is a query's answer.
type QueryResult struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
	// Truncated says the query had more rows than max_rows.
	Truncated bool `json:"truncated"`
}

// ErrBadQuery marks SQL that failed as the caller's error (400).
var ErrBadQuery = errors.New("bad query")

// QueryRequest is the body of POST /api/v1/query.
type QueryRequest struct {
	SQL string `json:"sql"`
	// MaxRows defaults to 1,000; at most 10,000.
	MaxRows int `json:"max_rows"`
	// TimeoutSeconds defaults to 30; at most 120.
	TimeoutSeconds float64 `json:"timeout_seconds"`
}

// Limits of POST /api/v1/query.
const (
	maxQueryRows    = 10_000
	maxQueryTimeout = 120
	// queriesAtOnce bounds the queries running together: each loads the
	// metadata it reads into a database of its own.
	queriesAtOnce = 2
)

func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	if s.Query == nil {
		writeError(w, http.StatusNotImplemented, errors.New("this binary has no SQL engine: add weir query (cmd/weir/querycmd) to serve /api/v1/query"))
		return
	}
	req := QueryRequest{MaxRows: 1000, TimeoutSeconds: 30}
	if !decode(w, r, &req) {
		return
	}
	switch {
	case req.SQL == "":
		writeError(w, http.StatusBadRequest, errors.New(`sql is required, e.g. {"sql": "SELECT * FROM runs"}`))
		return
	case req.MaxRows < 1 || req.MaxRows > maxQueryRows:
		writeError(w, http.StatusBadRequest, fmt.Errorf("max_rows %d is out of range: 1 to %d", req.MaxRows, maxQueryRows))
		return
	case !(req.TimeoutSeconds > 0 && req.TimeoutSeconds <= maxQueryTimeout): // NaN fails too
		writeError(w, http.StatusBadRequest, fmt.Errorf("timeout_seconds %g is out of range: above 0, at most %d", req.TimeoutSeconds, maxQueryTimeout))
		return
	}
	select {
	case s.querySlots <- struct{}{}:
		defer func() { <-s.querySlots }()
	default:
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusTooManyRequests, fmt.Errorf("%d queries are running; try again shortly", queriesAtOnce))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(req.TimeoutSeconds*float64(time.Second)))
	defer cancel()
	res, err := s.Query(ctx, s.Store, s.Graph, s.Clock.Now(), req.SQL, req.MaxRows)
	switch {
	case errors.Is(err, ErrBadQuery):
		writeError(w, http.StatusBadRequest, errors.New(redact(err)))
		return
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, fmt.Errorf("the query ran past timeout_seconds %g and was stopped", req.TimeoutSeconds))
		return
	case err != nil:
		s.storeError(w, err)
		return
	}
	if res.Rows == nil {
		res.Rows = [][]any{}
	}
	writeJSON(w, http.StatusOK, res)
}
