package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// escaped writes every byte of an ASCII string as a \u escape: the
// longest JSON form of it, 6 bytes a byte.
func escaped(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, `\u%04x`, s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// The cap on a message body holds every message the library accepts,
// however the client escapes it, and nothing much larger.
func TestSendBodyCap(t *testing.T) {
	x := messaging.New(messaging.NewMemoryStore())
	defer x.Close()
	h := New(x, Options{User: func(*http.Request) (string, error) { return "bob", nil }})
	limit := sendBodyLimit(x.MaxMessageBytes())
	assert.Less(t, limit, int64(500<<10), "about half a megabyte at the default text limit")

	// The biggest message: the longest text, 32 metadata entries with
	// 64-byte keys filling MaxMetaBytes, the longest key; every byte,
	// field names included, escaped.
	var meta []string
	valueBytes := messaging.MaxMetaBytes/messaging.MaxMetaEntries - messaging.MaxMetaKeyBytes
	for i := range messaging.MaxMetaEntries {
		key := fmt.Sprintf("%0*d", messaging.MaxMetaKeyBytes, i)
		meta = append(meta, escaped(key)+":"+escaped(strings.Repeat("v", valueBytes)))
	}
	text := strings.Repeat("A", x.MaxMessageBytes())
	body := "{" + escaped("text") + ":" + escaped(text) + "," + escaped("meta") + ":{" + strings.Join(meta, ",") + "}," +
		escaped("idempotency_key") + ":" + escaped(strings.Repeat("k", messaging.MaxIdempotencyKeyBytes)) + "}"
	require.Less(t, int64(len(body)), limit)
	padded := body + strings.Repeat(" ", int(limit)-len(body))

	post := func(body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/conversations/dave/messages", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := post(padded)
	require.Equal(t, http.StatusCreated, w.Code, "a body of exactly the cap: %.200s", w.Body.String())
	c, err := x.Conversation(t.Context(), "dave", "bob")
	require.NoError(t, err)
	assert.Len(t, c.LastMessage.Meta, messaging.MaxMetaEntries)

	w = post(padded + " ")
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `"code":"body_too_large"`)

	// Other routes take {} or {"up_to": N}: 4 KiB.
	for _, route := range [][2]string{{"POST", "/conversations/dave/read"}, {"PUT", "/blocks/dave"}, {"DELETE", "/conversations/dave"}} {
		r := httptest.NewRequest(route[0], route[1], strings.NewReader("{}"+strings.Repeat(" ", smallBodyLimit)))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code, "%v: %s", route, w.Body.String())
	}
}
