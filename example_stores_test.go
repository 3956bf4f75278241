package messaging_test

import (
	"go/doc"
	"go/parser"
	"go/token"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// examples are the examples of example_test.go, by name, to be run again
// over other stores. TestExamplesOverEveryStore fails if one is missing.
var examples = map[string]func(){
	"":                           Example,
	"Open":                       ExampleOpen,
	"Inboxes_SendMessage":        ExampleInboxes_SendMessage,
	"Inboxes_Users":              ExampleInboxes_Users,
	"Inbox_Conversations":        ExampleInbox_Conversations,
	"Conversation_MarkRead":      ExampleConversation_MarkRead,
	"Conversation_DeleteMessage": ExampleConversation_DeleteMessage,
	"Inbox_Delete":               ExampleInbox_Delete,
	"Conversation_Older":         ExampleConversation_Older,
	"Inbox_ConversationPage":     ExampleInbox_ConversationPage,
	"Message_readByRecipient":    ExampleMessage_readByRecipient,
	"Inboxes_Subscribe":          ExampleInboxes_Subscribe,
	"Conversation_Messages":      ExampleConversation_Messages,
	"Inboxes_Verify":             ExampleInboxes_Verify,
}

// TestExamplesOverEveryStore runs every example, as written, with the
// memory store it makes replaced by each store of the domain tests (bbolt,
// and both through rerunStore, which runs every Update function twice),
// and wants the output its "// Output:" comment shows.
func TestExamplesOverEveryStore(t *testing.T) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "example_test.go", nil, parser.ParseComments)
	require.NoError(t, err)
	var names []string
	for _, ex := range doc.Examples(file) {
		names = append(names, ex.Name)
		run, ok := examples[ex.Name]
		if !assert.True(t, ok, "example %q is not in the examples table", ex.Name) {
			continue
		}
		for _, st := range stores {
			t.Run(ex.Name+"/"+st.name, func(t *testing.T) {
				restore := messaging.SetStoreHook(func(s messaging.Store) messaging.Store {
					if _, ok := s.(*messaging.MemoryStore); ok {
						return st.open(t)
					}
					return rerunStore{s} // ExampleOpen's own bbolt file
				})
				defer restore()
				got := captureStdout(t, run)
				assert.Equal(t, strings.TrimSpace(ex.Output), strings.TrimSpace(got))
			})
		}
	}
	for name := range examples {
		assert.True(t, slices.Contains(names, name), "the table names example %q, which example_test.go lacks", name)
	}
}

// captureStdout runs f with os.Stdout going to a pipe and returns what it
// printed.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	old := os.Stdout
	os.Stdout = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	defer func() { os.Stdout = old }()
	f()
	os.Stdout = old
	require.NoError(t, w.Close())
	return <-out
}
