package pgstore

// Message IDs come from a sequence. A send reads its pair of users (in the
// statement Blocked sends) before it asks for an ID, so that statement
// also takes one spare ID from the sequence, which NextID then hands out
// without a round trip of its own. The spare is taken after the
// transaction's snapshot (the statement's, which is the first), as every
// ID this store hands out is: every transaction the snapshot shows took
// its IDs before (doc.go, "Isolation"). An ID taken and not handed out is
// a gap in the sequence, which nothing minds.

import (
	"github.com/jackc/pgx/v5"
)

// idTaker keeps the IDs a transaction took from the sequence.
type idTaker struct {
	taken  []uint64 // in the order the sequence gave them
	handed int      // how many of them this run of fn has handed out
}

// spares is how many IDs were taken and not handed out yet.
func (d *idTaker) spares() int { return len(d.taken) - d.handed }

// took records ids as the sequence gave them.
func (d *idTaker) took(ids []int64) {
	for _, id := range ids {
		d.taken = append(d.taken, uint64(id))
	}
}

// NextID hands out a spare ID, or takes one from the sequence. A run of fn
// again is handed the same IDs in the same order.
func (t *tx) NextID() (uint64, error) {
	d := &t.ids
	if d.spares() == 0 {
		var id int64
		if err := t.run(step{sql: t.s.q.nextID, row: func(r pgx.Rows) error { return r.Scan(&id) }}); err != nil {
			return 0, wrapf(err, "next message ID")
		}
		d.took([]int64{id})
	}
	d.handed++
	return d.taken[d.handed-1], nil
}
