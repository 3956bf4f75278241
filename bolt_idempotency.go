package messaging

// This file holds the idempotency records of a BoltStore: records under
// Pair(sender, key) in "messaging.idempotency", and their Expires order in
// "messaging.idempotency.expiry" (see the layout on boltFormatVersion).

import (
	"bytes"
	"time"

	"github.com/socialkit/messaging/internal/keys"
)

// Idempotency reads the record of (sender, key).
func (t *boltReadTx) Idempotency(sender, key string) (IdempotencyRecord, error) {
	if err := t.usable(); err != nil {
		return IdempotencyRecord{}, err
	}
	v := t.idem.get(keys.Pair(sender, key))
	if v == nil {
		return IdempotencyRecord{}, ErrNotFound
	}
	return decodeIdempotency(sender, key, v)
}

// Idempotencies walks the records from a Seek past after.
func (t *boltReadTx) Idempotencies(after IdempotencyRecord, limit int) ([]IdempotencyRecord, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	if limit <= 0 || !t.idem.exists() {
		return nil, nil
	}
	c := t.idem.cursor()
	ak := keys.Pair(after.Sender, after.Key)
	k, v := c.Seek(ak)
	if bytes.Equal(k, ak) {
		k, v = c.Next()
	}
	var out []IdempotencyRecord
	for ; k != nil && len(out) < limit; k, v = c.Next() {
		sender, key, err := keys.ParsePair(k)
		if err != nil {
			return nil, corrupt("bolt: idempotency record: %s", err)
		}
		rec, err := decodeIdempotency(sender, key, v)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// expiryKey is the key of rec in the Expires order.
func expiryKey(rec IdempotencyRecord) []byte {
	return append(keys.Time(rec.Expires), keys.Pair(rec.Sender, rec.Key)...)
}

// PutIdempotency writes the record and moves its entry in the Expires
// order.
func (t *boltTx) PutIdempotency(rec IdempotencyRecord) error {
	if err := t.usable(); err != nil {
		return err
	}
	k := keys.Pair(rec.Sender, rec.Key)
	var old *IdempotencyRecord
	if v := t.idem.get(k); v != nil {
		o, err := decodeIdempotency(rec.Sender, rec.Key, v)
		if err != nil {
			return err
		}
		old = &o
	}
	w, err := t.write()
	if err != nil {
		return err
	}
	if old != nil {
		if err := w.delete(t.expiry, expiryKey(*old)); err != nil {
			return wrapf(err, "bolt: put idempotency key %q of %q", rec.Key, rec.Sender)
		}
	}
	if err := w.put(t.idem, k, encodeIdempotency(rec)); err != nil {
		return wrapf(err, "bolt: put idempotency key %q of %q", rec.Key, rec.Sender)
	}
	return wrapf(w.put(t.expiry, expiryKey(rec), emptyValue), "bolt: put idempotency key %q of %q", rec.Key, rec.Sender)
}

// DeleteIdempotencies walks the Expires order from its start.
func (t *boltTx) DeleteIdempotencies(before time.Time, limit int) (int, error) {
	if err := t.usable(); err != nil {
		return 0, err
	}
	if limit <= 0 || !t.expiry.exists() {
		return 0, nil
	}
	end := keys.Time(before)
	var expired [][]byte
	c := t.expiry.cursor()
	for k, _ := c.First(); k != nil && len(expired) < limit && bytes.Compare(k[:min(len(k), timeLen)], end) < 0; k, _ = c.Next() {
		expired = append(expired, bytes.Clone(k))
	}
	if len(expired) == 0 {
		return 0, nil
	}
	w, err := t.write()
	if err != nil {
		return 0, err
	}
	for _, k := range expired {
		if len(k) <= timeLen {
			return 0, corrupt("bolt: idempotency expiry key of %d bytes", len(k))
		}
		if err := w.delete(t.idem, k[timeLen:]); err != nil {
			return 0, wrapf(err, "bolt: delete idempotency records")
		}
		if err := w.delete(t.expiry, k); err != nil {
			return 0, wrapf(err, "bolt: delete idempotency records")
		}
	}
	return len(expired), nil
}
