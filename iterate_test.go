package messaging_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// Iterators over something missing say so; over something deleted while
// the loop runs, they end, even if it is started again in the loop.
func TestIteratorsOverWhatIsGone(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		send(t, x, "bob", "dave", "hi")
		box := inbox(t, x, "dave")
		c := conv(t, x, "dave", "bob")
		require.NoError(t, x.Delete(ctx, "dave"))
		for _, err := range box.Conversations(ctx) {
			assert.ErrorIs(t, err, messaging.ErrNotFound, "a deleted inbox, like a deleted conversation")
		}
		for _, err := range c.Messages(ctx) {
			assert.ErrorIs(t, err, messaging.ErrNotFound)
		}
	})
}

func TestMessagesLoopEndsWhenItsConversationIsReplaced(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		for i := range 100 {
			send(t, x, "bob", "dave", fmt.Sprint("old ", i), day(i))
		}
		c := conv(t, x, "dave", "bob")
		var got []string
		for m, err := range c.Messages(ctx) {
			require.NoError(t, err)
			got = append(got, m.Text)
			if len(got) == 1 {
				require.NoError(t, inbox(t, x, "dave").Delete(ctx, "bob"))
				send(t, x, "bob", "dave", "new", day(200)) // a new conversation, after the old one's position
			}
		}
		assert.NotContains(t, got, "new", "the loop went on into the new conversation")
		assert.Less(t, len(got), 100, "the loop ended after its page")
		assert.Equal(t, []string{"new"}, texts(t, conv(t, x, "dave", "bob")))
	})
}

func TestConversationsLoopEndsWhenItsInboxIsDeleted(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		for i := range 100 {
			send(t, x, fmt.Sprintf("u%03d", i), "dave", "x", day(i))
		}
		n := 0
		for _, err := range inbox(t, x, "dave").Conversations(ctx) {
			require.NoError(t, err)
			if n++; n == 1 {
				require.NoError(t, x.Delete(ctx, "dave"))
			}
		}
		assert.Less(t, n, 100, "the loop ended after its page")
	})
}

// Inboxes.Conversation is Get and Inbox.Get in one read.
func TestConversationInOneRead(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			vs := &viewCountingStore{Store: st.open(t)}
			x := messaging.New(vs)
			defer x.Close()
			send(t, x, "bob", "dave", "hi")
			vs.views.Store(0)
			c, err := x.Conversation(ctx, "dave", "bob")
			require.NoError(t, err)
			assert.EqualValues(t, 1, vs.views.Load())
			assert.Equal(t, conv(t, x, "dave", "bob").LastMessage, c.LastMessage)
			assert.Equal(t, 1, c.NewMessagesCount)
			assert.Equal(t, "hi", texts(t, c)[0], "its methods work")
			_, err = x.Conversation(ctx, "dave", "nobody")
			assert.ErrorIs(t, err, messaging.ErrNotFound)
			_, err = x.Conversation(ctx, "nobody", "dave")
			assert.ErrorIs(t, err, messaging.ErrNotFound)
		})
	}
}

// MarkReadUpTo takes the id of a message deleted from this side, as Older
// and Newer do; an id never in the conversation is ErrNotFound.
func TestMarkReadUpToDeletedMessage(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		send(t, x, "bob", "dave", "m1", day(1))
		m2 := send(t, x, "bob", "dave", "m2", day(2))
		send(t, x, "bob", "dave", "m3", day(3))
		other := send(t, x, "bob", "carol", "elsewhere", day(4))
		c := conv(t, x, "dave", "bob")
		require.NoError(t, c.DeleteMessage(ctx, m2.ID))
		require.NoError(t, c.MarkReadUpTo(ctx, m2.ID), "the screen showed m2 before it was deleted")
		total, per := unread(t, x, "dave")
		assert.Equal(t, 1, total)
		assert.Equal(t, 1, per["bob"], "m3 stays new")
		news := map[string]bool{}
		for _, m := range collect(t, c.Messages(ctx)) {
			news[m.Text] = m.New
		}
		assert.Equal(t, map[string]bool{"m1": false, "m3": true}, news)
		assert.ErrorIs(t, c.MarkReadUpTo(ctx, other.ID), messaging.ErrNotFound, "never in this conversation")
		assert.ErrorIs(t, c.MarkReadUpTo(ctx, 999), messaging.ErrNotFound)
	})
}
