package pgstore

import (
	"context"

	"github.com/socialkit/messaging"
)

// viewTx is the ReadTx of View: every read is one round trip in the
// transaction's snapshot, the first one carrying BEGIN.
type viewTx struct {
	ss *session
}

// View runs fn in a REPEATABLE READ READ ONLY transaction: every read sees
// the snapshot taken at fn's first read, and none takes a lock, so a View
// never waits for writers nor they for it. BEGIN goes out with the first
// read; the transaction's end is not waited for (see session.finish).
// Each read is one round trip. See messaging.Store.View.
func (s *Store) View(ctx context.Context, fn func(messaging.ReadTx) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.exit()
	v := &viewTx{ss: newSession(s, ctx, s.q.beginView)}
	defer v.ss.finish()
	return fn(v)
}

func (v *viewTx) Inbox(owner string) (messaging.InboxRecord, error) {
	var rec messaging.InboxRecord
	var found bool
	if err := v.ss.run(v.ss.s.inboxStep(owner, &rec, &found)); err != nil {
		return rec, wrapf(err, "read inbox %q", owner)
	}
	if !found {
		return rec, messaging.ErrNotFound
	}
	return rec, nil
}

func (v *viewTx) Users(after string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []string
	if err := v.ss.run(v.ss.s.usersStep(after, limit, &out)); err != nil {
		return nil, wrapf(err, "list users")
	}
	return out, nil
}

func (v *viewTx) Conversation(owner, other string) (messaging.ConversationRecord, error) {
	var rec messaging.ConversationRecord
	var found bool
	if err := v.ss.run(v.ss.s.convStep(convKey{owner, other}, &rec, &found)); err != nil {
		return rec, wrapf(err, "read conversation %q/%q", owner, other)
	}
	if !found {
		return rec, messaging.ErrNotFound
	}
	return rec, nil
}

func (v *viewTx) Conversations(owner string, after *messaging.ConversationKey, limit int) ([]messaging.ConversationRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []messaging.ConversationRecord
	if err := v.ss.run(v.ss.s.convsStep(owner, after, limit, &out)); err != nil {
		return nil, wrapf(err, "list conversations of %q", owner)
	}
	return out, nil
}

func (v *viewTx) Message(owner, other string, id uint64) (messaging.MessageRecord, error) {
	var rec messaging.MessageRecord
	var found bool
	if err := v.ss.run(v.ss.s.msgStep(msgKey{convKey{owner, other}, id}, &rec, &found)); err != nil {
		return rec, wrapf(err, "read message %d of %q/%q", id, owner, other)
	}
	if !found {
		return rec, messaging.ErrNotFound
	}
	return rec, nil
}

func (v *viewTx) Messages(owner, other string, after *messaging.MessageKey, reverse bool, limit int) ([]messaging.MessageRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []messaging.MessageRecord
	if err := v.ss.run(v.ss.s.msgsStep(convKey{owner, other}, after, reverse, limit, &out)); err != nil {
		return nil, wrapf(err, "list messages of %q/%q", owner, other)
	}
	return out, nil
}

func (v *viewTx) MessagesByID(owner, other string, afterID uint64, limit int) ([]messaging.MessageRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []messaging.MessageRecord
	if err := v.ss.run(v.ss.s.msgsByIDStep(convKey{owner, other}, afterID, limit, &out)); err != nil {
		return nil, wrapf(err, "list messages of %q/%q by ID", owner, other)
	}
	return out, nil
}

func (v *viewTx) Deleted(owner, other string, id uint64) (bool, error) {
	var deleted bool
	if err := v.ss.run(v.ss.s.tombStep(msgKey{convKey{owner, other}, id}, &deleted)); err != nil {
		return false, wrapf(err, "read tombstone %d of %q/%q", id, owner, other)
	}
	return deleted, nil
}

func (v *viewTx) Tombstones(owner, other string, afterID uint64, limit int) ([]messaging.Tombstone, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []messaging.Tombstone
	if err := v.ss.run(v.ss.s.tombsStep(convKey{owner, other}, afterID, limit, &out)); err != nil {
		return nil, wrapf(err, "list tombstones of %q/%q", owner, other)
	}
	return out, nil
}

func (v *viewTx) Blocked(user, other string) (bool, error) {
	var blocked bool
	if err := v.ss.run(v.ss.s.blockedStep(messaging.Block{User: user, Other: other}, &blocked)); err != nil {
		return false, wrapf(err, "read block of %q by %q", other, user)
	}
	return blocked, nil
}

func (v *viewTx) Blocks(after messaging.Block, limit int) ([]messaging.Block, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []messaging.Block
	if err := v.ss.run(v.ss.s.blocksStep(after, limit, &out)); err != nil {
		return nil, wrapf(err, "list blocks")
	}
	return out, nil
}

func (v *viewTx) Idempotency(sender, key string) (messaging.IdempotencyRecord, error) {
	var rec messaging.IdempotencyRecord
	var found bool
	if err := v.ss.run(v.ss.s.idemStep(idemKey{sender, key}, &rec, &found)); err != nil {
		return rec, wrapf(err, "read idempotency key %q of %q", key, sender)
	}
	if !found {
		return rec, messaging.ErrNotFound
	}
	return rec, nil
}

func (v *viewTx) Idempotencies(after messaging.IdempotencyRecord, limit int) ([]messaging.IdempotencyRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []messaging.IdempotencyRecord
	if err := v.ss.run(v.ss.s.idemsStep(after, limit, &out)); err != nil {
		return nil, wrapf(err, "list idempotency records")
	}
	return out, nil
}

func (v *viewTx) StreamBounds(user string) (first, last uint64, err error) {
	var row userRow
	var found bool
	if err := v.ss.run(v.ss.s.boundsStep(user, &row, &found)); err != nil {
		return 0, 0, wrapf(err, "read the stream bounds of %q", user)
	}
	return row.evFirst, row.evLast, nil
}

func (v *viewTx) Events(user string, after uint64, limit int) ([]messaging.EventRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []messaging.EventRecord
	if err := v.ss.run(v.ss.s.eventsStep(user, after, limit, &out)); err != nil {
		return nil, wrapf(err, "read the event stream of %q", user)
	}
	return out, nil
}

func (v *viewTx) Streams(after string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []string
	if err := v.ss.run(v.ss.s.streamsStep(after, limit, &out)); err != nil {
		return nil, wrapf(err, "list streams")
	}
	return out, nil
}
