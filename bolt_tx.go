package messaging

// This file holds the transactions a BoltStore hands out: boltReadTx (the
// ReadTx of View) and boltTx (the Tx of one function in a group commit).

import (
	"bytes"
	"errors"
	"math"

	"github.com/socialkit/messaging/internal/keys"
	"go.etcd.io/bbolt"
)

// errTxDone is returned by a ReadTx or Tx used after its function returned.
var errTxDone = errors.New("messaging: bolt: transaction used after its function returned")

// boltReadTx is the ReadTx of View, and the read half of boltTx. It reads
// through roBucket only (see bolt_guard.go).
type boltReadTx struct {
	users   roBucket // "messaging.users"
	blocks  roBucket // "messaging.blocks"
	idem    roBucket // "messaging.idempotency"
	expiry  roBucket // "messaging.idempotency.expiry"
	streams roBucket // "messaging.streams"
	ended   bool
}

var _ ReadTx = (*boltReadTx)(nil)

func newBoltReadTx(tx *bbolt.Tx) (*boltReadTx, error) {
	t := &boltReadTx{}
	if err := t.bind(tx); err != nil {
		return nil, err
	}
	return t, nil
}

// bind finds the users bucket in tx.
func (t *boltReadTx) bind(tx *bbolt.Tx) error {
	t.users = readOnly(tx, bucketUsers)
	if !t.users.exists() {
		return corrupt("bolt: the %q bucket is missing", bucketUsers)
	}
	// Missing in a format 1 file opened read-only: they read as empty.
	t.blocks = readOnly(tx, bucketBlocks)
	t.idem = readOnly(tx, bucketIdempotency)
	t.expiry = readOnly(tx, bucketIdemExpiry)
	t.streams = readOnly(tx, bucketStreams)
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

// owner returns owner's buckets, all missing if owner has no inbox.
func (t *boltReadTx) owner(owner string) (ob, convs, index roBucket, err error) {
	ob = t.users.bucket([]byte(owner))
	if !ob.exists() {
		return roBucket{}, roBucket{}, roBucket{}, nil
	}
	convs, index = ob.bucket(keyConvs), ob.bucket(keyIndex)
	if !convs.exists() || !index.exists() {
		return roBucket{}, roBucket{}, roBucket{}, corrupt("bolt: inbox %q lacks its buckets", owner)
	}
	return ob, convs, index, nil
}

// conv returns the buckets of owner's conversation with other, all missing
// if there is no such conversation.
func (t *boltReadTx) conv(owner, other string) (cb, msgs, ids roBucket, err error) {
	_, convs, _, err := t.owner(owner)
	if !convs.exists() {
		return roBucket{}, roBucket{}, roBucket{}, err
	}
	cb = convs.bucket([]byte(other))
	if !cb.exists() {
		return roBucket{}, roBucket{}, roBucket{}, nil
	}
	msgs, ids = cb.bucket(keyMessages), cb.bucket(keyIDs)
	if !msgs.exists() || !ids.exists() {
		return roBucket{}, roBucket{}, roBucket{}, corrupt("bolt: conversation %q/%q lacks its buckets", owner, other)
	}
	return cb, msgs, ids, nil
}

// Inbox returns a copy of owner's inbox record, or ErrNotFound.
func (t *boltReadTx) Inbox(owner string) (InboxRecord, error) {
	if err := t.usable(); err != nil {
		return InboxRecord{}, err
	}
	ob := t.users.bucket([]byte(owner))
	if !ob.exists() {
		return InboxRecord{}, ErrNotFound
	}
	return decodeInbox(owner, ob.get(keyInbox))
}

// Users walks the users bucket from a Seek to after.
func (t *boltReadTx) Users(after string, limit int) ([]string, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	return t.users.keysAfter(after, limit), nil
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
	if !cb.exists() {
		return ConversationRecord{}, ErrNotFound
	}
	return decodeConversation(owner, other, cb.get(keyRecord))
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
	if !convs.exists() {
		return nil, err
	}
	c := index.cursor()
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
			return nil, corrupt("bolt: inbox %q: short index key", owner)
		}
		other := k[timeLen:]
		cb := convs.bucket(other)
		if !cb.exists() {
			return nil, corrupt("bolt: inbox %q: index names missing conversation %q", owner, other)
		}
		rec, err := decodeConversation(owner, string(other), cb.get(keyRecord))
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
	mk := ids.get(keys.ID(id))
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
	if !msgs.exists() {
		return nil, err
	}
	c := msgs.cursor()
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
	if !msgs.exists() {
		return nil, err
	}
	c := ids.cursor()
	var out []MessageRecord
	for k, mk := c.Seek(keys.ID(afterID + 1)); k != nil && len(out) < limit; k, mk = c.Next() {
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
	if err != nil {
		return false, err
	}
	// In a missing conversation, or one without tombstones, "t" is missing
	// and finds nothing.
	return cb.bucket(keyTombs).get(keys.ID(id)) != nil, nil
}

// Tombstones walks the conversation's "t" bucket from a Seek past afterID.
func (t *boltReadTx) Tombstones(owner, other string, afterID uint64, limit int) ([]Tombstone, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	cb, _, _, err := t.conv(owner, other)
	tombs := cb.bucket(keyTombs)
	if err != nil || !tombs.exists() || limit <= 0 || afterID == math.MaxUint64 {
		return nil, err
	}
	var out []Tombstone
	c := tombs.cursor()
	for k, v := c.Seek(keys.ID(afterID + 1)); k != nil && len(out) < limit; k, v = c.Next() {
		tomb, err := decodeTombstone(k, v)
		if err != nil {
			return nil, wrapf(err, "bolt: tombstone in %q/%q", owner, other)
		}
		out = append(out, tomb)
	}
	return out, nil
}

func decodeTombstone(k, v []byte) (Tombstone, error) {
	id, err := keys.ParseID(k)
	switch {
	case err != nil:
		return Tombstone{}, corrupt("%s", err)
	case len(v) == 0:
		return Tombstone{ID: id}, nil
	case bytes.Equal(v, tombRetracted):
		return Tombstone{ID: id, Retracted: true}, nil
	}
	return Tombstone{}, corrupt("value %x", v)
}

func tombstoneValue(tomb Tombstone) []byte {
	if tomb.Retracted {
		return tombRetracted
	}
	return emptyValue
}

func getMessage(msgs roBucket, mk []byte) (MessageRecord, error) {
	v := msgs.get(mk)
	if v == nil {
		return MessageRecord{}, corrupt("bolt: ID index names a missing message")
	}
	return decodeMessage(v)
}

// boltTx is the Tx of one function in a group commit. wrote records whether
// the function changed anything in the shared bbolt transaction: if it then
// fails, the transaction must be rolled back; if it did not, the group goes
// on. Only write sets it, and every change goes through write (see
// bolt_guard.go).
type boltTx struct {
	boltReadTx
	meta     roBucket // "messaging.meta"
	wrote    bool
	onCommit []func()
}

var _ Tx = (*boltTx)(nil)

// run binds t to tx, calls fn with t, recovering a panic, and ends t.
func (t *boltTx) run(tx *bbolt.Tx, fn func(Tx) error) (pv any, panicked bool, err error) {
	defer t.end()
	if err := t.bind(tx); err != nil {
		return nil, false, err
	}
	t.meta = readOnly(tx, bucketMeta)
	if !t.meta.exists() {
		return nil, false, corrupt("bolt: the %q bucket is missing", bucketMeta)
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
	w, err := t.write()
	if err != nil {
		return 0, err
	}
	id, err := w.nextSequence(t.meta)
	if err != nil {
		return 0, wrapf(err, "bolt: next id")
	}
	return id, nil
}

// AdvanceID raises the meta bucket's sequence to id.
func (t *boltTx) AdvanceID(id uint64) error {
	if err := t.usable(); err != nil {
		return err
	}
	if t.meta.sequence() >= id {
		return nil
	}
	w, err := t.write()
	if err != nil {
		return err
	}
	return wrapf(w.setSequence(t.meta, id), "bolt: advance id to %d", id)
}

// PutTombstone writes the tombstone into "t", created on first use.
func (t *boltTx) PutTombstone(owner, other string, tomb Tombstone) error {
	if err := t.usable(); err != nil {
		return err
	}
	cb, _, _, err := t.conv(owner, other)
	if err != nil {
		return err
	}
	if !cb.exists() {
		return ErrNotFound
	}
	w, err := t.write()
	if err != nil {
		return err
	}
	tombs, err := w.createBucketIfNotExists(cb, keyTombs)
	if err == nil {
		err = w.put(tombs, keys.ID(tomb.ID), tombstoneValue(tomb))
	}
	return wrapf(err, "bolt: put tombstone %d in %q/%q", tomb.ID, owner, other)
}

// PutInbox creates the owner bucket with its nested buckets on first use.
func (t *boltTx) PutInbox(rec InboxRecord) error {
	w, err := t.write()
	if err != nil {
		return err
	}
	wrap := func(err error) error {
		return wrapf(err, "bolt: put inbox %q", rec.Owner)
	}
	key := []byte(rec.Owner)
	ob := t.users.bucket(key)
	if !ob.exists() {
		if ob, err = w.createBucket(t.users, key); err != nil {
			return wrap(err)
		}
		for _, name := range [][]byte{keyConvs, keyIndex} {
			if _, err := w.createBucket(ob, name); err != nil {
				return wrap(err)
			}
		}
	}
	if err := w.put(ob, keyInbox, encodeInbox(rec)); err != nil {
		return wrap(err)
	}
	return nil
}

// DeleteInbox deletes the owner bucket, and with it everything nested.
func (t *boltTx) DeleteInbox(owner string) error {
	if err := t.usable(); err != nil {
		return err
	}
	key := []byte(owner)
	if !t.users.bucket(key).exists() {
		return ErrNotFound
	}
	w, err := t.write()
	if err != nil {
		return err
	}
	if err := w.deleteBucket(t.users, key); err != nil {
		return wrapf(err, "bolt: delete inbox %q", owner)
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
	if !convs.exists() {
		return ErrNotFound
	}
	otherKey := []byte(rec.Other)
	newIdx := encodeConversationKey(rec.Key())
	var oldIdx []byte // the index entry to drop, if it moves
	cb := convs.bucket(otherKey)
	if cb.exists() {
		old, err := decodeConversation(rec.Owner, rec.Other, cb.get(keyRecord))
		if err != nil {
			return err
		}
		if k := encodeConversationKey(old.Key()); !bytes.Equal(k, newIdx) {
			oldIdx = k
		}
	}

	w, err := t.write()
	if err != nil {
		return err
	}
	wrap := func(err error) error {
		return wrapf(err, "bolt: put conversation %q/%q", rec.Owner, rec.Other)
	}
	if oldIdx != nil {
		if err := w.delete(index, oldIdx); err != nil {
			return wrap(err)
		}
	}
	if !cb.exists() {
		if cb, err = w.createBucket(convs, otherKey); err != nil {
			return wrap(err)
		}
		for _, name := range [][]byte{keyMessages, keyIDs} {
			if _, err := w.createBucket(cb, name); err != nil {
				return wrap(err)
			}
		}
	}
	if err := w.put(index, newIdx, emptyValue); err != nil {
		return wrap(err)
	}
	if err := w.put(cb, keyRecord, encodeConversation(rec)); err != nil {
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
	cb := convs.bucket([]byte(other))
	if !cb.exists() {
		return ErrNotFound
	}
	old, err := decodeConversation(owner, other, cb.get(keyRecord))
	if err != nil {
		return err
	}
	w, err := t.write()
	if err != nil {
		return err
	}
	if err := w.delete(index, encodeConversationKey(old.Key())); err != nil {
		return wrapf(err, "bolt: delete conversation %q/%q", owner, other)
	}
	if err := w.deleteBucket(convs, []byte(other)); err != nil {
		return wrapf(err, "bolt: delete conversation %q/%q", owner, other)
	}
	return nil
}

// PutMessage writes the message under its (Created, ID) key and indexes the
// key by ID, dropping the old key of a message with the same ID. A tombstone
// of m.ID stays: see the layout on boltFormatVersion.
func (t *boltTx) PutMessage(owner, other string, m MessageRecord) error {
	if err := t.usable(); err != nil {
		return err
	}
	cb, msgs, ids, err := t.conv(owner, other)
	if err != nil {
		return err
	}
	if !cb.exists() {
		return ErrNotFound
	}
	idKey := keys.ID(m.ID)
	mk := encodeMessageKey(m.Key())
	w, err := t.write()
	if err != nil {
		return err
	}
	wrap := func(err error) error {
		return wrapf(err, "bolt: put message %d in %q/%q", m.ID, owner, other)
	}
	if old := ids.get(idKey); old != nil && !bytes.Equal(old, mk) {
		if err := w.delete(msgs, bytes.Clone(old)); err != nil {
			return wrap(err)
		}
	}
	if err := w.put(msgs, mk, appendMessage(nil, m)); err != nil {
		return wrap(err)
	}
	if err := w.put(ids, idKey, mk); err != nil {
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
	idKey := keys.ID(id)
	mk := ids.get(idKey)
	if mk == nil {
		return ErrNotFound
	}
	mk = bytes.Clone(mk)
	w, err := t.write()
	if err != nil {
		return err
	}
	if err := w.delete(msgs, mk); err != nil {
		return wrapf(err, "bolt: delete message %d in %q/%q", id, owner, other)
	}
	if err := w.delete(ids, idKey); err != nil {
		return wrapf(err, "bolt: delete message %d in %q/%q", id, owner, other)
	}
	tombs, err := w.createBucketIfNotExists(cb, keyTombs)
	if err != nil {
		return wrapf(err, "bolt: delete message %d in %q/%q: tombstones", id, owner, other)
	}
	if err := w.put(tombs, idKey, emptyValue); err != nil {
		return wrapf(err, "bolt: delete message %d in %q/%q: tombstone", id, owner, other)
	}
	return nil
}
