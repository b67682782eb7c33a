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
			var problems []string
			if err != nil {
				problems = strings.Split(err.Error(), "\n")
			} else {
				for _, s := range a.cfg.Schedules {
					if _, serr := defs.Select(s.Selection); serr != nil {
						problems = append(problems, fmt.Sprintf("schedule %s: %v", s.Name, serr))
					}
				}
			}
			problems = append(problems, a.validateSchedules()...)
			for _, sn := range a.cfg.Sensors {
				if serr := sn.Validate(defs); serr != nil {
					problems = append(problems, serr.Error())
				}
			}
			if a.cfg.Alerts != nil {
				if aerr := a.cfg.Alerts.Validate(defs); aerr != nil {
					problems = append(problems, strings.Split(aerr.Error(), "\n")...)
				}
			}
			if len(problems) > 0 {
				if a.output == "json" {
					if jerr := a.json(validateJSON{OK: false, Problems: problems}); jerr != nil {
						return jerr
					}
					return &exitError{ExitUsage, nil}
				}
				return usageError(fmt.Errorf("the definitions have %d problem(s):\n%s", len(problems), strings.Join(problems, "\n")))
			}
			deps := 0
			for _, as := range defs.Assets() {
				deps += len(as.Deps)
			}
			if a.output == "json" {
				return a.json(validateJSON{OK: true, Assets: len(defs.Keys()), Dependencies: deps, Schedules: len(a.cfg.Schedules), Problems: []string{}})
			}
			fmt.Fprintf(a.cfg.Stdout, "ok: %d assets, %d dependencies, no cycles", len(defs.Keys()), deps)
			if n := len(a.cfg.Schedules); n > 0 {
				fmt.Fprintf(a.cfg.Stdout, ", %d schedule(s)", n)
			}
			fmt.Fprintln(a.cfg.Stdout)
			return nil
		},
	}
}

// validateJSON is validate's -o json output.
type validateJSON struct {
	OK           bool     `json:"ok"`
	Assets       int      `json:"assets"`
	Dependencies int      `json:"dependencies"`
	Schedules    int      `json:"schedules"`
	Problems     []string `json:"problems"`
}
