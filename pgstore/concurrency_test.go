package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/pgstore"
	"github.com/socialkit/messaging/pgstore/pgtest"
)

// openStores opens n stores on one schema, as n processes would: they
// share no memory, so their transactions meet only in the database.
func openStores(t *testing.T, n int) []*pgstore.Store {
	t.Helper()
	schema := pgtest.Schema(t)
	stores := make([]*pgstore.Store, n)
	for i := range stores {
		s, err := pgstore.Open(context.Background(), pgtest.URL(t), &pgstore.Options{Schema: schema})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	return stores
}

func sumStats(stores []*pgstore.Store) pgstore.Stats {
	var sum pgstore.Stats
	for _, s := range stores {
		st := s.Stats()
		sum.Updates += st.Updates
		sum.Attempts += st.Attempts
		sum.Reruns += st.Reruns
		sum.SerializationFailures += st.SerializationFailures
		sum.Deadlocks += st.Deadlocks
		sum.UniqueViolations += st.UniqueViolations
	}
	return sum
}

// TestOppositeSends sends a→b and b→a at once from four stores with four
// goroutines each. The two directions write the same four rows; the
// commit pipelines lock them in one order, so no deadlock can form, and
// the run does not stall for deadlock_timeout (1s) anywhere.
func TestOppositeSends(t *testing.T) {
	const storesN, perStore, sends = 4, 4, 25
	stores := openStores(t, storesN)
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	for i, s := range stores {
		x := messaging.New(s)
		for g := range perStore {
			from, to := "a", "b"
			if (i+g)%2 == 1 {
				from, to = to, from
			}
			wg.Go(func() {
				for n := range sends {
					_, err := x.SendMessage(ctx, from, to, fmt.Sprintf("%d/%d #%d", i, g, n))
					if !assert.NoError(t, err) {
						return
					}
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	st := sumStats(stores)
	t.Logf("%d opposite sends in %v: %d retries (40001: %d, 40P01: %d, 23505: %d)", storesN*perStore*sends, elapsed,
		st.Attempts-st.Updates, st.SerializationFailures, st.Deadlocks, st.UniqueViolations)
	assert.Zero(t, st.Deadlocks, "deadlocks")
	assert.Less(t, elapsed, 30*time.Second)

	x := messaging.New(stores[0])
	for _, side := range [][2]string{{"a", "b"}, {"b", "a"}} {
		in, err := x.Get(ctx, side[0])
		require.NoError(t, err)
		c, err := in.Get(ctx, side[1])
		require.NoError(t, err)
		assert.Equal(t, storesN*perStore*sends, c.MessageCount, "%s's copy", side[0])
		assert.Equal(t, storesN*perStore*sends/2, c.NewMessagesCount, "%s's unread", side[0])
	}
	problems, err := x.Verify(ctx)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// TestOnCommitOrderAcrossStores bumps three counters (inbox records) from
// two stores at once, sometimes two counters in one Update, and records
// in each Update's OnCommit the values it wrote. In each store, the
// callbacks must see every counter's values in increasing order: commit
// order, although the stores fail each other's commits in the database.
func TestOnCommitOrderAcrossStores(t *testing.T) {
	stores := openStores(t, 2)
	ctx := context.Background()
	counters := []string{"c0", "c1", "c2"}
	require.NoError(t, stores[0].Update(ctx, func(tx messaging.Tx) error {
		for _, c := range counters {
			if err := tx.PutInbox(messaging.InboxRecord{Owner: c}); err != nil {
				return err
			}
		}
		return nil
	}))
	type write struct {
		counter string
		value   int
	}
	logs := make([][]write, len(stores))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for si, s := range stores {
		for g := range 6 {
			wg.Go(func() {
				for n := range 40 {
					picked := []string{counters[(g+n)%3]}
					if n%4 == 0 { // two counters, in either order
						picked = append(picked, counters[(g+n+1+si)%3])
					}
					err := s.Update(ctx, func(tx messaging.Tx) error {
						var wrote []write
						for _, c := range picked {
							in, err := tx.Inbox(c)
							if err != nil {
								return err
							}
							in.Unread++
							if err := tx.PutInbox(in); err != nil {
								return err
							}
							wrote = append(wrote, write{c, in.Unread})
						}
						tx.OnCommit(func() {
							mu.Lock()
							logs[si] = append(logs[si], wrote...)
							mu.Unlock()
						})
						return nil
					})
					if !assert.NoError(t, err) {
						return
					}
				}
			})
		}
	}
	wg.Wait()
	st := sumStats(stores)
	t.Logf("%d updates, %d retries (40001: %d)", st.Updates, st.Attempts-st.Updates, st.SerializationFailures)
	for si, log := range logs {
		last := map[string]int{}
		for i, w := range log {
			assert.Greater(t, w.value, last[w.counter], "store %d, callback %d: %s went from %d to %d", si, i, w.counter, last[w.counter], w.value)
			last[w.counter] = w.value
		}
	}
	total := 0
	require.NoError(t, stores[0].View(ctx, func(tx messaging.ReadTx) error {
		for _, c := range counters {
			in, err := tx.Inbox(c)
			if err != nil {
				return err
			}
			total += in.Unread
		}
		return nil
	}))
	assert.Equal(t, len(logs[0])+len(logs[1]), total, "one callback per committed write")
}

// TestEventsInCommitOrder subscribes to bob on one store while two stores
// send to him at once: the events of the subscribed store carry bob's
// unread count, which only grows, so in commit order they increase.
func TestEventsInCommitOrder(t *testing.T) {
	stores := openStores(t, 2)
	ctx := context.Background()
	x0, x1 := messaging.New(stores[0]), messaging.New(stores[1])
	sub, err := x0.Subscribe("bob")
	require.NoError(t, err)
	defer sub.Close()
	const perSender, senders = 20, 4
	var wg sync.WaitGroup
	for g := range senders {
		for _, x := range []*messaging.Inboxes{x0, x1} {
			wg.Go(func() {
				for n := range perSender {
					_, err := x.SendMessage(ctx, fmt.Sprintf("sender%d", g), "bob", fmt.Sprintf("#%d", n))
					if !assert.NoError(t, err) {
						return
					}
				}
			})
		}
	}
	wg.Wait()
	last := 0
	for range senders * perSender {
		ev, err := sub.Next(ctx)
		require.NoError(t, err)
		require.Equal(t, messaging.MessageReceived, ev.Kind)
		assert.Greater(t, ev.Unread, last, "event %d: bob's unread went from %d to %d", ev.Seq, last, ev.Unread)
		last = ev.Unread
	}
	in, err := x0.Get(ctx, "bob")
	require.NoError(t, err)
	assert.Equal(t, 2*senders*perSender, in.NewMessagesCount)
}

// TestIdempotencyRace: 16 goroutines send one message with one
// idempotency key at once, through one store or through two (each with
// its pool, as two processes): one message is made, and every send
// returns its ID; the losers of the race meet the winner's key (23505 or
// 40001) and run again, and find the record.
func TestIdempotencyRace(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("stores=%d", n), func(t *testing.T) {
			stores := openStores(t, n)
			ctx := context.Background()
			start := make(chan struct{})
			ids := make([]uint64, 16)
			var wg sync.WaitGroup
			for g := range ids {
				x := messaging.New(stores[g%n])
				wg.Go(func() {
					<-start
					m, err := x.SendMessage(ctx, "ann", "bob", "once", messaging.WithIdempotencyKey("k"))
					if assert.NoError(t, err) {
						ids[g] = m.ID
					}
				})
			}
			close(start)
			wg.Wait()
			for _, id := range ids {
				assert.Equal(t, ids[0], id)
			}
			x := messaging.New(stores[0])
			c, err := x.Conversation(ctx, "bob", "ann")
			require.NoError(t, err)
			assert.Equal(t, 1, c.MessageCount)
			assert.Equal(t, 1, c.NewMessagesCount)
			st := sumStats(stores)
			t.Logf("16 sends: %d retries (40001: %d, 23505: %d), %d runs again in the same transaction",
				st.Attempts-st.Updates, st.SerializationFailures, st.UniqueViolations, st.Reruns)
			_, err = x.SendMessage(ctx, "ann", "bob", "another", messaging.WithIdempotencyKey("k"))
			assert.ErrorIs(t, err, messaging.ErrIdempotencyConflict)
		})
	}
}

// TestPollingAcrossSkewedClocks: two stores (own pools, as two processes)
// whose clocks are an hour apart send into one conversation at once, in
// both directions, while a screen polls it with Conversation.Newer from
// the newest message it showed: it sees every message, once, because a
// message is never stamped before the newest one of its conversation.
func TestPollingAcrossSkewedClocks(t *testing.T) {
	stores := openStores(t, 2)
	ctx := context.Background()
	skews := []time.Duration{0, -time.Hour}
	var xs []*messaging.Inboxes
	for i, s := range stores {
		x, err := messaging.NewWithOptions(s, &messaging.Options{Now: func() time.Time { return time.Now().Add(skews[i]) }})
		require.NoError(t, err)
		xs = append(xs, x)
	}
	_, err := xs[0].SendMessage(ctx, "ann", "bob", "first")
	require.NoError(t, err)
	c, err := xs[1].Conversation(ctx, "bob", "ann")
	require.NoError(t, err)

	const perSender = 25
	var senders sync.WaitGroup
	for i, x := range xs {
		for g := range 3 {
			from, to := "ann", "bob"
			if g == 1 {
				from, to = to, from
			}
			senders.Go(func() {
				for n := range perSender {
					_, err := x.SendMessage(ctx, from, to, fmt.Sprintf("%d/%d #%d", i, g, n))
					if !assert.NoError(t, err) {
						return
					}
				}
			})
		}
	}
	sendersDone := make(chan struct{})
	go func() { senders.Wait(); close(sendersDone) }()

	seen := map[uint64]int{}
	var shown []messaging.Message
	newest := uint64(0)
	poll := func() int {
		page, err := c.Newer(ctx, newest, 7)
		require.NoError(t, err)
		for _, m := range page {
			seen[m.ID]++
			shown = append(shown, m)
			newest = m.ID
		}
		return len(page)
	}
	for done := false; !done; {
		select {
		case <-sendersDone:
			done = true
		default:
		}
		for poll() > 0 { // drain what is there now
		}
	}
	var all []uint64
	for m, err := range c.Messages(ctx) {
		require.NoError(t, err)
		all = append(all, m.ID)
	}
	require.Len(t, all, 1+2*3*perSender)
	for _, id := range all {
		assert.Equal(t, 1, seen[id], "message %d seen once by the polling screen", id)
	}
	for i := 1; i < len(shown); i++ {
		a := messaging.MessageKey{Created: shown[i-1].Created, ID: shown[i-1].ID}
		b := messaging.MessageKey{Created: shown[i].Created, ID: shown[i].ID}
		assert.Equal(t, -1, a.Compare(b), "shown in (Created, ID) order")
	}
}

// TestPurgersDoNotFight: 16 keyed sends at once through two stores, each
// between users of its own, each purging expired idempotency records
// (the oldest first, as every keyed send does): they go for the same
// records, yet none fails another (a record held or deleted by another
// purger is skipped), and the expired records go.
func TestPurgersDoNotFight(t *testing.T) {
	stores := openStores(t, 2)
	ctx := context.Background()
	past, err := messaging.NewWithOptions(stores[0], &messaging.Options{Now: func() time.Time { return time.Now().Add(-72 * time.Hour) }})
	require.NoError(t, err)
	const expired = 100
	for i := range expired {
		_, err := past.SendMessage(ctx, "old", fmt.Sprintf("r%d", i%10), "expired", messaging.WithIdempotencyKey(fmt.Sprint(i)))
		require.NoError(t, err)
	}
	for g := range 16 { // the users' rows exist: a new row would touch the set of users
		_, err := past.SendMessage(ctx, fmt.Sprintf("s%d", g), fmt.Sprintf("t%d", g), "first")
		require.NoError(t, err)
	}
	before := sumStats(stores)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 16 {
		x := messaging.New(stores[g%2])
		wg.Go(func() {
			<-start
			for n := range 4 {
				_, err := x.SendMessage(ctx, fmt.Sprintf("s%d", g), fmt.Sprintf("t%d", g), "now", messaging.WithIdempotencyKey(fmt.Sprint(n)))
				assert.NoError(t, err)
			}
		})
	}
	close(start)
	wg.Wait()
	after := sumStats(stores)
	assert.Zero(t, after.SerializationFailures-before.SerializationFailures, "sends failed each other")
	left := 0
	require.NoError(t, stores[0].View(ctx, func(tx messaging.ReadTx) error {
		recs, err := tx.Idempotencies(messaging.IdempotencyRecord{}, 1000)
		for _, r := range recs {
			if r.Sender == "old" {
				left++
			}
		}
		return err
	}))
	t.Logf("64 keyed sends purged %d of %d expired records", expired-left, expired)
	assert.Less(t, left, expired-16, "each keyed send purges")
}
