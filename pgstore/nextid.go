package pgstore

// Message IDs come from a sequence, and a send asks for its ID first,
// before it reads anything. Taking it then would cost a round trip of its
// own and open the transaction's snapshot a round trip earlier than
// needed, which widens the window in which a concurrent commit makes it
// fail. So NextID, called before the transaction has sent anything,
// returns a guess (the ID after the last one this store saw), and the
// sequence is asked in the transaction's first pipeline, right after
// BEGIN: the snapshot is still taken before the ID (doc.go, "Isolation").
// If the sequence gives another ID than the guess, this run of fn cannot
// commit: it ends, nothing of it having been sent, and fn runs again in
// the same transaction, on the records already read, with the real IDs.
// Store.Update allows running fn again; this costs CPU, not a round trip.

import (
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// errRerun ends a run of fn whose guessed message IDs were wrong.
var errRerun = errors.New(prefix + "message ID guessed wrong; the function runs again")

type idGuesses struct {
	guesses []uint64 // handed to fn before the transaction began
	real    []uint64 // what the sequence gave for them
	next    int      // in a run again: the next of real to hand out
	wrong   bool     // a guess was wrong: this run of fn must not commit
	got     []int64  // what the sequence gave, as the pipeline returns
}

// NextID returns the next message ID. See the top of this file.
func (t *tx) NextID() (uint64, error) {
	g := &t.ids
	if g.next < len(g.real) {
		g.next++
		return g.real[g.next-1], nil
	}
	if !t.ss.inTx && len(g.real) == 0 {
		id := t.s.lastID.Load() + 1 + uint64(len(g.guesses))
		g.guesses = append(g.guesses, id)
		return id, nil
	}
	var id int64
	if err := t.run(step{sql: t.s.q.nextID, row: func(r pgx.Rows) error { return r.Scan(&id) }}); err != nil {
		return 0, wrapf(err, "next message ID")
	}
	t.s.sawID(uint64(id))
	return uint64(id), nil
}

// run sends steps, preceded by the sequence calls that settle the guessed
// IDs if there are any. It refuses to send anything once a guess turned
// out wrong: the writes of this run of fn rest on it.
func (t *tx) run(steps ...step) error {
	g := &t.ids
	if g.wrong {
		return errRerun
	}
	n := len(g.guesses) - len(g.real) // guesses not settled yet; none in a run again
	if n <= 0 {
		return t.ss.run(steps...)
	}
	steps = slices.Clone(steps)
	carried := false
	for i := range steps {
		if steps[i].takesIDs {
			steps[i].args = slices.Clone(steps[i].args)
			steps[i].args[2] = n
			carried = true
			break
		}
	}
	if !carried {
		pre := step{
			sql:   t.s.q.nextIDs,
			args:  []any{n},
			reset: func() { g.got = g.got[:0] },
			row: func(r pgx.Rows) error {
				var id int64
				err := r.Scan(&id)
				g.got = append(g.got, id)
				return err
			},
		}
		steps = append([]step{pre}, steps...)
	}
	g.got = g.got[:0]
	if err := t.ss.run(steps...); err != nil {
		return err
	}
	if len(g.got) != n {
		return t.ss.fail(fmt.Errorf("asked the sequence for %d message IDs, got %d", n, len(g.got)))
	}
	got := g.got
	for _, id := range got {
		g.real = append(g.real, uint64(id))
		t.s.sawID(uint64(id))
		if uint64(id) != g.guesses[len(g.real)-1] {
			g.wrong = true
		}
	}
	if g.wrong {
		return errRerun
	}
	g.next = len(g.real) // all handed out already, as guesses
	return nil
}

// settle asks the sequence for the IDs still guessed when fn returns
// (nothing is committed, nor a result trusted, on a guess) and reports
// whether fn must run again.
func (t *tx) settle() bool {
	if t.ss.err == nil && len(t.ids.guesses) > len(t.ids.real) {
		_ = t.run() // a failure is in t.ss.err
	}
	return t.ids.wrong && t.ss.err == nil
}

// restart prepares a run of fn again after a wrong guess: the records read
// stay known, as they were in the snapshot; nothing fn wrote was sent.
func (t *tx) restart() {
	for _, e := range t.inboxes {
		*e = readInbox(e.dbExists, e.dbUnread)
	}
	for _, c := range t.convs {
		*c = readConv(c.dbExists, c.dbRec)
	}
	clear(t.msgs)
	clear(t.tombs)
	clear(t.convsOf)
	clear(t.dirtyInboxes)
	clear(t.dirtyConvs)
	clear(t.dirtyMsgs)
	clear(t.dirtyTombs)
	t.onCommit = nil
	t.rootSeen, t.rootTouch = false, false
	t.ids.guesses, t.ids.next, t.ids.wrong = nil, 0, false
}
