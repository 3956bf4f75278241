package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/pgstore/pgtest"
)

// TestWalkthrough is the seed story on PostgreSQL: Bob writes to Dave,
// Dave reads and replies, then deletes the conversation; Bob still has
// both messages, and a back-dated message takes its place by time.
func TestWalkthrough(t *testing.T) {
	x := messaging.New(openStore(t))
	ctx := context.Background()
	day := func(n int) messaging.SendOption {
		return messaging.WithCreated(time.Date(2013, 1, 1+n, 12, 0, 0, 123456789, time.UTC))
	}
	conv := func(owner, other string) *messaging.Conversation {
		in, err := x.Get(ctx, owner)
		require.NoError(t, err)
		c, err := in.Get(ctx, other)
		require.NoError(t, err)
		return c
	}
	hi, err := x.SendMessage(ctx, "bob", "dave", "Hi Dave", day(1))
	require.NoError(t, err)
	in, err := x.Get(ctx, "dave")
	require.NoError(t, err)
	assert.Equal(t, 1, in.NewMessagesCount)
	require.NoError(t, conv("dave", "bob").MarkRead(ctx))
	_, err = x.SendMessage(ctx, "dave", "bob", "Thanks Bob", day(2))
	require.NoError(t, err)
	_, err = x.SendMessage(ctx, "dave", "bob", "Back-dated", day(0))
	require.NoError(t, err)
	require.NoError(t, in.Delete(ctx, "bob"))

	page, err := conv("bob", "dave").Newer(ctx, 0, 10)
	require.NoError(t, err)
	var texts []string
	for _, m := range page {
		texts = append(texts, m.Text)
	}
	assert.Equal(t, []string{"Back-dated", "Hi Dave", "Thanks Bob"}, texts, "by Created, then ID")
	assert.True(t, page[1].ReadByRecipient, "Dave read Bob's message before deleting")
	assert.Equal(t, hi.Created, page[1].Created, "nanoseconds kept")
	c := conv("bob", "dave")
	assert.Equal(t, 2, c.NewMessagesCount)
	require.NoError(t, c.MarkReadUpTo(ctx, page[2].ID)) // read marks are IDs: the back-dated one came after
	assert.Equal(t, 1, conv("bob", "dave").NewMessagesCount)
	ok, err := x.Get(ctx, "dave")
	require.NoError(t, err)
	has, err := ok.Has(ctx, "bob")
	require.NoError(t, err)
	assert.False(t, has, "Dave's side is gone")
	assertSound(t, x)
}

// TestOnCommitPanic: a callback that panics leaves the write committed
// and raises the panic in the Update that registered it.
func TestOnCommitPanic(t *testing.T) {
	s := openStore(t)
	assert.PanicsWithValue(t, "boom", func() {
		_ = s.Update(context.Background(), func(tx messaging.Tx) error {
			tx.OnCommit(func() { panic("boom") })
			return tx.PutInbox(messaging.InboxRecord{Owner: "ann", Unread: 7})
		})
	})
	var in messaging.InboxRecord
	require.NoError(t, s.View(context.Background(), func(tx messaging.ReadTx) (err error) {
		in, err = tx.Inbox("ann")
		return err
	}))
	assert.Equal(t, 7, in.Unread)
	// The store goes on: the next Update's callbacks run.
	ran := false
	require.NoError(t, s.Update(context.Background(), func(tx messaging.Tx) error {
		tx.OnCommit(func() { ran = true })
		return tx.PutInbox(messaging.InboxRecord{Owner: "ann", Unread: 8})
	}))
	assert.True(t, ran)
}

// TestCheckFindsWhatListingsHide: rows that no listing reaches (written
// behind the store's back) are reported by Verify through Store.Check.
func TestCheckFindsWhatListingsHide(t *testing.T) {
	s := openStore(t)
	x := messaging.New(s)
	ctx := context.Background()
	_, err := x.SendMessage(ctx, "ann", "bob", "hi")
	require.NoError(t, err)
	problems, err := x.Verify(ctx)
	require.NoError(t, err)
	require.Empty(t, problems)

	q := func(table string) string { return pgx.Identifier{s.Schema(), table}.Sanitize() }
	pgtest.Exec(t, "INSERT INTO "+q("conversations")+" SELECT 'ghost', other, messages, unread, lu_neg_sec, lu_neg_nsec, first_id, max_id, "+
		"read_mark, peer_read_mark, last_id, last_sender, last_recipient, last_text, last_sec, last_nsec FROM "+q("conversations")+
		" WHERE owner = 'ann'")
	pgtest.Exec(t, "INSERT INTO "+q("messages")+" SELECT owner, 'nobody', id, sec, nsec, sender, recipient, text FROM "+q("messages")+
		" WHERE owner = 'ann'")
	problems, err = x.Verify(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []messaging.Problem{
		{Owner: "ghost", Other: "bob", Detail: problems[0].Detail},
		{Owner: "ann", Other: "nobody", MessageID: 1, Detail: problems[1].Detail},
	}, problems)
	t.Log(problems)
}
