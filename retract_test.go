package messaging_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func verifyClean(t *testing.T, x *messaging.Inboxes) {
	t.Helper()
	problems, err := x.Verify(ctx)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

func TestRetract(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		first := send(t, x, "bob", "dave", "first", day(1))
		oops := send(t, x, "bob", "dave", "oops", day(2), messaging.WithMeta(map[string]string{"k": "v"}))
		send(t, x, "carol", "dave", "from carol", day(3))
		bob, dave := subscribe(t, x, "bob"), subscribe(t, x, "dave")
		total, _ := unread(t, x, "dave")
		require.Equal(t, 3, total)

		require.NoError(t, conv(t, x, "bob", "dave").Retract(ctx, oops.ID))
		assert.Equal(t, []string{"first"}, texts(t, conv(t, x, "bob", "dave")))
		assert.Equal(t, []string{"first"}, texts(t, conv(t, x, "dave", "bob")), "gone for both")
		total, per := unread(t, x, "dave")
		assert.Equal(t, 2, total, "the recipient's count falls: it was unread")
		assert.Equal(t, 1, per["bob"])
		for _, side := range [][2]string{{"bob", "dave"}, {"dave", "bob"}} {
			c := conv(t, x, side[0], side[1])
			assert.Equal(t, first.ID, c.LastMessage.ID, "%s's preview follows", side[0])
			assert.True(t, c.LastUpdate.Equal(first.Created), "%s's LastUpdate follows", side[0])
		}
		for _, s := range []*messaging.Subscription{bob, dave} {
			ev := next(t, s)
			assert.Equal(t, messaging.MessageRetracted, ev.Kind)
			assert.Equal(t, oops.ID, ev.Message.ID)
			assert.Empty(t, ev.Message.Text, "the retracted text is not repeated")
			assert.Nil(t, ev.Message.Meta)
			if ev.User == "dave" {
				assert.Equal(t, 2, ev.Unread, "dave's own counts, after")
				assert.Equal(t, 1, ev.ConversationUnread)
				assert.True(t, ev.Message.New, "it was new to dave")
			}
		}
		verifyClean(t, x)

		err := conv(t, x, "bob", "dave").Retract(ctx, oops.ID)
		assert.ErrorIs(t, err, messaging.ErrNotFound, "retracting twice")
		err = conv(t, x, "dave", "bob").Retract(ctx, first.ID)
		assert.ErrorIs(t, err, messaging.ErrNotSender)
		assert.Equal(t, []string{"first"}, texts(t, conv(t, x, "dave", "bob")), "refused: nothing written")
		other := send(t, x, "bob", "carol", "elsewhere")
		assert.ErrorIs(t, conv(t, x, "bob", "dave").Retract(ctx, other.ID), messaging.ErrNotFound)
	})
}

// A copy the recipient deleted (or a conversation they deleted) is no
// obstacle; their counts stay right.
func TestRetractWhatTheRecipientDeleted(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		m1 := send(t, x, "bob", "dave", "m1")
		m2 := send(t, x, "bob", "dave", "m2")
		require.NoError(t, conv(t, x, "dave", "bob").DeleteMessage(ctx, m1.ID))
		require.NoError(t, conv(t, x, "bob", "dave").Retract(ctx, m1.ID))
		assert.Equal(t, []string{"m2"}, texts(t, conv(t, x, "bob", "dave")))
		total, _ := unread(t, x, "dave")
		assert.Equal(t, 1, total)

		require.NoError(t, inbox(t, x, "dave").Delete(ctx, "bob"))
		require.NoError(t, conv(t, x, "bob", "dave").Retract(ctx, m2.ID))
		assert.Empty(t, texts(t, conv(t, x, "bob", "dave")))
		m3 := send(t, x, "bob", "dave", "m3")
		require.NoError(t, conv(t, x, "bob", "dave").Retract(ctx, m3.ID), "in the conversation started afresh")
		assert.Empty(t, texts(t, conv(t, x, "dave", "bob")))
		total, _ = unread(t, x, "dave")
		assert.Zero(t, total)
		verifyClean(t, x)
	})
}

// Verify finds a copy left of a retracted message.
func TestVerifyFindsARetractedCopy(t *testing.T) {
	for _, st := range plainStores() {
		t.Run(st.name, func(t *testing.T) {
			store := st.open(t)
			x := messaging.New(store)
			defer x.Close()
			m := send(t, x, "bob", "dave", "oops")
			var copyOf messaging.MessageRecord
			require.NoError(t, store.View(ctx, func(tx messaging.ReadTx) (err error) {
				copyOf, err = tx.Message("dave", "bob", m.ID)
				return err
			}))
			require.NoError(t, conv(t, x, "bob", "dave").Retract(ctx, m.ID))
			verifyClean(t, x)
			require.NoError(t, store.Update(ctx, func(tx messaging.Tx) error { // a copy comes back
				return tx.PutMessage("dave", "bob", copyOf)
			}))
			problems, err := x.Verify(ctx)
			require.NoError(t, err)
			var details []string
			for _, p := range problems {
				details = append(details, p.String())
			}
			assert.Contains(t, details, `message 1 in "dave"/"bob": retracted, but this copy remains`)
		})
	}
}
