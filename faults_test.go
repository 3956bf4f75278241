package messaging_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/storetest"
)

// TestEveryWriteSurvivesEveryFault fails, SQLite-style, the k-th record
// operation of every public write, and then its commit, for k = 1, 2, ...
// until the write goes through untouched. Each time the caller must get the
// error, the store must look exactly as before (everything a user can see),
// Verify must be clean, no event may be emitted, and the same write retried
// without a fault must succeed.
func TestEveryWriteSurvivesEveryFault(t *testing.T) {
	// seed builds a store where every write has something to do: unread
	// and read messages both ways, a receipt, a copy deleted unread.
	seed := func(t *testing.T, x *messaging.Inboxes) map[string]uint64 {
		ids := map[string]uint64{}
		ids["a1"] = send(t, x, "ann", "bob", "a1", day(1)).ID
		ids["b1"] = send(t, x, "bob", "ann", "b1", day(2)).ID
		ids["a2"] = send(t, x, "ann", "bob", "a2", day(3)).ID
		ids["c1"] = send(t, x, "cat", "bob", "c1", day(4)).ID
		ids["a3"] = send(t, x, "ann", "bob", "a3", day(5)).ID
		require.NoError(t, conv(t, x, "bob", "ann").MarkReadUpTo(ctx, ids["a1"]))
		ids["c2"] = send(t, x, "cat", "bob", "c2", day(6)).ID
		require.NoError(t, conv(t, x, "bob", "cat").DeleteMessage(ctx, ids["c2"]))
		ids["c3"] = send(t, x, "cat", "bob", "c3", day(7)).ID
		require.NoError(t, x.Block(ctx, "eve", "bob"))
		return ids
	}
	writes := []struct {
		name  string
		do    func(x *messaging.Inboxes, ids map[string]uint64) error
		quiet bool // emits no event
	}{
		{"send in a new conversation", func(x *messaging.Inboxes, _ map[string]uint64) error {
			_, err := x.SendMessage(ctx, "dan", "bob", "hello")
			return err
		}, false},
		{"send in a conversation", func(x *messaging.Inboxes, _ map[string]uint64) error {
			_, err := x.SendMessage(ctx, "bob", "ann", "reply")
			return err
		}, false},
		{"send back-dated", func(x *messaging.Inboxes, _ map[string]uint64) error {
			_, err := x.SendMessage(ctx, "ann", "bob", "old", day(0))
			return err
		}, false},
		{"mark read", func(x *messaging.Inboxes, _ map[string]uint64) error {
			return handle(x, "bob", "ann").MarkRead(ctx)
		}, false},
		{"mark read up to", func(x *messaging.Inboxes, ids map[string]uint64) error {
			return handle(x, "bob", "ann").MarkReadUpTo(ctx, ids["a2"])
		}, false},
		{"delete an unread message", func(x *messaging.Inboxes, ids map[string]uint64) error {
			return handle(x, "bob", "ann").DeleteMessage(ctx, ids["a2"])
		}, false},
		{"delete the newest message", func(x *messaging.Inboxes, ids map[string]uint64) error {
			return handle(x, "bob", "ann").DeleteMessage(ctx, ids["a3"])
		}, false},
		{"delete a conversation", func(x *messaging.Inboxes, _ map[string]uint64) error {
			return handleInbox(x, "bob").Delete(ctx, "ann")
		}, false},
		{"delete an inbox", func(x *messaging.Inboxes, _ map[string]uint64) error {
			return x.Delete(ctx, "bob")
		}, false},
		{"retract", func(x *messaging.Inboxes, ids map[string]uint64) error {
			return handle(x, "ann", "bob").Retract(ctx, ids["a3"])
		}, false},
		{"send with a key and metadata", func(x *messaging.Inboxes, _ map[string]uint64) error {
			_, err := x.SendMessage(ctx, "ann", "bob", "", messaging.WithIdempotencyKey("k1"),
				messaging.WithMeta(map[string]string{"file": "f-1", "type": "image/png"}))
			return err
		}, false},
		{"block", func(x *messaging.Inboxes, _ map[string]uint64) error {
			return x.Block(ctx, "bob", "cat")
		}, true},
		{"unblock", func(x *messaging.Inboxes, _ map[string]uint64) error {
			return x.Unblock(ctx, "eve", "bob")
		}, true},
	}
	for _, st := range plainStores() { // rerunStore would run the faults twice
		for _, w := range writes {
			t.Run(st.name+"/"+w.name, func(t *testing.T) {
				var faults int
				for k := 1; ; k++ {
					fs := &faultStore{Store: st.open(t)}
					x := messaging.New(fs)
					ids := seed(t, x)
					before := storetest.Records(t, fs.Store)
					all := subscribe(t, x, "")

					fs.failAt = k
					err := w.do(x, ids)
					if err == nil {
						require.Greater(t, k, fs.ops+1, "no fault was injected: the write went through untouched")
						require.NoError(t, x.Close())
						break
					}
					faults++
					require.ErrorIs(t, err, errInjectedFault, "fault %d", k)
					assert.Equal(t, 1, strings.Count(err.Error(), "messaging:"), "%v", err)
					assert.Equal(t, before, storetest.Records(t, fs.Store), "fault %d: the store changed", k)
					problems, verr := x.Verify(ctx)
					require.NoError(t, verr)
					assert.Empty(t, problems, "fault %d", k)
					none(t, all)

					fs.failAt = 0
					require.NoError(t, w.do(x, ids), "fault %d: the retry", k)
					assert.NotEqual(t, before, storetest.Records(t, fs.Store), "the retry wrote")
					problems, verr = x.Verify(ctx)
					require.NoError(t, verr)
					assert.Empty(t, problems, "fault %d, after the retry", k)
					if w.quiet {
						none(t, all)
					} else {
						next(t, all)
					}
					require.NoError(t, x.Close())
				}
				assert.Greater(t, faults, 1, "faults injected")
				t.Logf("%d faults", faults)
			})
		}
	}
}

// handle gets a Conversation without going through the faulty Update path
// (reads are Views, which faultStore leaves alone).
func handle(x *messaging.Inboxes, owner, other string) *messaging.Conversation {
	c, err := x.Conversation(context.Background(), owner, other)
	if err != nil {
		panic(err)
	}
	return c
}

func handleInbox(x *messaging.Inboxes, owner string) *messaging.Inbox {
	b, err := x.Get(context.Background(), owner)
	if err != nil {
		panic(err)
	}
	return b
}
