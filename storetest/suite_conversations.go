package storetest

// Tests of ReadTx.Conversations: the LastUpdate order, positions and paging.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// convSeed puts bob's conversations (several sharing a LastUpdate) in an
// order unrelated to theirs, and returns them in the order Conversations
// must give.
func convSeed(t *testing.T, s messaging.Store) []messaging.ConversationRecord {
	t.Helper()
	recs := []messaging.ConversationRecord{
		conv("bob", "carol", at(2)),
		conv("bob", "dave", at(5)),
		conv("bob", "al", at(2)),
		conv("bob", "ed", at(-3)),
		conv("bob", "erin", at(5)),
		conv("bob", "al b", at(2)),
		conv("bob", "zed", at(0)),
		conv("bob", "Zoë", at(2)),
		conv("bob", "fay", at(2).Add(time.Nanosecond)),
	}
	ops := []op{putInbox(inbox("bob", 0)), putInbox(inbox("carol", 0))}
	for i, r := range recs {
		ops = append(ops, putConv(r))
		if i == 4 {
			update(t, s, ops...) // two transactions
			ops = nil
		}
	}
	ops = append(ops, putConv(conv("carol", "bob", at(3))))
	update(t, s, ops...)
	slices.SortFunc(recs, byConvKey)
	return recs
}

func testConversationsOrder(t *testing.T, s messaging.Store) {
	want := convSeed(t, s)
	got := convs(t, s, "bob", nil, noLimit)
	assert.Equal(t, []string{"dave", "erin", "fay", "Zoë", "al", "al b", "carol", "zed", "ed"}, others(got))
	assert.Equal(t, normConvs(want), normConvs(got), "records")
}

func testConversationsTies(t *testing.T, s messaging.Store) {
	names := []string{"b", "日本", "ab", "a:b", "a/b", "a b", "a", "Zoë", "Zoe\u0308", "a.b"}
	ops := []op{putInbox(inbox("bob", 0))}
	for _, n := range names {
		ops = append(ops, putConv(conv("bob", n, base)))
	}
	update(t, s, ops...)
	want := slices.Clone(names)
	slices.Sort(want)
	assert.Equal(t, want, others(convs(t, s, "bob", nil, noLimit)))
}

func testConversationsExtremeTimes(t *testing.T, s messaging.Store) {
	ops := []op{putInbox(inbox("bob", 0))}
	var want []string
	for i, tm := range extremeTimes {
		name := fmt.Sprintf("t%02d", i)
		want = append([]string{name}, want...)
		ops = append(ops, putConv(conv("bob", name, tm)))
	}
	slices.Reverse(ops[1:])
	update(t, s, ops...)
	got := convs(t, s, "bob", nil, noLimit)
	assert.Equal(t, want, others(got), "newest first")
	for i, c := range got {
		tm := extremeTimes[len(extremeTimes)-1-i]
		assert.True(t, c.LastUpdate.Equal(tm), "%s: got %v, want %v", c.Other, c.LastUpdate, tm)
	}
}

func testConversationsAfterStored(t *testing.T, s messaging.Store) {
	want := convSeed(t, s)
	for i, c := range want {
		k := c.Key()
		assert.Equal(t, others(want[i+1:]), others(convs(t, s, "bob", &k, noLimit)), "after %q", c.Other)
		assert.Equal(t, others(want[i+1:min(i+3, len(want))]), others(convs(t, s, "bob", &k, 2)), "after %q, limit 2", c.Other)
	}
}

func testConversationsAfterUnstored(t *testing.T, s messaging.Store) {
	want := convSeed(t, s)
	afters := []messaging.ConversationKey{
		{LastUpdate: at(2), Other: "am"},                       // inside a tie
		{LastUpdate: at(2), Other: ""},                         // before a tie
		{LastUpdate: at(2), Other: "\U0010FFFF"},               // after a tie
		{LastUpdate: at(2), Other: "al "},                      // between "al" and "al b"
		{LastUpdate: at(3), Other: "bob"},                      // between two times
		{LastUpdate: at(2).Add(-time.Nanosecond), Other: "a"},  // just older than a tie
		{LastUpdate: at(5).Add(time.Nanosecond), Other: "zzz"}, // newer than all
		{LastUpdate: at(-4), Other: ""},                        // older than all
		{LastUpdate: extremeTimes[len(extremeTimes)-1], Other: "x"},
		{LastUpdate: time.Time{}, Other: ""},
		{LastUpdate: extremeTimes[3], Other: "x"},
	}
	for _, after := range afters {
		var exp []messaging.ConversationRecord
		for _, c := range want {
			if c.Key().Compare(after) > 0 {
				exp = append(exp, c)
			}
		}
		assert.Equal(t, others(exp), others(convs(t, s, "bob", &after, noLimit)), "after %v %q", after.LastUpdate, after.Other)
	}
}

func testConversationsPaging(t *testing.T, s messaging.Store) {
	want := convSeed(t, s)
	assert.Empty(t, convs(t, s, "bob", nil, 0), "limit 0")
	for _, limit := range []int{1, 2, 4, len(want)} {
		var got []messaging.ConversationRecord
		var after *messaging.ConversationKey
		for range len(want) + 2 {
			page := convs(t, s, "bob", after, limit)
			assert.Len(t, page, min(limit, len(want)-len(got)), "limit %d", limit)
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			k := page[len(page)-1].Key()
			after = &k
		}
		assert.Equal(t, others(want), others(got), "limit %d", limit)
	}
}

func testConversationsMove(t *testing.T, s messaging.Store) {
	want := convSeed(t, s)
	oldEd := want[len(want)-1]
	require.Equal(t, "ed", oldEd.Other)

	check := func(ed messaging.ConversationRecord, msgAndArgs ...any) {
		t.Helper()
		exp := slices.DeleteFunc(slices.Clone(want), func(c messaging.ConversationRecord) bool { return c.Other == "ed" })
		exp = append(exp, ed)
		slices.SortFunc(exp, byConvKey)
		assert.Equal(t, normConvs(exp), normConvs(convs(t, s, "bob", nil, noLimit)), msgAndArgs...)
		assert.Equal(t, normConv(ed), normConv(getConv(t, s, "bob", "ed")), msgAndArgs...)
		old := oldEd.Key()
		exp = slices.DeleteFunc(exp, func(c messaging.ConversationRecord) bool { return c.Key().Compare(old) <= 0 })
		assert.Equal(t, others(exp), others(convs(t, s, "bob", &old, noLimit)), "after its old position")
	}
	for _, tm := range []time.Time{at(10), at(2), at(5), at(-100), extremeTimes[0], at(-3)} {
		ed := conv("bob", "ed", tm)
		ed.Messages = int(tm.Unix() & 0xff)
		update(t, s, putConv(ed))
		check(ed, "moved to %v", tm)
	}
}

func testConversationsMoveTwiceInOneTx(t *testing.T, s messaging.Store) {
	want := convSeed(t, s)
	ed := conv("bob", "ed", at(7))
	update(t, s, putConv(conv("bob", "ed", at(1))), putConv(conv("bob", "ed", at(-9))), putConv(ed))
	exp := slices.DeleteFunc(slices.Clone(want), func(c messaging.ConversationRecord) bool { return c.Other == "ed" })
	exp = append([]messaging.ConversationRecord{ed}, exp...)
	assert.Equal(t, normConvs(exp), normConvs(convs(t, s, "bob", nil, noLimit)))
}

func testConversationsUnknownOwner(t *testing.T, s messaging.Store) {
	assert.Empty(t, convs(t, s, "bob", nil, noLimit), "empty store")
	convSeed(t, s)
	update(t, s, putInbox(inbox("bo", 0)))
	for _, owner := range []string{"bo", "b", "bobby", "dave", "Bob"} {
		assert.Empty(t, convs(t, s, owner, nil, noLimit), "owner %q", owner)
		k := messaging.ConversationKey{LastUpdate: at(100)}
		assert.Empty(t, convs(t, s, owner, &k, noLimit), "owner %q with after", owner)
	}
}
