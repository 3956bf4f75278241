package messaging

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"sync/atomic"
)

// EventKind says what an Event reports.
type EventKind uint8

// The kinds of event. Each is about one inbox: Event.User's.
const (
	// MessageReceived: User received Message (their copy, new).
	MessageReceived EventKind = iota + 1
	// MessageSent: User sent Message (their own copy).
	MessageSent
	// ConversationRead: User read their conversation with Other up to the
	// message ReadUpTo. For Other this is the read receipt of what they
	// sent, so subscribers of Other receive it too.
	ConversationRead
	// MessageDeleted: User deleted their copy of Message.
	MessageDeleted
	// ConversationDeleted: User deleted their conversation with Other.
	ConversationDeleted
	// InboxDeleted: User's inbox was deleted.
	InboxDeleted
)

var kindNames = [...]string{
	MessageReceived:     "message-received",
	MessageSent:         "message-sent",
	ConversationRead:    "conversation-read",
	MessageDeleted:      "message-deleted",
	ConversationDeleted: "conversation-deleted",
	InboxDeleted:        "inbox-deleted",
}

func (k EventKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", k)
}

// Event is one committed change, with what a handler needs to act on it
// without reading the store again: the message copy, and the unread counts
// as they are after the change.
type Event struct {
	// Seq numbers the events of an Inboxes in commit order, from 1.
	Seq  uint64
	Kind EventKind
	// User is the owner of the inbox that changed.
	User string
	// Other is the other user of the conversation; empty for InboxDeleted.
	Other string
	// Message is User's copy, for MessageReceived, MessageSent and
	// MessageDeleted.
	Message Message
	// ReadUpTo is the new read mark, for ConversationRead: every message
	// of the conversation with an ID up to it is read.
	ReadUpTo uint64
	// Unread is User's inbox unread count after the change.
	Unread int
	// ConversationUnread is the conversation's unread count after the
	// change (0 once it is deleted).
	ConversationUnread int
}

// ErrOverflow ends a subscription that fell so far behind that events it
// should have received were dropped. The events before the gap were all
// delivered; resubscribe and read the state afresh.
var ErrOverflow = errors.New("messaging: subscriber fell behind, events were dropped")

// DefaultEventBuffer is how many events are kept for subscribers unless
// Options.EventBuffer says otherwise.
const DefaultEventBuffer = 4096

// hub keeps the last events in one ring shared by all subscriptions, so
// publishing costs the same whatever the number of subscribers: a slow
// subscriber does not slow senders, it falls behind and is told.
type hub struct {
	size int
	subs atomic.Int64 // live subscriptions; 0 means build no events at all

	mu       sync.Mutex
	closed   bool
	ring     []*Event // ring[seq % size], allocated by the first Subscribe; events are never changed once published
	seq      uint64   // last published
	all      map[*Subscription]struct{}
	waitAll  []*Subscription            // all-users subscribers blocked in Next
	waitUser map[string][]*Subscription // one-user subscribers blocked in Next

	// Overwritten events since the last prune: the highest Seq dropped per
	// user it concerned, and overall. A subscriber that fell out of the
	// ring lost something only if its user's events were among them.
	dropped    map[string]uint64
	droppedAny uint64
}

func newHub(size int) *hub {
	return &hub{size: size, all: make(map[*Subscription]struct{}), waitUser: make(map[string][]*Subscription), dropped: make(map[string]uint64)}
}

// enabled reports whether anyone subscribes: writes build events only then.
func (h *hub) enabled() bool { return h.subs.Load() > 0 }

// Subscription receives the events of one user, or of all users, that
// commit after it was made. Read them with Next or Events. It holds no
// goroutine; Close it when done. It is safe for concurrent use, but events
// are divided, not copied, between goroutines reading one subscription.
type Subscription struct {
	h    *hub
	user string // "" for all users
	wake chan struct{}
	done chan struct{}

	// Guarded by h.mu.
	next    uint64 // Seq of the next event to look at
	err     error  // why the subscription ended
	waiting bool
}

func (h *hub) subscribe(user string) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if h.ring == nil {
		h.ring = make([]*Event, h.size)
	}
	s := &Subscription{h: h, user: user, wake: make(chan struct{}, 1), done: make(chan struct{}), next: h.seq + 1}
	h.all[s] = struct{}{}
	h.subs.Add(1)
	return s, nil
}

// Subscribe returns a subscription to the events of user's inbox, and to
// the read receipts of conversations with user (ConversationRead events of
// which user is the Other). Events are delivered only after their write
// commits, in commit order, never for a write that failed; the events of a
// write in flight while Subscribe is called may or may not be delivered.
func (x *Inboxes) Subscribe(user string) (*Subscription, error) {
	if err := checkUser(user); err != nil {
		return nil, wrapf(err, "subscribe to %q", user)
	}
	return x.hub.subscribe(user)
}

// SubscribeAll returns a subscription to the events of every inbox.
func (x *Inboxes) SubscribeAll() (*Subscription, error) {
	return x.hub.subscribe("")
}

func (s *Subscription) wants(ev *Event) bool {
	return s.user == "" || ev.User == s.user || (ev.Kind == ConversationRead && ev.Other == s.user)
}

// Next returns the subscription's next event, waiting for one if need be.
// It returns ErrOverflow if the subscriber fell behind, ErrClosed after
// Close of the subscription or of the Inboxes, and an error wrapping
// ctx.Err() if ctx ends first.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	h := s.h
	for {
		h.mu.Lock()
		if s.err == nil {
			h.catchUp(s)
		}
		if s.err != nil {
			err := s.err
			h.mu.Unlock()
			return Event{}, err
		}
		for ; s.next <= h.seq; s.next++ {
			if ev := h.ring[s.next%uint64(h.size)]; s.wants(ev) {
				s.next++
				if s.next <= h.seq {
					// More may be pending: pass the wakeup on to another
					// goroutine waiting on this subscription, since one
					// publish wakes only one of them.
					wake(s)
				}
				h.mu.Unlock()
				return *ev, nil
			}
		}
		if !s.waiting {
			s.waiting = true
			if s.user == "" {
				h.waitAll = append(h.waitAll, s)
			} else {
				h.waitUser[s.user] = append(h.waitUser[s.user], s)
			}
		}
		h.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.done:
		case <-ctx.Done():
			return Event{}, wrapf(ctx.Err(), "next event")
		}
	}
}

// catchUp moves a subscriber that fell out of the ring to its oldest event,
// or ends it with ErrOverflow if an event it wanted was overwritten.
func (h *hub) catchUp(s *Subscription) {
	if h.seq < uint64(h.size) {
		return
	}
	oldest := h.seq - uint64(h.size) + 1
	if s.next >= oldest {
		return
	}
	lost := h.droppedAny >= s.next
	if s.user != "" {
		lost = h.dropped[s.user] >= s.next
	}
	if lost {
		h.end(s, ErrOverflow)
		return
	}
	s.next = oldest
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

// end records why s ended and releases it. Called with h.mu held.
func (h *hub) end(s *Subscription, err error) {
	if s.err != nil {
		return
	}
	s.err = err
	close(s.done)
	delete(h.all, s)
	h.subs.Add(-1)
	if s.waiting { // do not keep a dead subscription in the wait lists
		s.waiting = false
		if s.user == "" {
			h.waitAll = slices.DeleteFunc(h.waitAll, func(w *Subscription) bool { return w == s })
		} else if ws := slices.DeleteFunc(h.waitUser[s.user], func(w *Subscription) bool { return w == s }); len(ws) > 0 {
			h.waitUser[s.user] = ws
		} else {
			delete(h.waitUser, s.user)
		}
	}
}

// close ends every subscription with ErrClosed.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.all {
		h.end(s, ErrClosed)
	}
	h.ring = nil
}

// publish appends the events of one committed write. It runs from the
// store's OnCommit, in commit order, so it must not block: it puts the
// events in the ring (by pointer: they are not changed after this) and
// wakes the subscribers waiting for them.
func (h *hub) publish(evs []Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ring == nil {
		return
	}
	for i := range evs {
		h.seq++
		ev := &evs[i]
		ev.Seq = h.seq
		slot := &h.ring[h.seq%uint64(h.size)]
		if old := *slot; old != nil {
			h.droppedAny = old.Seq
			h.dropped[old.User] = old.Seq
			if old.Kind == ConversationRead {
				h.dropped[old.Other] = old.Seq
			}
		}
		*slot = ev
		h.wakeUser(ev.User)
		if ev.Kind == ConversationRead {
			h.wakeUser(ev.Other)
		}
		if h.seq%uint64(h.size) == 0 {
			h.prune()
		}
	}
	for _, s := range h.waitAll {
		s.waiting = false
		wake(s)
	}
	clear(h.waitAll)
	h.waitAll = h.waitAll[:0]
}

func (h *hub) wakeUser(user string) {
	if ws := h.waitUser[user]; len(ws) > 0 {
		for _, s := range ws {
			s.waiting = false
			wake(s)
		}
		delete(h.waitUser, user)
	}
}

func wake(s *Subscription) {
	select {
	case s.wake <- struct{}{}:
	default: // already woken
	}
}

// prune settles every subscriber that fell out of the ring, so that the
// record of dropped events can start afresh and stays bounded.
func (h *hub) prune() {
	for s := range h.all {
		h.catchUp(s)
	}
	clear(h.dropped)
	h.droppedAny = 0
}

// emit registers evs to be published once the transaction commits. Writes
// call it only when h.enabled().
func (h *hub) emit(tx Tx, evs []Event) {
	if len(evs) > 0 {
		tx.OnCommit(func() { h.publish(evs) })
	}
}
