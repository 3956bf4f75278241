package messaging_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// stores lists every Store the root package's tests run against.
// stores lists every Store the root package's tests run against. The
// rerun variants run every Update function twice, rolling the first run
// back (rerunStore), as group commit and serialization retries may. With
// -tags pgdomain, pgdomain_test.go replaces the list with PostgreSQL
// stores.
var stores = []storeCase{
	{name: "memory", open: func(t testing.TB) messaging.Store { return messaging.NewMemoryStore() }},
	{name: "bolt", open: openBolt},
	{name: "memory-rerun", open: func(t testing.TB) messaging.Store { return rerunStore{messaging.NewMemoryStore()} }, rerun: true},
	{name: "bolt-rerun", open: func(t testing.TB) messaging.Store { return rerunStore{openBolt(t)} }, rerun: true},
}

type storeCase struct {
	name  string
	open  func(t testing.TB) messaging.Store
	rerun bool
}

// plainStores are the stores but the rerun variants: for benchmarks, and
// for tests that count what a store does.
func plainStores() []storeCase {
	var out []storeCase
	for _, s := range stores {
		if !s.rerun {
			out = append(out, s)
		}
	}
	return out
}

func openBolt(t testing.TB) messaging.Store {
	s, err := messaging.OpenBoltStore(filepath.Join(t.TempDir(), "messages.db"), &messaging.BoltOptions{NoSync: true})
	require.NoError(t, err)
	return s
}

// eachStore runs test once per store, each with fresh Inboxes.
func eachStore(t *testing.T, test func(t *testing.T, x *messaging.Inboxes)) {
	t.Helper()
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			x := messaging.New(s.open(t))
			t.Cleanup(func() { assert.NoError(t, x.Close()) })
			test(t, x)
		})
	}
}

var (
	ctx = context.Background()
	t0  = time.Date(2013, 1, 1, 12, 0, 0, 0, time.UTC)
)

func day(n int) messaging.SendOption { return messaging.WithCreated(t0.AddDate(0, 0, n)) }

func send(t *testing.T, x *messaging.Inboxes, from, to, text string, opts ...messaging.SendOption) messaging.Message {
	t.Helper()
	m, err := x.SendMessage(ctx, from, to, text, opts...)
	require.NoError(t, err)
	return m
}

func inbox(t *testing.T, x *messaging.Inboxes, user string) *messaging.Inbox {
	t.Helper()
	in, err := x.Get(ctx, user)
	require.NoError(t, err)
	return in
}

func conv(t *testing.T, x *messaging.Inboxes, owner, other string) *messaging.Conversation {
	t.Helper()
	c, err := inbox(t, x, owner).Get(ctx, other)
	require.NoError(t, err)
	return c
}

func collect[T any](t *testing.T, seq func(yield func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		require.NoError(t, err)
		out = append(out, v)
	}
	return out
}

func texts(t *testing.T, c *messaging.Conversation) []string {
	t.Helper()
	var out []string
	for _, m := range collect(t, c.Messages(ctx)) {
		out = append(out, m.Text)
	}
	return out
}

func users(t *testing.T, x *messaging.Inboxes) []string {
	t.Helper()
	return collect(t, x.Users(ctx))
}

func others(t *testing.T, in *messaging.Inbox) []string {
	t.Helper()
	var out []string
	for _, c := range collect(t, in.Conversations(ctx)) {
		out = append(out, c.Username)
	}
	return out
}

// unread returns the inbox's count and each conversation's, and checks them
// against the messages: counts are stored, so they must never drift from
// what the messages say.
func unread(t *testing.T, x *messaging.Inboxes, user string) (total int, per map[string]int) {
	t.Helper()
	in := inbox(t, x, user)
	per = map[string]int{}
	sum := 0
	for _, c := range collect(t, in.Conversations(ctx)) {
		n := 0
		for _, m := range collect(t, c.Messages(ctx)) {
			if m.New {
				n++
			}
		}
		require.Equal(t, n, c.NewMessagesCount, "stored count of %s/%s vs its new messages", user, c.Username)
		per[c.Username] = n
		sum += n
	}
	require.Equal(t, sum, in.NewMessagesCount, "stored count of %s vs its conversations", user)
	return in.NewMessagesCount, per
}

func TestWalkthrough(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		sent := send(t, x, "bob", "dave", "Hi Dave", messaging.WithCreated(time.Date(2013, 1, 1, 0, 0, 0, 0, time.UTC)))
		assert.False(t, sent.New, "the sender's copy is not new")

		has, err := x.Has(ctx, "dave")
		require.NoError(t, err)
		assert.True(t, has)
		dave := inbox(t, x, "dave")
		assert.Equal(t, 1, dave.NewMessagesCount)
		assert.Equal(t, 0, inbox(t, x, "bob").NewMessagesCount, "a sender's own message does not raise their count")

		c := conv(t, x, "dave", "bob")
		assert.Equal(t, 1, c.NewMessagesCount)
		msgs := collect(t, c.Messages(ctx))
		require.Len(t, msgs, 1)
		assert.Equal(t, "Hi Dave", msgs[0].Text)
		assert.True(t, msgs[0].New)
		assert.Equal(t, sent.ID, msgs[0].ID, "both copies carry the same ID")

		require.NoError(t, c.MarkRead(ctx))
		assert.Equal(t, 0, inbox(t, x, "dave").NewMessagesCount)
		assert.False(t, collect(t, c.Messages(ctx))[0].New)

		send(t, x, "dave", "bob", "Thanks Bob", messaging.WithCreated(time.Date(2013, 1, 2, 0, 0, 0, 0, time.UTC)))
		assert.Equal(t, []string{"Hi Dave", "Thanks Bob"}, texts(t, c), "a Conversation got before the reply lists it")
		assert.Equal(t, 1, inbox(t, x, "bob").NewMessagesCount)

		require.NoError(t, dave.Delete(ctx, "bob"))
		has, err = inbox(t, x, "dave").Has(ctx, "bob")
		require.NoError(t, err)
		assert.False(t, has)
		assert.Equal(t, []string{"Hi Dave", "Thanks Bob"}, texts(t, conv(t, x, "bob", "dave")), "bob keeps both")
	})
}

func TestSenderAndRecipientCopies(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		created := time.Date(2020, 2, 29, 23, 59, 59, 123456789, time.FixedZone("X", 5*3600))
		sent := send(t, x, "bob", "dave", "hello", messaging.WithCreated(created))
		want := messaging.Message{ID: sent.ID, Sender: "bob", Recipient: "dave", Text: "hello", Created: created.UTC()}
		assert.Equal(t, want, sent)
		assert.Equal(t, []messaging.Message{want}, collect(t, conv(t, x, "bob", "dave").Messages(ctx)))
		want.New = true
		got := collect(t, conv(t, x, "dave", "bob").Messages(ctx))
		require.Len(t, got, 1)
		assert.Equal(t, want, got[0])
		assert.True(t, got[0].Created.Equal(created), "Created round-trips exactly")
		assert.Equal(t, time.UTC, got[0].Created.Location())
	})
}

func TestDefaultCreatedIsNow(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		before := time.Now()
		m := send(t, x, "bob", "dave", "now")
		after := time.Now()
		assert.Equal(t, time.UTC, m.Created.Location())
		assert.False(t, m.Created.Before(before.Truncate(time.Microsecond)))
		assert.False(t, m.Created.After(after))
		c := conv(t, x, "dave", "bob")
		assert.True(t, c.LastUpdate.Equal(m.Created))
		assert.True(t, collect(t, c.Messages(ctx))[0].Created.Equal(m.Created))
	})
}

func TestUnreadCounts(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		m1 := send(t, x, "bob", "dave", "one", day(1))
		send(t, x, "bob", "dave", "two", day(2))
		send(t, x, "carol", "dave", "three", day(3))
		send(t, x, "dave", "bob", "reply", day(4))

		total, per := unread(t, x, "dave")
		assert.Equal(t, 3, total)
		assert.Equal(t, map[string]int{"bob": 2, "carol": 1}, per)
		total, _ = unread(t, x, "bob")
		assert.Equal(t, 1, total)

		// Deleting a new message lowers both counts; the sender's copy stays.
		require.NoError(t, conv(t, x, "dave", "bob").DeleteMessage(ctx, m1.ID))
		total, per = unread(t, x, "dave")
		assert.Equal(t, 2, total)
		assert.Equal(t, map[string]int{"bob": 1, "carol": 1}, per)
		assert.Equal(t, []string{"one", "two", "reply"}, texts(t, conv(t, x, "bob", "dave")))

		// MarkRead, twice: idempotent.
		c := conv(t, x, "dave", "bob")
		require.NoError(t, c.MarkRead(ctx))
		require.NoError(t, c.MarkRead(ctx))
		total, per = unread(t, x, "dave")
		assert.Equal(t, 1, total)
		assert.Equal(t, map[string]int{"bob": 0, "carol": 1}, per)
		assert.Equal(t, 0, conv(t, x, "dave", "bob").NewMessagesCount)

		// A message after MarkRead is new again.
		send(t, x, "bob", "dave", "four", day(5))
		total, per = unread(t, x, "dave")
		assert.Equal(t, 2, total)
		assert.Equal(t, map[string]int{"bob": 1, "carol": 1}, per)

		// Deleting a conversation with new messages lowers the inbox count.
		require.NoError(t, inbox(t, x, "dave").Delete(ctx, "carol"))
		total, per = unread(t, x, "dave")
		assert.Equal(t, 1, total)
		assert.Equal(t, map[string]int{"bob": 1}, per)

		// Deleting a read message changes nothing.
		msgs := collect(t, conv(t, x, "dave", "bob").Messages(ctx))
		require.Equal(t, "two", msgs[0].Text)
		require.NoError(t, conv(t, x, "dave", "bob").DeleteMessage(ctx, msgs[0].ID))
		total, _ = unread(t, x, "dave")
		assert.Equal(t, 1, total)

		// Deleting an inbox leaves the others' counts alone; a new message
		// starts it again from nothing.
		require.NoError(t, x.Delete(ctx, "dave"))
		total, _ = unread(t, x, "bob")
		assert.Equal(t, 1, total)
		_, err := x.Get(ctx, "dave")
		assert.ErrorIs(t, err, messaging.ErrNotFound)
		send(t, x, "bob", "dave", "five", day(6))
		total, per = unread(t, x, "dave")
		assert.Equal(t, 1, total)
		assert.Equal(t, map[string]int{"bob": 1}, per)
		assert.Equal(t, []string{"five"}, texts(t, conv(t, x, "dave", "bob")))
	})
}

func TestBackDatedMessageIsNewAndInOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		send(t, x, "bob", "dave", "b", day(2))
		require.NoError(t, conv(t, x, "dave", "bob").MarkRead(ctx))
		send(t, x, "bob", "dave", "a", day(1)) // back-dated, after the read
		send(t, x, "bob", "dave", "c", day(3))

		c := conv(t, x, "dave", "bob")
		msgs := collect(t, c.Messages(ctx))
		require.Len(t, msgs, 3)
		assert.Equal(t, []string{"a", "b", "c"}, []string{msgs[0].Text, msgs[1].Text, msgs[2].Text})
		assert.Equal(t, []bool{true, false, true}, []bool{msgs[0].New, msgs[1].New, msgs[2].New})
		assert.Equal(t, 2, c.NewMessagesCount)
		assert.True(t, c.LastUpdate.Equal(t0.AddDate(0, 0, 3)))
		assert.Equal(t, "c", c.LastMessage.Text)
	})
}

func TestMessageOrderByCreatedThenID(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		same := messaging.WithCreated(t0)
		m1 := send(t, x, "bob", "dave", "first at t0", same)
		m2 := send(t, x, "dave", "bob", "second at t0", same)
		send(t, x, "bob", "dave", "earlier", messaging.WithCreated(t0.Add(-time.Nanosecond)))
		send(t, x, "bob", "dave", "later", messaging.WithCreated(t0.Add(time.Microsecond)))
		m3 := send(t, x, "bob", "dave", "third at t0", same)
		require.Less(t, m1.ID, m2.ID)
		require.Less(t, m2.ID, m3.ID)

		want := []string{"earlier", "first at t0", "second at t0", "third at t0", "later"}
		assert.Equal(t, want, texts(t, conv(t, x, "bob", "dave")))
		assert.Equal(t, want, texts(t, conv(t, x, "dave", "bob")))
	})
}

func TestConversationOrderNewestFirst(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		send(t, x, "carol", "dave", "x", day(1))
		send(t, x, "bob", "dave", "x", day(2))
		send(t, x, "erin", "dave", "x", day(2)) // ties with bob: by user id
		send(t, x, "alice", "dave", "x", day(3))
		assert.Equal(t, []string{"alice", "bob", "erin", "carol"}, others(t, inbox(t, x, "dave")))

		send(t, x, "dave", "carol", "up", day(4)) // carol moves to the top
		assert.Equal(t, []string{"carol", "alice", "bob", "erin"}, others(t, inbox(t, x, "dave")))

		send(t, x, "dave", "bob", "old news", day(0)) // back-dated: bob stays
		convs := collect(t, inbox(t, x, "dave").Conversations(ctx))
		assert.Equal(t, []string{"carol", "alice", "bob", "erin"}, []string{convs[0].Username, convs[1].Username, convs[2].Username, convs[3].Username})
		assert.True(t, convs[2].LastUpdate.Equal(t0.AddDate(0, 0, 2)))
		assert.Equal(t, 2, convs[2].MessageCount)
	})
}

func TestUsersAscending(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		assert.Empty(t, users(t, x))
		send(t, x, "zoë", "Bob", "x")
		send(t, x, "alice", "bob", "x")
		assert.Equal(t, []string{"Bob", "alice", "bob", "zoë"}, users(t, x))
	})
}

func TestLastUpdateAndEmptyConversation(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		m1 := send(t, x, "bob", "dave", "one", day(1))
		m2 := send(t, x, "bob", "dave", "two", day(2))
		c := conv(t, x, "dave", "bob")
		assert.True(t, c.LastUpdate.Equal(t0.AddDate(0, 0, 2)))
		assert.Equal(t, "two", c.LastMessage.Text)
		assert.Equal(t, 2, c.MessageCount)

		require.NoError(t, c.DeleteMessage(ctx, m2.ID))
		c = conv(t, x, "dave", "bob")
		assert.True(t, c.LastUpdate.Equal(t0.AddDate(0, 0, 1)), "LastUpdate is the largest Created among its messages")
		assert.Equal(t, "one", c.LastMessage.Text)

		require.NoError(t, c.DeleteMessage(ctx, m1.ID))
		c = conv(t, x, "dave", "bob")
		assert.Equal(t, 0, c.MessageCount)
		assert.Equal(t, 0, c.NewMessagesCount)
		assert.True(t, c.LastUpdate.Equal(t0.AddDate(0, 0, 1)), "an emptied conversation keeps its LastUpdate")
		assert.Equal(t, messaging.Message{}, c.LastMessage)
		assert.Empty(t, texts(t, c))
		assert.Equal(t, []string{"bob"}, others(t, inbox(t, x, "dave")), "an emptied conversation stays")

		err := c.DeleteMessage(ctx, m1.ID)
		assert.ErrorIs(t, err, messaging.ErrNotFound)
		assert.Equal(t, []string{"one", "two"}, texts(t, conv(t, x, "bob", "dave")), "the other side is untouched")
	})
}

func TestDeletedHistoryNeverComesBack(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		send(t, x, "bob", "dave", "old 1", day(1))
		send(t, x, "dave", "bob", "old 2", day(2))
		require.NoError(t, inbox(t, x, "dave").Delete(ctx, "bob"))
		_, err := inbox(t, x, "dave").Get(ctx, "bob")
		assert.ErrorIs(t, err, messaging.ErrNotFound)
		assert.ErrorIs(t, inbox(t, x, "dave").Delete(ctx, "bob"), messaging.ErrNotFound)

		send(t, x, "bob", "dave", "new", day(3))
		assert.Equal(t, []string{"new"}, texts(t, conv(t, x, "dave", "bob")))
		assert.Equal(t, []string{"old 1", "old 2", "new"}, texts(t, conv(t, x, "bob", "dave")))
		c := conv(t, x, "dave", "bob")
		assert.Equal(t, 1, c.MessageCount)
		assert.Equal(t, 1, c.NewMessagesCount)
	})
}

func TestDeleteMessageOneSideOnly(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		m := send(t, x, "bob", "dave", "hi", day(1))
		send(t, x, "bob", "dave", "there", day(2))
		require.NoError(t, conv(t, x, "bob", "dave").DeleteMessage(ctx, m.ID))
		assert.Equal(t, []string{"there"}, texts(t, conv(t, x, "bob", "dave")))
		assert.Equal(t, []string{"hi", "there"}, texts(t, conv(t, x, "dave", "bob")))
		total, _ := unread(t, x, "dave")
		assert.Equal(t, 2, total)
		// An ID from another conversation is not found here.
		other := send(t, x, "carol", "dave", "x")
		assert.ErrorIs(t, conv(t, x, "dave", "bob").DeleteMessage(ctx, other.ID), messaging.ErrNotFound)
		assert.ErrorIs(t, conv(t, x, "dave", "bob").DeleteMessage(ctx, 1<<60), messaging.ErrNotFound)
	})
}

func TestNotFound(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		_, err := x.Get(ctx, "nobody")
		assert.ErrorIs(t, err, messaging.ErrNotFound)
		assert.Contains(t, err.Error(), `"nobody"`, "errors say what was looked up")
		assert.ErrorIs(t, x.Delete(ctx, "nobody"), messaging.ErrNotFound)
		has, err := x.Has(ctx, "nobody")
		require.NoError(t, err)
		assert.False(t, has)

		send(t, x, "bob", "dave", "x")
		_, err = inbox(t, x, "bob").Get(ctx, "nobody")
		assert.ErrorIs(t, err, messaging.ErrNotFound)
		assert.ErrorIs(t, inbox(t, x, "bob").Delete(ctx, "nobody"), messaging.ErrNotFound)

		// A Conversation whose conversation is gone.
		c := conv(t, x, "bob", "dave")
		require.NoError(t, x.Delete(ctx, "bob"))
		assert.ErrorIs(t, c.MarkRead(ctx), messaging.ErrNotFound)
		assert.ErrorIs(t, c.DeleteMessage(ctx, 1), messaging.ErrNotFound)
		for _, err := range c.Messages(ctx) {
			assert.ErrorIs(t, err, messaging.ErrNotFound)
		}
	})
}

// snapshot is everything a user can see in the store, to show that a call
// wrote nothing.
func snapshot(t *testing.T, x *messaging.Inboxes) string {
	t.Helper()
	var b strings.Builder
	for _, u := range users(t, x) {
		in := inbox(t, x, u)
		fmt.Fprintf(&b, "%q %d\n", u, in.NewMessagesCount)
		for _, c := range collect(t, in.Conversations(ctx)) {
			summary, err := json.Marshal(c) // every exported field
			require.NoError(t, err)
			fmt.Fprintf(&b, "  %s\n", summary)
			for _, m := range collect(t, c.Messages(ctx)) {
				fmt.Fprintf(&b, "    %+v\n", m)
			}
		}
	}
	return b.String()
}

func TestValidation(t *testing.T) {
	long := strings.Repeat("x", messaging.MaxUserBytes+1)
	tests := []struct {
		name              string
		sender, recipient string
		text              string
		want              error
	}{
		{"empty sender", "", "dave", "hi", messaging.ErrInvalidUser},
		{"empty recipient", "bob", "", "hi", messaging.ErrInvalidUser},
		{"user over 255 bytes", long, "dave", "hi", messaging.ErrInvalidUser},
		{"user not UTF-8", "bob\xff", "dave", "hi", messaging.ErrInvalidUser},
		{"user with newline", "bob", "da\nve", "hi", messaging.ErrInvalidUser},
		{"user with NUL", "bob\x00", "dave", "hi", messaging.ErrInvalidUser},
		{"user with DEL", "bob", "dave\x7f", "hi", messaging.ErrInvalidUser},
		{"user with C1 control", "bob\u0085", "dave", "hi", messaging.ErrInvalidUser},
		{"self message", "bob", "bob", "hi", messaging.ErrSelfMessage},
		{"empty text", "bob", "dave", "", messaging.ErrEmptyMessage},
		{"white space text", "bob", "dave", " \t\n\u00a0\u3000", messaging.ErrEmptyMessage},
		{"text over 64 KiB", "bob", "dave", strings.Repeat("a", 64<<10+1), messaging.ErrMessageTooLong},
		{"text not UTF-8", "bob", "dave", "hi \xc3\x28", messaging.ErrInvalidText},
	}
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		send(t, x, "bob", "dave", "before")
		before := snapshot(t, x)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := x.SendMessage(ctx, tt.sender, tt.recipient, tt.text)
				assert.ErrorIs(t, err, tt.want)
				assert.Equal(t, before, snapshot(t, x), "nothing written")
			})
		}
		t.Run("limits are inclusive", func(t *testing.T) {
			send(t, x, strings.Repeat("é", 127)+"x", "dave", strings.Repeat("a", 64<<10))
		})
		t.Run("lookups refuse invalid ids", func(t *testing.T) {
			_, err := x.Get(ctx, "")
			assert.ErrorIs(t, err, messaging.ErrInvalidUser)
			_, err = x.Has(ctx, "a\tb")
			assert.ErrorIs(t, err, messaging.ErrInvalidUser)
			assert.ErrorIs(t, x.Delete(ctx, long), messaging.ErrInvalidUser)
			_, err = inbox(t, x, "dave").Get(ctx, "\x01")
			assert.ErrorIs(t, err, messaging.ErrInvalidUser)
		})
	})
}

func TestMaxMessageBytesOption(t *testing.T) {
	x, err := messaging.NewWithOptions(messaging.NewMemoryStore(), &messaging.Options{MaxMessageBytes: 5})
	require.NoError(t, err)
	defer x.Close()
	_, err = x.SendMessage(ctx, "bob", "dave", "12345")
	assert.NoError(t, err)
	_, err = x.SendMessage(ctx, "bob", "dave", "123456")
	assert.ErrorIs(t, err, messaging.ErrMessageTooLong)

	_, err = messaging.NewWithOptions(messaging.NewMemoryStore(), &messaging.Options{MaxMessageBytes: -1})
	assert.Error(t, err)
}

// Ids that a careless key scheme would mix up: separators, escapes,
// prefixes of each other, and pairs whose concatenations coincide.
var trickyIDs = []string{
	"a", "ab", "a b", "a/b", "a:b", "a%2Fb", "a%b", `a"b`, "a'b", `a\b`, "a.b", "a..", ".",
	"b", "bc", "abc", "Zoë", "Zoe\u0308", "日本", "日本語", " lead", "trail ", "💬",
}

func TestUserIDsNeverMix(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		// Every ordered pair exchanges one message naming both ends.
		for _, from := range trickyIDs {
			for _, to := range trickyIDs {
				if from != to {
					send(t, x, from, to, from+"→"+to)
				}
			}
		}
		assert.ElementsMatch(t, trickyIDs, users(t, x))
		for _, owner := range trickyIDs {
			in := inbox(t, x, owner)
			assert.Equal(t, len(trickyIDs)-1, in.NewMessagesCount, owner)
			convs := collect(t, in.Conversations(ctx))
			require.Len(t, convs, len(trickyIDs)-1, owner)
			for _, c := range convs {
				assert.Equal(t, owner, c.Owner)
				assert.Equal(t, []string{owner + "→" + c.Username, c.Username + "→" + owner}, func() []string {
					got := texts(t, c)
					if len(got) == 2 && got[0] != owner+"→"+c.Username {
						got[0], got[1] = got[1], got[0] // same Created: order by ID
					}
					return got
				}(), "owner %q other %q", owner, c.Username)
			}
		}
	})
}

func TestIteratorsAreRestartable(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		for i := range 100 {
			send(t, x, "bob", fmt.Sprintf("u%03d", i), "x", day(i))
		}
		c := conv(t, x, "bob", "u000")
		seq := c.Messages(ctx)
		assert.Len(t, collect(t, seq), 1)
		assert.Len(t, collect(t, seq), 1, "a second range starts afresh")

		convs := inbox(t, x, "bob").Conversations(ctx)
		first := collect(t, convs)
		require.Len(t, first, 100)
		assert.Equal(t, "u099", first[0].Username)
		n := 0
		for c, err := range convs {
			require.NoError(t, err)
			if n == 0 {
				assert.Equal(t, "u099", c.Username)
			}
			n++
			if n == 10 {
				break
			}
		}
		assert.Equal(t, 10, n)
		assert.Len(t, collect(t, convs), 100)

		us := x.Users(ctx)
		assert.Len(t, collect(t, us), 101)
		assert.Len(t, collect(t, us), 101)
	})
}

func TestIteratorsAllowWritesInTheLoop(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		for i := range 150 {
			send(t, x, "bob", "dave", fmt.Sprintf("m%03d", i), day(i))
		}
		for i := range 150 {
			send(t, x, fmt.Sprintf("u%03d", i), "dave", "x", day(i))
		}

		// Messages: mark read, reply and delete inside the loop body.
		c := conv(t, x, "dave", "bob")
		seen := map[uint64]bool{}
		n := 0
		for m, err := range c.Messages(ctx) {
			require.NoError(t, err)
			require.False(t, seen[m.ID], "yielded twice")
			seen[m.ID] = true
			n++
			require.NoError(t, c.MarkRead(ctx))
			require.NoError(t, c.DeleteMessage(ctx, m.ID))
			if n <= 3 {
				send(t, x, "bob", "dave", "later reply", day(1000+n))
			}
		}
		assert.Equal(t, 153, n, "writes neither fail nor end the loop; the replies come after the position")
		assert.Empty(t, texts(t, conv(t, x, "dave", "bob")))

		// Conversations: sends move items to the top, behind the position;
		// none is yielded twice.
		in := inbox(t, x, "dave")
		got := map[string]int{}
		for c, err := range in.Conversations(ctx) {
			require.NoError(t, err)
			got[c.Username]++
			send(t, x, "dave", c.Username, "moved", day(2000+len(got)))
			if c.Username == "u010" {
				require.NoError(t, in.Delete(ctx, "u009")) // ahead: not seen
			}
		}
		// u009 was ahead of the position; it may or may not have been read
		// already with the page.
		delete(got, "u009")
		assert.Len(t, got, 150, "bob and u000-u149 but u009")
		for u, k := range got {
			assert.Equal(t, 1, k, u)
		}

		// Users: delete and add inside the loop.
		seenUsers := map[string]int{}
		for u, err := range x.Users(ctx) {
			require.NoError(t, err)
			seenUsers[u]++
			if u == "u100" {
				require.NoError(t, x.Delete(ctx, "u101"))
				send(t, x, "zz", "u000", "x")
			}
		}
		delete(seenUsers, "u101")
		delete(seenUsers, "zz")
		assert.Len(t, seenUsers, 151, "bob, dave and u000-u149 but u101")
		for u, k := range seenUsers {
			assert.Equal(t, 1, k, u)
		}
	})
}

// countingStore counts the records a Store returns, to show how much an
// iterator reads.
type countingStore struct {
	messaging.Store
	records atomic.Int64
}

func (s *countingStore) View(ctx context.Context, fn func(messaging.ReadTx) error) error {
	return s.Store.View(ctx, func(tx messaging.ReadTx) error { return fn(countingTx{tx, s}) })
}

type countingTx struct {
	messaging.ReadTx
	s *countingStore
}

func (tx countingTx) Users(after string, limit int) ([]string, error) {
	out, err := tx.ReadTx.Users(after, limit)
	tx.s.records.Add(int64(len(out)))
	return out, err
}

func (tx countingTx) Conversations(owner string, after *messaging.ConversationKey, limit int) ([]messaging.ConversationRecord, error) {
	out, err := tx.ReadTx.Conversations(owner, after, limit)
	tx.s.records.Add(int64(len(out)))
	return out, err
}

func (tx countingTx) Messages(owner, other string, after *messaging.MessageKey, reverse bool, limit int) ([]messaging.MessageRecord, error) {
	out, err := tx.ReadTx.Messages(owner, other, after, reverse, limit)
	tx.s.records.Add(int64(len(out)))
	return out, err
}

func TestIteratorsAreLazy(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			cs := &countingStore{Store: s.open(t)}
			x := messaging.New(cs)
			defer x.Close()
			for i := range 1000 {
				send(t, x, fmt.Sprintf("u%04d", i), "dave", "x", day(i))
				send(t, x, "bob", "dave", "x", day(i))
			}
			take20 := func(name string, count func() int) {
				cs.records.Store(0)
				assert.Equal(t, 20, count(), name)
				assert.LessOrEqual(t, cs.records.Load(), int64(40), "%s: breaking after 20 items costs about 20 items", name)
			}
			take20("users", func() int { return breakAfter(x.Users(ctx), 20) })
			take20("conversations", func() int { return breakAfter(inbox(t, x, "dave").Conversations(ctx), 20) })
			take20("messages", func() int { return breakAfter(conv(t, x, "dave", "bob").Messages(ctx), 20) })
		})
	}
}

func breakAfter[T any](seq func(yield func(T, error) bool), n int) int {
	i := 0
	for _, err := range seq {
		if err != nil {
			return -1
		}
		i++
		if i == n {
			break
		}
	}
	return i
}

func TestContextCancelled(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		send(t, x, "bob", "dave", "x")
		in := inbox(t, x, "dave")
		c := conv(t, x, "dave", "bob")
		before := snapshot(t, x)

		cctx, cancel := context.WithCancel(ctx)
		cancel()
		calls := map[string]error{}
		_, calls["SendMessage"] = x.SendMessage(cctx, "bob", "dave", "y")
		_, calls["SendMessage new users"] = x.SendMessage(cctx, "erin", "frank", "y")
		_, calls["Has"] = x.Has(cctx, "dave")
		_, calls["Get"] = x.Get(cctx, "dave")
		calls["Delete"] = x.Delete(cctx, "dave")
		_, calls["Inbox.Has"] = in.Has(cctx, "bob")
		_, calls["Inbox.Get"] = in.Get(cctx, "bob")
		calls["Inbox.Delete"] = in.Delete(cctx, "bob")
		calls["MarkRead"] = c.MarkRead(cctx)
		calls["DeleteMessage"] = c.DeleteMessage(cctx, 1)
		calls["MarkReadUpTo"] = c.MarkReadUpTo(cctx, 1)
		calls["Retract"] = conv(t, x, "bob", "dave").Retract(cctx, 1)
		_, calls["Older"] = c.Older(cctx, 0, 10)
		_, calls["Newer"] = c.Newer(cctx, 0, 10)
		_, calls["Conversation"] = x.Conversation(cctx, "dave", "bob")
		_, calls["ConversationPage"] = in.ConversationPage(cctx, "", 10)
		calls["Block"] = x.Block(cctx, "dave", "bob")
		calls["Unblock"] = x.Unblock(cctx, "dave", "bob")
		_, calls["Verify"] = x.Verify(cctx)
		iterErr := func(seq func(func(struct{}, error) bool)) error {
			var got error
			n := 0
			for _, err := range seq {
				n++
				got = err
			}
			assert.Equal(t, 1, n, "one (zero, err) and stop")
			return got
		}
		calls["Users"] = iterErr(func(yield func(struct{}, error) bool) {
			for _, err := range x.Users(cctx) {
				if !yield(struct{}{}, err) {
					return
				}
			}
		})
		calls["Conversations"] = iterErr(func(yield func(struct{}, error) bool) {
			for _, err := range in.Conversations(cctx) {
				if !yield(struct{}{}, err) {
					return
				}
			}
		})
		calls["Messages"] = iterErr(func(yield func(struct{}, error) bool) {
			for _, err := range c.Messages(cctx) {
				if !yield(struct{}{}, err) {
					return
				}
			}
		})
		calls["Blocked"] = iterErr(func(yield func(struct{}, error) bool) {
			for _, err := range x.Blocked(cctx, "dave") {
				if !yield(struct{}{}, err) {
					return
				}
			}
		})
		for name, err := range calls {
			assert.ErrorIs(t, err, context.Canceled, name)
		}
		assert.Equal(t, before, snapshot(t, x), "nothing written")
	})
}

func TestCancelDuringIteration(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		for i := range 10 {
			send(t, x, "bob", "dave", "x", day(i))
		}
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var n int
		var last error
		for _, err := range conv(t, x, "dave", "bob").Messages(cctx) {
			if err != nil {
				last = err
				continue
			}
			n++
			if n == 3 {
				cancel()
			}
		}
		assert.Equal(t, 3, n)
		assert.ErrorIs(t, last, context.Canceled)
	})
}

func TestConcurrentSenders(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		const workers, each = 8, 40
		people := []string{"ann", "bob", "cat", "dan"}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					from := people[(w+i)%len(people)]
					to := people[(w+i+1+i%3)%len(people)]
					if _, err := x.SendMessage(ctx, from, to, fmt.Sprintf("%d/%d", w, i)); err != nil {
						t.Error(err)
						return
					}
					if i%5 == 0 {
						if c, err := func() (*messaging.Conversation, error) {
							in, err := x.Get(ctx, to)
							if err != nil {
								return nil, err
							}
							return in.Get(ctx, from)
						}(); err == nil {
							assert.NoError(t, c.MarkRead(ctx))
						} else {
							t.Error(err)
						}
					}
				}
			})
		}
		// Readers at the same time.
		stop := make(chan struct{})
		var readers sync.WaitGroup
		for range 2 {
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					for u, err := range x.Users(ctx) {
						if err != nil {
							t.Error(err)
							return
						}
						in, err := x.Get(ctx, u)
						if err != nil {
							t.Error(err)
							return
						}
						for _, err := range in.Conversations(ctx) {
							if err != nil {
								t.Error(err)
								return
							}
						}
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		readers.Wait()

		total := 0
		ids := map[uint64]int{}
		for _, u := range users(t, x) {
			unread(t, x, u) // counters equal the messages
			for _, c := range collect(t, inbox(t, x, u).Conversations(ctx)) {
				msgs := collect(t, c.Messages(ctx))
				assert.Equal(t, c.MessageCount, len(msgs))
				for _, m := range msgs {
					ids[m.ID]++
				}
				total += len(msgs)
			}
		}
		assert.Equal(t, 2*workers*each, total, "every message, twice")
		assert.Len(t, ids, workers*each)
		for id, n := range ids {
			assert.Equal(t, 2, n, "message %d has both copies", id)
		}
	})
}

func TestIsolation(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		send(t, x, "bob", "dave", "hello", day(1))
		in := inbox(t, x, "dave")
		in.NewMessagesCount = 99
		in.Username = "mallory"
		c := conv(t, x, "dave", "bob")
		c.NewMessagesCount = 42
		c.LastUpdate = time.Time{}
		c.LastMessage.Text = "changed"
		msgs := collect(t, c.Messages(ctx))
		msgs[0].Text = "changed"
		msgs[0].New = false

		assert.Equal(t, 1, inbox(t, x, "dave").NewMessagesCount)
		c = conv(t, x, "dave", "bob")
		assert.Equal(t, 1, c.NewMessagesCount)
		assert.Equal(t, "hello", c.LastMessage.Text)
		assert.True(t, c.LastUpdate.Equal(t0.AddDate(0, 0, 1)))
		got := collect(t, c.Messages(ctx))
		assert.Equal(t, "hello", got[0].Text)
		assert.True(t, got[0].New)
	})
}

func TestErrClosed(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		send(t, x, "bob", "dave", "x")
		in := inbox(t, x, "dave")
		c := conv(t, x, "dave", "bob")
		require.NoError(t, x.Close())
		_, err := x.SendMessage(ctx, "bob", "dave", "y")
		assert.ErrorIs(t, err, messaging.ErrClosed)
		_, err = x.Get(ctx, "dave")
		assert.ErrorIs(t, err, messaging.ErrClosed)
		_, err = in.Get(ctx, "bob")
		assert.ErrorIs(t, err, messaging.ErrClosed)
		assert.ErrorIs(t, c.MarkRead(ctx), messaging.ErrClosed)
		for _, err := range x.Users(ctx) {
			assert.ErrorIs(t, err, messaging.ErrClosed)
		}
		calls := map[string]error{}
		_, calls["Has"] = x.Has(ctx, "dave")
		calls["Delete"] = x.Delete(ctx, "dave")
		_, calls["Inbox.Has"] = in.Has(ctx, "bob")
		calls["Inbox.Delete"] = in.Delete(ctx, "bob")
		_, calls["Conversation"] = x.Conversation(ctx, "dave", "bob")
		_, calls["ConversationPage"] = in.ConversationPage(ctx, "", 10)
		calls["DeleteMessage"] = c.DeleteMessage(ctx, 1)
		calls["MarkReadUpTo"] = c.MarkReadUpTo(ctx, 1)
		calls["Retract"] = c.Retract(ctx, 1)
		_, calls["Older"] = c.Older(ctx, 0, 10)
		_, calls["Newer"] = c.Newer(ctx, 0, 10)
		calls["Block"] = x.Block(ctx, "dave", "bob")
		calls["Unblock"] = x.Unblock(ctx, "dave", "bob")
		_, calls["Verify"] = x.Verify(ctx)
		_, calls["Subscribe"] = x.Subscribe("dave")
		_, calls["SubscribeFrom"] = x.SubscribeFrom("dave", 0)
		_, calls["SubscribeAll"] = x.SubscribeAll()
		for _, err := range x.Blocked(ctx, "dave") {
			calls["Blocked"] = err
		}
		for _, err := range in.Conversations(ctx) {
			calls["Conversations"] = err
		}
		for _, err := range c.Messages(ctx) {
			calls["Messages"] = err
		}
		for name, err := range calls {
			assert.ErrorIs(t, err, messaging.ErrClosed, name)
		}
		assert.NoError(t, x.Close(), "Close is idempotent")
	})
}

// failingStore fails the nth write of every Update, to show that a send
// that fails halfway leaves nothing behind.
type failingStore struct {
	messaging.Store
	failAt int
}

var errInjected = errors.New("injected failure")

func (s *failingStore) Update(ctx context.Context, fn func(messaging.Tx) error) error {
	return s.Store.Update(ctx, func(tx messaging.Tx) error {
		return fn(&failingTx{Tx: tx, left: s.failAt})
	})
}

type failingTx struct {
	messaging.Tx
	left int
}

func (tx *failingTx) fail() error {
	tx.left--
	if tx.left == 0 {
		return errInjected
	}
	return nil
}

func (tx *failingTx) PutInbox(rec messaging.InboxRecord) error {
	if err := tx.fail(); err != nil {
		return err
	}
	return tx.Tx.PutInbox(rec)
}

func (tx *failingTx) PutConversation(rec messaging.ConversationRecord) error {
	if err := tx.fail(); err != nil {
		return err
	}
	return tx.Tx.PutConversation(rec)
}

func (tx *failingTx) PutMessage(owner, other string, m messaging.MessageRecord) error {
	if err := tx.fail(); err != nil {
		return err
	}
	return tx.Tx.PutMessage(owner, other, m)
}

func TestFailedSendLeavesNothing(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			fs := &failingStore{Store: s.open(t)}
			x := messaging.New(fs)
			defer x.Close()
			send(t, x, "bob", "dave", "before", day(1))
			before := snapshot(t, x)
			// A send writes 5 records (the sender's conversation and copy;
			// the recipient's inbox, conversation and copy): fail at each.
			for failAt := 1; failAt <= 5; failAt++ {
				fs.failAt = failAt
				_, err := x.SendMessage(ctx, "bob", "erin", "lost", day(2))
				assert.ErrorIs(t, err, errInjected, "new pair, fail at write %d", failAt)
				_, err = x.SendMessage(ctx, "bob", "dave", "lost", day(2))
				assert.ErrorIs(t, err, errInjected, "existing pair, fail at write %d", failAt)
				assert.Equal(t, before, snapshot(t, x), "fail at write %d", failAt)
			}
			has, err := x.Has(ctx, "erin")
			require.NoError(t, err)
			assert.False(t, has, "no inbox left behind")
			fs.failAt = 6 // past the last write: the same send goes through
			send(t, x, "bob", "erin", "kept", day(3))
			assert.Equal(t, []string{"kept"}, texts(t, conv(t, x, "erin", "bob")))
		})
	}
}
