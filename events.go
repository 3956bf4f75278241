package messaging

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"sync"
)

// EventKind says what an Event reports. It marshals to JSON as its text
// ("message_received", ...).
type EventKind uint8

// The kinds of event. Each is about one inbox: Event.User's.
const (
	// MessageReceived: User received Message (their copy, new).
	MessageReceived EventKind = iota + 1
	// MessageSent: User sent Message (their own copy).
	MessageSent
	// ConversationRead: User read their conversation with Other up to the
	// message ReadUpTo. For Other this is the read receipt of what they
	// sent, so subscribers of Other receive it too, with Other's counts.
	ConversationRead
	// MessageDeleted: User deleted their copy of Message.
	MessageDeleted
	// ConversationDeleted: User deleted their conversation with Other.
	ConversationDeleted
	// InboxDeleted: User's inbox was deleted.
	InboxDeleted
	// MessageRetracted: the sender retracted Message: it is gone from
	// User's conversation with Other (if it was still there). Both users
	// are told; the retracted text and metadata are not repeated.
	MessageRetracted
)

var kindNames = [...]string{
	MessageReceived:     "message_received",
	MessageSent:         "message_sent",
	ConversationRead:    "conversation_read",
	MessageDeleted:      "message_deleted",
	ConversationDeleted: "conversation_deleted",
	InboxDeleted:        "inbox_deleted",
	MessageRetracted:    "message_retracted",
}

// String returns the kind's name, as in JSON.
func (k EventKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", k)
}

// MarshalText gives the kind's name; an unknown kind is an error.
func (k EventKind) MarshalText() ([]byte, error) {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return []byte(kindNames[k]), nil
	}
	return nil, fmt.Errorf("messaging: unknown event kind %d", k)
}

// UnmarshalText parses a kind's name.
func (k *EventKind) UnmarshalText(b []byte) error {
	for i, name := range kindNames {
		if name != "" && name == string(b) {
			*k = EventKind(i)
			return nil
		}
	}
	return fmt.Errorf("messaging: unknown event kind %q", b)
}

// Event is one committed change, with what a handler needs to act on it
// without reading the store again: the message copy, and the unread counts
// as they are after the change.
//
// An event delivered to a subscriber of one user carries that user's own
// copy and counts only: a read receipt delivered to the sender (Other of a
// ConversationRead) has the sender's counts, never the reader's.
type Event struct {
	// Seq is the event's position. For a subscription to one user, it is
	// the position in that user's stream: gap-free, in commit order, the
	// same in every process sharing the store, and what SubscribeFrom
	// resumes after. For SubscribeAll, it numbers this Inboxes' events from
	// 1 in commit order.
	Seq  uint64    `json:"seq"`
	Kind EventKind `json:"kind"`
	// User is the owner of the inbox that changed.
	User string `json:"user"`
	// Other is the other user of the conversation; empty for InboxDeleted.
	Other string `json:"other,omitempty"`
	// Message is User's copy, for MessageReceived, MessageSent,
	// MessageDeleted and MessageRetracted.
	Message Message `json:"message,omitzero"`
	// ReadUpTo is the new read mark, for ConversationRead: every message
	// of the conversation with an ID up to it is read.
	ReadUpTo uint64 `json:"read_up_to,omitempty"`
	// Unread is the inbox unread count, after the change, of the user the
	// event was delivered for: User, or Other for a read receipt
	// delivered to Other's subscribers.
	Unread int `json:"unread"`
	// ConversationUnread is the unread count of that user's side of the
	// conversation after the change (0 once it is deleted).
	ConversationUnread int `json:"conversation_unread"`
}

// ErrOverflow ends a subscription that fell so far behind that events it
// should have received were dropped. The events before the gap were all
// delivered; resubscribe and read the state afresh.
var ErrOverflow = errors.New("messaging: subscriber fell behind, events were dropped")

// Bounds of Options.EventBuffer.
const (
	// DefaultEventBuffer is how many events are kept for subscribers unless
	// Options.EventBuffer says otherwise.
	DefaultEventBuffer = 4096
	// MaxEventBuffer is the largest Options.EventBuffer accepted: larger
	// buffers would take gigabytes before any subscriber fell behind.
	MaxEventBuffer = 1 << 24
)

// Subscription receives the events of one user, or of all users, that
// commit after it was made (or, from SubscribeFrom, after a position in the
// user's stream). Read them with Next or Events. It holds no goroutine;
// Close it when done. It is safe for concurrent use: goroutines reading one
// subscription divide its events between them, and each of them waiting in
// Next is woken when an event is pending.
type Subscription struct {
	h       *hub
	inboxes *Inboxes
	user    string // "" for all users
	feed    *feed  // user's feed; nil for all users
	done    chan struct{}
	readMu  sync.Mutex // one reader of the stored stream at a time

	// Guarded by h.mu.
	pos     uint64  // SubscribeAll: position of the next event in the ring
	cursor  uint64  // per user: Seq of the last event taken
	synced  uint64  // per user: the stream's known end when it was last read from the store
	pending []Event // per user: read from the store, not taken yet
	err     error   // why the subscription ended
}

// SubscribeAll returns a subscription to the events of every inbox in this
// process: one event per change (a read is one ConversationRead, with the
// reader's counts), numbered by its own Seq in commit order. It is not
// resumable and does not see other processes' writes.
func (x *Inboxes) SubscribeAll() (*Subscription, error) {
	return x.hub.subscribe("", 0, 0)
}

// Next returns the subscription's next event, waiting for one if need be.
// It returns ErrOverflow if the subscriber fell behind further than the
// events kept for it, ErrClosed after Close of the subscription or of the
// Inboxes, and an error wrapping ctx.Err() if ctx ends first.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		ev, wait, read, err := s.h.take(s)
		switch {
		case err != nil:
			return Event{}, err
		case read:
			if err := s.readStream(ctx); err != nil {
				return Event{}, err
			}
			continue
		case wait == nil:
			// The event is shared: with the other subscribers of the
			// change and with the buffer later subscribers resume from.
			// Its metadata map must not be, or one reader's change would
			// show in every other's copy (and race with it).
			ev.Message.Meta = maps.Clone(ev.Message.Meta)
			return ev, nil
		}
		select {
		case <-wait:
		case <-s.done:
		case <-ctx.Done():
			return Event{}, wrapf(ctx.Err(), "next event")
		}
	}
}

// Events yields the subscription's events until ctx ends, the subscriber
// falls behind (ErrOverflow) or the Inboxes is closed (ErrClosed); it then
// yields that error once. After the subscription's own Close it just
// stops.
func (s *Subscription) Events(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for {
			ev, err := s.Next(ctx)
			if errors.Is(err, errUnsubscribed) {
				return
			}
			if err != nil {
				yield(Event{}, err)
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}

// errUnsubscribed is the ErrClosed of a subscription closed by its owner,
// so that Events can end quietly.
var errUnsubscribed = wrapf(ErrClosed, "subscription closed")

// Close ends the subscription: a Next waiting in another goroutine returns
// ErrClosed. Close is idempotent and always returns nil.
func (s *Subscription) Close() error {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.h.end(s, errUnsubscribed)
	return nil
}
