// Command weir is the weir command line with the example pipelines compiled
// in. Your own pipelines get the same command line from weircli.Main.
package main

import (
	"github.com/weir-dev/weir/cmd/weir/weircli"
	"github.com/weir-dev/weir/examples/nightly"
)

func main() { weircli.Main(nightly.Assets()...) }
