package messaging

import (
	"bytes"
	"math"

	"github.com/socialkit/messaging/internal/keys"
)

// A BoltStore's ReadTx is a Scanner: one walk of an inbox's "c" bucket
// instead of a View per conversation, for Copy and Count.

var _ Scanner = (*boltReadTx)(nil)

// ScanMessages walks the conversation buckets of owner from after.Other,
// and the "m" bucket of each.
func (t *boltReadTx) ScanMessages(owner string, after *MessageEntry, limit int) ([]MessageEntry, error) {
	var out []MessageEntry
	err := t.scan(owner, after != nil, entryOther(after), func(other []byte, cb roBucket, first bool) (bool, error) {
		msgs := cb.bucket(keyMessages)
		if !msgs.exists() {
			return false, corrupt("bolt: conversation %q/%q lacks its buckets", owner, other)
		}
		c := msgs.cursor()
		k, v := c.First()
		if first {
			ak := encodeMessageKey(after.Key())
			if k, v = c.Seek(ak); k != nil && bytes.Equal(k, ak) {
				k, v = c.Next()
			}
		}
		for ; k != nil; k, v = c.Next() {
			if len(out) == limit {
				return true, nil
			}
			m, err := decodeMessage(v)
			if err != nil {
				return false, wrapf(err, "bolt: message in %q/%q", owner, other)
			}
			out = append(out, MessageEntry{Owner: owner, Other: string(other), MessageRecord: m})
		}
		return len(out) == limit, nil
	}, limit)
	return out, err
}

// ScanTombstones walks the conversation buckets of owner from after.Other,
// and the "t" bucket of each that has one.
func (t *boltReadTx) ScanTombstones(owner string, after *TombstoneEntry, limit int) ([]TombstoneEntry, error) {
	var out []TombstoneEntry
	var afterOther string
	if after != nil {
		afterOther = after.Other
	}
	err := t.scan(owner, after != nil, afterOther, func(other []byte, cb roBucket, first bool) (bool, error) {
		tombs := cb.bucket(keyTombs)
		if !tombs.exists() {
			return false, nil
		}
		c := tombs.cursor()
		k, v := c.First()
		if first {
			if after.ID == math.MaxUint64 {
				return false, nil
			}
			k, v = c.Seek(keys.ID(after.ID + 1))
		}
		for ; k != nil; k, v = c.Next() {
			if len(out) == limit {
				return true, nil
			}
			tomb, err := decodeTombstone(k, v)
			if err != nil {
				return false, wrapf(err, "bolt: tombstone in %q/%q", owner, other)
			}
			out = append(out, TombstoneEntry{Owner: owner, Other: string(other), Tombstone: tomb})
		}
		return len(out) == limit, nil
	}, limit)
	return out, err
}

func entryOther(e *MessageEntry) string {
	if e == nil {
		return ""
	}
	return e.Other
}

// scan calls each for owner's conversations in byte order of their other
// user, from afterOther when from is set (first is set for that
// conversation if it exists, whose entries each must start after the
// position it was given), until each reports it is full.
func (t *boltReadTx) scan(owner string, from bool, afterOther string, each func(other []byte, cb roBucket, first bool) (full bool, err error), limit int) error {
	if err := t.usable(); err != nil {
		return err
	}
	if limit <= 0 {
		return nil
	}
	_, convs, _, err := t.owner(owner)
	if !convs.exists() {
		return err
	}
	c := convs.cursor()
	k, _ := c.First()
	if from {
		k, _ = c.Seek([]byte(afterOther))
	}
	for ; k != nil; k, _ = c.Next() {
		full, err := each(k, convs.bucket(k), from && string(k) == afterOther)
		if err != nil || full {
			return err
		}
	}
	return nil
}
