package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/weir-dev/weir/provenance"
	"github.com/weir-dev/weir/schedule"
)

// partition answers one partition of an asset: its current version with
// manifest, the inputs that version read, check results and history
// (provenance.Describe, as `weir assets show KEY --partition K`).
func (s *Server) partition(w http.ResponseWriter, r *http.Request) {
	p, err := provenance.Describe(r.Context(), s.Store, s.Bucket, s.Graph, r.PathValue("asset"), r.PathValue("key"), s.Clock.Now())
	var bad *provenance.InputError
	if errors.As(err, &bad) {
		writeError(w, http.StatusNotFound, err)
		return
	}
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// lineage answers a partition's runtime lineage as a tree:
// ?direction=upstream (default: the exact versions its current version
// read, transitively) or downstream (the current versions that read it),
// ?depth=N (1 to 100, default 10), as `weir lineage KEY --partition K -o
// json`.
func (s *Server) lineage(w http.ResponseWriter, r *http.Request) {
	asset, key := r.PathValue("asset"), r.PathValue("key")
	if _, err := s.Graph.Asset(asset); err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	q := r.URL.Query()
	dir := q.Get("direction")
	if dir == "" {
		dir = "upstream"
	}
	if dir != "upstream" && dir != "downstream" {
		writeError(w, http.StatusBadRequest, fmt.Errorf("direction %q is not one of upstream, downstream", dir))
		return
	}
	depth, ok := queryInt(w, r, "depth", 10, 1, 100)
	if !ok {
		return
	}
	tree := provenance.Upstream
	if dir == "downstream" {
		tree = provenance.Downstream
	}
	root, err := tree(r.Context(), s.Store, asset, key, depth)
	if errors.Is(err, provenance.ErrNotMaterialized) {
		writeError(w, http.StatusNotFound, fmt.Errorf("%s %s has no current version: %v", asset, key, err))
		return
	}
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"direction": dir, "depth": depth, "root": root})
}

// schedules lists the schedules with their state, next tick and last one.
func (s *Server) schedules(w http.ResponseWriter, r *http.Request) {
	if s.badSchedules != nil {
		writeError(w, http.StatusInternalServerError, s.badSchedules)
		return
	}
	rows, err := schedule.Statuses(r.Context(), s.Store, s.Schedules, s.Clock.Now())
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"schedules": rows})
}

// scheduleNamed finds the schedule of the {name} path value, answering
// 404 naming the schedules there are when there is none.
func (s *Server) scheduleNamed(w http.ResponseWriter, r *http.Request) (*schedule.Schedule, bool) {
	if s.badSchedules != nil {
		writeError(w, http.StatusInternalServerError, s.badSchedules)
		return nil, false
	}
	name := r.PathValue("name")
	names := []string{}
	for _, sc := range s.Schedules {
		if sc.Name == name {
			return sc, true
		}
		names = append(names, sc.Name)
	}
	writeError(w, http.StatusNotFound, fmt.Errorf("unknown schedule %q (schedules: %s)", name, strings.Join(names, ", ")))
	return nil, false
}

// schedule answers one schedule's status and its next ticks with the
// partitions each targets (?count=N, 1 to 1000, default 10).
func (s *Server) schedule(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.scheduleNamed(w, r)
	if !ok {
		return
	}
	count, ok := queryInt(w, r, "count", 10, 1, 1000)
	if !ok {
		return
	}
	now := s.Clock.Now()
	rows, err := schedule.Statuses(r.Context(), s.Store, []*schedule.Schedule{sc}, now)
	if err != nil {
		s.storeError(w, err)
		return
	}
	next := (&schedule.Daemon{Graph: s.Graph, Schedules: s.Schedules}).Preview(sc, now, count)
	if next == nil {
		next = []schedule.Upcoming{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"schedule": rows[0], "upcoming": next})
}

// ticks answers a schedule's tick history, newest first (?limit=N, 1 to
// 1000, default 20).
func (s *Server) ticks(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.scheduleNamed(w, r)
	if !ok {
		return
	}
	limit, ok := queryInt(w, r, "limit", 20, 1, 1000)
	if !ok {
		return
	}
	ticks, err := schedule.Ticks(r.Context(), s.Store, sc, limit)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"schedule": sc.Name, "ticks": ticks})
}

// pauseSchedule pauses or resumes a schedule: a paused schedule's ticks
// are recorded as skipped.
func (s *Server) pauseSchedule(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.scheduleNamed(w, r)
	if !ok {
		return
	}
	action := r.PathValue("action")
	if action != "pause" && action != "resume" {
		writeError(w, http.StatusNotFound, fmt.Errorf("no action %q on a schedule: pause or resume", action))
		return
	}
	var req ControlRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Actor == "" {
		req.Actor = "api"
	}
	if err := s.Store.ScheduleSetPaused(r.Context(), sc.Name, action == "pause", s.Clock.Now()); err != nil {
		s.storeError(w, err)
		return
	}
	s.Logger.Info("schedule "+action, "schedule", sc.Name, "actor", req.Actor, "reason", req.Reason)
	rows, err := schedule.Statuses(r.Context(), s.Store, []*schedule.Schedule{sc}, s.Clock.Now())
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rows[0])
}
