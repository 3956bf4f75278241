package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func TestInbox(t *testing.T) {
	h := newHarness(t)
	w := h.do("GET", "/inbox", "dave", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, `{"username": "dave", "new_messages_count": 0}`, w.Body.String(), "no inbox yet: an empty one")
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))

	h.send("bob", "dave", "one")
	h.send("carol", "dave", "two")
	w = h.do("GET", "/inbox", "dave", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, `{"username": "dave", "new_messages_count": 2}`, w.Body.String())
}

func TestConversationPages(t *testing.T) {
	h := newHarness(t)
	w := h.do("GET", "/conversations", "dave", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, `{"conversations": [], "next": ""}`, w.Body.String(), "no inbox yet: an empty page")

	for _, from := range []string{"bob", "carol", "erin"} {
		h.send(from, "dave", "hi from "+from)
	}
	w = h.do("GET", "/conversations?limit=2", "dave", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	first := decode[messaging.ConversationPage](t, w)
	require.Len(t, first.Conversations, 2)
	assert.Equal(t, "erin", first.Conversations[0].Username, "newest first")
	assert.Equal(t, "dave", first.Conversations[0].Owner)
	assert.Equal(t, 1, first.Conversations[0].NewMessagesCount)
	assert.Equal(t, "hi from erin", first.Conversations[0].LastMessage.Text, "with its preview")
	assert.Equal(t, "carol", first.Conversations[1].Username)
	require.NotEmpty(t, first.Next)

	w = h.do("GET", "/conversations?limit=2&cursor="+first.Next, "dave", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	second := decode[messaging.ConversationPage](t, w)
	require.Len(t, second.Conversations, 1)
	assert.Equal(t, "bob", second.Conversations[0].Username)
	assert.Empty(t, second.Next)

	w = h.do("GET", "/conversations", "dave", "")
	assert.Len(t, decode[messaging.ConversationPage](t, w).Conversations, 3, "no limit: the default page")
}

func TestMessagePages(t *testing.T) {
	h := newHarness(t)
	var ids []uint64
	for i := range 5 {
		ids = append(ids, h.send("bob", "dave", fmt.Sprint("m", i)).ID)
	}
	texts := func(w *httptest.ResponseRecorder) []string {
		t.Helper()
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		out := []string{}
		for _, m := range decode[[]messaging.Message](t, w) {
			out = append(out, m.Text)
		}
		return out
	}
	base := "/conversations/bob/messages"
	cases := []struct {
		query string
		want  []string
	}{
		{"?limit=2", []string{"m4", "m3"}},                                // newest first
		{fmt.Sprintf("?before=%d&limit=2", ids[3]), []string{"m2", "m1"}}, // scrolling back
		{fmt.Sprintf("?after=%d", ids[1]), []string{"m2", "m3", "m4"}},    // oldest first
		{fmt.Sprintf("?after=%d", ids[4]), []string{}},                    // nothing newer
		{"", []string{"m4", "m3", "m2", "m1", "m0"}},                      // the default page
		{"?before=&after=", []string{"m4", "m3", "m2", "m1", "m0"}},       // empty is absent
	}
	for _, c := range cases {
		assert.Equal(t, c.want, texts(h.do("GET", base+c.query, "dave", "")), c.query)
	}
	w := h.do("GET", fmt.Sprintf("%s?after=%d", base, ids[4]), "dave", "")
	assert.JSONEq(t, `[]`, w.Body.String(), "an empty array, not null")

	msgs := decode[[]messaging.Message](t, h.do("GET", base+"?limit=1", "dave", ""))
	require.Len(t, msgs, 1)
	assert.True(t, msgs[0].New, "dave's own copy")
	msgs = decode[[]messaging.Message](t, h.do("GET", "/conversations/dave/messages?limit=1", "bob", ""))
	require.Len(t, msgs, 1)
	assert.False(t, msgs[0].New, "bob's own copy")
	assert.Equal(t, ids[4], msgs[0].ID)
}

func TestSend(t *testing.T) {
	h := newHarness(t)
	w := h.do("POST", "/conversations/dave/messages", "bob", `{"text": "Hi Dave", "meta": {"photo": "p1.jpg"}}`)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	m := decode[messaging.Message](t, w)
	assert.Equal(t, "bob", m.Sender)
	assert.Equal(t, "dave", m.Recipient)
	assert.Equal(t, "Hi Dave", m.Text)
	assert.Equal(t, map[string]string{"photo": "p1.jpg"}, m.Meta)
	assert.False(t, m.New, "the sender's copy")

	c, err := h.x.Conversation(ctx, "dave", "bob")
	require.NoError(t, err)
	assert.Equal(t, 1, c.NewMessagesCount)
	assert.Equal(t, m.ID, c.LastMessage.ID)

	w = h.do("POST", "/conversations/dave/messages", "bob", `{"meta": {"photo": "p2.jpg"}}`)
	assert.Equal(t, http.StatusCreated, w.Code, "metadata without text: a photo")

	// An idempotent retry gives the first message and sends nothing more.
	body := `{"text": "once", "idempotency_key": "k1"}`
	w = h.do("POST", "/conversations/dave/messages", "bob", body)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	once := decode[messaging.Message](t, w)
	w = h.do("POST", "/conversations/dave/messages", "bob", body)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	again := decode[messaging.Message](t, w)
	assert.Equal(t, once.ID, again.ID)
	assert.True(t, once.Created.Equal(again.Created))
	c, err = h.x.Conversation(ctx, "dave", "bob")
	require.NoError(t, err)
	assert.Equal(t, 3, c.MessageCount)
}

func TestMarkRead(t *testing.T) {
	h := newHarness(t)
	m1 := h.send("bob", "dave", "one")
	h.send("bob", "dave", "two")

	w := h.do("POST", "/conversations/bob/read", "dave", fmt.Sprintf(`{"up_to": %d}`, m1.ID))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	c := decode[messaging.Conversation](t, w)
	assert.Equal(t, "dave", c.Owner)
	assert.Equal(t, "bob", c.Username)
	assert.Equal(t, 1, c.NewMessagesCount, "read up to the first only")

	w = h.do("POST", "/conversations/bob/read", "dave", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, 0, decode[messaging.Conversation](t, w).NewMessagesCount, "no body: all of it")
	w = h.do("POST", "/conversations/bob/read", "dave", "{}")
	assert.Equal(t, http.StatusOK, w.Code, "again, with {}: nothing to do, no error")

	msgs := decode[[]messaging.Message](t, h.do("GET", "/conversations/dave/messages", "bob", ""))
	require.Len(t, msgs, 2)
	assert.True(t, msgs[0].ReadByRecipient, "bob sees the receipt")
}

func TestDeleteConversation(t *testing.T) {
	h := newHarness(t)
	h.send("bob", "dave", "one")
	w := h.do("DELETE", "/conversations/bob", "dave", "")
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	assert.Empty(t, w.Body.String())
	_, err := h.x.Conversation(ctx, "dave", "bob")
	assert.ErrorIs(t, err, messaging.ErrNotFound)
	_, err = h.x.Conversation(ctx, "bob", "dave")
	assert.NoError(t, err, "bob's side stays")
}

func TestDeleteMessage(t *testing.T) {
	h := newHarness(t)
	m := h.send("bob", "dave", "one")
	h.send("bob", "dave", "two")
	w := h.do("DELETE", fmt.Sprintf("/conversations/bob/messages/%d", m.ID), "dave", "")
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	c, err := h.x.Conversation(ctx, "dave", "bob")
	require.NoError(t, err)
	assert.Equal(t, 1, c.MessageCount)
	c, err = h.x.Conversation(ctx, "bob", "dave")
	require.NoError(t, err)
	assert.Equal(t, 2, c.MessageCount, "bob's copy stays")
}

func TestRetract(t *testing.T) {
	h := newHarness(t)
	m := h.send("bob", "dave", "oops")
	w := h.do("POST", fmt.Sprintf("/conversations/bob/messages/%d/retract", m.ID), "dave", "")
	require.Equal(t, http.StatusForbidden, w.Code, "dave did not send it")
	assert.Equal(t, "not_sender", errorOf(t, w).Code)

	w = h.do("POST", fmt.Sprintf("/conversations/dave/messages/%d/retract", m.ID), "bob", "{}")
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	for _, side := range [][2]string{{"bob", "dave"}, {"dave", "bob"}} {
		c, err := h.x.Conversation(ctx, side[0], side[1])
		require.NoError(t, err)
		assert.Equal(t, 0, c.MessageCount, "gone from %s's side", side[0])
	}
	inbox, err := h.x.Get(ctx, "dave")
	require.NoError(t, err)
	assert.Equal(t, 0, inbox.NewMessagesCount)
}

func TestBlocks(t *testing.T) {
	h := newHarness(t)
	w := h.do("GET", "/blocks", "dave", "")
	require.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `[]`, w.Body.String())

	for _, u := range []string{"mallory", "eve", "mallory"} {
		w = h.do("PUT", "/blocks/"+u, "dave", "")
		require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	}
	w = h.do("GET", "/blocks", "dave", "")
	assert.JSONEq(t, `["eve", "mallory"]`, w.Body.String())
	assert.JSONEq(t, `[]`, h.do("GET", "/blocks", "mallory", "").Body.String(), "whom others block is theirs")

	w = h.do("POST", "/conversations/dave/messages", "mallory", `{"text": "hi"}`)
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Equal(t, "blocked", errorOf(t, w).Code)

	w = h.do("DELETE", "/blocks/mallory", "dave", "")
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	w = h.do("DELETE", "/blocks/mallory", "dave", "")
	require.Equal(t, http.StatusNoContent, w.Code, "idempotent")
	assert.JSONEq(t, `["eve"]`, h.do("GET", "/blocks", "dave", "").Body.String())
	w = h.do("POST", "/conversations/dave/messages", "mallory", `{"text": "hi"}`)
	assert.Equal(t, http.StatusCreated, w.Code)
}

// User ids in paths are unescaped once, by the ServeMux, and kept byte for
// byte.
func TestUserIDsInPaths(t *testing.T) {
	h := newHarness(t)
	for _, other := range []string{"a/b", "50%off", "%2F", "é ü", "q?x=1#f", ".", "..", "+plus", `"quoted"`} {
		path := "/conversations/" + esc(other) + "/messages"
		if other == "." || other == ".." {
			path = "/conversations/" + map[string]string{".": "%2E", "..": "%2E%2E"}[other] + "/messages"
		}
		w := h.do("POST", path, "bob", `{"text": "hi"}`)
		require.Equal(t, http.StatusCreated, w.Code, "%q: %s", other, w.Body.String())
		assert.Equal(t, other, decode[messaging.Message](t, w).Recipient)
		_, err := h.x.Conversation(ctx, other, "bob")
		assert.NoError(t, err, "%q has bob's message", other)

		w = h.do("GET", path, "bob", "")
		require.Equal(t, http.StatusOK, w.Code, "%q: %s", other, w.Body.String())
		msgs := decode[[]messaging.Message](t, w)
		require.Len(t, msgs, 1, other)
		assert.Equal(t, other, msgs[0].Recipient)
	}
}
