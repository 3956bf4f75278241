package storetest

// Tests of ReadTx.Deleted: the tombstones DeleteMessage leaves.

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// deleted reads Deleted in a View.
func deleted(t *testing.T, s messaging.Store, owner, other string, id uint64) bool {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) (bool, error) { return tx.Deleted(owner, other, id) })
}

func testDeletedAfterDeleteMessage(t *testing.T, s messaging.Store) {
	assert.False(t, deleted(t, s, "bob", "dave", 1), "empty store")
	m := baseline(t, s)
	for _, id := range []uint64{1, 2, 3} {
		assert.False(t, deleted(t, s, "bob", "dave", id), "message %d, before any delete", id)
	}
	update(t, s, m.DeleteMessage("bob", "dave", 2))
	assert.True(t, deleted(t, s, "bob", "dave", 2), "after DeleteMessage")
	for _, c := range []struct {
		owner, other string
		id           uint64
	}{
		{"bob", "dave", 1}, {"bob", "dave", 3}, {"bob", "dave", 0}, {"bob", "dave", 99}, {"bob", "dave", math.MaxUint64},
		{"dave", "bob", 2}, // the mirrored copy
		{"bob", "carol", 2}, {"bob", "zed", 2}, {"zed", "dave", 2}, {"bo", "bdave", 2}, {"bo", "b", 2}, {"bob", "dav", 2},
	} {
		assert.False(t, deleted(t, s, c.owner, c.other, c.id), "Deleted(%q, %q, %d)", c.owner, c.other, c.id)
	}
	assert.ErrorIs(t, updateErr(t, s, delMsg("bob", "dave", 2)), messaging.ErrNotFound, "deleting again")
	assert.True(t, deleted(t, s, "bob", "dave", 2), "after a failed second delete")

	update(t, s,
		m.PutMessage("bob", "carol", msg(math.MaxUint64, at(5))), m.PutMessage("bob", "carol", msg(1<<63, at(5))),
		m.PutMessage("bob", "carol", msg(1<<63-1, at(5))))
	update(t, s, m.DeleteMessage("bob", "carol", math.MaxUint64), m.DeleteMessage("bob", "carol", 1<<63-1),
		m.DeleteMessage("dave", "bob", 3), m.DeleteMessage("bo", "b", 5))
	assertState(t, s, m, "more deletes, large IDs")
	update(t, s, m.PutConversation(conv("bob", "dave", at(9))), m.PutMessage("bob", "dave", msg(10, at(9))))
	assertState(t, s, m, "the record replaced and a message added: the tombstones stay")
}

func testDeletedInsideUpdate(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	var before, after, mirrored bool
	var lookup error
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) error {
		var err error
		if before, err = tx.Deleted("bob", "dave", 1); err != nil {
			return err
		}
		if err := tx.DeleteMessage("bob", "dave", 1); err != nil {
			return err
		}
		_, lookup = tx.Message("bob", "dave", 1)
		if after, err = tx.Deleted("bob", "dave", 1); err != nil {
			return err
		}
		mirrored, err = tx.Deleted("dave", "bob", 1)
		return err
	}))
	m.DeleteMessage("bob", "dave", 1)
	assert.False(t, before, "before DeleteMessage")
	assert.ErrorIs(t, lookup, messaging.ErrNotFound, "Message after DeleteMessage")
	assert.True(t, after, "after DeleteMessage, in the same Update")
	assert.False(t, mirrored, "the mirrored copy")
	assertState(t, s, m, "after commit")
}

func testDeletedForgottenByDeleteConversation(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	update(t, s, m.DeleteMessage("bob", "dave", 1), m.DeleteMessage("bob", "dave", 2), m.DeleteMessage("dave", "bob", 1))
	assertState(t, s, m, "deleted messages")
	update(t, s, m.DeleteConversation("bob", "dave"))
	assertState(t, s, m, "conversation deleted: no tombstones, the other side's stay")
	assert.False(t, deleted(t, s, "bob", "dave", 1))
	update(t, s, m.PutConversation(conv("bob", "dave", at(5))), m.PutMessage("bob", "dave", msg(7, at(5))))
	assertState(t, s, m, "recreated in a later transaction")
	update(t, s, m.DeleteMessage("bob", "dave", 7), m.DeleteConversation("bob", "dave"), m.PutConversation(conv("bob", "dave", at(6))))
	assertState(t, s, m, "message and conversation deleted, conversation recreated, in one transaction")
	assert.False(t, deleted(t, s, "bob", "dave", 7))
}

func testDeletedForgottenByDeleteInbox(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	update(t, s, m.DeleteMessage("bob", "dave", 1), m.DeleteMessage("bob", "carol", 4),
		m.DeleteMessage("dave", "bob", 2), m.DeleteMessage("bo", "b", 5))
	assertState(t, s, m, "deleted messages")
	update(t, s, m.DeleteInbox("bob"))
	assertState(t, s, m, `inbox "bob" deleted: its tombstones go, "bo"'s and "dave"'s stay`)
	update(t, s, m.PutInbox(inbox("bob", 0)), m.PutConversation(conv("bob", "dave", at(7))), m.PutConversation(conv("bob", "carol", at(7))))
	assertState(t, s, m, "recreated in a later transaction")
	assert.False(t, deleted(t, s, "bob", "dave", 1))
	update(t, s, m.DeleteMessage("dave", "bob", 1), m.DeleteInbox("dave"), m.PutInbox(inbox("dave", 0)), m.PutConversation(conv("dave", "bob", at(8))))
	assertState(t, s, m, "message and inbox deleted, recreated, in one transaction")
}
