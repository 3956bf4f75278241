package messaging

// Tests of bolt_commit.go: group commit, and the isolation of the functions
// of one group.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// holdLeader starts an Update that leads a group alone and blocks inside its
// fn until release is called; it returns once the fn is running. Writers
// started meanwhile queue for the next group.
func holdLeader(t *testing.T, s *BoltStore, owner string) (release func(), done <-chan error) {
	t.Helper()
	in := make(chan struct{})
	rel := make(chan struct{})
	d := make(chan error, 1)
	go func() {
		d <- s.Update(context.Background(), func(tx Tx) error {
			close(in)
			<-rel
			return tx.PutInbox(InboxRecord{Owner: owner})
		})
	}()
	<-in
	var once sync.Once
	return func() { once.Do(func() { close(rel) }) }, d
}

func waitQueued(t *testing.T, s *BoltStore, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.queue) == n
	}, 5*time.Second, time.Millisecond)
}

func TestBoltRollbackOnError(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx Tx) error {
		if err := tx.PutInbox(InboxRecord{Owner: "bob"}); err != nil {
			return err
		}
		if _, err := tx.NextID(); err != nil {
			return err
		}
		return boom
	})
	assert.Same(t, boom, err, "fn's error is returned unchanged")
	assert.Zero(t, s.commits.Load())
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		_, err := tx.Inbox("bob")
		assert.ErrorIs(t, err, ErrNotFound)
		return nil
	}))
	// The rolled-back NextID is handed out again: IDs start at 1.
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		id, err := tx.NextID()
		assert.Equal(t, uint64(1), id)
		return err
	}))
}

func TestBoltGroupCommit(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	release, leaderDone := holdLeader(t, s, "leader")

	const n = 63
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- s.Update(ctx, func(tx Tx) error {
				if _, err := tx.NextID(); err != nil {
					return err
				}
				return tx.PutInbox(InboxRecord{Owner: fmt.Sprintf("user%02d", i)})
			})
		}()
	}
	waitQueued(t, s, n)
	release()
	require.NoError(t, <-leaderDone)
	for range n {
		assert.NoError(t, <-errs)
	}
	assert.Equal(t, uint64(2), s.commits.Load(), "64 writers: the leader alone, then the 63 queued in one commit")

	var users []string
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		var err error
		users, err = tx.Users("", 1000)
		return err
	}))
	assert.Len(t, users, n+1)
}

// TestBoltGroupCommitUnforced: writers that merely run at the same time,
// without a held leader, still share commits. fsync is on, so commits take
// long enough for writers to queue.
func TestBoltGroupCommitUnforced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := OpenBoltStore(path, nil)
	require.NoError(t, err)
	defer func() { assert.NoError(t, s.Close()) }()

	const n = 64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			assert.NoError(t, s.Update(context.Background(), func(tx Tx) error {
				return tx.PutInbox(InboxRecord{Owner: fmt.Sprintf("user%02d", i)})
			}))
		})
	}
	close(start)
	wg.Wait()
	commits := s.commits.Load()
	t.Logf("%d writes in %d commits", n, commits)
	assert.Less(t, commits, uint64(n))
}

func TestBoltLoneWriterCommitsAtOnce(t *testing.T) {
	s, _ := openTestBolt(t)
	for i := range 20 {
		start := time.Now()
		putInbox(t, s, fmt.Sprint("u", i))
		assert.Less(t, time.Since(start), time.Second)
		assert.Equal(t, uint64(i+1), s.commits.Load(), "each lone write is its own commit")
	}
}

func TestBoltGroupFailingWriterIsolated(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	release, leaderDone := holdLeader(t, s, "leader")

	var mu sync.Mutex
	calls := map[string]int{}
	count := func(name string) {
		mu.Lock()
		calls[name]++
		mu.Unlock()
	}
	boom := errors.New("boom")
	noWrite := errors.New("failed without writing")
	type call struct {
		name string
		fn   func(Tx) error
	}
	// Queued in this order, so they run in this order in the next group.
	order := []call{
		{"a", func(tx Tx) error { count("a"); return tx.PutInbox(InboxRecord{Owner: "a"}) }},
		{"b", func(tx Tx) error {
			count("b")
			if err := tx.PutInbox(InboxRecord{Owner: "b"}); err != nil {
				return err
			}
			return boom
		}},
		{"c", func(tx Tx) error { count("c"); return tx.PutInbox(InboxRecord{Owner: "c"}) }},
		{"d", func(tx Tx) error {
			count("d")
			if _, err := tx.Inbox("nobody"); err == nil {
				return errors.New("nobody exists")
			}
			return noWrite
		}},
		{"e", func(tx Tx) error { count("e"); return tx.PutInbox(InboxRecord{Owner: "e"}) }},
	}
	results := make([]chan error, len(order))
	for i, c := range order {
		results[i] = make(chan error, 1)
		go func() { results[i] <- s.Update(ctx, c.fn) }()
		waitQueued(t, s, i+1)
	}
	release()
	require.NoError(t, <-leaderDone)
	assert.NoError(t, <-results[0])
	assert.Same(t, boom, <-results[1])
	assert.NoError(t, <-results[2])
	assert.Same(t, noWrite, <-results[3])
	assert.NoError(t, <-results[4])

	// b rolled back the first try; a ran again, the rest went on; one commit.
	assert.Equal(t, map[string]int{"a": 2, "b": 1, "c": 1, "d": 1, "e": 1}, calls)
	assert.Equal(t, uint64(2), s.commits.Load())
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		users, err := tx.Users("", 10)
		assert.Equal(t, []string{"a", "c", "e", "leader"}, users)
		return err
	}))
}

func TestBoltGroupPanicIsolated(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	release, leaderDone := holdLeader(t, s, "leader")

	before := make(chan error, 1)
	go func() {
		before <- s.Update(ctx, func(tx Tx) error { return tx.PutInbox(InboxRecord{Owner: "before"}) })
	}()
	waitQueued(t, s, 1)
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		_ = s.Update(ctx, func(tx Tx) error {
			if err := tx.PutInbox(InboxRecord{Owner: "panicker"}); err != nil {
				return err
			}
			panic("kaboom")
		})
	}()
	waitQueued(t, s, 2)
	after := make(chan error, 1)
	go func() {
		after <- s.Update(ctx, func(tx Tx) error { return tx.PutInbox(InboxRecord{Owner: "after"}) })
	}()
	waitQueued(t, s, 3)
	release()

	require.NoError(t, <-leaderDone)
	assert.Equal(t, "kaboom", <-recovered, "the panic reaches its own caller")
	assert.NoError(t, <-before)
	assert.NoError(t, <-after)
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		users, err := tx.Users("", 10)
		assert.Equal(t, []string{"after", "before", "leader"}, users)
		return err
	}))

	// A lone panicking writer leads its own group; the store goes on.
	assert.PanicsWithValue(t, "again", func() {
		_ = s.Update(ctx, func(tx Tx) error {
			_ = tx.PutInbox(InboxRecord{Owner: "x"})
			panic("again")
		})
	})
	putInbox(t, s, "y")
}

func TestBoltQueuedWriterCancelled(t *testing.T) {
	s, _ := openTestBolt(t)
	release, leaderDone := holdLeader(t, s, "leader")
	defer release()

	ctx, cancel := context.WithCancel(context.Background())
	called := make(chan struct{}, 1)
	res := make(chan error, 1)
	go func() {
		res <- s.Update(ctx, func(tx Tx) error {
			called <- struct{}{}
			return tx.PutInbox(InboxRecord{Owner: "cancelled"})
		})
	}()
	waitQueued(t, s, 1)
	cancel()
	select {
	case err := <-res:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled queued writer waits for the commit in flight")
	}
	release()
	require.NoError(t, <-leaderDone)
	assert.Empty(t, called)
	require.NoError(t, s.View(context.Background(), func(tx ReadTx) error {
		_, err := tx.Inbox("cancelled")
		assert.ErrorIs(t, err, ErrNotFound)
		return nil
	}))
}

func TestBoltReadOnlyUpdateCommitsNothing(t *testing.T) {
	s, _ := openTestBolt(t)
	require.NoError(t, s.Update(context.Background(), func(tx Tx) error {
		_, err := tx.Users("", 10)
		return err
	}))
	assert.Zero(t, s.commits.Load())
}
