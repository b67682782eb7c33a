package scheduler_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreLinksNoCgoOrCloudSDK: the write-audit-publish core, the store and
// the scheduler runtime link neither DuckDB (cgo), nor Arrow, nor a cloud
// SDK; those come in only with the connectors and drivers a binary imports.
func TestCoreLinksNoCgoOrCloudSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	core := []string{"../partitions", "../pipelines", "../lineage", "../verify", "../store/...", "../scheduler", "../clock"}
	out, err := exec.Command("go", append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, core...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"github.com/duckdb/", "github.com/apache/arrow-go/", "github.com/aws/", "cloud.google.com/go/storage", "github.com/Azure/",
		"gocloud.dev/blob/s3blob", "gocloud.dev/blob/gcsblob", "gocloud.dev/blob/azureblob"}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("the core links %s", d)
			}
		}
	}
	t.Logf("%d packages in the core's closure", len(deps))
}
