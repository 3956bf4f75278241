package messaging

import (
	"bytes"
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
}

// memStream is one user's events, ascending by Seq.
type memStream struct {
	events []EventRecord
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
	events []EventRecord // the stream's events before the write
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
			side.setStream(u.stream, u.events)
		}
	}
	side.endUpdate()
}

func (side *memSide) endUpdate() {
	clear(side.undo)
	side.undo = side.undo[:0]
}

// setStream makes events user's stream, listing the user while it has any.
func (side *memSide) setStream(user string, events []EventRecord) {
	st := side.streams[user]
	switch {
	case len(events) == 0 && st != nil:
		delete(side.streams, user)
		side.names.delete(user)
	case len(events) == 0:
	case st == nil:
		side.streams[user] = &memStream{events: events}
		side.names.insert(user)
	default:
		st.events = events
	}
}

// logStream remembers user's stream before a change to it.
func (side *memSide) logStream(user string) {
	var before []EventRecord
	if st := side.streams[user]; st != nil {
		before = st.events[:len(st.events):len(st.events)] // appends must not write into it
	}
	side.undo = append(side.undo, sideUndo{op: undoStream, stream: user, events: before})
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
	st := v.side.streams[user]
	if st == nil {
		return 0, 0, nil
	}
	return st.events[0].Seq, st.events[len(st.events)-1].Seq, nil
}

func (v *memView) Events(user string, after uint64, limit int) ([]EventRecord, error) {
	st := v.side.streams[user]
	if st == nil || limit <= 0 || after == ^uint64(0) {
		return nil, nil
	}
	i, _ := slices.BinarySearchFunc(st.events, after+1, func(e EventRecord, seq uint64) int { return cmp.Compare(e.Seq, seq) })
	page := st.events[i:min(len(st.events), i+limit)]
	if len(page) == 0 {
		return nil, nil
	}
	out := make([]EventRecord, len(page))
	for j, e := range page {
		out[j] = EventRecord{User: e.User, Seq: e.Seq, Data: bytes.Clone(e.Data)} // the caller's to change
	}
	return out, nil
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
	return (*memView)(t).StreamBounds(user)
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

func (t *memTx) PutEvent(rec EventRecord) error {
	side := &t.side
	side.logStream(rec.User)
	st := side.streams[rec.User]
	if st == nil {
		side.setStream(rec.User, []EventRecord{rec})
		return nil
	}
	evs := st.events
	if last := evs[len(evs)-1].Seq; rec.Seq > last {
		st.events = append(evs, rec)
		return nil
	}
	i, found := slices.BinarySearchFunc(evs, rec.Seq, func(e EventRecord, seq uint64) int { return cmp.Compare(e.Seq, seq) })
	if found {
		evs = slices.Clone(evs) // the undo log keeps the old slice
		evs[i] = rec
	} else {
		evs = slices.Insert(slices.Clone(evs), i, rec)
	}
	st.events = evs
	return nil
}

func (t *memTx) DeleteEvents(user string, upTo uint64) error {
	side := &t.side
	st := side.streams[user]
	if st == nil {
		return nil
	}
	i, found := slices.BinarySearchFunc(st.events, upTo, func(e EventRecord, seq uint64) int { return cmp.Compare(e.Seq, seq) })
	if found {
		i++
	}
	if i == 0 {
		return nil
	}
	side.logStream(user)
	side.setStream(user, st.events[i:])
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
		return 0, err
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
		n += int64(len(st.events))
	}
	return n, nil
}
