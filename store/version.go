package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// versionLayout is the creation time a version id starts with.
const versionLayout = "20060102T150405.000Z"

// NewVersionID returns a version id that sorts by creation time and is
// unique across attempts, processes and hosts:
// "20240101T120000.000Z-1a2b3c4d5e6f". The store gives each compute
// attempt one when it is leased (Task.Version).
func NewVersionID(now time.Time) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // cannot happen on supported platforms
	}
	return now.UTC().Format(versionLayout) + "-" + hex.EncodeToString(b[:])
}

// VersionTime reads the creation time a version id starts with.
func VersionTime(version string) (time.Time, bool) {
	stamp, _, ok := strings.Cut(version, "-")
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(versionLayout, stamp)
	return t, err == nil
}
