package messaging_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func blockedBy(t *testing.T, x *messaging.Inboxes, user string) []string {
	t.Helper()
	return collect(t, x.Blocked(ctx, user))
}

func TestBlocking(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		send(t, x, "bob", "dave", "before")
		require.NoError(t, x.Block(ctx, "dave", "bob"))
		require.NoError(t, x.Block(ctx, "dave", "bob"), "idempotent")
		assert.Equal(t, []string{"bob"}, blockedBy(t, x, "dave"))
		assert.Empty(t, blockedBy(t, x, "bob"), "a block has a direction")

		before := snapshot(t, x)
		for _, pair := range [][2]string{{"bob", "dave"}, {"dave", "bob"}} {
			_, err := x.SendMessage(ctx, pair[0], pair[1], "hi")
			assert.ErrorIs(t, err, messaging.ErrBlocked, "%s to %s: either direction", pair[0], pair[1])
		}
		assert.Equal(t, before, snapshot(t, x), "nothing written, the conversation stays")
		send(t, x, "bob", "carol", "others are not blocked")

		require.NoError(t, x.Unblock(ctx, "dave", "bob"))
		require.NoError(t, x.Unblock(ctx, "dave", "bob"), "idempotent")
		send(t, x, "bob", "dave", "after")
		assert.Empty(t, blockedBy(t, x, "dave"))
	})
}

func TestBlocksNeedNoInboxAndOutliveOne(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		require.NoError(t, x.Block(ctx, "zed", "bob"))
		require.NoError(t, x.Block(ctx, "zed", "amy"))
		assert.Empty(t, users(t, x), "a block creates no inbox")
		assert.Equal(t, []string{"amy", "bob"}, blockedBy(t, x, "zed"), "ascending")

		send(t, x, "zed", "carol", "hi")
		send(t, x, "bob", "carol", "hi")
		require.NoError(t, x.Delete(ctx, "zed"))
		require.NoError(t, x.Delete(ctx, "bob"))
		_, err := x.SendMessage(ctx, "bob", "zed", "hi")
		assert.ErrorIs(t, err, messaging.ErrBlocked, "the block outlived both inboxes")
		assert.Equal(t, []string{"carol"}, users(t, x))
	})
}

func TestBlockValidates(t *testing.T) {
	x := messaging.New(messaging.NewMemoryStore())
	defer x.Close()
	var ie *messaging.InputError
	err := x.Block(ctx, "bob", "bob")
	assert.ErrorIs(t, err, messaging.ErrSelfMessage)
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "other", ie.Field)
	assert.ErrorIs(t, x.Block(ctx, "", "bob"), messaging.ErrInvalidUser)
	assert.ErrorIs(t, x.Unblock(ctx, "bob", "\n"), messaging.ErrInvalidUser)
	for _, err := range x.Blocked(ctx, "") {
		assert.ErrorIs(t, err, messaging.ErrInvalidUser)
	}
}

// The check is inside the send's transaction: once Block has returned, no
// send between the two commits, however many were under way.
func TestBlockStopsSendsInFlight(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		var sent, refused atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, err := x.SendMessage(ctx, "bob", "dave", "spam")
					switch {
					case err == nil:
						sent.Add(1)
					case assert.ErrorIs(t, err, messaging.ErrBlocked):
						refused.Add(1)
					default:
						return
					}
				}
			})
		}
		waitUntil(t, func() bool { return sent.Load() >= 20 })
		require.NoError(t, x.Block(ctx, "dave", "bob"))
		atBlock := conv(t, x, "dave", "bob").MessageCount
		waitUntil(t, func() bool { return refused.Load() >= 20 })
		close(stop)
		wg.Wait()
		assert.Equal(t, atBlock, conv(t, x, "dave", "bob").MessageCount, "a send committed after the block")
	})
}
