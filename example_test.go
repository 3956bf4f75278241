package messaging_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/socialkit/messaging"
)

// The walkthrough of plonesocial.messaging: Bob writes to Dave, Dave reads
// and replies, then deletes the conversation from his inbox; Bob still has
// both messages.
func Example() {
	ctx := context.Background()
	inboxes := messaging.New(messaging.NewMemoryStore())
	defer inboxes.Close()

	// Bob sends Dave a message. Inboxes are created as needed.
	_, err := inboxes.SendMessage(ctx, "bob", "dave", "Hi Dave",
		messaging.WithCreated(time.Date(2013, 1, 1, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		log.Fatal(err)
	}
	has, _ := inboxes.Has(ctx, "dave")
	fmt.Println("dave has an inbox:", has)

	dave, err := inboxes.Get(ctx, "dave")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("dave's new messages:", dave.NewMessagesCount)

	// Dave opens his conversation with Bob and reads it.
	conversation, err := dave.Get(ctx, "bob")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("conversation with", conversation.Username, "new:", conversation.NewMessagesCount)
	for m, err := range conversation.Messages(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s: %s (new: %t)\n", m.Created.Format(time.DateOnly), m.Sender, m.Text, m.New)
	}
	if err := conversation.MarkRead(ctx); err != nil {
		log.Fatal(err)
	}
	dave, _ = inboxes.Get(ctx, "dave")
	fmt.Println("dave's new messages after reading:", dave.NewMessagesCount)

	// Dave replies; the conversation he already holds lists the reply.
	_, err = inboxes.SendMessage(ctx, "dave", "bob", "Thanks Bob",
		messaging.WithCreated(time.Date(2013, 1, 2, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		log.Fatal(err)
	}
	for m, err := range conversation.Messages(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s: %s (new: %t)\n", m.Created.Format(time.DateOnly), m.Sender, m.Text, m.New)
	}
	bob, _ := inboxes.Get(ctx, "bob")
	fmt.Println("bob's new messages:", bob.NewMessagesCount)

	// Dave deletes the conversation: only his side goes.
	if err := dave.Delete(ctx, "bob"); err != nil {
		log.Fatal(err)
	}
	has, _ = dave.Has(ctx, "bob")
	fmt.Println("dave still has the conversation:", has)
	withDave, _ := bob.Get(ctx, "dave")
	for m, err := range withDave.Messages(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("bob keeps: %s: %s\n", m.Sender, m.Text)
	}
	// Output:
	// dave has an inbox: true
	// dave's new messages: 1
	// conversation with bob new: 1
	// 2013-01-01 bob: Hi Dave (new: true)
	// dave's new messages after reading: 0
	// 2013-01-01 bob: Hi Dave (new: false)
	// 2013-01-02 dave: Thanks Bob (new: false)
	// bob's new messages: 1
	// dave still has the conversation: false
	// bob keeps: bob: Hi Dave
	// bob keeps: dave: Thanks Bob
}

// Open keeps messages in a bbolt file, created if missing; a nil error from
// a write means it is on disk.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "messaging-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "messages.db")

	inboxes, err := messaging.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if _, err := inboxes.SendMessage(ctx, "bob", "dave", "Hi Dave"); err != nil {
		log.Fatal(err)
	}
	if err := inboxes.Close(); err != nil {
		log.Fatal(err)
	}

	// Open it again: the message is still there.
	inboxes, err = messaging.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer inboxes.Close()
	dave, err := inboxes.Get(ctx, "dave")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("dave's new messages:", dave.NewMessagesCount)
	// Output:
	// dave's new messages: 1
}

func ExampleInboxes_SendMessage() {
	ctx := context.Background()
	inboxes := messaging.New(messaging.NewMemoryStore())
	defer inboxes.Close()

	m, err := inboxes.SendMessage(ctx, "bob", "dave", "Lunch at noon?",
		messaging.WithCreated(time.Date(2024, 5, 6, 11, 30, 0, 0, time.UTC)))
	if err != nil {
		log.Fatal(err)
	}
	// The sender gets their own copy back: it is not new to them.
	fmt.Println(m.Sender, "->", m.Recipient, m.Text, m.Created, "new:", m.New)

	// Bad input is refused with a sentinel error, and nothing is written.
	_, err = inboxes.SendMessage(ctx, "bob", "bob", "note to self")
	fmt.Println(errors.Is(err, messaging.ErrSelfMessage))
	// Output:
	// bob -> dave Lunch at noon? 2024-05-06 11:30:00 +0000 UTC new: false
	// true
}

func ExampleInboxes_Users() {
	ctx := context.Background()
	inboxes := messaging.New(messaging.NewMemoryStore())
	defer inboxes.Close()
	inboxes.SendMessage(ctx, "dave", "bob", "hi")
	inboxes.SendMessage(ctx, "carol", "alice", "hi")

	for user, err := range inboxes.Users(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(user)
	}
	// Output:
	// alice
	// bob
	// carol
	// dave
}

// An inbox screen: conversations newest first, with unread badges and the
// last message's preview, all from one listing.
func ExampleInbox_Conversations() {
	ctx := context.Background()
	inboxes := messaging.New(messaging.NewMemoryStore())
	defer inboxes.Close()
	day := func(d int) messaging.SendOption {
		return messaging.WithCreated(time.Date(2024, 5, d, 9, 0, 0, 0, time.UTC))
	}
	inboxes.SendMessage(ctx, "bob", "dave", "Hi Dave", day(1))
	inboxes.SendMessage(ctx, "carol", "dave", "Are you coming?", day(2))
	inboxes.SendMessage(ctx, "carol", "dave", "We start at 8", day(3))
	inboxes.SendMessage(ctx, "dave", "bob", "Sorry, late reply", day(4))

	dave, err := inboxes.Get(ctx, "dave")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("unread:", dave.NewMessagesCount)
	for c, err := range dave.Conversations(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s (%d new) %s: %q\n", c.Username, c.NewMessagesCount,
			c.LastUpdate.Format(time.DateOnly), c.LastMessage.Text)
	}
	// Output:
	// unread: 3
	// bob (1 new) 2024-05-04: "Sorry, late reply"
	// carol (2 new) 2024-05-03: "We start at 8"
}

func ExampleConversation_MarkRead() {
	ctx := context.Background()
	inboxes := messaging.New(messaging.NewMemoryStore())
	defer inboxes.Close()
	inboxes.SendMessage(ctx, "bob", "dave", "one")
	inboxes.SendMessage(ctx, "bob", "dave", "two")

	dave, _ := inboxes.Get(ctx, "dave")
	c, _ := dave.Get(ctx, "bob")
	fmt.Println("before:", c.NewMessagesCount)
	if err := c.MarkRead(ctx); err != nil {
		log.Fatal(err)
	}
	c, _ = dave.Get(ctx, "bob")
	dave, _ = inboxes.Get(ctx, "dave")
	fmt.Println("after:", c.NewMessagesCount, dave.NewMessagesCount)
	// Output:
	// before: 2
	// after: 0 0
}

func ExampleConversation_DeleteMessage() {
	ctx := context.Background()
	inboxes := messaging.New(messaging.NewMemoryStore())
	defer inboxes.Close()
	m, _ := inboxes.SendMessage(ctx, "bob", "dave", "oops, wrong person")
	inboxes.SendMessage(ctx, "bob", "dave", "hello")

	bob, _ := inboxes.Get(ctx, "bob")
	c, _ := bob.Get(ctx, "dave")
	if err := c.DeleteMessage(ctx, m.ID); err != nil {
		log.Fatal(err)
	}
	// Deleting is per side: Bob's copy is gone, Dave's stays.
	for _, owner := range []string{"bob", "dave"} {
		in, _ := inboxes.Get(ctx, owner)
		other := map[string]string{"bob": "dave", "dave": "bob"}[owner]
		c, _ := in.Get(ctx, other)
		fmt.Println(owner, "has", c.MessageCount, "messages")
	}
	// Output:
	// bob has 1 messages
	// dave has 2 messages
}

func ExampleInbox_Delete() {
	ctx := context.Background()
	inboxes := messaging.New(messaging.NewMemoryStore())
	defer inboxes.Close()
	inboxes.SendMessage(ctx, "bob", "dave", "old news")

	dave, _ := inboxes.Get(ctx, "dave")
	if err := dave.Delete(ctx, "bob"); err != nil {
		log.Fatal(err)
	}
	// Deleted history never comes back: a new message starts afresh.
	inboxes.SendMessage(ctx, "bob", "dave", "fresh start")
	c, _ := dave.Get(ctx, "bob")
	for m, err := range c.Messages(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(m.Text)
	}
	// Output:
	// fresh start
}

// A chat screen opens on the newest messages and scrolls back, a page at a
// time, from the oldest message it shows.
func ExampleConversation_Older() {
	ctx := context.Background()
	inboxes := messaging.New(messaging.NewMemoryStore())
	defer inboxes.Close()
	for i := 1; i <= 7; i++ {
		inboxes.SendMessage(ctx, "bob", "dave", fmt.Sprintf("message %d", i))
	}
	dave, _ := inboxes.Get(ctx, "dave")
	c, _ := dave.Get(ctx, "bob")

	before := uint64(0) // start at the newest
	for {
		page, err := c.Older(ctx, before, 3)
		if err != nil {
			log.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		var texts []string
		for _, m := range page {
			texts = append(texts, m.Text)
		}
		fmt.Println(strings.Join(texts, "; "))
		before = page[len(page)-1].ID
	}
	// Output:
	// message 7; message 6; message 5
	// message 4; message 3; message 2
	// message 1
}

// An inbox screen loads 2 conversations at a time, with the cursor of the
// previous page.
func ExampleInbox_ConversationPage() {
	ctx := context.Background()
	inboxes := messaging.New(messaging.NewMemoryStore())
	defer inboxes.Close()
	for i, from := range []string{"ann", "bob", "cat", "dan", "eve"} {
		inboxes.SendMessage(ctx, from, "zoe", "hi from "+from,
			messaging.WithCreated(time.Date(2024, 1, i+1, 0, 0, 0, 0, time.UTC)))
	}
	zoe, _ := inboxes.Get(ctx, "zoe")

	cursor := ""
	for {
		page, err := zoe.ConversationPage(ctx, cursor, 2)
		if err != nil {
			log.Fatal(err)
		}
		var rows []string
		for _, c := range page.Conversations {
			rows = append(rows, fmt.Sprintf("%s (%d new): %s", c.Username, c.NewMessagesCount, c.LastMessage.Text))
		}
		fmt.Println(strings.Join(rows, " | "))
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	// Output:
	// eve (1 new): hi from eve | dan (1 new): hi from dan
	// cat (1 new): hi from cat | bob (1 new): hi from bob
	// ann (1 new): hi from ann
}

// Read receipts: Bob sees which of his messages Dave has read.
func ExampleMessage_readByRecipient() {
	ctx := context.Background()
	inboxes := messaging.New(messaging.NewMemoryStore())
	defer inboxes.Close()
	first, _ := inboxes.SendMessage(ctx, "bob", "dave", "first")
	inboxes.SendMessage(ctx, "bob", "dave", "second")

	// Dave's screen showed only the first message.
	dave, _ := inboxes.Get(ctx, "dave")
	withBob, _ := dave.Get(ctx, "bob")
	if err := withBob.MarkReadUpTo(ctx, first.ID); err != nil {
		log.Fatal(err)
	}

	bob, _ := inboxes.Get(ctx, "bob")
	withDave, _ := bob.Get(ctx, "dave")
	for m, err := range withDave.Messages(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(m.Text, "read:", m.ReadByRecipient)
	}
	// Output:
	// first read: true
	// second read: false
}

// Bridging events to a browser: an HTTP handler streams one user's events
// as Server-Sent Events. Events come only after their write committed, so
// the browser never shows a message that is not stored. When a client falls
// behind (ErrOverflow) the handler tells it to reload its state instead of
// streaming on with a gap.
func ExampleInboxes_Subscribe() {
	ctx := context.Background()
	inboxes := messaging.New(messaging.NewMemoryStore())
	defer inboxes.Close()

	events := func(w http.ResponseWriter, r *http.Request) {
		sub, err := inboxes.Subscribe(r.URL.Query().Get("user"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer sub.Close()
		w.Header().Set("Content-Type", "text/event-stream")
		flusher := w.(http.Flusher)
		flusher.Flush() // the client now knows it is subscribed
		for ev, err := range sub.Events(r.Context()) {
			if errors.Is(err, messaging.ErrOverflow) {
				fmt.Fprint(w, "event: reload\ndata: {}\n\n")
				flusher.Flush()
				return
			}
			if err != nil {
				return // the client went away, or the inboxes closed
			}
			data, _ := json.Marshal(map[string]any{
				"with": ev.Other, "text": ev.Message.Text, "unread": ev.Unread,
			})
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Kind, data)
			flusher.Flush()
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(events))
	defer srv.Close()

	// Dave's browser connects...
	cctx, disconnect := context.WithCancel(ctx)
	defer disconnect()
	req, _ := http.NewRequestWithContext(cctx, http.MethodGet, srv.URL+"?user=dave", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()

	// ...and Bob writes to him.
	if _, err := inboxes.SendMessage(ctx, "bob", "dave", "Hi Dave"); err != nil {
		log.Fatal(err)
	}
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() && lines.Text() != "" {
		fmt.Println(lines.Text())
	}
	// Output:
	// event: message_received
	// data: {"text":"Hi Dave","unread":1,"with":"bob"}
}

func ExampleConversation_Messages() {
	ctx := context.Background()
	inboxes := messaging.New(messaging.NewMemoryStore())
	defer inboxes.Close()
	at := func(day int) messaging.SendOption {
		return messaging.WithCreated(time.Date(2024, 3, day, 12, 0, 0, 0, time.UTC))
	}
	inboxes.SendMessage(ctx, "bob", "dave", "see you tomorrow", at(2))
	inboxes.SendMessage(ctx, "dave", "bob", "ok!", at(3))
	inboxes.SendMessage(ctx, "bob", "dave", "(imported) hello", at(1)) // back-dated: sorts first

	dave, _ := inboxes.Get(ctx, "dave")
	c, _ := dave.Get(ctx, "bob")
	for m, err := range c.Messages(ctx) { // oldest first, by Created then ID
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s: %s (new: %t)\n", m.Created.Format(time.DateOnly), m.Sender, m.Text, m.New)
	}
	// Output:
	// 2024-03-01 bob: (imported) hello (new: true)
	// 2024-03-02 bob: see you tomorrow (new: true)
	// 2024-03-03 dave: ok! (new: false)
}

// Verify checks every invariant of the store: run it after a crash or a
// restore, or from a health check.
func ExampleInboxes_Verify() {
	ctx := context.Background()
	inboxes := messaging.New(messaging.NewMemoryStore())
	defer inboxes.Close()
	inboxes.SendMessage(ctx, "bob", "dave", "Hi Dave")

	problems, err := inboxes.Verify(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("problems:", len(problems))
	// Output:
	// problems: 0
}
