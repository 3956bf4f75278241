package storetest

// Tests of message records: ReadTx.Message, ReadTx.Messages, Tx.PutMessage
// and Tx.DeleteMessage.

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func testMessageRoundTrip(t *testing.T, s messaging.Store) {
	m := messaging.MessageRecord{
		ID: 7, Sender: "dave", Recipient: "bob",
		Text:    "héllo 😀\n\t\"quoted\" \\ back\x00slash",
		Created: base,
	}
	long := messaging.MessageRecord{
		ID: 8, Sender: "bob", Recipient: "dave",
		Text:    strings.Repeat("0123456789abcdé", 64<<10/16),
		Created: base.Add(time.Nanosecond),
	}
	update(t, s, putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base)), putMsg("bob", "dave", m), putMsg("bob", "dave", long))
	for _, want := range []messaging.MessageRecord{m, long} {
		got := getMsg(t, s, "bob", "dave", want.ID)
		assert.Equal(t, normMsg(want), normMsg(got))
		assert.Equal(t, time.UTC, got.Created.Location(), "Created comes back in UTC")
	}
	assert.Equal(t, normMsgs([]messaging.MessageRecord{m, long}), normMsgs(msgs(t, s, "bob", "dave", nil, false, noLimit)))
	assert.Equal(t, normMsgs([]messaging.MessageRecord{m, long}), normMsgs(msgsByID(t, s, "bob", "dave", 0, noLimit)))
}

func testMessageMissing(t *testing.T, s messaging.Store) {
	msgErr := func(owner, other string, id uint64) error {
		return lookupErr(t, s, func(tx messaging.ReadTx) error { _, err := tx.Message(owner, other, id); return err })
	}
	assert.ErrorIs(t, msgErr("bob", "dave", 1), messaging.ErrNotFound, "empty store")
	update(t, s,
		putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base)), putConv(conv("bob", "carol", base)),
		putMsg("bob", "dave", msg(1, base)), putMsg("bob", "carol", msg(2, base)),
	)
	require.NoError(t, msgErr("bob", "dave", 1))
	for _, c := range []struct {
		owner, other string
		id           uint64
	}{
		{"bob", "dave", 0}, {"bob", "dave", 2}, {"bob", "dave", 1 << 8}, {"bob", "dave", math.MaxUint64},
		{"bob", "carol", 1}, {"dave", "bob", 1}, {"bob", "dav", 1}, {"bo", "bdave", 1}, {"erin", "dave", 1},
	} {
		assert.ErrorIs(t, msgErr(c.owner, c.other, c.id), messaging.ErrNotFound, "%q %q %d", c.owner, c.other, c.id)
	}
}

func testMessageSameIDMirrored(t *testing.T, s messaging.Store) {
	m := newModel()
	update(t, s,
		m.PutInbox(inbox("bob", 0)), m.PutInbox(inbox("dave", 0)),
		m.PutConversation(conv("bob", "dave", base)), m.PutConversation(conv("dave", "bob", base)),
		m.PutMessage("bob", "dave", withText(msg(1, base), "bob's copy")),
		m.PutMessage("dave", "bob", withText(msg(1, base), "dave's copy")),
		m.PutMessage("dave", "bob", msg(2, at(1))),
	)
	assertState(t, s, m, "both copies")
	update(t, s, m.DeleteMessage("bob", "dave", 1))
	assertState(t, s, m, "bob's copy deleted")
	update(t, s, m.DeleteConversation("dave", "bob"))
	assertState(t, s, m, "dave's conversation deleted")
}

func testMessageReplaceSameID(t *testing.T, s messaging.Store) {
	update(t, s, putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base)),
		putMsg("bob", "dave", msg(1, at(0))), putMsg("bob", "dave", msg(2, at(1))), putMsg("bob", "dave", msg(3, at(2))))
	edited := withText(msg(1, at(5)), "edited")
	update(t, s, putMsg("bob", "dave", edited))

	assert.Equal(t, normMsg(edited), normMsg(getMsg(t, s, "bob", "dave", 1)))
	assert.Equal(t, []uint64{2, 3, 1}, ids(msgs(t, s, "bob", "dave", nil, false, noLimit)), "ascending")
	assert.Equal(t, []uint64{1, 3, 2}, ids(msgs(t, s, "bob", "dave", nil, true, noLimit)), "descending")
	assert.Equal(t, []uint64{1, 2, 3}, ids(msgsByID(t, s, "bob", "dave", 0, noLimit)), "by ID")
	oldPos := msg(1, at(0)).Key()
	assert.Equal(t, []uint64{2, 3, 1}, ids(msgs(t, s, "bob", "dave", &oldPos, false, noLimit)), "after its old position")
	assert.Equal(t, normMsgs([]messaging.MessageRecord{edited}), normMsgs(msgs(t, s, "bob", "dave", nil, true, 1)), "newest is the edited one")

	update(t, s, putMsg("bob", "dave", msg(2, at(-1))), putMsg("bob", "dave", msg(2, at(9))), putMsg("bob", "dave", msg(2, at(3))))
	assert.Equal(t, []uint64{3, 2, 1}, ids(msgs(t, s, "bob", "dave", nil, false, noLimit)), "moved three times in one transaction")
}

func testMessageDeleteMissing(t *testing.T, s messaging.Store) {
	assert.ErrorIs(t, updateErr(t, s, delMsg("bob", "dave", 1)), messaging.ErrNotFound, "empty store")
	m := baseline(t, s)
	for _, c := range []struct {
		owner, other string
		id           uint64
	}{
		{"bob", "dave", 4}, {"bob", "dave", 0}, {"bob", "carol", 1}, {"bob", "dav", 1},
		{"carol", "bob", 4}, {"bo", "bdave", 1}, {"bob", "zed", 1},
	} {
		assert.ErrorIs(t, updateErr(t, s, delMsg(c.owner, c.other, c.id)), messaging.ErrNotFound, "%q %q %d", c.owner, c.other, c.id)
	}
	assertState(t, s, m, "failed deletes changed the store")
}

// msgSeed puts, over two transactions, messages whose ID order differs from
// their (Created, ID) order, and returns them in (Created, ID) order:
// 4 1 2 3 9 8 6 5 7.
func msgSeed(t *testing.T, s messaging.Store) []messaging.MessageRecord {
	t.Helper()
	recs := []messaging.MessageRecord{
		msg(5, at(3)), msg(1, at(0)), msg(2, at(1)), msg(9, at(1)),
		msg(3, at(1)), msg(4, at(-5)), msg(7, at(3).Add(time.Nanosecond)),
		msg(6, at(3).Add(-time.Nanosecond)), msg(8, at(2)),
	}
	update(t, s, putInbox(inbox("bob", 0)), putInbox(inbox("dave", 0)),
		putConv(conv("bob", "dave", at(3))), putConv(conv("dave", "bob", at(3))), putConv(conv("bob", "carol", at(0))))
	var ops []op
	for i, r := range recs {
		ops = append(ops, putMsg("bob", "dave", r))
		if i == 3 {
			update(t, s, ops...)
			ops = nil
		}
	}
	ops = append(ops, putMsg("dave", "bob", msg(10, at(0))), putMsg("bob", "carol", msg(11, at(2))))
	update(t, s, ops...)
	slices.SortFunc(recs, byMsgKey)
	return recs
}

func testMessagesOrder(t *testing.T, s messaging.Store) {
	want := msgSeed(t, s)
	asc := msgs(t, s, "bob", "dave", nil, false, noLimit)
	assert.Equal(t, []uint64{4, 1, 2, 3, 9, 8, 6, 5, 7}, ids(asc), "ascending")
	assert.Equal(t, normMsgs(want), normMsgs(asc), "records")
	assert.Equal(t, []uint64{7, 5, 6, 8, 9, 3, 2, 1, 4}, ids(msgs(t, s, "bob", "dave", nil, true, noLimit)), "descending")
}

func testMessagesEqualCreated(t *testing.T, s messaging.Store) {
	update(t, s, putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base)),
		putMsg("bob", "dave", msg(30, base)), putMsg("bob", "dave", msg(10, base)),
		putMsg("bob", "dave", msg(1, base.Add(time.Nanosecond))), putMsg("bob", "dave", msg(99, base.Add(-time.Nanosecond))))
	update(t, s, putMsg("bob", "dave", msg(20, base)), putMsg("bob", "dave", msg(15, base)))
	assert.Equal(t, []uint64{99, 10, 15, 20, 30, 1}, ids(msgs(t, s, "bob", "dave", nil, false, noLimit)))
	assert.Equal(t, []uint64{1, 30, 20, 15, 10, 99}, ids(msgs(t, s, "bob", "dave", nil, true, noLimit)))
}

func testMessagesBackdated(t *testing.T, s messaging.Store) {
	update(t, s, putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base)),
		putMsg("bob", "dave", msg(1, at(0))), putMsg("bob", "dave", msg(2, at(1))), putMsg("bob", "dave", msg(3, at(2))))
	update(t, s, putMsg("bob", "dave", msg(4, at(-1))))
	update(t, s, putMsg("bob", "dave", msg(5, at(1))))
	assert.Equal(t, []uint64{4, 1, 2, 5, 3}, ids(msgs(t, s, "bob", "dave", nil, false, noLimit)))
	assert.Equal(t, []uint64{3, 5, 2, 1, 4}, ids(msgs(t, s, "bob", "dave", nil, true, noLimit)))
	assert.Equal(t, []uint64{4}, ids(msgs(t, s, "bob", "dave", nil, false, 1)), "oldest")
	assert.Equal(t, []uint64{1, 2, 3, 4, 5}, ids(msgsByID(t, s, "bob", "dave", 0, noLimit)))
}

func testMessagesExtremeTimes(t *testing.T, s messaging.Store) {
	ops := []op{putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base))}
	var want []uint64
	for i, tm := range extremeTimes {
		id := uint64(100 - i)
		want = append(want, id)
		ops = append(ops, putMsg("bob", "dave", msg(id, tm)))
	}
	update(t, s, ops...)
	got := msgs(t, s, "bob", "dave", nil, false, noLimit)
	assert.Equal(t, want, ids(got), "ascending")
	assert.Equal(t, reversed(want), ids(msgs(t, s, "bob", "dave", nil, true, noLimit)), "descending")
	for i, m := range got {
		assert.True(t, m.Created.Equal(extremeTimes[i]), "ID %d: got %v, want %v", m.ID, m.Created, extremeTimes[i])
	}
}

func testMessagesAfterStored(t *testing.T, s messaging.Store) {
	want := msgSeed(t, s)
	for i, m := range want {
		k := m.Key()
		assert.Equal(t, ids(want[i+1:]), ids(msgs(t, s, "bob", "dave", &k, false, noLimit)), "after ID %d", m.ID)
		assert.Equal(t, ids(reversed(want[:i])), ids(msgs(t, s, "bob", "dave", &k, true, noLimit)), "before ID %d, reverse", m.ID)
		assert.Equal(t, ids(want[i+1:min(i+3, len(want))]), ids(msgs(t, s, "bob", "dave", &k, false, 2)), "after ID %d, limit 2", m.ID)
		assert.Equal(t, ids(reversed(want[max(i-2, 0):i])), ids(msgs(t, s, "bob", "dave", &k, true, 2)), "before ID %d, reverse, limit 2", m.ID)
	}
}

func testMessagesAfterUnstored(t *testing.T, s messaging.Store) {
	want := msgSeed(t, s)
	afters := []messaging.MessageKey{
		{Created: at(1), ID: 5},   // inside an equal-Created run
		{Created: at(1), ID: 0},   // before it
		{Created: at(1), ID: 100}, // after it
		{Created: at(1), ID: math.MaxUint64},
		{Created: at(2).Add(1), ID: 0},
		{Created: at(2), ID: 7}, // before ID 8, same Created
		{Created: at(-100), ID: 0},
		{Created: at(100), ID: 0},
		{Created: time.Time{}, ID: 0},
		{Created: extremeTimes[3], ID: 1},
		{Created: extremeTimes[len(extremeTimes)-1], ID: math.MaxUint64},
	}
	for _, after := range afters {
		var asc, desc []messaging.MessageRecord
		for _, m := range want {
			if c := m.Key().Compare(after); c > 0 {
				asc = append(asc, m)
			} else if c < 0 {
				desc = append([]messaging.MessageRecord{m}, desc...)
			}
		}
		assert.Equal(t, ids(asc), ids(msgs(t, s, "bob", "dave", &after, false, noLimit)), "after %v #%d", after.Created, after.ID)
		assert.Equal(t, ids(desc), ids(msgs(t, s, "bob", "dave", &after, true, noLimit)), "before %v #%d, reverse", after.Created, after.ID)
	}
}

func testMessagesPaging(t *testing.T, s messaging.Store) {
	want := msgSeed(t, s)
	assert.Empty(t, msgs(t, s, "bob", "dave", nil, false, 0), "limit 0")
	assert.Empty(t, msgs(t, s, "bob", "dave", nil, true, 0), "limit 0, reverse")
	for _, reverse := range []bool{false, true} {
		exp := want
		if reverse {
			exp = reversed(want)
		}
		for _, limit := range []int{1, 2, 4, len(want)} {
			var got []messaging.MessageRecord
			var after *messaging.MessageKey
			for range len(want) + 2 {
				page := msgs(t, s, "bob", "dave", after, reverse, limit)
				assert.Len(t, page, min(limit, len(want)-len(got)), "limit %d reverse %v", limit, reverse)
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				k := page[len(page)-1].Key()
				after = &k
			}
			assert.Equal(t, ids(exp), ids(got), "limit %d reverse %v", limit, reverse)
		}
	}
}

func testMessagesUnknownConversation(t *testing.T, s messaging.Store) {
	msgSeed(t, s)
	update(t, s, putInbox(inbox("bo", 0)))
	k := messaging.MessageKey{Created: at(0)}
	for _, p := range []pair{{"bob", "dav"}, {"bob", "daves"}, {"bo", "bdave"}, {"bo", "b"}, {"erin", "dave"}, {"dave", "carol"}, {"carol", "bob"}} {
		assert.Empty(t, msgs(t, s, p.Owner, p.Other, nil, false, noLimit), "%q", p)
		assert.Empty(t, msgs(t, s, p.Owner, p.Other, nil, true, noLimit), "%q reverse", p)
		assert.Empty(t, msgs(t, s, p.Owner, p.Other, &k, false, noLimit), "%q after", p)
		assert.Empty(t, msgsByID(t, s, p.Owner, p.Other, 0, noLimit), "%q by ID", p)
	}
}

func testMessagesDoNotMix(t *testing.T, s messaging.Store) {
	m := newModel()
	ops := []op{m.PutInbox(inbox("bob", 0)), m.PutInbox(inbox("dave", 0)), m.PutInbox(inbox("bo", 0))}
	pairs := []pair{{"bob", "dave"}, {"dave", "bob"}, {"bob", "dav"}, {"bob", "dave "}, {"bob", "davey"}, {"bo", "bdave"}, {"bo", "b"}}
	for i, p := range pairs {
		ops = append(ops, m.PutConversation(conv(p.Owner, p.Other, at(i))))
		for j := range 3 {
			id := uint64(1 + j + i%2) // overlapping IDs
			ops = append(ops, m.PutMessage(p.Owner, p.Other, withText(msg(id, at(j-i)), fmt.Sprintf("%q to %q #%d", p.Owner, p.Other, id))))
		}
	}
	update(t, s, ops...)
	assertState(t, s, m)
	update(t, s, m.DeleteMessage("bob", "dave", 2), m.DeleteConversation("bob", "davey"))
	assertState(t, s, m, "after deletes")
}

func testMessageDeleteAllViews(t *testing.T, s messaging.Store) {
	want := msgSeed(t, s)
	deleted := []messaging.MessageRecord{getMsg(t, s, "bob", "dave", 3), getMsg(t, s, "bob", "dave", 4), getMsg(t, s, "bob", "dave", 7)}
	update(t, s, delMsg("bob", "dave", 3), delMsg("bob", "dave", 4))
	update(t, s, delMsg("bob", "dave", 7))
	rest := slices.DeleteFunc(slices.Clone(want), func(m messaging.MessageRecord) bool {
		return m.ID == 3 || m.ID == 4 || m.ID == 7
	})
	for _, d := range deleted {
		err := lookupErr(t, s, func(tx messaging.ReadTx) error { _, err := tx.Message("bob", "dave", d.ID); return err })
		assert.ErrorIs(t, err, messaging.ErrNotFound, "Message %d", d.ID)
	}
	assert.Equal(t, ids(rest), ids(msgs(t, s, "bob", "dave", nil, false, noLimit)), "ascending")
	assert.Equal(t, ids(reversed(rest)), ids(msgs(t, s, "bob", "dave", nil, true, noLimit)), "descending")
	assert.Equal(t, []uint64{1, 2, 5, 6, 8, 9}, ids(msgsByID(t, s, "bob", "dave", 0, noLimit)), "by ID")
	assert.Equal(t, []uint64{5, 6, 8, 9}, ids(msgsByID(t, s, "bob", "dave", 3, noLimit)), "by ID after a deleted ID")
	k := deleted[0].Key()
	assert.Equal(t, []uint64{9, 8, 6, 5}, ids(msgs(t, s, "bob", "dave", &k, false, noLimit)), "after a deleted message")
	assert.Equal(t, []uint64{10}, ids(msgs(t, s, "dave", "bob", nil, false, noLimit)), "other conversations untouched")
	assert.Equal(t, []uint64{11}, ids(msgs(t, s, "bob", "carol", nil, false, noLimit)), "other conversations untouched")
}

func testMessageRecordsOfOthersUnchanged(t *testing.T, s messaging.Store) {
	m := newModel()
	update(t, s, m.PutInbox(inbox("bob", 3)), m.PutConversation(conv("bob", "dave", at(1))))
	update(t, s, m.PutMessage("bob", "dave", msg(1, at(5))), m.PutMessage("bob", "dave", msg(2, at(-5))))
	assertState(t, s, m, "PutMessage changed the conversation or inbox record")
	update(t, s, m.DeleteMessage("bob", "dave", 1), m.DeleteMessage("bob", "dave", 2))
	assertState(t, s, m, "DeleteMessage changed the conversation or inbox record")
}
