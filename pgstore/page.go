package pgstore

// One page of a conversation in one round trip (messaging.PageReader):
// the conversation, where the cursor is, and the page after it, as three
// statements in one pipeline, which see one snapshot. The page statement
// finds the cursor's position itself, as the second statement does for
// the caller.

import (
	"github.com/jackc/pgx/v5"

	"github.com/socialkit/messaging"
)

var _ messaging.PageReader = (*viewTx)(nil)

// ReadPage implements messaging.PageReader.
func (v *viewTx) ReadPage(owner, other string, from uint64, reverse bool, limit int) (messaging.Page, error) {
	var p messaging.Page
	var found bool
	k := convKey{owner, other}
	steps := []step{v.ss.s.convStep(k, &p.Conversation, &found)}
	var here, theirs *messaging.MessageKey
	if from != 0 {
		steps = append(steps, step{
			sql:   v.ss.s.q.pageCursor,
			args:  []any{[]byte(owner), []byte(other), encodeID(from)},
			reset: func() { here, theirs, p.Deleted = nil, nil, false },
			row: func(r pgx.Rows) error {
				var kind int16
				var sec, id int64
				var nsec int32
				var sender []byte
				if err := r.Scan(&kind, &sec, &nsec, &id, &sender); err != nil {
					return err
				}
				key := &messaging.MessageKey{Created: decodeTime(sec, nsec), ID: decodeID(id)}
				switch kind {
				case 1:
					here = key
				case 2:
					p.Deleted = true
				default:
					theirs = key
				}
				return nil
			},
		})
	}
	if limit > 0 {
		st := v.ss.s.msgsStep(k, nil, reverse, limit, &p.Messages)
		if from != 0 {
			dir := 0
			if reverse {
				dir = 1
			}
			st.sql, st.args = v.ss.s.q.pageAfter[dir], []any{[]byte(owner), []byte(other), encodeID(from), limit}
		}
		steps = append(steps, st)
	}
	if err := v.ss.run(steps...); err != nil {
		return messaging.Page{}, wrapf(err, "read a page of %q/%q", owner, other)
	}
	if !found {
		return messaging.Page{}, messaging.ErrNotFound
	}
	switch {
	case here != nil:
		p.Cursor, p.Deleted = here, false
	case p.Deleted && theirs != nil:
		p.Cursor = theirs
	}
	if from != 0 && p.Cursor == nil {
		p.Messages = nil
	}
	return p, nil
}
