package messaging_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// "Polling never misses" (DESIGN.md): within a conversation, messages sent
// without WithCreated sort in the order their sends committed, on every
// store, under any concurrency and whatever the clocks say.

// slowStore delays the next Update by a while before it starts, as a
// goroutine descheduled between taking a timestamp and committing would be.
type slowStore struct {
	messaging.Store
	delayNext atomic.Bool
}

func (s *slowStore) Update(ctx context.Context, fn func(messaging.Tx) error) error {
	if s.delayNext.CompareAndSwap(true, false) {
		time.Sleep(100 * time.Millisecond)
	}
	return s.Store.Update(ctx, fn)
}

func TestPollingSeesADelayedSend(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := &slowStore{Store: st.open(t)}
			x := messaging.New(s)
			defer x.Close()
			first := send(t, x, "bob", "dave", "first")

			s.delayNext.Store(true)
			slow := make(chan messaging.Message)
			go func() {
				m, err := x.SendMessage(ctx, "bob", "dave", "slow")
				assert.NoError(t, err)
				slow <- m
			}()
			waitUntil(t, func() bool { return !s.delayNext.Load() }) // the slow send is under way
			fast := send(t, x, "bob", "dave", "fast")

			c := conv(t, x, "dave", "bob")
			shown, err := c.Newer(ctx, first.ID, 10)
			require.NoError(t, err)
			require.Equal(t, []uint64{fast.ID}, msgIDs(shown), "the slow send has not committed yet")
			late := <-slow

			more, err := c.Newer(ctx, fast.ID, 10)
			require.NoError(t, err)
			assert.Equal(t, []uint64{late.ID}, msgIDs(more), "a send that committed after the screen's newest comes after it")
			assert.False(t, late.Created.Before(fast.Created))
			require.NoError(t, c.MarkReadUpTo(ctx, late.ID))
			assert.Zero(t, conv(t, x, "dave", "bob").NewMessagesCount)
		})
	}
}

// TestPollingUnderConcurrentSends: 32 goroutines send 30 messages each into
// one conversation (both ways) while dave's screen polls with Newer and
// marks what it showed: it must see every message exactly once and leave
// none unread.
func TestPollingUnderConcurrentSends(t *testing.T) {
	const senders, each = 32, 30
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			x := messaging.New(st.open(t))
			defer x.Close()
			seed := send(t, x, "bob", "dave", "seed")
			c := conv(t, x, "dave", "bob")

			var wg sync.WaitGroup
			var sent atomic.Int64
			for g := range senders {
				wg.Go(func() {
					from, to := "bob", "dave"
					if g%2 == 1 {
						from, to = to, from
					}
					for i := range each {
						if _, err := x.SendMessage(ctx, from, to, fmt.Sprintf("%d/%d", g, i)); err != nil {
							t.Error(err)
							return
						}
						sent.Add(1)
					}
				})
			}
			seen := map[uint64]int{}
			newest := seed.ID
			deadline := time.Now().Add(30 * time.Second)
			for len(seen) < senders*each && time.Now().Before(deadline) {
				page, err := c.Newer(ctx, newest, 100)
				require.NoError(t, err)
				for _, m := range page {
					seen[m.ID]++
				}
				if len(page) > 0 {
					newest = page[len(page)-1].ID
					require.NoError(t, c.MarkReadUpTo(ctx, newest))
				}
			}
			wg.Wait()
			require.EqualValues(t, senders*each, sent.Load())
			assert.Len(t, seen, senders*each, "the poller missed messages")
			for id, n := range seen {
				assert.Equal(t, 1, n, "message %d shown %d times", id, n)
			}
			assert.Zero(t, conv(t, x, "dave", "bob").NewMessagesCount, "what the screen showed and marked is read")
		})
	}
}

// TestClockSteppingBack: a clock that goes backwards, or two processes
// whose clocks disagree by an hour, never put a message before one sent
// earlier in the same conversation.
func TestClockSteppingBack(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			store := st.open(t)
			ahead := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			var tick atomic.Int64
			// Each call is a second earlier than the one before.
			back := func() time.Time { return ahead.Add(-time.Duration(tick.Add(1)) * time.Second) }
			x, err := messaging.NewWithOptions(store, &messaging.Options{Now: back})
			require.NoError(t, err)
			defer x.Close()
			// A second "process" on the same store, an hour behind.
			behind, err := messaging.NewWithOptions(store, &messaging.Options{Now: func() time.Time { return ahead.Add(-time.Hour) }})
			require.NoError(t, err)

			var order []uint64
			for i := range 10 {
				sender := x
				if i%2 == 1 {
					sender = behind
				}
				m, err := sender.SendMessage(ctx, "bob", "dave", fmt.Sprint(i))
				require.NoError(t, err)
				order = append(order, m.ID)
			}
			page, err := conv(t, x, "dave", "bob").Newer(ctx, 0, 20)
			require.NoError(t, err)
			assert.Equal(t, order, msgIDs(page), "messages sort in the order they were sent")
			for i := 1; i < len(page); i++ {
				assert.False(t, page[i].Created.Before(page[i-1].Created), "Created never before the newest message")
			}

			// A back-dated message keeps its time, and does not drag
			// later ones back.
			old := send(t, x, "dave", "bob", "old", messaging.WithCreated(ahead.AddDate(-1, 0, 0)))
			assert.True(t, old.Created.Equal(ahead.AddDate(-1, 0, 0)))
			after := send(t, behind, "bob", "dave", "after")
			assert.False(t, after.Created.Before(page[len(page)-1].Created))
		})
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
