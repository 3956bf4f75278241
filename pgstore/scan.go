package pgstore

// The ReadTx of View is a messaging.Scanner: an inbox's messages and
// tombstones across its conversations, a page per statement. A copy of a
// store whose conversations hold a few messages each would otherwise
// spend most of its time on a round trip per conversation.
//
// Each page is one range scan of an index that stops after the page:
// messages_by_created (owner, other, sec, nsec, id) for messages and the
// primary key (owner, other, id) for tombstones, with the position as a
// row comparison, which PostgreSQL turns into the start of the index
// scan (no sort, whatever the size of the inbox).

import (
	"github.com/jackc/pgx/v5"

	"github.com/socialkit/messaging"
)

var _ messaging.Scanner = (*viewTx)(nil)

// scanQueries are the statements of the Scanner.
type scanQueries struct {
	msgs, msgsAfter   string // $1 owner [, $2..$5 other, sec, nsec, id], limit
	tombs, tombsAfter string // $1 owner [, $2, $3 other, id], limit
}

func newScanQueries(q func(string) string) scanQueries {
	const order = " ORDER BY other, sec, nsec, id LIMIT "
	cols := "other, " + msgReadColumns
	return scanQueries{
		msgs:      q("SELECT " + cols + " FROM {S}.messages WHERE owner = $1" + order + "$2"),
		msgsAfter: q("SELECT " + cols + " FROM {S}.messages WHERE owner = $1 AND (other, sec, nsec, id) > ($2, $3, $4, $5)" + order + "$6"),
		tombs:     q("SELECT other, id, retracted FROM {S}.tombstones WHERE owner = $1 ORDER BY other, id LIMIT $2"),
		tombsAfter: q("SELECT other, id, retracted FROM {S}.tombstones WHERE owner = $1 AND (other, id) > ($2, $3) " +
			"ORDER BY other, id LIMIT $4"),
	}
}

// ScanMessages implements messaging.Scanner: one statement per page.
// Only View's ReadTx has it: package messaging scans in View, and inside
// Update a scan would have to lay the transaction's buffered writes over
// the page and lock every conversation it crossed.
func (v *viewTx) ScanMessages(owner string, after *messaging.MessageEntry, limit int) ([]messaging.MessageEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	q := &v.ss.s.q.scan
	sql, args := q.msgs, []any{[]byte(owner), limit}
	if after != nil {
		sec, nsec := encodeTime(after.Created)
		sql, args = q.msgsAfter, []any{[]byte(owner), []byte(after.Other), sec, nsec, encodeID(after.ID), limit}
	}
	var out []messaging.MessageEntry
	st := step{sql: sql, args: args, reset: func() { out = out[:0] },
		row: func(r pgx.Rows) error {
			var other []byte
			var m msgRow
			if err := r.Scan(append([]any{&other}, m.dest()...)...); err != nil {
				return err
			}
			rec, err := m.record()
			if err != nil {
				return err
			}
			out = append(out, messaging.MessageEntry{Owner: owner, Other: string(other), MessageRecord: rec})
			return nil
		}}
	if err := v.ss.run(st); err != nil {
		return nil, wrapf(err, "scan the messages of %q", owner)
	}
	return out, nil
}

// ScanTombstones implements messaging.Scanner: one statement per page.
func (v *viewTx) ScanTombstones(owner string, after *messaging.TombstoneEntry, limit int) ([]messaging.TombstoneEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	q := &v.ss.s.q.scan
	sql, args := q.tombs, []any{[]byte(owner), limit}
	if after != nil {
		sql, args = q.tombsAfter, []any{[]byte(owner), []byte(after.Other), encodeID(after.ID), limit}
	}
	var out []messaging.TombstoneEntry
	st := step{sql: sql, args: args, reset: func() { out = out[:0] },
		row: func(r pgx.Rows) error {
			var other []byte
			var id int64
			var retracted bool
			if err := r.Scan(&other, &id, &retracted); err != nil {
				return err
			}
			out = append(out, messaging.TombstoneEntry{Owner: owner, Other: string(other),
				Tombstone: messaging.Tombstone{ID: decodeID(id), Retracted: retracted}})
			return nil
		}}
	if err := v.ss.run(st); err != nil {
		return nil, wrapf(err, "scan the tombstones of %q", owner)
	}
	return out, nil
}
