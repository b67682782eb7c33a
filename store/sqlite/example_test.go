package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
)

// Open the embedded state store: one SQLite file, created with its
// directory and migrated on open. store.Open("sqlite://PATH") does the
// same from a URL.
func ExampleOpen() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "weir-example-")
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "weir", "state.db"))
	if err != nil {
		panic(err)
	}
	defer st.Close()
	if err := st.PoolSet(ctx, store.PoolSetParams{Name: "warehouse", MaxRunning: 4}); err != nil {
		panic(err)
	}
	pools, _ := st.PoolList(ctx)
	fmt.Println(pools[0].Name, pools[0].MaxRunning)
	// Output:
	// warehouse 4
}
