package messaging

// This file holds the group commit of BoltStore.Update: the queue of
// writers, the leader that runs a group in one bbolt transaction, and the
// OnCommit callbacks.

import (
	"context"
	"errors"

	"go.etcd.io/bbolt"
)

// errGroupAborted is reported to the writers of a group whose leader died
// (a panic inside bbolt, or runtime.Goexit in a function) before their
// result was known. None of their writes were committed.
var errGroupAborted = errors.New("messaging: bolt: group commit aborted, nothing written")

// writeReq is one Update waiting for, or taking part in, a group commit.
type writeReq struct {
	ctx  context.Context
	fn   func(Tx) error
	wake chan struct{} // receives once when this writer is handed the lead
	done chan struct{} // closed when the result below is final

	// Guarded by BoltStore.mu.
	lead  bool // handed the lead of the next group
	taken bool // part of a group; its result will come through done

	// Written by the goroutine leading its group, read after done.
	onCommit []func() // registered by the latest run of fn
	err      error
	panicked bool
	panicVal any
	resolved bool // err/panic is final (not to be re-run)
}

func (w *writeReq) resolve(err error) { w.err, w.resolved = err, true }

// commit gets w's fn run and committed: at once, leading a group of its
// own, if no group is in flight, or else in the next group, after waiting in
// the queue. It returns false if w left the queue because its context ended
// before a group took it; otherwise w's result is final.
func (s *BoltStore) commit(w *writeReq) bool {
	s.mu.Lock()
	if !s.leading {
		s.leading = true
		w.taken = true
		s.mu.Unlock()
		s.lead([]*writeReq{w})
		return true
	}
	w.wake = make(chan struct{}, 1)
	s.queue = append(s.queue, w)
	s.mu.Unlock()
	return s.await(w)
}

// await waits for w's result, or for w to be handed the lead, in which case
// w runs the next group. It returns false if w left the queue because its
// context ended before a group took it.
func (s *BoltStore) await(w *writeReq) bool {
	select {
	case <-w.done:
		return true
	case <-w.wake:
	case <-w.ctx.Done():
		s.mu.Lock()
		switch {
		case w.lead:
			s.mu.Unlock()
		case w.taken:
			s.mu.Unlock()
			<-w.done
			return true
		default:
			for i, q := range s.queue {
				if q == w {
					s.queue = append(s.queue[:i], s.queue[i+1:]...)
					break
				}
			}
			s.mu.Unlock()
			return false
		}
	}
	// w leads: the group is everyone queued now, w first.
	s.mu.Lock()
	batch := s.queue
	s.queue = nil
	for _, q := range batch {
		q.taken = true
	}
	s.mu.Unlock()
	s.lead(batch)
	return true
}

// lead runs the functions of batch and commits them, then hands the lead on
// and releases the writers. The deferred finish runs even if bbolt panics or
// a function calls runtime.Goexit, so the store never wedges.
func (s *BoltStore) lead(batch []*writeReq) {
	defer s.finish(batch)
	for pending := batch; len(pending) > 0; {
		pending = s.runRound(pending)
	}
}

func (s *BoltStore) finish(batch []*writeReq) {
	for _, w := range batch {
		if !w.resolved {
			w.resolve(errGroupAborted)
		}
	}
	// Hand the lead to the first queued writer before releasing this
	// group, so the next commit starts while these writers return.
	s.mu.Lock()
	if len(s.queue) > 0 {
		next := s.queue[0]
		next.lead = true
		next.wake <- struct{}{}
	} else {
		s.leading = false
	}
	s.mu.Unlock()
	for _, w := range batch {
		close(w.done)
	}
}

// runRound runs pending in one bbolt read-write transaction and commits it if
// any function wrote. If a function fails after writing, or panics, it gets
// its result, the transaction is rolled back, and the writers still
// unresolved (those that ran before it, whose writes are gone, and those
// after it) are returned to be run again.
func (s *BoltStore) runRound(pending []*writeReq) (rerun []*writeReq) {
	tx, err := s.db.Begin(true)
	if err != nil {
		err = wrapf(err, "bolt: begin update")
		for _, w := range pending {
			w.resolve(err)
		}
		return nil
	}
	open := true
	defer func() {
		if open { // only when bbolt panicked or a function called Goexit
			rollback(tx)
		}
	}()

	ran := make([]*writeReq, 0, len(pending))
	wrote := false
	for i, w := range pending {
		if err := w.ctx.Err(); err != nil {
			w.resolve(ctxError(err))
			continue
		}
		t := &boltTx{}
		pv, panicked, err := t.run(tx, w.fn)
		if panicked || (err != nil && t.wrote) {
			if panicked {
				w.panicked, w.panicVal, w.resolved = true, pv, true
			} else {
				w.resolve(err)
			}
			open = false
			rollback(tx)
			return append(ran, pending[i+1:]...)
		}
		w.err = err // final unless a later function forces a re-run
		w.onCommit = nil
		if err == nil {
			w.onCommit = t.onCommit
		}
		ran = append(ran, w)
		wrote = wrote || t.wrote
	}

	open = false
	if !wrote {
		rollback(tx) // nothing to make durable
	} else if err := tx.Commit(); err != nil {
		err = wrapf(err, "bolt: commit")
		for _, w := range ran {
			if w.err == nil {
				w.err = err
			}
		}
	} else {
		s.commits.Add(1)
	}
	for _, w := range ran {
		w.resolved = true
	}
	for _, w := range ran {
		if w.err == nil {
			w.runCallbacks() // before the lead passes on: commit order
		}
	}
	return nil
}

// runCallbacks runs w's OnCommit callbacks. The write is committed, so a
// panicking callback must not turn into an error for w or for the writers
// after it: the panic is re-raised in w's own caller, and the others' run.
func (w *writeReq) runCallbacks() {
	defer func() {
		if r := recover(); r != nil {
			w.panicked, w.panicVal = true, r
		}
	}()
	for _, f := range w.onCommit {
		f()
	}
}

// rollback ends a read-write transaction without committing. bbolt's
// Rollback fails only with ErrTxClosed, for a transaction already ended; in
// both cases nothing of it persists, so there is nothing to report.
func rollback(tx *bbolt.Tx) {
	_ = tx.Rollback()
}
