package messaging

// This file holds BoltStore.Check, the structural check of a file.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"github.com/socialkit/messaging/internal/keys"
	"time"

	"go.etcd.io/bbolt"
)

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
		return wrapf(err, "bolt: check")
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := boltChecker{ctx: ctx, report: report}
		return c.file(tx)
	})
	return wrapf(err, "bolt: check")
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
	if err := c.sideBuckets(tx); err != nil {
		return err
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
		if _, err := decodeTombstone(k, v); err != nil {
			c.problem(owner, other, id, "tombstone does not decode: %s", corruptDetail(err))
		}
		if ids != nil && ids.Get(k) != nil {
			c.problem(owner, other, id, "deleted (it has a tombstone) but present")
		}
	}
	return nil
}

// sideBuckets checks the buckets kept apart from the inboxes: that every
// block, idempotency record and event decodes, and that the Expires order
// of the idempotency records has one entry per record, at its Expires.
func (c *boltChecker) sideBuckets(tx *bbolt.Tx) error {
	blocks, idem, expiry, streams := tx.Bucket(bucketBlocks), tx.Bucket(bucketIdempotency), tx.Bucket(bucketIdemExpiry), tx.Bucket(bucketStreams)
	if blocks == nil || idem == nil || expiry == nil || streams == nil {
		c.problem("", "", 0, "a bucket of format 2 is missing (blocks, idempotency, expiry or streams)")
		return nil
	}
	each := func(b *bbolt.Bucket, fn func(k, v []byte)) error {
		cur := b.Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			if err := c.tick(); err != nil {
				return err
			}
			fn(k, v)
		}
		return nil
	}
	err := each(blocks, func(k, v []byte) {
		if _, _, err := keys.ParsePair(k); err != nil || v == nil {
			c.problem("", "", 0, "block key %q does not decode", k)
		}
	})
	if err != nil {
		return err
	}
	records := 0
	err = each(idem, func(k, v []byte) {
		records++
		sender, key, err := keys.ParsePair(k)
		if err != nil || v == nil {
			c.problem(sender, "", 0, "idempotency key %q does not decode", k)
			return
		}
		rec, err := decodeIdempotency(sender, key, v)
		if err != nil {
			c.problem(sender, "", 0, "idempotency record of key %q does not decode: %s", key, corruptDetail(err))
		} else if expiry.Get(expiryKey(rec)) == nil {
			c.problem(sender, "", 0, "idempotency key %q is not in the expiry order", key)
		}
	})
	if err != nil {
		return err
	}
	entries := 0
	if err := each(expiry, func(k, v []byte) { entries++ }); err != nil {
		return err
	}
	if entries != records {
		c.problem("", "", 0, "%d entries in the idempotency expiry order for %d records", entries, records)
	}
	return each(streams, func(user, v []byte) {
		sb := streams.Bucket(user)
		if v != nil || sb == nil {
			c.problem(string(user), "", 0, "a key, not a stream bucket, in the streams bucket")
			return
		}
		if k, _ := sb.Cursor().First(); k == nil {
			c.problem(string(user), "", 0, "an empty stream bucket")
		}
		_ = sb.ForEach(func(k, v []byte) error {
			seq, err := keys.ParseID(k)
			if err != nil || v == nil {
				c.problem(string(user), "", 0, "stream key %x does not decode", k)
			} else if _, err := decodeEvent(EventRecord{User: string(user), Seq: seq, Data: v}); err != nil {
				c.problem(string(user), "", 0, "event %d does not decode: %s", seq, err)
			}
			return nil
		})
	})
}

var _ Estimator = (*BoltStore)(nil)

// EstimateRecords estimates from a sample: the exact number of inboxes and
// streams (a walk of their names), times the mean records of at most 32 of
// each, spread over the file. A full count reads the whole file; this
// reads the names and the key counts of the sampled buckets. Inboxes of
// very different sizes make it less exact.
func (s *BoltStore) EstimateRecords(ctx context.Context) (int64, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.active.Done()
	if err := ctx.Err(); err != nil {
		return 0, wrapf(err, "estimate records")
	}
	var n int64
	err := s.db.View(func(tx *bbolt.Tx) error {
		n = sample(tx.Bucket(bucketUsers), inboxRecords) + sample(tx.Bucket(bucketStreams), func(b *bbolt.Bucket) int64 {
			return int64(b.Stats().KeyN) // one key an event
		})
		for _, name := range [][]byte{bucketBlocks, bucketIdempotency} {
			if b := tx.Bucket(name); b != nil {
				n += int64(b.Stats().KeyN) // a key a record, no nested buckets
			}
		}
		return nil
	})
	return n, wrapf(err, "bolt: estimate records")
}

// inboxRecords counts the records of an inbox bucket from its key counts:
// its keys are "i", "c" and "x", then per conversation an index entry, its
// bucket's key, "r", "m" and "d", two per message and one per tombstone,
// and "t" where there are tombstones; its records are the inbox, the
// conversations, the messages and the tombstones.
func inboxRecords(ob *bbolt.Bucket) int64 {
	keys := int64(ob.Stats().KeyN)
	convs := int64(0)
	if x := ob.Bucket(keyIndex); x != nil {
		convs = int64(x.Stats().KeyN)
	}
	rest := max(keys-3-5*convs, 0) // two a message, about one a tombstone
	return 1 + convs + rest/2
}

// sample estimates the records under the nested buckets of b: their
// number times the mean count of at most 32 of them, evenly spread. It
// walks the names twice rather than keep them, so its memory does not grow
// with the number of users.
func sample(b *bbolt.Bucket, count func(*bbolt.Bucket) int64) int64 {
	if b == nil {
		return 0
	}
	n := 0
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			n++
		}
	}
	if n == 0 {
		return 0
	}
	const samples = 32
	step := (n + samples - 1) / samples
	var total, sampled int64
	i := 0
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v != nil {
			continue
		}
		if i%step == 0 {
			total += count(b.Bucket(k))
			sampled++
		}
		i++
	}
	return total * int64(n) / sampled
}
