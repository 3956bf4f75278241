package messaging

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// This file holds what a MemoryStore keeps apart from its inboxes: blocks,
// idempotency records and event streams, with their own undo log (they
// share nothing with the inboxes, so the two logs undo in any order).

type memSide struct {
	blocks  *sortedList[Block]
	idem    *sortedList[IdempotencyRecord] // by (Sender, Key)
	expiry  *sortedList[IdempotencyRecord] // by (Expires, Sender, Key); Digest and the rest unused
	streams map[string]*memStream
	names   *sortedList[string] // users whose stream holds events
	undo    []sideUndo
	recent  memRecentStream // of the running Update; readers share the lock, so only writers use it
}

func newMemSide() memSide {
	return memSide{
		blocks:  newSortedList(cmpBlock),
		idem:    newSortedList(cmpIdem),
		expiry:  newSortedList(cmpExpiry),
		streams: make(map[string]*memStream),
		names:   newSortedList(strings.Compare),
	}
}

func cmpBlock(a, b Block) int {
	if c := strings.Compare(a.User, b.User); c != 0 {
		return c
	}
	return strings.Compare(a.Other, b.Other)
}

func cmpIdem(a, b IdempotencyRecord) int {
	if c := strings.Compare(a.Sender, b.Sender); c != 0 {
		return c
	}
	return strings.Compare(a.Key, b.Key)
}

func cmpExpiry(a, b IdempotencyRecord) int {
	if c := a.Expires.Compare(b.Expires); c != 0 {
		return c
	}
	return cmpIdem(a, b)
}

// sideUndo is one entry of the side undo log.
type sideUndo struct {
	op     sideOp
	block  Block
	idem   IdempotencyRecord // the record before the write, or just its key
	had    bool              // whether there was one
	stream string
	st     *memStream     // nil: the stream did not exist
	before memStreamState // st before the write
}

type sideOp uint8

const (
	undoBlockAdd sideOp = iota
	undoBlockDel
	undoIdemPut
	undoStream
)

func (side *memSide) rollback() {
	for i := len(side.undo) - 1; i >= 0; i-- {
		u := &side.undo[i]
		switch u.op {
		case undoBlockAdd:
			side.blocks.delete(u.block)
		case undoBlockDel:
			side.blocks.insert(u.block)
		case undoIdemPut:
			if cur, ok := side.idem.get(u.idem); ok {
				side.idem.delete(cur)
				side.expiry.delete(cur)
			}
			if u.had {
				side.idem.insert(u.idem)
				side.expiry.insert(u.idem)
			}
		case undoStream:
			if u.st == nil {
				side.dropStream(u.stream)
				break
			}
			u.st.restore(u.before)
			if side.streams[u.stream] != u.st {
				side.streams[u.stream] = u.st
				side.names.insert(u.stream)
			}
		}
	}
	side.endUpdate()
}

func (side *memSide) endUpdate() {
	clear(side.undo)
	side.undo = side.undo[:0]
	side.recent = memRecentStream{}
}

// memRecentStream is the stream a write looked up last: a send reads and
// appends to each of its users' streams in turn.
type memRecentStream struct {
	user string
	st   *memStream
}

// stream returns user's stream, or nil.
func (side *memSide) stream(user string) *memStream {
	if side.recent.st != nil && side.recent.user == user {
		return side.recent.st
	}
	st := side.streams[user]
	if st != nil {
		side.recent = memRecentStream{user: user, st: st}
	}
	return st
}

func (side *memSide) dropStream(user string) {
	delete(side.streams, user)
	side.names.delete(user)
	side.recent = memRecentStream{}
}

// logStream remembers user's stream st (nil: none yet) before a change;
// the state the log holds already, from before the change just before this
// one, restores both (a send appends and trims each of its streams in a
// row).
func (side *memSide) logStream(user string, st *memStream) {
	if n := len(side.undo); n > 0 && side.undo[n-1].op == undoStream && side.undo[n-1].stream == user && side.undo[n-1].st == st {
		return
	}
	u := sideUndo{op: undoStream, stream: user, st: st}
	if st != nil {
		u.before = st.state()
	}
	side.undo = append(side.undo, u)
}

func (v *memView) Tombstones(owner, other string, afterID uint64, limit int) ([]Tombstone, error) {
	c := v.conv(owner, other)
	if c == nil || limit <= 0 {
		return nil, nil
	}
	return c.tombstones(afterID, limit), nil
}

func (v *memView) Blocked(user, other string) (bool, error) {
	_, ok := v.side.blocks.get(Block{User: user, Other: other})
	return ok, nil
}

func (v *memView) Blocks(after Block, limit int) ([]Block, error) {
	return v.side.blocks.after(&after, false, limit), nil
}

func (v *memView) Idempotency(sender, key string) (IdempotencyRecord, error) {
	rec, ok := v.side.idem.get(IdempotencyRecord{Sender: sender, Key: key})
	if !ok {
		return IdempotencyRecord{}, ErrNotFound
	}
	return rec, nil
}

func (v *memView) Idempotencies(after IdempotencyRecord, limit int) ([]IdempotencyRecord, error) {
	return v.side.idem.after(&after, false, limit), nil
}

func (v *memView) StreamBounds(user string) (first, last uint64, err error) {
	first, last = v.side.streams[user].bounds()
	return first, last, nil
}

func (v *memView) Events(user string, after uint64, limit int) ([]EventRecord, error) {
	st := v.side.streams[user]
	if st == nil || limit <= 0 || after == ^uint64(0) {
		return nil, nil
	}
	return st.events(user, after, limit), nil // the data is copied: the caller's to change
}

func (v *memView) Streams(after string, limit int) ([]string, error) {
	return v.side.names.after(&after, false, limit), nil
}

func (t *memTx) Tombstones(owner, other string, afterID uint64, limit int) ([]Tombstone, error) {
	return (*memView)(t).Tombstones(owner, other, afterID, limit)
}
func (t *memTx) Blocked(user, other string) (bool, error) { return (*memView)(t).Blocked(user, other) }
func (t *memTx) Blocks(after Block, limit int) ([]Block, error) {
	return (*memView)(t).Blocks(after, limit)
}
func (t *memTx) Idempotency(sender, key string) (IdempotencyRecord, error) {
	return (*memView)(t).Idempotency(sender, key)
}
func (t *memTx) Idempotencies(after IdempotencyRecord, limit int) ([]IdempotencyRecord, error) {
	return (*memView)(t).Idempotencies(after, limit)
}
func (t *memTx) StreamBounds(user string) (first, last uint64, err error) {
	first, last = t.side.stream(user).bounds()
	return first, last, nil
}
func (t *memTx) Events(user string, after uint64, limit int) ([]EventRecord, error) {
	return (*memView)(t).Events(user, after, limit)
}
func (t *memTx) Streams(after string, limit int) ([]string, error) {
	return (*memView)(t).Streams(after, limit)
}

func (t *memTx) PutBlock(b Block) error {
	if _, ok := t.side.blocks.get(b); !ok {
		t.side.blocks.insert(b)
		t.side.undo = append(t.side.undo, sideUndo{op: undoBlockAdd, block: b})
	}
	return nil
}

func (t *memTx) DeleteBlock(b Block) error {
	if _, ok := t.side.blocks.delete(b); !ok {
		return ErrNotFound
	}
	t.side.undo = append(t.side.undo, sideUndo{op: undoBlockDel, block: b})
	return nil
}

func (t *memTx) PutIdempotency(rec IdempotencyRecord) error {
	old, had := t.side.idem.get(rec)
	if had {
		t.side.expiry.delete(old)
	} else {
		old = IdempotencyRecord{Sender: rec.Sender, Key: rec.Key} // what the undo removes
	}
	t.side.undo = append(t.side.undo, sideUndo{op: undoIdemPut, idem: old, had: had})
	t.side.idem.insert(rec)
	t.side.expiry.insert(rec)
	return nil
}

func (t *memTx) DeleteIdempotencies(before time.Time, limit int) (int, error) {
	expired := t.side.expiry.after(nil, false, limit)
	n := 0
	for _, rec := range expired {
		if !rec.Expires.Before(before) {
			break
		}
		cur, _ := t.side.idem.get(rec)
		t.side.undo = append(t.side.undo, sideUndo{op: undoIdemPut, idem: cur, had: true})
		t.side.idem.delete(rec)
		t.side.expiry.delete(rec)
		n++
	}
	return n, nil
}

// PutEvent appends the event after the last, copying its data into the
// stream's arrays; an event that does not come last (a copy's, a replaced
// one) rebuilds the stream.
func (t *memTx) PutEvent(rec EventRecord) error {
	side := &t.side
	st := side.stream(rec.User)
	side.logStream(rec.User, st)
	if st == nil {
		st = new(memStream)
		side.streams[rec.User] = st
		side.names.insert(rec.User)
		side.recent = memRecentStream{user: rec.User, st: st}
	}
	if _, last := st.bounds(); st.len() == 0 || rec.Seq > last {
		st.appendEvent(rec.Seq, rec.Data)
		return nil
	}
	evs := st.events(rec.User, 0, st.len())
	evs = slices.DeleteFunc(evs, func(e EventRecord) bool { return e.Seq == rec.Seq })
	i, _ := slices.BinarySearchFunc(evs, rec.Seq, func(e EventRecord, seq uint64) int { return cmp.Compare(e.Seq, seq) })
	st.rebuild(slices.Insert(evs, i, rec))
	return nil
}

func (t *memTx) DeleteEvents(user string, upTo uint64) error {
	side := &t.side
	st := side.stream(user)
	first, last := st.bounds()
	if st == nil || first > upTo {
		return nil
	}
	side.logStream(user, st)
	if last <= upTo {
		side.dropStream(user)
		return nil
	}
	st.trimUpTo(upTo)
	return nil
}

func (t *memTx) AdvanceID(id uint64) error {
	if t.seq < id {
		t.undo = append(t.undo, memUndo{op: undoSeq, seq: t.seq})
		t.seq = id
	}
	return nil
}

var _ Estimator = (*MemoryStore)(nil)

// EstimateRecords counts the records exactly: a walk over the inboxes and
// conversations, not over the messages.
func (s *MemoryStore) EstimateRecords(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, wrapf(err, "estimate records")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	n := int64(len(s.inboxes) + s.side.blocks.len() + s.side.idem.len())
	for _, in := range s.inboxes {
		for _, c := range in.convs {
			n += 1 + int64(c.msgs.len())
			if c.more != nil {
				n += int64(len(c.more.deleted))
			}
		}
	}
	for _, st := range s.side.streams {
		n += int64(st.len())
	}
	return n, nil
}
