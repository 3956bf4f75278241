package messaging_test

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/socialkit/messaging"
)

// Store wrappers for tests: each passes every Tx call to the wrapped store,
// after asking a hook what to do with it.

// hookedTx passes every call to tx after hook(write) says go on. It does not
// embed messaging.Tx on purpose: a method added to the interface must be
// added here too, or the tests stop compiling, so no record operation slips
// past the hook.
type hookedTx struct {
	tx   messaging.Tx
	hook func(write bool) error
}

var _ messaging.Tx = hookedTx{}

func (h hookedTx) Inbox(owner string) (messaging.InboxRecord, error) {
	if err := h.hook(false); err != nil {
		return messaging.InboxRecord{}, err
	}
	return h.tx.Inbox(owner)
}

func (h hookedTx) Users(after string, limit int) ([]string, error) {
	if err := h.hook(false); err != nil {
		return nil, err
	}
	return h.tx.Users(after, limit)
}

func (h hookedTx) Conversation(owner, other string) (messaging.ConversationRecord, error) {
	if err := h.hook(false); err != nil {
		return messaging.ConversationRecord{}, err
	}
	return h.tx.Conversation(owner, other)
}

func (h hookedTx) Conversations(owner string, after *messaging.ConversationKey, limit int) ([]messaging.ConversationRecord, error) {
	if err := h.hook(false); err != nil {
		return nil, err
	}
	return h.tx.Conversations(owner, after, limit)
}

func (h hookedTx) Message(owner, other string, id uint64) (messaging.MessageRecord, error) {
	if err := h.hook(false); err != nil {
		return messaging.MessageRecord{}, err
	}
	return h.tx.Message(owner, other, id)
}

func (h hookedTx) Messages(owner, other string, after *messaging.MessageKey, reverse bool, limit int) ([]messaging.MessageRecord, error) {
	if err := h.hook(false); err != nil {
		return nil, err
	}
	return h.tx.Messages(owner, other, after, reverse, limit)
}

func (h hookedTx) MessagesByID(owner, other string, afterID uint64, limit int) ([]messaging.MessageRecord, error) {
	if err := h.hook(false); err != nil {
		return nil, err
	}
	return h.tx.MessagesByID(owner, other, afterID, limit)
}

func (h hookedTx) Deleted(owner, other string, id uint64) (bool, error) {
	if err := h.hook(false); err != nil {
		return false, err
	}
	return h.tx.Deleted(owner, other, id)
}

func (h hookedTx) NextID() (uint64, error) {
	if err := h.hook(true); err != nil {
		return 0, err
	}
	return h.tx.NextID()
}

func (h hookedTx) PutInbox(rec messaging.InboxRecord) error {
	if err := h.hook(true); err != nil {
		return err
	}
	return h.tx.PutInbox(rec)
}

func (h hookedTx) DeleteInbox(owner string) error {
	if err := h.hook(true); err != nil {
		return err
	}
	return h.tx.DeleteInbox(owner)
}

func (h hookedTx) PutConversation(rec messaging.ConversationRecord) error {
	if err := h.hook(true); err != nil {
		return err
	}
	return h.tx.PutConversation(rec)
}

func (h hookedTx) DeleteConversation(owner, other string) error {
	if err := h.hook(true); err != nil {
		return err
	}
	return h.tx.DeleteConversation(owner, other)
}

func (h hookedTx) PutMessage(owner, other string, m messaging.MessageRecord) error {
	if err := h.hook(true); err != nil {
		return err
	}
	return h.tx.PutMessage(owner, other, m)
}

func (h hookedTx) DeleteMessage(owner, other string, id uint64) error {
	if err := h.hook(true); err != nil {
		return err
	}
	return h.tx.DeleteMessage(owner, other, id)
}

func (h hookedTx) OnCommit(f func()) { h.tx.OnCommit(f) }

func (h hookedTx) Tombstones(owner, other string, afterID uint64, limit int) ([]messaging.Tombstone, error) {
	if err := h.hook(false); err != nil {
		return nil, err
	}
	return h.tx.Tombstones(owner, other, afterID, limit)
}

func (h hookedTx) Blocked(user, other string) (bool, error) {
	if err := h.hook(false); err != nil {
		return false, err
	}
	return h.tx.Blocked(user, other)
}

func (h hookedTx) Blocks(after messaging.Block, limit int) ([]messaging.Block, error) {
	if err := h.hook(false); err != nil {
		return nil, err
	}
	return h.tx.Blocks(after, limit)
}

func (h hookedTx) Idempotency(sender, key string) (messaging.IdempotencyRecord, error) {
	if err := h.hook(false); err != nil {
		return messaging.IdempotencyRecord{}, err
	}
	return h.tx.Idempotency(sender, key)
}

func (h hookedTx) Idempotencies(after messaging.IdempotencyRecord, limit int) ([]messaging.IdempotencyRecord, error) {
	if err := h.hook(false); err != nil {
		return nil, err
	}
	return h.tx.Idempotencies(after, limit)
}

func (h hookedTx) StreamBounds(user string) (first, last uint64, err error) {
	if err := h.hook(false); err != nil {
		return 0, 0, err
	}
	return h.tx.StreamBounds(user)
}

func (h hookedTx) Events(user string, after uint64, limit int) ([]messaging.EventRecord, error) {
	if err := h.hook(false); err != nil {
		return nil, err
	}
	return h.tx.Events(user, after, limit)
}

func (h hookedTx) Streams(after string, limit int) ([]string, error) {
	if err := h.hook(false); err != nil {
		return nil, err
	}
	return h.tx.Streams(after, limit)
}

func (h hookedTx) PutTombstone(owner, other string, t messaging.Tombstone) error {
	if err := h.hook(true); err != nil {
		return err
	}
	return h.tx.PutTombstone(owner, other, t)
}

func (h hookedTx) PutBlock(b messaging.Block) error {
	if err := h.hook(true); err != nil {
		return err
	}
	return h.tx.PutBlock(b)
}

func (h hookedTx) DeleteBlock(b messaging.Block) error {
	if err := h.hook(true); err != nil {
		return err
	}
	return h.tx.DeleteBlock(b)
}

func (h hookedTx) PutIdempotency(rec messaging.IdempotencyRecord) error {
	if err := h.hook(true); err != nil {
		return err
	}
	return h.tx.PutIdempotency(rec)
}

func (h hookedTx) DeleteIdempotencies(before time.Time, limit int) (int, error) {
	if err := h.hook(true); err != nil {
		return 0, err
	}
	return h.tx.DeleteIdempotencies(before, limit)
}

func (h hookedTx) PutEvent(rec messaging.EventRecord) error {
	if err := h.hook(true); err != nil {
		return err
	}
	return h.tx.PutEvent(rec)
}

func (h hookedTx) DeleteEvents(user string, upTo uint64) error {
	if err := h.hook(true); err != nil {
		return err
	}
	return h.tx.DeleteEvents(user, upTo)
}

func (h hookedTx) AdvanceID(id uint64) error {
	if err := h.hook(true); err != nil {
		return err
	}
	return h.tx.AdvanceID(id)
}

// writeCountingStore counts the record writes of committed and failed
// Updates alike.
type writeCountingStore struct {
	messaging.Store
	writes atomic.Int64
}

func (s *writeCountingStore) Update(ctx context.Context, fn func(messaging.Tx) error) error {
	return s.Store.Update(ctx, func(tx messaging.Tx) error {
		return fn(hookedTx{tx: tx, hook: func(write bool) error {
			if write {
				s.writes.Add(1)
			}
			return nil
		}})
	})
}

// rerunStore runs every Update function twice: once in a transaction it
// then rolls back, and again for real, as a store that groups commits or
// retries serialization failures may. A function with effects outside its
// transaction (a counter bumped, an event sent, a value captured from the
// first run) shows up in the tests run over it.
type rerunStore struct {
	messaging.Store
}

var errRollBack = errors.New("roll back the first run")

func (s rerunStore) Update(ctx context.Context, fn func(messaging.Tx) error) error {
	err := s.Store.Update(ctx, func(tx messaging.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errRollBack
	})
	if !errors.Is(err, errRollBack) {
		return err // the function failed, or the store refused: as if run once
	}
	return s.Store.Update(ctx, fn)
}

// faultStore fails the failAt-th record operation (read or write) of each
// Update, counting from 1; failAt one past the last operation fails the
// commit instead (the function succeeded, and its transaction is rolled
// back). ops counts the operations of the last Update.
type faultStore struct {
	messaging.Store
	failAt int
	ops    int
}

var errInjectedFault = errors.New("injected fault")

func (s *faultStore) Update(ctx context.Context, fn func(messaging.Tx) error) error {
	return s.Store.Update(ctx, func(tx messaging.Tx) error {
		s.ops = 0
		err := fn(hookedTx{tx: tx, hook: func(bool) error {
			s.ops++
			if s.ops == s.failAt {
				return errInjectedFault
			}
			return nil
		}})
		if err == nil && s.ops+1 == s.failAt {
			return errInjectedFault // the commit fails
		}
		return err
	})
}

// viewCountingStore counts read transactions.
type viewCountingStore struct {
	messaging.Store
	views atomic.Int64
}

func (s *viewCountingStore) View(ctx context.Context, fn func(messaging.ReadTx) error) error {
	s.views.Add(1)
	return s.Store.View(ctx, fn)
}
