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
	Username         string `json:"username"`           // owner
	NewMessagesCount int    `json:"new_messages_count"` // unread messages over all conversations, as of Get

	inboxes *Inboxes // whose store and rules it uses
}

// Has reports whether the inbox holds a conversation with other.
func (box *Inbox) Has(ctx context.Context, other string) (bool, error) {
	_, err := box.Get(ctx, other)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Get returns the inbox's conversation with other, or an error wrapping
// ErrNotFound.
func (box *Inbox) Get(ctx context.Context, other string) (*Conversation, error) {
	return box.inboxes.Conversation(ctx, box.Username, other)
}

// Delete removes the conversation with other and its messages from this
// inbox only, lowering the inbox's unread count by the conversation's. The
// other user's copy stays (without read receipts for what this inbox had
// not read); a later message starts a new conversation that holds only what
// is sent after the delete.
func (box *Inbox) Delete(ctx context.Context, other string) error {
	if err := validUser(other); err != nil {
		return wrapf(inputError("other", err), "delete conversation %q/%q", box.Username, other)
	}
	err := box.inboxes.write(ctx, func(tx Tx) ([]change, error) { return removeConversation(tx, box.Username, other) })
	return wrapf(err, "delete conversation %q/%q", box.Username, other)
}

// Conversations yields the inbox's conversations, newest LastUpdate first
// (ties by the other user's id). No conversation is yielded twice in one
// range, even if the loop body moves it.
//
// If the inbox does not exist (any more), it yields an error wrapping
// ErrNotFound, as Conversation.Messages does for a conversation. If the
// inbox is deleted while the loop runs, the loop ends after the page it is
// in; an inbox started again for the same user between two pages counts as
// the same inbox.
func (box *Inbox) Conversations(ctx context.Context) iter.Seq2[*Conversation, error] {
	owner := box.Username
	return paginate(ctx, box.inboxes.store, func() fetchFunc[*Conversation] {
		var after *ConversationKey
		seen := make(map[string]bool)
		return func(tx ReadTx, limit int) ([]*Conversation, bool, error) {
			if _, err := tx.Inbox(owner); err != nil {
				if errors.Is(err, ErrNotFound) && after != nil {
					return nil, false, nil // deleted while the loop ran
				}
				return nil, false, wrapf(err, "list conversations of %q", owner)
			}
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
					page = append(page, box.inboxes.conversation(rec))
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
