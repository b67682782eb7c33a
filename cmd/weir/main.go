// Command weir is the weir command line with the example pipelines compiled
// in. Your own pipelines get the same command line from weircli.Main.
//
// The cloud object-storage drivers are linked here, not in the library: a
// binary of your own imports the ones it uses, the Go CDK way.
package main

import (
	"os"
	"path/filepath"

	_ "gocloud.dev/blob/azureblob" // azblob://
	_ "gocloud.dev/blob/gcsblob"   // gs://
	_ "gocloud.dev/blob/s3blob"    // s3://

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/cmd/weir/querycmd"
	"github.com/weir-dev/weir/cmd/weir/weircli"
	"github.com/weir-dev/weir/examples/nightly"
)

func main() {
	assets := nightly.Assets()
	weircli.MainConfig(weircli.Config{Name: filepath.Base(os.Args[0]), Assets: assets, Schedules: nightly.Schedules(),
		Alerts: nightly.Alerts(os.Getenv), Commands: []*cobra.Command{querycmd.Command(assets, nil)}, Query: querycmd.Query})
}
