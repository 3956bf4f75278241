package httpapi

// The handler: options, the route table, and the wrapper every route goes
// through (who is asking, content type, errors).

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/socialkit/messaging"
)

// Options configures the handler New returns.
type Options struct {
	// User says who is asking: the application's own authentication (a
	// session cookie, a bearer token, a header set by a proxy). It is
	// required. An error answers 401 without calling anything else; the
	// error's text is logged, not sent. The id it returns is used as is:
	// every route acts on that user's side only.
	User func(*http.Request) (string, error)

	// Heartbeat is how often GET /events writes a comment line when it has
	// nothing else to write, so that proxies and clients keep an idle
	// stream open and a stream to a client that went away is noticed. 0
	// means DefaultHeartbeat; negative means none. A client that reads
	// nothing for two heartbeats is dropped (the stream's write deadline),
	// whatever the server's WriteTimeout says.
	Heartbeat time.Duration

	// Log receives the errors a client is not shown: the cause of every
	// 500 and 401, and of event streams that end on a store error. nil
	// means slog.Default().
	Log *slog.Logger
}

// DefaultHeartbeat is Options.Heartbeat unless set.
const DefaultHeartbeat = 15 * time.Second

// api is the handler New returns.
type api struct {
	x         *messaging.Inboxes
	user      func(*http.Request) (string, error)
	heartbeat time.Duration
	log       *slog.Logger
	sendLimit int64 // the most bytes a POST of a message may carry
	mux       *http.ServeMux
}

// New returns the JSON + Server-Sent Events API on inboxes, acting for the
// user that opts.User names on every request. Mount it under a prefix with
// http.StripPrefix. New panics if inboxes or opts.User is nil, as
// http.Handle does with a nil handler: that is a mistake in the program.
func New(inboxes *messaging.Inboxes, opts Options) http.Handler {
	if inboxes == nil {
		panic("messaging: httpapi.New called with nil Inboxes")
	}
	if opts.User == nil {
		panic("messaging: httpapi.New needs Options.User, the application's own authentication")
	}
	a := &api{
		x:         inboxes,
		user:      opts.User,
		heartbeat: opts.Heartbeat,
		log:       opts.Log,
		sendLimit: sendBodyLimit(inboxes.MaxMessageBytes()),
		mux:       http.NewServeMux(),
	}
	if a.heartbeat == 0 {
		a.heartbeat = DefaultHeartbeat
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.handle("GET /inbox", a.getInbox)
	a.handle("GET /conversations", a.listConversations)
	a.handle("GET /conversations/{other}/messages", a.listMessages)
	a.handle("POST /conversations/{other}/messages", a.sendMessage)
	a.handle("POST /conversations/{other}/read", a.markRead)
	a.handle("DELETE /conversations/{other}", a.deleteConversation)
	a.handle("DELETE /conversations/{other}/messages/{id}", a.deleteMessage)
	a.handle("POST /conversations/{other}/messages/{id}/retract", a.retract)
	a.handle("PUT /blocks/{other}", a.block)
	a.handle("DELETE /blocks/{other}", a.unblock)
	a.handle("GET /blocks", a.listBlocks)
	a.handle("GET /events", a.events)
	return a
}

// route is a handler acting for the asking user, me. An error it returns
// becomes the JSON error answer; it must not have written anything then.
type route func(w http.ResponseWriter, r *http.Request, me string) error

// handle registers a route behind the checks every route shares: who is
// asking first (401), then, for a state-changing method, the JSON content
// type (415), so that a plain cross-site form cannot reach it.
func (a *api) handle(pattern string, h route) {
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		me, err := a.user(r)
		if err != nil {
			a.log.InfoContext(r.Context(), "messaging: httpapi: unauthorized", "method", r.Method, "path", r.URL.Path, "err", err)
			a.fail(w, r, errUnauthorized)
			return
		}
		if changesState(r.Method) && !contentTypeOK(r) {
			a.fail(w, r, errContentType)
			return
		}
		if err := h(w, r, me); err != nil {
			a.fail(w, r, err)
		}
	})
}

// contentTypeOK reports whether a state-changing request says JSON, or
// is a PUT or DELETE that says nothing. A browser sends neither of those
// two methods cross-site without a CORS preflight, and an HTML form cannot
// send them at all, so requiring the type there protects nothing and would
// refuse the plain bodiless DELETE most clients send; a POST without the
// type could come from a cross-site fetch, and is refused.
func contentTypeOK(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" && (r.Method == http.MethodPut || r.Method == http.MethodDelete) {
		return true
	}
	return jsonContentType(ct)
}

func changesState(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// ServeHTTP routes the request. Paths no route has, and methods a path does
// not take, are answered in the same JSON shape as every other error (the
// ServeMux's own answers are plain text).
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := a.mux.Handler(r)
	if pattern != "" {
		a.mux.ServeHTTP(w, r) // a route, or the ServeMux's redirect to a clean path
		return
	}
	// The ServeMux's 404 or 405 (with its Allow header): keep the status
	// and the header, answer in JSON.
	rec := &statusRecorder{header: make(http.Header)}
	h.ServeHTTP(rec, r)
	if allow := rec.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	if rec.status == http.StatusMethodNotAllowed {
		a.fail(w, r, errMethod)
		return
	}
	a.fail(w, r, errNoRoute)
}

// statusRecorder keeps the status and headers the ServeMux's fallback
// handlers write, and drops their plain-text body.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header         { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusRecorder) WriteHeader(status int)      { s.status = status }
