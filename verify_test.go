package messaging_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// busy runs a mixed workload of sends, reads and deletes of every kind, so
// that a sound store is not trivially sound.
func busy(t *testing.T, x *messaging.Inboxes, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	people := []string{"ann", "bob", "cat", "dan", "eve"}
	pick := func() (string, string) {
		a := people[r.IntN(len(people))]
		b := people[r.IntN(len(people))]
		for b == a {
			b = people[r.IntN(len(people))]
		}
		return a, b
	}
	for i := range 300 {
		a, b := pick()
		switch n := r.IntN(20); {
		case n < 14:
			send(t, x, a, b, fmt.Sprintf("m%d", i), day(r.IntN(30)))
		case n < 16:
			if c, err := inboxGet(x, a, b); err == nil {
				require.NoError(t, c.MarkRead(ctx))
			}
		case n < 18:
			if c, err := inboxGet(x, a, b); err == nil {
				for m, err := range c.Messages(ctx) {
					require.NoError(t, err)
					if r.IntN(3) == 0 {
						require.NoError(t, c.DeleteMessage(ctx, m.ID))
					}
				}
			}
		case n < 19:
			if in, err := x.Get(ctx, a); err == nil {
				if err := in.Delete(ctx, b); err != nil {
					require.ErrorIs(t, err, messaging.ErrNotFound)
				}
			}
		default:
			if err := x.Delete(ctx, a); err != nil {
				require.ErrorIs(t, err, messaging.ErrNotFound)
			}
		}
	}
}

func inboxGet(x *messaging.Inboxes, owner, other string) (*messaging.Conversation, error) {
	in, err := x.Get(ctx, owner)
	if err != nil {
		return nil, err
	}
	return in.Get(ctx, other)
}

func TestVerifySoundStore(t *testing.T) {
	for _, s := range verifyStores() {
		t.Run(s.name, func(t *testing.T) {
			x := messaging.New(s.open(t))
			defer x.Close()
			problems, err := x.Verify(ctx)
			require.NoError(t, err)
			assert.Empty(t, problems, "empty store")
			for seed := range uint64(3) {
				busy(t, x, seed)
				problems, err := x.Verify(ctx)
				require.NoError(t, err)
				assert.Empty(t, problems, "seed %d", seed)
			}
		})
	}
}

func TestVerifyFindsBrokenInvariants(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(tx messaging.Tx, m messaging.Message) error
		want   messaging.Problem
		id     problemID // what want.MessageID must be
	}{
		{
			"one copy lost",
			func(tx messaging.Tx, m messaging.Message) error {
				// Remove dave's copy without a tombstone: delete the whole
				// conversation and put it back without the message.
				c, err := tx.Conversation("dave", "bob")
				if err != nil {
					return err
				}
				if err := tx.DeleteConversation("dave", "bob"); err != nil {
					return err
				}
				c.Messages, c.Unread, c.Last = 0, 0, messaging.MessageRecord{}
				if err := tx.PutConversation(c); err != nil {
					return err
				}
				in, err := tx.Inbox("dave")
				if err != nil {
					return err
				}
				in.Unread = 0
				return tx.PutInbox(in)
			},
			messaging.Problem{Owner: "bob", Other: "dave", Detail: `has one copy: "dave"'s conversation lacks it and did not delete it`},
			idSent,
		},
		{
			"sender's copy lost",
			func(tx messaging.Tx, m messaging.Message) error {
				c, err := tx.Conversation("bob", "dave")
				if err != nil {
					return err
				}
				if err := tx.DeleteConversation("bob", "dave"); err != nil {
					return err
				}
				c.Messages, c.Last = 0, messaging.MessageRecord{}
				return tx.PutConversation(c)
			},
			messaging.Problem{Owner: "dave", Other: "bob", Detail: `has one copy: "bob"'s conversation lacks it and did not delete it`},
			idSent,
		},
		{
			"retracted copy remains",
			func(tx messaging.Tx, m messaging.Message) error {
				return tx.PutTombstone("bob", "dave", messaging.Tombstone{ID: m.ID, Retracted: true})
			},
			messaging.Problem{Owner: "dave", Other: "bob", Detail: "retracted, but this copy remains"},
			idSent,
		},
		{
			"deleted copy remains",
			func(tx messaging.Tx, m messaging.Message) error {
				return tx.PutTombstone("dave", "bob", messaging.Tombstone{ID: m.ID})
			},
			messaging.Problem{Owner: "dave", Other: "bob", Detail: "present, but deleted from this conversation (it has a tombstone)"},
			idSent,
		},
		{
			"deleted unread, but the recipient has it",
			func(tx messaging.Tx, m messaging.Message) error {
				rec, err := tx.Message("bob", "dave", m.ID)
				if err != nil {
					return err
				}
				rec.DeletedUnread = true
				return tx.PutMessage("bob", "dave", rec)
			},
			messaging.Problem{Owner: "bob", Other: "dave", Detail: `marked as deleted unread by "dave", who still has it`},
			idSent,
		},
		{
			"recipient's copy marked deleted unread",
			func(tx messaging.Tx, m messaging.Message) error {
				rec, err := tx.Message("dave", "bob", m.ID)
				if err != nil {
					return err
				}
				rec.DeletedUnread = true
				return tx.PutMessage("dave", "bob", rec)
			},
			messaging.Problem{Owner: "dave", Other: "bob", Detail: "marked as deleted unread on the recipient's copy"},
			idSent,
		},
		{
			"conversation unread count drifts",
			func(tx messaging.Tx, m messaging.Message) error {
				c, err := tx.Conversation("dave", "bob")
				if err != nil {
					return err
				}
				c.Unread = 5
				return tx.PutConversation(c)
			},
			messaging.Problem{Owner: "dave", Other: "bob", Detail: "unread count 5, holds 1 new messages"},
			idNone,
		},
		{
			"inbox unread count drifts",
			func(tx messaging.Tx, m messaging.Message) error {
				return tx.PutInbox(messaging.InboxRecord{Owner: "bob", Unread: 2})
			},
			messaging.Problem{Owner: "bob", Detail: "unread count 2, its conversations hold 0"},
			idNone,
		},
		{
			"message count drifts",
			func(tx messaging.Tx, m messaging.Message) error {
				c, err := tx.Conversation("bob", "dave")
				if err != nil {
					return err
				}
				c.Messages = 7
				return tx.PutConversation(c)
			},
			messaging.Problem{Owner: "bob", Other: "dave", Detail: "message count 7, holds 1"},
			idNone,
		},
		{
			"copies differ",
			func(tx messaging.Tx, m messaging.Message) error {
				rec, err := tx.Message("dave", "bob", m.ID)
				if err != nil {
					return err
				}
				rec.Text = "forged"
				return tx.PutMessage("dave", "bob", rec)
			},
			messaging.Problem{Owner: "bob", Other: "dave", Detail: "its two copies differ"},
			idSent,
		},
		{
			"message in the wrong conversation",
			func(tx messaging.Tx, m messaging.Message) error {
				id, err := tx.NextID()
				if err != nil {
					return err
				}
				c, err := tx.Conversation("bob", "dave")
				if err != nil {
					return err
				}
				c.MaxID, c.Messages = id, 2
				c.Last = messaging.MessageRecord{ID: id, Sender: "eve", Recipient: "mallory", Text: "x", Created: m.Created.Add(1)}
				c.LastUpdate = c.Last.Created
				if err := tx.PutConversation(c); err != nil {
					return err
				}
				return tx.PutMessage("bob", "dave", c.Last)
			},
			messaging.Problem{Owner: "bob", Other: "dave", Detail: `from "eve" to "mallory" does not belong to this conversation`},
			idAny, // the forged message's, which a store retrying Updates may number otherwise
		},
	}
	for _, s := range verifyStores() {
		for _, tt := range tests {
			t.Run(s.name+"/"+tt.name, func(t *testing.T) {
				st := s.open(t)
				x := messaging.New(st)
				defer x.Close()
				m := send(t, x, "bob", "dave", "hello", day(1))
				require.NoError(t, st.Update(ctx, func(tx messaging.Tx) error { return tt.break_(tx, m) }))
				want := tt.want
				if tt.id == idSent {
					want.MessageID = m.ID
				}
				problems, err := x.Verify(ctx)
				require.NoError(t, err)
				var details []string
				for _, p := range problems {
					details = append(details, p.String())
					if tt.id == idAny {
						p.MessageID = 0
					}
					if p == want {
						return
					}
				}
				t.Errorf("want %q among %q", want.String(), details)
			})
		}
	}
}

// problemID says which MessageID a Problem wanted must carry.
type problemID int

const (
	idNone problemID = iota // none: the problem is not about a message
	idSent                  // the message the test sent
	idAny                   // any: not compared
)

// verifyStores are the stores, and each of the plain ones again with its
// Scanner hidden: Verify reads a store with a Scanner otherwise than one
// without, and must find the same problems either way.
func verifyStores() []storeCase {
	out := slices.Clone(stores)
	for _, s := range plainStores() {
		out = append(out, storeCase{name: s.name + "-no-scanner", open: func(t testing.TB) messaging.Store {
			return noScannerStore{s.open(t)}
		}})
	}
	return out
}

// noScannerStore hides the Scanner (and every other optional capability)
// of the ReadTx of the store it wraps.
type noScannerStore struct{ messaging.Store }

func (s noScannerStore) View(ctx context.Context, fn func(messaging.ReadTx) error) error {
	return s.Store.View(ctx, func(tx messaging.ReadTx) error {
		return fn(struct{ messaging.ReadTx }{tx})
	})
}

func TestVerifyCancelled(t *testing.T) {
	x := messaging.New(messaging.NewMemoryStore())
	defer x.Close()
	send(t, x, "bob", "dave", "x")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := x.Verify(cctx)
	assert.ErrorIs(t, err, context.Canceled)
}

// TestVerifyStrayTombstone: a retracted tombstone of a conversation that has
// no record (which only a store's own corruption leaves, and a store's
// Check reports) still means the other side's copy must be gone. Only a
// Scanner lists such tombstones: the test adds one to what it lists.
func TestVerifyStrayTombstone(t *testing.T) {
	for _, s := range plainStores() {
		// dave keeps an inbox, with a conversation before the stray
		// tombstone's or after it.
		for _, kept := range []string{"amy", "eve"} {
			t.Run(s.name+"/"+kept, func(t *testing.T) {
				st := s.open(t)
				x := messaging.New(st)
				defer x.Close()
				m := send(t, x, "bob", "dave", "hello", day(1))
				send(t, x, "dave", kept, "hi", day(2))
				in, err := x.Get(ctx, "dave")
				require.NoError(t, err)
				require.NoError(t, in.Delete(ctx, "bob"))
				var scanner bool
				require.NoError(t, st.View(ctx, func(tx messaging.ReadTx) error {
					_, scanner = tx.(messaging.Scanner)
					return nil
				}))
				if !scanner {
					t.Skip("the store's ReadTx is not a Scanner")
				}
				stray := messaging.TombstoneEntry{Owner: "dave", Other: "bob", Tombstone: messaging.Tombstone{ID: m.ID, Retracted: true}}
				problems, err := messaging.New(strayTombstoneStore{st, stray}).Verify(ctx)
				require.NoError(t, err)
				assert.Equal(t, []messaging.Problem{{Owner: "bob", Other: "dave", MessageID: m.ID, Detail: "retracted, but this copy remains"}}, problems)
			})
		}
	}
}

// strayTombstoneStore's ReadTx is a Scanner that lists stray first among
// the tombstones of its owner, who must have none.
type strayTombstoneStore struct {
	messaging.Store
	stray messaging.TombstoneEntry
}

func (s strayTombstoneStore) View(ctx context.Context, fn func(messaging.ReadTx) error) error {
	return s.Store.View(ctx, func(tx messaging.ReadTx) error {
		return fn(strayTombstoneTx{tx, tx.(messaging.Scanner), s.stray})
	})
}

type strayTombstoneTx struct {
	messaging.ReadTx
	scan  messaging.Scanner
	stray messaging.TombstoneEntry
}

func (t strayTombstoneTx) ScanMessages(owner string, after *messaging.MessageEntry, limit int) ([]messaging.MessageEntry, error) {
	return t.scan.ScanMessages(owner, after, limit)
}

func (t strayTombstoneTx) ScanTombstones(owner string, after *messaging.TombstoneEntry, limit int) ([]messaging.TombstoneEntry, error) {
	out, err := t.scan.ScanTombstones(owner, after, limit)
	if err == nil && owner == t.stray.Owner && after == nil {
		out = append([]messaging.TombstoneEntry{t.stray}, out...)
	}
	return out, err
}
