package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/httpapi"
)

// Every error a request can meet, through the handler: its status, its
// stable code and the field it names.
func TestErrorAnswers(t *testing.T) {
	h := newHarnessWith(t, &messaging.Options{MaxMessageBytes: 100}, httpapi.Options{})
	m := h.send("bob", "dave", "hello")
	require.NoError(t, h.x.Block(ctx, "dave", "mallory"))
	_, err := h.x.SendMessage(ctx, "bob", "dave", "keyed", messaging.WithIdempotencyKey("k"))
	require.NoError(t, err)
	longUser := strings.Repeat("u", messaging.MaxUserBytes+1)

	cases := []struct {
		name, method, path, user, body string
		status                         int
		code, field                    string
	}{
		{"no user", "GET", "/inbox", "", "", 401, "unauthorized", ""},
		{"asking user invalid", "GET", "/inbox", longUser, "", 400, "invalid_user", "user"},
		{"asking user invalid, send", "POST", "/conversations/dave/messages", longUser, `{"text":"x"}`, 400, "invalid_user", "user"},
		{"other invalid", "GET", "/conversations/%01/messages", "dave", "", 400, "invalid_user", "other"},
		{"other too long", "POST", "/conversations/" + longUser + "/messages", "dave", `{"text":"x"}`, 400, "invalid_user", "other"},
		{"other invalid, block", "PUT", "/blocks/%7F", "dave", "", 400, "invalid_user", "other"},
		{"other invalid, delete", "DELETE", "/conversations/%00", "nobody", "", 400, "invalid_user", "other"},
		{"self message", "POST", "/conversations/dave/messages", "dave", `{"text":"x"}`, 400, "self_message", "other"},
		{"self block", "PUT", "/blocks/dave", "dave", "", 400, "self_message", "other"},
		{"empty text", "POST", "/conversations/dave/messages", "bob", `{"text":"  "}`, 400, "empty_message", "text"},
		{"no text", "POST", "/conversations/dave/messages", "bob", `{}`, 400, "empty_message", "text"},
		{"text too long", "POST", "/conversations/dave/messages", "bob", `{"text":"` + strings.Repeat("x", 101) + `"}`, 400, "message_too_long", "text"},
		{"bad meta", "POST", "/conversations/dave/messages", "bob", `{"text":"x","meta":{"":"v"}}`, 400, "invalid_meta", "meta"},
		{"empty key", "POST", "/conversations/dave/messages", "bob", `{"text":"x","idempotency_key":""}`, 400, "invalid_key", "idempotency_key"},
		{"key conflict", "POST", "/conversations/dave/messages", "bob", `{"text":"other","idempotency_key":"k"}`, 409, "idempotency_conflict", ""},
		{"blocked", "POST", "/conversations/dave/messages", "mallory", `{"text":"x"}`, 403, "blocked", ""},
		{"blocked, other way", "POST", "/conversations/mallory/messages", "dave", `{"text":"x"}`, 403, "blocked", ""},
		{"not sender", "POST", fmt.Sprintf("/conversations/bob/messages/%d/retract", m.ID), "dave", "", 403, "not_sender", ""},
		{"no conversation", "GET", "/conversations/erin/messages", "dave", "", 404, "not_found", ""},
		{"no conversation, read", "POST", "/conversations/erin/read", "dave", "", 404, "not_found", ""},
		{"no conversation, delete", "DELETE", "/conversations/erin", "dave", "", 404, "not_found", ""},
		{"no inbox, delete", "DELETE", "/conversations/erin", "nobody", "", 404, "not_found", ""},
		{"no message, delete", "DELETE", "/conversations/bob/messages/999", "dave", "", 404, "not_found", ""},
		{"no message, retract", "POST", "/conversations/dave/messages/999/retract", "bob", "", 404, "not_found", ""},
		{"no message, read", "POST", "/conversations/bob/read", "dave", `{"up_to": 999}`, 404, "not_found", ""},
		{"bad conversation cursor", "GET", "/conversations?cursor=garbage", "dave", "", 400, "bad_cursor", "cursor"},
		{"cursor of another inbox", "GET", "/conversations?cursor=" + cursorOf(t, h, "bob"), "dave", "", 400, "bad_cursor", "cursor"},
		{"bad before", "GET", "/conversations/bob/messages?before=999", "dave", "", 400, "bad_cursor", "before"},
		{"bad after", "GET", "/conversations/bob/messages?after=999", "dave", "", 400, "bad_cursor", "after"},
		{"before not a number", "GET", "/conversations/bob/messages?before=x", "dave", "", 400, "bad_parameter", "before"},
		{"after zero", "GET", "/conversations/bob/messages?after=0", "dave", "", 400, "bad_parameter", "after"},
		{"before and after", "GET", fmt.Sprintf("/conversations/bob/messages?before=%d&after=%d", m.ID, m.ID), "dave", "", 400, "bad_parameter", "after"},
		{"limit negative", "GET", "/conversations?limit=-1", "dave", "", 400, "bad_parameter", "limit"},
		{"limit not a number", "GET", "/conversations/bob/messages?limit=ten", "dave", "", 400, "bad_parameter", "limit"},
		{"id not a number", "DELETE", "/conversations/bob/messages/abc", "dave", "", 400, "bad_parameter", "id"},
		{"id zero", "POST", "/conversations/dave/messages/0/retract", "bob", "", 400, "bad_parameter", "id"},
		{"up_to zero", "POST", "/conversations/bob/read", "dave", `{"up_to": 0}`, 400, "bad_parameter", "up_to"},
		{"up_to negative", "POST", "/conversations/bob/read", "dave", `{"up_to": -1}`, 400, "bad_json", "up_to"},
		{"text not a string", "POST", "/conversations/dave/messages", "bob", `{"text": 1}`, 400, "bad_json", "text"},
		{"not JSON", "POST", "/conversations/dave/messages", "bob", `text=hi`, 400, "bad_json", "body"},
		{"not an object", "POST", "/conversations/dave/messages", "bob", `["hi"]`, 400, "bad_json", "body"},
		{"null", "POST", "/conversations/dave/messages", "bob", `null`, 400, "bad_json", "body"},
		{"two objects", "POST", "/conversations/dave/messages", "bob", `{"text":"a"}{"text":"b"}`, 400, "bad_json", "body"},
		{"unknown field", "POST", "/conversations/dave/messages", "bob", `{"text":"x","sender":"dave"}`, 400, "unknown_field", "sender"},
		{"field in other case", "POST", "/conversations/dave/messages", "bob", `{"Text":"x"}`, 400, "unknown_field", "Text"},
		{"body on a bodiless route", "PUT", "/blocks/erin", "dave", `{"reason":"spam"}`, 400, "unknown_field", "reason"},
		{"bad last_event_id", "GET", "/events?last_event_id=x", "dave", "", 400, "bad_parameter", "last_event_id"},
		{"resume too old", "GET", "/events?last_event_id=999", "dave", "", 410, "resume_too_old", ""},
		{"no route", "GET", "/nothing", "dave", "", 404, "no_route", ""},
		{"no route, no user", "GET", "/conversations/bob", "", "", 405, "method_not_allowed", ""},
		{"method not allowed", "PATCH", "/blocks/bob", "dave", "", 405, "method_not_allowed", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := h.do(c.method, c.path, c.user, c.body)
			require.Equal(t, c.status, w.Code, w.Body.String())
			e := errorOf(t, w)
			assert.Equal(t, c.code, e.Code)
			assert.Equal(t, c.field, e.Field)
		})
	}

	w := h.do("PATCH", "/blocks/bob", "dave", "")
	assert.Equal(t, "DELETE, PUT", w.Header().Get("Allow"))
}

// cursorOf returns a valid conversation cursor of user's inbox.
func cursorOf(t *testing.T, h *harness, user string) string {
	t.Helper()
	h.send(user, "c1", "x")
	h.send(user, "c2", "x")
	box, err := h.x.Get(ctx, user)
	require.NoError(t, err)
	page, err := box.ConversationPage(ctx, "", 1)
	require.NoError(t, err)
	require.NotEmpty(t, page.Next)
	return page.Next
}

// A 5xx answer names the sentinel only; its cause goes to the log.
func TestErrorAfterClose(t *testing.T) {
	h := newHarness(t)
	require.NoError(t, h.x.Close())
	w := h.do("GET", "/inbox", "dave", "")
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	e := errorOf(t, w)
	assert.Equal(t, "closed", e.Code)
	assert.Equal(t, messaging.ErrClosed.Error(), e.Error, "no chain, no user ids")
}

// The request's context goes down to the library: a request whose client
// went away writes nothing.
func TestRequestContextCancels(t *testing.T) {
	h := newHarness(t)
	c, cancel := context.WithCancel(ctx)
	cancel()
	r := httptest.NewRequestWithContext(c, "POST", "/conversations/dave/messages", strings.NewReader(`{"text":"hi"}`))
	r.Header.Set(userHeader, "bob")
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "canceled", errorOf(t, w).Code)
	ok, err := h.x.Has(ctx, "dave")
	require.NoError(t, err)
	assert.False(t, ok, "nothing written")
}
