package messaging

// Regression tests for the event hub and for OnCommit under group commit.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNextOverflowBetweenWrapsDoesNotWedge: a subscriber that falls out
// of the ring between two prunes is ended with ErrOverflow inside Next;
// Next must return that error with the hub unlocked, or every later publish
// blocks inside OnCommit, under the store's write lock.
//
// Ring of 8; 5 sends = 10 events. The prune at seq 8 finds the subscriber
// at next=1 still inside the ring (oldest=1); seq 9 and 10 overwrite the
// events it wanted, and no prune runs before Next.
func TestNextOverflowBetweenWrapsDoesNotWedge(t *testing.T) {
	ctx := context.Background()
	x, err := NewWithOptions(NewMemoryStore(), &Options{EventBuffer: 8})
	require.NoError(t, err)
	// No x.Close in cleanup: with the bug it would block on h.mu forever.
	sub, err := x.SubscribeAll()
	require.NoError(t, err)
	for i := range 5 {
		_, err := x.SendMessage(ctx, "bob", "dave", fmt.Sprint("m", i))
		require.NoError(t, err)
	}

	res := make(chan error, 1)
	go func() {
		_, err := sub.Next(ctx)
		res <- err
	}()
	select {
	case err := <-res:
		assert.ErrorIs(t, err, ErrOverflow)
	case <-time.After(3 * time.Second):
		t.Fatal("Subscription.Next deadlocked on h.mu (catchUp ended it, then `continue` re-locked the held mutex)")
	}

	// And the store is still usable: a send publishes through h.mu.
	sent := make(chan error, 1)
	go func() {
		_, err := x.SendMessage(ctx, "bob", "dave", "after")
		sent <- err
	}()
	select {
	case err := <-sent:
		assert.NoError(t, err)
	case <-time.After(3 * time.Second):
		t.Fatal("SendMessage hangs: its OnCommit publish waits for the h.mu that Next never released")
	}
	require.NoError(t, x.Close())
}

// TestConcurrentNextLosesNoWakeup: with two goroutines waiting in Next on
// one subscription and one write publishing two events, one publish wakes
// one goroutine; the one that takes an event must pass the wakeup on, or
// the other waits forever with an event in the ring.
func TestConcurrentNextLosesNoWakeup(t *testing.T) {
	ctx := context.Background()
	x := New(NewMemoryStore())
	defer x.Close()
	sub, err := x.SubscribeAll()
	require.NoError(t, err)
	defer sub.Close()

	type result struct {
		ev  Event
		err error
	}
	res := make(chan result, 2)
	for range 2 {
		go func() {
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			ev, err := sub.Next(cctx)
			res <- result{ev, err}
		}()
	}
	time.Sleep(100 * time.Millisecond)               // both readers are now waiting in Next
	_, err = x.SendMessage(ctx, "bob", "dave", "hi") // publishes MessageSent + MessageReceived
	require.NoError(t, err)

	var kinds []EventKind
	for range 2 {
		r := <-res
		if assert.NoError(t, r.err, "a reader kept waiting although an event was pending") {
			kinds = append(kinds, r.ev.Kind)
		}
	}
	assert.ElementsMatch(t, []EventKind{MessageSent, MessageReceived}, kinds)
}

// TestClosedSubscriptionsLeaveTheWaitList: a one-user subscription that
// waited in Next (and gave up on its ctx) must leave the wait list on Close,
// or a client that reconnects (subscribe, long-poll, close) for a user who
// gets no events would grow the list without bound.
func TestClosedSubscriptionsLeaveTheWaitList(t *testing.T) {
	ctx := context.Background()
	x := New(NewMemoryStore())
	defer x.Close()
	for range 100 {
		sub, err := x.Subscribe("zed")
		require.NoError(t, err)
		cctx, cancel := context.WithTimeout(ctx, time.Millisecond)
		_, err = sub.Next(cctx)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.NoError(t, sub.Close())
	}
	x.hub.mu.Lock()
	feeds, live := len(x.hub.feeds), len(x.hub.live)
	x.hub.mu.Unlock()
	assert.Zero(t, feeds, "closed subscriptions still keep a feed in the hub")
	assert.Zero(t, live, "closed subscriptions still held in the hub")
}

// TestEveryWaiterOfOneSubscriptionIsWoken: a pool of goroutines reading one
// subscription, each waiting in Next, with events published one write at a
// time: every publish must wake every waiter, or all but one keep waiting
// until their context ends while events are pending (issue 9, item 2).
func TestEveryWaiterOfOneSubscriptionIsWoken(t *testing.T) {
	for _, user := range []string{"dave", ""} {
		t.Run(fmt.Sprintf("user=%q", user), func(t *testing.T) {
			ctx := context.Background()
			x := New(NewMemoryStore())
			defer x.Close()
			sub, err := x.hub.subscribe(user, 0, 0)
			require.NoError(t, err)
			defer sub.Close()
			const workers = 4
			got := make(chan error, workers)
			for range workers {
				go func() {
					cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
					defer cancel()
					_, err := sub.Next(cctx)
					got <- err
				}()
			}
			waitFor(t, func() bool { // all four are blocked in Next
				x.hub.mu.Lock()
				defer x.hub.mu.Unlock()
				r := &x.hub.all
				if user != "" {
					r = &x.hub.feeds[user].ring
				}
				return r.wake != nil
			})
			time.Sleep(50 * time.Millisecond)
			for i := range workers / 2 { // each send is one publish with two events, one of them for dave
				_, err := x.SendMessage(ctx, "bob", "dave", fmt.Sprint("m", i))
				require.NoError(t, err)
				_, err = x.SendMessage(ctx, "dave", "bob", fmt.Sprint("r", i))
				require.NoError(t, err)
			}
			for range workers {
				assert.NoError(t, <-got, "a waiter stayed asleep with an event pending")
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBoltPanickingOnCommitKeepsOthersCommitted: a callback that panics
// after the commit must not turn into errGroupAborted ("nothing written")
// for the writers after it in the group, whose writes are on disk, nor
// skip their callbacks; the panic goes to the writer that registered it.
func TestBoltPanickingOnCommitKeepsOthersCommitted(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	release, leaderDone := holdLeader(t, s, "leader")

	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		_ = s.Update(ctx, func(tx Tx) error {
			tx.OnCommit(func() { panic("callback") })
			return tx.PutInbox(InboxRecord{Owner: "a"})
		})
	}()
	waitQueued(t, s, 1)
	bCallback := make(chan struct{}, 1)
	bErr := make(chan error, 1)
	go func() {
		bErr <- s.Update(ctx, func(tx Tx) error {
			tx.OnCommit(func() { bCallback <- struct{}{} })
			return tx.PutInbox(InboxRecord{Owner: "b"})
		})
	}()
	waitQueued(t, s, 2)
	release()
	require.NoError(t, <-leaderDone)
	assert.Equal(t, "callback", <-recovered)
	err := <-bErr

	var committed bool
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		_, err := tx.Inbox("b")
		committed = err == nil
		return nil
	}))
	require.True(t, committed, "b's write was committed")
	assert.NoError(t, err, "b's write is on disk, yet Update reports %v", err)
	assert.False(t, errors.Is(err, errGroupAborted), "errGroupAborted says nothing was written")
	assert.Len(t, bCallback, 1, "b committed, but its OnCommit callback never ran")
}
