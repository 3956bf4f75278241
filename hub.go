package messaging

import (
	"slices"
	"sync"
	"sync/atomic"
)

// hub hands committed events to the subscriptions of this process. It keeps
// them in bounded queues (ring): one for SubscribeAll, and a feed per user
// that has subscriptions, so a subscription only ever looks at events meant
// for it. Publishing costs the same whatever the number of subscribers: a
// slow subscriber does not slow senders.
//
// With stored streams (Options.EventHistory), a feed is a cache of the
// user's stream: a subscriber that finds the event it wants neither in its
// feed nor on the way reads the stream from the store (events of another
// process, events older than the feed). Without, the feed is all there is,
// and a subscriber that falls out of it gets ErrOverflow.
type hub struct {
	size   int          // the most events a queue keeps: Options.EventBuffer
	stored bool         // user streams are kept in the store
	subs   atomic.Int64 // live subscriptions; 0 means writes publish nothing

	mu     sync.Mutex
	closed bool
	seq    uint64 // Seq of the last event of SubscribeAll
	all    ring   // every event, for SubscribeAll
	nAll   int    // live SubscribeAll subscriptions
	feeds  map[string]*feed
	live   map[*Subscription]struct{}
}

// feed is one user's queue, alive while the user has subscriptions.
type feed struct {
	ring  // the user's events, in Seq order
	subs  []*Subscription
	known uint64 // the highest Seq known to be in the user's stream
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

func newHub(size int, stored bool) *hub {
	return &hub{size: size, stored: stored, feeds: make(map[string]*feed), live: make(map[*Subscription]struct{})}
}

// enabled reports whether anyone subscribes: commits publish only then.
func (h *hub) enabled() bool { return h.subs.Load() > 0 }

// subscribe registers a subscription. A user's subscription starts after
// Seq from (its caller knows where the stream ends); known is the stream's
// last Seq as read from the store.
func (h *hub) subscribe(user string, from, known uint64) (*Subscription, error) {
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
		f := h.feedOf(user)
		f.subs = append(f.subs, s)
		f.known = max(f.known, known)
		s.feed = f
		s.cursor = from
		if !h.stored && from == 0 {
			s.cursor = f.known // in-process Seqs: now
		}
	}
	h.live[s] = struct{}{}
	h.subs.Add(1)
	return s, nil
}

func (h *hub) feedOf(user string) *feed {
	f := h.feeds[user]
	if f == nil {
		f = &feed{}
		h.feeds[user] = f
	}
	return f
}

// take returns s's next event; or tells s to read the user's stream from
// the store (read); or, if there is nothing yet, a channel closed when
// there may be something.
func (h *hub) take(s *Subscription) (ev Event, wait <-chan struct{}, read bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.err != nil {
		return Event{}, nil, false, s.err
	}
	if s.feed == nil {
		return h.takeAll(s)
	}
	if len(s.pending) > 0 {
		ev, s.pending = s.pending[0], s.pending[1:]
		s.cursor = ev.Seq
		return ev, nil, false, nil
	}
	f := s.feed
	if ev, ok := f.find(s.cursor + 1); ok {
		s.cursor++
		return ev, nil, false, nil
	}
	switch {
	case h.stored && f.known > max(s.cursor, s.synced):
		return Event{}, nil, true, nil
	case !h.stored && f.head > 0 && f.newest() > s.cursor:
		h.end(s, ErrOverflow) // what it wanted fell out of the feed
		return Event{}, nil, false, ErrOverflow
	}
	return Event{}, f.waitChan(), false, nil
}

func (h *hub) takeAll(s *Subscription) (Event, <-chan struct{}, bool, error) {
	r := &h.all
	if s.pos == r.head {
		return Event{}, r.waitChan(), false, nil
	}
	if r.head-s.pos > uint64(len(r.buf)) {
		h.end(s, ErrOverflow)
		return Event{}, nil, false, ErrOverflow
	}
	ev := r.buf[s.pos%uint64(len(r.buf))]
	s.pos++
	return ev, nil, false, nil
}

func (r *ring) waitChan() chan struct{} {
	if r.wake == nil {
		r.wake = make(chan struct{})
	}
	return r.wake
}

// find returns the event with Seq seq if the feed holds it.
func (f *feed) find(seq uint64) (Event, bool) {
	n := uint64(len(f.buf))
	if n == 0 {
		return Event{}, false
	}
	// Seqs grow with positions: binary search over the positions held.
	a, b := f.head-min(f.head, n), f.head
	for a < b {
		mid := a + (b-a)/2
		if f.buf[mid%n].Seq < seq {
			a = mid + 1
		} else {
			b = mid
		}
	}
	if a < f.head && f.buf[a%n].Seq == seq {
		return f.buf[a%n], true
	}
	return Event{}, false
}

// newest is the Seq of the newest event in the feed, which must hold one.
func (f *feed) newest() uint64 { return f.buf[(f.head-1)%uint64(len(f.buf))].Seq }

// publish hands out the events of one committed write: all for
// SubscribeAll, mine for the users' feeds (with their stream Seqs when
// streams are stored). It runs from the store's OnCommit, in commit order,
// so it must not block.
func (h *hub) publish(all []Event, mine []userEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	for _, ev := range all {
		h.seq++
		ev.Seq = h.seq
		if h.nAll > 0 {
			h.all.push(ev, h.size, h.oldestAll)
		}
	}
	for _, ue := range mine {
		f := h.feeds[ue.user]
		if f == nil {
			continue
		}
		if !h.stored {
			ue.ev.Seq = f.known + 1 // the user's Seqs in this process
		}
		f.known = max(f.known, ue.ev.Seq)
		if f.head > 0 && ue.ev.Seq <= f.newest() {
			continue // out of order with what the feed holds: the store has it
		}
		f.push(ue.ev, h.size, f.oldest)
	}
}

// notify records that user's stream reached last in another process, and
// wakes the user's subscribers to read it.
func (h *hub) notify(user string, last uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f := h.feeds[user]; f != nil && last > f.known {
		f.known = last
		f.wakeAll()
	}
}

// users returns the users with subscriptions, for a StreamWatcher.
func (h *hub) users() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	users := make([]string, 0, len(h.feeds))
	for u := range h.feeds {
		users = append(users, u)
	}
	return users
}

// push appends ev, growing buf (up to limit) rather than overwrite an event
// that oldest says a subscriber has not taken yet, and wakes the waiters.
func (r *ring) push(ev Event, limit int, oldest func() uint64) {
	if n := uint64(len(r.buf)); r.head >= n && len(r.buf) < limit && oldest() <= r.head-n {
		r.grow(limit)
	}
	r.buf[r.head%uint64(len(r.buf))] = ev
	r.head++
	r.wakeAll()
}

func (r *ring) wakeAll() {
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

// oldest is the position of the first event with a Seq after the lowest
// cursor of the feed's subscribers.
func (f *feed) oldest() uint64 {
	if len(f.subs) == 0 || len(f.buf) == 0 {
		return f.head
	}
	cursor := f.subs[0].cursor
	for _, s := range f.subs[1:] {
		cursor = min(cursor, s.cursor)
	}
	n := uint64(len(f.buf))
	for p := f.head - min(f.head, n); p < f.head; p++ {
		if f.buf[p%n].Seq > cursor {
			return p
		}
	}
	return f.head
}

// end records why s ended and releases it. Called with h.mu held.
func (h *hub) end(s *Subscription, err error) {
	if s.err != nil {
		return
	}
	s.err = err
	s.pending = nil
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

// fail ends every subscription to a single user with err: their events can
// no longer be followed.
func (h *hub) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.live {
		if s.feed != nil {
			h.end(s, err)
		}
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
