package messaging

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"
)

// Inboxes is every user's inbox in one store: the entry point of the
// package. It is safe for concurrent use by many goroutines.
type Inboxes struct {
	store    Store
	maxBytes int
	hub      *hub
}

// Options configures an Inboxes. The zero value and nil mean defaults.
type Options struct {
	// MaxMessageBytes is the longest text SendMessage accepts, in bytes.
	// 0 means DefaultMaxMessageBytes; negative is invalid.
	MaxMessageBytes int

	// EventBuffer is how many of the latest events are kept for
	// subscribers that have not read them yet; a subscriber further behind
	// gets ErrOverflow. 0 means DefaultEventBuffer; negative is invalid.
	EventBuffer int
}

// New returns the inboxes kept in store, with default Options. The Inboxes
// takes the store over: its Close closes the store.
func New(store Store) *Inboxes {
	x, _ := NewWithOptions(store, nil) // nil options are always valid
	return x
}

// NewWithOptions is New with options; it fails only if the options are
// invalid.
func NewWithOptions(store Store, opts *Options) (*Inboxes, error) {
	if store == nil {
		return nil, errors.New("messaging: nil store")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	switch {
	case o.MaxMessageBytes < 0:
		return nil, fmt.Errorf("messaging: negative MaxMessageBytes %d", o.MaxMessageBytes)
	case o.MaxMessageBytes == 0:
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	switch {
	case o.EventBuffer < 0:
		return nil, fmt.Errorf("messaging: negative EventBuffer %d", o.EventBuffer)
	case o.EventBuffer == 0:
		o.EventBuffer = DefaultEventBuffer
	}
	return &Inboxes{store: store, maxBytes: o.MaxMessageBytes, hub: newHub(o.EventBuffer)}, nil
}

// Open opens the bbolt file at path, creating it if missing, with default
// BoltOptions: the durable store most applications want.
func Open(path string) (*Inboxes, error) {
	s, err := OpenBoltStore(path, nil)
	if err != nil {
		return nil, err
	}
	return New(s), nil
}

// Close ends every subscription with ErrClosed and closes the store. Calls
// after Close return ErrClosed.
func (x *Inboxes) Close() error {
	x.hub.close()
	return x.store.Close()
}

// SendMessage stores text from sender to recipient, twice: in the sender's
// conversation with the recipient (not new) and in the recipient's
// conversation with the sender (new). It creates inboxes and conversations
// as needed, updates both conversation summaries and both unread counts,
// and writes all of it in one transaction: on error nothing of it exists.
// It returns the sender's copy.
func (x *Inboxes) SendMessage(ctx context.Context, sender, recipient, text string, opts ...SendOption) (Message, error) {
	if err := x.checkSend(sender, recipient, text); err != nil {
		return Message{}, wrapf(err, "send message from %q to %q", sender, recipient)
	}
	var o sendOptions
	for _, opt := range opts {
		opt(&o)
	}
	created := o.created
	if created.IsZero() {
		created = time.Now()
	}
	m := MessageRecord{Sender: sender, Recipient: recipient, Text: text, Created: created.UTC()}
	err := x.store.Update(ctx, func(tx Tx) error {
		id, err := tx.NextID()
		if err != nil {
			return err
		}
		m.ID = id
		return deliver(tx, m, x.hub)
	})
	if err != nil {
		return Message{}, wrapf(err, "send message from %q to %q", sender, recipient)
	}
	return Message{ID: m.ID, Sender: sender, Recipient: recipient, Text: text, Created: m.Created}, nil
}

func (x *Inboxes) checkSend(sender, recipient, text string) error {
	if err := checkUser(sender); err != nil {
		return wrapf(err, "sender")
	}
	if err := checkUser(recipient); err != nil {
		return wrapf(err, "recipient")
	}
	if sender == recipient {
		return ErrSelfMessage
	}
	return checkText(text, x.maxBytes)
}

// deliver writes both copies of m and every summary they change, and
// emits the events of the send.
func deliver(tx Tx, m MessageRecord, h *hub) error {
	out, err := conversationFor(tx, m.Sender, m.Recipient)
	if err != nil {
		return err
	}
	in, err := conversationFor(tx, m.Recipient, m.Sender)
	if err != nil {
		return err
	}
	// Each side mirrors the other's read mark, for read receipts. A side
	// created afresh has a read mark of 0; what the other user read before
	// stays read, so the mirror never goes down.
	out.PeerReadMark = max(out.PeerReadMark, in.ReadMark)
	in.PeerReadMark = max(in.PeerReadMark, out.ReadMark)
	outInbox, out, err := addCopy(tx, out, m, false)
	if err != nil {
		return err
	}
	inInbox, in, err := addCopy(tx, in, m, true)
	if err != nil {
		return err
	}
	if h.enabled() {
		h.emit(tx, []Event{
			{Kind: MessageSent, User: m.Sender, Other: m.Recipient, Message: message(out, m),
				Unread: outInbox.Unread, ConversationUnread: out.Unread},
			{Kind: MessageReceived, User: m.Recipient, Other: m.Sender, Message: message(in, m),
				Unread: inInbox.Unread, ConversationUnread: in.Unread},
		})
	}
	return nil
}

// conversationFor returns owner's conversation with other, or a new empty
// record if there is none.
func conversationFor(tx ReadTx, owner, other string) (ConversationRecord, error) {
	c, err := tx.Conversation(owner, other)
	if errors.Is(err, ErrNotFound) {
		return ConversationRecord{Owner: owner, Other: other}, nil
	}
	return c, err
}

// addCopy adds m to conversation c and to the inbox holding it, and
// returns both records as written.
func addCopy(tx Tx, c ConversationRecord, m MessageRecord, received bool) (InboxRecord, ConversationRecord, error) {
	in, err := tx.Inbox(c.Owner)
	created := errors.Is(err, ErrNotFound)
	switch {
	case created:
		in = InboxRecord{Owner: c.Owner}
	case err != nil:
		return in, c, err
	}
	if c.Messages == 0 || m.Key().Compare(c.Last.Key()) > 0 {
		c.setNewest(m)
	}
	if c.FirstID == 0 {
		c.FirstID = m.ID // a new conversation
	}
	c.Messages++
	c.MaxID = max(c.MaxID, m.ID)
	if received { // m.ID is the newest ID, so it is above the read mark
		c.Unread++
		in.Unread++
	}
	if created || received {
		if err := tx.PutInbox(in); err != nil {
			return in, c, err
		}
	}
	if err := tx.PutConversation(c); err != nil {
		return in, c, err
	}
	return in, c, tx.PutMessage(c.Owner, c.Other, m)
}

// setNewest makes m the conversation's newest message: the summary a list
// screen shows (its text cut to a preview), and LastUpdate.
func (c *ConversationRecord) setNewest(m MessageRecord) {
	c.Last = m
	c.Last.Text = preview(m.Text)
	c.LastUpdate = m.Created
}

// Has reports whether user has an inbox.
func (x *Inboxes) Has(ctx context.Context, user string) (bool, error) {
	_, err := x.Get(ctx, user)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Get returns user's inbox, or an error wrapping ErrNotFound if user has
// never sent or received a message (or the inbox was deleted).
func (x *Inboxes) Get(ctx context.Context, user string) (*Inbox, error) {
	if err := checkUser(user); err != nil {
		return nil, wrapf(err, "get inbox %q", user)
	}
	var rec InboxRecord
	err := x.store.View(ctx, func(tx ReadTx) (err error) {
		rec, err = tx.Inbox(user)
		return err
	})
	if err != nil {
		return nil, wrapf(err, "get inbox %q", user)
	}
	return &Inbox{Username: user, NewMessagesCount: rec.Unread, x: x}, nil
}

// Delete removes user's inbox with all its conversations. The other users'
// copies of the same messages stay.
func (x *Inboxes) Delete(ctx context.Context, user string) error {
	if err := checkUser(user); err != nil {
		return wrapf(err, "delete inbox %q", user)
	}
	err := x.store.Update(ctx, func(tx Tx) error {
		if err := tx.DeleteInbox(user); err != nil {
			return err
		}
		if x.hub.enabled() {
			x.hub.emit(tx, []Event{{Kind: InboxDeleted, User: user}})
		}
		return nil
	})
	if err != nil {
		return wrapf(err, "delete inbox %q", user)
	}
	return nil
}

// Users yields the id of every user with an inbox, in ascending byte order.
func (x *Inboxes) Users(ctx context.Context) iter.Seq2[string, error] {
	return paginate(ctx, x.store, func() fetchFunc[string] {
		after := ""
		return func(tx ReadTx, limit int) ([]string, bool, error) {
			users, err := tx.Users(after, limit)
			if err != nil {
				return nil, false, wrapf(err, "list users")
			}
			if len(users) > 0 {
				after = users[len(users)-1]
			}
			return users, len(users) == limit, nil
		}
	})
}
