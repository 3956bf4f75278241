package messaging

// This file holds BoltStore itself: its options, opening a file or a
// database, and the View/Update/Close entry points.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var (
	_ Store   = (*BoltStore)(nil)
	_ Checker = (*BoltStore)(nil)
)

// DefaultBoltTimeout is how long OpenBoltStore waits, by default, for a file
// that another process or another open handle holds.
const DefaultBoltTimeout = time.Second

// BoltOptions configures OpenBoltStore. A nil *BoltOptions, or a zero field,
// means the default.
type BoltOptions struct {
	// Timeout bounds how long OpenBoltStore waits for a file that another
	// process, or another open handle in this process, holds, so that a
	// second open fails with ErrLocked instead of hanging for as long as
	// the first holder lives. Zero means DefaultBoltTimeout; a negative
	// value is an error.
	Timeout time.Duration

	// NoSync skips the fsync at each commit. Writes get much faster, but a
	// nil error from Update no longer means durable: the write survives the
	// process dying, not the machine crashing. Meant for tests and data
	// that can be rebuilt.
	NoSync bool

	// FileMode is the permission of the file when OpenBoltStore creates it.
	// Zero means 0600: messages are private to the application's user.
	FileMode os.FileMode
}

// withDefaults validates o and fills in the defaults; nil is all defaults.
func (o *BoltOptions) withDefaults() (BoltOptions, error) {
	var r BoltOptions
	if o != nil {
		r = *o
	}
	if r.Timeout < 0 {
		return r, fmt.Errorf("messaging: BoltOptions.Timeout is negative (%v)", r.Timeout)
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultBoltTimeout
	}
	if r.FileMode&^os.ModePerm != 0 {
		return r, fmt.Errorf("messaging: BoltOptions.FileMode %v has bits other than permissions", r.FileMode)
	}
	if r.FileMode == 0 {
		r.FileMode = 0o600
	}
	return r, nil
}

// BoltStore is the durable Store: records in one bbolt file, read through
// bbolt's MVCC read transactions and written by group commit.
//
// Concurrent Updates share commits: a writer that arrives while no commit is
// in flight commits at once, alone; writers that arrive during a commit queue
// and all go out together in the next one, so the fsync cost is shared
// without any timer delaying a lone writer. The functions of one group run
// one after the other in one bbolt transaction, on the goroutine of the
// writer that leads the group; a function that fails, panics or finds its
// context done affects only its own caller (the others may be re-run, as
// Store.Update allows).
//
// A nil error from Update means the write is on disk (fsync), unless the
// store was opened with BoltOptions.NoSync.
//
// Do not call View, Update or Close of the same store from inside the
// function passed to Update: bbolt does not allow a read and a write
// transaction in one goroutine, and the writers queued behind that function
// wait for it.
//
// The file holds two root buckets, "messaging.meta" and "messaging.users".
// The layout inside them, key by key, is documented on the unexported
// boltFormatVersion (go doc -u, or bolt_layout.go).
type BoltStore struct {
	db     *bbolt.DB
	ownsDB bool

	mu      sync.Mutex
	closed  bool
	leading bool        // a writer leads a group, or has been handed the lead
	queue   []*writeReq // writers waiting for the next group
	active  sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	commits atomic.Uint64 // read-write transactions committed; for tests
}

// OpenBoltStore opens the store in the bbolt file at path, creating and
// initialising the file if it does not exist or is empty (zero bytes).
//
// It refuses, leaving the file exactly as it was: a file another process or
// another open handle holds for longer than opts.Timeout (ErrLocked), a file
// that is not a store of this package (ErrNotStore: not a bbolt file, or a
// bbolt file holding other buckets) and a file written in a newer format
// (ErrVersion). An existing file is probed read-only before it is opened
// for writing. A bbolt file with no buckets at all counts as empty and is
// initialised. A nil opts means defaults.
//
// Close closes the file.
func OpenBoltStore(path string, opts *BoltOptions) (*BoltStore, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, wrapf(err, "open %s", path)
	}
	if err := probeBoltFile(path, o); err != nil {
		return nil, wrapf(err, "open %s", path)
	}
	bo := *bbolt.DefaultOptions
	bo.Timeout = o.Timeout
	bo.NoSync = o.NoSync
	db, err := bbolt.Open(path, o.FileMode, &bo)
	if err != nil {
		return nil, wrapf(boltOpenError(err, o.Timeout), "open %s", path)
	}
	s, err := newBoltStore(db, true)
	if err != nil {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, wrapf(err, "open %s", path)
	}
	return s, nil
}

// NewBoltStore makes a store of a bbolt database the caller has already
// opened, for applications that tune bbolt.Options themselves or keep other
// buckets in another file. It runs the same checks as OpenBoltStore
// (ErrNotStore, ErrVersion) and initialises a database that holds no
// buckets at all; a read-only db must already hold a store.
//
// The caller keeps ownership of db: Close waits for the store's
// transactions and then leaves db open; close it after the store. Durability
// follows db.NoSync.
func NewBoltStore(db *bbolt.DB) (*BoltStore, error) {
	if db == nil {
		return nil, errors.New("messaging: NewBoltStore: nil *bbolt.DB")
	}
	s, err := newBoltStore(db, false)
	if err != nil {
		return nil, wrapf(err, "bolt store %s", db.Path())
	}
	return s, nil
}

func newBoltStore(db *bbolt.DB, owns bool) (*BoltStore, error) {
	var empty bool
	var version uint64
	if err := db.View(func(tx *bbolt.Tx) error {
		var err error
		empty, version, err = readLayout(tx)
		return err
	}); err != nil {
		return nil, err
	}
	if empty && db.IsReadOnly() {
		return nil, wrapf(ErrNotStore, "read-only database holds no store to read")
	}
	if (empty || version < boltFormatVersion) && !db.IsReadOnly() {
		if err := db.Update(func(tx *bbolt.Tx) error {
			// Read it again: another user of db may have written since.
			empty, version, err := readLayout(tx)
			switch {
			case err != nil:
				return err
			case empty:
				return initLayout(tx)
			case version < boltFormatVersion:
				return upgradeLayout(tx)
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return &BoltStore{db: db, ownsDB: owns}, nil
}

// probeBoltFile opens an existing, non-empty file read-only and reads its
// layout, so that a file that is not ours is refused before bbolt opens it
// for writing (which may write to it).
func probeBoltFile(path string, o BoltOptions) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return wrapf(ErrNotStore, "not a regular file")
	}
	if fi.Size() == 0 {
		return nil
	}
	db, err := bbolt.Open(path, o.FileMode, &bbolt.Options{ReadOnly: true, Timeout: o.Timeout})
	if err != nil {
		return boltOpenError(err, o.Timeout)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		_, _, err := readLayout(tx)
		return err
	})
	if cerr := db.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// boltOpenError maps bbolt's open errors to ours, keeping bbolt's in the
// chain.
func boltOpenError(err error, timeout time.Duration) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return withCause(ErrLocked, err, fmt.Sprintf("gave up after %v", timeout))
	case errors.Is(err, berrors.ErrInvalid),
		errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum):
		return withCause(ErrNotStore, err, "not a bbolt file")
	}
	return err
}

// withCause returns kind, one of the sentinels, as caused by cause, an
// error of bbolt: errors.Is finds both, which wrapf cannot give. kind comes
// first, so the text has its one "messaging: " prefix at the front:
// "messaging: store file is in use (gave up after 1s): timeout". Context
// is then added with wrapf, as everywhere.
func withCause(kind, cause error, note string) error {
	return fmt.Errorf("%w (%s): %w", kind, note, cause)
}

// DB returns the underlying database, for backups (Tx.WriteTo), statistics
// and the like. Do not write to the buckets the store keeps, and do not
// close db if OpenBoltStore opened it: Close does.
func (s *BoltStore) DB() *bbolt.DB { return s.db }

// enter registers a transaction, or refuses it after Close.
func (s *BoltStore) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.active.Add(1)
	return nil
}

// View runs fn in a bbolt read-only transaction. Readers do not wait for
// writers, but keep fn short: the pages a View sees cannot be reused while it
// runs, and a commit that has to grow the file waits for the Views in
// progress.
func (s *BoltStore) View(ctx context.Context, fn func(ReadTx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.active.Done()
	if err := ctx.Err(); err != nil {
		return wrapf(err, "view")
	}
	return s.db.View(func(tx *bbolt.Tx) error {
		rt, err := newBoltReadTx(tx)
		if err != nil {
			return err
		}
		defer rt.end()
		return fn(rt)
	})
}

// Update runs fn in a read-write transaction, group-committed with the
// Updates running concurrently (see BoltStore). When fn returns nil, Update
// returns nil only after the commit holding fn's writes is on disk (or
// written, with NoSync); a commit error is returned to every writer of the
// group.
//
// If fn returns an error without having written, the group goes on in the
// same transaction. If it returns an error after writing, or panics, the
// transaction is rolled back and the group's other functions that ran
// before it run again, with the rest, in a fresh one; a panic is then
// re-raised, with the same value, in fn's caller. A writer whose ctx is done
// while it waits in the queue returns at once and fn is not called. An
// Update whose fn writes nothing commits nothing, and costs no fsync.
func (s *BoltStore) Update(ctx context.Context, fn func(Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.active.Done()
	if err := ctx.Err(); err != nil {
		return ctxError(err)
	}
	w := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	if !s.commit(w) {
		return ctxError(ctx.Err())
	}
	if w.panicked {
		panic(w.panicVal)
	}
	return w.err
}

// Close marks the store closed (View and Update then return ErrClosed),
// waits for the transactions in flight, including queued writers, and
// closes the file if OpenBoltStore opened it. Later calls return what the
// first returned.
func (s *BoltStore) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.active.Wait()
		if s.ownsDB {
			if err := s.db.Close(); err != nil {
				s.closeErr = wrapf(err, "close bolt store")
			}
		}
	})
	return s.closeErr
}

func ctxError(err error) error { return wrapf(err, "update") }
