package messaging_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func TestIdempotentSend(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		key := messaging.WithIdempotencyKey("client-7f3a")
		meta := messaging.WithMeta(map[string]string{"client_id": "7f3a"})
		first, err := x.SendMessage(ctx, "bob", "dave", "Hi Dave", key, meta)
		require.NoError(t, err)
		before := snapshot(t, x)
		all := subscribe(t, x, "")

		again, err := x.SendMessage(ctx, "bob", "dave", "Hi Dave", key, meta)
		require.NoError(t, err, "a retry")
		assert.Equal(t, first.ID, again.ID)
		assert.True(t, first.Created.Equal(again.Created))
		assert.Equal(t, first, again)
		assert.Equal(t, before, snapshot(t, x), "the retry wrote nothing")
		none(t, all)

		for name, retry := range map[string]func() error{
			"another recipient": func() error { _, err := x.SendMessage(ctx, "bob", "carol", "Hi Dave", key, meta); return err },
			"another text":      func() error { _, err := x.SendMessage(ctx, "bob", "dave", "Hi Dave!", key, meta); return err },
			"other metadata": func() error {
				_, err := x.SendMessage(ctx, "bob", "dave", "Hi Dave", key, messaging.WithMeta(map[string]string{"client_id": "x"}))
				return err
			},
			"no metadata": func() error { _, err := x.SendMessage(ctx, "bob", "dave", "Hi Dave", key); return err },
		} {
			assert.ErrorIs(t, retry(), messaging.ErrIdempotencyConflict, name)
		}
		assert.Equal(t, before, snapshot(t, x), "conflicts wrote nothing")

		other, err := x.SendMessage(ctx, "carol", "dave", "Hi Dave", key, meta)
		require.NoError(t, err, "keys are per sender")
		assert.NotEqual(t, first.ID, other.ID)

		_, err = x.SendMessage(ctx, "bob", "dave", "x", messaging.WithIdempotencyKey(""))
		assert.ErrorIs(t, err, messaging.ErrInvalidKey)
		_, err = x.SendMessage(ctx, "bob", "dave", "x", messaging.WithIdempotencyKey(string(make([]byte, 129))))
		assert.ErrorIs(t, err, messaging.ErrInvalidKey)
	})
}

// Sixteen goroutines sending with one key at once make one message.
func TestIdempotentSendRace(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		var wg sync.WaitGroup
		ids := make([]uint64, 16)
		for i := range ids {
			wg.Go(func() {
				m, err := x.SendMessage(ctx, "bob", "dave", "once", messaging.WithIdempotencyKey("k"))
				if assert.NoError(t, err) {
					ids[i] = m.ID
				}
			})
		}
		wg.Wait()
		for _, id := range ids {
			assert.Equal(t, ids[0], id)
		}
		assert.Equal(t, []string{"once"}, texts(t, conv(t, x, "dave", "bob")))
		assert.Equal(t, 1, inbox(t, x, "dave").NewMessagesCount)
	})
}

// Keys are kept for the window, then free again; expired keys are dropped.
func TestIdempotencyWindow(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			store := st.open(t)
			x, err := messaging.NewWithOptions(store, &messaging.Options{Now: func() time.Time { return now }})
			require.NoError(t, err)
			defer x.Close()
			first, err := x.SendMessage(ctx, "bob", "dave", "hi", messaging.WithIdempotencyKey("k"))
			require.NoError(t, err)
			now = now.Add(messaging.DefaultIdempotencyWindow - time.Second)
			again, err := x.SendMessage(ctx, "bob", "dave", "hi", messaging.WithIdempotencyKey("k"))
			require.NoError(t, err)
			assert.Equal(t, first.ID, again.ID, "inside the window")
			now = now.Add(2 * time.Second)
			later, err := x.SendMessage(ctx, "bob", "dave", "hi", messaging.WithIdempotencyKey("k"))
			require.NoError(t, err)
			assert.NotEqual(t, first.ID, later.ID, "after the window the key is free")

			for i := range 10 {
				_, err := x.SendMessage(ctx, "bob", "dave", "hi", messaging.WithIdempotencyKey(string(rune('a'+i))))
				require.NoError(t, err)
			}
			now = now.Add(48 * time.Hour)
			for i := range 10 { // each keyed send drops up to two expired keys
				_, err := x.SendMessage(ctx, "carol", "dave", "hi", messaging.WithIdempotencyKey(string(rune('a'+i))))
				require.NoError(t, err)
			}
			var left []messaging.IdempotencyRecord
			require.NoError(t, store.View(ctx, func(tx messaging.ReadTx) (err error) {
				left, err = tx.Idempotencies(messaging.IdempotencyRecord{}, 100)
				return err
			}))
			for _, rec := range left {
				assert.Equal(t, "carol", rec.Sender, "bob's expired keys were dropped")
			}
			assert.Len(t, left, 10)
		})
	}
}

func TestIdempotencyKeySurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	x, err := messaging.Open(path)
	require.NoError(t, err)
	first, err := x.SendMessage(ctx, "bob", "dave", "hi", messaging.WithIdempotencyKey("k"))
	require.NoError(t, err)
	require.NoError(t, x.Close())
	x, err = messaging.Open(path)
	require.NoError(t, err)
	defer x.Close()
	again, err := x.SendMessage(ctx, "bob", "dave", "hi", messaging.WithIdempotencyKey("k"))
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID)
	assert.Equal(t, []string{"hi"}, texts(t, conv(t, x, "dave", "bob")))
}
