//go:build unix

package httpapi_test

import (
	"syscall"
	"testing"
	"time"
)

// raiseFileLimit raises the soft limit on open files to at least n (up to
// the hard limit): each SSE client of a benchmark holds two descriptors,
// its end and the server's.
func raiseFileLimit(b *testing.B, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	lim.Cur = min(n, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur < n {
		b.Skipf("the hard limit on open files is %d; the benchmark needs %d", lim.Max, n)
	}
}

// processCPU is the CPU time (user and system) this process has used: a
// measure of work that other processes on the machine do not inflate as
// they do wall time.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
