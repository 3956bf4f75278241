package pgstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/internal/model"
	"github.com/socialkit/messaging/pgstore"
	"github.com/socialkit/messaging/pgstore/pgtest"
)

var loadT0 = time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC)

func loadMsg(id uint64, from, to, text string, sec int) messaging.MessageRecord {
	return messaging.MessageRecord{ID: id, Sender: from, Recipient: to, Text: text, Created: loadT0.Add(time.Duration(sec) * time.Second)}
}

func loadConv(owner, other string, n, unread int, last messaging.MessageRecord) messaging.ConversationRecord {
	return messaging.ConversationRecord{Owner: owner, Other: other, Messages: n, Unread: unread, LastUpdate: last.Created,
		FirstID: 1, MaxID: last.ID, Last: last}
}

func loadEvents(user string, seqs ...uint64) []messaging.EventRecord {
	var out []messaging.EventRecord
	for _, s := range seqs {
		out = append(out, messaging.EventRecord{User: user, Seq: s, Data: []byte(fmt.Sprintf("%s-%d", user, s))})
	}
	return out
}

// loadSteps is a sequence of writes, each a batch (or, with trim, an
// Update of its own), that meets every case of Load against stored rows:
// records replaced, messages of conversations of an earlier batch,
// records repeated in one batch, a stream extended over batches, a put
// below a trimmed stream's first (the hidden events must not come back),
// a stream with gaps, users with events and no inbox.
type loadStep struct {
	batch *messaging.Batch
	trim  func(messaging.Tx) error
}

func loadSteps() []loadStep {
	m1, m2, m3 := loadMsg(1, "ann", "bob", "one", 1), loadMsg(2, "bob", "ann", "two", 2), loadMsg(3, "ann", "bob", "three", 3)
	m2b := m2
	m2b.Text, m2b.Meta = "two, edited", map[string]string{"k": "v"}
	first := &messaging.Batch{
		Inboxes: []messaging.InboxRecord{{Owner: "ann", Unread: 1}, {Owner: "bob", Unread: 1}},
		Conversations: []messaging.ConversationRecord{loadConv("ann", "bob", 2, 1, m2), loadConv("bob", "ann", 2, 1, m2),
			loadConv("bob", "cy", 0, 0, messaging.MessageRecord{})},
		Messages: []messaging.MessageEntry{{Owner: "ann", Other: "bob", MessageRecord: m1}, {Owner: "bob", Other: "ann", MessageRecord: m1},
			{Owner: "ann", Other: "bob", MessageRecord: m2}},
		Blocks:          []messaging.Block{{User: "ann", Other: "zed"}},
		IdempotencyKeys: []messaging.IdempotencyRecord{{Sender: "ann", Key: "k1", MessageID: 1, Created: loadT0, Expires: loadT0.Add(time.Hour)}},
		Events:          append(append(loadEvents("ann", 1, 2, 3), loadEvents("gone", 5, 6)...), loadEvents("gap", 10, 12)...),
	}
	second := &messaging.Batch{
		Inboxes:       []messaging.InboxRecord{{Owner: "ann", Unread: 0}},
		Conversations: []messaging.ConversationRecord{loadConv("ann", "bob", 3, 0, m3)},
		Messages: []messaging.MessageEntry{{Owner: "bob", Other: "ann", MessageRecord: m2}, {Owner: "bob", Other: "ann", MessageRecord: m2b},
			{Owner: "ann", Other: "bob", MessageRecord: m3}, {Owner: "bob", Other: "ann", MessageRecord: m3},
			{Owner: "ann", Other: "bob", MessageRecord: m2b}},
		Tombstones: []messaging.TombstoneEntry{{Owner: "bob", Other: "cy", Tombstone: messaging.Tombstone{ID: 9}},
			{Owner: "bob", Other: "cy", Tombstone: messaging.Tombstone{ID: 9, Retracted: true}}},
		Blocks:          []messaging.Block{{User: "ann", Other: "zed"}, {User: "bob", Other: "cy"}},
		IdempotencyKeys: []messaging.IdempotencyRecord{{Sender: "ann", Key: "k1", MessageID: 3, Created: loadT0, Expires: loadT0.Add(2 * time.Hour)}},
		Events:          append(append(loadEvents("ann", 4, 5, 5), loadEvents("gone", 7)...), loadEvents("gap", 11)...),
	}
	return []loadStep{
		{batch: first},
		{batch: second},
		// ann's stream from 4 on: 1 to 3 stay in the table, hidden.
		{trim: func(tx messaging.Tx) error { return tx.DeleteEvents("ann", 3) }},
		{batch: &messaging.Batch{Events: append(append(loadEvents("ann", 2, 6), loadEvents("new", 1)...), loadEvents("gone", 7)...),
			Tombstones: []messaging.TombstoneEntry{{Owner: "bob", Other: "cy", Tombstone: messaging.Tombstone{ID: 9}}}}},
	}
}

// TestLoadLikePut runs loadSteps through Load on one store and through
// Batch.Put in Update on another, and compares every table row by row.
func TestLoadLikePut(t *testing.T) {
	loaded, put := openStore(t), openStore(t)
	for i, st := range loadSteps() {
		if st.trim != nil {
			require.NoError(t, loaded.Update(t.Context(), st.trim))
			require.NoError(t, put.Update(t.Context(), st.trim))
			continue
		}
		require.NoError(t, loaded.Load(t.Context(), st.batch), "step %d", i)
		require.NoError(t, put.Update(t.Context(), func(tx messaging.Tx) error { return st.batch.Put(tx) }), "step %d", i)
	}
	want := tables(t, put)
	assert.Equal(t, want, tables(t, loaded))
	// ann 2, 4, 5, 6 (1 and 3 were trimmed, and went when 2 came back),
	// gap 10 to 12, gone 5 to 7, new 1.
	assert.Len(t, want["events"], 4+3+3+1, "the events")

	// Nor does Check find a row out of place.
	var problems []messaging.Problem
	require.NoError(t, loaded.Check(t.Context(), func(p messaging.Problem) { problems = append(problems, p) }))
	assert.Empty(t, problems)
}

// tables returns the rows of every table of s, in key order.
func tables(t *testing.T, s *pgstore.Store) map[string][][]any {
	t.Helper()
	out := make(map[string][][]any)
	for table, key := range map[string]string{"inboxes": "owner", "conversations": "owner, other", "messages": "owner, other, id",
		"tombstones": "owner, other, id", "blocks": "owner, other", "idempotency": "sender, key", "events": "owner, seq"} {
		rows, err := s.Pool().Query(t.Context(), "SELECT * FROM "+pgx.Identifier{s.Schema(), table}.Sanitize()+" ORDER BY "+key)
		require.NoError(t, err)
		for rows.Next() {
			vals, err := rows.Values()
			require.NoError(t, err)
			out[table] = append(out[table], vals)
		}
		require.NoError(t, rows.Err())
	}
	return out
}

// A Load that would put a conversation in a missing inbox, or a message
// in a missing conversation, fails with ErrNotFound, as Put does, and
// writes nothing.
func TestLoadNotFound(t *testing.T) {
	s := openStore(t)
	require.NoError(t, s.Load(t.Context(), &messaging.Batch{Inboxes: []messaging.InboxRecord{{Owner: "ann"}}}))
	before := tables(t, s)
	m := loadMsg(1, "ann", "bob", "hi", 0)
	for name, b := range map[string]*messaging.Batch{
		"conversation": {Inboxes: []messaging.InboxRecord{{Owner: "cy"}},
			Conversations: []messaging.ConversationRecord{loadConv("bob", "ann", 1, 1, m)}},
		"message":   {Events: loadEvents("ann", 1), Messages: []messaging.MessageEntry{{Owner: "ann", Other: "bob", MessageRecord: m}}},
		"tombstone": {Tombstones: []messaging.TombstoneEntry{{Owner: "ann", Other: "bob", Tombstone: messaging.Tombstone{ID: 1}}}},
	} {
		err := s.Load(t.Context(), b)
		assert.ErrorIs(t, err, messaging.ErrNotFound, name)
		assert.True(t, strings.HasPrefix(err.Error(), "pgstore: load: "), err.Error())
		assert.Equal(t, before, tables(t, s), "%s: nothing written", name)
	}
}

// After a Load, the store works on from what was loaded: a send numbers
// its events after the loaded ones and counts unread from the loaded
// counts, the new inboxes are listed, and a transaction that relied on an
// inbox being absent before the Load cannot commit after it.
func TestLoadThenSend(t *testing.T) {
	s := openStore(t)
	steps := loadSteps()
	for _, st := range steps[:2] {
		require.NoError(t, s.Load(t.Context(), st.batch))
	}
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) error { return tx.AdvanceID(3) }))
	x := messaging.New(s)
	var users []string
	for u, err := range x.Users(t.Context()) {
		require.NoError(t, err)
		users = append(users, u)
	}
	assert.Equal(t, []string{"ann", "bob"}, users)

	m, err := x.SendMessage(t.Context(), "bob", "ann", "four")
	require.NoError(t, err)
	assert.EqualValues(t, 4, m.ID)
	in, err := x.Get(t.Context(), "ann")
	require.NoError(t, err)
	assert.Equal(t, 1, in.NewMessagesCount, "0 loaded, and one sent")
	require.NoError(t, s.View(t.Context(), func(tx messaging.ReadTx) error {
		first, last, err := tx.StreamBounds("ann")
		assert.Equal(t, [2]uint64{1, 6}, [2]uint64{first, last}, "after the 5 loaded")
		return err
	}))
	sub, err := x.SubscribeFrom("ann", 5)
	require.NoError(t, err)
	defer sub.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ev, err := sub.Next(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 6, ev.Seq)
	assert.Equal(t, messaging.MessageReceived, ev.Kind)
}

// A Load touches the set of users when it makes an inbox, as PutInbox
// does: a transaction that found no inbox before it cannot commit after
// it, and runs again.
func TestLoadTouchesTheSetOfUsers(t *testing.T) {
	s := openStore(t)
	runs := 0
	loaded := make(chan error, 1)
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) error {
		runs++
		users, err := tx.Users("", 10)
		if err != nil {
			return err
		}
		if runs == 1 {
			// A Load commits after this transaction's snapshot.
			go func() {
				loaded <- s.Load(context.Background(), &messaging.Batch{Inboxes: []messaging.InboxRecord{{Owner: "ann"}}})
			}()
			require.NoError(t, <-loaded)
		}
		if len(users) == 0 {
			return tx.PutInbox(messaging.InboxRecord{Owner: "first"})
		}
		return nil
	}))
	assert.Equal(t, 2, runs, "the first run relied on there being no inbox")
}

// WatchStreams delivers loaded events: the notifier learns of the streams
// a Load wrote, as it does of an Update's. The poll interval is an hour,
// so only a notification can deliver them while the test waits.
func TestLoadNotifiesWatchers(t *testing.T) {
	schema := pgtest.Schema(t)
	open := func() *pgstore.Store {
		s, err := pgstore.Open(t.Context(), pgtest.URL(t), &pgstore.Options{Schema: schema, PollInterval: time.Hour})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	for _, other := range []bool{false, true} {
		t.Run(map[bool]string{false: "same store", true: "another process"}[other], func(t *testing.T) {
			loader := open()
			watched := loader
			if other {
				watched = open()
			}
			user := fmt.Sprintf("u%v", other)
			x := messaging.New(watched)
			sub, err := x.SubscribeFrom(user, 0)
			require.NoError(t, err)
			defer sub.Close()
			// The watcher polls once it listens: from then on, only a
			// notification tells it of a commit.
			require.Eventually(t, func() bool { return watched.Stats().Polls > 0 }, 10*time.Second, 10*time.Millisecond)
			require.NoError(t, loader.Load(t.Context(), &messaging.Batch{Events: realEvents(t, user, 2)}))
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			for _, seq := range []uint64{1, 2} {
				ev, err := sub.Next(ctx)
				require.NoError(t, err)
				assert.Equal(t, seq, ev.Seq)
			}
		})
	}
}

// realEvents returns the first n events of user's stream as package
// messaging writes them: a message received from "someone" each.
func realEvents(t *testing.T, user string, n int) []messaging.EventRecord {
	t.Helper()
	mem := messaging.NewMemoryStore()
	x := messaging.New(mem)
	defer x.Close()
	for range n {
		_, err := x.SendMessage(t.Context(), "someone", user, "hi")
		require.NoError(t, err)
	}
	var evs []messaging.EventRecord
	require.NoError(t, mem.View(t.Context(), func(tx messaging.ReadTx) (err error) {
		evs, err = tx.Events(user, 0, n)
		return err
	}))
	require.Len(t, evs, n)
	return evs
}

// Copy bolt → PostgreSQL → bolt: the copies hold what the original holds,
// by count of records and as every user sees it, and Verify finds nothing
// wrong with either. The first hop uses Load, the second the Scanner.
func TestCopyBoltPostgresBolt(t *testing.T) {
	clock := model.NewClock(model.Start)
	bolt, err := messaging.OpenBoltStore(t.TempDir()+"/src.db", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bolt.Close() })
	src, err := messaging.NewWithOptions(bolt, &messaging.Options{Now: clock.Now})
	require.NoError(t, err)
	require.NoError(t, model.Run(t.Context(), src, clock, model.Generate(11, 800), nil))

	pg := openStore(t)
	back, err := messaging.OpenBoltStore(t.TempDir()+"/back.db", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = back.Close() })
	want, err := messaging.Count(t.Context(), bolt)
	require.NoError(t, err)
	require.Positive(t, want.Messages)
	require.Positive(t, want.Tombstones)
	require.Positive(t, want.Events)
	seen, err := model.Observe(t.Context(), src)
	require.NoError(t, err)
	for _, hop := range []struct {
		name     string
		dst, src messaging.Store
	}{{"bolt → postgres", pg, bolt}, {"postgres → bolt", back, pg}} {
		require.NoError(t, messaging.Copy(t.Context(), hop.dst, hop.src, &messaging.CopyOptions{BatchSize: 40, Now: clock.Now}), hop.name)
		got, err := messaging.Count(t.Context(), hop.dst)
		require.NoError(t, err)
		assert.Equal(t, want, got, hop.name)
		x, err := messaging.NewWithOptions(hop.dst, &messaging.Options{Now: clock.Now})
		require.NoError(t, err)
		problems, err := x.Verify(t.Context())
		require.NoError(t, err)
		assert.Empty(t, problems, hop.name)
		state, err := model.Observe(t.Context(), x)
		require.NoError(t, err)
		assert.Empty(t, model.Diff(seen, state), hop.name)
	}
}

// The Scanner's statements are range scans of an index, with the
// position as the start of the scan: no sort, and no scan of the inbox
// from its start. (With the pool's settings: Open sets enable_seqscan off
// and a generic plan.)
func TestScannerPlans(t *testing.T) {
	s := openStore(t)
	conn, err := s.Pool().Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	for _, c := range []struct {
		sql, index, cond string
		args             []string // literals
	}{
		{pgstore.ScanSQL(s)[0], "messages_by_created", "(owner = $1)", []string{`'\x61'`, "10"}},
		{pgstore.ScanSQL(s)[1], "messages_by_created", "(ROW(other, sec, nsec, id) > ROW($2, $3, $4, $5))",
			[]string{`'\x61'`, `'\x62'`, "1", "2", "3", "10"}},
		{pgstore.ScanSQL(s)[2], "tombstones_pkey", "(owner = $1)", []string{`'\x61'`, "10"}},
		{pgstore.ScanSQL(s)[3], "tombstones_pkey", "(ROW(other, id) > ROW($2, $3))", []string{`'\x61'`, `'\x62'`, "1", "10"}},
	} {
		// The plan the store's sessions use: the generic one
		// (plan_cache_mode), which EXPLAIN shows for a prepared statement.
		_, err := conn.Exec(t.Context(), "PREPARE scan AS "+c.sql)
		require.NoError(t, err)
		var plan []string
		rows, err := conn.Query(t.Context(), "EXPLAIN EXECUTE scan("+strings.Join(c.args, ", ")+")")
		require.NoError(t, err)
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			plan = append(plan, line)
		}
		require.NoError(t, rows.Err())
		text := strings.Join(plan, "\n")
		assert.Contains(t, text, "Index Scan using "+c.index, c.sql)
		assert.Contains(t, text, "Index Cond: ", c.sql)
		assert.Contains(t, text, c.cond, c.sql)
		assert.NotContains(t, text, "Sort", c.sql)
		_, err = conn.Exec(t.Context(), "DEALLOCATE scan")
		require.NoError(t, err)
	}
}
