package messaging

// Key layout of a BoltStore file. Every user id is used as raw bytes, as a
// bucket name or as the fixed-offset tail of a key, so no id is ever escaped
// and no two ids can collide.
//
//	"messaging.meta"                   bucket
//	    "marker"   -> "github.com/socialkit/messaging"   (what makes a file ours)
//	    "version"  -> uint64 big-endian                   (file format, boltFormatVersion)
//	    sequence   = the last message ID handed out        (Bucket.NextSequence)
//	"messaging.users"                  bucket
//	    <owner>                        bucket, one per inbox
//	        "i" -> inbox record
//	        "c"                        bucket of conversations
//	            <other>                bucket, one per conversation
//	                "r" -> conversation record
//	                "m"                bucket of messages
//	                    time(Created) ‖ uint64(ID) -> message record
//	                "d"                bucket: the ID index of "m"
//	                    uint64(ID) -> the message's key in "m"
//	                "t"                bucket of tombstones, created by the first DeleteMessage
//	                    uint64(ID) -> (empty)
//	        "x"                        bucket: the LastUpdate order of "c"
//	            ^time(LastUpdate) ‖ <other> -> (empty)
//
// "t" holds the IDs DeleteMessage removed from the conversation (ReadTx.Deleted).
// It goes with the conversation bucket, so DeleteConversation and DeleteInbox
// forget the tombstones. PutMessage does not clear one: a deleted ID put back
// is both in "m" and in "t" (package messaging never does that; Check reports
// it).
//
// time(t) is 12 bytes: the seconds since 0001-01-01 UTC (the range package
// time itself uses, so every time.Time fits) as a big-endian int64 with the
// sign bit flipped, then the nanoseconds as a big-endian uint32. Byte order is
// time order for every time.Time, and decoding gives back the same instant,
// to the nanosecond, in UTC. ^time(t) is its bitwise NOT: byte order is
// newest first. Integers in keys are big-endian, so a cursor walks "m" in
// (Created, ID) order both ways and "x" in LastUpdate descending, then
// <other> ascending, order; every list read is a Seek and a walk of one page.
//
// Records are a version byte (1) followed by fixed-width big-endian integers,
// 12-byte times and uvarint-length-prefixed strings (see encodeInbox,
// encodeConversation, appendMessage). Owner and Other are not stored in
// records: they are the bucket names the record lives under.
//
// BoltStore.Check walks all of this and reports what does not fit.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/socialkit/messaging/internal/keys"
)

var (
	_ Store   = (*BoltStore)(nil)
	_ Checker = (*BoltStore)(nil)
)

// DefaultBoltTimeout is how long OpenBoltStore waits, by default, for a file
// that another process or another open handle holds.
const DefaultBoltTimeout = time.Second

// boltFormatVersion is the file format this code writes and the newest it
// reads. Bump it whenever the layout above changes incompatibly.
const boltFormatVersion uint64 = 1

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
// (ErrVersion). An existing file is checked read-only before it is opened
// for writing. A bbolt file with no buckets at all counts as empty and is
// initialised. A nil opts means defaults.
//
// Close closes the file.
func OpenBoltStore(path string, opts *BoltOptions) (*BoltStore, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := precheckBoltFile(path, o); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	bo := *bbolt.DefaultOptions
	bo.Timeout = o.Timeout
	bo.NoSync = o.NoSync
	db, err := bbolt.Open(path, o.FileMode, &bo)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, boltOpenError(err, o.Timeout))
	}
	s, err := newBoltStore(db, true)
	if err != nil {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
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
		return nil, fmt.Errorf("messaging: bolt store %s: %w", db.Path(), err)
	}
	return s, nil
}

func newBoltStore(db *bbolt.DB, owns bool) (*BoltStore, error) {
	var empty bool
	if err := db.View(func(tx *bbolt.Tx) error {
		var err error
		empty, err = checkLayout(tx)
		return err
	}); err != nil {
		return nil, err
	}
	if empty {
		if db.IsReadOnly() {
			return nil, fmt.Errorf("%w: read-only database holds no store to read", ErrNotStore)
		}
		if err := db.Update(func(tx *bbolt.Tx) error {
			// Check again: another user of db may have written since.
			empty, err := checkLayout(tx)
			if err != nil || !empty {
				return err
			}
			return initLayout(tx)
		}); err != nil {
			return nil, err
		}
	}
	return &BoltStore{db: db, ownsDB: owns}, nil
}

// precheckBoltFile checks an existing, non-empty file read-only, so that a
// file that is not ours is refused before bbolt opens it for writing (which
// may write to it).
func precheckBoltFile(path string, o BoltOptions) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: not a regular file", ErrNotStore)
	}
	if fi.Size() == 0 {
		return nil
	}
	db, err := bbolt.Open(path, o.FileMode, &bbolt.Options{ReadOnly: true, Timeout: o.Timeout})
	if err != nil {
		return boltOpenError(err, o.Timeout)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		_, err := checkLayout(tx)
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
		return fmt.Errorf("%w (gave up after %v): %w", ErrLocked, timeout, err)
	case errors.Is(err, berrors.ErrInvalid),
		errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum):
		return fmt.Errorf("%w: not a bbolt file: %w", ErrNotStore, err)
	}
	return err
}

var (
	bucketMeta  = []byte("messaging.meta")
	bucketUsers = []byte("messaging.users")

	keyMarker  = []byte("marker")
	keyVersion = []byte("version")
	markerData = []byte("github.com/socialkit/messaging")

	keyInbox    = []byte("i") // in an owner bucket
	keyConvs    = []byte("c") // in an owner bucket
	keyIndex    = []byte("x") // in an owner bucket
	keyRecord   = []byte("r") // in a conversation bucket
	keyMessages = []byte("m") // in a conversation bucket
	keyIDs      = []byte("d") // in a conversation bucket
	keyTombs    = []byte("t") // in a conversation bucket, created on first use

	emptyValue = []byte{}
)

// checkLayout reports whether tx sees an empty database (no root bucket at
// all), or else whether it holds a store this code can read.
func checkLayout(tx *bbolt.Tx) (empty bool, err error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if k, _ := tx.Cursor().First(); k == nil {
			return true, nil
		}
		return false, fmt.Errorf("%w: bbolt file without the %q bucket", ErrNotStore, bucketMeta)
	}
	if !bytes.Equal(meta.Get(keyMarker), markerData) {
		return false, fmt.Errorf("%w: %q bucket without our marker", ErrNotStore, bucketMeta)
	}
	v := meta.Get(keyVersion)
	if len(v) != 8 {
		return false, fmt.Errorf("%w: malformed format version", ErrNotStore)
	}
	switch ver := binary.BigEndian.Uint64(v); {
	case ver > boltFormatVersion:
		return false, fmt.Errorf("%w: file format %d, this version reads up to %d", ErrVersion, ver, boltFormatVersion)
	case ver == 0:
		return false, fmt.Errorf("%w: format version 0", ErrNotStore)
	}
	if tx.Bucket(bucketUsers) == nil {
		return false, fmt.Errorf("%w: the %q bucket is missing", ErrNotStore, bucketUsers)
	}
	return false, nil
}

// initLayout creates the root buckets of an empty database.
func initLayout(tx *bbolt.Tx) error {
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return fmt.Errorf("messaging: bolt: init: %w", err)
	}
	if err := meta.Put(keyMarker, markerData); err != nil {
		return fmt.Errorf("messaging: bolt: init: %w", err)
	}
	if err := meta.Put(keyVersion, binary.BigEndian.AppendUint64(nil, boltFormatVersion)); err != nil {
		return fmt.Errorf("messaging: bolt: init: %w", err)
	}
	if _, err := tx.CreateBucket(bucketUsers); err != nil {
		return fmt.Errorf("messaging: bolt: init: %w", err)
	}
	return nil
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
		return fmt.Errorf("messaging: view: %w", err)
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
	s.mu.Lock()
	if !s.leading {
		s.leading = true
		w.taken = true
		s.mu.Unlock()
		s.lead([]*writeReq{w})
	} else {
		w.wake = make(chan struct{}, 1)
		s.queue = append(s.queue, w)
		s.mu.Unlock()
		if !s.await(w) {
			return ctxError(ctx.Err())
		}
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
				s.closeErr = fmt.Errorf("messaging: close bolt store: %w", err)
			}
		}
	})
	return s.closeErr
}

func ctxError(err error) error { return fmt.Errorf("messaging: update: %w", err) }

// errGroupAborted is reported to the writers of a group whose leader died
// (a panic inside bbolt, or runtime.Goexit in a function) before their
// result was known. None of their writes were committed.
var errGroupAborted = errors.New("messaging: bolt: group commit aborted, nothing written")

// writeReq is one Update waiting for, or taking part in, a group commit.
type writeReq struct {
	ctx  context.Context
	fn   func(Tx) error
	wake chan struct{} // receives once when this writer is handed the lead
	done chan struct{} // closed when the result below is final

	// Guarded by BoltStore.mu.
	lead  bool // handed the lead of the next group
	taken bool // part of a group; its result will come through done

	// Written by the goroutine leading its group, read after done.
	onCommit []func() // registered by the latest run of fn
	err      error
	panicked bool
	panicVal any
	resolved bool // err/panic is final (not to be re-run)
}

func (w *writeReq) resolve(err error) { w.err, w.resolved = err, true }

// await waits for w's result, or for w to be handed the lead, in which case
// w runs the next group. It returns false if w left the queue because its
// context ended before a group took it.
func (s *BoltStore) await(w *writeReq) bool {
	select {
	case <-w.done:
		return true
	case <-w.wake:
	case <-w.ctx.Done():
		s.mu.Lock()
		switch {
		case w.lead:
			s.mu.Unlock()
		case w.taken:
			s.mu.Unlock()
			<-w.done
			return true
		default:
			for i, q := range s.queue {
				if q == w {
					s.queue = append(s.queue[:i], s.queue[i+1:]...)
					break
				}
			}
			s.mu.Unlock()
			return false
		}
	}
	// w leads: the group is everyone queued now, w first.
	s.mu.Lock()
	batch := s.queue
	s.queue = nil
	for _, q := range batch {
		q.taken = true
	}
	s.mu.Unlock()
	s.lead(batch)
	return true
}

// lead runs the functions of batch and commits them, then hands the lead on
// and releases the writers. The deferred finish runs even if bbolt panics or
// a function calls runtime.Goexit, so the store never wedges.
func (s *BoltStore) lead(batch []*writeReq) {
	defer s.finish(batch)
	for pending := batch; len(pending) > 0; {
		pending = s.runRound(pending)
	}
}

func (s *BoltStore) finish(batch []*writeReq) {
	for _, w := range batch {
		if !w.resolved {
			w.resolve(errGroupAborted)
		}
	}
	// Hand the lead to the first queued writer before releasing this
	// group, so the next commit starts while these writers return.
	s.mu.Lock()
	if len(s.queue) > 0 {
		next := s.queue[0]
		next.lead = true
		next.wake <- struct{}{}
	} else {
		s.leading = false
	}
	s.mu.Unlock()
	for _, w := range batch {
		close(w.done)
	}
}

// runRound runs pending in one bbolt read-write transaction and commits it if
// any function wrote. If a function fails after writing, or panics, it gets
// its result, the transaction is rolled back, and the writers still
// unresolved (those that ran before it, whose writes are gone, and those
// after it) are returned to be run again.
func (s *BoltStore) runRound(pending []*writeReq) (rerun []*writeReq) {
	tx, err := s.db.Begin(true)
	if err != nil {
		err = fmt.Errorf("messaging: bolt: begin update: %w", err)
		for _, w := range pending {
			w.resolve(err)
		}
		return nil
	}
	open := true
	defer func() {
		if open { // only when bbolt panicked or a function called Goexit
			rollback(tx)
		}
	}()

	ran := make([]*writeReq, 0, len(pending))
	wrote := false
	for i, w := range pending {
		if err := w.ctx.Err(); err != nil {
			w.resolve(ctxError(err))
			continue
		}
		t := &boltTx{boltReadTx: boltReadTx{tx: tx}}
		pv, panicked, err := t.run(w.fn)
		if panicked || (err != nil && t.wrote) {
			if panicked {
				w.panicked, w.panicVal, w.resolved = true, pv, true
			} else {
				w.resolve(err)
			}
			open = false
			rollback(tx)
			return append(ran, pending[i+1:]...)
		}
		w.err = err // final unless a later function forces a re-run
		w.onCommit = nil
		if err == nil {
			w.onCommit = t.onCommit
		}
		ran = append(ran, w)
		wrote = wrote || t.wrote
	}

	open = false
	if !wrote {
		rollback(tx) // nothing to make durable
	} else if err := tx.Commit(); err != nil {
		err = fmt.Errorf("messaging: bolt: commit: %w", err)
		for _, w := range ran {
			if w.err == nil {
				w.err = err
			}
		}
	} else {
		s.commits.Add(1)
	}
	for _, w := range ran {
		w.resolved = true
	}
	for _, w := range ran {
		if w.err == nil {
			w.runCallbacks() // before the lead passes on: commit order
		}
	}
	return nil
}

// runCallbacks runs w's OnCommit callbacks. The write is committed, so a
// panicking callback must not turn into an error for w or for the writers
// after it: the panic is re-raised in w's own caller, and the others' run.
func (w *writeReq) runCallbacks() {
	defer func() {
		if r := recover(); r != nil {
			w.panicked, w.panicVal = true, r
		}
	}()
	for _, f := range w.onCommit {
		f()
	}
}

// rollback ends a read-write transaction without committing. bbolt's
// Rollback fails only with ErrTxClosed, for a transaction already ended; in
// both cases nothing of it persists, so there is nothing to report.
func rollback(tx *bbolt.Tx) {
	_ = tx.Rollback()
}

// ---- transactions ----

// errTxDone is returned by a ReadTx or Tx used after its function returned.
var errTxDone = errors.New("messaging: bolt: transaction used after its function returned")

// errCorrupt is wrapped by every error about a record or key that does not
// decode.
var errCorrupt = errors.New("messaging: bolt: corrupt store")

func corrupt(format string, args ...any) error {
	return &corruptError{detail: fmt.Sprintf(format, args...)}
}

// corruptError says what does not decode; it wraps errCorrupt.
type corruptError struct{ detail string }

func (e *corruptError) Error() string { return errCorrupt.Error() + ": " + e.detail }
func (e *corruptError) Unwrap() error { return errCorrupt }

// corruptDetail returns what is wrong, without the context around it.
func corruptDetail(err error) string {
	var ce *corruptError
	if errors.As(err, &ce) {
		return ce.detail
	}
	return err.Error()
}

// boltReadTx is the ReadTx of View, and the read half of boltTx.
type boltReadTx struct {
	tx    *bbolt.Tx
	users *bbolt.Bucket // set by open
	ended bool
}

var _ ReadTx = (*boltReadTx)(nil)

func newBoltReadTx(tx *bbolt.Tx) (*boltReadTx, error) {
	t := &boltReadTx{tx: tx}
	if err := t.open(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *boltReadTx) open() error {
	t.users = t.tx.Bucket(bucketUsers)
	if t.users == nil {
		return corrupt("the %q bucket is missing", bucketUsers)
	}
	return nil
}

func (t *boltReadTx) end() { t.ended = true }

func (t *boltReadTx) check() error {
	if t.ended {
		return errTxDone
	}
	return nil
}

// owner returns owner's buckets, all nil if owner has no inbox.
func (t *boltReadTx) owner(owner string) (ob, convs, index *bbolt.Bucket, err error) {
	ob = t.users.Bucket([]byte(owner))
	if ob == nil {
		return nil, nil, nil, nil
	}
	convs, index = ob.Bucket(keyConvs), ob.Bucket(keyIndex)
	if convs == nil || index == nil {
		return nil, nil, nil, corrupt("inbox %q lacks its buckets", owner)
	}
	return ob, convs, index, nil
}

// conv returns the buckets of owner's conversation with other, all nil if
// there is no such conversation.
func (t *boltReadTx) conv(owner, other string) (cb, msgs, ids *bbolt.Bucket, err error) {
	_, convs, _, err := t.owner(owner)
	if convs == nil {
		return nil, nil, nil, err
	}
	cb = convs.Bucket([]byte(other))
	if cb == nil {
		return nil, nil, nil, nil
	}
	msgs, ids = cb.Bucket(keyMessages), cb.Bucket(keyIDs)
	if msgs == nil || ids == nil {
		return nil, nil, nil, corrupt("conversation %q/%q lacks its buckets", owner, other)
	}
	return cb, msgs, ids, nil
}

// Inbox returns a copy of owner's inbox record, or ErrNotFound.
func (t *boltReadTx) Inbox(owner string) (InboxRecord, error) {
	if err := t.check(); err != nil {
		return InboxRecord{}, err
	}
	ob := t.users.Bucket([]byte(owner))
	if ob == nil {
		return InboxRecord{}, ErrNotFound
	}
	return decodeInbox(owner, ob.Get(keyInbox))
}

// Users walks the users bucket from a Seek to after.
func (t *boltReadTx) Users(after string, limit int) ([]string, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	c := t.users.Cursor()
	var k []byte
	if after == "" {
		k, _ = c.First()
	} else {
		k, _ = c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, _ = c.Next()
		}
	}
	var out []string
	for ; k != nil && len(out) < limit; k, _ = c.Next() {
		out = append(out, string(k))
	}
	return out, nil
}

// Conversation returns a copy of the record, or ErrNotFound.
func (t *boltReadTx) Conversation(owner, other string) (ConversationRecord, error) {
	if err := t.check(); err != nil {
		return ConversationRecord{}, err
	}
	cb, _, _, err := t.conv(owner, other)
	if err != nil {
		return ConversationRecord{}, err
	}
	if cb == nil {
		return ConversationRecord{}, ErrNotFound
	}
	return decodeConversation(owner, other, cb.Get(keyRecord))
}

// Conversations walks owner's "x" index from a Seek to after.
func (t *boltReadTx) Conversations(owner string, after *ConversationKey, limit int) ([]ConversationRecord, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	_, convs, index, err := t.owner(owner)
	if convs == nil {
		return nil, err
	}
	c := index.Cursor()
	var k []byte
	if after == nil {
		k, _ = c.First()
	} else {
		ak := encodeConversationKey(*after)
		k, _ = c.Seek(ak)
		if k != nil && bytes.Equal(k, ak) {
			k, _ = c.Next()
		}
	}
	var out []ConversationRecord
	for ; k != nil && len(out) < limit; k, _ = c.Next() {
		if len(k) <= timeLen {
			return nil, corrupt("inbox %q: short index key", owner)
		}
		other := k[timeLen:]
		cb := convs.Bucket(other)
		if cb == nil {
			return nil, corrupt("inbox %q: index names missing conversation %q", owner, other)
		}
		rec, err := decodeConversation(owner, string(other), cb.Get(keyRecord))
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// Message looks id up in the "d" index, then reads "m".
func (t *boltReadTx) Message(owner, other string, id uint64) (MessageRecord, error) {
	if err := t.check(); err != nil {
		return MessageRecord{}, err
	}
	_, msgs, ids, err := t.conv(owner, other)
	if err != nil {
		return MessageRecord{}, err
	}
	var mk []byte
	if ids != nil {
		mk = ids.Get(binary.BigEndian.AppendUint64(nil, id))
	}
	if mk == nil {
		return MessageRecord{}, ErrNotFound
	}
	return getMessage(msgs, mk)
}

// Messages walks "m" from a Seek to after, forward or backward.
func (t *boltReadTx) Messages(owner, other string, after *MessageKey, reverse bool, limit int) ([]MessageRecord, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	_, msgs, _, err := t.conv(owner, other)
	if msgs == nil {
		return nil, err
	}
	c := msgs.Cursor()
	var k, v []byte
	switch {
	case after == nil && !reverse:
		k, v = c.First()
	case after == nil:
		k, v = c.Last()
	case !reverse:
		ak := encodeMessageKey(*after)
		k, v = c.Seek(ak)
		if k != nil && bytes.Equal(k, ak) {
			k, v = c.Next()
		}
	default:
		// Seek finds the first key >= after; the one before it is the
		// first strictly before after.
		if k, _ = c.Seek(encodeMessageKey(*after)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	step := c.Next
	if reverse {
		step = c.Prev
	}
	var out []MessageRecord
	for ; k != nil && len(out) < limit; k, v = step() {
		m, err := decodeMessage(v)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// MessagesByID walks the "d" index from a Seek past afterID.
func (t *boltReadTx) MessagesByID(owner, other string, afterID uint64, limit int) ([]MessageRecord, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if limit <= 0 || afterID == math.MaxUint64 {
		return nil, nil
	}
	_, msgs, ids, err := t.conv(owner, other)
	if msgs == nil {
		return nil, err
	}
	c := ids.Cursor()
	var out []MessageRecord
	for k, mk := c.Seek(binary.BigEndian.AppendUint64(nil, afterID+1)); k != nil && len(out) < limit; k, mk = c.Next() {
		m, err := getMessage(msgs, mk)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Deleted looks id up in the conversation's tombstones, if it has any.
func (t *boltReadTx) Deleted(owner, other string, id uint64) (bool, error) {
	if err := t.check(); err != nil {
		return false, err
	}
	cb, _, _, err := t.conv(owner, other)
	if cb == nil {
		return false, err
	}
	tombs := cb.Bucket(keyTombs)
	if tombs == nil {
		return false, nil
	}
	return tombs.Get(binary.BigEndian.AppendUint64(nil, id)) != nil, nil
}

func getMessage(msgs *bbolt.Bucket, mk []byte) (MessageRecord, error) {
	v := msgs.Get(mk)
	if v == nil {
		return MessageRecord{}, corrupt("ID index names a missing message")
	}
	return decodeMessage(v)
}

// boltTx is the Tx of one function in a group commit. wrote records whether
// the function changed anything in the shared bbolt transaction: if it then
// fails, the transaction must be rolled back; if it did not, the group goes
// on.
type boltTx struct {
	boltReadTx
	meta     *bbolt.Bucket
	wrote    bool
	onCommit []func()
}

var _ Tx = (*boltTx)(nil)

// run calls fn with t, recovering a panic, and ends t.
func (t *boltTx) run(fn func(Tx) error) (pv any, panicked bool, err error) {
	defer t.end()
	if err := t.open(); err != nil {
		return nil, false, err
	}
	t.meta = t.tx.Bucket(bucketMeta)
	if t.meta == nil {
		return nil, false, corrupt("the %q bucket is missing", bucketMeta)
	}
	defer func() {
		if panicked {
			pv = recover()
		}
	}()
	panicked = true
	err = fn(t)
	panicked = false
	return nil, false, err
}

// OnCommit keeps f with this function's run: runRound calls it after the
// commit only if the function returned nil, so a failed function's
// callbacks never run even though its group commits.
func (t *boltTx) OnCommit(f func()) {
	if t.check() == nil {
		t.onCommit = append(t.onCommit, f)
	}
}

// NextID takes the next value of the meta bucket's sequence.
func (t *boltTx) NextID() (uint64, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	t.wrote = true
	id, err := t.meta.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("messaging: bolt: next id: %w", err)
	}
	return id, nil
}

// PutInbox creates the owner bucket with its nested buckets on first use.
func (t *boltTx) PutInbox(rec InboxRecord) error {
	if err := t.check(); err != nil {
		return err
	}
	key := []byte(rec.Owner)
	t.wrote = true
	ob := t.users.Bucket(key)
	if ob == nil {
		var err error
		if ob, err = t.users.CreateBucket(key); err != nil {
			return fmt.Errorf("messaging: bolt: put inbox %q: %w", rec.Owner, err)
		}
		for _, name := range [][]byte{keyConvs, keyIndex} {
			if _, err := ob.CreateBucket(name); err != nil {
				return fmt.Errorf("messaging: bolt: put inbox %q: %w", rec.Owner, err)
			}
		}
	}
	if err := ob.Put(keyInbox, encodeInbox(rec)); err != nil {
		return fmt.Errorf("messaging: bolt: put inbox %q: %w", rec.Owner, err)
	}
	return nil
}

// DeleteInbox deletes the owner bucket, and with it everything nested.
func (t *boltTx) DeleteInbox(owner string) error {
	if err := t.check(); err != nil {
		return err
	}
	key := []byte(owner)
	if t.users.Bucket(key) == nil {
		return ErrNotFound
	}
	t.wrote = true
	if err := t.users.DeleteBucket(key); err != nil {
		return fmt.Errorf("messaging: bolt: delete inbox %q: %w", owner, err)
	}
	return nil
}

// PutConversation reads the old record first, to move the index entry when
// LastUpdate changes.
func (t *boltTx) PutConversation(rec ConversationRecord) error {
	if err := t.check(); err != nil {
		return err
	}
	_, convs, index, err := t.owner(rec.Owner)
	if err != nil {
		return err
	}
	if convs == nil {
		return ErrNotFound
	}
	wrap := func(err error) error {
		return fmt.Errorf("messaging: bolt: put conversation %q/%q: %w", rec.Owner, rec.Other, err)
	}
	otherKey := []byte(rec.Other)
	newIdx := encodeConversationKey(rec.Key())
	cb := convs.Bucket(otherKey)
	if cb != nil {
		old, err := decodeConversation(rec.Owner, rec.Other, cb.Get(keyRecord))
		if err != nil {
			return err
		}
		if oldIdx := encodeConversationKey(old.Key()); !bytes.Equal(oldIdx, newIdx) {
			t.wrote = true
			if err := index.Delete(oldIdx); err != nil {
				return wrap(err)
			}
		}
	} else {
		t.wrote = true
		if cb, err = convs.CreateBucket(otherKey); err != nil {
			return wrap(err)
		}
		for _, name := range [][]byte{keyMessages, keyIDs} {
			if _, err := cb.CreateBucket(name); err != nil {
				return wrap(err)
			}
		}
	}
	t.wrote = true
	if err := index.Put(newIdx, emptyValue); err != nil {
		return wrap(err)
	}
	if err := cb.Put(keyRecord, encodeConversation(rec)); err != nil {
		return wrap(err)
	}
	return nil
}

// DeleteConversation removes the index entry and the conversation bucket,
// and with it the messages.
func (t *boltTx) DeleteConversation(owner, other string) error {
	if err := t.check(); err != nil {
		return err
	}
	_, convs, index, err := t.owner(owner)
	if err != nil {
		return err
	}
	var cb *bbolt.Bucket
	if convs != nil {
		cb = convs.Bucket([]byte(other))
	}
	if cb == nil {
		return ErrNotFound
	}
	old, err := decodeConversation(owner, other, cb.Get(keyRecord))
	if err != nil {
		return err
	}
	t.wrote = true
	if err := index.Delete(encodeConversationKey(old.Key())); err != nil {
		return fmt.Errorf("messaging: bolt: delete conversation %q/%q: %w", owner, other, err)
	}
	if err := convs.DeleteBucket([]byte(other)); err != nil {
		return fmt.Errorf("messaging: bolt: delete conversation %q/%q: %w", owner, other, err)
	}
	return nil
}

// PutMessage writes the message under its (Created, ID) key and indexes the
// key by ID, dropping the old key of a message with the same ID. A tombstone
// of m.ID stays: see the layout at the top of this file.
func (t *boltTx) PutMessage(owner, other string, m MessageRecord) error {
	if err := t.check(); err != nil {
		return err
	}
	cb, msgs, ids, err := t.conv(owner, other)
	if err != nil {
		return err
	}
	if cb == nil {
		return ErrNotFound
	}
	wrap := func(err error) error {
		return fmt.Errorf("messaging: bolt: put message %d in %q/%q: %w", m.ID, owner, other, err)
	}
	idKey := binary.BigEndian.AppendUint64(nil, m.ID)
	mk := encodeMessageKey(m.Key())
	if old := ids.Get(idKey); old != nil && !bytes.Equal(old, mk) {
		t.wrote = true
		if err := msgs.Delete(bytes.Clone(old)); err != nil {
			return wrap(err)
		}
	}
	t.wrote = true
	if err := msgs.Put(mk, appendMessage(nil, m)); err != nil {
		return wrap(err)
	}
	if err := ids.Put(idKey, mk); err != nil {
		return wrap(err)
	}
	return nil
}

// DeleteMessage finds the message's key through the ID index, and puts the
// ID in the conversation's tombstones ("t", created on the first delete).
func (t *boltTx) DeleteMessage(owner, other string, id uint64) error {
	if err := t.check(); err != nil {
		return err
	}
	cb, msgs, ids, err := t.conv(owner, other)
	if err != nil {
		return err
	}
	idKey := binary.BigEndian.AppendUint64(nil, id)
	var mk []byte
	if ids != nil {
		mk = ids.Get(idKey)
	}
	if mk == nil {
		return ErrNotFound
	}
	mk = bytes.Clone(mk)
	t.wrote = true
	if err := msgs.Delete(mk); err != nil {
		return fmt.Errorf("messaging: bolt: delete message %d in %q/%q: %w", id, owner, other, err)
	}
	if err := ids.Delete(idKey); err != nil {
		return fmt.Errorf("messaging: bolt: delete message %d in %q/%q: %w", id, owner, other, err)
	}
	tombs, err := cb.CreateBucketIfNotExists(keyTombs)
	if err != nil {
		return fmt.Errorf("messaging: bolt: delete message %d in %q/%q: tombstones: %w", id, owner, other, err)
	}
	if err := tombs.Put(idKey, emptyValue); err != nil {
		return fmt.Errorf("messaging: bolt: delete message %d in %q/%q: tombstone: %w", id, owner, other, err)
	}
	return nil
}

// ---- structural check ----

// Check walks the whole file in one read transaction and reports every
// structural problem that the Store interface cannot show (Checker):
//
//   - an owner bucket without an inbox record, or without its "c" or "x"
//     bucket;
//   - an index ("x") entry without its conversation bucket, or at another
//     key than its conversation record's LastUpdate gives (a stale entry;
//     a conversation with several entries shows as its stale ones);
//   - a conversation without an index entry, without a record, or without
//     its "m" or "d" bucket;
//   - a message stored under a key other than its record's (Created, ID);
//   - a message without its "d" entry, a "d" entry naming a missing
//     message or the key of another ID, two keys in "m" for one ID;
//   - a tombstone for an ID that is also present;
//   - a record or key that does not decode, and anything where nothing
//     should be (a value where a bucket belongs, an unknown key);
//   - a meta sequence lower than a message or tombstone ID (NextID would
//     hand that ID out again).
//
// It does not check the messaging rules (counts, copies, read marks): that
// is Inboxes.Verify, which runs Check too.
//
// Check streams: it holds one record at a time, whatever the size of the
// file. Its cost is one pass over every key, plus one point lookup per
// message and per ID index entry, and it checks ctx every few thousand
// keys. Like any long read transaction, it keeps writers from reusing the
// pages it sees, and a commit that must grow the file waits for it to end.
// report is called inside that transaction, on Check's goroutine: it must
// not call the store. Check returns an error only if it could not finish the
// walk (ctx done, ErrClosed, an I/O error).
func (s *BoltStore) Check(ctx context.Context, report func(Problem)) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.active.Done()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("messaging: bolt: check: %w", err)
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := boltChecker{ctx: ctx, report: report}
		return c.file(tx)
	})
	if err != nil {
		return fmt.Errorf("messaging: bolt: check: %w", err)
	}
	return nil
}

// boltCheckTick is how many keys Check visits between two looks at ctx.
const boltCheckTick = 4096

// boltChecker is the state of one Check: where it reports, and the largest
// ID it has seen so far, to compare with the meta sequence at the end.
type boltChecker struct {
	ctx    context.Context
	report func(Problem)
	keys   int

	maxID          uint64
	maxOwner       string
	maxOther       string
	maxIsTombstone bool
}

func (c *boltChecker) tick() error {
	c.keys++
	if c.keys%boltCheckTick == 0 {
		return c.ctx.Err()
	}
	return nil
}

func (c *boltChecker) problem(owner, other string, id uint64, format string, args ...any) {
	c.report(Problem{Owner: owner, Other: other, MessageID: id, Detail: fmt.Sprintf(format, args...)})
}

func (c *boltChecker) sawID(owner, other string, id uint64, tombstone bool) {
	if id > c.maxID {
		c.maxID, c.maxOwner, c.maxOther, c.maxIsTombstone = id, owner, other, tombstone
	}
}

// what names a cursor entry for a report: a nested bucket has a nil value.
func what(v []byte) string {
	if v == nil {
		return "bucket"
	}
	return "key"
}

func (c *boltChecker) file(tx *bbolt.Tx) error {
	users := tx.Bucket(bucketUsers)
	if users == nil {
		c.problem("", "", 0, "the %q bucket is missing", bucketUsers)
	} else {
		cur := users.Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			if err := c.tick(); err != nil {
				return err
			}
			owner := string(k)
			if v != nil {
				c.problem(owner, "", 0, "a key, not an inbox bucket, in the %q bucket", bucketUsers)
				continue
			}
			if err := c.inbox(owner, users.Bucket(k)); err != nil {
				return err
			}
		}
	}
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		c.problem("", "", 0, "the %q bucket is missing", bucketMeta)
		return nil
	}
	if seq := meta.Sequence(); c.maxID > seq {
		kind := "message"
		if c.maxIsTombstone {
			kind = "tombstone"
		}
		c.problem(c.maxOwner, c.maxOther, c.maxID, "%s ID above the meta sequence %d: NextID would hand it out again", kind, seq)
	}
	return nil
}

// inbox checks one owner bucket and everything in it.
func (c *boltChecker) inbox(owner string, ob *bbolt.Bucket) error {
	var convs, index *bbolt.Bucket
	hasRecord := false
	cur := ob.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		switch {
		case bytes.Equal(k, keyInbox) && v != nil:
			hasRecord = true
			if _, err := decodeInbox(owner, v); err != nil {
				c.problem(owner, "", 0, "inbox record does not decode: %s", corruptDetail(err))
			}
		case bytes.Equal(k, keyConvs) && v == nil:
			convs = ob.Bucket(k)
		case bytes.Equal(k, keyIndex) && v == nil:
			index = ob.Bucket(k)
		default:
			c.problem(owner, "", 0, "unexpected %s %q in the inbox bucket", what(v), k)
		}
	}
	if !hasRecord {
		c.problem(owner, "", 0, "no inbox record")
	}
	if convs == nil {
		c.problem(owner, "", 0, "the conversations bucket %q is missing", keyConvs)
	}
	if index == nil {
		c.problem(owner, "", 0, "the conversation index bucket %q is missing", keyIndex)
	}
	if index != nil {
		if err := c.index(owner, index, convs); err != nil {
			return err
		}
	}
	if convs == nil {
		return nil
	}
	cur = convs.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		other := string(k)
		if v != nil {
			c.problem(owner, other, 0, "a key, not a conversation bucket, in the conversations bucket")
			continue
		}
		if err := c.conversation(owner, other, convs.Bucket(k), index); err != nil {
			return err
		}
	}
	return nil
}

// index checks every entry of owner's "x" bucket against the conversation
// it names (convs may be nil: then every entry is dangling). A conversation
// whose record is missing or does not decode is reported by conversation.
func (c *boltChecker) index(owner string, index, convs *bbolt.Bucket) error {
	cur := index.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		if v == nil {
			c.problem(owner, "", 0, "unexpected bucket %q in the conversation index", k)
			continue
		}
		ck, err := decodeConversationKey(k)
		if err != nil {
			c.problem(owner, "", 0, "conversation index key %x does not decode: %s", k, corruptDetail(err))
			continue
		}
		var cb *bbolt.Bucket
		if convs != nil {
			cb = convs.Bucket([]byte(ck.Other))
		}
		if cb == nil {
			c.problem(owner, ck.Other, 0, "index entry at %s without its conversation", fmtTime(ck.LastUpdate))
			continue
		}
		r := cb.Get(keyRecord)
		if r == nil {
			continue
		}
		rec, err := decodeConversation(owner, ck.Other, r)
		if err != nil {
			continue
		}
		if !bytes.Equal(encodeConversationKey(rec.Key()), k) {
			c.problem(owner, ck.Other, 0, "stale index entry at %s: the record's LastUpdate is %s",
				fmtTime(ck.LastUpdate), fmtTime(rec.LastUpdate))
		}
	}
	return nil
}

func fmtTime(t time.Time) string { return t.Format(time.RFC3339Nano) }

// conversation checks one conversation bucket: its record and index entry,
// and its messages, ID index and tombstones against each other.
func (c *boltChecker) conversation(owner, other string, cb, index *bbolt.Bucket) error {
	var msgs, ids, tombs *bbolt.Bucket
	hasRecord := false
	cur := cb.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		switch {
		case bytes.Equal(k, keyRecord) && v != nil:
			hasRecord = true
			rec, err := decodeConversation(owner, other, v)
			if err != nil {
				c.problem(owner, other, 0, "conversation record does not decode: %s", corruptDetail(err))
			} else if index != nil && index.Get(encodeConversationKey(rec.Key())) == nil {
				c.problem(owner, other, 0, "no index entry at its LastUpdate %s", fmtTime(rec.LastUpdate))
			}
		case bytes.Equal(k, keyMessages) && v == nil:
			msgs = cb.Bucket(k)
		case bytes.Equal(k, keyIDs) && v == nil:
			ids = cb.Bucket(k)
		case bytes.Equal(k, keyTombs) && v == nil:
			tombs = cb.Bucket(k)
		default:
			c.problem(owner, other, 0, "unexpected %s %q in the conversation bucket", what(v), k)
		}
	}
	if !hasRecord {
		c.problem(owner, other, 0, "no conversation record")
	}
	if msgs == nil {
		c.problem(owner, other, 0, "the messages bucket %q is missing", keyMessages)
	}
	if ids == nil {
		c.problem(owner, other, 0, "the ID index bucket %q is missing", keyIDs)
	}
	if msgs != nil {
		if err := c.messages(owner, other, msgs, ids); err != nil {
			return err
		}
	}
	if ids != nil {
		if err := c.ids(owner, other, ids, msgs); err != nil {
			return err
		}
	}
	if tombs != nil {
		if err := c.tombstones(owner, other, tombs, ids); err != nil {
			return err
		}
	}
	return nil
}

// messages checks every entry of "m": key and record decode and agree, and
// the ID index names this very key (ids may be nil).
func (c *boltChecker) messages(owner, other string, msgs, ids *bbolt.Bucket) error {
	cur := msgs.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		if v == nil {
			c.problem(owner, other, 0, "unexpected bucket %q in the messages bucket", k)
			continue
		}
		mk, kerr := decodeMessageKey(k)
		m, verr := decodeMessage(v)
		var id uint64
		switch {
		case kerr == nil:
			id = mk.ID
		case verr == nil:
			id = m.ID
		}
		if kerr != nil {
			c.problem(owner, other, id, "message key %x does not decode: %s", k, corruptDetail(kerr))
		} else {
			c.sawID(owner, other, mk.ID, false)
		}
		if verr != nil {
			c.problem(owner, other, id, "message record does not decode: %s", corruptDetail(verr))
		} else {
			c.sawID(owner, other, m.ID, false)
		}
		if kerr == nil && verr == nil && mk.Compare(m.Key()) != 0 {
			c.problem(owner, other, id, "stored under the key of (%s, %d), its record says (%s, %d)",
				fmtTime(mk.Created), mk.ID, fmtTime(m.Created), m.ID)
		}
		if kerr != nil || ids == nil {
			continue
		}
		switch ik := ids.Get(binary.BigEndian.AppendUint64(nil, mk.ID)); {
		case ik == nil:
			c.problem(owner, other, id, "not in the ID index")
		case !bytes.Equal(ik, k):
			c.problem(owner, other, id, "not in the ID index, which names another key for its ID")
		}
	}
	return nil
}

// ids checks every entry of "d": it decodes and names the key of its own ID,
// present in "m" (msgs may be nil).
func (c *boltChecker) ids(owner, other string, ids, msgs *bbolt.Bucket) error {
	cur := ids.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		if v == nil {
			c.problem(owner, other, 0, "unexpected bucket %q in the ID index", k)
			continue
		}
		if len(k) != 8 {
			c.problem(owner, other, 0, "ID index key %x does not decode: not 8 bytes", k)
			continue
		}
		id := binary.BigEndian.Uint64(k)
		c.sawID(owner, other, id, false)
		mk, err := decodeMessageKey(v)
		switch {
		case err != nil:
			c.problem(owner, other, id, "ID index entry does not decode: %s", corruptDetail(err))
		case mk.ID != id:
			c.problem(owner, other, id, "ID index entry names the key of message %d", mk.ID)
		case msgs != nil && msgs.Get(v) == nil:
			c.problem(owner, other, id, "ID index entry names a missing message (%s, %d)", fmtTime(mk.Created), mk.ID)
		}
	}
	return nil
}

// tombstones checks every entry of "t": an 8-byte ID, an empty value, and
// no message with that ID in the ID index (ids may be nil).
func (c *boltChecker) tombstones(owner, other string, tombs, ids *bbolt.Bucket) error {
	cur := tombs.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		if v == nil {
			c.problem(owner, other, 0, "unexpected bucket %q in the tombstones", k)
			continue
		}
		if len(k) != 8 {
			c.problem(owner, other, 0, "tombstone key %x does not decode: not 8 bytes", k)
			continue
		}
		id := binary.BigEndian.Uint64(k)
		c.sawID(owner, other, id, true)
		if len(v) != 0 {
			c.problem(owner, other, id, "tombstone with a %d-byte value", len(v))
		}
		if ids != nil && ids.Get(k) != nil {
			c.problem(owner, other, id, "deleted (it has a tombstone) but present")
		}
	}
	return nil
}

// ---- key encoding ----

// The encodings themselves live in internal/keys; these adapt them to the
// record types and turn what does not decode into a corrupt-store error.

const timeLen = keys.TimeLen

// getTime decodes b[:timeLen], in UTC.
func getTime(b []byte) (time.Time, error) {
	t, err := keys.GetTime(b)
	if err != nil {
		return time.Time{}, corrupt("%v", err)
	}
	return t, nil
}

// encodeMessageKey returns the key of a message in its "m" bucket: byte
// order is MessageKey order.
func encodeMessageKey(k MessageKey) []byte { return keys.Message(k.Created, k.ID) }

func decodeMessageKey(b []byte) (MessageKey, error) {
	created, id, err := keys.ParseMessage(b)
	if err != nil {
		return MessageKey{}, corrupt("%v", err)
	}
	return MessageKey{Created: created, ID: id}, nil
}

// encodeConversationKey returns the key of a conversation in its owner's
// "x" bucket: byte order is ConversationKey order.
func encodeConversationKey(k ConversationKey) []byte { return keys.Conversation(k.LastUpdate, k.Other) }

func decodeConversationKey(b []byte) (ConversationKey, error) {
	lastUpdate, other, err := keys.ParseConversation(b)
	if err != nil {
		return ConversationKey{}, corrupt("%v", err)
	}
	return ConversationKey{LastUpdate: lastUpdate, Other: other}, nil
}

// ---- record encoding ----

const recordVersion = 1

func appendInt(b []byte, v int) []byte { return binary.BigEndian.AppendUint64(b, uint64(int64(v))) }

func appendTime(b []byte, t time.Time) []byte {
	n := len(b)
	b = append(b, make([]byte, timeLen)...)
	keys.PutTime(b[n:], t)
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func encodeInbox(rec InboxRecord) []byte {
	return appendInt([]byte{recordVersion}, rec.Unread)
}

func encodeConversation(rec ConversationRecord) []byte {
	b := make([]byte, 0, 112+len(rec.Last.Sender)+len(rec.Last.Recipient)+len(rec.Last.Text))
	b = append(b, recordVersion)
	b = appendInt(b, rec.Messages)
	b = appendInt(b, rec.Unread)
	b = appendTime(b, rec.LastUpdate)
	b = binary.BigEndian.AppendUint64(b, rec.FirstID)
	b = binary.BigEndian.AppendUint64(b, rec.MaxID)
	b = binary.BigEndian.AppendUint64(b, rec.ReadMark)
	b = binary.BigEndian.AppendUint64(b, rec.PeerReadMark)
	return appendMessageBody(b, rec.Last)
}

// appendMessage appends the message record encoding of m to b.
func appendMessage(b []byte, m MessageRecord) []byte {
	return appendMessageBody(append(b, recordVersion), m)
}

func appendMessageBody(b []byte, m MessageRecord) []byte {
	b = binary.BigEndian.AppendUint64(b, m.ID)
	b = appendTime(b, m.Created)
	b = appendString(b, m.Sender)
	b = appendString(b, m.Recipient)
	return appendString(b, m.Text)
}

// decoder reads a record. The first failure sticks; every value read after
// it is zero. It copies what it returns out of the bbolt page.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = corrupt("record truncated")
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) version() {
	if p := d.take(1); p != nil && p[0] != recordVersion {
		d.err = corrupt("record version %d", p[0])
	}
}

func (d *decoder) uint64() uint64 {
	if p := d.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) int() int {
	v := int64(d.uint64())
	if int64(int(v)) != v && d.err == nil {
		d.err = corrupt("count %d out of range", v)
	}
	return int(v)
}

func (d *decoder) time() time.Time {
	p := d.take(timeLen)
	if p == nil {
		return time.Time{}
	}
	t, err := getTime(p)
	if err != nil {
		d.err = err
	}
	return t
}

func (d *decoder) string() string {
	if d.err != nil {
		return ""
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)-k) {
		d.err = corrupt("bad string length")
		return ""
	}
	d.b = d.b[k:]
	return string(d.take(int(n))) // string() copies out of the page
}

func (d *decoder) messageBody() MessageRecord {
	var m MessageRecord
	m.ID = d.uint64()
	m.Created = d.time()
	m.Sender = d.string()
	m.Recipient = d.string()
	m.Text = d.string()
	return m
}

// finish reports the first failure, or trailing bytes.
// finish reports a decoding error, or trailing bytes, with what names the
// record; what is formatted only then, since decoding runs on every read.
func (d *decoder) finish(what string, args ...any) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = corrupt("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("%s: %w", fmt.Sprintf(what, args...), d.err)
	}
	return nil
}

func decodeInbox(owner string, b []byte) (InboxRecord, error) {
	if b == nil {
		return InboxRecord{}, fmt.Errorf("inbox %q: %w", owner, corrupt("record missing"))
	}
	d := decoder{b: b}
	d.version()
	rec := InboxRecord{Owner: owner, Unread: d.int()}
	if err := d.finish("inbox %q", owner); err != nil {
		return InboxRecord{}, err
	}
	return rec, nil
}

func decodeConversation(owner, other string, b []byte) (ConversationRecord, error) {
	if b == nil {
		return ConversationRecord{}, fmt.Errorf("conversation %q/%q: %w", owner, other, corrupt("record missing"))
	}
	d := decoder{b: b}
	d.version()
	rec := ConversationRecord{Owner: owner, Other: other}
	rec.Messages = d.int()
	rec.Unread = d.int()
	rec.LastUpdate = d.time()
	rec.FirstID = d.uint64()
	rec.MaxID = d.uint64()
	rec.ReadMark = d.uint64()
	rec.PeerReadMark = d.uint64()
	rec.Last = d.messageBody()
	if err := d.finish("conversation %q/%q", owner, other); err != nil {
		return ConversationRecord{}, err
	}
	return rec, nil
}

func decodeMessage(b []byte) (MessageRecord, error) {
	d := decoder{b: b}
	d.version()
	m := d.messageBody()
	if err := d.finish("message"); err != nil {
		return MessageRecord{}, err
	}
	return m, nil
}
