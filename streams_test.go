package messaging_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func subscribeFrom(t *testing.T, x *messaging.Inboxes, user string, after uint64) *messaging.Subscription {
	t.Helper()
	s, err := x.SubscribeFrom(user, after)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// A client that reconnects catches up on everything it missed, then goes
// on live: no gap, no duplicate, Seq gap-free per user.
func TestSubscribeFromCatchesUp(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		live := subscribe(t, x, "dave")
		send(t, x, "bob", "dave", "one")
		seen := next(t, live)
		assert.Equal(t, uint64(1), seen.Seq, "dave's first event")
		live.Close() // the client goes away...

		send(t, x, "bob", "dave", "two")
		send(t, x, "dave", "carol", "three")
		require.NoError(t, conv(t, x, "dave", "bob").MarkRead(ctx))

		back := subscribeFrom(t, x, "dave", seen.Seq) // ...and comes back
		var kinds []messaging.EventKind
		for want := seen.Seq + 1; want <= 4; want++ {
			ev := next(t, back)
			assert.Equal(t, want, ev.Seq, "gap-free")
			kinds = append(kinds, ev.Kind)
		}
		assert.Equal(t, []messaging.EventKind{messaging.MessageReceived, messaging.MessageSent, messaging.ConversationRead}, kinds)
		none(t, back)
		send(t, x, "carol", "dave", "live again")
		ev := next(t, back)
		assert.Equal(t, uint64(5), ev.Seq)
		assert.Equal(t, "live again", ev.Message.Text)

		from0 := subscribeFrom(t, x, "dave", 0)
		assert.Equal(t, uint64(1), next(t, from0).Seq, "0 is the start of a stream that keeps its first event")
	})
}

// The read receipt goes into the sender's stream as an event of theirs,
// with their counts.
func TestReceiptInTheSendersStream(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		send(t, x, "eve", "carol", "e1")
		m := send(t, x, "carol", "bob", "c1")
		require.NoError(t, conv(t, x, "bob", "carol").MarkRead(ctx))
		s := subscribeFrom(t, x, "carol", 0)
		assert.Equal(t, messaging.MessageReceived, next(t, s).Kind)
		assert.Equal(t, messaging.MessageSent, next(t, s).Kind)
		receipt := next(t, s)
		assert.Equal(t, messaging.ConversationRead, receipt.Kind)
		assert.Equal(t, uint64(3), receipt.Seq)
		assert.Equal(t, "bob", receipt.User)
		assert.Equal(t, m.ID, receipt.ReadUpTo)
		assert.Equal(t, 1, receipt.Unread, "carol's count (eve's message), not bob's")
	})
}

// Resuming from before what is kept, or from past the end, is
// ErrResumeTooOld; the stream keeps the newest EventHistory events.
func TestResumeTooOld(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			store := st.open(t)
			x, err := messaging.NewWithOptions(store, &messaging.Options{EventHistory: 5})
			require.NoError(t, err)
			defer x.Close()
			for i := range 8 {
				send(t, x, "bob", "dave", fmt.Sprint(i))
			}
			var first, last uint64
			require.NoError(t, store.View(ctx, func(tx messaging.ReadTx) (err error) {
				first, last, err = tx.StreamBounds("dave")
				return err
			}))
			assert.Equal(t, [2]uint64{4, 8}, [2]uint64{first, last}, "the newest 5 kept")

			for _, after := range []uint64{0, 1, 2, 9, 100} {
				_, err := x.SubscribeFrom("dave", after)
				assert.ErrorIs(t, err, messaging.ErrResumeTooOld, "after %d", after)
			}
			s := subscribeFrom(t, x, "dave", 3)
			assert.Equal(t, uint64(4), next(t, s).Seq, "the oldest kept")
			s8 := subscribeFrom(t, x, "dave", 8)
			none(t, s8)
			_, err = x.SubscribeFrom("nobody", 0)
			assert.NoError(t, err, "an empty stream, from its start")
			_, err = x.SubscribeFrom("nobody", 1)
			assert.ErrorIs(t, err, messaging.ErrResumeTooOld)
		})
	}
}

// A live subscriber that falls further behind than what is kept gets
// ErrOverflow.
func TestLiveSubscriberFallsBehindTheHistory(t *testing.T) {
	x, err := messaging.NewWithOptions(messaging.NewMemoryStore(), &messaging.Options{EventHistory: 5, EventBuffer: 4})
	require.NoError(t, err)
	defer x.Close()
	s := subscribe(t, x, "dave")
	for i := range 20 {
		send(t, x, "bob", "dave", fmt.Sprint(i))
	}
	_, err = s.Next(ctx)
	assert.ErrorIs(t, err, messaging.ErrOverflow)
}

// Resume works after the bbolt file is closed and opened again.
func TestResumeAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	x, err := messaging.Open(path)
	require.NoError(t, err)
	send(t, x, "bob", "dave", "before the restart")
	s, err := x.Subscribe("dave")
	require.NoError(t, err)
	send(t, x, "bob", "dave", "seen")
	seen := next(t, s)
	send(t, x, "bob", "dave", "missed")
	require.NoError(t, x.Close())

	x, err = messaging.Open(path)
	require.NoError(t, err)
	defer x.Close()
	back := subscribeFrom(t, x, "dave", seen.Seq)
	ev := next(t, back)
	assert.Equal(t, seen.Seq+1, ev.Seq)
	assert.Equal(t, "missed", ev.Message.Text)
}

// Events are stored even with nobody subscribed, and the stored stream is
// what a live subscriber sees, event for event, under concurrent writers.
func TestStreamMatchesLiveUnderConcurrency(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		live := subscribe(t, x, "dave")
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 25 {
					from := fmt.Sprint("s", g)
					m, err := x.SendMessage(ctx, from, "dave", fmt.Sprint(i))
					if !assert.NoError(t, err) {
						return
					}
					if i%5 == 0 {
						c, err := x.Conversation(ctx, "dave", from)
						if assert.NoError(t, err) {
							assert.NoError(t, c.MarkReadUpTo(ctx, m.ID))
						}
					}
				}
			})
		}
		wg.Wait()
		var got []messaging.Event
		for range 8 * 30 {
			got = append(got, next(t, live))
		}
		none(t, live)
		replay := subscribeFrom(t, x, "dave", 0)
		for i, want := range got {
			assert.Equal(t, uint64(i+1), want.Seq)
			assert.Equal(t, want, next(t, replay), "event %d", i+1)
		}
		none(t, replay)
	})
}

func TestWithoutHistory(t *testing.T) {
	x, err := messaging.NewWithOptions(messaging.NewMemoryStore(), &messaging.Options{EventHistory: -1})
	require.NoError(t, err)
	defer x.Close()
	s := subscribe(t, x, "dave")
	send(t, x, "bob", "dave", "hi")
	ev := next(t, s)
	assert.Equal(t, uint64(1), ev.Seq)
	_, err = x.SubscribeFrom("dave", 0)
	assert.ErrorIs(t, err, messaging.ErrResumeTooOld, "nothing is kept to resume from")
}

// A store holds no more than the kept history, however many events went
// through it: each stream keeps exactly its newest EventHistory events.
func TestStreamsHoldOnlyTheKeptHistory(t *testing.T) {
	for _, st := range plainStores() {
		t.Run(st.name, func(t *testing.T) {
			store := st.open(t)
			x, err := messaging.NewWithOptions(store, &messaging.Options{EventHistory: 20})
			require.NoError(t, err)
			defer x.Close()
			const users = 10
			perUser := map[string]uint64{}
			for i := range 2000 {
				from, to := fmt.Sprint("u", i%users), fmt.Sprint("u", (i*7+3)%users)
				if from == to {
					continue
				}
				send(t, x, from, to, "x")
				perUser[from]++
				perUser[to]++
			}
			n, err := messaging.Count(ctx, store)
			require.NoError(t, err)
			assert.LessOrEqual(t, n.Events, int64(users*20))
			for u, events := range perUser {
				var first, last uint64
				require.NoError(t, store.View(ctx, func(tx messaging.ReadTx) (err error) {
					first, last, err = tx.StreamBounds(u)
					return err
				}))
				assert.Equal(t, events, last, "%s: every event numbered", u)
				assert.Equal(t, uint64(20), last-first+1, "%s: the newest 20 kept", u)
			}
		})
	}
}

// armedStore runs hook once, right after the first View that follows
// arm: a write that commits at a chosen point of a caller's reads.
type armedStore struct {
	messaging.Store
	armed atomic.Bool
	hook  func()
}

func (s *armedStore) View(ctx context.Context, fn func(messaging.ReadTx) error) error {
	err := s.Store.View(ctx, fn)
	if s.armed.CompareAndSwap(true, false) {
		s.hook()
	}
	return err
}

// A send that commits between SubscribeFrom's read of the stream's end and
// its subscription is delivered, not held back until the user's next
// event (found in review: Next waited).
func TestSubscribeFromSeesACommitDuringSubscribe(t *testing.T) {
	for _, st := range plainStores() {
		t.Run(st.name, func(t *testing.T) {
			s := &armedStore{Store: st.open(t)}
			x := messaging.New(s)
			defer x.Close()
			send(t, x, "bob", "dave", "one")
			s.hook = func() { send(t, x, "bob", "dave", "two") }
			s.armed.Store(true)
			sub, err := x.SubscribeFrom("dave", 1)
			require.NoError(t, err)
			defer sub.Close()
			c, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			ev, err := sub.Next(c)
			require.NoError(t, err, "dave's event 2 committed before SubscribeFrom returned")
			assert.Equal(t, uint64(2), ev.Seq)
			assert.Equal(t, "two", ev.Message.Text)
		})
	}
}
