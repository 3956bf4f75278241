package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/socialkit/messaging"
)

// Check looks for what Inboxes.Verify cannot see through the Store
// interface: rows no inbox or conversation owns (invisible to every
// listing), messages that are also tombstoned, and values no record
// encodes to. Each kind reports at most 100 rows. It runs in one
// REPEATABLE READ READ ONLY transaction, so it sees one state of the
// store; it is a messaging.Checker.
func (s *Store) Check(ctx context.Context, report func(messaging.Problem)) error {
	return s.View(ctx, func(rtx messaging.ReadTx) error {
		ss := rtx.(*viewTx).ss
		keyRows := func(sql, detail string, withID bool) step {
			return step{sql: sql, row: func(r pgx.Rows) error {
				var owner, other []byte
				var id int64
				dest := []any{&owner, &other}
				if withID {
					dest = append(dest, &id)
				}
				if err := r.Scan(dest...); err != nil {
					return err
				}
				p := messaging.Problem{Owner: string(owner), Other: string(other), Detail: detail}
				if withID {
					p.MessageID = decodeID(id)
				}
				report(p)
				return nil
			}}
		}
		var rootRows int64
		err := ss.run(
			keyRows(s.q.checkOrphanConvs, "conversation row without an inbox row: no listing shows it", false),
			keyRows(s.q.checkOrphanMsgs, "message row without a conversation row: no listing shows it", true),
			keyRows(s.q.checkOrphanTombs, "tombstone without a conversation row", true),
			keyRows(s.q.checkTombstoned, "message is both stored and tombstoned as deleted", true),
			keyRows(s.q.checkBadTimes, "Created nanoseconds outside 0..999999999", true),
			keyRows(s.q.checkCountsInRange, "counts or LastUpdate out of range (negative, more unread than messages, bad nanoseconds)", false),
			step{sql: s.q.checkInboxSetRows, row: func(r pgx.Rows) error { return r.Scan(&rootRows) }},
		)
		if err != nil {
			return wrapf(err, "check")
		}
		if rootRows != 1 {
			report(messaging.Problem{Detail: fmt.Sprintf("table inbox_set holds %d rows, not 1", rootRows)})
		}
		return nil
	})
}
