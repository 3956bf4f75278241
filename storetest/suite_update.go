package storetest

// Tests of Store.Update: commit, rollback of every kind of write,
// cancellation.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func testUpdateVisibleToLaterViews(t *testing.T, s messaging.Store) {
	m := newModel()
	update(t, s, m.PutInbox(inbox("bob", 1)), m.PutConversation(conv("bob", "dave", base)), m.PutMessage("bob", "dave", msg(1, base)))
	assertState(t, s, m, "after puts")
	assertState(t, s, m, "a second View")
	update(t, s, m.DeleteMessage("bob", "dave", 1))
	assertState(t, s, m, "after a delete")
	update(t, s, m.DeleteInbox("bob"))
	assertState(t, s, m, "after deleting the inbox")
}

func testUpdateReadsOwnWrites(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	ops := []op{
		m.PutInbox(inbox("zed", 1)),
		m.PutConversation(conv("zed", "bob", at(1))),
		m.PutMessage("zed", "bob", msg(7, at(1))),
		m.PutConversation(conv("bob", "carol", at(9))), // moves
		m.DeleteMessage("bob", "dave", 2),
		m.PutMessage("bob", "dave", msg(8, at(-1))),
		m.DeleteConversation("bob", "erin"),
		m.DeleteInbox("bo"),
	}
	var got state
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) error {
		if err := runOps(tx, ops); err != nil {
			return err
		}
		var err error
		got, err = readState(tx, m)
		return err
	}))
	assertSameState(t, m.want(), got, "inside the transaction")
	assertState(t, s, m, "after commit")
}

func testUpdateRollbackPuts(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	committed := nextID(t, s)
	x := m.clone()
	failUpdate(t, s,
		x.PutInbox(inbox("zed", 1)),
		x.PutConversation(conv("zed", "bob", at(1))),
		x.PutMessage("zed", "bob", msg(7, at(1))),
		x.PutConversation(conv("bob", "zed", at(10))),
		x.PutMessage("bob", "zed", msg(7, at(10))),
		x.PutMessage("bob", "dave", msg(8, at(-1))),
		func(tx messaging.Tx) error { _, err := tx.NextID(); return err },
	)
	m.probe(x)
	assertState(t, s, m)
	assert.Greater(t, nextID(t, s), committed)
}

func testUpdateRollbackReplaces(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	x := m.clone()
	c := conv("bob", "dave", at(2))
	c.Unread, c.ReadMark, c.Last.Text = 0, 1000, "changed"
	failUpdate(t, s,
		x.PutInbox(inbox("bob", 99)),
		x.PutConversation(c),
		x.PutMessage("bob", "dave", withText(msg(2, at(1)), "changed")),
		x.PutMessage("bob", "dave", msg(3, at(-9))),
	)
	m.probe(x)
	assertState(t, s, m)
}

func testUpdateRollbackMove(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	x := m.clone()
	failUpdate(t, s,
		x.PutConversation(conv("bob", "carol", at(10))),
		x.PutConversation(conv("bob", "erin", at(-10))),
	)
	m.probe(x)
	assertState(t, s, m)
	assert.Equal(t, []string{"erin", "dave", "carol"}, others(convs(t, s, "bob", nil, noLimit)))
}

func testUpdateRollbackDeleteInbox(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	update(t, s, m.DeleteMessage("bob", "dave", 2)) // a tombstone to keep
	x := m.clone()
	failUpdate(t, s, x.DeleteInbox("bob"))
	m.probe(x)
	assertState(t, s, m, "delete")

	x = m.clone()
	failUpdate(t, s,
		x.DeleteInbox("bob"), x.PutInbox(inbox("bob", 0)),
		x.PutConversation(conv("bob", "dave", at(-1))), x.PutMessage("bob", "dave", msg(9, at(-1))),
	)
	m.probe(x)
	assertState(t, s, m, "delete and recreate")
}

func testUpdateRollbackDeleteConversation(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	update(t, s, m.DeleteMessage("bob", "dave", 2)) // a tombstone to keep
	x := m.clone()
	failUpdate(t, s, x.DeleteConversation("bob", "dave"), x.DeleteConversation("bob", "erin"))
	m.probe(x)
	assertState(t, s, m, "delete")

	x = m.clone()
	failUpdate(t, s,
		x.DeleteConversation("bob", "dave"), x.PutConversation(conv("bob", "dave", at(-1))),
		x.PutMessage("bob", "dave", withText(msg(1, at(-1)), "replacement")),
	)
	m.probe(x)
	assertState(t, s, m, "delete and recreate")
}

func testUpdateRollbackDeleteMessage(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	x := m.clone()
	failUpdate(t, s, x.DeleteMessage("bob", "dave", 1), x.DeleteMessage("bob", "dave", 3), x.DeleteMessage("bo", "b", 5))
	m.probe(x)
	assertState(t, s, m, "first deletes in their conversations")
	for _, r := range []msgRef{{pair{"bob", "dave"}, 1}, {pair{"bob", "dave"}, 3}, {pair{"bo", "b"}, 5}} {
		assert.False(t, deleted(t, s, r.Pair.Owner, r.Pair.Other, r.ID), "Deleted%s %d after rollback", r.Pair, r.ID)
	}

	update(t, s, m.DeleteMessage("bob", "dave", 2))
	x = m.clone()
	failUpdate(t, s, x.DeleteMessage("bob", "dave", 1))
	m.probe(x)
	assertState(t, s, m, "a delete next to a committed one")
	assert.False(t, deleted(t, s, "bob", "dave", 1), "rolled back")
	assert.True(t, deleted(t, s, "bob", "dave", 2), "committed")
}

func testUpdateUncommittedInvisible(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen []error
	)
	err := s.Update(t.Context(), func(tx messaging.Tx) error {
		if err := runOps(tx, []op{putInbox(inbox("ghost", 1)), putInbox(inbox("bob", 99))}); err != nil {
			return err
		}
		// A concurrent View, while this transaction is open (a store may
		// also make it wait until the transaction ends).
		done := make(chan struct{})
		wg.Go(func() {
			defer close(done)
			var ghost error
			var bob messaging.InboxRecord
			err := s.View(context.Background(), func(rtx messaging.ReadTx) error {
				_, ghost = rtx.Inbox("ghost")
				var err error
				bob, err = rtx.Inbox("bob")
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			if err == nil && bob.Unread != 2 {
				err = fmt.Errorf("a concurrent View saw bob's uncommitted Unread %d", bob.Unread)
			}
			seen = append(seen, errors.Join(err, ghostErr(ghost)))
		})
		select {
		case <-done:
		case <-time.After(20 * time.Millisecond):
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	wg.Wait()
	require.NotEmpty(t, seen)
	for _, err := range seen {
		assert.NoError(t, err)
	}
	x := newModel()
	x.owners["ghost"] = true
	m.probe(x)
	assertState(t, s, m, "after rollback")
}

// ghostErr checks the lookup of an inbox that was never committed.
func ghostErr(err error) error {
	if errors.Is(err, messaging.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("a concurrent View saw an uncommitted inbox (lookup error %v)", err)
}

func testUpdateCancelled(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	err := s.Update(ctx, func(tx messaging.Tx) error {
		called = true
		return runOps(tx, []op{putInbox(inbox("ghost", 1)), delInbox("bob")})
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, called, "fn called on a cancelled context")
	x := newModel()
	x.owners["ghost"] = true
	m.probe(x)
	assertState(t, s, m)
}

func testUpdateDeadline(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	called := false
	err := s.Update(ctx, func(tx messaging.Tx) error {
		called = true
		return tx.DeleteInbox("bob")
	})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, called, "fn called on an expired context")
	assertState(t, s, m)
}
