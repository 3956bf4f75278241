package pgstore

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/socialkit/messaging"
)

// maxAttempts bounds how many times one Update runs its function.
const maxAttempts = 50

// Update runs fn in a REPEATABLE READ transaction whose reads take no
// locks; it buffers fn's writes and sends them with COMMIT in one
// pipeline, which also locks what fn read (see the package documentation,
// "Isolation").
//
// fn is run again, in a fresh transaction, when the database refuses the
// transaction because a concurrent one changed what it read or wrote
// (SQLSTATE 40001), a deadlock (40P01), a lock_timeout (55P03), a
// concurrent insert of a key it inserts (23505), or a connection lost
// before COMMIT could have run; at most maxAttempts times, and never once
// ctx is done. A connection lost while COMMIT is in flight leaves the
// outcome unknown: Update then returns an error and does not run fn again.
// fn may also run again in the same transaction when the message ID that
// NextID guessed was not the one the sequence gave (nextid.go).
//
// OnCommit callbacks run after the commit, in commit order, in the calling
// goroutine. See messaging.Store.Update.
func (s *Store) Update(ctx context.Context, fn func(messaging.Tx) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.exit()
	defer s.stats.updates.Add(1)
	for attempt := 1; ; attempt++ {
		s.stats.attempts.Add(1)
		t := s.txs.Get().(*tx)
		t.ss.ctx = ctx
		err, retry := t.attempt(fn)
		t.reset()
		s.txs.Put(t)
		if !retry {
			return err
		}
		if attempt == maxAttempts {
			return wrapf(err, "update: gave up after %d attempts", attempt)
		}
		if perr := pause(ctx, attempt); perr != nil {
			return wrapf(perr, "update: waiting to run again after: %v", bare(err))
		}
	}
}

// pause waits a little before the next attempt: not at all at first (the
// transaction that made this one fail has committed), then a random time
// that grows, so that transactions that keep failing each other spread out.
func pause(ctx context.Context, attempt int) error {
	if attempt < 3 {
		return ctx.Err()
	}
	limit := min(time.Millisecond<<min(attempt-3, 7), 100*time.Millisecond)
	timer := time.NewTimer(rand.N(limit) + time.Millisecond)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// attempt runs fn in one transaction and commits. retry reports a failure
// a new transaction may not meet. A failed transaction's connection is
// rolled back in the background: the next attempt takes another one.
func (t *tx) attempt(fn func(messaging.Tx) error) (err error, retry bool) {
	defer func() {
		t.ss.finish()
		t.places.leave()
	}()
	ferr := fn(t)
	for t.settle() { // see nextid.go
		t.s.stats.reruns.Add(1)
		t.restart()
		ferr = fn(t)
	}
	if t.ss.err != nil { // a statement failed: the transaction is dead
		if t.retryable(t.ss.err, false) {
			return t.ss.err, true
		}
		if ferr != nil {
			return ferr, false // it most likely carries ours
		}
		return wrapf(t.ss.err, "update"), false
	}
	if ferr != nil {
		return ferr, false
	}
	return t.commit()
}

// commit sends the buffered writes, the locks of what fn read and COMMIT
// in one pipeline, then runs the OnCommit callbacks in commit order.
func (t *tx) commit() (err error, retry bool) {
	steps := t.flushSteps(true)
	if len(steps) == 0 && t.ss.conn == nil {
		// Nothing read, nothing written: there is no transaction, and
		// nothing to order the callbacks by.
		for _, f := range t.onCommit {
			f()
		}
		return nil, false
	}
	var slot *commitSlot
	var stamp int64
	if len(t.onCommit) > 0 {
		slot = t.s.order.begin()
		steps = append(steps, step{sql: t.s.q.stamp, row: func(r pgx.Rows) error { return r.Scan(&stamp) }})
	}
	err = t.run(append(steps, step{sql: t.s.q.commit})...)
	if err != nil {
		if slot != nil {
			slot.failed()
		}
		if t.retryable(err, true) {
			return err, true
		}
		if t.ss.conn != nil && t.ss.conn.Conn().IsClosed() {
			return wrapf(err, "commit: the connection was lost while COMMIT was in flight; the outcome is unknown"), false
		}
		return wrapf(err, "commit"), false
	}
	t.ss.finish()
	t.places.leave()
	if len(t.grown) > 0 && !t.s.disableNotify {
		t.s.notifier.tell(t.grown)
	}
	if slot != nil {
		slot.committed(stamp, t.onCommit)
	}
	return nil, false
}

// retryable reports whether err lets the transaction's function run again,
// and counts it. commitSent: the failed pipeline held COMMIT.
func (t *tx) retryable(err error, commitSent bool) bool {
	if t.ss.ctx.Err() != nil {
		return false
	}
	c := &t.s.stats
	// A connection that is gone, whatever the server said as it went
	// (57P01 when terminated, 57P02 in a crash): nothing of the
	// transaction persists unless COMMIT may have reached the server.
	nothingSent := t.ss.conn == nil // the pool could not connect
	if nothingSent || t.ss.conn.Conn().IsClosed() {
		if commitSent && !nothingSent && !pgconn.SafeToRetry(err) && !t.ss.quitFirst(err) {
			return false // the outcome is unknown: see commit
		}
		c.connLosts.Add(1)
		return true
	}
	switch sqlState(err) {
	case "40001":
		c.serialization.Add(1)
		return true
	case "40P01", "55P03": // a deadlock, or a lock_timeout set on the server
		c.deadlocks.Add(1)
		return true
	case "23505":
		c.uniqueViolations.Add(1)
		return true
	}
	return false
}
