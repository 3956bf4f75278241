package messaging

import (
	"context"
	"errors"
	"iter"
)

// Inbox is one user's conversations, keyed by the other user's id. Its
// fields are a snapshot taken by Inboxes.Get; its methods read and write the
// store as it is when they are called.
type Inbox struct {
	Username         string // owner
	NewMessagesCount int    // unread messages over all conversations, as of Get

	x *Inboxes
}

// Has reports whether the inbox holds a conversation with other.
func (in *Inbox) Has(ctx context.Context, other string) (bool, error) {
	_, err := in.Get(ctx, other)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Get returns the inbox's conversation with other, or an error wrapping
// ErrNotFound.
func (in *Inbox) Get(ctx context.Context, other string) (*Conversation, error) {
	if err := checkUser(other); err != nil {
		return nil, wrapf(err, "get conversation %q/%q", in.Username, other)
	}
	var rec ConversationRecord
	err := in.x.store.View(ctx, func(tx ReadTx) (err error) {
		rec, err = tx.Conversation(in.Username, other)
		return err
	})
	if err != nil {
		return nil, wrapf(err, "get conversation %q/%q", in.Username, other)
	}
	return in.x.conversation(rec), nil
}

// Delete removes the conversation with other and its messages from this
// inbox only, lowering the inbox's unread count by the conversation's. The
// other user's copy stays; a later message starts a new conversation that
// holds only what is sent after the delete.
func (in *Inbox) Delete(ctx context.Context, other string) error {
	if err := checkUser(other); err != nil {
		return wrapf(err, "delete conversation %q/%q", in.Username, other)
	}
	err := in.x.store.Update(ctx, func(tx Tx) error {
		c, err := tx.Conversation(in.Username, other)
		if err != nil {
			return err
		}
		if err := tx.DeleteConversation(in.Username, other); err != nil {
			return err
		}
		unread, err := addUnread(tx, in.Username, -c.Unread)
		if err != nil {
			return err
		}
		if in.x.hub.enabled() {
			in.x.hub.emit(tx, []Event{{Kind: ConversationDeleted, User: in.Username, Other: other, Unread: unread}})
		}
		return nil
	})
	if err != nil {
		return wrapf(err, "delete conversation %q/%q", in.Username, other)
	}
	return nil
}

// Conversations yields the inbox's conversations, newest LastUpdate first
// (ties by the other user's id). No conversation is yielded twice in one
// range, even if the loop body moves it.
func (in *Inbox) Conversations(ctx context.Context) iter.Seq2[*Conversation, error] {
	owner := in.Username
	return paginate(ctx, in.x.store, func() fetchFunc[*Conversation] {
		var after *ConversationKey
		seen := make(map[string]bool)
		return func(tx ReadTx, limit int) ([]*Conversation, bool, error) {
			recs, err := tx.Conversations(owner, after, limit)
			if err != nil {
				return nil, false, wrapf(err, "list conversations of %q", owner)
			}
			page := make([]*Conversation, 0, len(recs))
			for _, rec := range recs {
				// A conversation whose LastUpdate went down (its newest
				// message deleted) may show up again further on.
				if !seen[rec.Other] {
					seen[rec.Other] = true
					page = append(page, in.x.conversation(rec))
				}
			}
			if len(recs) > 0 {
				k := recs[len(recs)-1].Key()
				after = &k
			}
			return page, len(recs) == limit, nil
		}
	})
}

// addUnread adds delta to owner's unread count and returns the new count.
func addUnread(tx Tx, owner string, delta int) (int, error) {
	in, err := tx.Inbox(owner)
	if err != nil || delta == 0 {
		return in.Unread, err
	}
	in.Unread += delta
	return in.Unread, tx.PutInbox(in)
}
