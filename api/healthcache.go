package api

import (
	"context"
	"sync"
	"time"

	"github.com/weir-dev/weir/plan"
)

// healthCache keeps every asset's health for Server.StatusMaxAge: one
// computation reads every asset's status (milliseconds from the kept
// summaries, seconds at 20 assets × 87,600 partitions without them), and
// a page that many people keep open must not repeat it per viewer and per
// refresh. A request finding it older than the maximum
// age, but not twice as old, is answered from it while one refresh runs
// in the background (stale while revalidating: a page polling every few
// seconds never waits); older than that, or empty, the request waits for
// the refresh, so an answer is never more than twice the maximum age old.
type healthCache struct {
	mu         sync.Mutex
	health     map[string]plan.Health
	at         time.Time     // the Server's clock when health was computed
	refreshing chan struct{} // closed when the running refresh ends; nil when none runs
	err        error         // the last refresh's error
}

// health returns the health of keys, and when it was computed.
func (s *Server) health(ctx context.Context, keys []string) ([]plan.Health, time.Time, error) {
	if s.StatusMaxAge <= 0 {
		now := s.Clock.Now()
		h, err := plan.AssetHealth(ctx, s.Store, s.Graph, keys, now)
		return h, now, err
	}
	c := &s.cache
	c.mu.Lock()
	age := s.Clock.Now().Sub(c.at)
	if c.refreshing == nil && (c.health == nil || age > s.StatusMaxAge) {
		c.refreshing = make(chan struct{})
		go s.refresh()
	}
	if c.health != nil && age <= 2*s.StatusMaxAge {
		// Answered from what is there, read under the lock that started
		// the refresh: a refresh that ends at once does not change it.
		defer c.mu.Unlock()
		return c.of(keys), c.at, nil
	}
	wait := c.refreshing
	c.mu.Unlock()
	select {
	case <-wait:
	case <-ctx.Done():
		return nil, time.Time{}, context.Cause(ctx)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.health == nil || c.err != nil {
		return nil, time.Time{}, c.err
	}
	return c.of(keys), c.at, nil
}

// of returns the cached health of keys; c.mu is held.
func (c *healthCache) of(keys []string) []plan.Health {
	out := make([]plan.Health, len(keys))
	for i, k := range keys {
		out[i] = c.health[k]
	}
	return out
}

// refresh computes every asset's health into the cache; a failure keeps
// what was there (and is the answer while there is nothing).
func (s *Server) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	now := s.Clock.Now()
	keys := s.Graph.Keys()
	health, err := plan.AssetHealth(ctx, s.Store, s.Graph, keys, now)
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
	if err == nil {
		c.health = make(map[string]plan.Health, len(keys))
		for _, h := range health {
			c.health[h.Asset] = h
		}
		c.at = now
	} else {
		s.Logger.Error("api: refresh asset status", "error", redact(err))
	}
	close(c.refreshing)
	c.refreshing = nil
}
