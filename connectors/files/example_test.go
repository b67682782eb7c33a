package files_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/weir-dev/weir/connectors/files"
)

// CSV read as Arrow record batches, the schema inferred from the rows.
func ExampleRead() {
	rr, err := files.Read(strings.NewReader("day,orders,revenue\n2024-01-01,3,12.5\n2024-01-02,,7\n"), files.ReadOpts{Format: files.CSV})
	if err != nil {
		log.Fatal(err)
	}
	defer rr.Release()
	fmt.Println(rr.Schema())
	for rr.Next() {
		fmt.Println(rr.RecordBatch().NumRows(), "rows")
	}
	// Output:
	// schema:
	//   fields: 3
	//     - day: type=date32, nullable
	//     - orders: type=int64, nullable
	//     - revenue: type=float64, nullable
	// 2 rows
}
