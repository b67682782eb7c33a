package verify

import (
	"context"
	"path"
	"sync"

	"gocloud.dev/blob"
)

// FileAuditor reads what a staged file holds, by its format, for the
// manifest: its row count and schema. It reads the file at key in b (a
// format's footer, say) and fails on a file that is not what its name
// says.
type FileAuditor func(ctx context.Context, b *blob.Bucket, key string) (rows int64, schema string, err error)

var (
	auditorsMu sync.RWMutex
	auditors   = map[string]FileAuditor{}
)

// RegisterFileAuditor makes a manifest record the rows and schema of every
// staged file whose name ends in ext (".parquet"), as a says. Format
// packages register theirs when imported (connectors/parquet does), the way
// gocloud.dev blob drivers register their URL schemes; the core imports no
// format library.
func RegisterFileAuditor(ext string, a FileAuditor) {
	auditorsMu.Lock()
	defer auditorsMu.Unlock()
	auditors[ext] = a
}

func fileAuditor(name string) FileAuditor {
	auditorsMu.RLock()
	defer auditorsMu.RUnlock()
	return auditors[path.Ext(name)]
}
