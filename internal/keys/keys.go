// Package keys holds the order-preserving byte encodings of the BoltStore's
// keys: times, message keys and conversation-index keys. Byte order of an
// encoding is the order of what it encodes, so a bbolt cursor walks a bucket
// in that order and a Seek finds a position in it. The layout they fill is
// documented on boltFormatVersion in package messaging.
//
// The errors returned here say only what does not decode, without the
// "messaging: " prefix: package messaging wraps them as corrupt-store errors
// before they reach anyone.
package keys

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// TimeLen is the length of an encoded time.
const TimeLen = 12

// MessageLen is the length of an encoded message key.
const MessageLen = TimeLen + 8

// unixToInternal is the number of seconds from 0001-01-01 to 1970-01-01 UTC,
// as in package time, whose own range is int64 seconds since 0001-01-01.
const unixToInternal uint64 = 62135596800

// PutTime writes time(t), the order-preserving encoding of t, into
// b[:TimeLen]: the seconds since 0001-01-01 UTC as a big-endian int64 with
// the sign bit flipped, then the nanoseconds as a big-endian uint32.
//
// t.Unix() may wrap around for times far outside ±292 billion years, but it
// wraps exactly as package time computes it, so adding unixToInternal back
// modulo 2⁶⁴ recovers the seconds since year 1, which never overflow.
func PutTime(b []byte, t time.Time) {
	sec := uint64(t.Unix()) + unixToInternal
	binary.BigEndian.PutUint64(b, sec^(1<<63))
	binary.BigEndian.PutUint32(b[8:], uint32(t.Nanosecond()))
}

// GetTime decodes b[:TimeLen], in UTC, to the same instant PutTime encoded.
func GetTime(b []byte) (time.Time, error) {
	ns := binary.BigEndian.Uint32(b[8:])
	if ns >= 1e9 {
		return time.Time{}, fmt.Errorf("time with %d nanoseconds", ns)
	}
	sec := (binary.BigEndian.Uint64(b) ^ (1 << 63)) - unixToInternal
	return time.Unix(int64(sec), int64(ns)).UTC(), nil
}

// Time returns time(t): byte order is time order.
func Time(t time.Time) []byte {
	b := make([]byte, TimeLen)
	PutTime(b, t)
	return b
}

// InvertedTime returns ^time(t), the bitwise NOT of Time: byte order is
// newest first.
func InvertedTime(t time.Time) []byte {
	b := Time(t)
	for i := range b {
		b[i] = ^b[i]
	}
	return b
}

// ID returns the big-endian encoding of a message ID: byte order is ID
// order.
func ID(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// Message returns time(created) ‖ ID(id), the key of a message in its
// conversation: byte order is (created, id) order.
func Message(created time.Time, id uint64) []byte {
	b := make([]byte, TimeLen, MessageLen)
	PutTime(b, created)
	return binary.BigEndian.AppendUint64(b, id)
}

// ParseMessage decodes a key made by Message.
func ParseMessage(b []byte) (created time.Time, id uint64, err error) {
	if len(b) != MessageLen {
		return time.Time{}, 0, fmt.Errorf("message key of %d bytes", len(b))
	}
	created, err = GetTime(b)
	if err != nil {
		return time.Time{}, 0, err
	}
	return created, binary.BigEndian.Uint64(b[TimeLen:]), nil
}

// Conversation returns ^time(lastUpdate) ‖ other, the key of a conversation
// in its owner's index: byte order is lastUpdate descending, then other
// ascending. The time part has a fixed length, so the raw other that
// follows cannot collide with another.
func Conversation(lastUpdate time.Time, other string) []byte {
	return append(InvertedTime(lastUpdate), other...)
}

// ParseConversation decodes a key made by Conversation.
func ParseConversation(b []byte) (lastUpdate time.Time, other string, err error) {
	if len(b) < TimeLen {
		return time.Time{}, "", fmt.Errorf("conversation key of %d bytes", len(b))
	}
	var tb [TimeLen]byte
	for i := range tb {
		tb[i] = ^b[i]
	}
	lastUpdate, err = GetTime(tb[:])
	if err != nil {
		return time.Time{}, "", err
	}
	return lastUpdate, string(b[TimeLen:]), nil
}

// ParseID decodes a key made by ID.
func ParseID(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("ID key of %d bytes", len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// Pair returns user ‖ 0x00 ‖ rest: the key of something of user's named by
// rest (a blocked user, an idempotency key). user must hold no 0x00 (user
// ids hold no control character), so the first 0x00 ends it, byte order is
// (user, rest) order, and rest may hold any byte.
func Pair(user, rest string) []byte {
	b := make([]byte, 0, len(user)+1+len(rest))
	b = append(b, user...)
	b = append(b, 0)
	return append(b, rest...)
}

// ParsePair decodes a key made by Pair.
func ParsePair(b []byte) (user, rest string, err error) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", "", fmt.Errorf("pair key %q without its separator", b)
	}
	return string(b[:i]), string(b[i+1:]), nil
}
