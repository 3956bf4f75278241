package pgstore_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/pgstore"
	"github.com/socialkit/messaging/pgstore/pgtest"
)

// wire counts round trips on the wire: a read from the server that follows
// a write to it is one round trip, however many packets each takes.
type wire struct {
	mu      sync.Mutex
	trips   int
	written bool // written since the last read
}

func (w *wire) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.trips
}

type countingConn struct {
	net.Conn
	w *wire
}

func (c countingConn) Write(b []byte) (int, error) {
	c.w.mu.Lock()
	c.w.written = true
	c.w.mu.Unlock()
	return c.Conn.Write(b)
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.w.mu.Lock()
		if c.w.written {
			c.w.trips++
			c.w.written = false
		}
		c.w.mu.Unlock()
	}
	return n, err
}

// countingStore opens a store over one connection whose round trips w
// counts.
func countingStore(t *testing.T) (*pgstore.Store, *wire) {
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	require.NoError(t, err)
	cfg.MaxConns = 1 // every statement on one connection, prepared once
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	cfg.ConnConfig.RuntimeParams["enable_seqscan"] = "off" // as Open sets them
	w := &wire{}
	var d net.Dialer
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, w}, nil
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	// NOTIFY off: the notifier sends on a connection of the pool, in the
	// background (no caller waits for it), and would be counted here.
	s, err := pgstore.New(t.Context(), pool, &pgstore.Options{Schema: pgtest.Schema(t), DisableNotify: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, w
}

// TestRoundTrips counts the round trips of each operation twice: on the
// wire, and as the store counts the pipelines its callers wait for. The
// two differ by the ROLLBACK that ends a View, which goes out after the
// View has returned.
func TestRoundTrips(t *testing.T) {
	s, w := countingStore(t)
	x := messaging.New(s)
	ctx := context.Background()
	at := func(n int) messaging.SendOption {
		return messaging.WithCreated(time.Date(2024, 1, 1, 0, 0, n, 0, time.UTC))
	}

	conv := func(owner, other string) *messaging.Conversation {
		in, err := x.Get(ctx, owner)
		require.NoError(t, err)
		c, err := in.Get(ctx, other)
		require.NoError(t, err)
		return c
	}

	// One of each operation first, so that every statement is prepared
	// (pgx prepares a statement on a connection in a round trip of its own,
	// once) and every conversation exists.
	warm := func() {
		for i := range 3 {
			_, err := x.SendMessage(ctx, "ann", "bob", "hi", at(i))
			require.NoError(t, err)
			_, err = x.SendMessage(ctx, "bob", "ann", "hello", at(10+i))
			require.NoError(t, err)
		}
		c := conv("bob", "ann")
		page, err := c.Older(ctx, 0, 50)
		require.NoError(t, err)
		_, err = c.Older(ctx, page[1].ID, 50)
		require.NoError(t, err)
		_, err = c.Newer(ctx, page[1].ID, 50)
		require.NoError(t, err)
		require.NoError(t, c.MarkReadUpTo(ctx, page[len(page)-1].ID))
		require.NoError(t, c.MarkRead(ctx))
		require.NoError(t, c.DeleteMessage(ctx, page[0].ID))
		in, err := x.Get(ctx, "bob")
		require.NoError(t, err)
		_, err = in.ConversationPage(ctx, "", 20)
		require.NoError(t, err)
		_, err = x.SendMessage(ctx, "cat", "dan", "new")
		require.NoError(t, err)
		require.NoError(t, x.Delete(ctx, "dan"))
		in, err = x.Get(ctx, "cat")
		require.NoError(t, err)
		require.NoError(t, in.Delete(ctx, "dan"))
		_, err = x.SendMessage(ctx, "ann", "bob", "keyed", messaging.WithIdempotencyKey("warm"), at(15))
		require.NoError(t, err)
		m, err := x.SendMessage(ctx, "ann", "bob", "to retract", at(16))
		require.NoError(t, err)
		require.NoError(t, conv("ann", "bob").Retract(ctx, m.ID))
		require.NoError(t, x.Block(ctx, "ann", "fay"))
		require.NoError(t, x.Unblock(ctx, "ann", "fay"))
	}
	warm()
	warm()

	// Each case prepares what it needs (not counted), then returns the
	// operation to count.
	cases := []struct {
		name  string
		op    func() func() error
		store int // round trips the caller waits for
		wire  int // round trips on the wire, a View's ROLLBACK included
	}{
		{"SendMessage", func() func() error {
			return func() error { _, err := x.SendMessage(ctx, "ann", "bob", "more", at(20)); return err }
		}, 2, 2},
		{"SendMessage to a new user", func() func() error {
			return func() error { _, err := x.SendMessage(ctx, "ann", "eve", "first"); return err }
		}, 2, 2},
		{"SendMessage with an idempotency key", func() func() error {
			return func() error {
				_, err := x.SendMessage(ctx, "ann", "bob", "keyed", messaging.WithIdempotencyKey(fmt.Sprint(time.Now().UnixNano())), at(17))
				return err
			}
		}, 3, 3},
		{"SendMessage again with the same key", func() func() error {
			_, err := x.SendMessage(ctx, "ann", "bob", "keyed", messaging.WithIdempotencyKey("again"), at(18))
			require.NoError(t, err)
			return func() error {
				_, err := x.SendMessage(ctx, "ann", "bob", "keyed", messaging.WithIdempotencyKey("again"), at(18))
				return err
			}
		}, 2, 2},
		{"Block", func() func() error { return func() error { return x.Block(ctx, "ann", "fay") } }, 2, 2},
		{"Retract", func() func() error {
			m, err := x.SendMessage(ctx, "ann", "bob", "to retract", at(24))
			require.NoError(t, err)
			c := conv("ann", "bob")
			// The message, the newest left on each side once it is gone,
			// the recipient's copy, and the commit.
			return func() error { return c.Retract(ctx, m.ID) }
		}, 5, 5},
		{"MarkRead", func() func() error {
			_, err := x.SendMessage(ctx, "ann", "bob", "unread", at(21))
			require.NoError(t, err)
			c := conv("bob", "ann")
			return func() error { return c.MarkRead(ctx) }
		}, 2, 2},
		{"MarkReadUpTo", func() func() error {
			m, err := x.SendMessage(ctx, "ann", "bob", "unread", at(22))
			require.NoError(t, err)
			c := conv("bob", "ann")
			return func() error { return c.MarkReadUpTo(ctx, m.ID) }
		}, 4, 4},
		{"DeleteMessage (the newest)", func() func() error {
			m, err := x.SendMessage(ctx, "ann", "bob", "to delete", at(23))
			require.NoError(t, err)
			c := conv("bob", "ann")
			// The pair, the message, the sender's copy (unread: no receipt
			// will cover it), the newest message left, the commit.
			return func() error { return c.DeleteMessage(ctx, m.ID) }
		}, 5, 5},
		{"Inbox.Delete", func() func() error {
			in, err := x.Get(ctx, "ann")
			require.NoError(t, err)
			return func() error { return in.Delete(ctx, "eve") }
		}, 2, 2},
		{"Inboxes.Delete", func() func() error {
			// The inbox, its conversations, the unread messages of one
			// (no receipt will cover them), the commit.
			return func() error { return x.Delete(ctx, "eve") }
		}, 4, 4},
		{"Conversation.Older", func() func() error {
			c := conv("bob", "ann")
			// The conversation, the cursor and the page in one pipeline
			// (messaging.PageReader); the ROLLBACK is not waited for.
			return func() error { _, err := c.Older(ctx, 0, 50); return err }
		}, 1, 2},
		{"Conversation.Older from a cursor", func() func() error {
			c := conv("bob", "ann")
			page, err := c.Older(ctx, 0, 2)
			require.NoError(t, err)
			return func() error { _, err := c.Older(ctx, page[1].ID, 50); return err }
		}, 1, 2},
		{"Inbox.ConversationPage", func() func() error {
			in, err := x.Get(ctx, "bob")
			require.NoError(t, err)
			// The inbox (is it there?), then the page.
			return func() error { _, err := in.ConversationPage(ctx, "", 20); return err }
		}, 2, 3},
	}
	for _, tc := range cases {
		op := tc.op()
		pgstore.WaitBackground(s)
		r0, w0 := s.Stats().RoundTrips, w.count()
		require.NoError(t, op(), tc.name)
		pgstore.WaitBackground(s)
		store, wire := s.Stats().RoundTrips-r0, w.count()-w0
		assert.Equal(t, int64(tc.store), store, "%s: round trips its caller waits for", tc.name)
		assert.Equal(t, tc.wire, wire, "%s: round trips on the wire", tc.name)
		t.Logf("%-27s caller waits for %d round trips; %d on the wire", tc.name, store, wire)
	}
}
