package pgstore_test

// Tests of event streams across processes: two stores with pools of their
// own share nothing in memory, as two processes would; a child process
// makes sure of it.

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

// openIn opens a store of its own on schema, at url, with opts.
func openIn(t testing.TB, url, schema string, opts pgstore.Options) *pgstore.Store {
	t.Helper()
	opts.Schema = schema
	s, err := pgstore.Open(context.Background(), url, &opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// nextWithin returns sub's next event, failing t after limit.
func nextWithin(t testing.TB, sub *messaging.Subscription, limit time.Duration) messaging.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	ev, err := sub.Next(ctx)
	require.NoError(t, err)
	return ev
}

// TestStreamAcrossStores: an event committed through one store reaches a
// subscriber of another, which has its own pool: by NOTIFY, or by the
// poll alone when NOTIFY is off.
func TestStreamAcrossStores(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  pgstore.Options
		limit time.Duration
	}{
		{"notify", pgstore.Options{PollInterval: time.Hour}, 5 * time.Second}, // the poll cannot be what delivers
		{"poll only", pgstore.Options{DisableNotify: true, PollInterval: 100 * time.Millisecond}, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			schema := pgtest.Schema(t)
			a, b := openIn(t, pgtest.URL(t), schema, tc.opts), openIn(t, pgtest.URL(t), schema, tc.opts)
			xa, xb := messaging.New(a), messaging.New(b)
			ctx := context.Background()
			sub, err := xb.Subscribe("bob")
			require.NoError(t, err)
			defer sub.Close()
			// The subscription starts at the end of the stream: let the
			// watcher connect before the sends, so the first is awaited.
			waitFor(t, 5*time.Second, "the watcher's first poll", func() bool { return b.Stats().Polls > 0 || tc.opts.DisableNotify })
			for i := range 3 {
				_, err := xa.SendMessage(ctx, "ann", "bob", fmt.Sprintf("hello %d", i))
				require.NoError(t, err)
			}
			for i := range 3 {
				ev := nextWithin(t, sub, tc.limit)
				assert.Equal(t, messaging.MessageReceived, ev.Kind)
				assert.Equal(t, fmt.Sprintf("hello %d", i), ev.Message.Text)
				assert.Equal(t, uint64(i+1), ev.Seq, "bob's stream, gap-free")
				assert.Equal(t, i+1, ev.Unread, "bob's own count")
			}
			if tc.opts.DisableNotify {
				assert.Zero(t, a.Stats().Notifies, "no NOTIFY sent")
				waitFor(t, 5*time.Second, "b's poll counted", func() bool { return b.Stats().Polls > 0 })
			} else {
				// The notifier counts a NOTIFY once its statement returns,
				// which can be after the listener has delivered it.
				waitFor(t, 5*time.Second, "a's NOTIFY counted", func() bool { return a.Stats().Notifies > 0 })
			}
		})
	}
}

// TestStreamLatencyAcrossStores: the median delay from a send through one
// store to its event at a subscriber of another is within 50 ms on
// loopback (the poll, once an hour here, does not deliver).
func TestStreamLatencyAcrossStores(t *testing.T) {
	if testing.Short() {
		t.Skip("a latency measurement: not with -short")
	}
	p50, p90 := streamLatency(t, 50)
	t.Logf("send to subscriber across stores: p50 %v, p90 %v", p50, p90)
	assert.LessOrEqual(t, p50, 50*time.Millisecond)
}

// BenchmarkStreamLatency measures the delay from the start of a send
// through one store to its event at a subscriber of another store (own
// pool, as another process), one send at a time.
func BenchmarkStreamLatency(b *testing.B) {
	p50, p90 := streamLatency(b, b.N)
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p90.Microseconds())/1000, "p90-ms")
}

func streamLatency(t testing.TB, n int) (p50, p90 time.Duration) {
	schema := pgtest.Schema(t)
	opts := pgstore.Options{PollInterval: time.Hour}
	a, b := openIn(t, pgtest.URL(t), schema, opts), openIn(t, pgtest.URL(t), schema, opts)
	xa, xb := messaging.New(a), messaging.New(b)
	ctx := context.Background()
	sub, err := xb.Subscribe("bob")
	require.NoError(t, err)
	defer sub.Close()
	waitFor(t, 5*time.Second, "the watcher's first poll", func() bool { return b.Stats().Polls > 0 })
	took := make([]time.Duration, 0, n)
	if bm, ok := t.(*testing.B); ok {
		bm.ResetTimer()
	}
	for i := range n {
		start := time.Now()
		_, err := xa.SendMessage(ctx, "ann", "bob", fmt.Sprint(i))
		require.NoError(t, err)
		ev := nextWithin(t, sub, 10*time.Second)
		took = append(took, time.Since(start))
		require.Equal(t, fmt.Sprint(i), ev.Message.Text)
	}
	slices.Sort(took)
	return took[len(took)/2], took[len(took)*9/10]
}

// TestStreamListenerLost: the watcher's LISTEN connection is terminated;
// events still arrive (the watcher polls at once when it is back, and
// listens again).
func TestStreamListenerLost(t *testing.T) {
	app := "pgstore_listen_" + strings.ReplaceAll(pgtest.SchemaName("x")[2:], "_", "")
	url := pgtest.URL(t)
	if strings.Contains(url, "?") {
		url += "&application_name=" + app
	} else {
		url += "?application_name=" + app
	}
	schema := pgtest.Schema(t)
	opts := pgstore.Options{PollInterval: time.Hour}
	a, b := openIn(t, pgtest.URL(t), schema, opts), openIn(t, url, schema, opts)
	xa, xb := messaging.New(a), messaging.New(b)
	ctx := context.Background()
	sub, err := xb.Subscribe("bob")
	require.NoError(t, err)
	defer sub.Close()
	waitFor(t, 5*time.Second, "the watcher's first poll", func() bool { return b.Stats().Polls > 0 })

	admin, err := pgx.Connect(ctx, pgtest.URL(t))
	require.NoError(t, err)
	defer admin.Close(ctx)
	var killed int
	require.NoError(t, admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE 'LISTEN%'`, app).Scan(&killed))
	require.Equal(t, 1, killed, "the watcher's connection")
	waitFor(t, 10*time.Second, "the watcher to listen again", func() bool { return b.Stats().ListenerLosses == 1 && b.Stats().Polls >= 2 })
	_, err = xa.SendMessage(ctx, "ann", "bob", "after")
	require.NoError(t, err)
	assert.Equal(t, "after", nextWithin(t, sub, 5*time.Second).Message.Text)
}

// TestStreamServerRestart: the server restarts under a watching store;
// the watcher connects again, and a send after the restart reaches the
// subscriber.
func TestStreamServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes or servers, or kills them: not with -short")
	}
	srv := pgtest.NewServer(t, pgtest.ServerOptions{})
	opts := pgstore.Options{PollInterval: time.Hour}
	a, b := openIn(t, srv.URL(), "restart", opts), openIn(t, srv.URL(), "restart", opts)
	xa, xb := messaging.New(a), messaging.New(b)
	ctx := context.Background()
	sub, err := xb.Subscribe("bob")
	require.NoError(t, err)
	defer sub.Close()
	waitFor(t, 5*time.Second, "the watcher's first poll", func() bool { return b.Stats().Polls > 0 })
	_, err = xa.SendMessage(ctx, "ann", "bob", "before")
	require.NoError(t, err)
	assert.Equal(t, "before", nextWithin(t, sub, 5*time.Second).Message.Text)

	require.NoError(t, srv.Stop("fast"))
	require.NoError(t, srv.Start())
	waitFor(t, 30*time.Second, "the watcher to listen again", func() bool { return b.Stats().ListenerLosses >= 1 && b.Stats().Polls >= 2 })
	waitFor(t, 30*time.Second, "a send after the restart", func() bool {
		_, err := xa.SendMessage(ctx, "ann", "bob", "after")
		return err == nil
	})
	assert.Equal(t, "after", nextWithin(t, sub, 5*time.Second).Message.Text)
}

// TestStreamResumeAfterDowntime: a process that was down while another
// wrote resumes its user's stream from the last Seq it saw, from a fresh
// Inboxes: every event after it, in order, then live ones.
func TestStreamResumeAfterDowntime(t *testing.T) {
	schema := pgtest.Schema(t)
	opts := pgstore.Options{}
	a := openIn(t, pgtest.URL(t), schema, opts)
	xa := messaging.New(a)
	ctx := context.Background()
	_, err := xa.SendMessage(ctx, "ann", "bob", "seen")
	require.NoError(t, err)

	b := openIn(t, pgtest.URL(t), schema, opts)
	xb := messaging.New(b)
	sub, err := xb.SubscribeFrom("bob", 0)
	require.NoError(t, err)
	last := nextWithin(t, sub, 5*time.Second).Seq
	require.NoError(t, xb.Close()) // B goes down

	for i := range 5 {
		_, err := xa.SendMessage(ctx, "ann", "bob", fmt.Sprintf("missed %d", i))
		require.NoError(t, err)
	}
	in, err := xa.Get(ctx, "bob")
	require.NoError(t, err)
	c, err := in.Get(ctx, "ann")
	require.NoError(t, err)
	require.NoError(t, c.MarkRead(ctx))

	xb2 := messaging.New(openIn(t, pgtest.URL(t), schema, opts)) // B is back
	defer xb2.Close()
	sub2, err := xb2.SubscribeFrom("bob", last)
	require.NoError(t, err)
	defer sub2.Close()
	for i := range 5 {
		ev := nextWithin(t, sub2, 5*time.Second)
		assert.Equal(t, last+uint64(i)+1, ev.Seq)
		assert.Equal(t, fmt.Sprintf("missed %d", i), ev.Message.Text)
	}
	ev := nextWithin(t, sub2, 5*time.Second)
	assert.Equal(t, messaging.ConversationRead, ev.Kind)
	assert.Equal(t, last+6, ev.Seq)
	_, err = xa.SendMessage(ctx, "ann", "bob", "live")
	require.NoError(t, err)
	ev = nextWithin(t, sub2, 5*time.Second)
	assert.Equal(t, "live", ev.Message.Text, "then live events, from the other store")
	assert.Equal(t, last+7, ev.Seq)
}

// TestStreamSeqAcrossStores: four stores append to the streams of two
// users at once (sends between them and to them): every stream is
// gap-free, each Seq committed once, and in commit order (the unread count
// the events of bob carry only grows while nobody reads).
func TestStreamSeqAcrossStores(t *testing.T) {
	schema := pgtest.Schema(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var stores []*pgstore.Store
	const perGoroutine = 10
	for i := range 4 {
		s := openIn(t, pgtest.URL(t), schema, pgstore.Options{})
		stores = append(stores, s)
		x := messaging.New(s)
		for g := range 3 {
			wg.Go(func() {
				for n := range perGoroutine {
					from := fmt.Sprintf("s%d", (i+g)%3)
					_, err := x.SendMessage(ctx, from, "bob", fmt.Sprintf("%d/%d #%d", i, g, n))
					if !assert.NoError(t, err) {
						return
					}
				}
			})
		}
	}
	wg.Wait()
	var recs []messaging.EventRecord
	require.NoError(t, stores[0].View(ctx, func(tx messaging.ReadTx) (err error) {
		recs, err = tx.Events("bob", 0, 1000)
		return err
	}))
	require.Len(t, recs, 4*3*perGoroutine)
	for i, rec := range recs {
		assert.Equal(t, uint64(i+1), rec.Seq)
	}
	sub, err := messaging.New(stores[1]).SubscribeFrom("bob", 0)
	require.NoError(t, err)
	defer sub.Close()
	for i := range recs {
		ev := nextWithin(t, sub, 5*time.Second)
		assert.Equal(t, i+1, ev.Unread, "event %d: bob's unread count, in commit order", ev.Seq)
	}
	st := sumStats(stores)
	t.Logf("%d sends: %d retries (40001: %d, 23505: %d)", len(recs), st.Attempts-st.Updates, st.SerializationFailures, st.UniqueViolations)
}
