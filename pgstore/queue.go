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

import (
	"hash/maphash"
	"slices"
	"sync"
)

const queueStripes = 1024

// inboxQueue is a striped set of mutexes, one stripe per hash of a user id.
type inboxQueue struct {
	seed    maphash.Seed
	stripes [queueStripes]sync.Mutex
}

func newInboxQueue() *inboxQueue { return &inboxQueue{seed: maphash.MakeSeed()} }

// queuePlaces are the stripes a transaction holds.
type queuePlaces struct {
	q    *inboxQueue
	held []uint32
}

// enter takes the stripes of owners. The first time it waits for them, in
// stripe order (so that no two transactions wait for each other in a
// cycle); after that it only takes those that are free, since the
// transaction may already hold database locks by then.
func (p *queuePlaces) enter(owners ...string) {
	first := len(p.held) == 0
	var want []uint32
	for _, o := range owners {
		i := uint32(maphash.String(p.q.seed, o) % queueStripes)
		if !slices.Contains(p.held, i) && !slices.Contains(want, i) {
			want = append(want, i)
		}
	}
	slices.Sort(want)
	for _, i := range want {
		if first {
			p.q.stripes[i].Lock()
		} else if !p.q.stripes[i].TryLock() {
			continue
		}
		p.held = append(p.held, i)
	}
}

// leave releases every stripe held.
func (p *queuePlaces) leave() {
	for _, i := range p.held {
		p.q.stripes[i].Unlock()
	}
	p.held = p.held[:0]
}
