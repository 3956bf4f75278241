package pgstore

// A keyed send asks for its idempotency record before anything else, so
// reading it would cost a round trip of its own, and take the
// transaction's snapshot before the send has queued for its inboxes
// (queue.go). Instead, Idempotency, called before the transaction has
// sent anything, guesses that there is no record (a retry is the rare
// case) and the read goes out with the transaction's first pipeline,
// which reads the pair of users. If the record is there after all, this
// run of fn cannot commit: it ends, and fn runs again in the same
// transaction, on the records already read. Nothing of the first run was
// sent: no pipeline that writes goes out while a guess is unchecked.
// Store.Update allows running fn again; this costs CPU, not a round trip.

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/socialkit/messaging"
)

// errRerun ends a run of fn that rests on a wrong guess.
var errRerun = errors.New(prefix + "an idempotency record guessed absent is there; the function runs again")

type guesses struct {
	pending []idemKey // guessed absent, not checked yet
	wrong   bool      // a guess was wrong: this run of fn must not commit
	off     bool      // a run again guesses nothing
}

func (g *guesses) add(k idemKey) { g.pending = append(g.pending, k) }

// run sends steps, preceded by the reads that check the guesses if any
// are unchecked: with them when steps only read, alone first otherwise.
// It refuses to send anything once a guess turned out wrong.
func (t *tx) run(steps ...step) error {
	g := &t.guesses
	if g.wrong {
		return errRerun
	}
	if len(g.pending) == 0 {
		return t.ss.run(steps...)
	}
	for _, st := range steps {
		if st.write {
			if err := t.run(); err != nil {
				return err
			}
			return t.ss.run(steps...)
		}
	}
	checks := make([]step, 0, len(g.pending)+len(steps))
	for _, k := range g.pending {
		var rec messaging.IdempotencyRecord
		var found bool
		st := t.s.idemStep(k, &rec, &found)
		st.done = func(pgconn.CommandTag) error {
			if found {
				g.wrong = true
				t.idems[k].db.exists, t.idems[k].db.rec = true, rec
			}
			return nil
		}
		checks = append(checks, st)
	}
	if err := t.ss.run(append(checks, steps...)...); err != nil {
		return err
	}
	g.pending = g.pending[:0]
	if g.wrong {
		return errRerun
	}
	return nil
}

// settle checks the guesses still unchecked when fn returns (nothing is
// committed on a guess) and reports whether fn must run again.
func (t *tx) settle() bool {
	if t.ss.err == nil && len(t.guesses.pending) > 0 {
		_ = t.run() // a failure is in t.ss.err
	}
	return t.guesses.wrong && t.ss.err == nil
}

// restart prepares a run of fn again after a wrong guess: the records read
// stay known, as they were in the snapshot; nothing fn wrote was sent.
func (t *tx) restart() {
	for _, e := range t.users {
		*e = readUser(e.dbInDB, e.db)
	}
	for _, c := range t.convs {
		*c = readConv(c.dbExists, c.dbRec)
	}
	for _, b := range t.blocks {
		*b = blockEntry{exists: b.dbExists, dbExists: b.dbExists}
	}
	for k, e := range t.idems {
		if !e.db.known {
			delete(t.idems, k)
			continue
		}
		db := e.db
		*e = idemEntry{}
		e.read(db.exists, db.rec)
	}
	clear(t.msgs)
	clear(t.tombs)
	clear(t.evOps)
	t.grown = nil
	clear(t.convsOf)
	clear(t.dirtyUsers)
	clear(t.dirtyConvs)
	clear(t.dirtyMsgs)
	clear(t.dirtyTombs)
	t.onCommit = nil
	t.rootSeen, t.rootTouch = false, false
	t.ids.handed = 0
	t.guesses = guesses{off: true}
}
