package storetest

// Tests of Store.View: fn's error, cancellation, repeatable reads and whole
// transactions.

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func testViewReturnsFnError(t *testing.T, s messaging.Store) {
	baseline(t, s)
	err := s.View(t.Context(), func(messaging.ReadTx) error { return errBoom })
	assert.Same(t, errBoom, err, "View must return fn's error unchanged, got %v", err)
}

func testViewCancelled(t *testing.T, s messaging.Store) {
	baseline(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	err := s.View(ctx, func(messaging.ReadTx) error { called = true; return nil })
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, called, "fn called on a cancelled context")
}

func testViewRepeatableRead(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	x := m.clone()
	ops := []op{
		x.PutInbox(inbox("bob", 5)),
		x.PutMessage("bob", "dave", msg(9, at(4))),
		x.PutConversation(conv("bob", "carol", at(8))),
		x.DeleteConversation("bob", "erin"),
		x.DeleteMessage("bob", "dave", 1),
	}
	m.probe(x)
	before, after := m.want(), x.want()

	var first, second state
	var updateErr error
	done := make(chan struct{})
	require.NoError(t, s.View(t.Context(), func(tx messaging.ReadTx) error {
		var err error
		if first, err = readState(tx, m); err != nil {
			return err
		}
		go func() {
			defer close(done)
			updateErr = s.Update(context.Background(), func(tx messaging.Tx) error { return runOps(tx, ops) })
		}()
		// Let the Update commit while this View is open, or give up waiting
		// if the store makes writers wait for readers.
		select {
		case <-done:
		case <-time.After(30 * time.Millisecond):
		}
		second, err = readState(tx, m)
		return err
	}))
	<-done
	require.NoError(t, updateErr)
	assertSameState(t, before, first, "first read")
	assertSameState(t, before, second, "second read in the same View, after a concurrent Update")
	assertSameState(t, after, dump(t, s, x), "a later View")
}

// testViewSeesWholeTransactions moves units between two inbox records, and
// adds a message with its count, in each of many Updates, while Views check
// that they never see half of one.
func testViewSeesWholeTransactions(t *testing.T, s messaging.Store) {
	const total, moves = 100, 40
	update(t, s, putInbox(inbox("x", total)), putInbox(inbox("y", 0)), putConv(messaging.ConversationRecord{Owner: "x", Other: "y"}))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					if n > 0 {
						return
					}
				default:
				}
				var x, y messaging.InboxRecord
				var c messaging.ConversationRecord
				var byID, asc []messaging.MessageRecord
				err := s.View(t.Context(), func(tx messaging.ReadTx) error {
					var err error
					if x, err = tx.Inbox("x"); err != nil {
						return err
					}
					if y, err = tx.Inbox("y"); err != nil {
						return err
					}
					if c, err = tx.Conversation("x", "y"); err != nil {
						return err
					}
					if byID, err = tx.MessagesByID("x", "y", 0, noLimit); err != nil {
						return err
					}
					asc, err = tx.Messages("x", "y", nil, false, noLimit)
					return err
				})
				if !assert.NoError(t, err) {
					return
				}
				moved := total - x.Unread
				if !assert.Equal(t, total, x.Unread+y.Unread, "View %d saw half a transaction", n) ||
					!assert.Equal(t, []int{moved, moved, moved}, []int{c.Messages, len(byID), len(asc)}, "View %d saw half a transaction", n) {
					return
				}
			}
		})
	}
	for i := range moves {
		err := s.Update(t.Context(), func(tx messaging.Tx) error {
			x, err := tx.Inbox("x")
			if err != nil {
				return err
			}
			y, err := tx.Inbox("y")
			if err != nil {
				return err
			}
			c, err := tx.Conversation("x", "y")
			if err != nil {
				return err
			}
			id, err := tx.NextID()
			if err != nil {
				return err
			}
			x.Unread--
			y.Unread++
			c.Messages++
			c.LastUpdate = at(i)
			return runOps(tx, []op{putInbox(x), putInbox(y), putMsg("x", "y", msg(id, at(i))), putConv(c)})
		})
		if !assert.NoError(t, err) {
			break
		}
	}
	close(stop)
	wg.Wait()
	assert.Equal(t, total-moves, getInbox(t, s, "x").Unread)
	assert.Len(t, msgsByID(t, s, "x", "y", 0, noLimit), moves)
}
