package pipelines

import "testing"

func TestBackoffFullJitter(t *testing.T) {
	p := RetryPolicy{InitialBackoff: 100, MaxBackoff: 1000}
	for n, want := range map[int]int64{1: 100, 2: 200, 3: 400, 4: 800, 5: 1000, 64: 1000} {
		if got := p.Backoff(n, 0.999999); int64(got) != want-1 && int64(got) != want {
			t.Errorf("Backoff(%d) ceiling = %d, want %d", n, got, want)
		}
		if got := p.Backoff(n, 0); got != 0 {
			t.Errorf("Backoff(%d, 0) = %d", n, got)
		}
	}
}
