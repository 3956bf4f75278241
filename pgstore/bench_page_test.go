package pgstore_test

// O(page) benchmarks: the first page of a big inbox or conversation costs
// about what it costs on a small one, and MarkRead does not depend on how
// much it marks. The big fixtures are written with COPY through the
// store's own encodings, not by 100 000 sends.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/pgstore"
	"github.com/socialkit/messaging/pgstore/pgtest"
)

var fixtureStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// fixture is a store in a schema of its own, for one benchmark.
type fixture struct {
	s      *pgstore.Store
	x      *messaging.Inboxes
	schema string
}

func newFixture(b *testing.B) *fixture {
	schema := pgtest.Schema(b)
	s, err := pgstore.Open(context.Background(), benchURL(b), &pgstore.Options{Schema: schema})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	return &fixture{s: s, x: messaging.New(s), schema: schema}
}

func (f *fixture) exec(b *testing.B, sql string, args ...any) {
	_, err := f.s.Pool().Exec(context.Background(), sql, args...)
	require.NoError(b, err)
}

func (f *fixture) copy(b *testing.B, table string, columns []string, rows [][]any) {
	n, err := f.s.Pool().CopyFrom(context.Background(), pgx.Identifier{f.schema, table}, columns, pgx.CopyFromRows(rows))
	require.NoError(b, err)
	require.Equal(b, int64(len(rows)), n)
}

var convCols = []string{"owner", "other", "messages", "unread", "lu_neg_sec", "lu_neg_nsec", "first_id", "max_id", "read_mark",
	"peer_read_mark", "last_id", "last_sender", "last_recipient", "last_text", "last_sec", "last_nsec"}

// convRow is the row of owner's conversation with other whose only message
// is id, sent by other at created.
func convFixtureRow(owner, other string, id uint64, created time.Time) []any {
	sec, nsec := pgstore.EncodeTime(created)
	return []any{[]byte(owner), []byte(other), int64(1), int64(0), -sec, -nsec, pgstore.EncodeID(id), pgstore.EncodeID(id),
		pgstore.EncodeID(id), pgstore.EncodeID(0), pgstore.EncodeID(id), []byte(other), []byte(owner), []byte("hello"), sec, nsec}
}

// inboxWithConversations makes owner's inbox hold n conversations, each
// with one message read, and returns it.
func (f *fixture) inboxWithConversations(b *testing.B, n int) *messaging.Inbox {
	f.exec(b, "INSERT INTO "+pgx.Identifier{f.schema, "inboxes"}.Sanitize()+" (owner, unread) VALUES ('owner', 0)")
	convs := make([][]any, n)
	msgs := make([][]any, n)
	for i := range n {
		other := fmt.Sprintf("user%06d", i)
		created := fixtureStart.Add(time.Duration(i) * time.Second)
		convs[i] = convFixtureRow("owner", other, uint64(i+1), created)
		sec, nsec := pgstore.EncodeTime(created)
		msgs[i] = []any{[]byte("owner"), []byte(other), pgstore.EncodeID(uint64(i + 1)), sec, nsec, []byte(other), []byte("owner"), []byte("hello")}
	}
	f.copy(b, "conversations", convCols, convs)
	f.copy(b, "messages", []string{"owner", "other", "id", "sec", "nsec", "sender", "recipient", "text"}, msgs)
	f.exec(b, "SELECT setval($1::text::regclass, $2)", pgx.Identifier{f.schema, "message_ids"}.Sanitize(), n)
	f.exec(b, "ANALYZE "+pgx.Identifier{f.schema, "conversations"}.Sanitize())
	in, err := f.x.Get(context.Background(), "owner")
	require.NoError(b, err)
	return in
}

// conversationWithMessages makes owner's conversation with "other" hold n
// messages from other, the first unread of them unread, and returns it.
func (f *fixture) conversationWithMessages(b *testing.B, n, unread int) *messaging.Conversation {
	msgs := make([][]any, n)
	for i := range n {
		sec, nsec := pgstore.EncodeTime(fixtureStart.Add(time.Duration(i) * time.Second))
		msgs[i] = []any{[]byte("owner"), []byte("other"), pgstore.EncodeID(uint64(i + 1)), sec, nsec,
			[]byte("other"), []byte("owner"), []byte(fmt.Sprintf("message %d", i+1))}
	}
	f.copy(b, "messages", []string{"owner", "other", "id", "sec", "nsec", "sender", "recipient", "text"}, msgs)
	row := convFixtureRow("owner", "other", uint64(n), fixtureStart.Add(time.Duration(n-1)*time.Second))
	row[2], row[3], row[8], row[13] = int64(n), int64(unread), pgstore.EncodeID(uint64(n-unread)), []byte(fmt.Sprintf("message %d", n))
	row[6] = pgstore.EncodeID(1)
	f.copy(b, "conversations", convCols, [][]any{row})
	f.exec(b, "INSERT INTO "+pgx.Identifier{f.schema, "inboxes"}.Sanitize()+" (owner, unread) VALUES ('owner', $1), ('other', 0)", unread)
	f.exec(b, "SELECT setval($1::text::regclass, $2)", pgx.Identifier{f.schema, "message_ids"}.Sanitize(), n)
	f.exec(b, "ANALYZE "+pgx.Identifier{f.schema, "messages"}.Sanitize())
	in, err := f.x.Get(context.Background(), "owner")
	require.NoError(b, err)
	c, err := in.Get(context.Background(), "other")
	require.NoError(b, err)
	return c
}

// BenchmarkFirstConversations reads the first 20 conversations of an inbox
// of 100 and of 100 000 (Inbox.ConversationPage).
func BenchmarkFirstConversations(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("convs=%d", n), func(b *testing.B) {
			in := newFixture(b).inboxWithConversations(b, n)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				page, err := in.ConversationPage(ctx, "", 20)
				if err != nil || len(page.Conversations) != 20 || page.Conversations[0].Username != fmt.Sprintf("user%06d", n-1) {
					b.Fatalf("page: %v, %d conversations", err, len(page.Conversations))
				}
			}
		})
	}
}

// BenchmarkNewestMessages reads the newest 50 messages of a conversation
// of 100 and of 100 000 (Conversation.Older from the start).
func BenchmarkNewestMessages(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("msgs=%d", n), func(b *testing.B) {
			c := newFixture(b).conversationWithMessages(b, n, 0)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				page, err := c.Older(ctx, 0, 50)
				if err != nil || len(page) != 50 || page[0].ID != uint64(n) {
					b.Fatalf("page: %v, %d messages", err, len(page))
				}
			}
		})
	}
}

// BenchmarkMarkRead marks read a conversation with 10 and with 10 000
// unread messages; between iterations (not timed) the read mark and the
// counts go back.
func BenchmarkMarkRead(b *testing.B) {
	for _, n := range []int{10, 10_000} {
		b.Run(fmt.Sprintf("unread=%d", n), func(b *testing.B) {
			f := newFixture(b)
			c := f.conversationWithMessages(b, n, n)
			ctx := context.Background()
			conv, inbox := pgx.Identifier{f.schema, "conversations"}.Sanitize(), pgx.Identifier{f.schema, "inboxes"}.Sanitize()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				f.exec(b, "UPDATE "+conv+" SET read_mark = $1, unread = $2 WHERE owner = 'owner'", pgstore.EncodeID(0), n)
				f.exec(b, "UPDATE "+inbox+" SET unread = $1 WHERE owner = 'owner'", n)
				b.StartTimer()
				if err := c.MarkRead(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			in, err := f.x.Get(ctx, "owner")
			require.NoError(b, err)
			require.Zero(b, in.NewMessagesCount)
		})
	}
}
