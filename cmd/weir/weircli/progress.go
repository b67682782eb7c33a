package weircli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// Progress modes of --progress.
const (
	progressAuto  = "auto"  // bars on a terminal, plain lines otherwise
	progressBars  = "bars"  // mpb progress bars
	progressPlain = "plain" // a line every few seconds
	progressJSON  = "json"  // newline-delimited JSON events on stdout
	progressNone  = "none"
)

// view shows a backfill's progress while it runs.
type view interface {
	// snapshot shows the backfill's state; final is the last call.
	snapshot(s *snapshot, final bool)
	// task shows one task event (only when the tasks run in this process).
	task(ev scheduler.Event)
}

// checkProgress checks a --progress mode.
func checkProgress(mode string) error {
	switch mode {
	case progressAuto, progressBars, progressPlain, progressJSON, progressNone:
		return nil
	}
	return fmt.Errorf("--progress %q is not one of auto, bars, plain, json, none", mode)
}

// newView picks the view for mode: auto means bars when stdout and stderr
// are terminals, else plain lines.
func (a *app) newView(mode string) (view, error) {
	if err := checkProgress(mode); err != nil {
		return nil, err
	}
	switch mode {
	case progressAuto:
		// Bars only for a person at a terminal: when either output is
		// redirected (a log, a pipe, CI), plain lines.
		if isTerminal(a.cfg.Stdout) && isTerminal(a.cfg.Stderr) {
			return a.newBars(), nil
		}
		return &plainView{w: a.cfg.Stderr}, nil
	case progressBars:
		return a.newBars(), nil
	case progressPlain:
		return &plainView{w: a.cfg.Stderr}, nil
	case progressJSON:
		return &jsonView{enc: json.NewEncoder(a.cfg.Stdout)}, nil
	}
	return noView{}, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// showWhile shows a run's progress in v while work runs: a first snapshot
// before work starts, one each second while tasks change (and on a
// terminal, bars), and a final one. It returns the last snapshot and
// work's error.
func (a *app) showWhile(ctx context.Context, st store.Store, runID int64, v view, work func() error) (*snapshot, error) {
	first, err := takeSnapshot(context.WithoutCancel(ctx), st, runID, a.cfg.Clock.Now())
	if err == nil {
		v.snapshot(first, false)
	}
	stop := make(chan struct{})
	shown := make(chan *snapshot, 1)
	go func() { shown <- a.followView(ctx, st, runID, v, stop, first) }()
	werr := work()
	close(stop)
	return <-shown, werr
}

// followView shows a run's progress until stop closes or ctx ends: a
// snapshot every second, and a final one. It returns the last snapshot.
func (a *app) followView(ctx context.Context, st store.Store, runID int64, v view, stop <-chan struct{}, last *snapshot) *snapshot {
	take := func() {
		s, err := takeSnapshot(context.WithoutCancel(ctx), st, runID, a.cfg.Clock.Now())
		if err == nil {
			last = s
		}
	}
	for {
		select {
		case <-stop:
			take()
			if last != nil {
				last.Event = "finished"
				v.snapshot(last, true)
			}
			return last
		case <-ctx.Done():
			take()
			if last != nil {
				last.Event = "stopped"
				v.snapshot(last, true)
			}
			return last
		case <-a.cfg.Clock.After(time.Second):
			take()
			if last != nil {
				v.snapshot(last, false)
			}
		}
	}
}

type noView struct{}

func (noView) snapshot(*snapshot, bool) {}
func (noView) task(scheduler.Event)     {}

// plainView prints a line per snapshot that changed, for logs and pipes.
type plainView struct {
	w    io.Writer
	last string
}

func (p *plainView) snapshot(s *snapshot, final bool) {
	line := fmt.Sprintf("%s %d %s: %s", s.noun(), s.RunID, s.Status, s.taskCounts())
	if s.ETASeconds > 0 {
		line += fmt.Sprintf(", ETA %s", (time.Duration(s.ETASeconds) * time.Second).String())
	}
	if line == p.last && !final {
		return
	}
	p.last = line
	fmt.Fprintln(p.w, line)
}

func (p *plainView) task(ev scheduler.Event) {
	switch ev.Kind {
	case scheduler.EventFailed, scheduler.EventRetrying:
		fmt.Fprintf(p.w, "%s %s %s (attempt %d): %s\n", ev.Kind, ev.Asset, ev.Partitions, ev.Attempt, firstLine(errString(ev.Err)))
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// jsonView writes newline-delimited JSON: progress snapshots and task
// events.
type jsonView struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (j *jsonView) snapshot(s *snapshot, _ bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.enc.Encode(s)
}

func (j *jsonView) task(ev scheduler.Event) {
	if ev.Kind == scheduler.EventRunEnded {
		return // the final progress says it
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.enc.Encode(map[string]any{"event": "task", "kind": ev.Kind, "run_id": ev.RunID, "task": ev.TaskID, "asset": ev.Asset,
		"partitions": ev.Partitions, "attempt": ev.Attempt, "worker": ev.Worker, "error": errString(ev.Err)})
}

// barsView draws one mpb bar per asset, counting its partitions, under a
// status line.
type barsView struct {
	p      *mpb.Progress
	color  bool
	mu     sync.Mutex
	status string
	failed map[string]int64
	bars   map[string]*mpb.Bar
}

func (a *app) newBars() *barsView {
	return &barsView{p: mpb.New(mpb.WithOutput(a.cfg.Stderr), mpb.WithWidth(32), mpb.WithRefreshRate(200*time.Millisecond)),
		color: a.cfg.Getenv("NO_COLOR") == "", bars: map[string]*mpb.Bar{}, failed: map[string]int64{}}
}

func (b *barsView) snapshot(s *snapshot, final bool) {
	b.mu.Lock()
	status := fmt.Sprintf("%s %d %s · %s", s.noun(), s.RunID, s.Status, s.Throttle)
	if s.Status == string(store.RunTripped) {
		status += " · " + s.TripReason
	}
	b.status = b.paint(s.Status, status)
	for _, ap := range s.Assets {
		b.failed[ap.Asset] = ap.Failed
	}
	b.mu.Unlock()
	if len(b.bars) == 0 {
		// The status line: a bar with no filler, completed at the end.
		b.bars[""] = b.p.New(1, mpb.NopStyle(), mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.status
		})))
	}
	width := 0
	for _, ap := range s.Assets {
		width = max(width, len(ap.Asset))
	}
	for _, ap := range s.Assets {
		bar, ok := b.bars[ap.Asset]
		if !ok {
			name := ap.Asset
			bar = b.p.AddBar(ap.Total,
				mpb.PrependDecorators(decor.Name(ap.Asset, decor.WC{W: width + 1, C: decor.DindentRight}), decor.CountersNoUnit("%d/%d", decor.WC{W: 12, C: decor.DindentRight})),
				mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5}), decor.Any(func(decor.Statistics) string {
					b.mu.Lock()
					defer b.mu.Unlock()
					if b.failed[name] == 0 {
						return ""
					}
					return b.paint("failed", fmt.Sprintf(" %d failed", b.failed[name]))
				})))
			b.bars[ap.Asset] = bar
		}
		bar.SetTotal(ap.Total, false)
		bar.SetCurrent(ap.Done())
	}
	if final {
		for _, bar := range b.bars {
			bar.SetTotal(-1, true)
		}
		b.p.Wait()
	}
}

func (b *barsView) task(scheduler.Event) {}

// paint colours text for a status unless NO_COLOR is set.
func (b *barsView) paint(status, text string) string {
	if !b.color {
		return text
	}
	code := ""
	switch status {
	case "succeeded":
		code = "32"
	case "failed", "tripped", "cancelled":
		code = "31"
	case "paused":
		code = "33"
	}
	if code == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}
