package storetest

// Tests of ReadTx.MessagesByID.

import (
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/socialkit/messaging"
)

func testMessagesByIDAscending(t *testing.T, s messaging.Store) {
	update(t, s, putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base)), putConv(conv("bob", "carol", base)))
	for _, id := range []uint64{40, 2, 11, 10, 4} {
		update(t, s, putMsg("bob", "dave", msg(id, at(-int(id)))))
	}
	update(t, s, putMsg("bob", "carol", msg(3, base)), putMsg("bob", "carol", msg(12, base)))
	for _, c := range []struct {
		after uint64
		limit int
		want  []uint64
	}{
		{0, noLimit, []uint64{2, 4, 10, 11, 40}},
		{1, noLimit, []uint64{2, 4, 10, 11, 40}},
		{2, noLimit, []uint64{4, 10, 11, 40}},
		{3, noLimit, []uint64{4, 10, 11, 40}},
		{5, 2, []uint64{10, 11}},
		{10, 1, []uint64{11}},
		{11, noLimit, []uint64{40}},
		{39, noLimit, []uint64{40}},
		{40, noLimit, nil},
		{math.MaxUint64, noLimit, nil},
		{0, 0, nil},
	} {
		assert.Equal(t, c.want, ids(msgsByID(t, s, "bob", "dave", c.after, c.limit)), "after %d limit %d", c.after, c.limit)
	}
}

func testMessagesByIDLargeIDs(t *testing.T, s messaging.Store) {
	large := []uint64{math.MaxUint64, 1 << 63, 1, 1<<63 - 1, 1 << 32, math.MaxUint64 - 1, 1<<32 + 1, 1<<63 + 1, 255, 256}
	ops := []op{putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base))}
	for _, id := range large {
		ops = append(ops, putMsg("bob", "dave", msg(id, base)))
	}
	update(t, s, ops...)
	want := slices.Clone(large)
	slices.Sort(want)
	assert.Equal(t, want, ids(msgsByID(t, s, "bob", "dave", 0, noLimit)), "by ID")
	assert.Equal(t, want, ids(msgs(t, s, "bob", "dave", nil, false, noLimit)), "equal Created: by unsigned ID")
	assert.Equal(t, []uint64{1 << 63, 1<<63 + 1}, ids(msgsByID(t, s, "bob", "dave", 1<<63-1, 2)))
	assert.Equal(t, []uint64{math.MaxUint64}, ids(msgsByID(t, s, "bob", "dave", math.MaxUint64-1, noLimit)))
	assert.Empty(t, msgsByID(t, s, "bob", "dave", math.MaxUint64, noLimit), "nothing after the largest ID")
	k := messaging.MessageKey{Created: base, ID: math.MaxUint64}
	assert.Empty(t, msgs(t, s, "bob", "dave", &k, false, noLimit), "nothing after the largest position")
	assert.Equal(t, normMsg(msg(math.MaxUint64-1, base)), normMsg(getMsg(t, s, "bob", "dave", math.MaxUint64-1)))
}
