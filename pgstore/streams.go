package pgstore

// Event streams inside Update. A stream's bounds are in its user's row,
// which every write to the stream writes: the row protects the stream,
// and a user without a row has an empty stream, protected by the set of
// users (doc.go, "Isolation").
//
// Package messaging appends at the end of a stream and trims its start at
// every event once the stream holds its history, so that a send writes
// two events and trims two streams. A trim of a stream without gaps (its
// count is last-first+1, as every stream package messaging writes) only
// moves ev_first in the row: the events below it are deleted, and reads
// skip them, but they leave the table in batches of trimBatch, in one
// statement, when ev_first is that far above ev_phys (the lowest event
// left in the table). A trim of a stream with gaps deletes at once, and
// the row's first and count are then found from what is left
// (fixStream). A put below ev_first first removes what is hidden there,
// so that no deleted event comes back.

import (
	"slices"

	"github.com/socialkit/messaging"
)

// trimBatch is how many trimmed events may stay in the table before they
// go, in one DELETE.
const trimBatch = 64

// evOp is a pending write of a user's stream: a put, or with del a
// deletion from the table of the events from..to.
type evOp struct {
	rec      messaging.EventRecord
	insert   bool // the put is at a Seq the stream does not hold
	del      bool
	from, to uint64
}

// hasGaps reports whether the stream, known, misses events between its
// first and its last.
func (e *userEntry) hasGaps() bool {
	return e.evLast != 0 && uint64(e.evCount) != e.evLast-e.evFirst+1
}

// StreamBounds reads the user's row (with the pair, if the transaction
// reads one: a send reads both users' rows whole).
func (t *tx) StreamBounds(user string) (first, last uint64, err error) {
	if err := t.knowUser(user); err != nil {
		return 0, 0, err
	}
	e := t.users[user]
	if e.unknown {
		var out userRow
		var found bool
		if err := t.run(append(t.flushSteps(false), t.s.boundsStep(user, &out, &found))...); err != nil {
			return 0, 0, wrapf(err, "read the stream bounds of %q", user)
		}
		e.evFirst, e.evCount, e.evPhys, e.unknown = out.evFirst, out.evCount, out.evPhys, false
	}
	t.seeUser(user)
	return e.evFirst, e.evLast, nil
}

func (t *tx) Events(user string, after uint64, limit int) ([]messaging.EventRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []messaging.EventRecord
	steps := append(t.flushSteps(false), t.userSteps(user)...)
	if err := t.run(append(steps, t.s.eventsStep(user, after, limit, &out))...); err != nil {
		return nil, wrapf(err, "read the event stream of %q", user)
	}
	t.seeUser(user)
	return out, nil
}

// Streams relies on the set of users, which a stream touches when it
// becomes empty or stops being so.
func (t *tx) Streams(after string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []string
	if err := t.run(append(t.flushSteps(false), t.s.streamsStep(after, limit, &out))...); err != nil {
		return nil, wrapf(err, "list streams")
	}
	t.rootSeen = true
	return out, nil
}

// PutEvent appends (or replaces) an event and writes the user's row with
// the stream's new bounds; a user without a row gets one.
func (t *tx) PutEvent(rec messaging.EventRecord) error {
	if err := t.knowUser(rec.User); err != nil {
		return err
	}
	t.s.writesBoth.Store(true)
	e := t.users[rec.User]
	op := evOp{rec: rec}
	switch {
	case e.evLast == 0:
		t.rootTouch = true // a stream that was empty (and maybe a new row)
		e.evFirst, e.evLast, e.evCount, e.evPhys = rec.Seq, rec.Seq, 1, rec.Seq
		op.insert = true
	case e.unknown:
		// The stream has gaps, and the database counts its events.
		e.evLast = max(e.evLast, rec.Seq)
	case rec.Seq > e.evLast:
		e.evLast, e.evCount = rec.Seq, e.evCount+1
		op.insert = true
	case rec.Seq >= e.evFirst && !e.hasGaps():
		// A replacement.
	case rec.Seq >= e.evFirst:
		// A replacement or not: the database counts.
		t.unhide(rec.User)
		e.unknown = true
	default: // below the first: nothing hidden must come back
		t.unhide(rec.User)
		e.evFirst, e.evCount, e.evPhys = rec.Seq, e.evCount+1, rec.Seq
		op.insert = true
	}
	if t.grown == nil {
		t.grown = make(map[string]uint64, 2)
	}
	t.grown[rec.User] = e.evLast
	t.dirtyUser(rec.User)
	t.evOps[rec.User] = append(t.evOps[rec.User], op)
	return nil
}

// unhide deletes from the table the events a trim left there below the
// stream's first.
func (t *tx) unhide(user string) {
	if e := t.users[user]; e.evPhys < e.evFirst {
		t.evOps[user] = append(t.evOps[user], evOp{del: true, from: e.evPhys, to: e.evFirst - 1})
		e.evPhys = e.evFirst
	}
}

// DeleteEvents deletes the events up to upTo, and writes the user's row
// with the stream's new bounds.
func (t *tx) DeleteEvents(user string, upTo uint64) error {
	if err := t.knowUser(user); err != nil {
		return err
	}
	e := t.users[user]
	if e.evLast == 0 || !e.unknown && upTo < e.evFirst {
		t.seeUser(user) // relied on: nothing to delete
		return nil
	}
	switch {
	case upTo >= e.evLast:
		from := e.evPhys
		if e.unknown {
			from = 0
		}
		t.evOps[user] = append(t.evOps[user], evOp{del: true, from: from, to: e.evLast})
		e.evFirst, e.evLast, e.evCount, e.evPhys, e.unknown = 0, 0, 0, 0, false
		t.rootTouch = true // the stream is empty now
	case !e.unknown && !e.hasGaps():
		e.evCount -= int64(upTo - e.evFirst + 1)
		e.evFirst = upTo + 1
		if e.evFirst-e.evPhys >= trimBatch {
			t.unhide(user)
		}
	default: // gaps: delete now, and let the database find the first
		t.unhide(user)
		from := e.evPhys
		if e.unknown {
			from = 0
		}
		t.evOps[user] = append(t.evOps[user], evOp{del: true, from: from, to: upTo})
		e.evPhys, e.unknown = upTo+1, true
	}
	t.dirtyUser(user)
	return nil
}

// flushEvents writes the events: first the puts that come before any
// deletion of their stream, as multi-row INSERTs over all streams, then
// each stream's remaining writes in order; then, for a stream whose first
// event and count only the database knows, it finds them.
func (t *tx) flushEvents(add func(step)) {
	var users []string
	for u, ops := range t.evOps {
		if len(ops) > 0 {
			users = append(users, u)
		}
	}
	for u := range t.dirtyUsers {
		if t.users[u].unknown && len(t.evOps[u]) == 0 {
			users = append(users, u) // its row was written with what it does not know
		}
	}
	if len(users) == 0 {
		return
	}
	slices.Sort(users)
	q := &t.s.q
	var ins, ups []any
	var pending []evOp // the puts in ins and ups
	putRows := func(final bool) {
		for _, b := range []*[]any{&ins, &ups} {
			if n := len(*b) / evCols; n == maxRows || final && n > 0 {
				sql := q.insertEvents[n]
				if b == &ups {
					sql = q.upsertEvents[n]
				}
				add(step{sql: sql, args: *b})
				*b = nil
			}
		}
		if len(ins)+len(ups) == 0 {
			pending = pending[:0]
		}
	}
	put := func(op evOp) {
		for _, p := range pending {
			if p.rec.User == op.rec.User && p.rec.Seq == op.rec.Seq {
				putRows(true) // one statement may not write a row twice
				break
			}
		}
		pending = append(pending, op)
		row := []any{[]byte(op.rec.User), encodeID(op.rec.Seq), op.rec.Data}
		if op.insert {
			ins = append(ins, row...)
		} else {
			ups = append(ups, row...)
		}
		putRows(false)
	}
	rest := make([][]evOp, len(users))
	for i, u := range users {
		ops := t.evOps[u]
		j := 0
		for j < len(ops) && !ops[j].del {
			put(ops[j])
			j++
		}
		rest[i] = ops[j:]
	}
	putRows(true)
	for i, u := range users {
		for _, op := range rest[i] {
			if op.del {
				add(step{sql: q.deleteEvents, args: []any{[]byte(u), encodeID(op.from), encodeID(op.to)}})
			} else {
				put(op)
				putRows(true)
			}
		}
		if e := t.users[u]; e.unknown && e.needed() {
			add(step{sql: q.fixStream, args: []any{[]byte(u)}, done: oneRow("user", u)})
		}
	}
	clear(t.evOps)
}
