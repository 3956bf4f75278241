package httpapi

// The routes of the asking user's inbox: its summary, its conversations,
// their messages, and the writes on them.

import (
	"context"
	"errors"
	"net/http"

	"github.com/socialkit/messaging"
)

// GET /inbox: the asking user's messaging.Inbox. A user who never sent or
// received a message has an empty inbox, not a 404: the screen that asks
// is theirs.
func (a *api) getInbox(w http.ResponseWriter, r *http.Request, me string) error {
	box, err := a.x.Get(r.Context(), me)
	if errors.Is(err, messaging.ErrNotFound) {
		box, err = &messaging.Inbox{Username: me}, nil
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, box)
	return nil
}

// GET /conversations?cursor=&limit=: a messaging.ConversationPage, newest
// first. As for GET /inbox, no inbox is an empty page.
func (a *api) listConversations(w http.ResponseWriter, r *http.Request, me string) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	cursor := r.URL.Query().Get("cursor")
	box, err := a.x.Get(r.Context(), me)
	if errors.Is(err, messaging.ErrNotFound) {
		writeJSON(w, http.StatusOK, messaging.ConversationPage{Conversations: []*messaging.Conversation{}})
		return nil
	}
	if err != nil {
		return err
	}
	page, err := box.ConversationPage(r.Context(), cursor, limit)
	if err != nil {
		return inField("cursor", err)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// GET /conversations/{other}/messages?before=&after=&limit=: a JSON array
// of messaging.Message. With before (or neither), the messages before it,
// newest first (Conversation.Older); with after, those after it, oldest
// first (Conversation.Newer).
func (a *api) listMessages(w http.ResponseWriter, r *http.Request, me string) error {
	before, err := queryID(r, "before")
	if err != nil {
		return err
	}
	after, err := queryID(r, "after")
	if err != nil {
		return err
	}
	if before != 0 && after != 0 {
		return badParameter("after", "cannot be given with before")
	}
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	c, err := a.x.Conversation(r.Context(), me, other(r))
	if err != nil {
		return err
	}
	var page []messaging.Message
	if after != 0 {
		page, err = c.Newer(r.Context(), after, limit)
		err = inField("after", err)
	} else {
		page, err = c.Older(r.Context(), before, limit)
		err = inField("before", err)
	}
	if err != nil {
		return err
	}
	if page == nil {
		page = []messaging.Message{}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// sendRequest is the body of POST /conversations/{other}/messages.
type sendRequest struct {
	Text           string            `json:"text"`
	Meta           map[string]string `json:"meta"`
	IdempotencyKey *string           `json:"idempotency_key"` // nil: none; "" is refused by the library
}

// POST /conversations/{other}/messages: sends from the asking user to
// other; 201 with the sender's messaging.Message. A retry with the same
// idempotency_key answers 201 with the first send's message.
func (a *api) sendMessage(w http.ResponseWriter, r *http.Request, me string) error {
	var req sendRequest
	if err := decodeBody(w, r, a.sendLimit, &req, "text", "meta", "idempotency_key"); err != nil {
		return err
	}
	opts := []messaging.SendOption{messaging.WithMeta(req.Meta)}
	if req.IdempotencyKey != nil {
		opts = append(opts, messaging.WithIdempotencyKey(*req.IdempotencyKey))
	}
	m, err := a.x.SendMessage(r.Context(), me, other(r), req.Text, opts...)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, m)
	return nil
}

// POST /conversations/{other}/read: marks the conversation read, up to the
// message up_to if given (what the screen showed), and answers with the
// messaging.Conversation as it is then.
func (a *api) markRead(w http.ResponseWriter, r *http.Request, me string) error {
	var req struct {
		UpTo *uint64 `json:"up_to"`
	}
	if err := decodeBody(w, r, smallBodyLimit, &req, "up_to"); err != nil {
		return err
	}
	if req.UpTo != nil && *req.UpTo == 0 {
		return badParameter("up_to", "must be a message ID (a number from 1)")
	}
	c, err := a.x.Conversation(r.Context(), me, other(r))
	if err != nil {
		return err
	}
	if req.UpTo == nil {
		err = c.MarkRead(r.Context())
	} else {
		err = c.MarkReadUpTo(r.Context(), *req.UpTo)
	}
	if err != nil {
		return err
	}
	if c, err = a.x.Conversation(r.Context(), me, other(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// DELETE /conversations/{other}: deletes the conversation from the asking
// user's inbox only; 204.
func (a *api) deleteConversation(w http.ResponseWriter, r *http.Request, me string) error {
	if err := decodeBody(w, r, smallBodyLimit, &struct{}{}); err != nil {
		return err
	}
	// The conversation first: a bad id is 400 and a missing one 404,
	// whether or not the inbox exists.
	if _, err := a.x.Conversation(r.Context(), me, other(r)); err != nil {
		return err
	}
	box, err := a.x.Get(r.Context(), me)
	if err != nil {
		return err
	}
	if err := box.Delete(r.Context(), other(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// DELETE /conversations/{other}/messages/{id}: deletes the asking user's
// copy of the message; 204.
func (a *api) deleteMessage(w http.ResponseWriter, r *http.Request, me string) error {
	return a.onMessage(w, r, me, (*messaging.Conversation).DeleteMessage)
}

// POST /conversations/{other}/messages/{id}/retract: deletes a message the
// asking user sent, for both users; 204.
func (a *api) retract(w http.ResponseWriter, r *http.Request, me string) error {
	return a.onMessage(w, r, me, (*messaging.Conversation).Retract)
}

func (a *api) onMessage(w http.ResponseWriter, r *http.Request, me string,
	do func(*messaging.Conversation, context.Context, uint64) error) error {
	if err := decodeBody(w, r, smallBodyLimit, &struct{}{}); err != nil {
		return err
	}
	id, err := positiveID("id", r.PathValue("id"))
	if err != nil {
		return err
	}
	c, err := a.x.Conversation(r.Context(), me, other(r))
	if err != nil {
		return err
	}
	if err := do(c, r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
