package storetest

// Tests of Tx.NextID.

import (
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func testNextIDStartsAtOneOrMore(t *testing.T, s messaging.Store) {
	assert.GreaterOrEqual(t, nextID(t, s), uint64(1))
}

func testNextIDIncreasesAcrossTransactions(t *testing.T, s messaging.Store) {
	update(t, s, putInbox(inbox("bob", 0)))
	prev := nextID(t, s)
	for i := range 20 {
		if i%3 == 0 {
			update(t, s, putInbox(inbox("bob", i)))
		}
		id := nextID(t, s)
		assert.Greater(t, id, prev, "transaction %d", i)
		prev = id
	}
}

func testNextIDRollbackNeverGoesBack(t *testing.T, s messaging.Store) {
	committed := nextID(t, s)
	var rolledBack uint64
	err := s.Update(t.Context(), func(tx messaging.Tx) error {
		var err error
		if rolledBack, err = tx.NextID(); err != nil {
			return err
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	assert.Greater(t, rolledBack, committed, "inside the failed transaction")
	assert.Greater(t, nextID(t, s), committed, "after the failed transaction")
}

func testNextIDUniqueUnderConcurrentUpdates(t *testing.T, s messaging.Store) {
	const goroutines, perGoroutine = 8, 25
	got := make([][]uint64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range perGoroutine {
				var id uint64
				err := s.Update(t.Context(), func(tx messaging.Tx) error {
					var err error
					id, err = tx.NextID()
					return err
				})
				if !assert.NoError(t, err) {
					return
				}
				got[g] = append(got[g], id)
			}
		})
	}
	wg.Wait()
	seen := map[uint64]int{}
	for g, list := range got {
		assert.Len(t, list, perGoroutine, "goroutine %d", g)
		assert.True(t, slices.IsSorted(list) && len(slices.Compact(slices.Clone(list))) == len(list),
			"goroutine %d: IDs of its successive transactions not strictly increasing: %v", g, list)
		for _, id := range list {
			seen[id]++
		}
	}
	for id, n := range seen {
		assert.Equal(t, 1, n, "ID %d returned by %d committed transactions", id, n)
	}
}
