//go:build unix

package httpapi_test

import (
	"syscall"
	"testing"
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
