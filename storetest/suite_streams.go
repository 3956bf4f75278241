package storetest

// Tests of event streams, tombstones with their kind, message metadata and
// AdvanceID.

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func event(user string, seq uint64) messaging.EventRecord {
	return messaging.EventRecord{User: user, Seq: seq, Data: []byte(fmt.Sprintf("event %d of %s\x00\xff", seq, user))}
}

func putEvent(rec messaging.EventRecord) op {
	return func(tx messaging.Tx) error { return tx.PutEvent(rec) }
}

func delEvents(user string, upTo uint64) op {
	return func(tx messaging.Tx) error { return tx.DeleteEvents(user, upTo) }
}

func events(t *testing.T, s messaging.Store, user string, after uint64, limit int) []messaging.EventRecord {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) ([]messaging.EventRecord, error) { return tx.Events(user, after, limit) })
}

func bounds(t *testing.T, s messaging.Store, user string) [2]uint64 {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) ([2]uint64, error) {
		first, last, err := tx.StreamBounds(user)
		return [2]uint64{first, last}, err
	})
}

func streams(t *testing.T, s messaging.Store, after string, limit int) []string {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) ([]string, error) { return tx.Streams(after, limit) })
}

func testStreamsRoundTrip(t *testing.T, s messaging.Store) {
	assert.Equal(t, [2]uint64{}, bounds(t, s, "bob"), "no stream")
	assert.Empty(t, events(t, s, "bob", 0, noLimit))
	var want []messaging.EventRecord
	var ops []op
	for seq := uint64(1); seq <= 7; seq++ {
		ops = append(ops, putEvent(event("bob", seq)))
		want = append(want, event("bob", seq))
	}
	update(t, s, ops...)
	update(t, s, putEvent(event("bo", 1)), putEvent(event("bobb", 1)), putEvent(event("b", 5)))
	assert.Equal(t, want, events(t, s, "bob", 0, noLimit))
	assert.Equal(t, want[3:5], events(t, s, "bob", 3, 2), "after 3, two")
	assert.Empty(t, events(t, s, "bob", 7, noLimit))
	assert.Empty(t, events(t, s, "bob", math.MaxUint64, noLimit))
	assert.Empty(t, events(t, s, "bob", 0, 0))
	assert.Equal(t, [2]uint64{1, 7}, bounds(t, s, "bob"))
	assert.Equal(t, [2]uint64{5, 5}, bounds(t, s, "b"))
	assert.Equal(t, []messaging.EventRecord{event("bo", 1)}, events(t, s, "bo", 0, noLimit), "streams do not mix")

	update(t, s, delEvents("bob", 3))
	assert.Equal(t, want[3:], events(t, s, "bob", 0, noLimit), "trimmed to 4..7")
	assert.Equal(t, [2]uint64{4, 7}, bounds(t, s, "bob"))
	update(t, s, putEvent(event("bob", 8)))
	assert.Equal(t, [2]uint64{4, 8}, bounds(t, s, "bob"))
	update(t, s, delEvents("bob", 2), delEvents("nobody", 5))
	assert.Equal(t, [2]uint64{4, 8}, bounds(t, s, "bob"), "deleting what is gone changes nothing")

	assert.Equal(t, []string{"b", "bo", "bob", "bobb"}, streams(t, s, "", noLimit))
	assert.Equal(t, []string{"bob", "bobb"}, streams(t, s, "bo", noLimit))
	update(t, s, delEvents("bo", 1))
	assert.Equal(t, [2]uint64{}, bounds(t, s, "bo"), "emptied")
	assert.Equal(t, []string{"b", "bob", "bobb"}, streams(t, s, "", noLimit), "an emptied stream is not listed")
	update(t, s, putEvent(event("bo", 2)))
	assert.Equal(t, [2]uint64{2, 2}, bounds(t, s, "bo"), "and starts again")

	failUpdate(t, s, putEvent(event("bob", 9)), delEvents("bob", 8), putEvent(event("zed", 1)))
	assert.Equal(t, [2]uint64{4, 8}, bounds(t, s, "bob"), "rolled back")
	assert.Equal(t, [2]uint64{}, bounds(t, s, "zed"))
}

// Streams need no inbox and outlive one; every tricky id is its own.
func testStreamsApartFromInboxes(t *testing.T, s messaging.Store) {
	baseline(t, s)
	var ops []op
	for i, u := range trickyIDs {
		ops = append(ops, putEvent(event(u, uint64(i+1))))
	}
	update(t, s, ops...)
	update(t, s, putEvent(event("bob", 1)), delInbox("bob"))
	assert.Equal(t, [2]uint64{1, 1}, bounds(t, s, "bob"), "DeleteInbox keeps the stream")
	for i, u := range trickyIDs {
		assert.Equal(t, []messaging.EventRecord{event(u, uint64(i+1))}, events(t, s, u, 0, noLimit), u)
	}
	assert.Equal(t, []string{"bo", "dave"}, users(t, s, "", noLimit), "a stream creates no inbox")
}

func testStreamsIsolation(t *testing.T, s messaging.Store) {
	rec := event("bob", 1)
	update(t, s, putEvent(rec))
	got := events(t, s, "bob", 0, noLimit)
	require.Len(t, got, 1)
	got[0].Data[0] = 'X'
	assert.Equal(t, []messaging.EventRecord{event("bob", 1)}, events(t, s, "bob", 0, noLimit), "returned data is a copy")
}

func tombstones(t *testing.T, s messaging.Store, owner, other string, after uint64, limit int) []messaging.Tombstone {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) ([]messaging.Tombstone, error) {
		return tx.Tombstones(owner, other, after, limit)
	})
}

func testTombstonesListAndKind(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	assert.Empty(t, tombstones(t, s, "bob", "dave", 0, noLimit))
	update(t, s, m.DeleteMessage("bob", "dave", 3), m.DeleteMessage("bob", "dave", 1))
	assert.Equal(t, []messaging.Tombstone{{ID: 1}, {ID: 3}}, tombstones(t, s, "bob", "dave", 0, noLimit))
	assert.Equal(t, []messaging.Tombstone{{ID: 3}}, tombstones(t, s, "bob", "dave", 1, noLimit))
	assert.Equal(t, []messaging.Tombstone{{ID: 1}}, tombstones(t, s, "bob", "dave", 0, 1))

	update(t, s, func(tx messaging.Tx) error {
		return tx.PutTombstone("bob", "dave", messaging.Tombstone{ID: 3, Retracted: true})
	})
	update(t, s, func(tx messaging.Tx) error {
		return tx.PutTombstone("bob", "dave", messaging.Tombstone{ID: math.MaxUint64, Retracted: true})
	})
	assert.Equal(t, []messaging.Tombstone{{ID: 1}, {ID: 3, Retracted: true}, {ID: math.MaxUint64, Retracted: true}},
		tombstones(t, s, "bob", "dave", 0, noLimit))
	assert.True(t, deleted(t, s, "bob", "dave", math.MaxUint64), "a tombstone put is Deleted")
	assert.Empty(t, tombstones(t, s, "dave", "bob", 0, noLimit), "the other side has none")
	assert.Empty(t, tombstones(t, s, "bob", "nobody", 0, noLimit))
	assert.ErrorIs(t, updateErr(t, s, func(tx messaging.Tx) error {
		return tx.PutTombstone("bob", "nobody", messaging.Tombstone{ID: 1})
	}), messaging.ErrNotFound, "no conversation")

	failUpdate(t, s, func(tx messaging.Tx) error { return tx.PutTombstone("bob", "dave", messaging.Tombstone{ID: 2}) })
	assert.Len(t, tombstones(t, s, "bob", "dave", 0, noLimit), 3, "rolled back")
	update(t, s, m.DeleteConversation("bob", "dave"), m.PutConversation(conv("bob", "dave", at(9))))
	assert.Empty(t, tombstones(t, s, "bob", "dave", 0, noLimit), "forgotten with the conversation")
}

// Metadata round-trips exactly, is kept per copy, and is the caller's
// once returned.
func testMessageMetaRoundTrip(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	meta := map[string]string{"file": "https://example.com/a.png", "type": "image/png", "size": "1234", "é": "\x00 ok", "empty": ""}
	rec := msg(10, at(5))
	rec.Meta = meta
	flagged := msg(11, at(6))
	flagged.DeletedUnread = true
	update(t, s, m.PutMessage("bob", "dave", rec), m.PutMessage("bob", "dave", flagged), m.PutMessage("dave", "bob", msg(10, at(5))))
	got := getMsg(t, s, "bob", "dave", 10)
	assert.Equal(t, meta, got.Meta)
	assert.Nil(t, getMsg(t, s, "dave", "bob", 10).Meta, "the other copy has its own record")
	assert.True(t, getMsg(t, s, "bob", "dave", 11).DeletedUnread)
	assert.False(t, getMsg(t, s, "bob", "dave", 10).DeletedUnread)

	got.Meta["file"] = "changed"
	meta["type"] = "changed too"
	stored := getMsg(t, s, "bob", "dave", 10)
	assert.Equal(t, "https://example.com/a.png", stored.Meta["file"], "a returned map is a copy")
	assert.Equal(t, "image/png", stored.Meta["type"], "a map put is copied")
	page := msgs(t, s, "bob", "dave", nil, false, noLimit)
	for _, p := range page {
		if p.ID == 10 {
			p.Meta["size"] = "0"
		}
	}
	assert.Equal(t, "1234", getMsg(t, s, "bob", "dave", 10).Meta["size"], "maps in lists are copies")

	c := conv("bob", "dave", at(6))
	c.Last = rec
	update(t, s, m.PutConversation(c))
	assert.Equal(t, "https://example.com/a.png", getConv(t, s, "bob", "dave").Last.Meta["file"], "the summary keeps metadata")
}

func testAdvanceID(t *testing.T, s messaging.Store) {
	first := nextID(t, s)
	update(t, s, func(tx messaging.Tx) error { return tx.AdvanceID(first + 1000) })
	assert.Greater(t, nextID(t, s), first+1000)
	id := nextID(t, s)
	update(t, s, func(tx messaging.Tx) error { return tx.AdvanceID(5) })
	assert.Greater(t, nextID(t, s), id, "never lowers")
	update(t, s, func(tx messaging.Tx) error { return tx.AdvanceID(1 << 62) })
	assert.Greater(t, nextID(t, s), uint64(1<<62), "large")
}
