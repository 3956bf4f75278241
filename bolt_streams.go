package messaging

// This file holds the event streams of a BoltStore: a bucket per user in
// "messaging.streams", keyed by Seq (see the layout on boltFormatVersion).

import (
	"bytes"
	"math"

	"github.com/socialkit/messaging/internal/keys"
)

// StreamBounds reads the first and last keys of user's stream.
func (t *boltReadTx) StreamBounds(user string) (first, last uint64, err error) {
	if err := t.usable(); err != nil {
		return 0, 0, err
	}
	sb := t.streams.bucket([]byte(user))
	if !sb.exists() {
		return 0, 0, nil
	}
	c := sb.cursor()
	fk, _ := c.First()
	lk, _ := c.Last()
	if fk == nil {
		return 0, 0, nil
	}
	if first, err = keys.ParseID(fk); err == nil {
		last, err = keys.ParseID(lk)
	}
	if err != nil {
		return 0, 0, corrupt("bolt: stream of %q: %s", user, err)
	}
	return first, last, nil
}

// Events walks user's stream from a Seek past after.
func (t *boltReadTx) Events(user string, after uint64, limit int) ([]EventRecord, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	sb := t.streams.bucket([]byte(user))
	if limit <= 0 || !sb.exists() || after == math.MaxUint64 {
		return nil, nil
	}
	var out []EventRecord
	c := sb.cursor()
	for k, v := c.Seek(keys.ID(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
		seq, err := keys.ParseID(k)
		if err != nil {
			return nil, corrupt("bolt: stream of %q: %s", user, err)
		}
		out = append(out, EventRecord{User: user, Seq: seq, Data: bytes.Clone(v)})
	}
	return out, nil
}

// Streams walks the names of the stream buckets.
func (t *boltReadTx) Streams(after string, limit int) ([]string, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	if limit <= 0 || !t.streams.exists() {
		return nil, nil
	}
	return t.streams.keysAfter(after, limit), nil
}

// PutEvent writes the event into user's bucket, created on first use.
func (t *boltTx) PutEvent(rec EventRecord) error {
	w, err := t.write()
	if err != nil {
		return err
	}
	sb, err := w.createBucketIfNotExists(t.streams, []byte(rec.User))
	if err == nil {
		err = w.put(sb, keys.ID(rec.Seq), rec.Data)
	}
	return wrapf(err, "bolt: put event %d of %q", rec.Seq, rec.User)
}

// DeleteEvents deletes from the start of user's bucket, and the bucket
// once it is empty, so that Streams lists only streams with events.
func (t *boltTx) DeleteEvents(user string, upTo uint64) error {
	if err := t.usable(); err != nil {
		return err
	}
	sb := t.streams.bucket([]byte(user))
	if !sb.exists() {
		return nil
	}
	var gone [][]byte
	c := sb.cursor()
	k, _ := c.First()
	for ; k != nil; k, _ = c.Next() {
		seq, err := keys.ParseID(k)
		if err != nil {
			return corrupt("bolt: stream of %q: %s", user, err)
		}
		if seq > upTo {
			break
		}
		gone = append(gone, bytes.Clone(k))
	}
	if len(gone) == 0 {
		return nil
	}
	w, err := t.write()
	if err != nil {
		return err
	}
	if k == nil { // all of them
		return wrapf(w.deleteBucket(t.streams, []byte(user)), "bolt: delete events of %q", user)
	}
	for _, k := range gone {
		if err := w.delete(sb, k); err != nil {
			return wrapf(err, "bolt: delete events of %q", user)
		}
	}
	return nil
}
