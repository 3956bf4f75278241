package pgstore

// The records kept apart from the inboxes, inside Update: blocks,
// idempotency records and event streams. Each read says which row
// protects it (doc.go, "Isolation"): for blocks and streams, the rows of
// the users concerned, or the set of users where a user has no row.

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/socialkit/messaging"
)

// blockEntry is a block as the transaction sees it.
type blockEntry struct {
	exists   bool
	dirty    bool // pending: insert or delete the row
	dbExists bool // as read from the snapshot, for a run of fn again
}

// Blocked reads the pair of users whole the first time, taking a spare
// message ID with it: a send starts with it (nextid.go). It relies on both
// users' rows, which every write of a block between them touches.
func (t *tx) Blocked(user, other string) (bool, error) {
	spare := 0
	if user != other && t.ids.spares() == 0 {
		spare = 1
	}
	if err := t.knowPairSpare(user, other, spare); err != nil {
		return false, err
	}
	t.seeUser(user)
	t.seeUser(other)
	return t.blocks[messaging.Block{User: user, Other: other}].exists, nil
}

// Blocks relies on the set of users, which every write of a block touches.
func (t *tx) Blocks(after messaging.Block, limit int) ([]messaging.Block, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []messaging.Block
	if err := t.run(append(t.flushSteps(false), t.s.blocksStep(after, limit, &out))...); err != nil {
		return nil, wrapf(err, "list blocks")
	}
	t.rootSeen = true
	return out, nil
}

// PutBlock writes the block and touches both users' rows (or the set of
// users, for one without a row), which a send between them relies on to
// find no block; and the set of users, which Blocks relies on.
func (t *tx) PutBlock(b messaging.Block) error {
	return t.setBlock(b, true)
}

// DeleteBlock is PutBlock's opposite.
func (t *tx) DeleteBlock(b messaging.Block) error {
	return t.setBlock(b, false)
}

func (t *tx) setBlock(b messaging.Block, block bool) error {
	if err := t.knowPair(b.User, b.Other); err != nil {
		return err
	}
	e := t.blocks[b]
	if !block {
		t.seeUser(b.User)
		t.seeUser(b.Other)
		if !e.exists {
			return messaging.ErrNotFound
		}
	}
	if e.exists == block {
		return nil
	}
	e.exists, e.dirty = block, true
	t.rootTouch = true
	t.touchUser(b.User)
	t.touchUser(b.Other)
	return nil
}

// ---------------------------------------------------------------------------
// Idempotency records

type idemKey struct{ sender, key string }

// idemEntry is an idempotency record as the transaction sees it.
type idemEntry struct {
	exists bool
	rec    messaging.IdempotencyRecord
	// dbKnown: whether the record exists in the database (as of the last
	// pipeline sent) is known, and inDB says it; a record written without
	// being read is not known.
	dbKnown, inDB bool
	dirty         bool // pending: write the record
	written       bool // written or deleted by this transaction
	seen          bool // fn relied on it: the commit locks it, or its absence

	// As read from the snapshot, for a run of fn again.
	db struct {
		known, exists bool
		rec           messaging.IdempotencyRecord
	}
}

// readIdem records what the snapshot holds of an idempotency record.
func (e *idemEntry) read(found bool, rec messaging.IdempotencyRecord) {
	e.exists, e.rec, e.dbKnown, e.inDB = found, rec, true, found
	e.db.known, e.db.exists, e.db.rec = true, found, rec
}

// Idempotency returns a record the transaction knows, or reads it. Before
// the transaction has sent anything it guesses that there is none, and
// checks in the first pipeline (guess.go): a keyed send then costs no
// round trip of its own for it.
func (t *tx) Idempotency(sender, key string) (messaging.IdempotencyRecord, error) {
	k := idemKey{sender, key}
	e := t.idems[k]
	if e == nil || !e.dbKnown && !e.written {
		if e == nil {
			e = &idemEntry{}
			t.idems[k] = e
		}
		if !t.ss.inTx && !t.guesses.off {
			t.guesses.add(k)
			e.read(false, messaging.IdempotencyRecord{})
		} else {
			var rec messaging.IdempotencyRecord
			var found bool
			if err := t.run(t.s.idemStep(k, &rec, &found)); err != nil {
				return rec, wrapf(err, "read idempotency key %q of %q", key, sender)
			}
			e.read(found, rec)
		}
	}
	e.seen = true
	if !e.exists {
		return messaging.IdempotencyRecord{}, messaging.ErrNotFound
	}
	return e.rec, nil
}

// Idempotencies lists the records. A record inserted by a concurrent
// transaction is not among what the commit locks: inside Update the list
// is protected from changes of the records listed, not from new ones
// (package messaging lists them only in View).
func (t *tx) Idempotencies(after messaging.IdempotencyRecord, limit int) ([]messaging.IdempotencyRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []messaging.IdempotencyRecord
	if err := t.run(append(t.flushSteps(false), t.s.idemsStep(after, limit, &out))...); err != nil {
		return nil, wrapf(err, "list idempotency records")
	}
	for _, rec := range out {
		k := idemKey{rec.Sender, rec.Key}
		if t.idems[k] == nil {
			e := &idemEntry{}
			e.read(true, rec)
			t.idems[k] = e
		}
		t.idems[k].seen = true
	}
	return out, nil
}

// PutIdempotency writes the record: an INSERT if the transaction knows
// there is none, which fails with 23505 (and Update runs fn again) if a
// concurrent transaction inserts the same key first.
func (t *tx) PutIdempotency(rec messaging.IdempotencyRecord) error {
	k := idemKey{rec.Sender, rec.Key}
	e := t.idems[k]
	if e == nil {
		e = &idemEntry{}
		t.idems[k] = e
	}
	e.exists, e.rec, e.dirty, e.written = true, rec, true, true
	return nil
}

// DeleteIdempotencies runs at once: it returns how many it deleted. See
// purge_idempotency in migrations/0002_streams.sql for how purgers keep
// out of each other's way.
func (t *tx) DeleteIdempotencies(before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var gone []idemKey
	sec, nsec := encodeTime(before)
	st := step{
		sql:   t.s.q.purgeIdem,
		args:  []any{sec, nsec, limit},
		reset: func() { gone = gone[:0] },
		row: func(r pgx.Rows) error {
			var sender, key []byte
			if err := r.Scan(&sender, &key); err != nil {
				return err
			}
			gone = append(gone, idemKey{string(sender), string(key)})
			return nil
		},
	}
	// Only the buffered idempotency records go first (the purge may delete
	// them): the other writes stay buffered for the commit pipeline, which
	// takes their locks in the common order (doc.go, "Deadlocks").
	var steps []step
	t.flushIdems(false, func(st step) {
		st.write = true
		steps = append(steps, st)
	})
	if err := t.run(append(steps, st)...); err != nil {
		return 0, wrapf(err, "delete expired idempotency records")
	}
	for _, k := range gone {
		e := t.idems[k]
		if e == nil {
			e = &idemEntry{}
			t.idems[k] = e
		}
		e.exists, e.rec, e.dbKnown, e.inDB, e.written = false, messaging.IdempotencyRecord{}, true, false, true
	}
	return len(gone), nil
}

// AdvanceID raises the message ID sequence at once: a sequence is not
// transactional. The statement asks the sequence for a value first and
// raises it only if id is above that, so it never lowers it; an ID handed
// out by a concurrent NextID in the instant between the two may still be
// given again (an AdvanceID is for a copy of a store, before it is used).
func (t *tx) AdvanceID(id uint64) error {
	if id > 1<<63-1 {
		id = 1<<63 - 1 // the sequence is a bigint: the most it gives
	}
	if err := t.run(step{sql: t.s.q.advanceID, args: []any{int64(id)}, row: ignoreRow}); err != nil {
		return wrapf(err, "advance message IDs to %d", id)
	}
	return nil
}
