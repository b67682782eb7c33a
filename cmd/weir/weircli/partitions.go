package weircli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/scheduler"
)

func (a *app) partitionsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "partitions", Short: "Manage dynamic partition keys"}
	cmd.AddCommand(&cobra.Command{
		Use:   "add NAME KEY...",
		Short: "Add keys to a dynamic partitions definition (existing keys are left alone)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError(fmt.Errorf("%s takes a dynamic partitions name and at least one key", cmd.CommandPath()))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := a.dynamicName(args[0])
			if err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			added, err := scheduler.AddDynamicPartitions(cmd.Context(), st, name, args[1:], a.cfg.Clock.Now())
			if err != nil {
				return usageError(err)
			}
			fmt.Fprintf(a.cfg.Stdout, "added %d of %d keys to dynamic partitions %q\n", added, len(args)-1, name)
			return nil
		},
	}, &cobra.Command{
		Use:   "list NAME",
		Short: "List the keys of a dynamic partitions definition in the order they were added",
		Args:  exactArgs(1, "a dynamic partitions name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := a.dynamicName(args[0])
			if err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			keys, err := st.DynamicPartitionList(cmd.Context(), name)
			if err != nil {
				return failedError(err)
			}
			if keys == nil {
				keys = []string{}
			}
			if a.output == "json" {
				return a.json(keys)
			}
			for _, k := range keys {
				fmt.Fprintln(a.cfg.Stdout, k)
			}
			return nil
		},
	})
	return cmd
}

// dynamicName checks that an asset uses the dynamic definition name.
func (a *app) dynamicName(name string) (string, error) {
	g, err := a.graph()
	if err != nil {
		return "", err
	}
	dyn := scheduler.DynamicDefinitions(g)
	if _, ok := dyn[name]; ok {
		return name, nil
	}
	names := make([]string, 0, len(dyn))
	for n := range dyn {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "", usageError(fmt.Errorf("no asset has dynamic partitions named %q (no asset has dynamic partitions)", name))
	}
	return "", usageError(fmt.Errorf("no asset has dynamic partitions named %q (dynamic partitions in use: %s)", name, strings.Join(names, ", ")))
}
