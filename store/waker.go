package store

import "sync"

// Waker broadcasts wake-ups to any number of waiters: Wait returns a
// channel that Notify closes. Call Wait before looking for work and wait on
// the channel after finding none, so no wake-up falls in between.
type Waker struct {
	mu sync.Mutex
	ch chan struct{}
}

// Wait returns the channel the next Notify closes.
func (w *Waker) Wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

// Notify wakes every waiter.
func (w *Waker) Notify() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}
