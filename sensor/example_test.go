package sensor_test

import (
	"context"
	"fmt"
	"log"
	"regexp"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/sensor"
)

// A blob sensor's source reports the partitions whose objects arrived
// since its cursor; a sensor.Daemon (weir serve, with
// weircli.Config.Sensors) turns them into runs.
func ExampleBlobPrefix() {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	src := &sensor.BlobPrefix{Bucket: b, Prefix: "landing/", Pattern: regexp.MustCompile(`^landing/(?P<key>\d{4}-\d{2}-\d{2})/`)}
	first, err := src.Poll(ctx, "")
	if err != nil {
		log.Fatal(err)
	}
	b.WriteAll(ctx, "landing/2024-01-01/a.csv", []byte("x"), nil)
	b.WriteAll(ctx, "landing/2024-01-01/b.csv", []byte("x"), nil)
	b.WriteAll(ctx, "landing/2024-01-02/a.csv", []byte("x"), nil)
	next, err := src.Poll(ctx, first.Cursor)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(next.Keys, next.Arrivals, "objects")
	again, _ := src.Poll(ctx, next.Cursor)
	fmt.Println(again.Keys, again.Arrivals, "objects")
	// Output:
	// [2024-01-01 2024-01-02] 3 objects
	// [] 0 objects
}
