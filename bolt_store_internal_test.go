package messaging

// Tests of bolt_store.go: options, opening and refusing files, View, Update
// and Close, and the helpers the other bolt tests share.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	assert.ErrorContains(t, err, fmt.Sprintf("format %d", boltFormatVersion+1))
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
