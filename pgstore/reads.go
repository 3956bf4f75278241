package pgstore

// The read statements, as pipeline steps that fill in the caller's
// variables. View runs each on its own; Update runs them after the locks
// they need and the writes buffered before them, in one pipeline.

import (
	"github.com/jackc/pgx/v5"

	"github.com/socialkit/messaging"
)

func (s *Store) inboxStep(owner string, out *messaging.InboxRecord, found *bool) step {
	return step{
		sql:   s.q.readInbox,
		args:  []any{[]byte(owner)},
		reset: func() { *out, *found = messaging.InboxRecord{}, false },
		row: func(r pgx.Rows) error {
			var unread int64
			if err := r.Scan(&unread); err != nil {
				return err
			}
			*out, *found = messaging.InboxRecord{Owner: owner, Unread: int(unread)}, true
			return nil
		},
	}
}

func (s *Store) convStep(k convKey, out *messaging.ConversationRecord, found *bool) step {
	return step{
		sql:   s.q.readConv,
		args:  []any{[]byte(k.owner), []byte(k.other)},
		reset: func() { *out, *found = messaging.ConversationRecord{}, false },
		row: func(r pgx.Rows) error {
			var c convRow
			if err := r.Scan(c.dest()...); err != nil {
				return err
			}
			*out, *found = c.record(), true
			return nil
		},
	}
}

func (s *Store) usersStep(after string, limit int, out *[]string) step {
	return step{
		sql:   s.q.users,
		args:  []any{[]byte(after), limit},
		reset: func() { *out = nil },
		row: func(r pgx.Rows) error {
			var owner []byte
			if err := r.Scan(&owner); err != nil {
				return err
			}
			*out = append(*out, string(owner))
			return nil
		},
	}
}

func (s *Store) convsStep(owner string, after *messaging.ConversationKey, limit int, out *[]messaging.ConversationRecord) step {
	st := step{
		sql:   s.q.convs,
		args:  []any{[]byte(owner), limit},
		reset: func() { *out = nil },
		row: func(r pgx.Rows) error {
			var c convRow
			if err := r.Scan(c.dest()...); err != nil {
				return err
			}
			*out = append(*out, c.record())
			return nil
		},
	}
	if after != nil {
		sec, nsec := encodeTime(after.LastUpdate)
		st.sql, st.args = s.q.convsAfter, []any{[]byte(owner), -sec, -nsec, []byte(after.Other), limit}
	}
	return st
}

func msgRows(out *[]messaging.MessageRecord) func(pgx.Rows) error {
	return func(r pgx.Rows) error {
		var m msgRow
		if err := r.Scan(m.dest()...); err != nil {
			return err
		}
		*out = append(*out, m.record())
		return nil
	}
}

func (s *Store) msgStep(k msgKey, out *messaging.MessageRecord, found *bool) step {
	return step{
		sql:   s.q.msg,
		args:  []any{[]byte(k.conv.owner), []byte(k.conv.other), encodeID(k.id)},
		reset: func() { *out, *found = messaging.MessageRecord{}, false },
		row: func(r pgx.Rows) error {
			var m msgRow
			if err := r.Scan(m.dest()...); err != nil {
				return err
			}
			*out, *found = m.record(), true
			return nil
		},
	}
}

func (s *Store) msgsStep(k convKey, after *messaging.MessageKey, reverse bool, limit int, out *[]messaging.MessageRecord) step {
	owner, other := []byte(k.owner), []byte(k.other)
	st := step{reset: func() { *out = nil }, row: msgRows(out)}
	switch {
	case after == nil && !reverse:
		st.sql, st.args = s.q.msgsAsc, []any{owner, other, limit}
	case after == nil:
		st.sql, st.args = s.q.msgsDesc, []any{owner, other, limit}
	default:
		sec, nsec := encodeTime(after.Created)
		st.sql, st.args = s.q.msgsAscAfter, []any{owner, other, sec, nsec, encodeID(after.ID), limit}
		if reverse {
			st.sql = s.q.msgsDescAfter
		}
	}
	return st
}

func (s *Store) msgsByIDStep(k convKey, afterID uint64, limit int, out *[]messaging.MessageRecord) step {
	return step{
		sql:   s.q.msgsByID,
		args:  []any{[]byte(k.owner), []byte(k.other), encodeID(afterID), limit},
		reset: func() { *out = nil },
		row:   msgRows(out),
	}
}

func (s *Store) tombStep(k msgKey, out *bool) step {
	return step{
		sql:  s.q.tombRead,
		args: []any{[]byte(k.conv.owner), []byte(k.conv.other), encodeID(k.id)},
		row:  func(r pgx.Rows) error { return r.Scan(out) },
	}
}
