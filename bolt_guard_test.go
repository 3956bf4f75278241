package messaging

// Tests of bolt_guard.go: no write of a failed function commits with its
// group, whichever write method made it.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"
)

// guardCases makes, for every write method of Tx, a function that calls it
// once on the store seededForGuard made, in a way that changes the file.
var guardCases = map[string]func(Tx) error{
	"NextID":      func(tx Tx) error { _, err := tx.NextID(); return err },
	"PutInbox":    func(tx Tx) error { return tx.PutInbox(InboxRecord{Owner: "victim", Unread: 9}) },
	"DeleteInbox": func(tx Tx) error { return tx.DeleteInbox("victim") },
	"PutConversation": func(tx Tx) error {
		// A new LastUpdate moves the index entry, too.
		return tx.PutConversation(ConversationRecord{Owner: "victim", Other: "peer", Messages: 1, LastUpdate: sec(100), FirstID: 1, MaxID: 1})
	},
	"DeleteConversation": func(tx Tx) error { return tx.DeleteConversation("victim", "peer") },
	"PutMessage": func(tx Tx) error {
		return tx.PutMessage("victim", "peer", MessageRecord{ID: 2, Sender: "peer", Recipient: "victim", Text: "new", Created: sec(2)})
	},
	"DeleteMessage": func(tx Tx) error { return tx.DeleteMessage("victim", "peer", 1) },
	"PutTombstone": func(tx Tx) error {
		return tx.PutTombstone("victim", "peer", Tombstone{ID: 1, Retracted: true})
	},
	"PutBlock":    func(tx Tx) error { return tx.PutBlock(Block{User: "victim", Other: "someone"}) },
	"DeleteBlock": func(tx Tx) error { return tx.DeleteBlock(Block{User: "victim", Other: "peer"}) },
	"PutIdempotency": func(tx Tx) error {
		return tx.PutIdempotency(IdempotencyRecord{Sender: "victim", Key: "k2", MessageID: 1, Created: sec(1), Expires: sec(9)})
	},
	"DeleteIdempotencies": func(tx Tx) error { _, err := tx.DeleteIdempotencies(sec(1000), 10); return err },
	"PutEvent":            func(tx Tx) error { return tx.PutEvent(EventRecord{User: "victim", Seq: 2, Data: []byte("e2")}) },
	"DeleteEvents":        func(tx Tx) error { return tx.DeleteEvents("victim", 1) },
	"AdvanceID":           func(tx Tx) error { return tx.AdvanceID(100) },
}

// txWriteMethods returns the names of the methods of Tx that write: every
// one not in ReadTx, but OnCommit, which writes nothing to the store.
func txWriteMethods() []string {
	readTx, tx := reflect.TypeFor[ReadTx](), reflect.TypeFor[Tx]()
	var writes []string
	for i := range tx.NumMethod() {
		m := tx.Method(i) // in name order
		if _, read := readTx.MethodByName(m.Name); !read && m.Name != "OnCommit" {
			writes = append(writes, m.Name)
		}
	}
	return writes
}

// seededForGuard returns a store holding inbox "victim" with a conversation
// with "peer" holding message 1 (the meta sequence at 1), a block of peer,
// an expired idempotency key and an event: something for every write
// method to change.
func seededForGuard(t *testing.T) *BoltStore {
	t.Helper()
	s, _ := openTestBolt(t)
	require.NoError(t, s.Update(context.Background(), func(tx Tx) error {
		id, err := tx.NextID()
		if err != nil {
			return err
		}
		m := MessageRecord{ID: id, Sender: "peer", Recipient: "victim", Text: "old", Created: sec(1)}
		return errors.Join(
			tx.PutInbox(InboxRecord{Owner: "victim", Unread: 1}),
			tx.PutConversation(ConversationRecord{Owner: "victim", Other: "peer", Messages: 1, Unread: 1, LastUpdate: m.Created, FirstID: id, MaxID: id, Last: m}),
			tx.PutMessage("victim", "peer", m),
			tx.PutBlock(Block{User: "victim", Other: "peer"}),
			tx.PutIdempotency(IdempotencyRecord{Sender: "victim", Key: "k1", MessageID: id, Created: m.Created, Expires: sec(5)}),
			tx.PutEvent(EventRecord{User: "victim", Seq: 1, Data: []byte("e1")}),
		)
	}))
	return s
}

// dumpBolt returns every key, value and bucket sequence in s's file, by
// path, leaving out the inboxes of skip.
func dumpBolt(t *testing.T, s *BoltStore, skip ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(path string, b *bbolt.Bucket) error
	walk = func(path string, b *bbolt.Bucket) error {
		out[path+" #seq"] = strconv.FormatUint(b.Sequence(), 10)
		return b.ForEach(func(k, v []byte) error {
			p := path + "/" + strconv.Quote(string(k))
			if path == strconv.Quote(string(bucketUsers)) && slices.Contains(skip, string(k)) {
				return nil
			}
			if v == nil {
				return walk(p, b.Bucket(k))
			}
			out[p] = hex.EncodeToString(v)
			return nil
		})
	}
	require.NoError(t, s.DB().View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error { return walk(strconv.Quote(string(name)), b) })
	}))
	return out
}

// TestBoltGroupDropsEveryWriteOfAFailedFunction: for every write method, a
// function that fails right after calling it, between two writers of the
// same group, leaves nothing in the file, while the others commit. This
// holds only if the method marks its function as having written (the
// guard): otherwise the group goes on and commits the failed write.
func TestBoltGroupDropsEveryWriteOfAFailedFunction(t *testing.T) {
	// A method added to Tx without a case here fails the test.
	writes := txWriteMethods()
	require.NotEmpty(t, writes)
	require.ElementsMatch(t, writes, slices.Collect(maps.Keys(guardCases)), "guardCases must name exactly the write methods of Tx")

	ctx := context.Background()
	boom := errors.New("boom")
	for _, name := range writes {
		write := guardCases[name]
		t.Run(name, func(t *testing.T) {
			// The case writes: committed, it changes the file. (With
			// another write in the same function, so that it commits even
			// if the method skipped the guard.)
			s := seededForGuard(t)
			seeded := dumpBolt(t, s)
			require.NoError(t, s.Update(ctx, func(tx Tx) error {
				return errors.Join(write(tx), tx.PutInbox(InboxRecord{Owner: "control"}))
			}))
			require.NotEqual(t, seeded, dumpBolt(t, s, "control"), "%s changes nothing, so this case proves nothing", name)

			// In a group: first, then the failing function, then last.
			s = seededForGuard(t)
			commits := s.commits.Load()
			release, leaderDone := holdLeader(t, s, "leader")
			put := func(owner string) func(Tx) error {
				return func(tx Tx) error { return tx.PutInbox(InboxRecord{Owner: owner}) }
			}
			fns := []func(Tx) error{
				put("first"),
				func(tx Tx) error {
					if err := write(tx); err != nil {
						return fmt.Errorf("%s: %w", name, err)
					}
					return boom
				},
				put("last"),
			}
			results := make([]chan error, len(fns))
			for i, fn := range fns {
				results[i] = make(chan error, 1)
				go func() { results[i] <- s.Update(ctx, fn) }()
				waitQueued(t, s, i+1)
			}
			release()
			require.NoError(t, <-leaderDone)
			assert.NoError(t, <-results[0])
			assert.Same(t, boom, <-results[1])
			assert.NoError(t, <-results[2])
			assert.Equal(t, commits+2, s.commits.Load(), "the leader's commit, then one for the group")

			assert.Equal(t, seeded, dumpBolt(t, s, "leader", "first", "last"), "a write of the failed function committed")
			require.NoError(t, s.View(ctx, func(tx ReadTx) error {
				users, err := tx.Users("", 10)
				assert.Equal(t, []string{"first", "last", "leader", "victim"}, users)
				return err
			}))
		})
	}
}
