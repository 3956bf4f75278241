package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// cmd runs the command in-process against the store at db.
func cmd(t *testing.T, db string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"-db", db}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// ok runs a command that must succeed and print nothing on stderr.
func ok(t *testing.T, db string, args ...string) string {
	t.Helper()
	code, out, errOut := cmd(t, db, args...)
	require.Equal(t, 0, code, "%v: stderr %q", args, errOut)
	assert.Empty(t, errOut)
	return out
}

func TestWalkthrough(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	assert.Equal(t, "1\n", ok(t, db, "send", "bob", "dave", "Hi Dave"))
	out := ok(t, db, "inbox", "dave")
	assert.Contains(t, out, "dave: 1 unread\n")
	assert.Regexp(t, `(?m)^  bob +1 new  \d{4}-\d\d-\d\d \d\d:\d\d  bob: Hi Dave$`, out)
	assert.Regexp(t, `(?m)^\* 1 +\d{4}-\d\d-\d\d \d\d:\d\d  bob: Hi Dave$`, ok(t, db, "show", "dave", "bob"))
	assert.Equal(t, "marked 1 messages read\n", ok(t, db, "read", "dave", "bob"))
	assert.Contains(t, ok(t, db, "inbox", "dave"), "dave: 0 unread\n")
	assert.Equal(t, "2\n", ok(t, db, "send", "dave", "bob", "Thanks Bob"))
	out = ok(t, db, "show", "bob", "dave")
	assert.Regexp(t, `(?s)^  1 .*bob: Hi Dave\n\* 2 .*dave: Thanks Bob\n$`, out)
	assert.Equal(t, "deleted dave's conversation with bob\n", ok(t, db, "delete", "dave", "bob"))
	assert.Equal(t, "dave: 0 unread\n", ok(t, db, "inbox", "dave"))
	assert.Contains(t, ok(t, db, "show", "bob", "dave"), "Thanks Bob", "bob keeps both")
	assert.Equal(t, "bob\ndave\n", ok(t, db, "users"))
	assert.Equal(t, "ok\n", ok(t, db, "check"))
}

func TestShowLimitAndDeleteMessage(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	for _, text := range []string{"one", "two", "three", "four"} {
		ok(t, db, "send", "bob", "dave", text)
	}
	out := ok(t, db, "show", "-limit", "2", "dave", "bob")
	assert.Equal(t, 2, strings.Count(out, "\n"))
	assert.Contains(t, out, "three")
	assert.Contains(t, out, "four")
	assert.Equal(t, out, ok(t, db, "show", "dave", "bob", "-limit", "2"), "the flag may follow the users")

	assert.Equal(t, "deleted message 2 from dave's conversation with bob\n", ok(t, db, "delete", "dave", "bob", "2"))
	out = ok(t, db, "show", "dave", "bob")
	assert.NotContains(t, out, "two")
	assert.Contains(t, ok(t, db, "show", "bob", "dave"), "two", "the other copy stays")
}

func TestJSON(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	var sent struct {
		ID        uint64    `json:"id"`
		Sender    string    `json:"sender"`
		Recipient string    `json:"recipient"`
		Text      string    `json:"text"`
		Created   time.Time `json:"created"`
		New       bool      `json:"new"`
	}
	before := time.Now()
	require.NoError(t, json.Unmarshal([]byte(ok(t, db, "-json", "send", "bob", "dave", "Hi Dave")), &sent))
	assert.Equal(t, uint64(1), sent.ID)
	assert.Equal(t, "bob", sent.Sender)
	assert.Equal(t, "Hi Dave", sent.Text)
	assert.False(t, sent.New)
	assert.WithinDuration(t, before, sent.Created, time.Minute)

	// The library's own types, as their JSON names say.
	var in struct {
		messaging.Inbox
		Conversations []messaging.Conversation `json:"conversations"`
	}
	out := ok(t, db, "-json", "inbox", "dave")
	assert.Regexp(t, `"last_update": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"`, out, "RFC 3339")
	require.NoError(t, json.Unmarshal([]byte(out), &in))
	assert.Equal(t, "dave", in.Username)
	assert.Equal(t, 1, in.NewMessagesCount)
	require.Len(t, in.Conversations, 1)
	assert.Equal(t, "bob", in.Conversations[0].Username)
	assert.Equal(t, 1, in.Conversations[0].MessageCount)
	assert.Equal(t, "Hi Dave", in.Conversations[0].LastMessage.Text)
	assert.True(t, in.Conversations[0].LastMessage.New)
	assert.True(t, in.Conversations[0].LastUpdate.Equal(sent.Created))

	var show struct {
		messaging.Conversation
		Messages []messaging.Message `json:"messages"`
	}
	require.NoError(t, json.Unmarshal([]byte(ok(t, db, "-json", "show", "dave", "bob")), &show))
	assert.Equal(t, "dave", show.Owner)
	assert.Equal(t, 1, show.NewMessagesCount)
	require.Len(t, show.Messages, 1)
	assert.True(t, show.Messages[0].New)

	var done map[string]any
	require.NoError(t, json.Unmarshal([]byte(ok(t, db, "-json", "read", "dave", "bob")), &done))
	assert.Equal(t, "read", done["done"])

	var users []string
	require.NoError(t, json.Unmarshal([]byte(ok(t, db, "-json", "users")), &users))
	assert.Equal(t, []string{"bob", "dave"}, users)

	var check struct {
		OK       bool     `json:"ok"`
		Problems []string `json:"problems"`
	}
	require.NoError(t, json.Unmarshal([]byte(ok(t, db, "-json", "check")), &check))
	assert.True(t, check.OK)
	assert.Empty(t, check.Problems)

	require.NoError(t, json.Unmarshal([]byte(ok(t, db, "-json", "delete", "dave", "bob")), &done))
	assert.Equal(t, "delete", done["done"])
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "m.db")
	ok(t, db, "send", "bob", "dave", "Hi Dave")
	tests := []struct {
		name string
		args []string
		code int
		err  string // a part of the one line on stderr
	}{
		{"no command", nil, 2, "usage: messaging"},
		{"unknown command", []string{"frob"}, 2, `unknown command "frob"`},
		{"send arity", []string{"send", "bob", "dave"}, 2, "SENDER RECIPIENT TEXT"},
		{"show arity", []string{"show", "bob"}, 2, "show takes"},
		{"negative limit", []string{"show", "-limit", "-1", "bob", "dave"}, 2, "must not be negative"},
		{"self message", []string{"send", "bob", "bob", "hi"}, 1, "same user"},
		{"empty text", []string{"send", "bob", "dave", "  "}, 1, "empty message"},
		{"invalid user", []string{"send", "bob", "da\tve", "hi"}, 1, "invalid user id"},
		{"unknown inbox", []string{"inbox", "nobody"}, 1, `messaging: get inbox "nobody": not found`},
		{"unknown conversation", []string{"show", "bob", "nobody"}, 1, `"bob"/"nobody": not found`},
		{"read unknown", []string{"read", "dave", "nobody"}, 1, "not found"},
		{"bad ID", []string{"delete", "bob", "dave", "x1"}, 1, `invalid message ID "x1"`},
		{"zero ID", []string{"delete", "bob", "dave", "0"}, 1, `invalid message ID "0"`},
		{"unknown ID", []string{"delete", "bob", "dave", "99"}, 1, "delete message 99"},
		{"delete unknown conversation", []string{"delete", "bob", "nobody"}, 1, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := os.ReadFile(db)
			require.NoError(t, err)
			code, out, errOut := cmd(t, db, tt.args...)
			assert.Equal(t, tt.code, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tt.err)
			if tt.code == 1 {
				assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
				assert.Equal(t, 1, strings.Count(errOut, "messaging:"), "one prefix: %q", errOut)
			}
			after, err := os.ReadFile(db)
			require.NoError(t, err)
			assert.Equal(t, before, after, "nothing written")
		})
	}

	t.Run("help", func(t *testing.T) {
		code, out, errOut := cmd(t, db, "-h")
		assert.Equal(t, 0, code)
		assert.Empty(t, out)
		assert.Contains(t, errOut, "usage: messaging")
	})
	t.Run("bad input on a new file leaves no file", func(t *testing.T) {
		fresh := filepath.Join(dir, "fresh.db")
		code, _, _ := cmd(t, fresh, "send", "bob", "bob", "hi")
		assert.Equal(t, 1, code)
		assert.NoFileExists(t, fresh)
		for _, args := range [][]string{{"inbox", "bob"}, {"users"}, {"check"}, {"show", "bob", "dave"}, {"read", "bob", "dave"}, {"delete", "bob", "dave"}} {
			code, out, errOut := cmd(t, fresh, args...)
			assert.Equal(t, 1, code, args)
			assert.Empty(t, out, args)
			assert.Equal(t, "messaging: no store at "+fresh+"\n", errOut, "a typo in -db is not an empty store")
			assert.NoFileExists(t, fresh, "reading creates nothing")
		}
	})
	t.Run("texts are escaped for the terminal", func(t *testing.T) {
		esc := filepath.Join(dir, "esc.db")
		ok(t, esc, "send", "bob", "dave", "line one\nforged line\x1b[2J\u0085end")
		out := ok(t, esc, "show", "dave", "bob")
		assert.Equal(t, 1, strings.Count(out, "\n"), out)
		assert.Contains(t, out, `bob: line one\nforged line\x1b[2J\u0085end`)
		assert.Contains(t, ok(t, esc, "inbox", "dave"), `bob: line one\nforged line\x1b[2J\u0085end`)
		var show struct {
			Messages []messaging.Message `json:"messages"`
		}
		require.NoError(t, json.Unmarshal([]byte(ok(t, esc, "-json", "show", "dave", "bob")), &show))
		assert.Equal(t, "line one\nforged line\x1b[2J\u0085end", show.Messages[0].Text, "JSON keeps the text exact")
	})
	t.Run("not a store", func(t *testing.T) {
		junk := filepath.Join(dir, "junk.db")
		require.NoError(t, os.WriteFile(junk, []byte("this is not a store, it is a shopping list"), 0o600))
		code, _, errOut := cmd(t, junk, "send", "bob", "dave", "hi")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "not a messaging store")
		got, err := os.ReadFile(junk)
		require.NoError(t, err)
		assert.Equal(t, "this is not a store, it is a shopping list", string(got))
	})
}

func TestEnvironmentAndDefaultPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"send", "bob", "dave", "hi"}, &out, &errOut), errOut.String())
	assert.FileExists(t, filepath.Join(dir, "messages.db"), "./messages.db by default")

	t.Setenv("MESSAGING_DB", filepath.Join(dir, "env.db"))
	require.Equal(t, 0, run([]string{"send", "bob", "dave", "hi"}, &out, &errOut), errOut.String())
	assert.FileExists(t, filepath.Join(dir, "env.db"), "MESSAGING_DB overrides")

	flagDB := filepath.Join(dir, "flag.db")
	require.Equal(t, 0, run([]string{"-db", flagDB, "send", "bob", "dave", "hi"}, &out, &errOut), errOut.String())
	assert.FileExists(t, flagDB, "-db overrides both")
}

func TestCheckFindsProblems(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	ok(t, db, "send", "bob", "dave", "hi")
	// Break a counter behind the library's back.
	s, err := messaging.OpenBoltStore(db, nil)
	require.NoError(t, err)
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) error {
		return tx.PutInbox(messaging.InboxRecord{Owner: "dave", Unread: 7})
	}))
	require.NoError(t, s.Close())

	code, out, _ := cmd(t, db, "check")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, `inbox "dave": unread count 7, its conversations hold 1`)
	assert.Contains(t, out, "1 problems")
}

// TestBinary builds the command and runs it as a user would, including
// against a store another process holds.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "messaging")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	runBin := func(args ...string) (int, string, string) {
		c := exec.Command(bin, args...)
		c.Dir = dir
		var out, errOut bytes.Buffer
		c.Stdout, c.Stderr = &out, &errOut
		err := c.Run()
		code := 0
		if ee, isExit := err.(*exec.ExitError); isExit {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return code, out.String(), errOut.String()
	}
	code, out, _ := runBin("send", "bob", "dave", "Hi Dave")
	assert.Equal(t, 0, code)
	assert.Equal(t, "1\n", out)
	code, out, _ = runBin("inbox", "dave")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "dave: 1 unread")
	code, _, errOut := runBin()
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "usage:")

	// Another handle holds the file: one clear line after the timeout, exit 1.
	held, err := messaging.Open(filepath.Join(dir, "messages.db"))
	require.NoError(t, err)
	defer held.Close()
	start := time.Now()
	code, out, errOut = runBin("send", "bob", "dave", "blocked")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "store file is in use")
	assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
	assert.Less(t, time.Since(start), 10*time.Second, "gives up instead of hanging")
}

// Metadata, idempotent sends, blocks and retract, in text and JSON.
func TestMetaBlocksRetract(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	assert.Equal(t, "1\n", ok(t, db, "send", "-meta", "file=https://f.example/1.png", "-meta", "type=image/png", "bob", "dave", ""))
	out := ok(t, db, "show", "dave", "bob")
	assert.Contains(t, out, "bob:  [file=https://f.example/1.png type=image/png]")
	var show struct {
		Messages []messaging.Message `json:"messages"`
	}
	require.NoError(t, json.Unmarshal([]byte(ok(t, db, "-json", "show", "dave", "bob")), &show))
	assert.Equal(t, map[string]string{"file": "https://f.example/1.png", "type": "image/png"}, show.Messages[0].Meta)

	assert.Equal(t, "2\n", ok(t, db, "send", "-key", "k1", "bob", "dave", "once"))
	assert.Equal(t, "2\n", ok(t, db, "send", "bob", "dave", "once", "-key", "k1"), "a retry with the key: the same message")
	code, _, errOut := cmd(t, db, "send", "-key", "k1", "bob", "dave", "other text")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "idempotency key used for another message")

	assert.Equal(t, "retracted message 2 from bob's and dave's conversations\n", ok(t, db, "retract", "bob", "dave", "2"))
	assert.NotContains(t, ok(t, db, "show", "dave", "bob"), "once")
	code, _, errOut = cmd(t, db, "retract", "dave", "bob", "1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "not the sender")

	assert.Equal(t, "dave blocks bob\n", ok(t, db, "block", "dave", "bob"))
	assert.Equal(t, "bob\n", ok(t, db, "blocked", "dave"))
	assert.Equal(t, "[\n  \"bob\"\n]\n", ok(t, db, "-json", "blocked", "dave"))
	code, _, errOut = cmd(t, db, "send", "bob", "dave", "hi")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "blocked")
	var done map[string]any
	require.NoError(t, json.Unmarshal([]byte(ok(t, db, "-json", "unblock", "dave", "bob")), &done))
	assert.Equal(t, "unblock", done["done"])
	assert.Equal(t, "", ok(t, db, "blocked", "dave"))
	assert.Equal(t, "3\n", ok(t, db, "send", "bob", "dave", "hi"))

	code, _, errOut = cmd(t, db, "send", "-meta", "novalue", "bob", "dave", "x")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "KEY=VALUE")
	assert.Equal(t, "ok\n", ok(t, db, "check"))
}

func TestCopy(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	ok(t, src, "send", "-meta", "k=v", "bob", "dave", "Hi Dave")
	ok(t, src, "send", "dave", "bob", "Thanks")
	ok(t, src, "read", "dave", "bob")
	ok(t, src, "block", "dave", "eve")
	code, out, errOut := cmd(t, src, "copy", "-to", dst)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "copied", "progress on stderr")
	assert.Regexp(t, `(?m)^messages +4 +4$`, out)
	assert.Regexp(t, `(?m)^blocks +1 +1$`, out)
	assert.Contains(t, out, "check: ok")
	assert.Equal(t, ok(t, src, "-json", "show", "bob", "dave"), ok(t, dst, "-json", "show", "bob", "dave"))
	assert.Equal(t, "eve\n", ok(t, dst, "blocked", "dave"))

	code, _, errOut = cmd(t, src, "copy", "-to", dst)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "not empty", "the copy is refused, untouched")
	var doc struct {
		Source, Destination messaging.Counts
		Problems            []string
	}
	other := filepath.Join(dir, "other.db")
	code, out, _ = cmd(t, src, "-json", "copy", "-to", other)
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Equal(t, doc.Source, doc.Destination)
	assert.EqualValues(t, 4, doc.Source.Messages)
	assert.Empty(t, doc.Problems)

	// One record a transaction: as many transactions as records, same copy.
	single := filepath.Join(dir, "single.db")
	code, out, errOut = cmd(t, src, "-json", "copy", "-batch", "1", "-to", single)
	require.Equal(t, 0, code, errOut)
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Equal(t, doc.Source, doc.Destination)
	assert.Empty(t, doc.Problems)
	code, _, errOut = cmd(t, src, "copy", "-batch", "0", "-to", filepath.Join(dir, "zero.db"))
	assert.Equal(t, 2, code, errOut)
	assert.NoFileExists(t, filepath.Join(dir, "zero.db"))

	code, _, errOut = cmd(t, filepath.Join(dir, "missing.db"), "copy", "-to", filepath.Join(dir, "x.db"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no store at")
	assert.NoFileExists(t, filepath.Join(dir, "x.db"))
}
