package storetest

// Tests of one conversation record: ReadTx.Conversation, Tx.PutConversation
// and Tx.DeleteConversation.

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func testConversationRoundTrip(t *testing.T, s messaging.Store) {
	rec := messaging.ConversationRecord{
		Owner: "bob", Other: "dave",
		Messages: 42, Unread: 7, LastUpdate: base,
		FirstID: 1<<63 + 3, MaxID: math.MaxUint64 - 1, ReadMark: 1 << 40, PeerReadMark: 1<<40 - 1,
		Last: messaging.MessageRecord{
			ID: 1 << 40, Sender: "dave", Recipient: "bob",
			Text: "see you at 8 ✓\nbring \"the\" \\ stuff\x00", Created: base,
		},
	}
	update(t, s, putInbox(inbox("bob", 7)), putConv(rec))
	got := getConv(t, s, "bob", "dave")
	assert.Equal(t, normConv(rec), normConv(got))
	assert.Equal(t, time.UTC, got.Last.Created.Location(), "Last.Created comes back in UTC")

	empty := messaging.ConversationRecord{Owner: "bob", Other: "carol"}
	update(t, s, putConv(empty))
	assert.Equal(t, normConv(empty), normConv(getConv(t, s, "bob", "carol")), "zero fields")

	rec.Messages, rec.Unread, rec.LastUpdate, rec.ReadMark, rec.FirstID = 43, 0, at(1), rec.MaxID, 1
	rec.Last = messaging.MessageRecord{}
	update(t, s, putConv(rec))
	assert.Equal(t, normConv(rec), normConv(getConv(t, s, "bob", "dave")), "replaced")
}

func testConversationExtremeTimes(t *testing.T, s messaging.Store) {
	ops := []op{putInbox(inbox("bob", 0))}
	for i, tm := range extremeTimes {
		ops = append(ops, putConv(conv("bob", fmt.Sprint("t", i), tm)))
	}
	update(t, s, ops...)
	for i, tm := range extremeTimes {
		got := getConv(t, s, "bob", fmt.Sprint("t", i))
		assert.True(t, got.LastUpdate.Equal(tm), "LastUpdate: got %v, want %v", got.LastUpdate, tm)
		assert.True(t, got.Last.Created.Equal(tm), "Last.Created: got %v, want %v", got.Last.Created, tm)
	}
}

func testConversationMissing(t *testing.T, s messaging.Store) {
	convErr := func(owner, other string) error {
		return lookupErr(t, s, func(tx messaging.ReadTx) error { _, err := tx.Conversation(owner, other); return err })
	}
	assert.ErrorIs(t, convErr("bob", "dave"), messaging.ErrNotFound, "empty store")
	update(t, s, putInbox(inbox("bob", 0)), putInbox(inbox("bo", 0)), putConv(conv("bob", "dave", base)))
	require.NoError(t, convErr("bob", "dave"))
	for _, p := range []pair{
		{"dave", "bob"}, {"bob", "dav"}, {"bob", "daves"}, {"bob", "Dave"},
		{"bo", "bdave"}, {"bo", "b/dave"}, {"carol", "dave"}, {"bob", "bob"},
	} {
		assert.ErrorIs(t, convErr(p.Owner, p.Other), messaging.ErrNotFound, "%q", p)
	}
}

func testConversationReplaceKeepsMessages(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	c := conv("bob", "dave", at(-7))
	c.Messages, c.Unread = 99, 98
	update(t, s, m.PutConversation(c))
	assertState(t, s, m)
}

func testConversationDeleteMissing(t *testing.T, s messaging.Store) {
	assert.ErrorIs(t, updateErr(t, s, delConv("bob", "dave")), messaging.ErrNotFound, "empty store")
	m := baseline(t, s)
	for _, p := range []pair{{"bob", "dav"}, {"bob", "zed"}, {"carol", "bob"}, {"erin", "bob"}, {"bo", "bdave"}} {
		assert.ErrorIs(t, updateErr(t, s, delConv(p.Owner, p.Other)), messaging.ErrNotFound, "%q", p)
	}
	assertState(t, s, m, "failed deletes changed the store")
}

func testConversationDeleteCascades(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	update(t, s, m.DeleteConversation("bob", "dave"))
	assertState(t, s, m, "deleted")
	update(t, s, m.PutConversation(conv("bob", "dave", at(5))))
	assertState(t, s, m, "recreated: no old messages")
	assert.Empty(t, msgs(t, s, "bob", "dave", nil, false, noLimit))
}
