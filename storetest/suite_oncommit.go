package storetest

// Tests of Tx.OnCommit.

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func testOnCommitAfterCommit(t *testing.T, s messaging.Store) {
	var calls []string
	err := s.Update(context.Background(), func(tx messaging.Tx) error {
		calls = calls[:0] // the function may run more than once
		tx.OnCommit(func() { calls = append(calls, "first") })
		if err := tx.PutInbox(inbox("a", 1)); err != nil {
			return err
		}
		tx.OnCommit(func() { calls = append(calls, "second") })
		assert.Empty(t, calls, "nothing runs before the commit")
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"first", "second"}, calls, "once each, in registration order, by the time Update returns")

	// A transaction that writes nothing still runs its callbacks.
	ran := 0
	require.NoError(t, s.Update(context.Background(), func(tx messaging.Tx) error {
		ran = 0
		tx.OnCommit(func() { ran++ })
		return nil
	}))
	assert.Equal(t, 1, ran)
}

func testOnCommitDroppedOnError(t *testing.T, s messaging.Store) {
	ran := false
	err := s.Update(context.Background(), func(tx messaging.Tx) error {
		tx.OnCommit(func() { ran = true })
		if err := tx.PutInbox(inbox("a", 1)); err != nil {
			return err
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	assert.False(t, ran, "a rolled-back transaction runs no callback")

	err = s.Update(context.Background(), func(tx messaging.Tx) error {
		tx.OnCommit(func() { ran = true })
		return errBoom // without writing
	})
	require.ErrorIs(t, err, errBoom)
	assert.False(t, ran, "a failed read-only function runs no callback")
}

// testOnCommitCommitOrder has concurrent Updates each bump one counter and
// register a callback with the value they wrote: the callbacks must see the
// values in increasing order, exactly once each for the Updates that
// succeeded, whichever commits were grouped.
func testOnCommitCommitOrder(t *testing.T, s messaging.Store) {
	ctx := context.Background()
	update(t, s, putInbox(inbox("counter", 0)))
	var (
		mu   sync.Mutex
		seen []int
		wg   sync.WaitGroup
		okN  atomic.Int64
	)
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				fail := (w+i)%5 == 0
				err := s.Update(ctx, func(tx messaging.Tx) error {
					in, err := tx.Inbox("counter")
					if err != nil {
						return err
					}
					in.Unread++
					if err := tx.PutInbox(in); err != nil {
						return err
					}
					v := in.Unread
					tx.OnCommit(func() {
						mu.Lock()
						seen = append(seen, v)
						mu.Unlock()
					})
					if fail {
						return errBoom
					}
					return nil
				})
				if fail {
					assert.ErrorIs(t, err, errBoom)
				} else if assert.NoError(t, err) {
					okN.Add(1)
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, int(okN.Load()), "one callback per successful Update")
	for i, v := range seen {
		assert.Equal(t, i+1, v, "callback %d saw the counter at %d: not commit order", i, v)
	}
	assert.Equal(t, int(okN.Load()), getInbox(t, s, "counter").Unread)
}
