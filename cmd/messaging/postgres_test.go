package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/pgstore/pgtest"
)

// TestMain gives the tests a PostgreSQL server when the machine has one
// (see pgtest).
func TestMain(m *testing.M) { pgtest.Main(m) }

// pgURL is a URL of a fresh store on the test server: -db and -to take it.
func pgURL(t *testing.T) string {
	t.Helper()
	u := pgtest.URL(t) // skips without a server
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "schema=" + pgtest.Schema(t)
}

// Every command works on a PostgreSQL store, and copy goes both ways.
func TestPostgresStore(t *testing.T) {
	db := pgURL(t)
	ok(t, db, "send", "-meta", "k=v", "bob", "dave", "Hi Dave") // IDs come from a sequence: they may skip
	ok(t, db, "send", "dave", "bob", "Thanks")
	assert.Contains(t, ok(t, db, "inbox", "dave"), "dave: 1 unread")
	assert.Contains(t, ok(t, db, "show", "dave", "bob"), "bob: Hi Dave [k=v]")
	assert.Equal(t, "marked 1 messages read\n", ok(t, db, "read", "dave", "bob"))
	assert.Equal(t, "dave blocks eve\n", ok(t, db, "block", "dave", "eve"))
	assert.Equal(t, "eve\n", ok(t, db, "blocked", "dave"))
	oops := strings.TrimSpace(ok(t, db, "send", "bob", "dave", "oops"))
	assert.Contains(t, ok(t, db, "retract", "bob", "dave", oops), "retracted message "+oops)
	assert.Equal(t, "bob\ndave\n", ok(t, db, "users"))
	assert.Equal(t, "ok\n", ok(t, db, "check"))

	// PostgreSQL to bbolt, and back into another schema.
	file := filepath.Join(t.TempDir(), "copy.db")
	code, out, errOut := cmd(t, db, "copy", "-to", file)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "check: ok")
	assert.Equal(t, ok(t, db, "-json", "show", "bob", "dave"), ok(t, file, "-json", "show", "bob", "dave"))
	back := pgURL(t)
	code, out, errOut = cmd(t, file, "-json", "copy", "-to", back)
	require.Equal(t, 0, code, errOut)
	var doc struct{ Source, Destination messaging.Counts }
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Equal(t, doc.Source, doc.Destination)
	assert.Equal(t, ok(t, db, "-json", "inbox", "dave"), ok(t, back, "-json", "inbox", "dave"))

	assert.Equal(t, "deleted dave's conversation with bob\n", ok(t, db, "delete", "dave", "bob"))
}

// MESSAGING_DB may name a PostgreSQL store too.
func TestPostgresFromEnvironment(t *testing.T) {
	db := pgURL(t)
	t.Setenv("MESSAGING_DB", db)
	var out, errOut strings.Builder
	require.Equal(t, 0, run([]string{"send", "bob", "dave", "hi"}, &out, &errOut), errOut.String())
	assert.Contains(t, ok(t, db, "inbox", "dave"), "dave: 1 unread", "the message went to the database")
}

// A server that is not there, or a wrong database, is one clear line and
// exit 1, never a hang, and never the password.
func TestPostgresErrors(t *testing.T) {
	for _, db := range []string{
		"postgres://app:s3cret@127.0.0.1:1/app?connect_timeout=2",
	} {
		code, out, errOut := cmd(t, db, "inbox", "dave")
		assert.Equal(t, 1, code)
		assert.Empty(t, out)
		assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
		assert.NotContains(t, errOut, "s3cret", "the password is not shown")
		assert.Contains(t, errOut, "127.0.0.1")
	}
}
