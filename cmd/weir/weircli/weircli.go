// Package weircli is weir's command line as a library: a user's own binary
// calls Main with its assets, so `mypipes materialize ...` runs them. The
// weir binary (cmd/weir) is this with the examples compiled in.
//
// Exit codes: 0 success, 1 the work ran and failed, 2 bad usage or input.
package weircli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"gocloud.dev/blob"

	"github.com/weir-dev/weir/alert"
	"github.com/weir-dev/weir/api"
	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/connectors/bucket"
	"github.com/weir-dev/weir/internal/urlredact"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/schedule"
	"github.com/weir-dev/weir/sensor"
	"github.com/weir-dev/weir/store"
	_ "github.com/weir-dev/weir/store/postgres" // postgres://
	_ "github.com/weir-dev/weir/store/sqlite"   // sqlite://
)

// Defaults for the embedded set-up: everything under ./.weir.
const (
	DefaultStore = "sqlite://.weir/state.db"
	DefaultBlob  = "file://.weir/blobs"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

// Config is what the CLI runs with. The zero value of every field but
// Assets means its default.
type Config struct {
	// Name is the binary's name, in usage, errors and the commands that
	// messages suggest. Defaults to "weir".
	Name string
	// Assets are the user's assets. They are validated when a command
	// needs them, so `validate` can report every problem.
	Assets []*pipelines.Asset
	// Schedules fire runs of the assets on cron schedules: `weir serve`
	// evaluates them, `weir schedules` shows them. Validated with the
	// assets.
	Schedules []*schedule.Schedule
	// Alerts, if set, says what to alert on and where: weir serve detects
	// and delivers, every process that runs tasks records the ones that
	// fail for good, weir alerts shows and tests them. Validated with the
	// assets.
	Alerts *alert.Config
	// Sensors start runs when input arrives outside weir: weir serve
	// evaluates them, weir sensors shows them. Validated with the assets.
	Sensors []*sensor.Sensor
	// Commands are added to the command line beside weir's own.
	Commands []*cobra.Command
	// Query, if set, answers SQL over the HTTP API (POST /api/v1/query of
	// weir serve --http); querycmd.Query is weir query's engine.
	Query api.QueryFunc
	// Logger receives the worker's log lines. Defaults to text lines on
	// Stderr at info level. Secrets in URLs are hidden either way.
	Logger *slog.Logger
	// Stdout and Stderr default to the process's.
	Stdout, Stderr io.Writer
	// Clock defaults to the system clock.
	Clock clock.Clock
	// Getenv defaults to os.Getenv; WEIR_STORE and WEIR_BLOB set the
	// defaults of --store and --blob.
	Getenv func(string) string
}

// withDefaults fills in the defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Name == "" {
		cfg.Name = "weir"
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	return cfg
}

// Main runs the command line with os.Args and exits. SIGINT and SIGTERM
// cancel the running command, which records what it was doing first.
func Main(assets ...*pipelines.Asset) {
	MainConfig(Config{Name: filepath.Base(os.Args[0]), Assets: assets})
}

// MainConfig is Main with a Config.
//
// With WEIR_CPUPROFILE=FILE in the environment the process writes a CPU
// profile of the command to FILE (go tool pprof reads it): where a slow
// command or a worker spends its time.
func MainConfig(cfg Config) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := func() {}
	if path := os.Getenv("WEIR_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "WEIR_CPUPROFILE=%s: %v\n", path, err)
			os.Exit(ExitUsage)
		}
		stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
	}
	code := Run(ctx, cfg, os.Args[1:])
	stopProfile()
	stop()
	os.Exit(code)
}

// Command returns the command line as a cobra command, to embed in a
// command tree of your own or to run yourself. Its RunE errors map to exit
// codes with ExitCode; their text is the message to show.
func Command(cfg Config) *cobra.Command {
	a := &app{cfg: cfg.withDefaults()}
	root := a.rootCommand()
	root.SetOut(a.cfg.Stdout)
	root.SetErr(a.cfg.Stderr)
	return root
}

// Run runs the command line with args and returns the exit code, after
// printing an error's message on Stderr.
func Run(ctx context.Context, cfg Config, args []string) int {
	cfg = cfg.withDefaults()
	root := Command(cfg)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code := ExitCode(err)
	var ee *exitError
	if errors.As(err, &ee) {
		err = ee.err
	}
	if err != nil {
		lines := strings.Split(strings.TrimRight(urlredact.Text(err.Error()), "\n"), "\n")
		fmt.Fprintf(cfg.Stderr, "%s: %s\n", cfg.Name, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(cfg.Stderr, "  %s\n", l)
		}
	}
	return code
}

// ExitCode maps an error a command returned to its exit code: ExitOK for
// nil, ExitFailed when the work ran and failed or the store or blob root
// could not be reached, ExitUsage for bad usage or input.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitUsage // cobra's own errors are about usage
}

// exitError carries an exit code. A nil err exits quietly.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func usageError(err error) error { return &exitError{ExitUsage, err} }

// Usage marks err as bad usage or input (exit 2), for Config.Commands.
func Usage(err error) error { return usageError(err) }

// Failed marks err as work that ran and failed, or a store or bucket that
// could not be reached (exit 1), for Config.Commands.
func Failed(err error) error { return failedError(err) }

func failedError(err error) error { return &exitError{ExitFailed, err} }

type app struct {
	cfg         Config
	store       string
	blob        string
	output      string
	openlineage string
	logFormat   string
	logOnce     sync.Once // one logger, so its lines never interleave
	log         *slog.Logger
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   a.cfg.Name,
		Short: "weir plans, runs and verifies partitioned data pipelines",
		Long: `weir materializes partitioned assets declared in Go: it plans the smallest set of
work that makes the requested partitions fresh, runs it, verifies every output's
checksums and promotes it only then.

Everything is kept under ./.weir by default (a SQLite state store and a file://
blob root); --store and --blob (or WEIR_STORE and WEIR_BLOB) point elsewhere.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			allowed := "table,json"
			if f, ok := cmd.Annotations[outputFormats]; ok {
				allowed = f
				if !cmd.Flags().Changed("output") { // the command's own default
					a.output, _, _ = strings.Cut(f, ",")
				}
			}
			if !slices.Contains(strings.Split(allowed, ","), a.output) {
				return usageError(fmt.Errorf("output format %q is not one of %s", a.output, strings.ReplaceAll(allowed, ",", ", ")))
			}
			if a.logFormat != "text" && a.logFormat != "json" {
				return usageError(fmt.Errorf("--log-format %q is not one of text, json", a.logFormat))
			}
			_, err := a.openLineageURL()
			return err
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	pf := root.PersistentFlags()
	pf.StringVar(&a.store, "store", envOr(a.cfg.Getenv, "WEIR_STORE", DefaultStore), "state store URL (sqlite://PATH)")
	pf.StringVar(&a.blob, "blob", envOr(a.cfg.Getenv, "WEIR_BLOB", DefaultBlob), "object storage URL for outputs (file://DIR, mem://)")
	pf.StringVar(&a.openlineage, "openlineage-url", envOr(a.cfg.Getenv, "WEIR_OPENLINEAGE_URL", ""),
		"send OpenLineage events as tasks start and end: http(s)://... (POST) or file://PATH (NDJSON); never slows a task")
	pf.StringVarP(&a.output, "output", "o", "table", "output format of read commands: table or json")
	pf.StringVar(&a.logFormat, "log-format", envOr(a.cfg.Getenv, "WEIR_LOG_FORMAT", "text"), "format of the log lines on stderr (worker, serve): text or json")
	root.AddCommand(a.validateCommand(), a.assetsCommand(), a.materializeCommand(), a.runsCommand(), a.partitionsCommand(),
		a.workerCommand(), a.workersCommand(), a.tasksCommand(), a.poolsCommand(), a.benchCommand(), a.verifyCommand(), a.gcCommand(), a.backfillCommand(), a.lineageCommand(), a.schedulesCommand(), a.serveCommand(), a.alertsCommand(), a.sensorsCommand())
	root.AddCommand(a.cfg.Commands...)
	return root
}

// outputFormats annotates a command whose -o takes other formats than
// table and json: a comma-separated list, the first the default.
const outputFormats = OutputFormats

// OutputFormats is the annotation with which a command of Config.Commands
// declares the formats its -o takes: a comma-separated list, the first the
// default (table and json otherwise).
const OutputFormats = "weir/output-formats"

// redactURL hides the secrets in a URL.
func redactURL(s string) string { return urlredact.URL(s) }

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// graph validates the assets.
func (a *app) graph() (*lineage.Graph, error) {
	g, err := lineage.New(a.cfg.Assets...)
	if err != nil {
		return nil, usageError(fmt.Errorf("the asset definitions are invalid (run "+a.cfg.Name+" validate):\n%w", err))
	}
	return g, nil
}

// openStore opens --store. A malformed URL is bad usage (exit 2); a store
// that cannot be reached or opened is an operational failure (exit 1).
func (a *app) openStore(ctx context.Context) (store.Store, error) {
	s, err := store.Open(ctx, a.store)
	if errors.Is(err, store.ErrBadURL) {
		return nil, usageError(err)
	}
	if err != nil {
		return nil, failedError(err)
	}
	return s, nil
}

// openBucket opens --blob; exit codes as openStore's.
func (a *app) openBucket(ctx context.Context) (*blob.Bucket, error) {
	b, err := bucket.Open(ctx, a.blob)
	if errors.Is(err, bucket.ErrBadURL) {
		return nil, usageError(err)
	}
	if err != nil {
		return nil, failedError(err)
	}
	return b, nil
}

// selectAssets validates the assets and evaluates a selection.
func (a *app) selectAssets(selection string) (*lineage.Graph, []string, error) {
	g, err := a.graph()
	if err != nil {
		return nil, nil, err
	}
	keys, err := g.Select(selection)
	if err != nil {
		return nil, nil, usageError(err)
	}
	return g, keys, nil
}

// openBoth opens the state store and the bucket; close releases both.
func (a *app) openBoth(ctx context.Context) (st store.Store, b *blob.Bucket, close func(), err error) {
	if st, err = a.openStore(ctx); err != nil {
		return nil, nil, nil, err
	}
	if b, err = a.openBucket(ctx); err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return st, b, func() { b.Close(); st.Close() }, nil
}

func (a *app) json(v any) error {
	enc := json.NewEncoder(a.cfg.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "a -> b", not "a -\u003e b"
	return enc.Encode(v)
}

// TableWriter aligns columns as weir's tables are aligned (two spaces
// between columns) and hands the table to its output in one write when
// flushed: a tabwriter writes each cell and each run of padding on its own
// (515 system calls to print one `backfill status`, ~5 ms of it on a
// terminal). For the commands of Config.Commands.
type TableWriter struct {
	*tabwriter.Writer
	buf *bufio.Writer
}

// NewTable returns a TableWriter over w.
func NewTable(w io.Writer) *TableWriter {
	buf := bufio.NewWriterSize(w, 64<<10)
	return &TableWriter{Writer: tabwriter.NewWriter(buf, 0, 0, 2, ' ', 0), buf: buf}
}

// Flush writes what was aligned so far.
func (t *TableWriter) Flush() error {
	if err := t.Writer.Flush(); err != nil {
		return err
	}
	return t.buf.Flush()
}

func (a *app) table() *TableWriter { return NewTable(a.cfg.Stdout) }

// noArgs rejects positional arguments with exit code 2.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError(fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args))
	}
	return nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError(fmt.Errorf("%s takes %s", cmd.CommandPath(), what))
		}
		return nil
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
