package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// TestStreamsAgainstMemory writes the same random puts and trims of
// events, some appended as package messaging does, some anywhere, some
// rolled back, to this store and to a MemoryStore, and compares bounds,
// events and the list of streams after each transaction; Check finds the
// rows consistent throughout (a trim only moves a stream's first event
// until a batch of trimmed events leaves the table).
func TestStreamsAgainstMemory(t *testing.T) {
	ctx := context.Background()
	pg := openStore(t)
	mem := messaging.NewMemoryStore()
	defer mem.Close()
	users := []string{"ann", "bob"}
	r := rand.New(rand.NewPCG(1, 2))
	errRollBack := errors.New("roll back")
	txs := 300
	if testing.Short() {
		txs = 60
	}
	for i := range txs {
		type op struct {
			user string
			put  bool
			seq  uint64
		}
		var ops []op
		for range 1 + r.IntN(4) {
			u := users[r.IntN(len(users))]
			var last uint64
			require.NoError(t, mem.View(ctx, func(tx messaging.ReadTx) (err error) {
				_, last, err = tx.StreamBounds(u)
				return err
			}))
			switch k := r.IntN(10); {
			case k < 6: // an append, then a trim as package messaging does
				ops = append(ops, op{u, true, last + 1})
				if last > 5 {
					ops = append(ops, op{u, false, last + 1 - uint64(3+r.IntN(3))})
				}
			case k < 8: // a put anywhere: gaps, replacements, below the first
				ops = append(ops, op{u, true, uint64(1 + r.IntN(int(last)+10))})
			default:
				ops = append(ops, op{u, false, uint64(r.IntN(int(last) + 2))})
			}
		}
		rollBack := r.IntN(8) == 0
		var seen []streamSnapshot // what each transaction reads of its own writes
		apply := func(tx messaging.Tx) error {
			defer func() {
				for _, u := range users {
					var st streamSnapshot
					var err error
					st.first, st.last, err = tx.StreamBounds(u)
					require.NoError(t, err)
					st.events, err = tx.Events(u, 0, 10000)
					require.NoError(t, err)
					seen = append(seen, st)
				}
			}()
			for _, o := range ops {
				var err error
				if o.put {
					err = tx.PutEvent(messaging.EventRecord{User: o.user, Seq: o.seq, Data: []byte(fmt.Sprintf("%d/%d", i, o.seq))})
				} else {
					err = tx.DeleteEvents(o.user, o.seq)
				}
				if err != nil {
					return err
				}
			}
			if rollBack {
				return errRollBack
			}
			return nil
		}
		errMem := mem.Update(ctx, apply)
		seenMem := seen
		seen = nil
		errPG := pg.Update(ctx, apply)
		require.Equal(t, errMem, errPG, "transaction %d: %v", i, ops)
		require.Equal(t, seenMem, seen, "transaction %d: %v, read inside it", i, ops)
		for _, u := range users {
			want, got := streamState(t, mem, u), streamState(t, pg, u)
			require.Equal(t, want, got, "transaction %d (%v), stream of %s", i, ops, u)
		}
		var problems []messaging.Problem
		require.NoError(t, pg.Check(ctx, func(p messaging.Problem) { problems = append(problems, p) }))
		require.Empty(t, problems, "transaction %d: %v", i, ops)
	}
}

type streamSnapshot struct {
	first, last uint64
	events      []messaging.EventRecord
	streams     []string
}

func streamState(t *testing.T, s messaging.Store, user string) streamSnapshot {
	t.Helper()
	var st streamSnapshot
	require.NoError(t, s.View(context.Background(), func(tx messaging.ReadTx) (err error) {
		if st.first, st.last, err = tx.StreamBounds(user); err != nil {
			return err
		}
		if st.events, err = tx.Events(user, 0, 10000); err != nil {
			return err
		}
		st.streams, err = tx.Streams("", 100)
		return err
	}))
	// Inside an Update too: the transaction's own view.
	var inUpdate streamSnapshot
	require.NoError(t, s.Update(context.Background(), func(tx messaging.Tx) (err error) {
		if inUpdate.first, inUpdate.last, err = tx.StreamBounds(user); err != nil {
			return err
		}
		return nil
	}))
	assert.Equal(t, [2]uint64{st.first, st.last}, [2]uint64{inUpdate.first, inUpdate.last})
	return st
}

// TestOwnWritesAgainstMemory: inside one transaction, random puts and
// deletes of messages interleaved with reads of the conversation's
// messages (which lay the buffered writes over what the database holds)
// read the same as in a MemoryStore, and leave the same records.
func TestOwnWritesAgainstMemory(t *testing.T) {
	ctx := context.Background()
	pg := openStore(t)
	mem := messaging.NewMemoryStore()
	defer mem.Close()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	setup := func(tx messaging.Tx) error {
		for _, o := range []string{"ann", "bob"} {
			if err := tx.PutInbox(messaging.InboxRecord{Owner: o}); err != nil {
				return err
			}
		}
		return tx.PutConversation(messaging.ConversationRecord{Owner: "ann", Other: "bob", FirstID: 1})
	}
	require.NoError(t, mem.Update(ctx, setup))
	require.NoError(t, pg.Update(ctx, setup))
	r := rand.New(rand.NewPCG(3, 4))
	txs := 150
	if testing.Short() {
		txs = 30
	}
	for i := range txs {
		seed := r.Uint64()
		var reads [2][]string
		for si, s := range []messaging.Store{mem, pg} {
			rr := rand.New(rand.NewPCG(seed, 0))
			err := s.Update(ctx, func(tx messaging.Tx) error {
				reads[si] = nil
				for range 1 + rr.IntN(8) {
					id := uint64(1 + rr.IntN(30))
					switch rr.IntN(4) {
					case 0:
						m := messaging.MessageRecord{ID: id, Sender: "ann", Recipient: "bob", Text: fmt.Sprint(i),
							Created: base.Add(time.Duration(rr.IntN(10)) * time.Second)}
						if err := tx.PutMessage("ann", "bob", m); err != nil {
							return err
						}
					case 1:
						err := tx.DeleteMessage("ann", "bob", id)
						reads[si] = append(reads[si], fmt.Sprint("delete ", id, ": ", errors.Is(err, messaging.ErrNotFound)))
						if err != nil && !errors.Is(err, messaging.ErrNotFound) {
							return err
						}
					case 2:
						var after *messaging.MessageKey
						if rr.IntN(2) == 0 {
							after = &messaging.MessageKey{Created: base.Add(time.Duration(rr.IntN(10)) * time.Second), ID: uint64(rr.IntN(30))}
						}
						msgs, err := tx.Messages("ann", "bob", after, rr.IntN(2) == 0, 1+rr.IntN(6))
						if err != nil {
							return err
						}
						reads[si] = append(reads[si], fmt.Sprint(msgs))
					default:
						msgs, err := tx.MessagesByID("ann", "bob", uint64(rr.IntN(30)), 1+rr.IntN(6))
						if err != nil {
							return err
						}
						reads[si] = append(reads[si], fmt.Sprint(msgs))
					}
				}
				if rr.IntN(6) == 0 {
					return errors.New("roll back")
				}
				return nil
			})
			if err != nil && err.Error() != "roll back" {
				require.NoError(t, err)
			}
		}
		require.Equal(t, reads[0], reads[1], "transaction %d", i)
		var all [2][]messaging.MessageRecord
		for si, s := range []messaging.Store{mem, pg} {
			require.NoError(t, s.View(ctx, func(tx messaging.ReadTx) (err error) {
				all[si], err = tx.Messages("ann", "bob", nil, false, 1000)
				return err
			}))
		}
		require.Equal(t, all[0], all[1], "after transaction %d", i)
	}
}
