package weircli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/store"
)

// partitionFlags is how every command names partitions: --partition K[,K...],
// --partition-range A...B, or --from A --to B (the same range), with the
// same errors everywhere.
type partitionFlags struct {
	keys, rng, from, to string
}

// register adds the flags; what says what the partitions are for.
func (p *partitionFlags) register(f *pflag.FlagSet, what string) {
	f.StringVarP(&p.keys, "partition", "p", "", what+": one partition key, or a list K1,K2,...")
	f.StringVar(&p.rng, "partition-range", "", what+": a range FIRST...LAST, both included")
	f.StringVar(&p.from, "from", "", "first partition of a range (with --to; the same as --partition-range FROM...TO)")
	f.StringVar(&p.to, "to", "", "last partition of a range, included (with --from)")
	// backfill create named its key list --partitions before.
	f.StringVar(&p.keys, "partitions", "", "")
	f.MarkHidden("partitions")
}

// expr returns the partitions named, in the compact form the planner and
// partitions.Parse read ("" for none), or a usage error.
func (p *partitionFlags) expr() (string, error) {
	given := 0
	for _, v := range []string{p.keys, p.rng, p.from + p.to} {
		if v != "" {
			given++
		}
	}
	switch {
	case given > 1:
		return "", errors.New("name partitions one way: --partition K[,K...], --partition-range A...B, or --from A --to B")
	case p.keys != "":
		if strings.Contains(p.keys, partitions.RangeSep) {
			return "", fmt.Errorf("--partition %q lists keys K1,K2,...; for a range use --partition-range A...B or --from A --to B", p.keys)
		}
		return p.keys, nil
	case p.rng != "":
		if !strings.Contains(p.rng, partitions.RangeSep) {
			return "", fmt.Errorf("--partition-range %q is not FIRST...LAST; for single partitions use --partition", p.rng)
		}
		return p.rng, nil
	case p.from != "" && p.to != "":
		return p.from + partitions.RangeSep + p.to, nil
	case p.from != "" || p.to != "":
		return "", errors.New("--from and --to go together: both ends of the range, both included")
	}
	return "", nil
}

// partitionFilter returns whether a partition key of asset as is among
// those expr names (everything when expr is empty or the asset is not
// partitioned). A key the definition does not know is not among them.
func (a *app) partitionFilter(ctx context.Context, st store.Store, as *pipelines.Asset, expr string) (func(key string) bool, error) {
	def, err := plan.BindDefinition(ctx, st, as)
	if err != nil {
		return nil, failedError(err)
	}
	if expr == "" || partitions.IsUnpartitioned(def) {
		return func(string) bool { return true }, nil
	}
	want, err := partitions.Parse(def, expr, a.cfg.Clock.Now())
	if err != nil {
		return nil, usageError(fmt.Errorf("asset %q: %w", as.Key, err))
	}
	return func(key string) bool {
		i, err := def.Index(key)
		return err == nil && want.Contains(i)
	}, nil
}
