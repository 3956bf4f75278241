package messaging_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func msgIDs(ms []messaging.Message) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestOlderAndNewerPages(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		var sent []uint64 // in (Created, ID) order, built below
		for i := range 120 {
			sent = append(sent, send(t, x, "bob", "dave", fmt.Sprintf("m%d", i), day(i+1)).ID)
		}
		// A back-dated message sorts first though its ID is the largest.
		sent = append([]uint64{send(t, x, "dave", "bob", "early", day(0)).ID}, sent...)
		c := conv(t, x, "dave", "bob")

		// Scrolling back from the newest, 50 at a time.
		var back []uint64
		before := uint64(0)
		for {
			page, err := c.Older(ctx, before, 50)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			require.LessOrEqual(t, len(page), 50)
			back = append(back, msgIDs(page)...)
			before = page[len(page)-1].ID
		}
		want := make([]uint64, len(sent))
		for i, id := range sent {
			want[len(sent)-1-i] = id
		}
		assert.Equal(t, want, back)

		// Reading forward from the start.
		var fwd []uint64
		after := uint64(0)
		for {
			page, err := c.Newer(ctx, after, 50)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			fwd = append(fwd, msgIDs(page)...)
			after = page[len(page)-1].ID
		}
		assert.Equal(t, sent, fwd)

		// The opening screen, and New flags on a page.
		page, err := c.Older(ctx, 0, 3)
		require.NoError(t, err)
		require.Len(t, page, 3)
		assert.Equal(t, "m119", page[0].Text)
		assert.True(t, page[0].New)

		// Limits: 0 means the default, huge is capped.
		page, err = c.Newer(ctx, 0, 0)
		require.NoError(t, err)
		assert.Len(t, page, messaging.DefaultPageSize)
		page, err = c.Newer(ctx, 0, 1<<30)
		require.NoError(t, err)
		assert.Len(t, page, 121)
	})
}

func TestBadCursors(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		m := send(t, x, "bob", "dave", "to dave")
		other := send(t, x, "bob", "carol", "to carol")
		for i := range 5 {
			send(t, x, fmt.Sprintf("u%d", i), "bob", "x")
		}
		c := conv(t, x, "bob", "dave")
		_, err := c.Older(ctx, other.ID, 10)
		assert.ErrorIs(t, err, messaging.ErrBadCursor, "an ID from another conversation")
		_, err = c.Newer(ctx, 9999, 10)
		assert.ErrorIs(t, err, messaging.ErrBadCursor, "an unknown ID")
		// A cursor deleted from this side still marks its place...
		require.NoError(t, c.DeleteMessage(ctx, m.ID))
		later := send(t, x, "bob", "dave", "later")
		latest := send(t, x, "bob", "dave", "latest")
		require.NoError(t, c.DeleteMessage(ctx, later.ID))
		page, err := c.Older(ctx, later.ID, 10)
		require.NoError(t, err)
		assert.Empty(t, page, "nothing older than it is left on bob's side")
		page, err = c.Newer(ctx, later.ID, 10)
		require.NoError(t, err)
		assert.Equal(t, []uint64{latest.ID}, msgIDs(page))
		// ...but not once both sides deleted it.
		require.NoError(t, conv(t, x, "dave", "bob").DeleteMessage(ctx, later.ID))
		_, err = c.Older(ctx, later.ID, 10)
		assert.ErrorIs(t, err, messaging.ErrBadCursor, "a message deleted from both sides")

		bob := inbox(t, x, "bob")
		first, err := bob.ConversationPage(ctx, "", 2)
		require.NoError(t, err)
		require.NotEmpty(t, first.Next)
		for _, bad := range []string{"garbage", "!!!", first.Next[:len(first.Next)-3], strings.Repeat("A", 40)} {
			_, err = bob.ConversationPage(ctx, bad, 2)
			assert.ErrorIs(t, err, messaging.ErrBadCursor, "cursor %q", bad)
		}
		send(t, x, "u0", "dave", "x")
		_, err = inbox(t, x, "dave").ConversationPage(ctx, first.Next, 2)
		assert.ErrorIs(t, err, messaging.ErrBadCursor, "a cursor from another inbox")
		_, err = bob.ConversationPage(ctx, first.Next, 2)
		assert.NoError(t, err)
	})
}

func TestConversationPages(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		const n = 65
		for i := range n {
			send(t, x, fmt.Sprintf("u%03d", i), "dave", strings.Repeat("é", 150)+fmt.Sprint(i), day(i/2)) // ties in pairs
		}
		in := inbox(t, x, "dave")
		var got []string
		cursor := ""
		pages := 0
		for {
			page, err := in.ConversationPage(ctx, cursor, 20)
			require.NoError(t, err)
			pages++
			for _, c := range page.Conversations {
				got = append(got, c.Username)
				// The summaries a list screen needs come with the page.
				assert.Equal(t, 1, c.NewMessagesCount)
				assert.Equal(t, 1, c.MessageCount)
				assert.Equal(t, c.Username, c.LastMessage.Sender)
				assert.Equal(t, strings.Repeat("é", messaging.PreviewRunes), c.LastMessage.Text, "a preview of PreviewRunes runes")
				assert.True(t, c.LastMessage.New)
			}
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		assert.Equal(t, 4, pages, "20+20+20+5, and no empty page at the end")
		assert.Equal(t, others(t, in), got, "pages join to the same order as Conversations")
	})
}

func TestConversationPageIsOneRead(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			cs := &countingStore{Store: s.open(t)}
			x := messaging.New(cs)
			defer x.Close()
			for i := range 100 {
				send(t, x, fmt.Sprintf("u%03d", i), "dave", "x", day(i))
			}
			in := inbox(t, x, "dave")
			cs.records.Store(0)
			page, err := in.ConversationPage(ctx, "", 20)
			require.NoError(t, err)
			require.Len(t, page.Conversations, 20)
			assert.Equal(t, int64(21), cs.records.Load(), "one listing of 20+1 records; no query per conversation")
		})
	}
}

// TestPagingStableUnderWrites pages through a conversation and an inbox
// while other goroutines add and delete items: every item that was there
// throughout and never deleted is seen exactly once, and nothing twice.
func TestPagingStableUnderWrites(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		const n = 300
		var ids []uint64
		for i := range n {
			ids = append(ids, send(t, x, "bob", "dave", fmt.Sprint(i), day(i)).ID)
			send(t, x, fmt.Sprintf("u%03d", i), "erin", "x", day(i))
		}
		doomed := map[uint64]bool{}
		doomedUsers := map[string]bool{}
		r := rand.New(rand.NewPCG(1, 2))
		for _, i := range r.Perm(n)[:n/3] {
			doomed[ids[i]] = true
			doomedUsers[fmt.Sprintf("u%03d", i)] = true
		}
		c := conv(t, x, "dave", "bob")
		erin := inbox(t, x, "erin")

		var wg sync.WaitGroup
		wg.Go(func() { // new messages arrive, doomed ones go
			k := 0
			for id := range doomed {
				send(t, x, "bob", "dave", "new", day(n+k))
				send(t, x, fmt.Sprintf("new%03d", k), "erin", "x", day(n+k))
				k++
				assert.NoError(t, c.DeleteMessage(ctx, id))
			}
		})
		wg.Go(func() {
			for u := range doomedUsers {
				assert.NoError(t, erin.Delete(ctx, u))
			}
		})

		seen := map[uint64]int{}
		before := uint64(0)
		for {
			page, err := c.Older(ctx, before, 7)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			for _, m := range page {
				seen[m.ID]++
			}
			before = page[len(page)-1].ID
		}
		seenUsers := map[string]int{}
		cursor := ""
		for {
			page, err := erin.ConversationPage(ctx, cursor, 7)
			require.NoError(t, err)
			for _, cv := range page.Conversations {
				seenUsers[cv.Username]++
			}
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		wg.Wait()

		for id, k := range seen {
			assert.Equal(t, 1, k, "message %d seen twice", id)
		}
		for _, id := range ids {
			if !doomed[id] {
				assert.Equal(t, 1, seen[id], "message %d missed", id)
			}
		}
		for u, k := range seenUsers {
			assert.Equal(t, 1, k, "conversation %s seen twice", u)
		}
		for i := range n {
			if u := fmt.Sprintf("u%03d", i); !doomedUsers[u] {
				assert.Equal(t, 1, seenUsers[u], "conversation %s missed", u)
			}
		}
	})
}

func TestReadReceipts(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		m1 := send(t, x, "bob", "dave", "one", day(1))
		m2 := send(t, x, "bob", "dave", "two", day(2))
		reply := send(t, x, "dave", "bob", "reply", day(3))
		receipts := func() map[string]bool {
			out := map[string]bool{}
			for _, m := range collect(t, conv(t, x, "bob", "dave").Messages(ctx)) {
				out[m.Text] = m.ReadByRecipient
			}
			return out
		}
		assert.Equal(t, map[string]bool{"one": false, "two": false, "reply": false}, receipts())
		assert.False(t, m1.ReadByRecipient)

		require.NoError(t, conv(t, x, "dave", "bob").MarkReadUpTo(ctx, m1.ID))
		assert.Equal(t, map[string]bool{"one": true, "two": false, "reply": false}, receipts(),
			"only bob's own messages carry receipts")
		assert.Equal(t, m1.ID, conv(t, x, "bob", "dave").ReadByOtherUpTo)

		require.NoError(t, conv(t, x, "dave", "bob").MarkRead(ctx))
		assert.Equal(t, map[string]bool{"one": true, "two": true, "reply": false}, receipts())

		// Dave's own copy carries no receipt for what he received.
		for _, m := range collect(t, conv(t, x, "dave", "bob").Messages(ctx)) {
			assert.False(t, m.ReadByRecipient, m.Text)
		}

		// Dave starts afresh: what he read stays read; the new one is not.
		require.NoError(t, inbox(t, x, "dave").Delete(ctx, "bob"))
		send(t, x, "bob", "dave", "three", day(4))
		assert.Equal(t, map[string]bool{"one": true, "two": true, "reply": false, "three": false}, receipts())
		assert.Equal(t, reply.ID, conv(t, x, "bob", "dave").ReadByOtherUpTo, "MarkRead covers the whole conversation")
		assert.Less(t, m2.ID, reply.ID)
	})
}

func TestMarkReadUpTo(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		var ms []messaging.Message
		for i := range 5 {
			ms = append(ms, send(t, x, "bob", "dave", fmt.Sprint(i), day(i)))
			send(t, x, "dave", "bob", "ack", day(i)) // sent messages are never new
		}
		send(t, x, "carol", "dave", "x")
		c := conv(t, x, "dave", "bob")
		total, per := unread(t, x, "dave")
		require.Equal(t, 6, total)
		require.Equal(t, 5, per["bob"])

		require.NoError(t, c.MarkReadUpTo(ctx, ms[2].ID))
		total, per = unread(t, x, "dave")
		assert.Equal(t, 3, total)
		assert.Equal(t, 2, per["bob"])
		assert.Equal(t, 1, per["carol"])
		news := []bool{}
		for _, m := range collect(t, c.Messages(ctx)) {
			if m.Sender == "bob" {
				news = append(news, m.New)
			}
		}
		assert.Equal(t, []bool{false, false, false, true, true}, news)

		// Marking up to an older message, or the same one, changes nothing.
		require.NoError(t, c.MarkReadUpTo(ctx, ms[2].ID))
		require.NoError(t, c.MarkReadUpTo(ctx, ms[0].ID))
		total, _ = unread(t, x, "dave")
		assert.Equal(t, 3, total)

		// A deleted new message is not counted twice.
		require.NoError(t, c.DeleteMessage(ctx, ms[3].ID))
		require.NoError(t, c.MarkReadUpTo(ctx, ms[4].ID))
		total, per = unread(t, x, "dave")
		assert.Equal(t, 1, total)
		assert.Equal(t, 0, per["bob"])

		err := c.MarkReadUpTo(ctx, 9999)
		assert.ErrorIs(t, err, messaging.ErrNotFound)
		problems, err := x.Verify(ctx)
		require.NoError(t, err)
		assert.Empty(t, problems)
	})
}
