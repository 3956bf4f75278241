package messaging

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"time"
)

// Page sizes for the paging methods. A limit of 0 or less means
// DefaultPageSize; a larger limit than MaxPageSize is cut to it, so that one
// call never holds a read transaction for long.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

func pageLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}

// Older returns up to limit messages older than the message with ID before
// (by Created, then ID), newest first: what a chat screen shows as it
// scrolls back. before == 0 starts at the newest message, so Older(ctx, 0,
// 50) is the opening screen and Older(ctx, page[len(page)-1].ID, 50) the
// next one.
//
// Paging is by position, not offset: messages that arrive or are deleted
// between calls neither repeat nor hide any other message. The message named
// by before must be in this conversation, or have been deleted from this
// side only (its position is then read from the other side's copy);
// otherwise the error wraps ErrBadCursor — so does a message deleted from
// both sides or retracted, whose position is kept nowhere: a screen told
// of a MessageRetracted should page from the message shown next to it.
// Each call reads one page in one read transaction.
func (c *Conversation) Older(ctx context.Context, before uint64, limit int) ([]Message, error) {
	return c.page(ctx, before, true, limit)
}

// Newer returns up to limit messages newer than the message with ID after,
// oldest first: for reading a conversation from the start (after == 0), or
// for fetching what arrived since the newest message a screen shows. It
// pages like Older.
func (c *Conversation) Newer(ctx context.Context, after uint64, limit int) ([]Message, error) {
	return c.page(ctx, after, false, limit)
}

func (c *Conversation) page(ctx context.Context, from uint64, reverse bool, limit int) ([]Message, error) {
	var page []Message
	err := c.inboxes.store.View(ctx, func(tx ReadTx) error {
		rec, recs, err := readPage(tx, c.Owner, c.Username, from, reverse, pageLimit(limit)) // pager.go
		if err != nil {
			return err
		}
		page = make([]Message, len(recs))
		for i, m := range recs {
			page[i] = message(rec, m)
		}
		return nil
	})
	if err != nil {
		return nil, c.wrap(err, "page messages")
	}
	return page, nil
}

// cursorKey finds the position of the message id in owner's conversation
// with other. A message deleted from this side since the caller got its ID
// still marks a position: the other side's copy has the same key. Only a
// message that was never here, or is gone from both sides, is a bad cursor.
func cursorKey(tx ReadTx, owner, other string, id uint64) (MessageKey, error) {
	m, err := tx.Message(owner, other, id)
	if err == nil {
		return m.Key(), nil
	}
	if !errors.Is(err, ErrNotFound) {
		return MessageKey{}, err
	}
	deleted, err := tx.Deleted(owner, other, id)
	if err != nil {
		return MessageKey{}, err
	}
	if !deleted {
		return MessageKey{}, wrapf(ErrBadCursor, "message %d is not in this conversation", id)
	}
	m, err = tx.Message(other, owner, id)
	if errors.Is(err, ErrNotFound) {
		return MessageKey{}, wrapf(ErrBadCursor, "message %d was deleted from both sides of this conversation", id)
	}
	if err != nil {
		return MessageKey{}, err
	}
	return m.Key(), nil
}

// MarkReadUpTo marks read the messages of the conversation up to and
// including the message with ID id: what a screen has shown. Read marks are
// message IDs, which follow the order messages were sent in; only a
// back-dated message can sort before id yet stay new. Marking up to a
// message already covered, or over messages none of which is new, writes
// nothing and emits nothing; otherwise the counts fall by the new messages
// the mark now covers, which costs a walk over those messages only.
//
// id may be a message deleted from this side since the screen showed it
// (its place is known, as for Older and Newer); an id that was never in
// this conversation gives an error wrapping ErrNotFound.
func (c *Conversation) MarkReadUpTo(ctx context.Context, id uint64) error {
	err := c.inboxes.write(ctx, func(tx Tx) ([]change, error) {
		rec, err := tx.Conversation(c.Owner, c.Username)
		if err != nil {
			return nil, err
		}
		if err := hadMessage(tx, c.Owner, c.Username, id); err != nil {
			return nil, err
		}
		read, err := newlyRead(tx, rec, id)
		if err != nil {
			return nil, err
		}
		return markRead(tx, rec, id, read)
	})
	return c.wrap(err, fmt.Sprintf("mark read up to %d", id))
}

// hadMessage returns nil if owner's conversation with other holds the
// message id, or held it until it was deleted from this side, and an error
// wrapping ErrNotFound otherwise.
func hadMessage(tx ReadTx, owner, other string, id uint64) error {
	_, err := tx.Message(owner, other, id)
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	deleted, err := tx.Deleted(owner, other, id)
	if err != nil || deleted {
		return err
	}
	return wrapf(ErrNotFound, "message %d", id)
}

// ConversationPage is one page of an inbox's conversations, newest first,
// each with the summaries a list screen shows (NewMessagesCount,
// MessageCount, LastUpdate, LastMessage) read with the page, not one query
// per conversation.
type ConversationPage struct {
	Conversations []*Conversation `json:"conversations"`
	// Next is the cursor for the page after this one; empty when this page
	// holds the last conversation.
	Next string `json:"next"`
}

// ConversationPage returns up to limit conversations of the inbox, newest
// LastUpdate first, starting after cursor ("" starts at the newest). Pass a
// page's Next to get the next page.
//
// The cursor is an opaque position (a LastUpdate and a user id), not an
// offset: conversations that are created, deleted or move to the top between
// calls neither repeat nor hide the others. A conversation whose newest
// message is deleted moves down, and may show up again on a later page. A
// cursor that is garbage or from another inbox gives an error wrapping
// ErrBadCursor; an inbox that does not exist (any more), one wrapping
// ErrNotFound. Each call reads one page in one read transaction.
func (box *Inbox) ConversationPage(ctx context.Context, cursor string, limit int) (ConversationPage, error) {
	var after *ConversationKey
	if cursor != "" {
		k, err := decodeCursor(box.Username, cursor)
		if err != nil {
			return ConversationPage{}, wrapf(err, "page conversations of %q", box.Username)
		}
		after = &k
	}
	limit = pageLimit(limit)
	var recs []ConversationRecord
	err := box.inboxes.store.View(ctx, func(tx ReadTx) (err error) {
		if _, err := tx.Inbox(box.Username); err != nil {
			return err
		}
		recs, err = tx.Conversations(box.Username, after, limit+1) // one more: is there a next page?
		return err
	})
	if err != nil {
		return ConversationPage{}, wrapf(err, "page conversations of %q", box.Username)
	}
	var page ConversationPage
	if len(recs) > limit {
		recs = recs[:limit]
		page.Next = encodeCursor(box.Username, recs[limit-1].Key())
	}
	page.Conversations = make([]*Conversation, len(recs))
	for i, rec := range recs {
		page.Conversations[i] = box.inboxes.conversation(rec)
	}
	return page, nil
}

// A conversation cursor is base64url of: a version byte, the FNV-64a hash of
// the inbox owner (so a cursor from another inbox is refused), the
// LastUpdate as Unix seconds and nanoseconds, and the other user's id.
const (
	cursorVersion = 1
	cursorHead    = 1 + 8 + 8 + 4
)

func ownerHash(owner string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(owner))
	return h.Sum64()
}

func encodeCursor(owner string, k ConversationKey) string {
	b := make([]byte, 0, cursorHead+len(k.Other))
	b = append(b, cursorVersion)
	b = binary.BigEndian.AppendUint64(b, ownerHash(owner))
	b = binary.BigEndian.AppendUint64(b, uint64(k.LastUpdate.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(k.LastUpdate.Nanosecond()))
	b = append(b, k.Other...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(owner, cursor string) (ConversationKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) <= cursorHead || b[0] != cursorVersion {
		return ConversationKey{}, wrapf(ErrBadCursor, "cursor %q is not a conversation cursor", cursor)
	}
	if binary.BigEndian.Uint64(b[1:9]) != ownerHash(owner) {
		return ConversationKey{}, wrapf(ErrBadCursor, "cursor %q is from another inbox", cursor)
	}
	sec := int64(binary.BigEndian.Uint64(b[9:17]))
	nsec := binary.BigEndian.Uint32(b[17:21])
	other := string(b[cursorHead:])
	if nsec >= 1e9 || validUser(other) != nil {
		return ConversationKey{}, wrapf(ErrBadCursor, "cursor %q is not a conversation cursor", cursor)
	}
	return ConversationKey{LastUpdate: time.Unix(sec, int64(nsec)).UTC(), Other: other}, nil
}
