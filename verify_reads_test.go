package messaging_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// TestVerifyReads counts Verify's reads by kind. With a Scanner they are,
// for a store of U users, C conversation sides (each pair of users with a
// conversation on both sides counts two) and pages of MaxPageSize:
//
//	Users:          pages(U)
//	Inbox:          U
//	Conversations:  Σ over inboxes of pages(its conversations)
//	ScanMessages:   Σ over inboxes of pages(its messages)
//	ScanTombstones: Σ over inboxes of pages(its tombstones)
//	Messages:       Σ over conversation sides of pages(the other side's messages)
//
// where pages(n) = n/MaxPageSize + 1: one read per conversation side, two
// per pair, and nothing per message. Without a Scanner the inbox's own
// messages and tombstones take a read per conversation side each instead.
func TestVerifyReads(t *testing.T) {
	pages := func(n int) int { return n/messaging.MaxPageSize + 1 }
	for _, s := range plainStores() {
		t.Run(s.name, func(t *testing.T) {
			t.Run("complete", func(t *testing.T) {
				// 12 users, each pair with a message each way; some
				// conversations deleted on one side, some emptied.
				const n = 12
				st := &readCountingStore{Store: s.open(t)}
				x := messaging.New(st)
				defer x.Close()
				user := func(i int) string { return fmt.Sprintf("u%02d", i) }
				sides := 0
				for i := range n {
					for j := i + 1; j < n; j++ {
						send(t, x, user(i), user(j), "hi", day(i))
						send(t, x, user(j), user(i), "hey", day(j))
						sides += 2
						switch (i + j) % 5 {
						case 0:
							in, err := x.Get(ctx, user(j))
							require.NoError(t, err)
							require.NoError(t, in.Delete(ctx, user(i)))
							sides--
						case 1: // emptied: only tombstones left
							c := conv(t, x, user(i), user(j))
							for m, err := range c.Messages(ctx) {
								require.NoError(t, err)
								require.NoError(t, c.DeleteMessage(ctx, m.ID))
							}
						}
					}
				}
				for _, hide := range []bool{false, true} {
					st.hideScanner = hide
					got := verifyReads(t, x, st)
					if st.scanner && !hide {
						assert.Equal(t, map[string]int{"Users": 1, "Inbox": n, "Conversations": n, "ScanMessages": n,
							"ScanTombstones": n, "Messages": sides}, got, "with a Scanner")
						continue
					}
					assert.Equal(t, map[string]int{"Users": 1, "Inbox": n, "Conversations": n,
						"Messages": 2 * sides, "Tombstones": sides}, got, "without a Scanner")
				}
			})
			t.Run("pages", func(t *testing.T) {
				// An inbox with more conversations than a page holds, one
				// of them with more messages than a page holds, both ways.
				const spokes = messaging.MaxPageSize + 1
				st := &readCountingStore{Store: s.open(t)}
				x := messaging.New(st)
				defer x.Close()
				spoke := func(i int) string { return fmt.Sprintf("s%04d", i) }
				for i := range spokes {
					send(t, x, "hub", spoke(i), "hi", day(1))
				}
				const long = messaging.MaxPageSize // more in hub/s0000
				for i := range long {
					from, to := "hub", spoke(0)
					if i%2 == 1 {
						from, to = to, from
					}
					send(t, x, from, to, fmt.Sprint(i), day(2))
				}
				got := verifyReads(t, x, st)
				if !st.scanner {
					assert.NotContains(t, got, "Conversation", "no read per conversation record")
					return
				}
				users := spokes + 1
				assert.Equal(t, map[string]int{
					"Users":          pages(users),
					"Inbox":          users,
					"Conversations":  pages(spokes) + spokes*pages(1),
					"ScanMessages":   pages(spokes+long) + pages(1+long) + (spokes-1)*pages(1),
					"ScanTombstones": users,
					// hub's side of each conversation reads the spoke's
					// copies, and each spoke's side hub's.
					"Messages": 2 * (pages(1+long) + (spokes-1)*pages(1)),
				}, got)
			})
		})
	}
}

// verifyReads runs Verify on x, whose store is st, and returns its reads
// by kind; the store must be sound.
func verifyReads(t *testing.T, x *messaging.Inboxes, st *readCountingStore) map[string]int {
	t.Helper()
	st.reset()
	problems, err := x.Verify(ctx)
	require.NoError(t, err)
	assert.Empty(t, problems)
	return st.reset()
}

// readCountingStore counts the reads of its Views by the name of the ReadTx
// method. Its ReadTx is a Scanner when the store's is (scanner records
// whether it was), unless hideScanner.
type readCountingStore struct {
	messaging.Store
	hideScanner bool

	mu      sync.Mutex
	reads   map[string]int
	scanner bool
}

func (s *readCountingStore) View(ctx context.Context, fn func(messaging.ReadTx) error) error {
	return s.Store.View(ctx, func(tx messaging.ReadTx) error {
		c := readCounter{tx: tx, count: s.count}
		sc, ok := tx.(messaging.Scanner)
		s.mu.Lock()
		s.scanner = ok
		s.mu.Unlock()
		if ok && !s.hideScanner {
			return fn(readCounterScan{c, sc})
		}
		return fn(c)
	})
}

func (s *readCountingStore) count(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reads == nil {
		s.reads = make(map[string]int)
	}
	s.reads[name]++
}

// reset returns the counts so far and starts again.
func (s *readCountingStore) reset() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.reads
	s.reads = nil
	return out
}

// readCounter counts each call, then passes it to tx. It does not embed
// messaging.ReadTx, so that a read added to the interface cannot go
// uncounted.
type readCounter struct {
	tx    messaging.ReadTx
	count func(name string)
}

var _ messaging.ReadTx = readCounter{}

func (c readCounter) Inbox(owner string) (messaging.InboxRecord, error) {
	c.count("Inbox")
	return c.tx.Inbox(owner)
}

func (c readCounter) Users(after string, limit int) ([]string, error) {
	c.count("Users")
	return c.tx.Users(after, limit)
}

func (c readCounter) Conversation(owner, other string) (messaging.ConversationRecord, error) {
	c.count("Conversation")
	return c.tx.Conversation(owner, other)
}

func (c readCounter) Conversations(owner string, after *messaging.ConversationKey, limit int) ([]messaging.ConversationRecord, error) {
	c.count("Conversations")
	return c.tx.Conversations(owner, after, limit)
}

func (c readCounter) Message(owner, other string, id uint64) (messaging.MessageRecord, error) {
	c.count("Message")
	return c.tx.Message(owner, other, id)
}

func (c readCounter) Messages(owner, other string, after *messaging.MessageKey, reverse bool, limit int) ([]messaging.MessageRecord, error) {
	c.count("Messages")
	return c.tx.Messages(owner, other, after, reverse, limit)
}

func (c readCounter) MessagesByID(owner, other string, afterID uint64, limit int) ([]messaging.MessageRecord, error) {
	c.count("MessagesByID")
	return c.tx.MessagesByID(owner, other, afterID, limit)
}

func (c readCounter) Deleted(owner, other string, id uint64) (bool, error) {
	c.count("Deleted")
	return c.tx.Deleted(owner, other, id)
}

func (c readCounter) Tombstones(owner, other string, afterID uint64, limit int) ([]messaging.Tombstone, error) {
	c.count("Tombstones")
	return c.tx.Tombstones(owner, other, afterID, limit)
}

func (c readCounter) Blocked(user, other string) (bool, error) {
	c.count("Blocked")
	return c.tx.Blocked(user, other)
}

func (c readCounter) Blocks(after messaging.Block, limit int) ([]messaging.Block, error) {
	c.count("Blocks")
	return c.tx.Blocks(after, limit)
}

func (c readCounter) Idempotency(sender, key string) (messaging.IdempotencyRecord, error) {
	c.count("Idempotency")
	return c.tx.Idempotency(sender, key)
}

func (c readCounter) Idempotencies(after messaging.IdempotencyRecord, limit int) ([]messaging.IdempotencyRecord, error) {
	c.count("Idempotencies")
	return c.tx.Idempotencies(after, limit)
}

func (c readCounter) StreamBounds(user string) (first, last uint64, err error) {
	c.count("StreamBounds")
	return c.tx.StreamBounds(user)
}

func (c readCounter) Events(user string, after uint64, limit int) ([]messaging.EventRecord, error) {
	c.count("Events")
	return c.tx.Events(user, after, limit)
}

func (c readCounter) Streams(after string, limit int) ([]string, error) {
	c.count("Streams")
	return c.tx.Streams(after, limit)
}

// readCounterScan is a readCounter that is a Scanner too.
type readCounterScan struct {
	readCounter
	scan messaging.Scanner
}

func (c readCounterScan) ScanMessages(owner string, after *messaging.MessageEntry, limit int) ([]messaging.MessageEntry, error) {
	c.count("ScanMessages")
	return c.scan.ScanMessages(owner, after, limit)
}

func (c readCounterScan) ScanTombstones(owner string, after *messaging.TombstoneEntry, limit int) ([]messaging.TombstoneEntry, error) {
	c.count("ScanTombstones")
	return c.scan.ScanTombstones(owner, after, limit)
}
