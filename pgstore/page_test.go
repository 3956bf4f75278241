package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// withoutPager is the store with its View's PageReader hidden: package
// messaging then pages read by read.
type withoutPager struct{ messaging.Store }

func (s withoutPager) View(ctx context.Context, fn func(messaging.ReadTx) error) error {
	return s.Store.View(ctx, func(tx messaging.ReadTx) error { return fn(struct{ messaging.ReadTx }{tx}) })
}

// TestPageReaderAgrees: Older and Newer give the same pages and the same
// errors with the store's PageReader (one round trip) as read by read,
// from every kind of cursor: none, a message here, one deleted from this
// side only (its place is the other side's copy), one deleted from both
// sides, one never here, and in a conversation that is gone.
func TestPageReaderAgrees(t *testing.T) {
	s := openStore(t)
	one, byParts := messaging.New(s), messaging.New(withoutPager{s})
	ctx := context.Background()
	var ids []uint64
	for i := range 12 {
		from, to := "ann", "bob"
		if i%3 == 0 {
			from, to = to, from
		}
		m, err := one.SendMessage(ctx, from, to, fmt.Sprint(i))
		require.NoError(t, err)
		ids = append(ids, m.ID)
	}
	_, err := one.SendMessage(ctx, "ann", "cat", "elsewhere")
	require.NoError(t, err)
	annBob, err := one.Conversation(ctx, "ann", "bob")
	require.NoError(t, err)
	bobAnn, err := one.Conversation(ctx, "bob", "ann")
	require.NoError(t, err)
	require.NoError(t, annBob.DeleteMessage(ctx, ids[4]))  // ann's side only
	require.NoError(t, annBob.DeleteMessage(ctx, ids[7]))  // both sides
	require.NoError(t, bobAnn.DeleteMessage(ctx, ids[7]))  //
	require.NoError(t, bobAnn.DeleteMessage(ctx, ids[10])) // bob's side only
	cat, err := one.Conversation(ctx, "ann", "cat")
	require.NoError(t, err)
	cursors := append([]uint64{0, cat.LastMessage.ID, 1 << 40}, ids...)

	compare := func(name string, owner, other string) {
		for _, from := range cursors {
			for _, limit := range []int{1, 3, 50} {
				for _, older := range []bool{true, false} {
					page := func(x *messaging.Inboxes) ([]messaging.Message, error) {
						c, err := x.Conversation(ctx, owner, other)
						if err != nil {
							return nil, err
						}
						if older {
							return c.Older(ctx, from, limit)
						}
						return c.Newer(ctx, from, limit)
					}
					want, wantErr := page(byParts)
					got, gotErr := page(one)
					what := fmt.Sprintf("%s: from %d, limit %d, older %v", name, from, limit, older)
					assert.Equal(t, want, got, what)
					if wantErr == nil {
						assert.NoError(t, gotErr, what)
						continue
					}
					if assert.Error(t, gotErr, what) {
						assert.Equal(t, wantErr.Error(), gotErr.Error(), what)
						for _, sentinel := range []error{messaging.ErrBadCursor, messaging.ErrNotFound} {
							assert.Equal(t, errors.Is(wantErr, sentinel), errors.Is(gotErr, sentinel), what)
						}
					}
				}
			}
		}
	}
	compare("ann/bob", "ann", "bob")
	compare("bob/ann", "bob", "ann")

	// A conversation deleted after it was fetched.
	c1, err := one.Conversation(ctx, "ann", "cat")
	require.NoError(t, err)
	c2, err := byParts.Conversation(ctx, "ann", "cat")
	require.NoError(t, err)
	in, err := one.Get(ctx, "ann")
	require.NoError(t, err)
	require.NoError(t, in.Delete(ctx, "cat"))
	_, err1 := c1.Older(ctx, 0, 10)
	_, err2 := c2.Older(ctx, 0, 10)
	assert.ErrorIs(t, err1, messaging.ErrNotFound)
	assert.Equal(t, err2.Error(), err1.Error())
}
