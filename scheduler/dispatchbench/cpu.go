package dispatchbench

import (
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// dbCPU reads the database's CPU time, -1 when unknown.
func dbCPU(read func() (time.Duration, error)) time.Duration {
	if read == nil {
		return -1
	}
	d, err := read()
	if err != nil {
		return -1
	}
	return d
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times: 100
// on every Linux architecture Go runs on.
const clockTicks = 100

// LocalPostgresCPU returns the CPU time PostgreSQL's processes on this
// machine have used: each live postgres process's own, plus the
// postmaster's children's (backends that exited, their time added to the
// postmaster when it reaped them). Linux only (it reads /proc).
func LocalPostgresCPU() (time.Duration, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		return 0, errors.New("no /proc to read processes' CPU times from")
	}
	type proc struct {
		ppid          int
		own, children int64
	}
	procs := map[int]proc{}
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // it exited
		}
		s := string(data)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != "postgres" {
			continue
		}
		f := strings.Fields(s[end+1:]) // f[0] is field 3 (state)
		if len(f) < 15 {
			continue
		}
		n := func(field int) int64 { v, _ := strconv.ParseInt(f[field-3], 10, 64); return v }
		pid, _ := strconv.Atoi(strings.TrimSpace(s[:open]))
		procs[pid] = proc{ppid: int(n(4)), own: n(14) + n(15), children: n(16) + n(17)}
	}
	if len(procs) == 0 {
		return 0, errors.New("no postgres process on this machine")
	}
	var ticks int64
	for _, p := range procs {
		ticks += p.own
		if _, child := procs[p.ppid]; !child {
			ticks += p.children // the postmaster
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// IsLocal reports whether a PostgreSQL URL names a server on this machine
// (a loopback address, localhost, or a Unix socket), whose CPU
// LocalPostgresCPU can read.
func IsLocal(dsn string) bool {
	u, err := url.Parse(dsn)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "" {
		host = u.Query().Get("host")
	}
	if host == "" || host == "localhost" || strings.HasPrefix(host, "/") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
