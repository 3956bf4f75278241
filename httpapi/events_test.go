package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/httpapi"
)

const wait = 5 * time.Second

func server(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestEventsLive(t *testing.T) {
	h := newHarness(t)
	srv := server(t, h.h)
	dave := stream(t, srv, "dave", "", nil)
	bob := stream(t, srv, "bob", "", nil)

	w := h.do("POST", "/conversations/dave/messages", "bob", `{"text": "Hi\nDave", "meta": {"k": "v"}}`)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	m := decode[messaging.Message](t, w)

	ev := dave.next(wait)
	assert.Equal(t, "1", ev.ID)
	assert.Equal(t, "message_received", ev.Event)
	got := ev.ParsedEvent
	assert.Equal(t, uint64(1), got.Seq)
	assert.Equal(t, messaging.MessageReceived, got.Kind)
	assert.Equal(t, "dave", got.User)
	assert.Equal(t, "bob", got.Other)
	assert.Equal(t, m.ID, got.Message.ID)
	assert.Equal(t, "Hi\nDave", got.Message.Text, "a line break inside the data stays in the JSON")
	assert.Equal(t, map[string]string{"k": "v"}, got.Message.Meta)
	assert.True(t, got.Message.New)
	assert.Equal(t, 1, got.Unread)

	ev = bob.next(wait)
	assert.Equal(t, "message_sent", ev.Event)
	assert.Equal(t, "bob", ev.ParsedEvent.User)
	assert.False(t, ev.ParsedEvent.Message.New)

	// Dave reads: his own event, and bob's read receipt with bob's counts.
	w = h.do("POST", "/conversations/bob/read", "dave", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	ev = dave.next(wait)
	assert.Equal(t, "conversation_read", ev.Event)
	assert.Equal(t, "2", ev.ID)
	assert.Equal(t, 0, ev.ParsedEvent.Unread)
	receipt := bob.next(wait)
	assert.Equal(t, "conversation_read", receipt.Event)
	assert.Equal(t, "2", receipt.ID, "bob's own stream position")
	assert.Equal(t, "dave", receipt.ParsedEvent.User, "the reader")
	assert.Equal(t, "bob", receipt.ParsedEvent.Other)
	assert.Equal(t, m.ID, receipt.ParsedEvent.ReadUpTo)

	// Retract reaches both.
	w = h.do("POST", "/conversations/dave/messages/"+itoa(m.ID)+"/retract", "bob", "")
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	assert.Equal(t, "message_retracted", dave.next(wait).Event)
	assert.Equal(t, "message_retracted", bob.next(wait).Event)
}

func TestEventsResume(t *testing.T) {
	h := newHarness(t)
	srv := server(t, h.h)
	first := stream(t, srv, "dave", "", nil)
	for _, text := range []string{"1", "2", "3"} {
		h.send("bob", "dave", text)
	}
	for _, id := range []string{"1", "2", "3"} {
		assert.Equal(t, id, first.next(wait).ID)
	}
	require.NoError(t, first.body.Close())

	h.send("bob", "dave", "4")
	h.send("bob", "dave", "5")
	texts := func(s *sseReader, n int) []string {
		var out []string
		for range n {
			ev := s.next(wait)
			out = append(out, ev.ID+":"+ev.ParsedEvent.Message.Text)
		}
		return out
	}
	again := stream(t, srv, "dave", "", map[string]string{"Last-Event-ID": "2"})
	assert.Equal(t, []string{"3:3", "4:4", "5:5"}, texts(again, 3), "what was missed, no gap, no duplicate")
	h.send("bob", "dave", "6")
	assert.Equal(t, []string{"6:6"}, texts(again, 1), "then live")

	byQuery := stream(t, srv, "dave", "?last_event_id=4", nil)
	assert.Equal(t, []string{"5:5", "6:6"}, texts(byQuery, 2), "for clients that cannot set headers")

	both := stream(t, srv, "dave", "?last_event_id=1", map[string]string{"Last-Event-ID": "5"})
	assert.Equal(t, []string{"6:6"}, texts(both, 1), "the header wins: EventSource reconnects with the URL it was opened with")

	fromStart := stream(t, srv, "dave", "?last_event_id=0", nil)
	assert.Equal(t, "1:1", texts(fromStart, 1)[0], "0: from the first event kept")
}

func TestEventsReloadWhenTooOld(t *testing.T) {
	h := newHarnessWith(t, &messaging.Options{EventHistory: 3}, httpapi.Options{})
	srv := server(t, h.h)
	for range 6 {
		h.send("bob", "dave", "x")
	}
	for _, after := range []string{"1", "7"} { // trimmed; never reached
		s := stream(t, srv, "dave", "", map[string]string{"Last-Event-ID": after})
		ev := s.next(wait)
		assert.Equal(t, "reload", ev.Event, after)
		assert.True(t, ev.HasID, "an id line...")
		assert.Empty(t, ev.ID, "...that clears the client's position")
		assert.Equal(t, "resume_too_old", ev.ParsedFailure.Code)
		_, err := s.read()
		assert.ErrorIs(t, err, io.EOF, "the stream ends")
	}

	s := stream(t, srv, "dave", "", map[string]string{"Last-Event-ID": "3"})
	assert.Equal(t, "4", s.next(wait).ID, "what is kept resumes")

	w := h.do("GET", "/events?last_event_id=1", "dave", "")
	assert.Equal(t, http.StatusGone, w.Code, "a client that is not an event stream gets the status")
	assert.Equal(t, "resume_too_old", errorOf(t, w).Code)
}

func TestEventsHeartbeat(t *testing.T) {
	h := newHarnessWith(t, nil, httpapi.Options{Heartbeat: 20 * time.Millisecond})
	srv := server(t, h.h)
	s := stream(t, srv, "dave", "", nil)
	for range 3 {
		ev := s.next(wait)
		assert.Equal(t, "heartbeat", ev.Comment)
		assert.Empty(t, ev.Event)
	}
	h.send("bob", "dave", "still live")
	for {
		ev := s.next(wait)
		if ev.Comment == "" {
			assert.Equal(t, "still live", ev.ParsedEvent.Message.Text)
			break
		}
	}
}

func TestEventsNoHeartbeat(t *testing.T) {
	h := newHarnessWith(t, nil, httpapi.Options{Heartbeat: -1})
	srv := server(t, h.h)
	s := stream(t, srv, "dave", "", nil)
	time.Sleep(50 * time.Millisecond)
	h.send("bob", "dave", "first thing")
	ev := s.next(wait)
	assert.Empty(t, ev.Comment, "no heartbeat came first")
	assert.Equal(t, "first thing", ev.ParsedEvent.Message.Text)
}

func TestEventsHead(t *testing.T) {
	h := newHarness(t)
	r := httptest.NewRequest("HEAD", "/events", nil)
	r.Header.Set(userHeader, "dave")
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r) // returns: no stream to wait on
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "text/event-stream; charset=utf-8", w.Header().Get("Content-Type"))
}

// A client that goes away ends its handler and leaves no goroutine behind.
func TestEventsClientGoneEndsHandler(t *testing.T) {
	before := runtime.NumGoroutine()
	h := newHarness(t)
	returned := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.h.ServeHTTP(w, r)
		returned <- struct{}{}
	}))
	reqCtx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(reqCtx, "GET", srv.URL+"/events", nil)
	require.NoError(t, err)
	req.Header.Set(userHeader, "dave")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	select {
	case <-returned:
		t.Fatal("the handler ended while its client was there")
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	resp.Body.Close()
	select {
	case <-returned:
	case <-time.After(wait):
		t.Fatal("the handler did not end when its client went away")
	}
	srv.Close()
	// Polled here, not with assert.Eventually: that runs its condition in
	// a goroutine of its own.
	for end := time.Now().Add(wait); runtime.NumGoroutine() > before && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if !assert.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left behind") {
		stacks := make([]byte, 1<<20)
		t.Logf("%d goroutines before, now:\n%s", before, stacks[:runtime.Stack(stacks, true)])
	}
	h.send("bob", "dave", "nobody listens") // the subscription is closed: a send does not wait for it
}

// A client that stops reading is dropped within two heartbeats of its
// connection's buffers filling up.
func TestEventsDropsClientThatDoesNotRead(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 12 MB of events")
	}
	h := newHarnessWith(t, nil, httpapi.Options{Heartbeat: 50 * time.Millisecond})
	returned := make(chan struct{}, 1)
	srv := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.h.ServeHTTP(w, r)
		returned <- struct{}{}
	}))
	req, err := http.NewRequest("GET", srv.URL+"/events", nil)
	require.NoError(t, err)
	req.Header.Set(userHeader, "dave")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close() // never read

	text := strings.Repeat("x", 60<<10)
	for range 200 {
		h.send("bob", "dave", text)
	}
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler still waits on a client that does not read")
	}
}

// blockingWriter is a ResponseWriter whose first write of an event blocks
// until released: a client that lags behind.
type blockingWriter struct {
	header  http.Header
	flushed chan struct{} // closed at the first flush: subscribed
	blocked chan struct{} // closed when a write blocks
	release chan struct{}
	once    [2]sync.Once
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (b *blockingWriter) Header() http.Header { return b.header }
func (b *blockingWriter) WriteHeader(int)     {}
func (b *blockingWriter) Flush()              { b.once[0].Do(func() { close(b.flushed) }) }
func (b *blockingWriter) Write(p []byte) (int, error) {
	b.once[1].Do(func() {
		close(b.blocked)
		<-b.release
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// A subscriber that falls out of what is kept gets the reload event.
func TestEventsReloadOnOverflow(t *testing.T) {
	h := newHarnessWith(t, &messaging.Options{EventHistory: 5, EventBuffer: 16}, httpapi.Options{})
	w := &blockingWriter{header: make(http.Header), flushed: make(chan struct{}), blocked: make(chan struct{}), release: make(chan struct{})}
	r := httptest.NewRequest("GET", "/events", nil)
	r.Header.Set(userHeader, "dave")
	r.Header.Set("Accept", "text/event-stream")
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.h.ServeHTTP(w, r)
	}()
	<-w.flushed
	h.send("bob", "dave", "first")
	<-w.blocked
	for range 100 {
		h.send("bob", "dave", "more")
	}
	close(w.release)
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("the stream did not end")
	}
	s := &sseReader{t: t, body: io.NopCloser(&w.buf)}
	ev := s.next(wait)
	assert.Equal(t, "1", ev.ID)
	assert.Equal(t, "first", ev.ParsedEvent.Message.Text)
	ev = s.next(wait)
	assert.Equal(t, "reload", ev.Event)
	assert.Equal(t, "overflow", ev.ParsedFailure.Code)
	assert.True(t, ev.HasID)
	assert.Empty(t, ev.ID)
}
