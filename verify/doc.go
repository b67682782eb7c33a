// Package verify owns weir's write-audit-publish protocol: where a task
// attempt's output goes in object storage, the SHA-256 of every file
// (computed while it streams out), the re-read that proves the stored bytes
// are the written bytes, manifests, the checks that gate promotion, the
// pointer that publishes a promoted version, and readers that only ever read
// verified versions.
//
// Layout in the bucket (see docs/storage-layout.md):
//
//	<asset>/<partition>/<version>/<file>...       immutable once sealed
//	<asset>/<partition>/<version>/_manifest.json  files, sizes, SHA-256
//	<asset>/<partition>/_current.json             pointer to the promoted version
//
// An attempt writes only under its own version prefix. Nothing points at it
// until the state store promotes it, so a reader that follows _current.json
// never sees unverified bytes or a mix of two versions.
package verify
