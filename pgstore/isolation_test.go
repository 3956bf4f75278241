package pgstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/pgstore"
	"github.com/socialkit/messaging/pgstore/pgtest"
)

// rcSQL sends and marks read by hand, on the store's tables and encodings,
// the way a READ COMMITTED application would: lock the conversation row,
// then act on what it holds.
type rcSQL struct{ s, seq string }

func newRCSQL(schema string) rcSQL {
	return rcSQL{s: pgx.Identifier{schema}.Sanitize() + ".", seq: pgx.Identifier{schema, "message_ids"}.Sanitize()}
}

func (q rcSQL) nextID(t *testing.T, tx pgx.Tx) int64 {
	var id int64
	require.NoError(t, tx.QueryRow(context.Background(), "SELECT nextval('"+q.seq+"')").Scan(&id))
	return id
}

// deliver adds message id to both sides, counting it unread on the
// recipient's side: a new message is above the read mark, says the domain,
// since it has the newest ID.
func (q rcSQL) deliver(t *testing.T, tx pgx.Tx, id int64, sender, recipient string) {
	ctx := context.Background()
	now := time.Now().UTC()
	sec, nsec := now.Unix(), int32(now.Nanosecond())
	for _, side := range []struct {
		owner, other string
		received     int
	}{{sender, recipient, 0}, {recipient, sender, 1}} {
		var n int64
		require.NoError(t, tx.QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM "+q.s+"conversations WHERE owner = $1 AND other = $2 FOR UPDATE) l",
			[]byte(side.owner), []byte(side.other)).Scan(&n))
		require.Equal(t, int64(1), n, "the test sends in existing conversations")
		_, err := tx.Exec(ctx, "UPDATE "+q.s+"conversations SET messages = messages + 1, unread = unread + $3, "+
			"max_id = greatest(max_id, $4), lu_neg_sec = -$5::bigint, lu_neg_nsec = -$6::integer, last_id = $4, "+
			"last_sender = $7, last_recipient = $8, last_text = 'by hand', last_sec = $5, last_nsec = $6 WHERE owner = $1 AND other = $2",
			[]byte(side.owner), []byte(side.other), side.received, pgstore.EncodeID(uint64(id)), sec, nsec, []byte(sender), []byte(recipient))
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "INSERT INTO "+q.s+"messages (owner, other, id, sec, nsec, sender, recipient, text) "+
			"VALUES ($1, $2, $3, $4, $5, $6, $7, 'by hand')",
			[]byte(side.owner), []byte(side.other), pgstore.EncodeID(uint64(id)), sec, nsec, []byte(sender), []byte(recipient))
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "UPDATE "+q.s+"inboxes SET unread = unread + $2 WHERE owner = $1", []byte(side.owner), side.received)
		require.NoError(t, err)
	}
}

// markRead moves owner's read mark to the largest ID, as MarkRead does.
func (q rcSQL) markRead(t *testing.T, tx pgx.Tx, owner, other string) {
	ctx := context.Background()
	var unread int64
	require.NoError(t, tx.QueryRow(ctx, "SELECT unread FROM "+q.s+"conversations WHERE owner = $1 AND other = $2 FOR UPDATE",
		[]byte(owner), []byte(other)).Scan(&unread))
	_, err := tx.Exec(ctx, "UPDATE "+q.s+"conversations SET read_mark = max_id, unread = 0 WHERE owner = $1 AND other = $2",
		[]byte(owner), []byte(other))
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "UPDATE "+q.s+"inboxes SET unread = unread - $2 WHERE owner = $1", []byte(owner), unread)
	require.NoError(t, err)
}

// unreadDrift returns bob's stored unread count for ann and the number of
// messages of that conversation that are new by its read mark.
func unreadDrift(t *testing.T, x *messaging.Inboxes) (stored, flagged int) {
	in, err := x.Get(context.Background(), "bob")
	require.NoError(t, err)
	c, err := in.Get(context.Background(), "ann")
	require.NoError(t, err)
	for m, err := range c.Messages(context.Background()) {
		require.NoError(t, err)
		if m.New {
			flagged++
		}
	}
	return c.NewMessagesCount, flagged
}

// TestReadCommittedDrift plays the interleaving of POSTGRES.md
// ("Isolation") twice: send A takes its message ID; send B (a later ID)
// and a MarkRead that covers B commit; then A commits. By hand under READ
// COMMITTED, with every row locked before it is used, A counts its message
// unread although it lies under the read mark. Through the store, A's
// commit fails with 40001, A runs again with a new ID, and the counts
// agree with the messages.
func TestReadCommittedDrift(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)

	t.Run("by hand, READ COMMITTED", func(t *testing.T) {
		schema := pgtest.Schema(t)
		s, err := pgstore.Open(ctx, url, &pgstore.Options{Schema: schema})
		require.NoError(t, err)
		x := messaging.New(s)
		defer x.Close()
		_, err = x.SendMessage(ctx, "ann", "bob", "hello") // both conversations exist
		require.NoError(t, err)

		q := newRCSQL(schema)
		conn := func() *pgx.Conn {
			c, err := pgx.Connect(ctx, url)
			require.NoError(t, err)
			t.Cleanup(func() { c.Close(ctx) })
			return c
		}
		a, b, m := conn(), conn(), conn()
		txA, err := a.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
		require.NoError(t, err)
		idA := q.nextID(t, txA) // A takes its ID...

		txB, err := b.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
		require.NoError(t, err)
		q.deliver(t, txB, q.nextID(t, txB), "ann", "bob") // ...B takes a later one and commits,
		require.NoError(t, txB.Commit(ctx))
		txM, err := m.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
		require.NoError(t, err)
		q.markRead(t, txM, "bob", "ann") // bob reads up to B's message,
		require.NoError(t, txM.Commit(ctx))
		q.deliver(t, txA, idA, "ann", "bob") // then A delivers, locking as it goes.
		require.NoError(t, txA.Commit(ctx))

		stored, flagged := unreadDrift(t, x)
		assert.Equal(t, 1, stored, "bob's unread count for ann counts A's message")
		assert.Equal(t, 0, flagged, "yet A's message lies under the read mark: nothing is new")
		problems, err := x.Verify(ctx)
		require.NoError(t, err)
		if assert.Len(t, problems, 1, "Verify sees the drift, and nothing else") {
			assert.Equal(t, messaging.Problem{Owner: "bob", Other: "ann", Detail: problems[0].Detail}, problems[0])
		}
	})

	t.Run("through the store", func(t *testing.T) {
		schema := pgtest.Schema(t)
		open := func() *pgstore.Store {
			s, err := pgstore.Open(ctx, url, &pgstore.Options{Schema: schema})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
		// Two stores, as two processes would have: they do not queue for
		// each other in memory, so they meet in the database.
		storeA, storeB := open(), open()
		xB := messaging.New(storeB)
		_, err := xB.SendMessage(ctx, "ann", "bob", "hello")
		require.NoError(t, err)

		paused := &pausingStore{Store: storeA, paused: make(chan struct{}), resume: make(chan struct{})}
		xA := messaging.New(paused)
		var sendA messaging.Message
		done := make(chan error)
		go func() {
			var err error
			sendA, err = xA.SendMessage(ctx, "ann", "bob", "A")
			done <- err
		}()
		<-paused.paused // A has its snapshot and its ID, and read both sides
		sendB, err := xB.SendMessage(ctx, "ann", "bob", "B")
		require.NoError(t, err)
		in, err := xB.Get(ctx, "bob")
		require.NoError(t, err)
		c, err := in.Get(ctx, "ann")
		require.NoError(t, err)
		require.NoError(t, c.MarkRead(ctx))
		close(paused.resume)
		require.NoError(t, <-done)

		assert.GreaterOrEqual(t, storeA.Stats().SerializationFailures, int64(1), "A's first commit failed with 40001")
		assert.Greater(t, sendA.ID, sendB.ID, "A ran again, with an ID after B's")
		stored, flagged := unreadDrift(t, xB)
		assert.Equal(t, 1, stored, "A's message is unread")
		assert.Equal(t, 1, flagged, "and it is the one new message")
		problems, err := xB.Verify(ctx)
		require.NoError(t, err)
		assert.Empty(t, problems)
	})
}

// pausingStore stops the first Update that reads a conversation right
// after that read, until resume is closed.
type pausingStore struct {
	messaging.Store
	once           sync.Once
	paused, resume chan struct{}
}

func (p *pausingStore) Update(ctx context.Context, fn func(messaging.Tx) error) error {
	return p.Store.Update(ctx, func(tx messaging.Tx) error { return fn(pausingTx{tx, p}) })
}

type pausingTx struct {
	messaging.Tx
	p *pausingStore
}

func (t pausingTx) Conversation(owner, other string) (messaging.ConversationRecord, error) {
	rec, err := t.Tx.Conversation(owner, other)
	t.p.once.Do(func() {
		close(t.p.paused)
		<-t.p.resume
	})
	return rec, err
}

// TestBlockStopsLaterSends: a send that has read both users (no block)
// is held; meanwhile a block between them commits through another store;
// the send, which commits after the block, must fail with ErrBlocked and
// write nothing, whichever way the block goes and whether or not the
// recipient had an inbox (a send relies on no block with the users' rows,
// or the set of users for one without a row: a block touches those).
func TestBlockStopsLaterSends(t *testing.T) {
	for _, tc := range []struct {
		name           string
		recipientKnown bool
		blocker        string
		history        int // Options.EventHistory of the send
	}{
		{"recipient blocks", true, "bob", 0},
		{"sender blocks", true, "ann", 0},
		{"recipient blocks, before their inbox exists", false, "bob", 0},
		{"sender blocks, no event streams", true, "ann", -1}, // the send only share-locks the sender's row
	} {
		t.Run(tc.name, func(t *testing.T) {
			stores := openStores(t, 2)
			ctx := context.Background()
			xa, xb := messaging.New(stores[0]), messaging.New(stores[1])
			if tc.recipientKnown {
				_, err := xa.SendMessage(ctx, "ann", "bob", "before")
				require.NoError(t, err)
			} else {
				_, err := xa.SendMessage(ctx, "ann", "cat", "ann has an inbox")
				require.NoError(t, err)
			}
			paused := &pausingStore{Store: stores[0], paused: make(chan struct{}), resume: make(chan struct{})}
			done := make(chan error)
			xp, err := messaging.NewWithOptions(paused, &messaging.Options{EventHistory: tc.history})
			require.NoError(t, err)
			go func() {
				_, err := xp.SendMessage(ctx, "ann", "bob", "after the block")
				done <- err
			}()
			<-paused.paused // the send read both users, and no block
			other := "ann"
			if tc.blocker == "ann" {
				other = "bob"
			}
			require.NoError(t, xb.Block(ctx, tc.blocker, other))
			close(paused.resume)
			err = <-done
			assert.ErrorIs(t, err, messaging.ErrBlocked, "the send commits after the block")
			want := 0
			if tc.recipientKnown {
				want = 1
			}
			if c, err := xb.Conversation(ctx, "bob", "ann"); err == nil {
				assert.Equal(t, want, c.MessageCount, "nothing written")
			} else {
				assert.ErrorIs(t, err, messaging.ErrNotFound)
				assert.Zero(t, want)
			}
			assert.Positive(t, stores[0].Stats().SerializationFailures+stores[0].Stats().UniqueViolations,
				"the send's first commit failed")
		})
	}
}
