package messaging

// This file holds the write guard of the bolt transactions: the one way a
// boltTx can change the file, which marks its function as having written
// first.

import "go.etcd.io/bbolt"

// Why a guard: the functions of a group commit share one bbolt transaction.
// A function that fails after writing must have the transaction rolled back
// (and the group re-run without it); one that fails without writing lets the
// group go on. If a write could happen without the function being marked as
// having written, a failed function's partial writes would commit with the
// rest of its group, silently and only under concurrency.
//
// So the transactions never hold a *bbolt.Bucket. They read through
// roBucket, which has no method that changes anything, and every change goes
// through a writer, which only boltTx.write hands out, after setting
// boltTx.wrote. A new write method that forgets the mark does not compile.
// Nothing outside this file reaches the *bbolt.Bucket inside a roBucket.

// roBucket is a read-only view of a bbolt bucket, or of a missing one (the
// zero value): reads in a missing bucket find nothing.
type roBucket struct{ b *bbolt.Bucket }

// readOnly wraps a bucket of tx; name is one of the root buckets.
func readOnly(tx *bbolt.Tx, name []byte) roBucket { return roBucket{tx.Bucket(name)} }

func (r roBucket) exists() bool { return r.b != nil }

// sequence returns the bucket's sequence (0 for a missing bucket).
func (r roBucket) sequence() uint64 {
	if r.b == nil {
		return 0
	}
	return r.b.Sequence()
}

// get returns the value of key, nil if there is none or key names a nested
// bucket. The value lives in the bbolt page: copy it before the transaction
// ends.
func (r roBucket) get(key []byte) []byte {
	if r.b == nil {
		return nil
	}
	return r.b.Get(key)
}

// bucket returns the nested bucket name, missing if there is none.
func (r roBucket) bucket(name []byte) roBucket {
	if r.b == nil {
		return roBucket{}
	}
	return roBucket{r.b.Bucket(name)}
}

// cursor returns a cursor over r, which must exist.
func (r roBucket) cursor() roCursor { return roCursor{r.b.Cursor()} }

// keysAfter lists up to limit keys of r that sort after after, as
// strings: the names of users and of streams. r must exist.
func (r roBucket) keysAfter(after string, limit int) []string {
	c := r.cursor()
	k, _ := c.Seek([]byte(after)) // "" seeks to the first key
	if k != nil && string(k) == after {
		k, _ = c.Next()
	}
	var out []string
	for ; k != nil && len(out) < limit; k, _ = c.Next() {
		out = append(out, string(k))
	}
	return out
}

// roCursor is a bbolt cursor without Delete. Its methods are bbolt's.
type roCursor struct{ c *bbolt.Cursor }

func (c roCursor) First() (k, v []byte)           { return c.c.First() }
func (c roCursor) Last() (k, v []byte)            { return c.c.Last() }
func (c roCursor) Next() (k, v []byte)            { return c.c.Next() }
func (c roCursor) Prev() (k, v []byte)            { return c.c.Prev() }
func (c roCursor) Seek(seek []byte) (k, v []byte) { return c.c.Seek(seek) }

// write is the guard every change to the file passes through. It refuses a
// transaction whose function has returned (errTxDone), and otherwise marks
// the function as having written before handing out the writer. Call it
// after the last check that refuses the operation without changing
// anything (ErrNotFound), so that such a refusal lets the group go on.
func (t *boltTx) write() (writer, error) {
	if err := t.usable(); err != nil {
		return writer{}, err
	}
	t.wrote = true
	return writer{ok: true}, nil
}

// writer makes the changes of one Tx method. Only boltTx.write makes a
// usable one; the zero writer panics, so that a writer conjured without the
// guard fails every test that reaches it.
type writer struct{ ok bool }

func (w writer) bbolt(b roBucket) *bbolt.Bucket {
	if !w.ok {
		panic("messaging: bolt: write without boltTx.write")
	}
	return b.b
}

func (w writer) put(b roBucket, key, value []byte) error { return w.bbolt(b).Put(key, value) }

func (w writer) delete(b roBucket, key []byte) error { return w.bbolt(b).Delete(key) }

func (w writer) createBucket(b roBucket, name []byte) (roBucket, error) {
	nb, err := w.bbolt(b).CreateBucket(name)
	return roBucket{nb}, err
}

func (w writer) createBucketIfNotExists(b roBucket, name []byte) (roBucket, error) {
	nb, err := w.bbolt(b).CreateBucketIfNotExists(name)
	return roBucket{nb}, err
}

func (w writer) deleteBucket(b roBucket, name []byte) error { return w.bbolt(b).DeleteBucket(name) }

func (w writer) nextSequence(b roBucket) (uint64, error) { return w.bbolt(b).NextSequence() }

func (w writer) setSequence(b roBucket, v uint64) error { return w.bbolt(b).SetSequence(v) }
