package pgstore

// OnCommit callbacks run in commit order without a lock held around
// COMMIT. A transaction with callbacks takes a ticket just before it sends
// its last pipeline (its buffered writes and COMMIT); once that pipeline
// has returned it waits until every lower ticket is resolved (committed
// with its callbacks run, or failed), runs its own callbacks, and resolves
// its ticket. Ticket order is commit order for any two transactions that
// touch a common row, which is when order can be observed: see doc.go,
// "OnCommit order". Transactions without callbacks take no ticket.

import "sync"

type commitOrder struct {
	mu   sync.Mutex
	last chan struct{} // closed once the newest ticket is resolved; nil: none yet
}

// ticket is a place in the order: prev is closed when the ticket before it
// is resolved, done when this one is.
type ticket struct {
	prev, done chan struct{}
}

func (o *commitOrder) take() ticket {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := ticket{prev: o.last, done: make(chan struct{})}
	o.last = t.done
	return t
}

// committed runs fs after the callbacks of every lower ticket, then
// resolves t. A panic in fs resolves t before it propagates.
func (t ticket) committed(fs []func()) {
	if t.prev != nil {
		<-t.prev
	}
	defer close(t.done)
	for _, f := range fs {
		f()
	}
}

// failed resolves t without callbacks, as soon as the lower tickets are:
// its caller does not wait for them.
func (t ticket) failed() {
	if t.prev == nil {
		close(t.done)
		return
	}
	go func() {
		<-t.prev
		close(t.done)
	}()
}
