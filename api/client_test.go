package api_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weir-dev/weir/api"
	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/examples/nightly"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// TestClient reads a backfill's progress through a real server: what the
// store says, the API's refusals as *api.Error, and the live stream
// followed until the backfill ends.
func TestClient(t *testing.T) {
	ctx := context.Background()
	st, bucket := openState(t)
	clk := clock.NewFake(time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC))
	g := lineage.Must(nightly.Assets()...)
	backfill, _, err := scheduler.Enqueue(ctx, st, expand(t, st, g, "raw_orders", "2024-01-08...2024-01-31", clk.Now()), scheduler.EnqueueOpts{Kind: "backfill", CreatedBy: "oncall", Now: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&api.Server{Store: st, Bucket: bucket, Graph: g, Clock: clk, Token: "s3cret"}).Handler())
	defer srv.Close()

	for _, bad := range []string{"127.0.0.1:8300", "ftp://host", "http://", "http://host?x=1", "http://me:pw@host"} {
		if _, err := api.NewClient(bad, ""); err == nil || strings.Contains(err.Error(), "pw") {
			t.Errorf("NewClient(%q): %v", bad, err)
		}
	}
	c, err := api.NewClient(srv.URL+"/", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	want, err := scheduler.RunProgressAt(ctx, st, backfill.ID, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Backfill(ctx, backfill.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Selection != "raw_orders" || p.Partitions != "2024-01-08...2024-01-31" || p.CreatedBy != "oncall" || !p.CreatedAt.Equal(clk.Now()) ||
		p.FinishedAt != nil || p.TasksTotal != 24 || p.Pending != 24 || p.Status != want.Status || len(p.Assets) != 1 || p.Assets[0] != want.Assets[0] {
		t.Errorf("progress %+v, the store says %+v", p, want)
	}

	// Refusals: a run that is not there, a missing token, a server gone.
	if _, err := c.Backfill(ctx, 99); !api.IsNotFound(err) || !strings.Contains(err.Error(), "backfill 99 does not exist") {
		t.Errorf("backfill 99: %v", err)
	}
	anon, _ := api.NewClient(srv.URL, "")
	var e *api.Error
	if _, err := anon.Backfill(ctx, backfill.ID); !errors.As(err, &e) || e.Status != 401 {
		t.Errorf("without the token: %v", err)
	}

	// Followed: progress first, then the end once the backfill is
	// cancelled, its tasks counted as cancelled.
	var seen []string
	done := make(chan struct{})
	go func() {
		for clk.BlockUntil(1, done) { // the stream waits for news or its poll
			clk.Advance(3 * time.Second)
		}
	}()
	err = c.FollowBackfill(ctx, backfill.ID, func(p *scheduler.Progress, end bool) error {
		seen = append(seen, p.Status)
		if !end && len(seen) == 1 {
			if _, err := st.RunCancel(ctx, store.RunCancelParams{ID: backfill.ID, Actor: "test", At: clk.Now()}); err != nil {
				return err
			}
		}
		if end && (p.TasksCancelled != 24 || p.FinishedAt == nil) {
			t.Errorf("last progress %+v", p)
		}
		return nil
	})
	close(done)
	// Each progress is one moment of the store: never the run's row from
	// before the cancel with its counts from after it ("running", with
	// every task cancelled).
	if err != nil || strings.Join(seen, " ") != "queued cancelled" {
		t.Errorf("followed %v: %v", seen, err)
	}

	srv.Close()
	if _, err := c.Backfill(ctx, backfill.ID); err == nil || !strings.Contains(err.Error(), "cannot reach the weir API at "+srv.URL) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a server gone: %v", err)
	}
}
