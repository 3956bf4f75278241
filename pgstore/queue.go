package pgstore

// Under REPEATABLE READ, two transactions that overlap in time and write a
// common row cannot both commit: the second fails with 40001 and runs
// again. Sends to one recipient all write the recipient's inbox row, so
// in a busy process many would fail each other. Instead, the Updates of
// one store that touch the same inboxes queue for each other here, in
// memory, before their snapshot is taken: the second begins only once the
// first has committed, and then sees its writes.
//
// This is a way to waste less work, not what makes Updates serializable
// (that is the database's job, see doc.go): transactions of other
// processes still meet in the database, and a transaction that later
// touches more inboxes takes their places only if they are free.
//
// A place is taken to write or only to read the inbox, by a guess made
// when the transaction first reads a pair of users: one whose first read
// of the pair is Blocked is a send, which writes the recipient's row (the
// second of the pair) and only reads the sender's; any other writes the
// first. Two sends from one user then run together, as they do in the
// database (both only share-lock the sender's row). Once the store has
// written an event, every such transaction is taken to write both rows:
// with event streams, a send appends to both users' streams. A wrong
// guess costs a failed COMMIT and a run again, never correctness.

import (
	"hash/maphash"
	"slices"
	"sync"
)

const queueStripes = 1024

// inboxQueue is a striped set of read-write mutexes, one stripe per hash
// of a user id.
type inboxQueue struct {
	seed    maphash.Seed
	stripes [queueStripes]sync.RWMutex
}

func newInboxQueue() *inboxQueue { return &inboxQueue{seed: maphash.MakeSeed()} }

// queuePlaces are the stripes a transaction holds.
type queuePlaces struct {
	q    *inboxQueue
	held []place
}

type place struct {
	stripe uint32
	write  bool
}

func (p *queuePlaces) stripe(owner string) uint32 {
	return uint32(maphash.String(p.q.seed, owner) % queueStripes)
}

// enter takes the stripes of the inboxes the transaction will write and of
// those it will only read. The first time it waits for them, in stripe
// order (so that no two transactions wait for each other in a cycle);
// after that it only takes those that are free, since the transaction may
// already hold database locks by then.
func (p *queuePlaces) enter(write, read []string) {
	first := len(p.held) == 0
	var want []place
	add := func(owner string, w bool) {
		i := p.stripe(owner)
		for _, h := range p.held {
			if h.stripe == i {
				return
			}
		}
		for j := range want {
			if want[j].stripe == i {
				want[j].write = want[j].write || w
				return
			}
		}
		want = append(want, place{i, w})
	}
	for _, o := range write {
		add(o, true)
	}
	for _, o := range read {
		add(o, false)
	}
	slices.SortFunc(want, func(a, b place) int { return int(a.stripe) - int(b.stripe) })
	for _, w := range want {
		m := &p.q.stripes[w.stripe]
		switch {
		case first && w.write:
			m.Lock()
		case first:
			m.RLock()
		case w.write && !m.TryLock(), !w.write && !m.TryRLock():
			continue
		}
		p.held = append(p.held, w)
	}
}

// leave releases every stripe held.
func (p *queuePlaces) leave() {
	for _, h := range p.held {
		if h.write {
			p.q.stripes[h.stripe].Unlock()
		} else {
			p.q.stripes[h.stripe].RUnlock()
		}
	}
	p.held = p.held[:0]
}
