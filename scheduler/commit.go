package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/verify"
)

// maxBatch caps the requests one group commit takes.
const maxBatch = 500

// batcher is a group commit: callers queue a request and wait for its
// answer; one goroutine takes what is queued, commits it with one call (one
// transaction) and answers each caller. It commits as soon as every running
// task of the worker is waiting on a commit (nothing more can join the
// batch soon), the batch is full, or the first request has waited linger:
// a lone task (a chain's next step) commits at once, and a busy worker's
// tasks, which finish their work within microseconds of each other, share
// one transaction instead of queueing for many.
type batcher[Q, R any] struct {
	name   string
	commit func(ctx context.Context, reqs []Q) ([]R, error)
	gate   *gate

	mu      sync.Mutex
	queue   []call[Q, R]
	stopped bool
	kick    chan struct{} // buffered 1: work was queued, or the gate closed
}

// linger is how long a request waits for others to join its batch at
// most. It is a latency budget, not a time anything is scheduled by, so it
// is measured on the process's own timer, never the injected clock.
const linger = time.Millisecond

// gate counts a worker's running tasks that are not waiting on a commit,
// and pokes the batchers when none is left.
type gate struct {
	active   atomic.Int64
	batchers []func()
}

func (g *gate) add(n int64) {
	if g.active.Add(n) == 0 {
		for _, poke := range g.batchers {
			poke()
		}
	}
}

func (g *gate) idle() bool { return g.active.Load() <= 0 }

type call[Q, R any] struct {
	req   Q
	reply chan answer[R]
}

type answer[R any] struct {
	res R
	err error
}

var errCommitterStopped = errors.New("the worker's group commit has stopped")

func newBatcher[Q, R any](g *gate, name string, commit func(context.Context, []Q) ([]R, error)) *batcher[Q, R] {
	b := &batcher[Q, R]{name: name, commit: commit, gate: g, kick: make(chan struct{}, 1)}
	g.batchers = append(g.batchers, b.poke)
	return b
}

func (b *batcher[Q, R]) poke() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// do queues req for the next commit and returns its result.
func (b *batcher[Q, R]) do(req Q) (R, error) {
	c := call[Q, R]{req: req, reply: make(chan answer[R], 1)}
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		var zero R
		return zero, errCommitterStopped
	}
	b.queue = append(b.queue, c)
	b.mu.Unlock()
	b.poke()
	b.gate.add(-1)
	a := <-c.reply
	b.gate.add(1)
	return a.res, a.err
}

// run commits until ctx ends, then answers what is still queued with an
// error. Callers' requests carry what must land even while their tasks are
// interrupted, so ctx should end only once no task can call do.
func (b *batcher[Q, R]) run(ctx context.Context) {
	var timer *time.Timer
	var expired <-chan time.Time // set while a batch lingers
	for {
		select {
		case <-b.kick:
		case <-expired:
			expired = nil
			b.flush(ctx)
		case <-ctx.Done():
			b.mu.Lock()
			b.stopped = true
			left := b.queue
			b.queue = nil
			b.mu.Unlock()
			for _, c := range left {
				c.reply <- answer[R]{err: errCommitterStopped}
			}
			return
		}
		for {
			b.mu.Lock()
			n := len(b.queue)
			b.mu.Unlock()
			if n == 0 {
				expired = nil
				break
			}
			if n < maxBatch && !b.gate.idle() {
				if expired == nil {
					if timer == nil {
						timer = time.NewTimer(linger)
					} else {
						timer.Reset(linger)
					}
					expired = timer.C
				}
				break // wait for more, the gate, or the linger
			}
			expired = nil
			b.flush(ctx)
		}
	}
}

// flush commits up to maxBatch queued requests and answers their callers.
func (b *batcher[Q, R]) flush(ctx context.Context) {
	b.mu.Lock()
	n := min(len(b.queue), maxBatch)
	calls := b.queue[:n:n]
	b.queue = b.queue[n:]
	b.mu.Unlock()
	if n == 0 {
		return
	}
	reqs := make([]Q, n)
	for i, c := range calls {
		reqs[i] = c.req
	}
	res, err := b.commit(context.WithoutCancel(ctx), reqs)
	if err == nil && len(res) != n {
		err = fmt.Errorf("%s: %d results for %d requests", b.name, len(res), n)
	}
	for i, c := range calls {
		if err != nil {
			c.reply <- answer[R]{err: err}
		} else {
			c.reply <- answer[R]{res: res[i]}
		}
	}
}

// committers are a worker's group commits: stages, check results,
// promotions, finishes and pointer publications, each batched across the
// worker's running tasks.
type committers struct {
	gate    gate
	stage   *batcher[store.TaskStageParams, store.StageResult]
	promote *batcher[store.MaterializationPromoteParams, store.FinishResult]
	finish  *batcher[store.TaskFinishParams, store.FinishResult]
	publish *batcher[[]verify.Pointer, []error]
	checks  *batcher[[]store.CheckResult, struct{}]
}

func (w *Worker) newCommitters() *committers {
	c := &committers{}
	g := &c.gate
	c.stage = newBatcher(g, "stage", w.Store.TaskStageMany)
	c.promote = newBatcher(g, "promote", w.Store.MaterializationPromoteMany)
	c.finish = newBatcher(g, "finish", w.Store.TaskFinishMany)
	c.checks = newBatcher(g, "record check results", func(ctx context.Context, tasks [][]store.CheckResult) ([]struct{}, error) {
		var all []store.CheckResult
		for _, rs := range tasks {
			all = append(all, rs...)
		}
		return make([]struct{}, len(tasks)), w.Store.CheckResultInsertMany(ctx, all)
	})
	c.publish = newBatcher(g, "publish pointers", func(ctx context.Context, tasks [][]verify.Pointer) ([][]error, error) {
		var all []verify.Pointer
		for _, ps := range tasks {
			all = append(all, ps...)
		}
		errs := verify.PublishMany(ctx, w.Bucket, w.Store, all)
		out := make([][]error, len(tasks))
		for i, ps := range tasks {
			out[i], errs = errs[:len(ps)], errs[len(ps):]
		}
		return out, nil
	})
	return c
}

// start runs the committers until ctx ends.
func (c *committers) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { c.stage.run(ctx) })
	wg.Go(func() { c.promote.run(ctx) })
	wg.Go(func() { c.finish.run(ctx) })
	wg.Go(func() { c.publish.run(ctx) })
	wg.Go(func() { c.checks.run(ctx) })
}
