package pgstore

// OnCommit callbacks run in commit order without a lock held around
// COMMIT. A transaction with callbacks takes a stamp from the
// commit_order sequence as the last statement before COMMIT, in its
// commit pipeline, when it already holds every lock it takes. Of two
// transactions that touch a common row, the one that locks it second
// waits until the first has committed (or fails with 40001), so it
// stamps after the first did: stamp order is commit order wherever order
// can be observed (doc.go, "OnCommit order").
//
// Stamps are global, so this process sees gaps (other processes, failed
// transactions) and learns a stamp only when its pipeline returns. A
// committed transaction therefore runs its callbacks once every
// transaction of this process that was in flight when its stamp came back
// has returned too (any transaction sent later stamps later), and every
// one of them with a smaller stamp has run its callbacks.

import "sync"

type commitOrder struct {
	mu       sync.Mutex
	cond     sync.Cond
	inflight map[*commitSlot]struct{}
	pending  map[*commitSlot]struct{} // committed, callbacks not run yet
}

// commitSlot is one transaction's place in the order.
type commitSlot struct {
	o        *commitOrder
	stamp    int64
	returned bool          // its commit pipeline returned
	before   []*commitSlot // in flight when its stamp came back
}

// begin registers a transaction about to send its commit pipeline.
func (o *commitOrder) begin() *commitSlot {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.inflight == nil {
		o.inflight = make(map[*commitSlot]struct{})
		o.pending = make(map[*commitSlot]struct{})
		o.cond.L = &o.mu
	}
	c := &commitSlot{o: o}
	o.inflight[c] = struct{}{}
	return c
}

// failed withdraws a transaction that did not commit.
func (c *commitSlot) failed() {
	o := c.o
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.inflight, c)
	c.returned = true
	o.cond.Broadcast()
}

// committed runs fs in their place in the order. A panic in fs still
// releases the transactions after this one before it propagates.
func (c *commitSlot) committed(stamp int64, fs []func()) {
	o := c.o
	o.mu.Lock()
	delete(o.inflight, c)
	c.stamp, c.returned = stamp, true
	for other := range o.inflight {
		c.before = append(c.before, other)
	}
	o.pending[c] = struct{}{}
	o.cond.Broadcast()
	for !c.turn() {
		o.cond.Wait()
	}
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		delete(o.pending, c)
		o.cond.Broadcast()
		o.mu.Unlock()
	}()
	for _, f := range fs {
		f()
	}
}

// turn reports whether c may run its callbacks. Called with o.mu held.
func (c *commitSlot) turn() bool {
	for _, b := range c.before {
		if !b.returned {
			return false
		}
	}
	for p := range c.o.pending {
		if p.stamp < c.stamp {
			return false
		}
	}
	return true
}
