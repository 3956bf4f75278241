package messaging

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"
)

// Conversation is one side of the exchange between Owner and Username, as
// kept in Owner's inbox. Its fields are a snapshot taken when it was
// retrieved; its methods act on the store as it is when they are called, so
// a Conversation obtained before a reply still lists the reply.
type Conversation struct {
	Owner            string    `json:"owner"`              // whose inbox this is
	Username         string    `json:"username"`           // the other user
	NewMessagesCount int       `json:"new_messages_count"` // unread messages in this conversation, as of retrieval
	LastUpdate       time.Time `json:"last_update"`        // the largest Created among its messages; kept when all are deleted
	MessageCount     int       `json:"message_count"`      // messages in this copy, as of retrieval

	// LastMessage is the newest message by (Created, ID), with Text cut to
	// at most PreviewRunes runes; the zero Message when the conversation
	// is empty.
	LastMessage Message `json:"last_message,omitzero"`

	// ReadByOtherUpTo is the other user's read mark: they have read every
	// message of Owner's with an ID up to it that they still had.
	// Message.ReadByRecipient derives from it.
	ReadByOtherUpTo uint64 `json:"read_by_other_up_to"`

	inboxes *Inboxes // whose store and rules it uses
}

func (x *Inboxes) conversation(rec ConversationRecord) *Conversation {
	c := &Conversation{
		Owner:            rec.Owner,
		Username:         rec.Other,
		NewMessagesCount: rec.Unread,
		LastUpdate:       rec.LastUpdate,
		MessageCount:     rec.Messages,
		ReadByOtherUpTo:  rec.PeerReadMark,
		inboxes:          x,
	}
	if rec.Messages > 0 {
		c.LastMessage = message(rec, rec.Last)
	}
	return c
}

func (c *Conversation) wrap(err error, op string) error {
	return wrapf(err, "%s in conversation %q/%q", op, c.Owner, c.Username)
}

// Messages yields the conversation's messages, oldest first (by Created,
// then ID).
//
// If the conversation does not exist (any more), it yields an error
// wrapping ErrNotFound, as Inbox.Conversations does for an inbox. If the
// conversation is deleted while the loop runs, the loop ends after the page
// it is in, even if a new conversation with the same user has started
// since: that one holds other messages.
func (c *Conversation) Messages(ctx context.Context) iter.Seq2[Message, error] {
	return paginate(ctx, c.inboxes.store, func() fetchFunc[Message] {
		var after *MessageKey
		var first uint64 // FirstID of the conversation being listed
		return func(tx ReadTx, limit int) ([]Message, bool, error) {
			rec, err := tx.Conversation(c.Owner, c.Username)
			switch {
			case first != 0 && (errors.Is(err, ErrNotFound) || err == nil && rec.FirstID != first):
				return nil, false, nil // deleted while the loop ran
			case err != nil:
				return nil, false, c.wrap(err, "list messages")
			}
			first = rec.FirstID
			recs, err := tx.Messages(c.Owner, c.Username, after, false, limit)
			if err != nil {
				return nil, false, c.wrap(err, "list messages")
			}
			page := make([]Message, len(recs))
			for i, m := range recs {
				page[i] = message(rec, m)
			}
			if len(recs) > 0 {
				k := recs[len(recs)-1].Key()
				after = &k
			}
			return page, len(recs) == limit, nil
		}
	})
}

// MarkRead marks every message of the conversation as read, in one write
// that does not touch the messages: it moves the conversation's read mark.
// A conversation with nothing new is left as it is: nothing is written and
// no event is emitted.
func (c *Conversation) MarkRead(ctx context.Context) error {
	err := c.inboxes.write(ctx, func(tx Tx) ([]change, error) {
		rec, err := tx.Conversation(c.Owner, c.Username)
		if err != nil {
			return nil, err
		}
		return markRead(tx, rec, rec.MaxID, rec.Unread)
	})
	return c.wrap(err, "mark read")
}

// DeleteMessage removes the message with id from this side of the
// conversation only; the other user's copy stays (without a read receipt,
// if this side had not read it). Deleting a new message lowers the unread
// counts. If it was the newest message, LastUpdate falls back to the newest
// remaining one; an emptied conversation keeps its LastUpdate.
func (c *Conversation) DeleteMessage(ctx context.Context, id uint64) error {
	err := c.inboxes.write(ctx, func(tx Tx) ([]change, error) { return removeMessage(tx, c.Owner, c.Username, id) })
	return c.wrap(err, fmt.Sprintf("delete message %d", id))
}

// Retract deletes a message the owner sent, for both users, in one
// transaction: the owner's copy and the recipient's (if they still have
// it), with the recipient's unread counts falling if they had not read it,
// and both conversations' summaries and LastUpdate following. Both users'
// subscribers get MessageRetracted. A message the owner did not send is
// ErrNotSender; one not in this conversation (or retracted already),
// ErrNotFound. A retracted message's ID is no longer a paging cursor
// (Older, Newer: ErrBadCursor), as nothing keeps its position.
func (c *Conversation) Retract(ctx context.Context, id uint64) error {
	err := c.inboxes.write(ctx, func(tx Tx) ([]change, error) { return retract(tx, c.Owner, c.Username, id) })
	return c.wrap(err, fmt.Sprintf("retract message %d", id))
}
