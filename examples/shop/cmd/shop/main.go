// Command shop is the shop example's own binary: weir's command line with
// the shop's assets compiled in, and a seed command. Its database is
// SHOP_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); its
// state lives under ./.weir/shop unless WEIR_STORE and WEIR_BLOB say
// otherwise.
//
//	go run ./examples/shop/cmd/shop seed
//	go run ./examples/shop/cmd/shop materialize --select '*' --partition-range 2024-01-01...2024-01-31
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/cmd/weir/weircli"
	"github.com/weir-dev/weir/examples/shop"
	"github.com/weir-dev/weir/internal/urlredact"
)

func main() {
	cfg, pool, err := config(weircli.Config{Name: filepath.Base(os.Args[0]), Getenv: os.Getenv})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", filepath.Base(os.Args[0]), urlredact.Text(err.Error()))
		os.Exit(weircli.ExitUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := weircli.Run(ctx, cfg, os.Args[1:])
	stop()
	pool.Close()
	os.Exit(code)
}

// defaultDatabase is the shop's database when SHOP_DATABASE_URL is unset:
// the local PostgreSQL.
const defaultDatabase = "postgres://postgres@127.0.0.1:5432/test"

// config returns the command line: weir's commands with the shop's assets
// and a seed command, state kept apart from other pipelines'. Close the
// pool when the command has run.
func config(cfg weircli.Config) (weircli.Config, *pgxpool.Pool, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	dsn := getenv("SHOP_DATABASE_URL")
	if dsn == "" {
		dsn = defaultDatabase
	}
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		return cfg, nil, fmt.Errorf("SHOP_DATABASE_URL %s: %w", urlredact.URL(dsn), err)
	}
	assets, err := shop.Assets(pool)
	if err != nil {
		pool.Close()
		return cfg, nil, err
	}
	sensors, err := shop.Sensors(pool)
	if err != nil {
		pool.Close()
		return cfg, nil, err
	}
	cfg.Assets, cfg.Schedules, cfg.Sensors = assets, shop.Schedules(), sensors
	cfg.Getenv = func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		switch k {
		case "WEIR_STORE":
			return "sqlite://.weir/shop/state.db"
		case "WEIR_BLOB":
			return "file://.weir/shop/blobs"
		}
		return ""
	}
	cfg.Commands = append(cfg.Commands, seedCommand(pool, dsn))
	return cfg, pool, nil
}

func seedCommand(pool *pgxpool.Pool, dsn string) *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Create the orders table in SHOP_DATABASE_URL with deterministic synthetic orders",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, k := range []string{from, to} {
				if _, err := shop.Days.Index(k); err != nil {
					return weircli.Usage(err)
				}
			}
			n, err := shop.Seed(cmd.Context(), pool, from, to)
			if err != nil {
				return weircli.Failed(fmt.Errorf("seed %s: %w", urlredact.URL(dsn), err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "seeded %d orders for %s...%s in %s\n", n, from, to, urlredact.URL(dsn))
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "2024-01-01", "first day of orders")
	cmd.Flags().StringVar(&to, "to", "2024-03-31", "last day of orders")
	return cmd
}
