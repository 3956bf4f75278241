package messaging

// Tests of bolt_tx.go: the records, their orders and cascades, as the
// transactions read and write them.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"
)

func TestBoltTxUnusableAfterFn(t *testing.T) {
	s, _ := openTestBolt(t)
	var kept Tx
	require.NoError(t, s.Update(context.Background(), func(tx Tx) error { kept = tx; return nil }))
	assert.ErrorIs(t, kept.PutInbox(InboxRecord{Owner: "late"}), errTxDone)
	_, err := kept.Inbox("late")
	assert.ErrorIs(t, err, errTxDone)
}

func TestBoltConversationsOrderAndIndexMove(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	putInbox(t, s, "bob")
	put := func(other string, lu time.Time) {
		t.Helper()
		require.NoError(t, s.Update(ctx, func(tx Tx) error {
			return tx.PutConversation(ConversationRecord{Owner: "bob", Other: other, LastUpdate: lu})
		}))
	}
	put("carol", t0)
	put("dave", t0.Add(time.Hour))
	put("al", t0)
	put("zed", t0.Add(-time.Hour))
	put("zed", t0.Add(2*time.Hour)) // moves to the front
	put("al", t0.Add(time.Hour))    // ties with dave, sorts before it

	others := func(recs []ConversationRecord) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.Other)
		}
		return out
	}
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		all, err := tx.Conversations("bob", nil, 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"zed", "al", "dave", "carol"}, others(all))
		k := all[1].Key()
		page, err := tx.Conversations("bob", &k, 2)
		require.NoError(t, err)
		assert.Equal(t, []string{"dave", "carol"}, others(page))
		// A position that is not stored.
		page, err = tx.Conversations("bob", &ConversationKey{LastUpdate: t0.Add(90 * time.Minute), Other: "q"}, 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"al", "dave", "carol"}, others(page))
		none, err := tx.Conversations("bob", nil, 0)
		assert.Empty(t, none)
		assert.NoError(t, err)
		none, err = tx.Conversations("nobody", nil, 10)
		assert.Empty(t, none)
		return err
	}))

	// Deleting removes the index entry.
	require.NoError(t, s.Update(ctx, func(tx Tx) error { return tx.DeleteConversation("bob", "al") }))
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		all, err := tx.Conversations("bob", nil, 10)
		assert.Equal(t, []string{"zed", "dave", "carol"}, others(all))
		_, cerr := tx.Conversation("bob", "al")
		assert.ErrorIs(t, cerr, ErrNotFound)
		return err
	}))
	err := s.Update(ctx, func(tx Tx) error { return tx.DeleteConversation("bob", "al") })
	assert.ErrorIs(t, err, ErrNotFound)
	err = s.Update(ctx, func(tx Tx) error {
		return tx.PutConversation(ConversationRecord{Owner: "nobody", Other: "x"})
	})
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestBoltMessagesOrderAndPositions(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	putInbox(t, s, "bob")
	// Created out of ID order, with ties, before and after 1970.
	created := []time.Time{
		t0, t0.Add(-time.Nanosecond), t0, time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC), t0.Add(time.Second),
	}
	var want []MessageRecord
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		if err := tx.PutConversation(ConversationRecord{Owner: "bob", Other: "dave", LastUpdate: t0}); err != nil {
			return err
		}
		for i, c := range created {
			m := MessageRecord{ID: uint64(10 + i), Sender: "dave", Recipient: "bob", Text: fmt.Sprint("m", i), Created: c}
			want = append(want, m)
			if err := tx.PutMessage("bob", "dave", m); err != nil {
				return err
			}
		}
		return nil
	}))
	// (Created, ID) order: 13, 11, 10, 12, 14.
	ids := func(ms []MessageRecord) []uint64 {
		var out []uint64
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		fwd, err := tx.Messages("bob", "dave", nil, false, 10)
		require.NoError(t, err)
		assert.Equal(t, []uint64{13, 11, 10, 12, 14}, ids(fwd))
		back, err := tx.Messages("bob", "dave", nil, true, 2)
		require.NoError(t, err)
		assert.Equal(t, []uint64{14, 12}, ids(back))

		k := want[0].Key() // ID 10
		fwd, err = tx.Messages("bob", "dave", &k, false, 10)
		require.NoError(t, err)
		assert.Equal(t, []uint64{12, 14}, ids(fwd))
		back, err = tx.Messages("bob", "dave", &k, true, 10)
		require.NoError(t, err)
		assert.Equal(t, []uint64{11, 13}, ids(back))

		// Positions that are not stored messages.
		between := MessageKey{Created: t0, ID: 11}
		fwd, err = tx.Messages("bob", "dave", &between, false, 10)
		require.NoError(t, err)
		assert.Equal(t, []uint64{12, 14}, ids(fwd))
		back, err = tx.Messages("bob", "dave", &between, true, 10)
		require.NoError(t, err)
		assert.Equal(t, []uint64{10, 11, 13}, ids(back))
		past := MessageKey{Created: t0.Add(time.Hour)}
		back, err = tx.Messages("bob", "dave", &past, true, 1)
		require.NoError(t, err)
		assert.Equal(t, []uint64{14}, ids(back))
		fwd, err = tx.Messages("bob", "dave", &past, false, 1)
		require.NoError(t, err)
		assert.Empty(t, fwd)

		byID, err := tx.MessagesByID("bob", "dave", 11, 2)
		require.NoError(t, err)
		assert.Equal(t, []uint64{12, 13}, ids(byID))
		byID, err = tx.MessagesByID("bob", "dave", math.MaxUint64, 2)
		require.NoError(t, err)
		assert.Empty(t, byID)

		m, err := tx.Message("bob", "dave", 12)
		require.NoError(t, err)
		assert.Equal(t, want[2], m)
		assert.Equal(t, time.UTC, m.Created.Location())
		_, err = tx.Message("bob", "dave", 99)
		assert.ErrorIs(t, err, ErrNotFound)
		_, err = tx.Message("bob", "nobody", 12)
		assert.ErrorIs(t, err, ErrNotFound)

		none, err := tx.Messages("bob", "nobody", nil, false, 10)
		assert.Empty(t, none)
		assert.NoError(t, err)
		none, err = tx.Messages("bob", "dave", nil, false, 0)
		assert.Empty(t, none)
		return err
	}))

	// Replacing a message with a new Created moves it; deleting removes it.
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		m := want[3]
		m.Created = t0.Add(time.Hour)
		m.Text = "moved"
		if err := tx.PutMessage("bob", "dave", m); err != nil {
			return err
		}
		return tx.DeleteMessage("bob", "dave", 11)
	}))
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		fwd, err := tx.Messages("bob", "dave", nil, false, 10)
		assert.Equal(t, []uint64{10, 12, 14, 13}, ids(fwd))
		return err
	}))
	err := s.Update(ctx, func(tx Tx) error { return tx.DeleteMessage("bob", "dave", 11) })
	assert.ErrorIs(t, err, ErrNotFound)
	err = s.Update(ctx, func(tx Tx) error { return tx.PutMessage("bob", "nobody", want[0]) })
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestBoltDeleteInboxCascades(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	for _, u := range []string{"bob", "dave", "bob/x", "b", "bo\x00b"} {
		putInbox(t, s, u)
	}
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		if err := tx.PutConversation(ConversationRecord{Owner: "bob", Other: "dave", LastUpdate: t0}); err != nil {
			return err
		}
		return tx.PutMessage("bob", "dave", MessageRecord{ID: 1, Sender: "bob", Recipient: "dave", Text: "x", Created: t0})
	}))
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		users, err := tx.Users("", 10)
		assert.Equal(t, []string{"b", "bo\x00b", "bob", "bob/x", "dave"}, users)
		page, err2 := tx.Users("bo\x00b", 2)
		assert.Equal(t, []string{"bob", "bob/x"}, page)
		page, err3 := tx.Users("bob/", 10)
		assert.Equal(t, []string{"bob/x", "dave"}, page)
		none, err4 := tx.Users("", 0)
		assert.Empty(t, none)
		return errors.Join(err, err2, err3, err4)
	}))
	require.NoError(t, s.Update(ctx, func(tx Tx) error { return tx.DeleteInbox("bob") }))
	putInbox(t, s, "bob")
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		_, err := tx.Conversation("bob", "dave")
		assert.ErrorIs(t, err, ErrNotFound)
		convs, err := tx.Conversations("bob", nil, 10)
		assert.Empty(t, convs)
		return err
	}))
	err := s.Update(ctx, func(tx Tx) error { return tx.DeleteInbox("nobody") })
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestBoltCorruptRecordIsAnError(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	putInbox(t, s, "bob")
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		if err := tx.PutConversation(ConversationRecord{Owner: "bob", Other: "dave", LastUpdate: t0}); err != nil {
			return err
		}
		return tx.PutMessage("bob", "dave", MessageRecord{ID: 1, Text: "x", Created: t0})
	}))
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
		ob := tx.Bucket(bucketUsers).Bucket([]byte("bob"))
		if err := ob.Put(keyInbox, []byte{1, 2}); err != nil {
			return err
		}
		cb := ob.Bucket(keyConvs).Bucket([]byte("dave"))
		if err := cb.Put(keyRecord, []byte{9}); err != nil {
			return err
		}
		return cb.Bucket(keyMessages).Put(encodeMessageKey(MessageKey{Created: t0, ID: 1}), []byte{1, 0xff})
	}))
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		_, err := tx.Inbox("bob")
		assert.ErrorIs(t, err, ErrCorrupt)
		_, err = tx.Conversation("bob", "dave")
		assert.ErrorIs(t, err, ErrCorrupt)
		_, err = tx.Conversations("bob", nil, 10)
		assert.ErrorIs(t, err, ErrCorrupt)
		_, err = tx.Message("bob", "dave", 1)
		assert.ErrorIs(t, err, ErrCorrupt)
		_, err = tx.Messages("bob", "dave", nil, false, 10)
		assert.ErrorIs(t, err, ErrCorrupt)
		return nil
	}))
}

// TestBoltNotFoundIsBare: the root package adds the context of a missing
// record itself, so the store returns ErrNotFound as it is.
func TestBoltNotFoundIsBare(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	putInbox(t, s, "bob")
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		return tx.PutConversation(ConversationRecord{Owner: "bob", Other: "dave", LastUpdate: t0})
	}))
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		_, err := tx.Inbox("nobody")
		assert.Same(t, ErrNotFound, err, "Inbox")
		_, err = tx.Conversation("bob", "nobody")
		assert.Same(t, ErrNotFound, err, "Conversation")
		_, err = tx.Conversation("nobody", "bob")
		assert.Same(t, ErrNotFound, err, "Conversation of an unknown owner")
		_, err = tx.Message("bob", "dave", 1)
		assert.Same(t, ErrNotFound, err, "Message")
		_, err = tx.Message("bob", "nobody", 1)
		assert.Same(t, ErrNotFound, err, "Message of an unknown conversation")
		return nil
	}))
	for name, fn := range map[string]func(Tx) error{
		"DeleteInbox":         func(tx Tx) error { return tx.DeleteInbox("nobody") },
		"PutConversation":     func(tx Tx) error { return tx.PutConversation(ConversationRecord{Owner: "nobody", Other: "x"}) },
		"DeleteConversation":  func(tx Tx) error { return tx.DeleteConversation("bob", "nobody") },
		"PutMessage":          func(tx Tx) error { return tx.PutMessage("bob", "nobody", MessageRecord{ID: 1}) },
		"DeleteMessage":       func(tx Tx) error { return tx.DeleteMessage("bob", "dave", 1) },
		"DeleteMessage/nconv": func(tx Tx) error { return tx.DeleteMessage("bob", "nobody", 1) },
	} {
		assert.Same(t, ErrNotFound, s.Update(ctx, fn), name)
	}
}
