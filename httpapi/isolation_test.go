package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// No route shows or changes anything of another user's inbox: alice, who
// also writes to bob, tries every route on bob and carol's conversation.
func TestCrossUserIsolation(t *testing.T) {
	h := newHarness(t)
	srv := server(t, h.h)
	aliceEvents := stream(t, srv, "alice", "", nil)

	private := h.send("bob", "carol", "private to carol")
	h.send("carol", "bob", "private to bob")
	mine := h.send("bob", "alice", "hi alice")

	ev := aliceEvents.next(wait)
	assert.Equal(t, mine.ID, ev.ParsedEvent.Message.ID, "alice's first event is her own message")
	assert.Equal(t, "1", ev.ID, "numbered in alice's stream")

	id := fmt.Sprint(private.ID)
	cases := []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/conversations/carol/messages", "", http.StatusNotFound},
		{"GET", "/conversations/bob/messages?after=" + id, "", http.StatusBadRequest},  // not her cursor
		{"GET", "/conversations/bob/messages?before=" + id, "", http.StatusBadRequest}, // not her cursor
		{"POST", "/conversations/bob/read", `{"up_to": ` + id + `}`, http.StatusNotFound},
		{"POST", "/conversations/carol/read", "", http.StatusNotFound},
		{"DELETE", "/conversations/bob/messages/" + id, "", http.StatusNotFound},
		{"DELETE", "/conversations/carol/messages/" + id, "", http.StatusNotFound},
		{"POST", "/conversations/bob/messages/" + id + "/retract", "", http.StatusNotFound},
		{"POST", "/conversations/carol/messages/" + id + "/retract", "", http.StatusNotFound},
		{"DELETE", "/conversations/carol", "", http.StatusNotFound},
		{"GET", "/events?last_event_id=2", "", http.StatusGone}, // carol's stream is longer; alice's is not
	}
	for _, c := range cases {
		w := h.do(c.method, c.path, "alice", c.body)
		assert.Equal(t, c.status, w.Code, "%s %s: %s", c.method, c.path, w.Body.String())
		assert.NotContains(t, w.Body.String(), "private", "%s %s", c.method, c.path)
	}

	page := decode[messaging.ConversationPage](t, h.do("GET", "/conversations", "alice", ""))
	require.Len(t, page.Conversations, 1)
	assert.Equal(t, "bob", page.Conversations[0].Username)
	assert.Equal(t, "hi alice", page.Conversations[0].LastMessage.Text, "bob's newest message to anyone else is not her preview")
	msgs := decode[[]messaging.Message](t, h.do("GET", "/conversations/bob/messages", "alice", ""))
	require.Len(t, msgs, 1)
	assert.Equal(t, mine.ID, msgs[0].ID)
	assert.JSONEq(t, `{"username": "alice", "new_messages_count": 1}`, h.do("GET", "/inbox", "alice", "").Body.String())

	// Bob and carol's conversation is as it was: both messages, carol's unread.
	for _, side := range [][2]string{{"bob", "carol"}, {"carol", "bob"}} {
		c, err := h.x.Conversation(ctx, side[0], side[1])
		require.NoError(t, err)
		assert.Equal(t, 2, c.MessageCount, side)
		assert.Equal(t, 1, c.NewMessagesCount, side)
	}

	// Alice's stream carried nothing of theirs: her next event is hers.
	h.send("carol", "bob", "more private")
	next := h.send("carol", "alice", "hi alice, from carol")
	ev = aliceEvents.next(wait)
	assert.Equal(t, next.ID, ev.ParsedEvent.Message.ID)
	assert.Equal(t, "2", ev.ID)
}
