package store

import (
	"context"
	"log/slog"
	"time"
)

// Leadership is one holder's claim on a role (the schedules, the alerts,
// the sensors): Acquire takes or renews the lease each round and says
// whether the holder leads, logging when that changes; Release gives it up
// on the way out, so that another holder may lead at once.
type Leadership struct {
	Role, Holder string
	// TTL is how long the lease lasts unrenewed.
	TTL     time.Duration
	leading bool
}

// Acquire takes or renews the lease at now.
func (l *Leadership) Acquire(ctx context.Context, s Queue, now time.Time, log *slog.Logger) (bool, error) {
	got, err := s.LeaderAcquire(ctx, LeaderParams{Role: l.Role, Holder: l.Holder, TTL: l.TTL, Now: now})
	if err != nil {
		return false, err
	}
	if got.Leading != l.leading {
		if got.Leading {
			log.Info("leading the "+l.Role, "holder", l.Holder, "token", got.Token)
		} else {
			log.Warn("no longer leading the "+l.Role, "holder", l.Holder, "leader", got.Holder)
		}
		l.leading = got.Leading
	}
	return got.Leading, nil
}

// Release gives the lease up if this holder leads.
func (l *Leadership) Release(ctx context.Context, s Queue, log *slog.Logger) {
	if !l.leading {
		return
	}
	if err := s.LeaderRelease(context.WithoutCancel(ctx), l.Role, l.Holder); err != nil {
		log.Error("give up leading the "+l.Role, "error", err)
	}
	l.leading = false
}
