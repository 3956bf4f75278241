package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A state-changing route takes JSON only, so a plain cross-site form
// (urlencoded, multipart, text/plain) cannot reach it.
func TestContentType(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		contentType string
		status      int
	}{
		{"application/json", http.StatusCreated},
		{"application/json; charset=utf-8", http.StatusCreated},
		{"Application/JSON; charset=UTF-8", http.StatusCreated},
		{"", http.StatusUnsupportedMediaType},
		{"text/plain", http.StatusUnsupportedMediaType},
		{"text/plain; charset=utf-8", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{"application/json; charset=iso-8859-1", http.StatusUnsupportedMediaType},
		{"application/jsonp", http.StatusUnsupportedMediaType},
		{"application/json;;", http.StatusUnsupportedMediaType},
	}
	for _, c := range cases {
		r := httptest.NewRequest("POST", "/conversations/dave/messages", strings.NewReader(`{"text":"hi"}`))
		r.Header.Set(userHeader, "bob")
		if c.contentType != "" {
			r.Header.Set("Content-Type", c.contentType)
		}
		w := httptest.NewRecorder()
		h.h.ServeHTTP(w, r)
		require.Equal(t, c.status, w.Code, "%q: %s", c.contentType, w.Body.String())
		if c.status == http.StatusUnsupportedMediaType {
			assert.Equal(t, "unsupported_media_type", errorOf(t, w).Code)
		}
	}
}

// Every state-changing route checks the content type before it does
// anything, and after it knows who is asking.
func TestContentTypeEveryRoute(t *testing.T) {
	h := newHarness(t)
	m := h.send("bob", "dave", "hello")
	routes := [][2]string{
		{"POST", "/conversations/dave/messages"},
		{"POST", "/conversations/dave/read"},
		{"DELETE", "/conversations/dave"},
		{"DELETE", "/conversations/dave/messages/" + itoa(m.ID)},
		{"POST", "/conversations/dave/messages/" + itoa(m.ID) + "/retract"},
		{"PUT", "/blocks/dave"},
		{"DELETE", "/blocks/dave"},
	}
	for _, rt := range routes {
		for _, user := range []string{"bob", ""} {
			r := httptest.NewRequest(rt[0], rt[1], strings.NewReader(`{}`))
			r.Header.Set("Content-Type", "text/plain")
			if user != "" {
				r.Header.Set(userHeader, user)
			}
			w := httptest.NewRecorder()
			h.h.ServeHTTP(w, r)
			want := http.StatusUnsupportedMediaType
			if user == "" {
				want = http.StatusUnauthorized
			}
			assert.Equal(t, want, w.Code, "%v as %q", rt, user)
		}
	}
	c, err := h.x.Conversation(ctx, "bob", "dave")
	require.NoError(t, err)
	assert.Equal(t, 1, c.MessageCount, "nothing changed")
	assert.Equal(t, m.ID, c.LastMessage.ID)

	// Without a body and without a type: a POST could come from a
	// cross-site fetch and is refused; a PUT or DELETE cannot, and is
	// what most clients send.
	for _, rt := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/conversations/dave/read", http.StatusUnsupportedMediaType},
		{"POST", "/conversations/dave/messages/" + itoa(m.ID) + "/retract", http.StatusUnsupportedMediaType},
		{"PUT", "/blocks/carol", http.StatusNoContent},
		{"DELETE", "/blocks/carol", http.StatusNoContent},
		{"DELETE", "/conversations/dave/messages/" + itoa(m.ID), http.StatusNoContent},
		{"DELETE", "/conversations/dave", http.StatusNoContent},
	} {
		r := httptest.NewRequest(rt.method, rt.path, nil)
		r.Header.Set(userHeader, "bob")
		w := httptest.NewRecorder()
		h.h.ServeHTTP(w, r)
		assert.Equal(t, rt.status, w.Code, "%s %s: %s", rt.method, rt.path, w.Body.String())
	}

	for _, path := range []string{"/inbox", "/conversations", "/conversations/bob/messages", "/blocks"} {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set(userHeader, "dave")
		w := httptest.NewRecorder()
		h.h.ServeHTTP(w, r)
		assert.Equal(t, http.StatusOK, w.Code, "GET %s needs no content type", path)
	}
}
