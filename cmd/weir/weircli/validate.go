package weircli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/lineage"
)

func (a *app) validateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Load the asset definitions and report every problem",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			defs, err := lineage.New(a.cfg.Assets...)
			if err != nil {
				problems := strings.Split(err.Error(), "\n")
				if a.output == "json" {
					if jerr := a.json(validateJSON{OK: false, Problems: problems}); jerr != nil {
						return jerr
					}
					return &exitError{ExitUsage, nil}
				}
				return usageError(fmt.Errorf("the asset definitions have %d problem(s):\n%s", len(problems), strings.Join(problems, "\n")))
			}
			deps := 0
			for _, as := range defs.Assets() {
				deps += len(as.Deps)
			}
			if a.output == "json" {
				return a.json(validateJSON{OK: true, Assets: len(defs.Keys()), Dependencies: deps, Problems: []string{}})
			}
			fmt.Fprintf(a.cfg.Stdout, "ok: %d assets, %d dependencies, no cycles\n", len(defs.Keys()), deps)
			return nil
		},
	}
}

// validateJSON is validate's -o json output.
type validateJSON struct {
	OK           bool     `json:"ok"`
	Assets       int      `json:"assets"`
	Dependencies int      `json:"dependencies"`
	Problems     []string `json:"problems"`
}
