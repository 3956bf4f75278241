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
			rec, err := c.record()
			*out, *found = rec, true
			return err
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
			rec, err := c.record()
			*out = append(*out, rec)
			return err
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
		rec, err := m.record()
		*out = append(*out, rec)
		return err
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
			rec, err := m.record()
			*out, *found = rec, true
			return err
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

func (s *Store) tombsStep(k convKey, afterID uint64, limit int, out *[]messaging.Tombstone) step {
	return step{
		sql:   s.q.tombs,
		args:  []any{[]byte(k.owner), []byte(k.other), encodeID(afterID), limit},
		reset: func() { *out = nil },
		row: func(r pgx.Rows) error {
			var id int64
			var tomb messaging.Tombstone
			if err := r.Scan(&id, &tomb.Retracted); err != nil {
				return err
			}
			tomb.ID = decodeID(id)
			*out = append(*out, tomb)
			return nil
		},
	}
}

func (s *Store) blockedStep(b messaging.Block, out *bool) step {
	return step{
		sql:  s.q.blocked,
		args: []any{[]byte(b.User), []byte(b.Other)},
		row:  func(r pgx.Rows) error { return r.Scan(out) },
	}
}

func (s *Store) blocksStep(after messaging.Block, limit int, out *[]messaging.Block) step {
	return step{
		sql:   s.q.blocks,
		args:  []any{[]byte(after.User), []byte(after.Other), limit},
		reset: func() { *out = nil },
		row: func(r pgx.Rows) error {
			var user, other []byte
			if err := r.Scan(&user, &other); err != nil {
				return err
			}
			*out = append(*out, messaging.Block{User: string(user), Other: string(other)})
			return nil
		},
	}
}

func idemRows(out *[]messaging.IdempotencyRecord) func(pgx.Rows) error {
	return func(r pgx.Rows) error {
		var row idemRow
		if err := r.Scan(row.dest()...); err != nil {
			return err
		}
		rec, err := row.record()
		*out = append(*out, rec)
		return err
	}
}

func (s *Store) idemStep(k idemKey, out *messaging.IdempotencyRecord, found *bool) step {
	return step{
		sql:   s.q.idem,
		args:  []any{[]byte(k.sender), []byte(k.key)},
		reset: func() { *out, *found = messaging.IdempotencyRecord{}, false },
		row: func(r pgx.Rows) error {
			var row idemRow
			if err := r.Scan(row.dest()...); err != nil {
				return err
			}
			rec, err := row.record()
			*out, *found = rec, true
			return err
		},
	}
}

func (s *Store) idemsStep(after messaging.IdempotencyRecord, limit int, out *[]messaging.IdempotencyRecord) step {
	return step{
		sql:   s.q.idems,
		args:  []any{[]byte(after.Sender), []byte(after.Key), limit},
		reset: func() { *out = nil },
		row:   idemRows(out),
	}
}

// boundsStep reads the bounds of user's stream; a user without a row has
// none.
func (s *Store) boundsStep(user string, out *userRow, found *bool) step {
	return step{
		sql:   s.q.readUser,
		args:  []any{[]byte(user)},
		reset: func() { *out, *found = userRow{}, false },
		row: func(r pgx.Rows) error {
			var first, last, phys int64
			if err := r.Scan(&first, &last, &out.evCount, &phys); err != nil {
				return err
			}
			out.evFirst, out.evLast, out.evPhys, *found = decodeID(first), decodeID(last), decodeID(phys), true
			return nil
		},
	}
}

func (s *Store) eventsStep(user string, after uint64, limit int, out *[]messaging.EventRecord) step {
	return step{
		sql:   s.q.events,
		args:  []any{[]byte(user), encodeID(after), limit},
		reset: func() { *out = nil },
		row: func(r pgx.Rows) error {
			var seq int64
			var data []byte
			if err := r.Scan(&seq, &data); err != nil {
				return err
			}
			*out = append(*out, messaging.EventRecord{User: user, Seq: decodeID(seq), Data: data})
			return nil
		},
	}
}

func (s *Store) streamsStep(after string, limit int, out *[]string) step {
	st := s.usersStep(after, limit, out)
	st.sql = s.q.streams
	return st
}
