package httpapi

// GET /events: the asking user's event stream as Server-Sent Events,
// resumable with Last-Event-ID.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/socialkit/messaging"
)

// events streams the asking user's events. Each is written as
//
//	id: <Seq>
//	event: <kind>
//	data: <the messaging.Event as JSON, on one line>
//
// and flushed. A Last-Event-ID header, or else a last_event_id query
// parameter (for clients that cannot set headers), resumes after that Seq
// through Inboxes.SubscribeFrom; without either the stream starts at the
// end of the user's stream. The header wins because EventSource keeps the
// URL it was opened with and sends the newer position as the header when it
// reconnects.
//
// When the stream cannot go on without a gap (resuming from too far back,
// at subscribe time, or the subscriber falling out of what is kept, later)
// it ends with
//
//	id:
//	event: reload
//	data: <an ErrorResponse: resume_too_old or overflow>
//
// The empty id clears the client's position, so that an EventSource that
// reconnects on its own starts afresh rather than asking for the same
// position again; the client should reload its state first. A client that
// does not accept text/event-stream gets 410 resume_too_old at subscribe
// time instead, as JSON.
func (a *api) events(w http.ResponseWriter, r *http.Request, me string) error {
	if r.Method == http.MethodHead {
		a.startStream(w) // the headers of the stream, and no stream
		return nil
	}
	after, resume, err := lastEventID(r)
	if err != nil {
		return err
	}
	var sub *messaging.Subscription
	if resume {
		sub, err = a.x.SubscribeFrom(me, after)
	} else {
		sub, err = a.x.Subscribe(me)
	}
	if errors.Is(err, messaging.ErrResumeTooOld) && acceptsEventStream(r) {
		s := a.startStream(w)
		s.reload(err)
		return nil
	}
	if err != nil {
		return err
	}
	defer sub.Close()
	s := a.startStream(w)
	if err := s.flush(); err != nil {
		if errors.Is(err, http.ErrNotSupported) {
			a.log.ErrorContext(r.Context(), "messaging: httpapi: the ResponseWriter cannot flush: no event stream", "err", err)
		}
		return nil
	}
	a.stream(r.Context(), s, sub, me)
	return nil
}

// stream writes sub's events to s until the request ends, the client stops
// reading, or the subscription ends. Waits for an event are cut at each
// heartbeat: one timer per heartbeat, none per event.
func (a *api) stream(ctx context.Context, s *eventStream, sub *messaging.Subscription, me string) {
	for {
		wait, cancel := ctx, context.CancelFunc(func() {})
		if a.heartbeat > 0 {
			next := time.Now().Add(a.heartbeat)
			wait, cancel = context.WithDeadline(ctx, next)
			// A client that reads nothing blocks our writes once the
			// connection's buffers are full; it is dropped at the end of
			// the next heartbeat. This also lifts a server WriteTimeout,
			// which would cut every stream.
			s.deadline(next.Add(a.heartbeat))
		}
		var err error
		for {
			var ev messaging.Event
			if ev, err = sub.Next(wait); err != nil {
				break
			}
			if err = s.event(ev); err != nil {
				break
			}
		}
		cancel()
		switch {
		case ctx.Err() != nil:
			return // the client went away, or the server shuts down
		case s.failed:
			return // the client stopped reading (the write deadline), or went away
		case errors.Is(err, context.DeadlineExceeded) && wait.Err() != nil:
			if s.heartbeat() != nil {
				return
			}
		case errors.Is(err, messaging.ErrOverflow) || errors.Is(err, messaging.ErrResumeTooOld):
			s.reload(err)
			return
		case errors.Is(err, messaging.ErrClosed):
			return // the Inboxes closed: the client reconnects later
		default:
			a.log.ErrorContext(ctx, "messaging: httpapi: event stream ends", "user", me, "err", err)
			return
		}
	}
}

// lastEventID reads the position to resume after: the Last-Event-ID
// header, or else the last_event_id query parameter.
func lastEventID(r *http.Request) (after uint64, resume bool, err error) {
	s, ok := r.Header.Get("Last-Event-ID"), true
	if s == "" {
		s = r.URL.Query().Get("last_event_id")
		ok = s != ""
	}
	if !ok {
		return 0, false, nil
	}
	after, perr := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if perr != nil {
		return 0, false, badParameter("last_event_id", "must be the id of an event (a decimal number)")
	}
	return after, true, nil
}

// acceptsEventStream reports whether the client asked for
// text/event-stream, as EventSource does.
func acceptsEventStream(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(part); err == nil && mt == "text/event-stream" {
			return true
		}
	}
	return false
}

// eventStream writes Server-Sent Events to one client.
type eventStream struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	buf    bytes.Buffer  // one event, written in one piece
	enc    *json.Encoder // into buf
	failed bool          // a write or flush failed: the client is gone
}

// startStream sends the headers of an event stream.
func (a *api) startStream(w http.ResponseWriter) *eventStream {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	s := &eventStream{w: w, rc: http.NewResponseController(w)}
	s.enc = json.NewEncoder(&s.buf)
	return s
}

// event writes and flushes one event. The JSON of an event is one line:
// encoding/json escapes the line breaks inside strings, and Encode ends
// it with the line break that ends the data line.
func (s *eventStream) event(ev messaging.Event) error {
	s.buf.Reset()
	s.buf.WriteString("id: ")
	s.buf.Write(strconv.AppendUint(s.buf.AvailableBuffer(), ev.Seq, 10))
	s.buf.WriteString("\nevent: ")
	s.buf.WriteString(ev.Kind.String())
	s.buf.WriteString("\ndata: ")
	if err := s.enc.Encode(ev); err != nil {
		return err
	}
	s.buf.WriteByte('\n')
	return s.send()
}

// heartbeat writes a comment line, which clients ignore.
func (s *eventStream) heartbeat() error {
	s.buf.Reset()
	s.buf.WriteString(": heartbeat\n\n")
	return s.send()
}

// reload writes the event that tells the client to reload its state.
func (s *eventStream) reload(cause error) {
	_, body, _ := answer(cause)
	data, _ := json.Marshal(body) // strings only: cannot fail
	s.buf.Reset()
	s.buf.WriteString("id:\nevent: reload\ndata: ")
	s.buf.Write(data)
	s.buf.WriteString("\n\n")
	_ = s.send() // the stream ends either way
}

func (s *eventStream) send() error {
	if _, err := s.w.Write(s.buf.Bytes()); err != nil {
		s.failed = true
		return err
	}
	return s.flush()
}

func (s *eventStream) flush() error {
	if err := s.rc.Flush(); err != nil {
		s.failed = true
		return err
	}
	return nil
}

// deadline sets the write deadline of the connection, where the server
// supports it.
func (s *eventStream) deadline(t time.Time) {
	_ = s.rc.SetWriteDeadline(t) // http.ErrNotSupported: no deadline to lift either
}
