// Command scale is weir's command line over the ten-years-of-hours graph
// (catalogseed.TenYearsHourly: 20 assets, hourly partitions from 2015),
// each task writing a 1-byte file: the binary the scale benchmark runs.
package main

import (
	"context"
	"os"

	"github.com/weir-dev/weir/cmd/weir/weircli"
	"github.com/weir-dev/weir/internal/catalogseed"
	"github.com/weir-dev/weir/pipelines"
)

func main() {
	_, g, _, _ := catalogseed.TenYearsHourly()
	var assets []*pipelines.Asset
	for _, a := range g.Assets() {
		c := *a
		c.Compute = func(ctx context.Context, t *pipelines.Task) error {
			for _, k := range t.Keys {
				w, err := t.Output.Create(ctx, k, "x")
				if err != nil {
					return err
				}
				w.Write([]byte("x"))
				if err := w.Close(); err != nil {
					return err
				}
			}
			return nil
		}
		assets = append(assets, &c)
	}
	weircli.MainConfig(weircli.Config{Name: "scale", Assets: assets, Getenv: os.Getenv})
}
