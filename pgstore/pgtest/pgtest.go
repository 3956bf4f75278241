// Package pgtest gives tests a real PostgreSQL server: the one named by
// MESSAGING_TEST_PG_URL, or else a throwaway server started from the
// PostgreSQL binaries installed on the machine, or else nothing, and the
// tests that need one skip saying how to run them.
//
// A package that needs PostgreSQL runs its tests through Main:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Each test then takes a schema of its own with Schema, so tests can run in
// parallel against one server; the schema is dropped when the test ends.
// Tests that stop or reconfigure a server start a dedicated one with
// NewServer, so they never disturb the shared one.
//
// It is a test kit for every package whose tests need PostgreSQL (pgstore's,
// cmd/messaging's), as storetest is for stores; it lives under pgstore
// because only pgstore's tree may depend on pgx.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable holding the URL of the server to
// test against. Its user must be allowed to create schemas in the database.
const EnvURL = "MESSAGING_TEST_PG_URL"

// howTo says how to run the PostgreSQL tests when they are skipped.
const howTo = "set " + EnvURL + "=postgres://user@host:port/db or install PostgreSQL " +
	"(apt-get install -y postgresql-15) to run them"

var (
	sharedURL string // the server every test uses; "" if none
	whyNone   string // why there is no server
)

// Main runs m with a PostgreSQL server and exits with its result. With
// MESSAGING_TEST_PG_URL set, it uses that server. Otherwise it starts a
// throwaway server if the binaries are installed, and stops it (removing
// its files) when the tests end; a process that dies before then leaves a
// watchdog to do it. Without either, it prints one line saying the
// PostgreSQL tests are skipped and runs the others.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if u := os.Getenv(EnvURL); u != "" {
		sharedURL = u
		return m.Run()
	}
	if _, err := FindBinaries(); err != nil {
		whyNone = err.Error()
		fmt.Printf("pgtest: PostgreSQL tests skipped: %s; %s\n", whyNone, howTo)
		return m.Run()
	}
	srv, err := StartServer(ServerOptions{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: cannot start a throwaway PostgreSQL server: %v\n", err)
		return 1
	}
	defer srv.Remove()
	sharedURL = srv.URL()
	// Processes this test binary starts (re-executed tests) use the same
	// server instead of starting their own.
	os.Setenv(EnvURL, sharedURL)
	return m.Run()
}

// URL returns the URL of the shared server, or skips t if there is none.
func URL(t testing.TB) string {
	t.Helper()
	if sharedURL == "" {
		if whyNone == "" {
			whyNone = "pgtest.Main is not this package's TestMain"
		}
		t.Skipf("PostgreSQL tests skipped: %s; %s", whyNone, howTo)
	}
	return sharedURL
}

// Schema returns a fresh schema name for t, unique on the server, and
// drops that schema (with everything in it) when t ends. The schema itself
// is not created: that is the code under test's job.
func Schema(t testing.TB) string {
	t.Helper()
	url := URL(t)
	name := SchemaName(t.Name())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := execURL(ctx, url, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return name
}

// SchemaName makes a schema name from a test name: lower-case letters,
// digits and underscores, with a random suffix, within PostgreSQL's 63
// bytes.
func SchemaName(testName string) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= 44 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	var suffix [8]byte
	_, _ = rand.Read(suffix[:])
	b.WriteByte('_')
	b.WriteString(hex.EncodeToString(suffix[:]))
	return b.String()
}

// NewServer starts a dedicated server for t, with opts, and removes it when
// t ends; it skips t if no PostgreSQL binaries are installed. Tests that
// stop, crash or reconfigure a server use one of these.
func NewServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	if _, err := FindBinaries(); err != nil {
		t.Skipf("a dedicated PostgreSQL server is needed: %v; install PostgreSQL (apt-get install -y postgresql-15)", err)
	}
	srv, err := StartServer(opts)
	if err != nil {
		t.Fatalf("pgtest: start a dedicated server: %v", err)
	}
	t.Cleanup(srv.Remove)
	return srv
}

// Exec runs sql on the shared server, for fixtures.
func Exec(t testing.TB, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := execURL(ctx, URL(t), sql); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}
