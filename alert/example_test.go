package alert_test

import (
	"fmt"
	"log"

	"github.com/weir-dev/weir/alert"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/pipelines"
)

// Alerts declared beside the assets: failures of the finance assets page
// on-call through a signed webhook, everything goes to a file, and each
// day's revenue must be promoted by 06:00 the next morning. weir serve
// (weircli.Config.Alerts) detects, records and delivers them.
func ExampleConfig() {
	g := lineage.Must(&pipelines.Asset{Key: "revenue", Group: "finance", Partitions: days, Compute: write})
	cfg := &alert.Config{
		Sinks: map[string]alert.Sink{
			"oncall": &alert.Webhook{URL: "https://hooks.example.com/weir", Secret: "s3cret"},
			"file":   &alert.File{Path: ".weir/alerts.ndjson"},
		},
		Rules:     []alert.Rule{{Sink: "file"}, {Sink: "oncall", Selection: "group:finance", MinSeverity: alert.Warning}},
		Freshness: []alert.Freshness{{Asset: "revenue", By: "06:00", Zone: "Europe/Berlin"}},
	}
	if err := cfg.Validate(g); err != nil {
		log.Fatal(err)
	}
	for _, line := range cfg.Describe() {
		fmt.Println(line)
	}
	// Output:
	// sink file: file .weir/alerts.ndjson
	// sink oncall: webhook https://hooks.example.com/weir
	// rule: all kinds of *, info and up -> file
	// rule: all kinds of group:finance, warning and up -> oncall
	// freshness: each partition of revenue promoted by 06:00 Europe/Berlin after the window closes
}
