package storetest

// Transactions: the writes the suite runs inside Update, and the reads it
// runs inside View, each failing the test on an unexpected error.

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// op is one write inside an Update.
type op func(messaging.Tx) error

func putInbox(rec messaging.InboxRecord) op {
	return func(tx messaging.Tx) error { return tx.PutInbox(rec) }
}

func putConv(rec messaging.ConversationRecord) op {
	return func(tx messaging.Tx) error { return tx.PutConversation(rec) }
}

func putMsg(owner, other string, m messaging.MessageRecord) op {
	return func(tx messaging.Tx) error { return tx.PutMessage(owner, other, m) }
}

func delInbox(owner string) op {
	return func(tx messaging.Tx) error { return tx.DeleteInbox(owner) }
}

func delConv(owner, other string) op {
	return func(tx messaging.Tx) error { return tx.DeleteConversation(owner, other) }
}

func delMsg(owner, other string, id uint64) op {
	return func(tx messaging.Tx) error { return tx.DeleteMessage(owner, other, id) }
}

func runOps(tx messaging.Tx, ops []op) error {
	for i, o := range ops {
		if err := o(tx); err != nil {
			return fmt.Errorf("write %d of %d: %w", i+1, len(ops), err)
		}
	}
	return nil
}

// update commits ops in one Update.
func update(t *testing.T, s messaging.Store, ops ...op) {
	t.Helper()
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) error { return runOps(tx, ops) }))
}

// failUpdate runs ops in one Update whose function then returns errBoom.
func failUpdate(t *testing.T, s messaging.Store, ops ...op) {
	t.Helper()
	err := s.Update(t.Context(), func(tx messaging.Tx) error {
		if err := runOps(tx, ops); err != nil {
			return err
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom, "the writes must succeed and Update must return fn's error")
}

// updateErr runs one write in an Update and returns Update's error.
func updateErr(t *testing.T, s messaging.Store, o op) error {
	t.Helper()
	return s.Update(t.Context(), func(tx messaging.Tx) error { return o(tx) })
}

func nextID(t *testing.T, s messaging.Store) uint64 {
	t.Helper()
	var id uint64
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) error {
		var err error
		id, err = tx.NextID()
		return err
	}))
	return id
}

// read runs f in a View and returns its result.
func read[T any](t *testing.T, s messaging.Store, f func(messaging.ReadTx) (T, error)) T {
	t.Helper()
	var v T
	require.NoError(t, s.View(t.Context(), func(tx messaging.ReadTx) error {
		var err error
		v, err = f(tx)
		return err
	}))
	return v
}

// lookupErr runs f in a View and returns f's error (the View itself must
// succeed).
func lookupErr(t *testing.T, s messaging.Store, f func(messaging.ReadTx) error) error {
	t.Helper()
	var ferr error
	require.NoError(t, s.View(t.Context(), func(tx messaging.ReadTx) error {
		ferr = f(tx)
		return nil
	}))
	return ferr
}

func getInbox(t *testing.T, s messaging.Store, owner string) messaging.InboxRecord {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) (messaging.InboxRecord, error) { return tx.Inbox(owner) })
}

func getConv(t *testing.T, s messaging.Store, owner, other string) messaging.ConversationRecord {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) (messaging.ConversationRecord, error) {
		return tx.Conversation(owner, other)
	})
}

func getMsg(t *testing.T, s messaging.Store, owner, other string, id uint64) messaging.MessageRecord {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) (messaging.MessageRecord, error) {
		return tx.Message(owner, other, id)
	})
}

func users(t *testing.T, s messaging.Store, after string, limit int) []string {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) ([]string, error) { return tx.Users(after, limit) })
}

func convs(t *testing.T, s messaging.Store, owner string, after *messaging.ConversationKey, limit int) []messaging.ConversationRecord {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) ([]messaging.ConversationRecord, error) {
		return tx.Conversations(owner, after, limit)
	})
}

func msgs(t *testing.T, s messaging.Store, owner, other string, after *messaging.MessageKey, reverse bool, limit int) []messaging.MessageRecord {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) ([]messaging.MessageRecord, error) {
		return tx.Messages(owner, other, after, reverse, limit)
	})
}

func msgsByID(t *testing.T, s messaging.Store, owner, other string, afterID uint64, limit int) []messaging.MessageRecord {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) ([]messaging.MessageRecord, error) {
		return tx.MessagesByID(owner, other, afterID, limit)
	})
}
