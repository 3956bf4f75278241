package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/httpapi"
)

var ctx = context.Background()

// userHeader is how the tests say who is asking: a stand-in for the
// application's authentication.
const userHeader = "X-Test-User"

func headerUser(r *http.Request) (string, error) {
	u := r.Header.Get(userHeader)
	if u == "" {
		return "", errors.New("no " + userHeader)
	}
	return u, nil
}

// harness is an API over a fresh memory store.
type harness struct {
	t *testing.T
	x *messaging.Inboxes
	h http.Handler
}

func newHarness(t *testing.T) *harness {
	return newHarnessWith(t, nil, httpapi.Options{})
}

// newHarnessWith makes a harness with library options and API options;
// User defaults to headerUser, and logs go to the test's log.
func newHarnessWith(t *testing.T, lib *messaging.Options, opts httpapi.Options) *harness {
	t.Helper()
	x, err := messaging.NewWithOptions(messaging.NewMemoryStore(), lib)
	require.NoError(t, err)
	t.Cleanup(func() { x.Close() })
	if opts.User == nil {
		opts.User = headerUser
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	return &harness{t: t, x: x, h: httpapi.New(x, opts)}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// do runs one request as user ("" for none) through the handler. A
// request with a body, or with a state-changing method, says JSON.
func (h *harness) do(method, path, user, body string) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if user != "" {
		r.Header.Set(userHeader, user)
	}
	if method != http.MethodGet {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	return w
}

// send sends through the library.
func (h *harness) send(sender, recipient, text string) messaging.Message {
	h.t.Helper()
	m, err := h.x.SendMessage(ctx, sender, recipient, text)
	require.NoError(h.t, err)
	return m
}

// decode parses a JSON answer into a value of type T.
func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), "body %q", w.Body.String())
	return v
}

// errorOf checks that w is an error answer in the one JSON shape and
// returns it.
func errorOf(t *testing.T, w *httptest.ResponseRecorder) httpapi.ErrorResponse {
	t.Helper()
	assert.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	var e httpapi.ErrorResponse
	require.NoError(t, dec.Decode(&e))
	assert.True(t, strings.HasPrefix(e.Error, "messaging: "), "error %q", e.Error)
	assert.Equal(t, 1, strings.Count(e.Error, "messaging: "), "error %q", e.Error)
	return e
}

// esc escapes a user id as one path segment.
func esc(user string) string { return url.PathEscape(user) }

// sseEvent is one block of an event stream: an event, or a comment.
type sseEvent struct {
	ID            string
	HasID         bool // an id line was there, even an empty one
	Event, Data   string
	Comment       string
	ParsedEvent   messaging.Event
	ParsedFailure httpapi.ErrorResponse
}

// sseReader reads the blocks of an event stream.
type sseReader struct {
	t    *testing.T
	body io.ReadCloser
	buf  []byte
}

// next returns the next block, failing the test if none comes within d.
func (s *sseReader) next(d time.Duration) sseEvent {
	s.t.Helper()
	type result struct {
		ev  sseEvent
		err error
	}
	done := make(chan result, 1)
	go func() {
		ev, err := s.read()
		done <- result{ev, err}
	}()
	select {
	case r := <-done:
		require.NoError(s.t, r.err)
		return r.ev
	case <-time.After(d):
		s.t.Fatalf("no event within %v", d)
		return sseEvent{}
	}
}

// read parses one block (up to a blank line).
func (s *sseReader) read() (sseEvent, error) {
	var ev sseEvent
	for {
		i := strings.Index(string(s.buf), "\n\n")
		if i >= 0 {
			block := string(s.buf[:i])
			s.buf = s.buf[i+2:]
			for _, line := range strings.Split(block, "\n") {
				field, value, _ := strings.Cut(line, ":")
				value = strings.TrimPrefix(value, " ")
				switch field {
				case "":
					ev.Comment = value
				case "id":
					ev.ID, ev.HasID = value, true
				case "event":
					ev.Event = value
				case "data":
					ev.Data = value
				}
			}
			if ev.Event == "reload" {
				err := json.Unmarshal([]byte(ev.Data), &ev.ParsedFailure)
				return ev, err
			}
			if ev.Data != "" {
				err := json.Unmarshal([]byte(ev.Data), &ev.ParsedEvent)
				return ev, err
			}
			return ev, nil
		}
		b := make([]byte, 4096)
		n, err := s.body.Read(b)
		s.buf = append(s.buf, b[:n]...)
		if err != nil && n == 0 {
			return ev, err
		}
	}
}

// stream opens GET /events on srv as user, with headers, and checks that
// it is an event stream.
func stream(t *testing.T, srv *httptest.Server, user, query string, header map[string]string) *sseReader {
	t.Helper()
	reqCtx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, srv.URL+"/events"+query, nil)
	require.NoError(t, err)
	req.Header.Set(userHeader, user)
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream; charset=utf-8", resp.Header.Get("Content-Type"))
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	return &sseReader{t: t, body: resp.Body}
}

func itoa(id uint64) string { return strconv.FormatUint(id, 10) }
