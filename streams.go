package messaging

import (
	"context"
	"errors"
)

// Per-user event streams: every event of a user (their own changes, and
// the read receipts of what they sent) is kept in the store, in the same
// transaction as the change, at a gap-free position per user. A client
// that reconnects resumes from the last position it saw (SubscribeFrom),
// from any process sharing the store and across restarts.

// DefaultEventHistory is how many of the latest events of each user are
// kept unless Options.EventHistory says otherwise.
const DefaultEventHistory = 1000

// MaxEventHistory is the largest Options.EventHistory accepted.
const MaxEventHistory = 1 << 20

// userEvent is an event for one user's subscribers; with stored streams,
// ev.Seq is its position in the user's stream.
type userEvent struct {
	user string
	ev   Event
}

// streamWriter appends the events of one write to the users' streams,
// trimming each to the newest keep.
type streamWriter struct {
	tx     Tx
	keep   uint64
	bounds [4]streamBounds // of the streams written so far, bounds[:n]; a write touches one to three
	n      int
	more   []streamBounds // beyond four
	buf    []byte         // encodings of the events, one allocation per write
}

type streamBounds struct {
	user        string
	first, last uint64
}

// append stores ev at the end of user's stream and returns its Seq.
func (w *streamWriter) append(user string, ev *Event) (uint64, error) {
	b, err := w.boundsOf(user)
	if err != nil {
		return 0, err
	}
	seq := b.last + 1
	n := len(w.buf)
	w.buf = encodeEvent(w.buf, ev)
	// The store may keep Data as it is: a full slice expression keeps a
	// later append from writing into it.
	if err := w.tx.PutEvent(EventRecord{User: user, Seq: seq, Data: w.buf[n:len(w.buf):len(w.buf)]}); err != nil {
		return 0, err
	}
	if b.first == 0 {
		b.first = seq
	}
	b.last = seq
	if seq-b.first+1 > w.keep {
		upTo := seq - w.keep
		if err := w.tx.DeleteEvents(user, upTo); err != nil {
			return 0, err
		}
		b.first = upTo + 1
	}
	return seq, nil
}

// boundsOf returns the bounds of user's stream, reading them the first time.
func (w *streamWriter) boundsOf(user string) (*streamBounds, error) {
	for i := range w.bounds[:w.n] {
		if w.bounds[i].user == user {
			return &w.bounds[i], nil
		}
	}
	for i := range w.more {
		if w.more[i].user == user {
			return &w.more[i], nil
		}
	}
	first, last, err := w.tx.StreamBounds(user)
	if err != nil {
		return nil, err
	}
	b := streamBounds{user: user, first: first, last: last}
	if w.n < len(w.bounds) {
		w.bounds[w.n] = b
		w.n++
		return &w.bounds[w.n-1], nil
	}
	w.more = append(w.more, b)
	return &w.more[len(w.more)-1], nil
}

// Subscribe returns a subscription to the events of user's inbox, and to
// the read receipts of the messages user sent (ConversationRead events of
// which user is the Other, carrying user's counts), from the end of user's
// stream: SubscribeFrom at the current end. Events are delivered only after
// their write commits, in commit order, never for a write that failed; the
// events of a write in flight while Subscribe is called may or may not be
// delivered.
func (x *Inboxes) Subscribe(user string) (*Subscription, error) {
	return x.subscribe(user, 0, false)
}

// SubscribeFrom returns a subscription to user's events after position
// after in user's stream (the Seq of the last event the client saw): first
// every event after it that is kept, then live ones, with no gap and no
// duplicate, whichever process of those sharing the store wrote them, and
// across restarts. after 0 starts at the oldest event kept, if that is the
// stream's first.
//
// If events after after are no longer kept (Options.EventHistory per user),
// or the stream never reached after, it returns ErrResumeTooOld: the
// client must reload its state and subscribe afresh. So it does if the
// Inboxes keeps no history (EventHistory < 0).
func (x *Inboxes) SubscribeFrom(user string, after uint64) (*Subscription, error) {
	return x.subscribe(user, after, true)
}

func (x *Inboxes) subscribe(user string, after uint64, resume bool) (*Subscription, error) {
	op := "subscribe to %q"
	if err := validUser(user); err != nil {
		return nil, wrapf(inputError("user", err), op, user)
	}
	if !x.hub.stored {
		if resume {
			return nil, wrapf(ErrResumeTooOld, op+": no event history is kept", user)
		}
		s, err := x.hub.subscribe(user, 0, 0)
		return s, wrapf(err, op, user)
	}
	var first, last uint64
	err := x.store.View(context.Background(), func(tx ReadTx) (err error) {
		first, last, err = tx.StreamBounds(user)
		return err
	})
	if err != nil {
		return nil, wrapf(err, op, user)
	}
	if !resume {
		after = last
	}
	switch {
	case after > last:
		return nil, wrapf(ErrResumeTooOld, op+": resuming after %d, the stream ends at %d", user, after, last)
	case after < last && first > after+1:
		return nil, wrapf(ErrResumeTooOld, op+": resuming after %d, the stream keeps %d to %d", user, after, first, last)
	}
	s, err := x.hub.subscribe(user, after, last)
	if err != nil {
		return nil, wrapf(err, op, user)
	}
	// A write that committed between the read above and the subscription
	// was published to no feed of this user: read the end again, now that
	// every later commit reaches the feed, so that Next reads it from the
	// store rather than wait for the user's next event.
	err = x.store.View(context.Background(), func(tx ReadTx) (err error) {
		_, last, err = tx.StreamBounds(user)
		return err
	})
	if err != nil {
		s.Close()
		return nil, wrapf(err, op, user)
	}
	x.hub.notify(user, last)
	s.inboxes = x
	x.watch()
	return s, nil
}

// readStream reads the next events of s's user from the store into
// s.pending: those of other processes, and those its feed no longer holds.
func (s *Subscription) readStream(ctx context.Context) error {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	h := s.h
	h.mu.Lock()
	after, known := s.cursor, s.feed.known
	if len(s.pending) > 0 {
		after = s.pending[len(s.pending)-1].Seq
	}
	h.mu.Unlock()

	var recs []EventRecord
	err := s.inboxes.store.View(ctx, func(tx ReadTx) (err error) {
		recs, err = tx.Events(s.user, after, MaxPageSize)
		return err
	})
	if err != nil {
		return wrapf(err, "read the event stream of %q", s.user)
	}
	evs := make([]Event, 0, len(recs))
	for _, rec := range recs {
		ev, err := decodeEvent(rec)
		if err != nil {
			return wrapf(err, "read the event stream of %q", s.user)
		}
		evs = append(evs, ev)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if len(evs) > 0 && evs[0].Seq != after+1 {
		// What came after the subscriber was trimmed while it lagged.
		h.end(s, ErrOverflow)
		return ErrOverflow
	}
	s.synced = max(s.synced, known)
	if len(evs) == MaxPageSize {
		s.synced = min(s.synced, evs[len(evs)-1].Seq) // there may be more
	}
	for _, ev := range evs {
		if ev.Seq > s.cursor && (len(s.pending) == 0 || ev.Seq == s.pending[len(s.pending)-1].Seq+1) {
			s.pending = append(s.pending, ev)
		}
	}
	return nil
}

// StreamWatcher is an optional capability of a Store that several
// processes write to (pgstore): it tells an Inboxes when another process
// appended to a user's stream, so that subscribers in this process read
// it. Inboxes runs WatchStreams, once, while it has subscriptions to single
// users.
type StreamWatcher interface {
	// WatchStreams calls changed(user, last) when user's stream may have
	// grown to last, for users among those users() returns, until ctx ends;
	// it then returns. It must not depend on any one mechanism alone (a
	// notification may be lost): it polls too, within a bounded delay.
	WatchStreams(ctx context.Context, users func() []string, changed func(user string, last uint64)) error
}

// watch starts the store's StreamWatcher, if it has one, the first time it
// is needed.
func (x *Inboxes) watch() {
	w, ok := x.store.(StreamWatcher)
	if !ok {
		return
	}
	x.watchOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		x.stopWatch = cancel
		x.watching.Add(1)
		go func() {
			defer x.watching.Done()
			err := w.WatchStreams(ctx, x.hub.users, x.hub.notify)
			if err != nil && !errors.Is(err, context.Canceled) {
				x.hub.fail(wrapf(err, "watch event streams"))
			}
		}()
	})
}
