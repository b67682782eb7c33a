package weircli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/store"
)

func (a *app) poolsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "pools", Short: "Pool quotas: running tasks per pool across all workers"}
	var maxRunning int
	set := &cobra.Command{
		Use:   "set NAME --max N",
		Short: "Set a pool's quota of running tasks, enforced in the store across all workers",
		Args:  exactArgs(1, "one pool name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := pipelines.CheckName("pool", args[0]); err != nil {
				return usageError(err)
			}
			if maxRunning < 0 {
				return usageError(fmt.Errorf("--max %d must be 0 (pause the pool) or more", maxRunning))
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.PoolSet(cmd.Context(), store.PoolSetParams{Name: args[0], MaxRunning: maxRunning}); err != nil {
				return failedError(err)
			}
			fmt.Fprintf(a.cfg.Stdout, "pool %s: at most %d running\n", args[0], maxRunning)
			return nil
		},
	}
	set.Flags().IntVar(&maxRunning, "max", -1, "most tasks of the pool running at once (required)")
	set.MarkFlagRequired("max")
	list := &cobra.Command{
		Use:   "list",
		Short: "List pools: running now and quota",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			pools, err := st.PoolList(cmd.Context())
			if err != nil {
				return failedError(err)
			}
			type poolJSON struct {
				Name    string `json:"name"`
				Running int    `json:"running"`
				Max     *int   `json:"max"`
			}
			out := []poolJSON{}
			for _, p := range pools {
				j := poolJSON{Name: p.Name, Running: p.Running}
				if p.MaxRunning >= 0 {
					m := p.MaxRunning
					j.Max = &m
				}
				out = append(out, j)
			}
			if a.output == "json" {
				return a.json(out)
			}
			w := a.table()
			fmt.Fprintln(w, "POOL\tRUNNING\tMAX")
			for _, p := range out {
				m := "unlimited"
				if p.Max != nil {
					m = fmt.Sprint(*p.Max)
				}
				fmt.Fprintf(w, "%s\t%d\t%s\n", p.Name, p.Running, m)
			}
			return w.Flush()
		},
	}
	cmd.AddCommand(set, list)
	return cmd
}
