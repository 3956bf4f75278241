package httpapi

// Errors: one JSON shape for every error answer, with a stable code per
// cause, and the table that maps the library's sentinels to statuses.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/socialkit/messaging"
)

// ErrorResponse is the body of every error answer, and the data of the
// reload event of GET /events. Code is stable (snake_case, one per cause;
// the table is in the package documentation); Error is for people and may
// change; Field names the input at fault (a JSON field, a path or query
// parameter, or "user" for the asking user's own id) when there is one.
type ErrorResponse struct {
	Error string `json:"error"`
	Code  string `json:"code"`
	Field string `json:"field,omitempty"`
}

// statusCode is how one sentinel of the library is answered.
type statusCode struct {
	err    error
	status int
	code   string
}

// sentinels maps every sentinel of the library, first match wins. The 5xx
// ones show the sentinel's own text only: the chain around it may name
// files and keys, which are the server's business.
var sentinels = []statusCode{
	{messaging.ErrInvalidUser, http.StatusBadRequest, "invalid_user"},
	{messaging.ErrSelfMessage, http.StatusBadRequest, "self_message"},
	{messaging.ErrEmptyMessage, http.StatusBadRequest, "empty_message"},
	{messaging.ErrMessageTooLong, http.StatusBadRequest, "message_too_long"},
	{messaging.ErrInvalidText, http.StatusBadRequest, "invalid_text"},
	{messaging.ErrInvalidTime, http.StatusBadRequest, "invalid_time"},
	{messaging.ErrInvalidMeta, http.StatusBadRequest, "invalid_meta"},
	{messaging.ErrInvalidKey, http.StatusBadRequest, "invalid_key"},
	{messaging.ErrBadCursor, http.StatusBadRequest, "bad_cursor"},
	{messaging.ErrBlocked, http.StatusForbidden, "blocked"},
	{messaging.ErrNotSender, http.StatusForbidden, "not_sender"},
	{messaging.ErrNotFound, http.StatusNotFound, "not_found"},
	{messaging.ErrIdempotencyConflict, http.StatusConflict, "idempotency_conflict"},
	{messaging.ErrResumeTooOld, http.StatusGone, "resume_too_old"},
	{messaging.ErrOverflow, http.StatusGone, "overflow"},
	{messaging.ErrClosed, http.StatusServiceUnavailable, "closed"},
	{messaging.ErrCorrupt, http.StatusInternalServerError, "corrupt"},
	{messaging.ErrLocked, http.StatusInternalServerError, "locked"},
	{messaging.ErrNotStore, http.StatusInternalServerError, "not_store"},
	{messaging.ErrVersion, http.StatusInternalServerError, "version"},
	{context.Canceled, http.StatusServiceUnavailable, "canceled"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout"},
}

// httpError is an error of the HTTP layer itself: a request the library
// never saw.
type httpError struct {
	status int
	code   string
	field  string
	msg    string // with the "messaging: " prefix
}

func (e *httpError) Error() string { return e.msg }

func newError(status int, code, field, msg string) *httpError {
	return &httpError{status: status, code: code, field: field, msg: "messaging: " + msg}
}

var (
	errUnauthorized = newError(http.StatusUnauthorized, "unauthorized", "", "unauthorized: the request does not say who is asking")
	errContentType  = newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "",
		"a request that changes something must have Content-Type: application/json")
	errNoRoute = newError(http.StatusNotFound, "no_route", "", "no such route")
	errMethod  = newError(http.StatusMethodNotAllowed, "method_not_allowed", "", "method not allowed on this route")
)

// fieldError names the input an error of the library is about, where the
// library cannot know it (a cursor is a query parameter here).
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

// inField attributes err to field if it is a bad cursor.
func inField(field string, err error) error {
	if errors.Is(err, messaging.ErrBadCursor) {
		return &fieldError{field: field, err: err}
	}
	return err
}

// libraryFields renames the fields of the library's InputError for HTTP:
// the asking user is "user" whatever role it had in the call, and the other
// user is the path's "other".
var libraryFields = map[string]string{
	"sender":    "user",
	"owner":     "user",
	"user":      "user",
	"recipient": "other",
	"other":     "other",
}

// answer maps err to the status and body of its answer, and reports
// whether its cause should be logged (the client sees less of it).
func answer(err error) (int, ErrorResponse, bool) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, ErrorResponse{Error: he.msg, Code: he.code, Field: he.field}, false
	}
	for _, s := range sentinels {
		if !errors.Is(err, s.err) {
			continue
		}
		body := ErrorResponse{Error: err.Error(), Code: s.code}
		if s.status >= 500 {
			body.Error = s.err.Error()
			if s.err == context.Canceled || s.err == context.DeadlineExceeded {
				body.Error = "messaging: " + body.Error
			}
		}
		var ie *messaging.InputError
		var fe *fieldError
		switch {
		case errors.As(err, &ie):
			body.Field = ie.Field
			if f, ok := libraryFields[ie.Field]; ok {
				body.Field = f
			}
		case errors.As(err, &fe):
			body.Field = fe.field
		}
		log := s.status >= 500 && s.err != context.Canceled
		return s.status, body, log
	}
	return http.StatusInternalServerError, ErrorResponse{Error: "messaging: internal error", Code: "internal"}, true
}

// fail answers the request with err.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, body, log := answer(err)
	if log {
		a.log.ErrorContext(r.Context(), "messaging: httpapi", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	writeJSON(w, status, body)
}

// writeJSON answers with v as JSON. Answers are private to the asking
// user: no cache keeps them.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to tell
}
