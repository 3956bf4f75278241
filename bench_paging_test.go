package messaging_test

import (
	"fmt"
	"testing"

	"github.com/socialkit/messaging"
)

// BenchmarkOlderPage reads the 50 messages before an old cursor (a message
// a tenth of the way into the conversation) through Conversation.Older, in
// conversations of 100 and 1 000 000 messages.
func BenchmarkOlderPage(b *testing.B) {
	for _, kind := range readStores {
		for _, n := range []int{100, 1_000_000} {
			b.Run(fmt.Sprintf("store=%s/msgs=%d", kind, n), func(b *testing.B) {
				st := builtStore(b, kind, "conversation", n, buildConversation)
				x := messaging.New(st) // not closed: the store is shared
				in, err := x.Get(ctx, "dave")
				if err != nil {
					b.Fatal(err)
				}
				c, err := in.Get(ctx, "bob")
				if err != nil {
					b.Fatal(err)
				}
				k := max(n/10, 60) // the cursor: message k, ID k+1 in the built store
				cursor := uint64(k + 1)
				want := fmt.Sprintf("message %d", k-1)
				b.ReportAllocs()
				for b.Loop() {
					page, err := c.Older(ctx, cursor, 50)
					if err != nil {
						b.Fatal(err)
					}
					if len(page) != 50 || page[0].Text != want {
						b.Fatalf("got %d messages from %q, want 50 from %q", len(page), page[0].Text, want)
					}
				}
			})
		}
	}
}

// BenchmarkConversationPageDeep reads the 20 conversations after a cursor
// deep down an inbox (nine tenths of the way, or 20 from the end) of 100
// and of 100 000 conversations, through Inbox.ConversationPage.
func BenchmarkConversationPageDeep(b *testing.B) {
	for _, kind := range readStores {
		for _, n := range []int{100, 100_000} {
			b.Run(fmt.Sprintf("store=%s/convs=%d", kind, n), func(b *testing.B) {
				st := builtStore(b, kind, "inbox", n, buildInbox)
				x := messaging.New(st) // not closed: the store is shared
				in, err := x.Get(ctx, "dave")
				if err != nil {
					b.Fatal(err)
				}
				// Walk to the deep cursor once, untimed.
				deep := min(n*9/10, n-20) // 20 must remain after it
				cursor, seen := "", 0
				for seen < deep {
					page, err := in.ConversationPage(ctx, cursor, min(messaging.MaxPageSize, deep-seen))
					if err != nil {
						b.Fatal(err)
					}
					seen += len(page.Conversations)
					cursor = page.Next
				}
				want := fmt.Sprintf("u%06d", deep) // built newest first: u000000, u000001, ...
				b.ReportAllocs()
				for b.Loop() {
					page, err := in.ConversationPage(ctx, cursor, 20)
					if err != nil {
						b.Fatal(err)
					}
					if len(page.Conversations) != 20 || page.Conversations[0].Username != want {
						b.Fatalf("got %d conversations from %q, want 20 from %q", len(page.Conversations), page.Conversations[0].Username, want)
					}
				}
			})
		}
	}
}
