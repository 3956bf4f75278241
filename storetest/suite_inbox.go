package storetest

// Tests of inbox records: ReadTx.Inbox, Tx.PutInbox, Tx.DeleteInbox and
// ReadTx.Users.

import (
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func testInboxRoundTrip(t *testing.T, s messaging.Store) {
	update(t, s, putInbox(inbox("bob", 3)), putInbox(inbox("dave", 1<<40)), putInbox(inbox("日本", 0)))
	assert.Equal(t, inbox("bob", 3), getInbox(t, s, "bob"))
	assert.Equal(t, inbox("dave", 1<<40), getInbox(t, s, "dave"))
	assert.Equal(t, inbox("日本", 0), getInbox(t, s, "日本"))

	update(t, s, putInbox(inbox("bob", 0)))
	assert.Equal(t, inbox("bob", 0), getInbox(t, s, "bob"), "replaced")
	assert.Equal(t, inbox("dave", 1<<40), getInbox(t, s, "dave"), "untouched")
}

func testInboxMissing(t *testing.T, s messaging.Store) {
	inboxErr := func(owner string) error {
		return lookupErr(t, s, func(tx messaging.ReadTx) error { _, err := tx.Inbox(owner); return err })
	}
	assert.ErrorIs(t, inboxErr("bob"), messaging.ErrNotFound, "empty store")
	update(t, s, putInbox(inbox("bob", 1)))
	for _, owner := range []string{"bo", "bobby", "Bob", "bob ", "dave"} {
		assert.ErrorIs(t, inboxErr(owner), messaging.ErrNotFound, "owner %q", owner)
	}
	require.NoError(t, inboxErr("bob"))
}

func testInboxReplaceKeepsConversations(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	update(t, s, m.PutInbox(inbox("bob", 7)))
	assertState(t, s, m)
}

func testInboxDeleteMissing(t *testing.T, s messaging.Store) {
	assert.ErrorIs(t, updateErr(t, s, delInbox("bob")), messaging.ErrNotFound, "empty store")
	m := baseline(t, s)
	for _, owner := range []string{"b", "bobby", "carol", "Bob"} {
		assert.ErrorIs(t, updateErr(t, s, delInbox(owner)), messaging.ErrNotFound, "owner %q", owner)
	}
	assertState(t, s, m, "failed deletes changed the store")
}

// prefixOwners writes inboxes whose owners are prefixes of each other or
// differ by a separator, each with conversations and messages.
func prefixOwners(t *testing.T, s messaging.Store) *model {
	t.Helper()
	m := newModel()
	var ops []op
	for i, owner := range []string{"a", "ab", "a b", "a/b", "a:b", "a.b", "b"} {
		ops = append(ops, m.PutInbox(inbox(owner, i)))
		for j, other := range []string{"b", "c", "bc"} {
			if other == owner {
				continue
			}
			ops = append(ops,
				m.PutConversation(conv(owner, other, at(i+j))),
				m.PutMessage(owner, other, withText(msg(uint64(j+1), at(j)), owner+" to "+other)),
				m.PutMessage(owner, other, withText(msg(uint64(10+i), at(i)), owner+" to "+other+" again")),
			)
		}
	}
	update(t, s, ops...)
	require.True(t, assertState(t, s, m), "fixture")
	return m
}

func testInboxDeleteCascades(t *testing.T, s messaging.Store) {
	m := prefixOwners(t, s)
	update(t, s, m.DeleteInbox("a"))
	assertState(t, s, m, `after DeleteInbox("a")`)
	update(t, s, m.DeleteInbox("a/b"), m.DeleteInbox("ab"))
	assertState(t, s, m, `after DeleteInbox("a/b") and ("ab")`)
}

func testInboxDeleteThenRecreate(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	update(t, s, m.DeleteInbox("bob"))
	update(t, s, m.PutInbox(inbox("bob", 0)))
	assertState(t, s, m, "recreated in a later transaction")
	assert.Empty(t, convs(t, s, "bob", nil, noLimit))

	update(t, s, m.DeleteInbox("dave"), m.PutInbox(inbox("dave", 0)), m.PutConversation(conv("dave", "bob", at(-1))))
	assertState(t, s, m, "recreated in the same transaction")
}

func testUsersEmptyStore(t *testing.T, s messaging.Store) {
	assert.Empty(t, users(t, s, "", 10))
	assert.Empty(t, users(t, s, "bob", 10))
}

func sortedTricky() []string {
	out := slices.Clone(trickyIDs)
	slices.Sort(out)
	return out
}

func putTrickyInboxes(t *testing.T, s messaging.Store) {
	t.Helper()
	var ops []op
	for _, id := range reversed(trickyIDs) {
		ops = append(ops, putInbox(inbox(id, len(id))))
	}
	update(t, s, ops...)
}

func testUsersAscendingBytes(t *testing.T, s messaging.Store) {
	putTrickyInboxes(t, s)
	assert.Equal(t, sortedTricky(), users(t, s, "", noLimit))
}

func testUsersPaging(t *testing.T, s messaging.Store) {
	putTrickyInboxes(t, s)
	want := sortedTricky()
	for _, limit := range []int{1, 2, 3, 7, len(want), len(want) + 1} {
		var got []string
		after := ""
		for range len(want) + 2 {
			page := users(t, s, after, limit)
			assert.Len(t, page, min(limit, len(want)-len(got)), "limit %d after %q", limit, after)
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1]
		}
		assert.Equal(t, want, got, "limit %d", limit)
	}
	for i, after := range want {
		assert.Equal(t, nilIfEmpty(want[i+1:]), nilIfEmpty(users(t, s, after, noLimit)), "after %q", after)
	}
}

func testUsersAfterUnstored(t *testing.T, s messaging.Store) {
	putTrickyInboxes(t, s)
	want := sortedTricky()
	for _, after := range []string{"!", "a ", "aa", "a/", "a/bb", "b0", "Zo", "Zz", "日", "~", "\U0010FFFF"} {
		i, found := slices.BinarySearch(want, after)
		require.False(t, found, after)
		assert.Equal(t, nilIfEmpty(want[i:]), nilIfEmpty(users(t, s, after, noLimit)), "after %q", after)
		assert.Equal(t, nilIfEmpty(want[i:min(i+2, len(want))]), nilIfEmpty(users(t, s, after, 2)), "after %q, limit 2", after)
	}
}

func testUsersLimitZeroOrNegative(t *testing.T, s messaging.Store) {
	update(t, s, putInbox(inbox("bob", 0)), putInbox(inbox("dave", 0)))
	assert.Empty(t, users(t, s, "", 0))
	assert.Empty(t, users(t, s, "", -1))
	assert.Empty(t, users(t, s, "bob", math.MinInt))
}
