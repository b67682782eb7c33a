package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/weir-dev/weir/alert"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/sensor"
	"github.com/weir-dev/weir/store"
)

// Alert is a recorded alert, as the API and `weir alerts history -o json`
// show it.
type Alert struct {
	ID          int64      `json:"id"`
	EventID     string     `json:"event_id"`
	Sink        string     `json:"sink"`
	Kind        string     `json:"kind"`
	Severity    string     `json:"severity"`
	Asset       string     `json:"asset,omitempty"`
	Partitions  string     `json:"partitions,omitempty"`
	RunID       int64      `json:"run_id,omitempty"`
	Message     string     `json:"message"`
	At          time.Time  `json:"at"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	NextAt      *time.Time `json:"next_attempt_at,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

// AlertOf is a as the API shows it: state "delivered" or "pending".
func AlertOf(a store.Alert) Alert {
	j := Alert{ID: a.ID, EventID: a.DedupKey, Sink: a.Sink, Kind: a.Kind, Severity: a.Severity, Asset: a.Asset, Partitions: a.Partitions,
		RunID: a.RunID, Message: a.Message, At: a.At.UTC(), State: "pending", Attempts: a.Attempts, LastError: a.LastError}
	if !a.DeliveredAt.IsZero() {
		d := a.DeliveredAt.UTC()
		j.DeliveredAt, j.State = &d, "delivered"
	} else {
		n := a.NextAt.UTC()
		j.NextAt = &n
	}
	return j
}

// LateRanges are partitions past a freshness deadline without a promoted
// version, for one reason.
type LateRanges struct {
	Why string `json:"why"`
	partitions.Summary
	Deadline      string `json:"deadline"`
	LateBySeconds int64  `json:"late_by_seconds"`
}

// LateOf returns h's late partitions under every deadline of cfg for its
// asset ([] without any).
func LateOf(cfg *alert.Config, h plan.Health, now time.Time) []LateRanges {
	out := []LateRanges{}
	if cfg == nil {
		return out
	}
	for _, f := range cfg.Freshness {
		if f.Asset != h.Asset {
			continue
		}
		for _, l := range alert.LateOf(h, f, now) {
			out = append(out, LateRanges{Why: l.Why, Summary: partitions.Summarize(h.Def, l.Partitions),
				Deadline: f.String(), LateBySeconds: int64(l.By.Seconds())})
		}
	}
	return out
}

// SensorTick is a sensor's evaluation as the API shows it.
type SensorTick struct {
	ID          int64     `json:"id"`
	EvaluatedAt time.Time `json:"evaluated_at"`
	CursorFrom  string    `json:"cursor_from"`
	CursorTo    string    `json:"cursor_to"`
	Arrivals    int64     `json:"arrivals"`
	Partitions  string    `json:"partitions,omitempty"`
	RunID       int64     `json:"run_id,omitempty"`
	Error       string    `json:"error,omitempty"`
}

// SensorTickOf is t as the API shows it.
func SensorTickOf(t store.SensorTick) SensorTick {
	return SensorTick{ID: t.ID, EvaluatedAt: t.EvaluatedAt.UTC(), CursorFrom: t.CursorFrom, CursorTo: t.CursorTo, Arrivals: t.Arrivals,
		Partitions: t.Partitions, RunID: t.RunID, Error: t.Error}
}

// Sensor is a sensor with its cursor and last evaluation.
type Sensor struct {
	Name      string      `json:"name"`
	Selection string      `json:"selection"`
	Source    string      `json:"source"`
	Every     string      `json:"every"`
	Cursor    string      `json:"cursor"`
	State     string      `json:"state"`
	Last      *SensorTick `json:"last_tick,omitempty"`
}

// SensorOf reads s's cursor and last tick: state "ok", "failing" or "not
// evaluated yet".
func SensorOf(ctx context.Context, st store.Store, s *sensor.Sensor) (Sensor, error) {
	cur, err := st.SensorCursor(ctx, s.Name)
	if err != nil {
		return Sensor{}, err
	}
	j := Sensor{Name: s.Name, Selection: s.Selection, Source: s.Source.String(), Every: s.Interval().String(), Cursor: cur, State: "not evaluated yet"}
	ticks, err := st.SensorTickList(ctx, s.Name, 1)
	if err != nil {
		return Sensor{}, err
	}
	if len(ticks) > 0 {
		t := SensorTickOf(ticks[0])
		j.Last, j.State = &t, "ok"
		if t.Error != "" {
			j.State = "failing"
		}
	}
	return j, nil
}

func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	limit, ok := queryInt(w, r, "limit", 50, 1, 1000)
	if !ok {
		return
	}
	q := r.URL.Query()
	list, err := s.Store.AlertList(r.Context(), store.AlertListParams{Sink: q.Get("sink"), Kind: q.Get("kind"), Undelivered: q.Get("undelivered") == "true", Limit: limit})
	if err != nil {
		s.storeError(w, err)
		return
	}
	out := make([]Alert, len(list))
	for i, a := range list {
		out[i] = AlertOf(a)
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": out})
}

func (s *Server) sensors(w http.ResponseWriter, r *http.Request) {
	out := make([]Sensor, 0, len(s.Sensors))
	for _, sn := range s.Sensors {
		j, err := SensorOf(r.Context(), s.Store, sn)
		if err != nil {
			s.storeError(w, err)
			return
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"sensors": out})
}

func (s *Server) sensorTicks(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if sensor.Named(s.Sensors, name) == nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("no sensor %q (sensors: %q)", name, sensor.Names(s.Sensors)))
		return
	}
	limit, ok := queryInt(w, r, "limit", 20, 1, 1000)
	if !ok {
		return
	}
	list, err := s.Store.SensorTickList(r.Context(), name, limit)
	if err != nil {
		s.storeError(w, err)
		return
	}
	out := make([]SensorTick, len(list))
	for i, t := range list {
		out[i] = SensorTickOf(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"ticks": out})
}
