package pgstore_test

// CPU time spent per operation by this process and by the PostgreSQL
// server, for benchmarks on a 2-core machine where both are the limit.
// The server's is read from /proc (Linux, server on this machine): the
// postmaster of a backend of the pool, and all its children.

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// cpuMeter reads the CPU time used so far by this process and the server.
type cpuMeter struct {
	postmaster int // 0: the server's CPU is not readable
}

func newCPUMeter(pool *pgxpool.Pool) cpuMeter {
	var pid int
	if err := pool.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		return cpuMeter{}
	}
	f := procStat(pid)
	if len(f) < 4 {
		return cpuMeter{}
	}
	ppid, _ := strconv.Atoi(f[3])
	return cpuMeter{postmaster: ppid}
}

// procStat returns the fields of /proc/pid/stat after the command name.
func procStat(pid int) []string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return append([]string{"pid", "comm"}, strings.Fields(s[i+1:])...)
}

const clockTick = 100 // USER_HZ on Linux

// read returns the CPU time of this process and of the server.
func (m cpuMeter) read() (client, server time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		client = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if m.postmaster == 0 {
		return client, 0
	}
	dirs, _ := os.ReadDir("/proc")
	var ticks int64
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		f := procStat(pid)
		if len(f) < 17 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[3]); pid != m.postmaster && ppid != m.postmaster {
			continue
		}
		u, _ := strconv.ParseInt(f[13], 10, 64)
		s, _ := strconv.ParseInt(f[14], 10, 64)
		ticks += u + s
	}
	return client, time.Duration(ticks) * time.Second / clockTick
}

// start begins a measurement; the function it returns ends it and reports
// client-µs/op and server-µs/op.
func (m cpuMeter) start(b *testing.B) func() {
	c0, s0 := m.read()
	return func() {
		c1, s1 := m.read()
		b.ReportMetric(float64((c1-c0).Microseconds())/float64(b.N), "client-µs/op")
		if m.postmaster != 0 {
			b.ReportMetric(float64((s1-s0).Microseconds())/float64(b.N), "server-µs/op")
		}
	}
}
