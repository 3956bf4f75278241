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
	Owner            string    // whose inbox this is
	Username         string    // the other user
	NewMessagesCount int       // unread messages in this conversation, as of retrieval
	LastUpdate       time.Time // the largest Created among its messages; kept when all are deleted
	MessageCount     int       // messages in this copy, as of retrieval

	// LastMessage is the newest message by (Created, ID), with Text cut to
	// at most PreviewRunes runes; the zero Message when the conversation
	// is empty.
	LastMessage Message

	// ReadByOtherUpTo is the other user's read mark: they have read every
	// message of Owner's with an ID up to it. Message.ReadByRecipient
	// derives from it.
	ReadByOtherUpTo uint64

	x *Inboxes
}

func (x *Inboxes) conversation(rec ConversationRecord) *Conversation {
	c := &Conversation{
		Owner:            rec.Owner,
		Username:         rec.Other,
		NewMessagesCount: rec.Unread,
		LastUpdate:       rec.LastUpdate,
		MessageCount:     rec.Messages,
		ReadByOtherUpTo:  rec.PeerReadMark,
		x:                x,
	}
	if rec.Messages > 0 {
		c.LastMessage = message(rec, rec.Last)
	}
	return c
}

func (c *Conversation) errorf(op string, err error) error {
	return wrapf(err, "%s in conversation %q/%q", op, c.Owner, c.Username)
}

// Messages yields the conversation's messages, oldest first (by Created,
// then ID). If the conversation no longer exists it yields an error wrapping
// ErrNotFound; if it is deleted while the loop runs, the loop ends.
func (c *Conversation) Messages(ctx context.Context) iter.Seq2[Message, error] {
	return paginate(ctx, c.x.store, func() fetchFunc[Message] {
		var after *MessageKey
		return func(tx ReadTx, limit int) ([]Message, bool, error) {
			rec, err := tx.Conversation(c.Owner, c.Username)
			if errors.Is(err, ErrNotFound) && after != nil {
				return nil, false, nil
			}
			if err != nil {
				return nil, false, c.errorf("list messages", err)
			}
			recs, err := tx.Messages(c.Owner, c.Username, after, false, limit)
			if err != nil {
				return nil, false, c.errorf("list messages", err)
			}
			page := make([]Message, len(recs))
			for i, m := range recs {
				page[i] = message(rec, m)
			}
			if len(recs) > 0 {
				k := recs[len(recs)-1].Key()
				after = &k
			} else {
				after = &MessageKey{} // seen to exist
			}
			return page, len(recs) == limit, nil
		}
	})
}

// MarkRead marks every message of the conversation as read, in one write
// that does not touch the messages: it moves the conversation's read mark.
// Marking a conversation with nothing new is a no-op.
func (c *Conversation) MarkRead(ctx context.Context) error {
	err := c.x.store.Update(ctx, func(tx Tx) error {
		rec, err := tx.Conversation(c.Owner, c.Username)
		if err != nil {
			return err
		}
		return c.x.moveReadMark(tx, rec, rec.MaxID, rec.Unread)
	})
	if err != nil {
		return c.errorf("mark read", err)
	}
	return nil
}

// moveReadMark raises rec's read mark to mark, lowering the unread counts
// by read (the new messages it now covers), and mirrors the mark to the
// other side for read receipts. A mark that would not move is a no-op.
func (x *Inboxes) moveReadMark(tx Tx, rec ConversationRecord, mark uint64, read int) error {
	if mark <= rec.ReadMark && read == 0 {
		return nil
	}
	unread, err := addUnread(tx, rec.Owner, -read)
	if err != nil {
		return err
	}
	rec.Unread -= read
	rec.ReadMark = max(rec.ReadMark, mark)
	if err := tx.PutConversation(rec); err != nil {
		return err
	}
	if x.hub.enabled() {
		x.hub.emit(tx, []Event{{Kind: ConversationRead, User: rec.Owner, Other: rec.Other, ReadUpTo: rec.ReadMark,
			Unread: unread, ConversationUnread: rec.Unread}})
	}
	peer, err := tx.Conversation(rec.Other, rec.Owner)
	if errors.Is(err, ErrNotFound) {
		return nil // the other side deleted the conversation
	}
	if err != nil {
		return err
	}
	if peer.PeerReadMark >= rec.ReadMark {
		return nil
	}
	peer.PeerReadMark = rec.ReadMark
	return tx.PutConversation(peer)
}

// DeleteMessage removes the message with id from this side of the
// conversation only; the other user's copy stays. Deleting a new message
// lowers the unread counts. If it was the newest message, LastUpdate falls
// back to the newest remaining one; an emptied conversation keeps its
// LastUpdate.
func (c *Conversation) DeleteMessage(ctx context.Context, id uint64) error {
	err := c.x.store.Update(ctx, func(tx Tx) error {
		rec, err := tx.Conversation(c.Owner, c.Username)
		if err != nil {
			return err
		}
		m, err := tx.Message(c.Owner, c.Username, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteMessage(c.Owner, c.Username, id); err != nil {
			return err
		}
		rec.Messages--
		deleted := message(rec, m)
		delta := 0
		if deleted.New {
			rec.Unread--
			delta = -1
		}
		if delta != 0 || c.x.hub.enabled() { // the inbox count is read only if it changes or an event carries it
			unread, err := addUnread(tx, c.Owner, delta)
			if err != nil {
				return err
			}
			if c.x.hub.enabled() {
				c.x.hub.emit(tx, []Event{{Kind: MessageDeleted, User: c.Owner, Other: c.Username, Message: deleted,
					Unread: unread, ConversationUnread: rec.Unread}})
			}
		}
		if rec.Last.ID == id {
			rec.Last = MessageRecord{}
			newest, err := tx.Messages(c.Owner, c.Username, nil, true, 1)
			if err != nil {
				return err
			}
			if len(newest) > 0 {
				rec.setNewest(newest[0])
			}
		}
		return tx.PutConversation(rec)
	})
	if err != nil {
		return c.errorf(fmt.Sprintf("delete message %d", id), err)
	}
	return nil
}
