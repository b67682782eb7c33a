package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/weir-dev/weir/backfill"
	"github.com/weir-dev/weir/scheduler"
)

// BackfillRequest is the body of POST /api/v1/backfills: the options of
// `weir backfill create`, by their JSON names.
type BackfillRequest struct {
	backfill.Options
	// DryRun plans and estimates, storing nothing.
	DryRun bool `json:"dry_run"`
	// Concurrency is how many tasks at once the estimate assumes
	// (default 4).
	Concurrency int `json:"concurrency"`
	// Actor is recorded as who created the backfill (default "api").
	Actor string `json:"actor"`
}

// createBackfill plans a backfill and stores it (201, Location the new
// backfill), or with dry_run answers the plan and an estimate. A request
// with nothing to run stores nothing and answers 200 with "backfill":
// null.
func (s *Server) createBackfill(w http.ResponseWriter, r *http.Request) {
	req := BackfillRequest{Options: backfill.Defaults(), Concurrency: 4, Actor: "api"}
	if !decode(w, r, &req) {
		return
	}
	if req.Concurrency < 1 || req.Concurrency > 10_000 {
		writeError(w, http.StatusBadRequest, errors.New("concurrency "+strconv.Itoa(req.Concurrency)+" is out of range: 1 to 10000"))
		return
	}
	ctx := r.Context()
	p, err := backfill.PlanOf(ctx, s.Store, s.Graph, req.Options, s.Clock.Now())
	if s.backfillFailed(w, err) {
		return
	}
	if req.DryRun || p.Plan.Empty() {
		pre, err := p.Preview(ctx, s.Store, req.Concurrency)
		if err != nil {
			s.storeError(w, err)
			return
		}
		out := map[string]any{"dry_run": req.DryRun, "plan": pre.Plan, "estimate": pre.Estimate, "throttle": pre.Throttle}
		if p.Plan.Empty() {
			out["backfill"], out["message"] = nil, backfill.ErrNothingToRun.Error()
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	run, err := p.Create(ctx, s.Store, req.Actor)
	if s.backfillFailed(w, err) {
		return
	}
	s.Logger.Info("backfill created", "run", run.ID, "actor", req.Actor, "selection", req.Select, "partitions", req.Partitions, "tasks", run.TaskCount())
	w.Header().Set("Location", "/api/v1/backfills/"+strconv.FormatInt(run.ID, 10))
	writeJSON(w, http.StatusCreated, map[string]any{"backfill": toRun(run), "plan": p.Plan.Summarize(), "throttle": scheduler.ThrottleString(run)})
}

// backfillFailed answers for err, if any: 400 for what was asked, 503 for
// the store.
func (s *Server) backfillFailed(w http.ResponseWriter, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, backfill.ErrInput):
		writeError(w, http.StatusBadRequest, err)
	default:
		s.storeError(w, err)
	}
	return true
}

// report answers a backfill's audit report (`weir backfill report -o
// json`).
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	run, ok := s.getRun(w, r, "backfill")
	if !ok {
		return
	}
	rep, err := scheduler.BuildReport(r.Context(), s.Store, run, s.Clock.Now())
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
