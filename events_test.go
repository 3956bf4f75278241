package messaging_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// next reads one event, failing the test if none comes within a second.
func next(t *testing.T, s *messaging.Subscription) messaging.Event {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ev, err := s.Next(cctx)
	require.NoError(t, err)
	return ev
}

// none asserts that no event is pending.
func none(t *testing.T, s *messaging.Subscription) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	ev, err := s.Next(cctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "unexpected event %+v", ev)
}

// withSeq is ev with another Seq: the same change seen from another
// subscription.
func withSeq(ev messaging.Event, seq uint64) messaging.Event {
	ev.Seq = seq
	return ev
}

func subscribe(t *testing.T, x *messaging.Inboxes, user string) *messaging.Subscription {
	t.Helper()
	var s *messaging.Subscription
	var err error
	if user == "" {
		s, err = x.SubscribeAll()
	} else {
		s, err = x.Subscribe(user)
	}
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestEventsCarryWhatHandlersNeed(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		all := subscribe(t, x, "")
		bob := subscribe(t, x, "bob")
		dave := subscribe(t, x, "dave")

		m := send(t, x, "bob", "dave", "Hi Dave", day(1))
		sent := next(t, all)
		assert.Equal(t, messaging.MessageSent, sent.Kind)
		assert.Equal(t, "bob", sent.User)
		assert.Equal(t, "dave", sent.Other)
		assert.Equal(t, m, sent.Message)
		assert.Equal(t, 0, sent.Unread)
		got := next(t, all)
		assert.Equal(t, messaging.MessageReceived, got.Kind)
		assert.Equal(t, "dave", got.User)
		assert.Equal(t, "Hi Dave", got.Message.Text)
		assert.True(t, got.Message.New, "the recipient's copy")
		assert.Equal(t, 1, got.Unread)
		assert.Equal(t, 1, got.ConversationUnread)
		assert.Less(t, sent.Seq, got.Seq)
		assert.Equal(t, withSeq(sent, 1), next(t, bob), "a user's subscription gets that user's events, numbered in the user's stream")
		assert.Equal(t, withSeq(got, 1), next(t, dave))
		none(t, bob)

		// The read receipt reaches the reader and the sender.
		require.NoError(t, conv(t, x, "dave", "bob").MarkRead(ctx))
		read := next(t, dave)
		assert.Equal(t, messaging.ConversationRead, read.Kind)
		assert.Equal(t, "dave", read.User, "the reader")
		assert.Equal(t, "bob", read.Other)
		assert.Equal(t, m.ID, read.ReadUpTo)
		assert.Equal(t, 0, read.Unread)
		assert.Equal(t, withSeq(read, 2), next(t, bob), "bob learns that dave read his message")
		require.NoError(t, conv(t, x, "dave", "bob").MarkRead(ctx))
		none(t, dave) // nothing moved: no event

		m2 := send(t, x, "bob", "dave", "again", day(2))
		assert.Equal(t, messaging.MessageReceived, next(t, dave).Kind)
		assert.Equal(t, messaging.MessageSent, next(t, bob).Kind)
		require.NoError(t, conv(t, x, "dave", "bob").DeleteMessage(ctx, m2.ID))
		del := next(t, dave)
		assert.Equal(t, messaging.MessageDeleted, del.Kind)
		assert.Equal(t, m2.ID, del.Message.ID)
		assert.True(t, del.Message.New, "it was new when deleted")
		assert.Equal(t, 0, del.Unread, "counts after the delete")

		require.NoError(t, inbox(t, x, "dave").Delete(ctx, "bob"))
		cd := next(t, dave)
		assert.Equal(t, messaging.ConversationDeleted, cd.Kind)
		assert.Equal(t, "bob", cd.Other)

		require.NoError(t, x.Delete(ctx, "bob"))
		assert.Equal(t, messaging.InboxDeleted, next(t, bob).Kind)

		// all saw everything, in order.
		var kinds []messaging.EventKind
		for range 6 {
			kinds = append(kinds, next(t, all).Kind)
		}
		assert.Equal(t, []messaging.EventKind{messaging.ConversationRead, messaging.MessageSent, messaging.MessageReceived,
			messaging.MessageDeleted, messaging.ConversationDeleted, messaging.InboxDeleted}, kinds)
		none(t, all)
	})
}

func TestNoEventForFailedWrites(t *testing.T) {
	for _, s := range plainStores() {
		t.Run(s.name, func(t *testing.T) {
			fs := &failingStore{Store: s.open(t)}
			x := messaging.New(fs)
			defer x.Close()
			m := send(t, x, "bob", "dave", "x")
			all := subscribe(t, x, "")

			_, err := x.SendMessage(ctx, "bob", "bob", "self")
			require.Error(t, err)
			fs.failAt = 4 // fails inside the transaction, after writing
			_, err = x.SendMessage(ctx, "bob", "dave", "lost")
			require.ErrorIs(t, err, errInjected)
			fs.failAt = 0
			require.ErrorIs(t, conv(t, x, "dave", "bob").DeleteMessage(ctx, 999), messaging.ErrNotFound)
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			_, err = x.SendMessage(cctx, "bob", "dave", "cancelled")
			require.Error(t, err)
			none(t, all)

			require.NoError(t, conv(t, x, "dave", "bob").DeleteMessage(ctx, m.ID))
			assert.Equal(t, messaging.MessageDeleted, next(t, all).Kind, "the first event is the first write that committed")
		})
	}
}

// TestEventsOrderUnderConcurrentSenders: every committed send gives one
// MessageSent and one MessageReceived, in commit order: for each user, the
// unread counts carried by their MessageReceived events count up by one.
func TestEventsOrderUnderConcurrentSenders(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		const senders, each = 8, 50
		people := []string{"ann", "bob", "cat", "dan", "eve"}
		all := subscribe(t, x, "")
		perUser := map[string]*messaging.Subscription{}
		for _, p := range people {
			perUser[p] = subscribe(t, x, p)
		}
		var wg sync.WaitGroup
		for w := range senders {
			wg.Go(func() {
				for i := range each {
					from, to := people[(w+i)%5], people[(w+2*i+1)%5]
					if from == to {
						to = people[(w+2*i+2)%5]
					}
					if _, err := x.SendMessage(ctx, from, to, fmt.Sprint(w, i)); err != nil {
						t.Error(err)
					}
				}
			})
		}
		var evs []messaging.Event
		for range 2 * senders * each {
			evs = append(evs, next(t, all))
		}
		wg.Wait()
		none(t, all)

		sends := map[uint64][]messaging.EventKind{}
		unread := map[string]int{}
		for i, ev := range evs {
			if i > 0 {
				assert.Equal(t, evs[i-1].Seq+1, ev.Seq, "Seq in commit order without gaps")
			}
			sends[ev.Message.ID] = append(sends[ev.Message.ID], ev.Kind)
			if ev.Kind == messaging.MessageReceived {
				unread[ev.User]++
				assert.Equal(t, unread[ev.User], ev.Unread, "%s's events out of commit order", ev.User)
			}
		}
		assert.Len(t, sends, senders*each)
		for id, kinds := range sends {
			assert.Equal(t, []messaging.EventKind{messaging.MessageSent, messaging.MessageReceived}, kinds, "message %d", id)
		}
		// Each user's subscription saw exactly that user's events, in the
		// same order, numbered from 1 in the user's stream.
		for _, p := range people {
			var want []messaging.Event
			for _, ev := range evs {
				if ev.User == p {
					want = append(want, withSeq(ev, uint64(len(want)+1)))
				}
			}
			var got []messaging.Event
			for range want {
				got = append(got, next(t, perUser[p]))
			}
			assert.Equal(t, want, got, p)
			none(t, perUser[p])
		}
	})
}

func TestSubscriberThatNeverReadsOverflows(t *testing.T) {
	// Without stored streams, what the buffer holds is all a subscriber
	// can catch up from (TestLiveSubscriberFallsBehindTheHistory has the
	// stored case).
	x, err := messaging.NewWithOptions(messaging.NewMemoryStore(), &messaging.Options{EventBuffer: 8, EventHistory: -1})
	require.NoError(t, err)
	defer x.Close()
	stuck := subscribe(t, x, "")
	behind := subscribe(t, x, "dave")
	quiet := subscribe(t, x, "zed")

	send(t, x, "bob", "dave", "first")
	assert.Equal(t, "first", next(t, behind).Message.Text)
	start := time.Now()
	for i := range 50 {
		send(t, x, "bob", "dave", fmt.Sprint(i)) // senders are not held up
	}
	assert.Less(t, time.Since(start), 5*time.Second)

	_, err = stuck.Next(ctx)
	assert.ErrorIs(t, err, messaging.ErrOverflow, "told, not given a partial stream")
	_, err = stuck.Next(ctx)
	assert.ErrorIs(t, err, messaging.ErrOverflow, "and it stays ended")
	for _, err := range behind.Events(ctx) {
		assert.ErrorIs(t, err, messaging.ErrOverflow)
	}

	// A subscriber whose user had no event in what was dropped lost
	// nothing: it goes on.
	send(t, x, "bob", "zed", "for zed")
	assert.Equal(t, "for zed", next(t, quiet).Message.Text)
	fresh := subscribe(t, x, "")
	send(t, x, "bob", "dave", "after")
	assert.Equal(t, "after", next(t, fresh).Message.Text, "a new subscription starts now")
}

func TestUnsubscribeUnderLoad(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		stop := make(chan struct{})
		var senders sync.WaitGroup
		for w := range 4 {
			senders.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := x.SendMessage(ctx, fmt.Sprint("s", w), "dave", "x"); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		var readers sync.WaitGroup
		for range 10 {
			s := subscribe(t, x, "dave")
			readers.Go(func() {
				n := 0
				for _, err := range s.Events(ctx) {
					if errors.Is(err, messaging.ErrOverflow) {
						return // starved of CPU behind four senders: told, and ended
					}
					if !assert.NoError(t, err) {
						return
					}
					if n++; n == 5 {
						s.Close() // from inside the loop: the loop then ends quietly
					}
				}
			})
			s2 := subscribe(t, x, "")
			readers.Go(func() {
				for {
					if _, err := s2.Next(ctx); err != nil {
						// Closed from outside; or, if it could not keep up
						// with four unthrottled senders, told so.
						if !errors.Is(err, messaging.ErrOverflow) {
							assert.ErrorIs(t, err, messaging.ErrClosed)
						}
						return
					}
				}
			})
			time.AfterFunc(10*time.Millisecond, func() { s2.Close() }) // from another goroutine
		}
		done := make(chan struct{})
		go func() { readers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("subscribers did not end")
		}
		close(stop)
		senders.Wait()
	})
}

func TestCloseEndsSubscriptions(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		s := subscribe(t, x, "dave")
		errc := make(chan error, 1)
		go func() {
			_, err := s.Next(ctx)
			errc <- err
		}()
		time.Sleep(10 * time.Millisecond) // let it wait
		require.NoError(t, x.Close())
		select {
		case err := <-errc:
			assert.ErrorIs(t, err, messaging.ErrClosed)
		case <-time.After(5 * time.Second):
			t.Fatal("Next still waits after Close")
		}
		_, err := x.Subscribe("dave")
		assert.ErrorIs(t, err, messaging.ErrClosed)
		for _, err := range s.Events(ctx) {
			assert.ErrorIs(t, err, messaging.ErrClosed)
		}
	})
}

func TestSubscribeValidates(t *testing.T) {
	x := messaging.New(messaging.NewMemoryStore())
	defer x.Close()
	_, err := x.Subscribe("")
	assert.ErrorIs(t, err, messaging.ErrInvalidUser)
	_, err = messaging.NewWithOptions(messaging.NewMemoryStore(), &messaging.Options{EventBuffer: -1})
	assert.Error(t, err)
}

// TestNoGoroutineLeaks subscribes, reads, waits, unsubscribes and closes,
// then checks the goroutine count is back where it started.
func TestNoGoroutineLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		x := messaging.New(messaging.NewMemoryStore())
		var wg sync.WaitGroup
		for i := range 20 {
			s, err := x.Subscribe(fmt.Sprint("u", i%3))
			require.NoError(t, err)
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
				defer cancel()
				for _, err := range s.Events(cctx) {
					if err != nil {
						return
					}
				}
			})
			if i%2 == 0 {
				defer s.Close()
			}
		}
		for i := range 30 {
			if _, err := x.SendMessage(ctx, "bob", fmt.Sprint("u", i%3), "x"); err != nil {
				t.Error(err)
			}
		}
		wg.Wait()
		require.NoError(t, x.Close())
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines leaked")
}

func TestEventKindString(t *testing.T) {
	assert.Equal(t, "message_received", messaging.MessageReceived.String())
	assert.Equal(t, "inbox_deleted", messaging.InboxDeleted.String())
	assert.Equal(t, "EventKind(99)", messaging.EventKind(99).String())
	assert.False(t, errors.Is(messaging.ErrOverflow, messaging.ErrClosed))
}

// BenchmarkSendWithSubscribers measures what idle subscribers cost senders
// on the memory store: none, 1 and 100 subscriptions waiting in Next for
// users that get no message. They are live (they never overflow, having
// lost nothing), so every send builds and publishes its events; they are
// not woken.
func BenchmarkSendWithSubscribers(b *testing.B) {
	cases := []struct {
		name    string
		n       int
		waiting bool
	}{
		{"subs=0", 0, false},
		{"subs=1", 1, true},
		{"subs=100", 100, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			x := messaging.New(messaging.NewMemoryStore())
			defer x.Close()
			var wg sync.WaitGroup
			for i := range c.n {
				var s *messaging.Subscription
				var err error
				if c.waiting {
					s, err = x.Subscribe(fmt.Sprint("idle", i))
				} else {
					s, err = x.SubscribeAll()
				}
				if err != nil {
					b.Fatal(err)
				}
				if c.waiting {
					wg.Go(func() { s.Next(ctx) })
				}
			}
			people := []string{"ann", "bob", "cat", "dan"}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := x.SendMessage(ctx, people[i%4], people[(i+1)%4], "hello"); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
			x.Close()
			wg.Wait()
		})
	}
}
