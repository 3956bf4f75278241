package messaging_test

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func jsonKeys(t *testing.T, v any) []string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &m))
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// The values a handler returns marshal with snake_case names, and event
// kinds as text, so that no application writes its own DTOs.
func TestJSONNames(t *testing.T) {
	x := messaging.New(messaging.NewMemoryStore())
	defer x.Close()
	sub := subscribe(t, x, "dave")
	m := send(t, x, "bob", "dave", "Hi Dave", day(1))
	c := conv(t, x, "dave", "bob")
	page, err := inbox(t, x, "dave").ConversationPage(ctx, "", 1)
	require.NoError(t, err)
	ev := next(t, sub)

	assert.Equal(t, []string{"created", "id", "new", "read_by_recipient", "recipient", "sender", "text"}, jsonKeys(t, m))
	assert.Equal(t, []string{"last_message", "last_update", "message_count", "new_messages_count", "owner", "read_by_other_up_to", "username"}, jsonKeys(t, c))
	assert.Equal(t, []string{"new_messages_count", "username"}, jsonKeys(t, inbox(t, x, "dave")))
	assert.Equal(t, []string{"conversations", "next"}, jsonKeys(t, page))
	assert.Equal(t, []string{"conversation_unread", "kind", "message", "other", "seq", "unread", "user"}, jsonKeys(t, ev))

	b, err := json.Marshal(ev)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"kind":"message_received"`)
	var back messaging.Event
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, ev.Kind, back.Kind)
	assert.Equal(t, ev.Message.ID, back.Message.ID)
	assert.True(t, ev.Message.Created.Equal(back.Message.Created))

	empty := messaging.Event{Kind: messaging.InboxDeleted, User: "dave"}
	assert.Equal(t, []string{"conversation_unread", "kind", "seq", "unread", "user"}, jsonKeys(t, empty), "no message, no zero message")

	for k := messaging.MessageReceived; k <= messaging.InboxDeleted; k++ {
		text, err := k.MarshalText()
		require.NoError(t, err)
		var got messaging.EventKind
		require.NoError(t, got.UnmarshalText(text))
		assert.Equal(t, k, got)
		assert.Equal(t, k.String(), string(text))
	}
	_, err = messaging.EventKind(99).MarshalText()
	assert.Error(t, err)
	var k messaging.EventKind
	assert.Error(t, k.UnmarshalText([]byte("nonsense")))
}
