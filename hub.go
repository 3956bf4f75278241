package messaging

import (
	"slices"
	"sync"
	"sync/atomic"
)

// hub hands committed events to the subscriptions of this process. It keeps
// them in bounded queues (ring) read at independent positions: one for
// SubscribeAll, and a feed per user that has subscriptions, so a
// subscription only ever looks at events meant for it. Publishing costs the
// same whatever the number of subscribers: a slow subscriber does not slow
// senders, it falls behind and is told (ErrOverflow).
type hub struct {
	size int          // the most events a queue keeps: Options.EventBuffer
	subs atomic.Int64 // live subscriptions; 0 means writes build no events

	mu     sync.Mutex
	closed bool
	seq    uint64 // Seq of the last event published
	all    ring   // every event, for SubscribeAll
	nAll   int    // live SubscribeAll subscriptions
	feeds  map[string]*feed
	live   map[*Subscription]struct{}
}

// feed is one user's queue, alive while the user has subscriptions.
type feed struct {
	ring
	subs []*Subscription
}

// ring is a queue of events read at independent positions: the event at
// position p (counting from 0, the first ever pushed) is buf[p%len(buf)]
// while head-len(buf) <= p < head. It grows on demand up to the hub's size,
// so an idle user's feed costs a few slots.
type ring struct {
	buf  []Event
	head uint64        // events pushed so far
	wake chan struct{} // closed when events are pushed; nil until someone waits
}

const firstRingSize = 16

func newHub(size int) *hub {
	return &hub{size: size, feeds: make(map[string]*feed), live: make(map[*Subscription]struct{})}
}

// enabled reports whether anyone subscribes: writes build events only then.
func (h *hub) enabled() bool { return h.subs.Load() > 0 }

func (h *hub) subscribe(user string) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	s := &Subscription{h: h, user: user, done: make(chan struct{})}
	if user == "" {
		h.nAll++
		s.pos = h.all.head
	} else {
		f := h.feeds[user]
		if f == nil {
			f = &feed{}
			h.feeds[user] = f
		}
		f.subs = append(f.subs, s)
		s.feed = f
		s.pos = f.head
	}
	h.live[s] = struct{}{}
	h.subs.Add(1)
	return s, nil
}

// take returns s's next event, or, if there is none yet, a channel closed
// when there may be one. It ends s with ErrOverflow if its next event was
// overwritten.
func (h *hub) take(s *Subscription) (ev Event, wait <-chan struct{}, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.err != nil {
		return Event{}, nil, s.err
	}
	r := &h.all
	if s.feed != nil {
		r = &s.feed.ring
	}
	if s.pos == r.head {
		if r.wake == nil {
			r.wake = make(chan struct{})
		}
		return Event{}, r.wake, nil
	}
	if r.head-s.pos > uint64(len(r.buf)) {
		h.end(s, ErrOverflow)
		return Event{}, nil, ErrOverflow
	}
	ev = r.buf[s.pos%uint64(len(r.buf))]
	s.pos++
	return ev, nil, nil
}

// publish hands out the events of one committed write. It runs from the
// store's OnCommit, in commit order, so it must not block.
func (h *hub) publish(changes []change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	for _, ch := range changes {
		h.seq++
		ch.audience(h.seq, func(user string, ev Event) {
			if user == "" {
				if h.nAll > 0 {
					h.all.push(ev, h.size, h.oldestAll)
				}
			} else if f := h.feeds[user]; f != nil {
				f.push(ev, h.size, f.oldest)
			}
		})
	}
}

// push appends ev, growing buf (up to limit) rather than overwrite an event
// that oldest says a subscriber has not taken yet, and wakes the waiters.
func (r *ring) push(ev Event, limit int, oldest func() uint64) {
	if n := uint64(len(r.buf)); r.head >= n && len(r.buf) < limit && oldest() <= r.head-n {
		r.grow(limit)
	}
	r.buf[r.head%uint64(len(r.buf))] = ev
	r.head++
	if r.wake != nil {
		close(r.wake)
		r.wake = nil
	}
}

func (r *ring) grow(limit int) {
	size := min(max(2*len(r.buf), firstRingSize), limit)
	buf := make([]Event, size)
	n := uint64(len(r.buf))
	for p := r.head - min(r.head, n); p < r.head; p++ {
		buf[p%uint64(size)] = r.buf[p%n]
	}
	r.buf = buf
}

// oldestAll and feed.oldest give the position of the oldest event a
// subscriber of the queue has yet to take.
func (h *hub) oldestAll() uint64 {
	oldest := h.all.head
	for s := range h.live {
		if s.feed == nil {
			oldest = min(oldest, s.pos)
		}
	}
	return oldest
}

func (f *feed) oldest() uint64 {
	oldest := f.head
	for _, s := range f.subs {
		oldest = min(oldest, s.pos)
	}
	return oldest
}

// end records why s ended and releases it. Called with h.mu held.
func (h *hub) end(s *Subscription, err error) {
	if s.err != nil {
		return
	}
	s.err = err
	close(s.done)
	delete(h.live, s)
	h.subs.Add(-1)
	if s.feed == nil {
		h.nAll--
		return
	}
	f := s.feed
	f.subs = slices.DeleteFunc(f.subs, func(o *Subscription) bool { return o == s })
	if len(f.subs) == 0 && h.feeds[s.user] == f {
		delete(h.feeds, s.user)
	}
}

// close ends every subscription with ErrClosed.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.live {
		h.end(s, ErrClosed)
	}
	h.all = ring{}
}
