package messaging_test

import (
	"context"
	"fmt"
	"math/rand/v2"
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
	for _, s := range stores {
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
		},
		{
			"inbox unread count drifts",
			func(tx messaging.Tx, m messaging.Message) error {
				return tx.PutInbox(messaging.InboxRecord{Owner: "bob", Unread: 2})
			},
			messaging.Problem{Owner: "bob", Detail: "unread count 2, its conversations hold 0"},
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
		},
	}
	for _, s := range stores {
		for _, tt := range tests {
			t.Run(s.name+"/"+tt.name, func(t *testing.T) {
				st := s.open(t)
				x := messaging.New(st)
				defer x.Close()
				m := send(t, x, "bob", "dave", "hello", day(1))
				require.NoError(t, st.Update(ctx, func(tx messaging.Tx) error { return tt.break_(tx, m) }))
				problems, err := x.Verify(ctx)
				require.NoError(t, err)
				var details []string
				for _, p := range problems {
					details = append(details, p.String())
					if p.Owner == tt.want.Owner && p.Other == tt.want.Other && p.Detail == tt.want.Detail {
						return
					}
				}
				t.Errorf("want %q among %q", tt.want.String(), details)
			})
		}
	}
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
