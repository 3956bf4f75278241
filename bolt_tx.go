package messaging

// This file holds the transactions a BoltStore hands out: boltReadTx (the
// ReadTx of View) and boltTx (the Tx of one function in a group commit).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"go.etcd.io/bbolt"
)

// errTxDone is returned by a ReadTx or Tx used after its function returned.
var errTxDone = errors.New("messaging: bolt: transaction used after its function returned")

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

// usable returns errTxDone once the function the transaction was handed to
// has returned: bbolt's own transaction may be gone, or serve another
// function of the group.
func (t *boltReadTx) usable() error {
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
	if err := t.usable(); err != nil {
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
	if err := t.usable(); err != nil {
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
	if err := t.usable(); err != nil {
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
	if err := t.usable(); err != nil {
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
	if err := t.usable(); err != nil {
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
	if err := t.usable(); err != nil {
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
	if err := t.usable(); err != nil {
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
	if err := t.usable(); err != nil {
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
	if t.usable() == nil {
		t.onCommit = append(t.onCommit, f)
	}
}

// NextID takes the next value of the meta bucket's sequence.
func (t *boltTx) NextID() (uint64, error) {
	if err := t.usable(); err != nil {
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
	if err := t.usable(); err != nil {
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
	if err := t.usable(); err != nil {
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
	if err := t.usable(); err != nil {
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
	if err := t.usable(); err != nil {
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
	if err := t.usable(); err != nil {
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
	if err := t.usable(); err != nil {
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
