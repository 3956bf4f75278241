package storetest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/socialkit/messaging"
)

// Fixtures: the times, user ids and records the suite stores.

// noLimit is a limit larger than anything the suite stores in one list.
const noLimit = 10000

// errBoom is what a failing transaction function returns.
var errBoom = errors.New("storetest: deliberate failure")

// base is an ordinary time with nanoseconds; at(n) is n seconds after it.
var base = time.Date(2024, time.May, 6, 7, 8, 9, 123456789, time.UTC)

func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

// extremeTimes, ascending: the zero time, times outside UnixNano's range
// (before 1678, after 2262), negative Unix times, neighbours one nanosecond
// apart, and the last nanosecond of year 9999.
var extremeTimes = []time.Time{
	{},
	time.Date(1, time.January, 1, 0, 0, 0, 1, time.UTC),
	time.Date(1600, time.February, 29, 12, 0, 0, 500, time.UTC),
	time.Date(1969, time.December, 31, 23, 59, 59, 999999999, time.UTC),
	time.Unix(0, 0).UTC(),
	time.Unix(0, 1).UTC(),
	base,
	base.Add(time.Nanosecond),
	time.Date(2300, time.January, 1, 0, 0, 0, 0, time.UTC),
	time.Date(9999, time.December, 31, 23, 59, 59, 999999999, time.UTC),
}

// trickyIDs are user ids that naive key encodings confuse: separators,
// escapes, prefixes of each other, pairs whose concatenations coincide
// ("ab"+"c", "a"+"bc", "a/b"+"c", "a"+"b/c"...), Unicode in two
// normalisation forms, and the longest ids.
var trickyIDs = []string{
	"a", "ab", "abc", "a b", "a/b", "a:b", "a.b", "a%b",
	"b", "bc", "b c", "b/c", "b:c", "c",
	"/", ":", "%", "%2F", `"`, "'", `\`, ".", "..", " x ",
	"Zoë", "Zoe\u0308", "日本", "日本語", "😀",
	strings.Repeat("x", 255), strings.Repeat("é", 127),
}

func inbox(owner string, unread int) messaging.InboxRecord {
	return messaging.InboxRecord{Owner: owner, Unread: unread}
}

// conv returns a conversation record with every field set, distinct per pair.
func conv(owner, other string, last time.Time) messaging.ConversationRecord {
	return messaging.ConversationRecord{
		Owner:        owner,
		Other:        other,
		Messages:     len(owner) + 1,
		Unread:       len(other),
		LastUpdate:   last,
		FirstID:      uint64(10 + len(other)),
		MaxID:        100,
		ReadMark:     90,
		PeerReadMark: 80,
		Last: messaging.MessageRecord{
			ID: 100, Sender: other, Recipient: owner,
			Text: "last from " + other, Created: last,
		},
	}
}

func msg(id uint64, created time.Time) messaging.MessageRecord {
	return messaging.MessageRecord{
		ID: id, Sender: "sender", Recipient: "recipient",
		Text:    fmt.Sprintf("message %d at %s", id, created.Format(time.RFC3339Nano)),
		Created: created,
	}
}

func withText(m messaging.MessageRecord, text string) messaging.MessageRecord {
	m.Text = text
	return m
}
