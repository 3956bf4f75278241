package messaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// openTestBolt opens a NoSync store in a fresh directory, closed at cleanup.
func openTestBolt(t *testing.T) (*BoltStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "messages.db")
	s, err := OpenBoltStore(path, &BoltOptions{NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s, path
}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)

func putInbox(t *testing.T, s Store, owner string) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(tx Tx) error {
		return tx.PutInbox(InboxRecord{Owner: owner})
	}))
}

func TestBoltOptionsValidated(t *testing.T) {
	dir := t.TempDir()
	_, err := OpenBoltStore(filepath.Join(dir, "a.db"), &BoltOptions{Timeout: -time.Second})
	assert.ErrorContains(t, err, "Timeout")
	_, err = OpenBoltStore(filepath.Join(dir, "b.db"), &BoltOptions{FileMode: os.ModeDir | 0o600})
	assert.ErrorContains(t, err, "FileMode")
	_, statErr := os.Stat(filepath.Join(dir, "a.db"))
	assert.ErrorIs(t, statErr, os.ErrNotExist, "invalid options must not create the file")

	o, err := (*BoltOptions)(nil).withDefaults()
	require.NoError(t, err)
	assert.Equal(t, BoltOptions{Timeout: DefaultBoltTimeout, FileMode: 0o600}, o)
}

func TestBoltOpenCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := OpenBoltStore(path, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestBoltOpenLockedTimesOut(t *testing.T) {
	s, path := openTestBolt(t)

	const timeout = 150 * time.Millisecond
	type result struct {
		s   *BoltStore
		err error
	}
	got := make(chan result, 1)
	start := time.Now()
	go func() {
		s2, err := OpenBoltStore(path, &BoltOptions{Timeout: timeout, NoSync: true})
		got <- result{s2, err}
	}()
	select {
	case r := <-got:
		elapsed := time.Since(start)
		if r.s != nil {
			assert.NoError(t, r.s.Close())
		}
		require.Error(t, r.err)
		assert.ErrorIs(t, r.err, ErrLocked)
		assert.ErrorIs(t, r.err, berrors.ErrTimeout)
		assert.ErrorContains(t, r.err, path)
		assert.GreaterOrEqual(t, elapsed, timeout/2, "bbolt gives up between timeout-50ms and timeout")
		assert.Less(t, elapsed, timeout+2*time.Second)
	case <-time.After(10 * time.Second):
		t.Fatal("second open of a held file hangs")
	}

	// Once the first handle is closed, the file opens again.
	require.NoError(t, s.Close())
	s3, err := OpenBoltStore(path, &BoltOptions{Timeout: timeout, NoSync: true})
	require.NoError(t, err)
	assert.NoError(t, s3.Close())
}

func TestBoltOpenRefusesJunkUntouched(t *testing.T) {
	for name, content := range map[string][]byte{
		"short": []byte("hello, this is not a database\n"),
		"long":  bytes.Repeat([]byte("junk\x00\xff"), 3000),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "junk.db")
			require.NoError(t, os.WriteFile(path, content, 0o600))
			s, err := OpenBoltStore(path, &BoltOptions{Timeout: 200 * time.Millisecond})
			if s != nil {
				assert.NoError(t, s.Close())
			}
			assert.ErrorIs(t, err, ErrNotStore)
			assert.ErrorContains(t, err, path)
			after, rerr := os.ReadFile(path)
			require.NoError(t, rerr)
			assert.True(t, bytes.Equal(content, after), "junk file changed")
		})
	}
}

func TestBoltOpenRefusesForeignBoltUntouched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "foreign.db")
	db, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("widgets"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	}))
	require.NoError(t, db.Close())
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	s, err := OpenBoltStore(path, nil)
	if s != nil {
		assert.NoError(t, s.Close())
	}
	assert.ErrorIs(t, err, ErrNotStore)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(before, after), "foreign bbolt file changed")

	// The same holds for a db handed to NewBoltStore.
	db, err = bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer func() { assert.NoError(t, db.Close()) }()
	_, err = NewBoltStore(db)
	assert.ErrorIs(t, err, ErrNotStore)
}

func TestBoltOpenRefusesNewerVersionUntouched(t *testing.T) {
	s, path := openTestBolt(t)
	putInbox(t, s, "bob")
	require.NoError(t, s.Close())

	db, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyVersion, []byte{0, 0, 0, 0, 0, 0, 0, byte(boltFormatVersion + 1)})
	}))
	require.NoError(t, db.Close())
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	s2, err := OpenBoltStore(path, nil)
	if s2 != nil {
		assert.NoError(t, s2.Close())
	}
	assert.ErrorIs(t, err, ErrVersion)
	assert.ErrorContains(t, err, "format 2")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(before, after), "newer-version file changed")
}

func TestBoltOpenZeroLengthFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	s, err := OpenBoltStore(path, &BoltOptions{NoSync: true})
	require.NoError(t, err)
	defer func() { assert.NoError(t, s.Close()) }()
	putInbox(t, s, "bob")
	assert.NoError(t, s.View(context.Background(), func(tx ReadTx) error {
		_, err := tx.Inbox("bob")
		return err
	}))
}

func TestBoltReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := OpenBoltStore(path, nil) // durable: this is what reopening is about
	require.NoError(t, err)
	ctx := context.Background()
	msg := MessageRecord{Sender: "bob", Recipient: "dave", Text: "hi Dave", Created: t0}
	conv := ConversationRecord{Owner: "bob", Other: "dave", Messages: 1, Unread: 0, LastUpdate: t0, ReadMark: 7, PeerReadMark: 3}
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		id, err := tx.NextID()
		if err != nil {
			return err
		}
		msg.ID = id
		conv.FirstID, conv.MaxID, conv.Last = id, id, msg
		if err := tx.PutInbox(InboxRecord{Owner: "bob", Unread: 2}); err != nil {
			return err
		}
		if err := tx.PutConversation(conv); err != nil {
			return err
		}
		return tx.PutMessage("bob", "dave", msg)
	}))
	require.NoError(t, s.Close())

	s, err = OpenBoltStore(path, nil)
	require.NoError(t, err)
	defer func() { assert.NoError(t, s.Close()) }()
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		in, err := tx.Inbox("bob")
		require.NoError(t, err)
		assert.Equal(t, InboxRecord{Owner: "bob", Unread: 2}, in)
		c, err := tx.Conversation("bob", "dave")
		require.NoError(t, err)
		assert.Equal(t, conv, c)
		m, err := tx.Message("bob", "dave", msg.ID)
		require.NoError(t, err)
		assert.Equal(t, msg, m)
		return nil
	}))
	var next uint64
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		var err error
		next, err = tx.NextID()
		return err
	}))
	assert.Greater(t, next, msg.ID, "IDs keep growing across reopen")
}

func TestBoltClosed(t *testing.T) {
	s, _ := openTestBolt(t)
	require.NoError(t, s.Close())
	assert.NoError(t, s.Close(), "Close is idempotent")
	ctx := context.Background()
	assert.ErrorIs(t, s.View(ctx, func(ReadTx) error { return nil }), ErrClosed)
	called := false
	assert.ErrorIs(t, s.Update(ctx, func(Tx) error { called = true; return nil }), ErrClosed)
	assert.False(t, called)
}

func TestBoltCloseWaitsForTransactions(t *testing.T) {
	s, _ := openTestBolt(t)
	inFn := make(chan struct{})
	release := make(chan struct{})
	updated := make(chan error, 1)
	go func() {
		updated <- s.Update(context.Background(), func(tx Tx) error {
			close(inFn)
			<-release
			return tx.PutInbox(InboxRecord{Owner: "bob"})
		})
	}()
	<-inFn
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while an Update was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	assert.NoError(t, <-updated)
	assert.NoError(t, <-closed)
}

func TestNewBoltStoreLeavesDBOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true})
	require.NoError(t, err)
	defer func() { assert.NoError(t, db.Close()) }()

	s, err := NewBoltStore(db)
	require.NoError(t, err)
	assert.Same(t, db, s.DB())
	putInbox(t, s, "bob")
	require.NoError(t, s.Close())

	// db is still open and holds the store; a second wrap sees the data.
	assert.NoError(t, db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Bucket([]byte("bob")) == nil {
			return errors.New("bob missing")
		}
		return nil
	}))
	s2, err := NewBoltStore(db)
	require.NoError(t, err)
	assert.NoError(t, s2.View(context.Background(), func(tx ReadTx) error {
		_, err := tx.Inbox("bob")
		return err
	}))
	assert.NoError(t, s2.Close())

	_, err = NewBoltStore(nil)
	assert.Error(t, err)
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

func TestBoltCancelledContextWritesNothing(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err := s.Update(ctx, func(tx Tx) error {
		called = true
		return tx.PutInbox(InboxRecord{Owner: "bob"})
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, called)
	err = s.View(ctx, func(ReadTx) error { called = true; return nil })
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, called)
	assert.Zero(t, s.commits.Load())
}

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

func TestBoltTxUnusableAfterFn(t *testing.T) {
	s, _ := openTestBolt(t)
	var kept Tx
	require.NoError(t, s.Update(context.Background(), func(tx Tx) error { kept = tx; return nil }))
	assert.ErrorIs(t, kept.PutInbox(InboxRecord{Owner: "late"}), errTxDone)
	_, err := kept.Inbox("late")
	assert.ErrorIs(t, err, errTxDone)
}

// ---- records, order and cascades ----

func TestBoltConversationsOrderAndIndexMove(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	putInbox(t, s, "bob")
	put := func(other string, lu time.Time) {
		t.Helper()
		require.NoError(t, s.Update(ctx, func(tx Tx) error {
			return tx.PutConversation(ConversationRecord{Owner: "bob", Other: other, LastUpdate: lu})
		}))
	}
	put("carol", t0)
	put("dave", t0.Add(time.Hour))
	put("al", t0)
	put("zed", t0.Add(-time.Hour))
	put("zed", t0.Add(2*time.Hour)) // moves to the front
	put("al", t0.Add(time.Hour))    // ties with dave, sorts before it

	others := func(recs []ConversationRecord) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.Other)
		}
		return out
	}
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		all, err := tx.Conversations("bob", nil, 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"zed", "al", "dave", "carol"}, others(all))
		k := all[1].Key()
		page, err := tx.Conversations("bob", &k, 2)
		require.NoError(t, err)
		assert.Equal(t, []string{"dave", "carol"}, others(page))
		// A position that is not stored.
		page, err = tx.Conversations("bob", &ConversationKey{LastUpdate: t0.Add(90 * time.Minute), Other: "q"}, 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"al", "dave", "carol"}, others(page))
		none, err := tx.Conversations("bob", nil, 0)
		assert.Empty(t, none)
		assert.NoError(t, err)
		none, err = tx.Conversations("nobody", nil, 10)
		assert.Empty(t, none)
		return err
	}))

	// Deleting removes the index entry.
	require.NoError(t, s.Update(ctx, func(tx Tx) error { return tx.DeleteConversation("bob", "al") }))
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		all, err := tx.Conversations("bob", nil, 10)
		assert.Equal(t, []string{"zed", "dave", "carol"}, others(all))
		_, cerr := tx.Conversation("bob", "al")
		assert.ErrorIs(t, cerr, ErrNotFound)
		return err
	}))
	err := s.Update(ctx, func(tx Tx) error { return tx.DeleteConversation("bob", "al") })
	assert.ErrorIs(t, err, ErrNotFound)
	err = s.Update(ctx, func(tx Tx) error {
		return tx.PutConversation(ConversationRecord{Owner: "nobody", Other: "x"})
	})
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestBoltMessagesOrderAndPositions(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	putInbox(t, s, "bob")
	// Created out of ID order, with ties, before and after 1970.
	created := []time.Time{
		t0, t0.Add(-time.Nanosecond), t0, time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC), t0.Add(time.Second),
	}
	var want []MessageRecord
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		if err := tx.PutConversation(ConversationRecord{Owner: "bob", Other: "dave", LastUpdate: t0}); err != nil {
			return err
		}
		for i, c := range created {
			m := MessageRecord{ID: uint64(10 + i), Sender: "dave", Recipient: "bob", Text: fmt.Sprint("m", i), Created: c}
			want = append(want, m)
			if err := tx.PutMessage("bob", "dave", m); err != nil {
				return err
			}
		}
		return nil
	}))
	// (Created, ID) order: 13, 11, 10, 12, 14.
	ids := func(ms []MessageRecord) []uint64 {
		var out []uint64
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		fwd, err := tx.Messages("bob", "dave", nil, false, 10)
		require.NoError(t, err)
		assert.Equal(t, []uint64{13, 11, 10, 12, 14}, ids(fwd))
		back, err := tx.Messages("bob", "dave", nil, true, 2)
		require.NoError(t, err)
		assert.Equal(t, []uint64{14, 12}, ids(back))

		k := want[0].Key() // ID 10
		fwd, err = tx.Messages("bob", "dave", &k, false, 10)
		require.NoError(t, err)
		assert.Equal(t, []uint64{12, 14}, ids(fwd))
		back, err = tx.Messages("bob", "dave", &k, true, 10)
		require.NoError(t, err)
		assert.Equal(t, []uint64{11, 13}, ids(back))

		// Positions that are not stored messages.
		between := MessageKey{Created: t0, ID: 11}
		fwd, err = tx.Messages("bob", "dave", &between, false, 10)
		require.NoError(t, err)
		assert.Equal(t, []uint64{12, 14}, ids(fwd))
		back, err = tx.Messages("bob", "dave", &between, true, 10)
		require.NoError(t, err)
		assert.Equal(t, []uint64{10, 11, 13}, ids(back))
		past := MessageKey{Created: t0.Add(time.Hour)}
		back, err = tx.Messages("bob", "dave", &past, true, 1)
		require.NoError(t, err)
		assert.Equal(t, []uint64{14}, ids(back))
		fwd, err = tx.Messages("bob", "dave", &past, false, 1)
		require.NoError(t, err)
		assert.Empty(t, fwd)

		byID, err := tx.MessagesByID("bob", "dave", 11, 2)
		require.NoError(t, err)
		assert.Equal(t, []uint64{12, 13}, ids(byID))
		byID, err = tx.MessagesByID("bob", "dave", math.MaxUint64, 2)
		require.NoError(t, err)
		assert.Empty(t, byID)

		m, err := tx.Message("bob", "dave", 12)
		require.NoError(t, err)
		assert.Equal(t, want[2], m)
		assert.Equal(t, time.UTC, m.Created.Location())
		_, err = tx.Message("bob", "dave", 99)
		assert.ErrorIs(t, err, ErrNotFound)
		_, err = tx.Message("bob", "nobody", 12)
		assert.ErrorIs(t, err, ErrNotFound)

		none, err := tx.Messages("bob", "nobody", nil, false, 10)
		assert.Empty(t, none)
		assert.NoError(t, err)
		none, err = tx.Messages("bob", "dave", nil, false, 0)
		assert.Empty(t, none)
		return err
	}))

	// Replacing a message with a new Created moves it; deleting removes it.
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		m := want[3]
		m.Created = t0.Add(time.Hour)
		m.Text = "moved"
		if err := tx.PutMessage("bob", "dave", m); err != nil {
			return err
		}
		return tx.DeleteMessage("bob", "dave", 11)
	}))
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		fwd, err := tx.Messages("bob", "dave", nil, false, 10)
		assert.Equal(t, []uint64{10, 12, 14, 13}, ids(fwd))
		return err
	}))
	err := s.Update(ctx, func(tx Tx) error { return tx.DeleteMessage("bob", "dave", 11) })
	assert.ErrorIs(t, err, ErrNotFound)
	err = s.Update(ctx, func(tx Tx) error { return tx.PutMessage("bob", "nobody", want[0]) })
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestBoltDeleteInboxCascades(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	for _, u := range []string{"bob", "dave", "bob/x", "b", "bo\x00b"} {
		putInbox(t, s, u)
	}
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		if err := tx.PutConversation(ConversationRecord{Owner: "bob", Other: "dave", LastUpdate: t0}); err != nil {
			return err
		}
		return tx.PutMessage("bob", "dave", MessageRecord{ID: 1, Sender: "bob", Recipient: "dave", Text: "x", Created: t0})
	}))
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		users, err := tx.Users("", 10)
		assert.Equal(t, []string{"b", "bo\x00b", "bob", "bob/x", "dave"}, users)
		page, err2 := tx.Users("bo\x00b", 2)
		assert.Equal(t, []string{"bob", "bob/x"}, page)
		page, err3 := tx.Users("bob/", 10)
		assert.Equal(t, []string{"bob/x", "dave"}, page)
		none, err4 := tx.Users("", 0)
		assert.Empty(t, none)
		return errors.Join(err, err2, err3, err4)
	}))
	require.NoError(t, s.Update(ctx, func(tx Tx) error { return tx.DeleteInbox("bob") }))
	putInbox(t, s, "bob")
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		_, err := tx.Conversation("bob", "dave")
		assert.ErrorIs(t, err, ErrNotFound)
		convs, err := tx.Conversations("bob", nil, 10)
		assert.Empty(t, convs)
		return err
	}))
	err := s.Update(ctx, func(tx Tx) error { return tx.DeleteInbox("nobody") })
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestBoltCorruptRecordIsAnError(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	putInbox(t, s, "bob")
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		if err := tx.PutConversation(ConversationRecord{Owner: "bob", Other: "dave", LastUpdate: t0}); err != nil {
			return err
		}
		return tx.PutMessage("bob", "dave", MessageRecord{ID: 1, Text: "x", Created: t0})
	}))
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
		ob := tx.Bucket(bucketUsers).Bucket([]byte("bob"))
		if err := ob.Put(keyInbox, []byte{1, 2}); err != nil {
			return err
		}
		cb := ob.Bucket(keyConvs).Bucket([]byte("dave"))
		if err := cb.Put(keyRecord, []byte{9}); err != nil {
			return err
		}
		return cb.Bucket(keyMessages).Put(encodeMessageKey(MessageKey{Created: t0, ID: 1}), []byte{1, 0xff})
	}))
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		_, err := tx.Inbox("bob")
		assert.ErrorIs(t, err, errCorrupt)
		_, err = tx.Conversation("bob", "dave")
		assert.ErrorIs(t, err, errCorrupt)
		_, err = tx.Conversations("bob", nil, 10)
		assert.ErrorIs(t, err, errCorrupt)
		_, err = tx.Message("bob", "dave", 1)
		assert.ErrorIs(t, err, errCorrupt)
		_, err = tx.Messages("bob", "dave", nil, false, 10)
		assert.ErrorIs(t, err, errCorrupt)
		return nil
	}))
}

func TestBoltRecordRoundTrip(t *testing.T) {
	m := MessageRecord{ID: math.MaxUint64, Sender: "bøb", Recipient: "dave \"x\"", Text: "héllo\n", Created: time.Date(-5000, 1, 1, 0, 0, 0, 999999999, time.UTC)}
	gotM, err := decodeMessage(appendMessage(nil, m))
	require.NoError(t, err)
	assert.Equal(t, m, gotM)

	c := ConversationRecord{Owner: "o", Other: "x", Messages: 3, Unread: -1, LastUpdate: t0, FirstID: 1<<63 | 5, MaxID: 9, ReadMark: 8, PeerReadMark: 7, Last: m}
	gotC, err := decodeConversation("o", "x", encodeConversation(c))
	require.NoError(t, err)
	assert.Equal(t, c, gotC)

	var zero ConversationRecord
	gotC, err = decodeConversation("", "", encodeConversation(zero))
	require.NoError(t, err)
	assert.Equal(t, zero, gotC)
	assert.True(t, gotC.LastUpdate.IsZero())

	in := InboxRecord{Owner: "o", Unread: math.MaxInt}
	gotI, err := decodeInbox("o", encodeInbox(in))
	require.NoError(t, err)
	assert.Equal(t, in, gotI)

	// Every strict prefix of a record, and a record with a byte more, fail.
	full := encodeConversation(c)
	for n := range len(full) {
		_, err := decodeConversation("o", "x", full[:n])
		assert.ErrorIs(t, err, errCorrupt, "prefix of %d bytes", n)
	}
	_, err = decodeConversation("o", "x", append(full, 0))
	assert.ErrorIs(t, err, errCorrupt)
}

// FuzzDecodeRecord: arbitrary bytes decode to a record or an error, never a
// panic, and what decodes survives a re-encoding unchanged. (Bytes may differ:
// an overlong uvarint decodes too.)
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeInbox(InboxRecord{Unread: 3}))
	f.Add(appendMessage(nil, MessageRecord{ID: 1, Sender: "a", Text: "t", Created: t0}))
	f.Add(encodeConversation(ConversationRecord{Messages: 1, LastUpdate: t0, FirstID: 2, MaxID: 3, Last: MessageRecord{Text: "x"}}))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := decodeMessage(b); err == nil {
			again, err := decodeMessage(appendMessage(nil, m))
			assert.NoError(t, err)
			assert.Equal(t, m, again)
		}
		if c, err := decodeConversation("o", "x", b); err == nil {
			again, err := decodeConversation("o", "x", encodeConversation(c))
			assert.NoError(t, err)
			assert.Equal(t, c, again)
		}
		if in, err := decodeInbox("o", b); err == nil {
			again, err := decodeInbox("o", encodeInbox(in))
			assert.NoError(t, err)
			assert.Equal(t, in, again)
		}
	})
}

// TestBoltKeysFollowRecordOrder: the key encodings (fuzzed in
// internal/keys) order keys as MessageKey.Compare and
// ConversationKey.Compare do, and decode back to the same key.
func TestBoltKeysFollowRecordOrder(t *testing.T) {
	times := []time.Time{
		time.Unix(math.MinInt64, 0), time.Time{}, time.Unix(-1, 999999999), time.Unix(0, 0),
		t0, t0.Add(time.Nanosecond), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Unix(math.MaxInt64, 999999999),
	}
	var mks []MessageKey
	var cks []ConversationKey
	for _, tm := range times {
		for _, id := range []uint64{0, 1, math.MaxUint64} {
			mks = append(mks, MessageKey{Created: tm, ID: id})
		}
		for _, other := range []string{"", "a", "a\x00", "b", "é"} {
			cks = append(cks, ConversationKey{LastUpdate: tm, Other: other})
		}
	}
	for _, a := range mks {
		for _, b := range mks {
			assert.Equal(t, a.Compare(b), bytes.Compare(encodeMessageKey(a), encodeMessageKey(b)), "%v vs %v", a, b)
		}
		got, err := decodeMessageKey(encodeMessageKey(a))
		require.NoError(t, err)
		assert.Equal(t, MessageKey{Created: a.Created.UTC(), ID: a.ID}, got)
	}
	for _, a := range cks {
		for _, b := range cks {
			assert.Equal(t, a.Compare(b), bytes.Compare(encodeConversationKey(a), encodeConversationKey(b)), "%+v vs %+v", a, b)
		}
		got, err := decodeConversationKey(encodeConversationKey(a))
		require.NoError(t, err)
		assert.Equal(t, ConversationKey{LastUpdate: a.LastUpdate.UTC(), Other: a.Other}, got)
	}
}

// TestBoltNotFoundIsBare: the root package adds the context of a missing
// record itself, so the store returns ErrNotFound as it is.
func TestBoltNotFoundIsBare(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	putInbox(t, s, "bob")
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		return tx.PutConversation(ConversationRecord{Owner: "bob", Other: "dave", LastUpdate: t0})
	}))
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		_, err := tx.Inbox("nobody")
		assert.Same(t, ErrNotFound, err, "Inbox")
		_, err = tx.Conversation("bob", "nobody")
		assert.Same(t, ErrNotFound, err, "Conversation")
		_, err = tx.Conversation("nobody", "bob")
		assert.Same(t, ErrNotFound, err, "Conversation of an unknown owner")
		_, err = tx.Message("bob", "dave", 1)
		assert.Same(t, ErrNotFound, err, "Message")
		_, err = tx.Message("bob", "nobody", 1)
		assert.Same(t, ErrNotFound, err, "Message of an unknown conversation")
		return nil
	}))
	for name, fn := range map[string]func(Tx) error{
		"DeleteInbox":         func(tx Tx) error { return tx.DeleteInbox("nobody") },
		"PutConversation":     func(tx Tx) error { return tx.PutConversation(ConversationRecord{Owner: "nobody", Other: "x"}) },
		"DeleteConversation":  func(tx Tx) error { return tx.DeleteConversation("bob", "nobody") },
		"PutMessage":          func(tx Tx) error { return tx.PutMessage("bob", "nobody", MessageRecord{ID: 1}) },
		"DeleteMessage":       func(tx Tx) error { return tx.DeleteMessage("bob", "dave", 1) },
		"DeleteMessage/nconv": func(tx Tx) error { return tx.DeleteMessage("bob", "nobody", 1) },
	} {
		assert.Same(t, ErrNotFound, s.Update(ctx, fn), name)
	}
}

// ---- Check ----

// soundBolt commits, through the Store interface, a small store whose
// structure is sound: inboxes bob, carol and dave; messages 1 bob→dave,
// 2 dave→bob, 3 bob→dave (deleted from bob's copy), 4 bob→carol and
// 5 carol→dave, each at t0 plus its ID in seconds, both copies.
func soundBolt(t *testing.T) *BoltStore {
	t.Helper()
	s, _ := openTestBolt(t)
	require.NoError(t, s.Update(context.Background(), func(tx Tx) error {
		for _, u := range []string{"bob", "carol", "dave"} {
			if err := tx.PutInbox(InboxRecord{Owner: u}); err != nil {
				return err
			}
		}
		for _, p := range [][2]string{{"bob", "dave"}, {"dave", "bob"}, {"bob", "dave"}, {"bob", "carol"}, {"carol", "dave"}} {
			id, err := tx.NextID()
			if err != nil {
				return err
			}
			m := MessageRecord{ID: id, Sender: p[0], Recipient: p[1], Text: fmt.Sprint("m", id), Created: sec(int(id))}
			for _, side := range [][2]string{p, {p[1], p[0]}} {
				c, err := tx.Conversation(side[0], side[1])
				if errors.Is(err, ErrNotFound) {
					c, err = ConversationRecord{Owner: side[0], Other: side[1], FirstID: id}, nil
				}
				if err != nil {
					return err
				}
				c.Messages++
				c.LastUpdate, c.MaxID, c.Last = m.Created, id, m
				if err := tx.PutConversation(c); err != nil {
					return err
				}
				if err := tx.PutMessage(side[0], side[1], m); err != nil {
					return err
				}
			}
		}
		return tx.DeleteMessage("bob", "dave", 3)
	}))
	return s
}

func sec(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

func check(t *testing.T, s *BoltStore) []Problem {
	t.Helper()
	var got []Problem
	require.NoError(t, s.Check(context.Background(), func(p Problem) { got = append(got, p) }))
	return got
}

// corruptBolt writes to s's file behind its back.
func corruptBolt(t *testing.T, s *BoltStore, fn func(users *bbolt.Bucket) error) {
	t.Helper()
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error { return fn(tx.Bucket(bucketUsers)) }))
}

// convBucket returns owner's conversation bucket with other.
func convBucket(users *bbolt.Bucket, owner, other string) *bbolt.Bucket {
	return users.Bucket([]byte(owner)).Bucket(keyConvs).Bucket([]byte(other))
}

func idKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

func TestBoltCheckSound(t *testing.T) {
	s := soundBolt(t)
	assert.Empty(t, check(t, s))
	var deleted bool
	require.NoError(t, s.View(context.Background(), func(tx ReadTx) error {
		var err error
		deleted, err = tx.Deleted("bob", "dave", 3)
		return err
	}))
	assert.True(t, deleted)

	// Moves, replaces and deletes keep it sound; an empty store is sound.
	ctx := context.Background()
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		c, err := tx.Conversation("bob", "carol")
		if err != nil {
			return err
		}
		c.LastUpdate = sec(-100)
		if err := tx.PutConversation(c); err != nil {
			return err
		}
		if err := tx.PutMessage("bob", "carol", MessageRecord{ID: 4, Text: "moved", Created: sec(50)}); err != nil {
			return err
		}
		if err := tx.DeleteMessage("dave", "bob", 1); err != nil {
			return err
		}
		return tx.DeleteConversation("carol", "dave")
	}))
	assert.Empty(t, check(t, s))
	empty, _ := openTestBolt(t)
	assert.Empty(t, check(t, empty))
}

func TestBoltCheckFindsCorruption(t *testing.T) {
	s := soundBolt(t)
	corruptBolt(t, s, func(users *bbolt.Bucket) error {
		bob := users.Bucket([]byte("bob"))
		bobIndex := bob.Bucket(keyIndex)
		return errors.Join(
			// bob/dave: its index entry deleted, a tombstone for a present ID.
			bobIndex.Delete(encodeConversationKey(ConversationKey{LastUpdate: sec(3), Other: "dave"})),
			convBucket(users, "bob", "dave").Bucket(keyTombs).Put(idKey(1), emptyValue),
			// bob: an index entry for a conversation it does not have, a
			// stale second one for carol.
			bobIndex.Put(encodeConversationKey(ConversationKey{LastUpdate: t0, Other: "zed"}), emptyValue),
			bobIndex.Put(encodeConversationKey(ConversationKey{LastUpdate: sec(1), Other: "carol"}), emptyValue),
			// bob/carol: message 4's record is garbage.
			convBucket(users, "bob", "carol").Bucket(keyMessages).Put(encodeMessageKey(MessageKey{sec(4), 4}), []byte{1, 2, 3}),
			// carol/bob: the conversation record is garbage.
			convBucket(users, "carol", "bob").Put(keyRecord, []byte{1, 2, 3}),
			// carol/dave: the "m" bucket is gone (so is message 5).
			convBucket(users, "carol", "dave").DeleteBucket(keyMessages),
			// dave: a garbage inbox record.
			users.Bucket([]byte("dave")).Put(keyInbox, []byte{1}),
			// dave/bob: message 1 under a wrong key (its "d" entry follows
			// it), and a "d" entry for a message it does not have.
			func() error {
				cb := convBucket(users, "dave", "bob")
				m, d := cb.Bucket(keyMessages), cb.Bucket(keyIDs)
				oldKey, newKey := encodeMessageKey(MessageKey{sec(1), 1}), encodeMessageKey(MessageKey{sec(60), 1})
				rec := bytes.Clone(m.Get(oldKey))
				return errors.Join(m.Delete(oldKey), m.Put(newKey, rec), d.Put(idKey(1), newKey),
					d.Put(idKey(4), encodeMessageKey(MessageKey{sec(4), 4})))
			}(),
			// dave/carol: message 5 without its "d" entry.
			convBucket(users, "dave", "carol").Bucket(keyIDs).Delete(idKey(5)),
			// erin: an owner bucket without an inbox record; frank: a key
			// where an owner bucket belongs.
			func() error {
				ob, err := users.CreateBucket([]byte("erin"))
				if err != nil {
					return err
				}
				_, err1 := ob.CreateBucket(keyConvs)
				_, err2 := ob.CreateBucket(keyIndex)
				return errors.Join(err1, err2, users.Put([]byte("frank"), []byte("x")))
			}(),
		)
	})
	want := []Problem{
		{Owner: "bob", Other: "carol", Detail: fmt.Sprintf("stale index entry at %s: the record's LastUpdate is %s", fmtTime(sec(1)), fmtTime(sec(4)))},
		{Owner: "bob", Other: "zed", Detail: fmt.Sprintf("index entry at %s without its conversation", fmtTime(t0))},
		{Owner: "bob", Other: "carol", MessageID: 4, Detail: "message record does not decode: record truncated"},
		{Owner: "bob", Other: "dave", Detail: fmt.Sprintf("no index entry at its LastUpdate %s", fmtTime(sec(3)))},
		{Owner: "bob", Other: "dave", MessageID: 1, Detail: "deleted (it has a tombstone) but present"},
		{Owner: "carol", Other: "bob", Detail: "conversation record does not decode: record truncated"},
		{Owner: "carol", Other: "dave", Detail: `the messages bucket "m" is missing`},
		{Owner: "dave", Detail: "inbox record does not decode: record truncated"},
		{Owner: "dave", Other: "bob", MessageID: 1, Detail: fmt.Sprintf("stored under the key of (%s, 1), its record says (%s, 1)", fmtTime(sec(60)), fmtTime(sec(1)))},
		{Owner: "dave", Other: "bob", MessageID: 4, Detail: fmt.Sprintf("ID index entry names a missing message (%s, 4)", fmtTime(sec(4)))},
		{Owner: "dave", Other: "carol", MessageID: 5, Detail: "not in the ID index"},
		{Owner: "erin", Detail: "no inbox record"},
		{Owner: "frank", Detail: `a key, not an inbox bucket, in the "messaging.users" bucket`},
	}
	got := check(t, s)
	assert.ElementsMatch(t, want, got)
	for _, p := range got {
		t.Log(p)
	}
}

func TestBoltCheckMoreCorruption(t *testing.T) {
	s := soundBolt(t)
	corruptBolt(t, s, func(users *bbolt.Bucket) error {
		bob := users.Bucket([]byte("bob"))
		bobDave := convBucket(users, "bob", "dave")
		return errors.Join(
			// The meta sequence falls behind the IDs.
			users.Tx().Bucket(bucketMeta).SetSequence(4),
			// bob/dave: an undecodable message key, a "d" entry naming the
			// key of another ID (so message 2 is not indexed), a short
			// tombstone key, a stray key.
			bobDave.Bucket(keyMessages).Put([]byte("short"), appendMessage(nil, MessageRecord{ID: 2, Created: sec(2)})),
			bobDave.Bucket(keyIDs).Put(idKey(2), encodeMessageKey(MessageKey{sec(1), 1})),
			bobDave.Bucket(keyTombs).Put([]byte{7}, emptyValue),
			bobDave.Put([]byte("?"), []byte("junk")),
			// bob/carol: no record, no "d" bucket.
			convBucket(users, "bob", "carol").Delete(keyRecord),
			convBucket(users, "bob", "carol").DeleteBucket(keyIDs),
			// carol: no index bucket; dave: an undecodable index key; bob:
			// a stray key.
			users.Bucket([]byte("carol")).DeleteBucket(keyIndex),
			users.Bucket([]byte("dave")).Bucket(keyIndex).Put([]byte("short"), emptyValue),
			bob.Put([]byte("zz"), nil),
		)
	})
	want := []Problem{
		{Owner: "bob", Other: "carol", Detail: "no conversation record"},
		{Owner: "bob", Other: "carol", Detail: `the ID index bucket "d" is missing`},
		{Owner: "bob", Other: "dave", Detail: `unexpected key "?" in the conversation bucket`},
		{Owner: "bob", Other: "dave", MessageID: 2, Detail: "message key 73686f7274 does not decode: message key of 5 bytes"},
		{Owner: "bob", Other: "dave", MessageID: 2, Detail: "ID index entry names the key of message 1"},
		{Owner: "bob", Other: "dave", MessageID: 2, Detail: "not in the ID index, which names another key for its ID"},
		{Owner: "bob", Other: "dave", Detail: "tombstone key 07 does not decode: not 8 bytes"},
		{Owner: "bob", Detail: `unexpected key "zz" in the inbox bucket`},
		{Owner: "carol", Detail: `the conversation index bucket "x" is missing`},
		{Owner: "dave", Detail: "conversation index key 73686f7274 does not decode: conversation key of 5 bytes"},
		{Owner: "carol", Other: "dave", MessageID: 5, Detail: "message ID above the meta sequence 4: NextID would hand it out again"},
	}
	got := check(t, s)
	assert.ElementsMatch(t, want, got)
	for _, p := range got {
		t.Log(p)
	}
}

// TestBoltCheckTombstoneOfPutBackID: PutMessage leaves a tombstone as it is,
// so an ID put back after its delete is both present and Deleted, which
// Check reports.
func TestBoltCheckTombstoneOfPutBackID(t *testing.T) {
	s := soundBolt(t)
	ctx := context.Background()
	m := MessageRecord{ID: 3, Sender: "bob", Recipient: "dave", Text: "m3", Created: sec(3)}
	require.NoError(t, s.Update(ctx, func(tx Tx) error { return tx.PutMessage("bob", "dave", m) }))
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		deleted, err := tx.Deleted("bob", "dave", 3)
		assert.True(t, deleted)
		return err
	}))
	assert.Equal(t, []Problem{{Owner: "bob", Other: "dave", MessageID: 3, Detail: "deleted (it has a tombstone) but present"}}, check(t, s))
}

func TestBoltCheckContext(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	// "a" without an inbox record comes first; then more than a tick of keys.
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		if err := tx.PutInbox(InboxRecord{Owner: "bob"}); err != nil {
			return err
		}
		if err := tx.PutConversation(ConversationRecord{Owner: "bob", Other: "dave"}); err != nil {
			return err
		}
		for i := range boltCheckTick + 10 {
			id, err := tx.NextID()
			if err != nil {
				return err
			}
			if err := tx.PutMessage("bob", "dave", MessageRecord{ID: id, Created: sec(i)}); err != nil {
				return err
			}
		}
		return nil
	}))
	corruptBolt(t, s, func(users *bbolt.Bucket) error {
		_, err := users.CreateBucket([]byte("a"))
		return err
	})

	cctx, cancel := context.WithCancel(ctx)
	var got []Problem
	err := s.Check(cctx, func(p Problem) { got = append(got, p); cancel() })
	assert.ErrorIs(t, err, context.Canceled, "cancelled during the walk")
	assert.NotEmpty(t, got)

	called := false
	err = s.Check(cctx, func(Problem) { called = true })
	assert.ErrorIs(t, err, context.Canceled, "cancelled before")
	assert.False(t, called)

	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Check(ctx, func(Problem) {}), ErrClosed)
}
