package verify

import (
	"fmt"
	"path"
	"strings"
)

// Reserved file names inside a version prefix and a partition prefix.
const (
	ManifestName = "_manifest.json"
	PointerName  = "_current.json"
)

// VersionPrefix returns the prefix (ending in '/') under which one version
// of one partition lives.
func VersionPrefix(asset, partition, version string) string {
	return asset + "/" + partition + "/" + version + "/"
}

// PointerKey returns the key of a partition's current-version pointer.
func PointerKey(asset, partition string) string {
	return asset + "/" + partition + "/" + PointerName
}

// CheckFileName reports file names that may not be written: empty, absolute,
// with "." or ".." segments, backslashes or control characters, or starting
// with '_' (reserved for weir's own files).
func CheckFileName(name string) error {
	bad := func(reason string) error {
		return fmt.Errorf("output file name %q %s; use a relative name like \"data.parquet\" or \"part/0001.parquet\"", name, reason)
	}
	switch {
	case name == "":
		return bad("is empty")
	case strings.HasPrefix(name, "/"):
		return bad("is absolute")
	case strings.HasPrefix(path.Base(name), "_"):
		return bad("starts with '_', which weir reserves for its own files")
	case strings.ContainsAny(name, "\\"):
		return bad("contains a backslash")
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return bad("has an empty, '.' or '..' path segment")
		}
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return bad("contains a control character")
		}
	}
	return nil
}
