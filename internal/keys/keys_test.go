package keys

import (
	"bytes"
	"cmp"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// compareMessage is the order of messages in a conversation: created, then
// id (messaging.MessageKey.Compare).
func compareMessage(t1 time.Time, id1 uint64, t2 time.Time, id2 uint64) int {
	if c := t1.Compare(t2); c != 0 {
		return c
	}
	return cmp.Compare(id1, id2)
}

// compareConversation is the order of an inbox's conversations: lastUpdate
// descending, then other ascending (messaging.ConversationKey.Compare).
func compareConversation(t1 time.Time, o1 string, t2 time.Time, o2 string) int {
	if c := t1.Compare(t2); c != 0 {
		return -c
	}
	return cmp.Compare(o1, o2)
}

// FuzzKeyEncoding checks the key encodings: they round-trip, byte order is
// message / conversation order for every time.Time (including the extremes,
// where Unix seconds wrap), and distinct keys never collide.
func FuzzKeyEncoding(f *testing.F) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
	f.Add(int64(0), uint32(0), uint64(0), "", int64(0), uint32(0), uint64(0), "")
	f.Add(t0.Unix(), uint32(t0.Nanosecond()), uint64(1), "bob", t0.Unix(), uint32(t0.Nanosecond()+1), uint64(1), "bo")
	f.Add(int64(-1), uint32(999999999), uint64(2), "a", int64(0), uint32(0), uint64(1), "a\x00")
	f.Add(int64(math.MinInt64), uint32(0), uint64(math.MaxUint64), "z", int64(math.MaxInt64), uint32(999999999), uint64(0), "")
	f.Add(int64(math.MaxInt64), uint32(0), uint64(5), "x", int64(math.MinInt64), uint32(0), uint64(5), "x")
	f.Add(time.Time{}.Unix(), uint32(0), uint64(0), "é", int64(-62135596801), uint32(5), uint64(0), "é")
	f.Fuzz(func(t *testing.T, s1 int64, ns1 uint32, id1 uint64, o1 string, s2 int64, ns2 uint32, id2 uint64, o2 string) {
		// time.Unix with wrapping seconds reaches every instant package
		// time can represent.
		t1 := time.Unix(s1, int64(ns1%1e9))
		t2 := time.Unix(s2, int64(ns2%1e9))

		e1 := Time(t1)
		got, err := GetTime(e1)
		require.NoError(t, err)
		assert.True(t, got.Equal(t1), "time round trip: %v != %v", got, t1)
		assert.Equal(t, t1.UTC(), got)
		assert.Equal(t, t1.Compare(t2), bytes.Compare(e1, Time(t2)), "time order: %v vs %v", t1, t2)
		assert.Equal(t, t2.Compare(t1), bytes.Compare(InvertedTime(t1), InvertedTime(t2)))

		b1, b2 := Message(t1, id1), Message(t2, id2)
		assert.Equal(t, compareMessage(t1, id1, t2, id2), bytes.Compare(b1, b2), "message order: (%v, %d) vs (%v, %d)", t1, id1, t2, id2)
		dt, did, err := ParseMessage(b1)
		require.NoError(t, err)
		assert.Equal(t, t1.UTC(), dt)
		assert.Equal(t, id1, did)

		c1, c2 := Conversation(t1, o1), Conversation(t2, o2)
		assert.Equal(t, compareConversation(t1, o1, t2, o2), bytes.Compare(c1, c2), "conversation order: (%v, %q) vs (%v, %q)", t1, o1, t2, o2)
		dt, dother, err := ParseConversation(c1)
		require.NoError(t, err)
		assert.Equal(t, t1.UTC(), dt)
		assert.Equal(t, o1, dother)
		// No collisions: equal encodings only for equal keys, also when
		// the same time is shared and only the user ids differ.
		if bytes.Equal(c1, c2) {
			assert.Equal(t, o1, o2)
			assert.True(t, t1.Equal(t2))
		}
		same := Conversation(t1, o2)
		assert.Equal(t, o1 == o2, bytes.Equal(c1, same))

		assert.Equal(t, cmp.Compare(id1, id2), bytes.Compare(ID(id1), ID(id2)), "ID order")
	})
}

// TestParseRefusesMalformed: keys of the wrong length, and times whose
// nanoseconds are out of range, are errors, not garbage.
func TestParseRefusesMalformed(t *testing.T) {
	bad := Time(time.Unix(0, 0))
	bad[8], bad[9], bad[10], bad[11] = 0xff, 0xff, 0xff, 0xff // 4294967295 ns
	_, err := GetTime(bad)
	assert.Error(t, err, "time with 4294967295 ns")

	_, _, err = ParseMessage([]byte("short"))
	assert.Error(t, err, "short message key")
	_, _, err = ParseMessage(append(bytes.Clone(bad), ID(1)...))
	assert.Error(t, err, "message key with a bad time")

	_, _, err = ParseConversation(bad[:5])
	assert.Error(t, err, "short conversation key")
	inv := bytes.Clone(bad)
	for i := range inv {
		inv[i] = ^inv[i]
	}
	_, _, err = ParseConversation(append(inv, "bob"...))
	assert.Error(t, err, "conversation key with a bad time")
}
