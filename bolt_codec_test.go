package messaging

// Tests of bolt_codec.go: records and keys round-trip, in order.

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBoltRecordRoundTrip(t *testing.T) {
	m := MessageRecord{ID: math.MaxUint64, Sender: "bøb", Recipient: "dave \"x\"", Text: "héllo\n", Created: time.Date(-5000, 1, 1, 0, 0, 0, 999999999, time.UTC)}
	gotM, err := decodeMessage(appendMessage(nil, m))
	require.NoError(t, err)
	assert.Equal(t, m, gotM)

	c := ConversationRecord{Owner: "o", Other: "x", Messages: 3, Unread: -1, LastUpdate: t0, FirstID: 1<<63 | 5, MaxID: 9, ReadMark: 8, PeerReadMark: 7, Last: m}
	gotC, err := decodeConversation("o", "x", encodeConversation(c))
	require.NoError(t, err)
	assert.Equal(t, c, gotC)

	var zero ConversationRecord
	gotC, err = decodeConversation("", "", encodeConversation(zero))
	require.NoError(t, err)
	assert.Equal(t, zero, gotC)
	assert.True(t, gotC.LastUpdate.IsZero())

	in := InboxRecord{Owner: "o", Unread: math.MaxInt}
	gotI, err := decodeInbox("o", encodeInbox(in))
	require.NoError(t, err)
	assert.Equal(t, in, gotI)

	// Every strict prefix of a record, and a record with a byte more, fail.
	full := encodeConversation(c)
	for n := range len(full) {
		_, err := decodeConversation("o", "x", full[:n])
		assert.ErrorIs(t, err, ErrCorrupt, "prefix of %d bytes", n)
	}
	_, err = decodeConversation("o", "x", append(full, 0))
	assert.ErrorIs(t, err, ErrCorrupt)

	flagged := m
	flagged.DeletedUnread = true
	gotM, err = decodeMessage(appendMessage(nil, flagged))
	require.NoError(t, err)
	assert.Equal(t, flagged, gotM)
	bad := appendMessage(nil, m)
	bad[len(bad)-1] = 0x80
	_, err = decodeMessage(bad)
	assert.ErrorIs(t, err, ErrCorrupt, "unknown flags")
}

// Files written before record version 2 (no flags byte) still read.
func TestBoltRecordVersion1Decodes(t *testing.T) {
	m := MessageRecord{ID: 7, Sender: "bob", Recipient: "dave", Text: "old", Created: t0}
	v2 := appendMessage(nil, m)
	v1 := append([]byte{1}, v2[1:len(v2)-2]...) // version 1: no flags byte, no metadata
	got, err := decodeMessage(v1)
	require.NoError(t, err)
	assert.Equal(t, m, got)
	_, err = decodeMessage(append([]byte{3}, v2[1:]...))
	assert.ErrorIs(t, err, ErrCorrupt, "a version from the future")
}

// FuzzDecodeRecord: arbitrary bytes decode to a record or an error, never a
// panic, and what decodes survives a re-encoding unchanged. (Bytes may differ:
// an overlong uvarint decodes too.)
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeInbox(InboxRecord{Unread: 3}))
	f.Add(appendMessage(nil, MessageRecord{ID: 1, Sender: "a", Text: "t", Created: t0}))
	f.Add(encodeConversation(ConversationRecord{Messages: 1, LastUpdate: t0, FirstID: 2, MaxID: 3, Last: MessageRecord{Text: "x"}}))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := decodeMessage(b); err == nil {
			again, err := decodeMessage(appendMessage(nil, m))
			assert.NoError(t, err)
			assert.Equal(t, m, again)
		}
		if c, err := decodeConversation("o", "x", b); err == nil {
			again, err := decodeConversation("o", "x", encodeConversation(c))
			assert.NoError(t, err)
			assert.Equal(t, c, again)
		}
		if in, err := decodeInbox("o", b); err == nil {
			again, err := decodeInbox("o", encodeInbox(in))
			assert.NoError(t, err)
			assert.Equal(t, in, again)
		}
	})
}

// TestBoltKeysFollowRecordOrder: the key encodings (fuzzed in
// internal/keys) order keys as MessageKey.Compare and
// ConversationKey.Compare do, and decode back to the same key.
func TestBoltKeysFollowRecordOrder(t *testing.T) {
	times := []time.Time{
		time.Unix(math.MinInt64, 0), time.Time{}, time.Unix(-1, 999999999), time.Unix(0, 0),
		t0, t0.Add(time.Nanosecond), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Unix(math.MaxInt64, 999999999),
	}
	var mks []MessageKey
	var cks []ConversationKey
	for _, tm := range times {
		for _, id := range []uint64{0, 1, math.MaxUint64} {
			mks = append(mks, MessageKey{Created: tm, ID: id})
		}
		for _, other := range []string{"", "a", "a\x00", "b", "é"} {
			cks = append(cks, ConversationKey{LastUpdate: tm, Other: other})
		}
	}
	for _, a := range mks {
		for _, b := range mks {
			assert.Equal(t, a.Compare(b), bytes.Compare(encodeMessageKey(a), encodeMessageKey(b)), "%v vs %v", a, b)
		}
		got, err := decodeMessageKey(encodeMessageKey(a))
		require.NoError(t, err)
		assert.Equal(t, MessageKey{Created: a.Created.UTC(), ID: a.ID}, got)
	}
	for _, a := range cks {
		for _, b := range cks {
			assert.Equal(t, a.Compare(b), bytes.Compare(encodeConversationKey(a), encodeConversationKey(b)), "%+v vs %+v", a, b)
		}
		got, err := decodeConversationKey(encodeConversationKey(a))
		require.NoError(t, err)
		assert.Equal(t, ConversationKey{LastUpdate: a.LastUpdate.UTC(), Other: a.Other}, got)
	}
}
