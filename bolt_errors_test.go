package messaging

// Tests of the errors of the bolt files: every one says "messaging: " once,
// at the front, and errors.Is finds what it is about.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// TestBoltErrorsOnePrefix walks representative error paths of BoltStore,
// from opening a file to a transaction kept past its function, and through
// the domain, which wraps a store error again.
func TestBoltErrorsOnePrefix(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()

	// A store whose inbox "bob" has a record that does not decode, and
	// whose inbox "carol" lacks its conversation buckets.
	corrupted := func(t *testing.T) *BoltStore {
		s, _ := openTestBolt(t)
		putInbox(t, s, "bob")
		putInbox(t, s, "carol")
		require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
			users := tx.Bucket(bucketUsers)
			return errors.Join(
				users.Bucket([]byte("bob")).Put(keyInbox, []byte{1, 2}),
				users.Bucket([]byte("carol")).DeleteBucket(keyConvs),
			)
		}))
		return s
	}
	// A bbolt file holding someone else's bucket.
	foreign := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "foreign.db")
		db, err := bbolt.Open(path, 0o600, nil)
		require.NoError(t, err)
		require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
			_, err := tx.CreateBucket([]byte("widgets"))
			return err
		}))
		require.NoError(t, db.Close())
		return path
	}

	for _, tc := range []struct {
		name string
		err  func(t *testing.T) error
		is   []error // each must be in the chain
	}{
		{"open/negative timeout", func(t *testing.T) error {
			_, err := OpenBoltStore(filepath.Join(t.TempDir(), "m.db"), &BoltOptions{Timeout: -time.Second})
			return err
		}, nil},
		{"open/bad file mode", func(t *testing.T) error {
			_, err := OpenBoltStore(filepath.Join(t.TempDir(), "m.db"), &BoltOptions{FileMode: os.ModeDir | 0o600})
			return err
		}, nil},
		{"open/locked", func(t *testing.T) error {
			_, path := openTestBolt(t)
			_, err := OpenBoltStore(path, &BoltOptions{Timeout: 50 * time.Millisecond})
			return err
		}, []error{ErrLocked, berrors.ErrTimeout}},
		{"open/not a bbolt file", func(t *testing.T) error {
			path := filepath.Join(t.TempDir(), "junk.db")
			require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("junk\x00\xff", 3000)), 0o600))
			_, err := OpenBoltStore(path, nil)
			return err
		}, []error{ErrNotStore}},
		{"open/not a regular file", func(t *testing.T) error {
			_, err := OpenBoltStore(t.TempDir(), nil)
			return err
		}, []error{ErrNotStore}},
		{"open/foreign bbolt file", func(t *testing.T) error {
			_, err := OpenBoltStore(foreign(t), nil)
			return err
		}, []error{ErrNotStore}},
		{"open/newer version", func(t *testing.T) error {
			s, path := openTestBolt(t)
			require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
				return tx.Bucket(bucketMeta).Put(keyVersion, []byte{0, 0, 0, 0, 0, 0, 0, byte(boltFormatVersion + 1)})
			}))
			require.NoError(t, s.Close())
			_, err := OpenBoltStore(path, nil)
			return err
		}, []error{ErrVersion}},
		{"new/nil db", func(t *testing.T) error {
			_, err := NewBoltStore(nil)
			return err
		}, nil},
		{"new/foreign db", func(t *testing.T) error {
			db, err := bbolt.Open(foreign(t), 0o600, nil)
			require.NoError(t, err)
			defer func() { assert.NoError(t, db.Close()) }()
			_, err = NewBoltStore(db)
			return err
		}, []error{ErrNotStore}},
		{"read/corrupt record", func(t *testing.T) error {
			return corrupted(t).View(ctx, func(tx ReadTx) error {
				_, err := tx.Inbox("bob")
				return err
			})
		}, []error{ErrCorrupt}},
		{"read/missing buckets", func(t *testing.T) error {
			return corrupted(t).View(ctx, func(tx ReadTx) error {
				_, err := tx.Conversation("carol", "dave")
				return err
			})
		}, []error{ErrCorrupt}},
		{"domain/corrupt record", func(t *testing.T) error {
			_, err := New(corrupted(t)).Get(ctx, "bob")
			return err
		}, []error{ErrCorrupt}},
		{"write/bbolt refuses", func(t *testing.T) error {
			s, _ := openTestBolt(t)
			return s.Update(ctx, func(tx Tx) error { return tx.PutInbox(InboxRecord{Owner: ""}) })
		}, []error{berrors.ErrBucketNameRequired}},
		{"closed/view", func(t *testing.T) error {
			s, _ := openTestBolt(t)
			require.NoError(t, s.Close())
			return s.View(ctx, func(ReadTx) error { return nil })
		}, []error{ErrClosed}},
		{"closed/update", func(t *testing.T) error {
			s, _ := openTestBolt(t)
			require.NoError(t, s.Close())
			return s.Update(ctx, func(Tx) error { return nil })
		}, []error{ErrClosed}},
		{"closed/check", func(t *testing.T) error {
			s, _ := openTestBolt(t)
			require.NoError(t, s.Close())
			return s.Check(ctx, func(Problem) {})
		}, []error{ErrClosed}},
		{"cancelled/view", func(t *testing.T) error {
			s, _ := openTestBolt(t)
			return s.View(cancelled, func(ReadTx) error { return nil })
		}, []error{context.Canceled}},
		{"cancelled/update", func(t *testing.T) error {
			s, _ := openTestBolt(t)
			return s.Update(cancelled, func(Tx) error { return nil })
		}, []error{context.Canceled}},
		{"cancelled/check", func(t *testing.T) error {
			s, _ := openTestBolt(t)
			return s.Check(cancelled, func(Problem) {})
		}, []error{context.Canceled}},
		{"tx used after its function/read", func(t *testing.T) error {
			s, _ := openTestBolt(t)
			var kept ReadTx
			require.NoError(t, s.View(ctx, func(tx ReadTx) error { kept = tx; return nil }))
			_, err := kept.Inbox("bob")
			return err
		}, []error{errTxDone}},
		{"tx used after its function/write", func(t *testing.T) error {
			s, _ := openTestBolt(t)
			var kept Tx
			require.NoError(t, s.Update(ctx, func(tx Tx) error { kept = tx; return nil }))
			_, err := kept.NextID()
			return err
		}, []error{errTxDone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err(t)
			require.Error(t, err)
			t.Log(err)
			assert.True(t, strings.HasPrefix(err.Error(), "messaging: "), "prefix not at the front")
			assert.Equal(t, 1, strings.Count(err.Error(), "messaging:"), "prefix count")
			for _, target := range tc.is {
				assert.ErrorIs(t, err, target)
			}
		})
	}
}

// TestBoltCorruptDetail: Check's reports say what does not decode without
// the context that the reads wrap around it.
func TestBoltCorruptDetail(t *testing.T) {
	_, err := decodeInbox("bob", []byte{1, 2})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Equal(t, "record truncated", corruptDetail(err))
	_, err = decodeMessageKey([]byte("short"))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Equal(t, "message key of 5 bytes", corruptDetail(err))
}
