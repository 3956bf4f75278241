package messaging_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// A read receipt never covers a message the reader did not have: one they
// deleted unread, or one from before they deleted the conversation or their
// inbox. What they did read stays read.
func TestReceiptsCoverOnlyWhatTheReaderHad(t *testing.T) {
	receipts := func(t *testing.T, x *messaging.Inboxes) map[string]bool {
		out := map[string]bool{}
		for _, m := range collect(t, conv(t, x, "carol", "bob").Messages(ctx)) {
			out[m.Text] = m.ReadByRecipient
		}
		return out
	}
	tests := []struct {
		name string
		run  func(t *testing.T, x *messaging.Inboxes)
		want map[string]bool
	}{
		{"deleted unread, then read", func(t *testing.T, x *messaging.Inboxes) {
			m1 := send(t, x, "carol", "bob", "m1")
			require.NoError(t, conv(t, x, "bob", "carol").DeleteMessage(ctx, m1.ID))
			require.NoError(t, conv(t, x, "bob", "carol").MarkRead(ctx))
		}, map[string]bool{"m1": false}},
		{"deleted unread, a later one read", func(t *testing.T, x *messaging.Inboxes) {
			m1 := send(t, x, "carol", "bob", "m1")
			send(t, x, "carol", "bob", "m2")
			require.NoError(t, conv(t, x, "bob", "carol").DeleteMessage(ctx, m1.ID))
			require.NoError(t, conv(t, x, "bob", "carol").MarkRead(ctx))
		}, map[string]bool{"m1": false, "m2": true}},
		{"deleted unread, read up to a later one", func(t *testing.T, x *messaging.Inboxes) {
			m1 := send(t, x, "carol", "bob", "m1")
			m2 := send(t, x, "carol", "bob", "m2")
			send(t, x, "carol", "bob", "m3")
			require.NoError(t, conv(t, x, "bob", "carol").DeleteMessage(ctx, m1.ID))
			require.NoError(t, conv(t, x, "bob", "carol").MarkReadUpTo(ctx, m2.ID))
		}, map[string]bool{"m1": false, "m2": true, "m3": false}},
		{"newest deleted unread: the preview has no receipt either", func(t *testing.T, x *messaging.Inboxes) {
			send(t, x, "carol", "bob", "m1")
			m2 := send(t, x, "carol", "bob", "m2")
			require.NoError(t, conv(t, x, "bob", "carol").DeleteMessage(ctx, m2.ID))
			require.NoError(t, conv(t, x, "bob", "carol").MarkRead(ctx))
			assert.False(t, conv(t, x, "carol", "bob").LastMessage.ReadByRecipient, "preview of m2")
		}, map[string]bool{"m1": true, "m2": false}},
		{"conversation deleted unread, then a new one read", func(t *testing.T, x *messaging.Inboxes) {
			send(t, x, "carol", "bob", "m1")
			require.NoError(t, inbox(t, x, "bob").Delete(ctx, "carol"))
			send(t, x, "carol", "bob", "m2")
			require.NoError(t, conv(t, x, "bob", "carol").MarkRead(ctx))
		}, map[string]bool{"m1": false, "m2": true}},
		{"read, conversation deleted, a new one read", func(t *testing.T, x *messaging.Inboxes) {
			send(t, x, "carol", "bob", "m1")
			require.NoError(t, conv(t, x, "bob", "carol").MarkRead(ctx))
			require.NoError(t, inbox(t, x, "bob").Delete(ctx, "carol"))
			send(t, x, "carol", "bob", "m2")
			require.NoError(t, conv(t, x, "bob", "carol").MarkRead(ctx))
		}, map[string]bool{"m1": true, "m2": true}},
		{"inbox deleted unread, then a new one read", func(t *testing.T, x *messaging.Inboxes) {
			send(t, x, "carol", "bob", "m1")
			send(t, x, "eve", "bob", "e1")
			require.NoError(t, x.Delete(ctx, "bob"))
			send(t, x, "carol", "bob", "m2")
			require.NoError(t, conv(t, x, "bob", "carol").MarkRead(ctx))
		}, map[string]bool{"m1": false, "m2": true}},
		{"the sender deleted their copy first", func(t *testing.T, x *messaging.Inboxes) {
			m1 := send(t, x, "carol", "bob", "m1")
			send(t, x, "carol", "bob", "m2")
			require.NoError(t, conv(t, x, "carol", "bob").DeleteMessage(ctx, m1.ID))
			require.NoError(t, conv(t, x, "bob", "carol").DeleteMessage(ctx, m1.ID))
			require.NoError(t, conv(t, x, "bob", "carol").MarkRead(ctx))
		}, map[string]bool{"m2": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
				tt.run(t, x)
				assert.Equal(t, tt.want, receipts(t, x))
				problems, err := x.Verify(ctx)
				require.NoError(t, err)
				assert.Empty(t, problems)
			})
		})
	}
}

// MarkRead with nothing new writes nothing and tells nobody.
func TestMarkReadWithNothingNewWritesNothing(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ws := &writeCountingStore{Store: st.open(t)}
			x := messaging.New(ws)
			defer x.Close()
			m := send(t, x, "carol", "bob", "hi")
			send(t, x, "bob", "carol", "my own message is never new")
			all := subscribe(t, x, "")
			carol := subscribe(t, x, "carol")

			c := conv(t, x, "bob", "carol")
			require.NoError(t, c.MarkRead(ctx))
			assert.Equal(t, messaging.ConversationRead, next(t, all).Kind)
			assert.Equal(t, messaging.ConversationRead, next(t, carol).Kind)

			writes := ws.writes.Load()
			require.NoError(t, c.MarkRead(ctx), "again: nothing new")
			require.NoError(t, c.MarkReadUpTo(ctx, m.ID), "up to what is read already")
			assert.Equal(t, writes, ws.writes.Load(), "no record written")
			none(t, all)
			none(t, carol)

			d := send(t, x, "carol", "bob", "deleted unread")
			require.NoError(t, c.DeleteMessage(ctx, d.ID))
			for _, want := range []messaging.EventKind{messaging.MessageSent, messaging.MessageReceived, messaging.MessageDeleted} {
				assert.Equal(t, want, next(t, all).Kind)
			}
			assert.Equal(t, messaging.MessageSent, next(t, carol).Kind)
			writes = ws.writes.Load()
			require.NoError(t, c.MarkRead(ctx), "only a deleted message was new")
			require.NoError(t, c.MarkReadUpTo(ctx, d.ID), "up to the deleted one's place")
			assert.Equal(t, writes, ws.writes.Load(), "no record written")
			none(t, all)
			none(t, carol)
		})
	}
}

// A read receipt delivered to the sender's subscribers carries the sender's
// counts, never the reader's.
func TestReceiptEventCarriesTheSendersCounts(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		send(t, x, "eve", "carol", "e1")
		send(t, x, "eve", "carol", "e2")
		send(t, x, "bob", "carol", "b1")
		m := send(t, x, "carol", "bob", "c1")
		send(t, x, "eve", "bob", "for bob")
		carol := subscribe(t, x, "carol")
		bob := subscribe(t, x, "bob")
		all := subscribe(t, x, "")

		require.NoError(t, conv(t, x, "bob", "carol").MarkRead(ctx))
		mine := next(t, bob)
		assert.Equal(t, messaging.ConversationRead, mine.Kind)
		assert.Equal(t, 1, mine.Unread, "bob still has eve's message")
		assert.Equal(t, 0, mine.ConversationUnread)

		receipt := next(t, carol)
		assert.Equal(t, messaging.ConversationRead, receipt.Kind)
		assert.Equal(t, "bob", receipt.User, "the reader")
		assert.Equal(t, "carol", receipt.Other)
		assert.Equal(t, m.ID, receipt.ReadUpTo)
		assert.Equal(t, 3, receipt.Unread, "carol's own inbox count")
		assert.Equal(t, 1, receipt.ConversationUnread, "carol's side of the conversation: bob's b1")
		assert.Equal(t, uint64(5), receipt.Seq, "carol had 4 events before: 3 received, 1 sent")

		everyone := next(t, all)
		assert.Equal(t, withSeq(mine, everyone.Seq), everyone, "SubscribeAll: one event, the reader's")
		none(t, all)
	})
}
