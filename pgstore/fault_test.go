package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/pgstore"
	"github.com/socialkit/messaging/pgstore/pgtest"
)

// load sends from 6 goroutines, each call bounded by callTimeout, until
// stopped, every third send with an idempotency key; it keeps the
// acknowledged sends, the errors, the keyed sends that failed (to be
// retried) and how long the slowest failing call took.
type load struct {
	x      *messaging.Inboxes
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	acks   []ack
	errs   []error
	failed []keyedSend
	slowFn time.Duration // the slowest call that failed
	oks    atomic.Int64
}

// keyedSend is a send made with an idempotency key.
type keyedSend struct{ from, to, text, key string }

// retryKeyed sends again every keyed send that failed, with its key, as a
// client that does not know whether its send happened does: each must
// succeed and leave exactly one message, whether the first try committed
// or not.
func (l *load) retryKeyed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, k := range l.failed {
		m, err := l.x.SendMessage(ctx, k.from, k.to, k.text, messaging.WithIdempotencyKey(k.key))
		require.NoError(t, err, "retry of %s", k.key)
		for _, side := range [][2]string{{k.from, k.to}, {k.to, k.from}} {
			c, err := l.x.Conversation(ctx, side[0], side[1])
			require.NoError(t, err)
			copies := 0
			for msg, err := range c.Messages(ctx) {
				require.NoError(t, err)
				if msg.Text == k.text {
					copies++
					assert.Equal(t, m.ID, msg.ID)
				}
			}
			assert.Equal(t, 1, copies, "%s's copy of %s", side[0], k.key)
		}
	}
	t.Logf("%d failed keyed sends retried: one message each", len(l.failed))
}

const callTimeout = 5 * time.Second

func startLoad(x *messaging.Inboxes) *load {
	l := &load{x: x, stop: make(chan struct{})}
	for g := range 6 {
		l.wg.Go(func() {
			r := mrand.New(mrand.NewPCG(uint64(g), uint64(time.Now().UnixNano())))
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				from, to := people[r.IntN(len(people))], people[r.IntN(len(people))]
				if from == to {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
				start := time.Now()
				k := keyedSend{from, to, fmt.Sprintf("g%d #%d", g, i), ""}
				var opts []messaging.SendOption
				if i%3 == 0 {
					k.key = fmt.Sprintf("g%d-%d-%d", g, i, start.UnixNano())
					opts = append(opts, messaging.WithIdempotencyKey(k.key))
				}
				m, err := x.SendMessage(ctx, from, to, k.text, opts...)
				took := time.Since(start)
				cancel()
				l.mu.Lock()
				if err == nil {
					l.acks = append(l.acks, ack{m.ID, from, to})
					l.oks.Add(1)
				} else {
					l.errs = append(l.errs, err)
					l.slowFn = max(l.slowFn, took)
					if k.key != "" {
						l.failed = append(l.failed, k)
					}
				}
				l.mu.Unlock()
				if err != nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	return l
}

func (l *load) end() {
	close(l.stop)
	l.wg.Wait()
}

// waitFor waits until cond holds, or fails t after limit.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServerCrash stops a server of its own with pg_ctl stop -m immediate
// (a crash: no checkpoint, recovery from the WAL at the next start) while
// sends are in flight, and starts it again. While it is down, calls fail
// within their context's deadline instead of hanging; afterwards the same
// store works again (the pool reconnects), every acknowledged send is
// there in both copies, and Verify and a recount find nothing wrong.
func TestServerCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes or servers, or kills them: not with -short")
	}
	srv := pgtest.NewServer(t, pgtest.ServerOptions{})
	s, err := pgstore.Open(context.Background(), srv.URL()+"&connect_timeout=2", &pgstore.Options{Schema: "crash"})
	require.NoError(t, err)
	x := messaging.New(s)
	defer x.Close()

	l := startLoad(x)
	waitFor(t, 30*time.Second, "sends before the crash", func() bool { return l.oks.Load() >= 50 })
	require.NoError(t, srv.Stop("immediate"))
	l.mu.Lock()
	errsBefore := len(l.errs)
	l.mu.Unlock()
	// The load runs on against a dead server: calls run again a few times,
	// then fail.
	waitFor(t, 2*callTimeout, "sends failing", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.errs) >= errsBefore+6
	})
	l.mu.Lock()
	down := l.errs[errsBefore:]
	slowest := l.slowFn
	l.mu.Unlock()
	require.NotEmpty(t, down, "sends failed while the server was down")
	assert.LessOrEqual(t, slowest, callTimeout+time.Second, "a failing call took %v: it should end by its deadline", slowest)
	wrapped := down[len(down)-1].Error()
	assert.True(t, strings.HasPrefix(wrapped, "messaging: send message from "), wrapped)
	assert.Contains(t, wrapped, ": pgstore: ", "the cause names the store")

	require.NoError(t, srv.Start())
	okBefore := l.oks.Load()
	waitFor(t, 60*time.Second, "sends after the restart", func() bool { return l.oks.Load() >= okBefore+50 })
	l.end()
	t.Logf("%d sends acknowledged, %d failed (slowest failure %v)", len(l.acks), len(l.errs), l.slowFn)
	assertAcked(t, s, l.acks)
	l.retryKeyed(t)
	assertSound(t, x)
	assertStreams(t, s)
}

// TestTerminateBackends terminates the store's connections with
// pg_terminate_backend, at random moments under load and, once, while an
// Update is between its first read and its COMMIT. Calls fail or run
// again, never half-write, and the store goes on working.
func TestTerminateBackends(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes or servers, or kills them: not with -short")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	app := "pgstore_term_" + hex.EncodeToString(b[:])
	url := pgtest.URL(t)
	if strings.Contains(url, "?") {
		url += "&application_name=" + app
	} else {
		url += "?application_name=" + app
	}
	schema := pgtest.Schema(t)
	s, err := pgstore.Open(context.Background(), url, &pgstore.Options{Schema: schema})
	require.NoError(t, err)
	x := messaging.New(s)
	defer x.Close()
	admin, err := pgx.Connect(context.Background(), pgtest.URL(t))
	require.NoError(t, err)
	defer admin.Close(context.Background())
	terminate := func(state string) int {
		var n int
		require.NoError(t, admin.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1 AND ($2 = '' OR state = $2)`, app, state).Scan(&n))
		return n
	}

	t.Run("mid-transaction", func(t *testing.T) {
		_, err := x.SendMessage(context.Background(), "ann", "bob", "before")
		require.NoError(t, err)
		paused := &pausingStore{Store: s, paused: make(chan struct{}), resume: make(chan struct{})}
		done := make(chan error)
		go func() {
			_, err := messaging.New(paused).SendMessage(context.Background(), "ann", "bob", "killed in flight")
			done <- err
		}()
		<-paused.paused
		waitFor(t, 10*time.Second, "the paused transaction's backend", func() bool { return terminate("idle in transaction") == 1 })
		close(paused.resume)
		select {
		case err = <-done:
		case <-time.After(callTimeout):
			t.Fatal("the Update whose connection was terminated hangs")
		}
		copies := 0
		for _, side := range [][2]string{{"ann", "bob"}, {"bob", "ann"}} {
			in, gerr := x.Get(context.Background(), side[0])
			require.NoError(t, gerr)
			c, gerr := in.Get(context.Background(), side[1])
			require.NoError(t, gerr)
			for m, merr := range c.Messages(context.Background()) {
				require.NoError(t, merr)
				if m.Text == "killed in flight" {
					copies++
				}
			}
		}
		// The server said FATAL before running any of the commit pipeline:
		// nothing was committed, and the send ran again.
		assert.NoError(t, err)
		assert.Equal(t, 2, copies, "both copies, once each")
	})

	t.Run("under load", func(t *testing.T) {
		l := startLoad(x)
		stop := make(chan struct{})
		killed := 0
		var killer sync.WaitGroup
		killer.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(10+mrand.IntN(30)) * time.Millisecond):
				}
				state := ""
				if i%2 == 0 {
					state = "idle in transaction" // between a transaction's round trips
				}
				killed += terminate(state)
			}
		})
		time.Sleep(2 * time.Second)
		close(stop)
		killer.Wait()
		okBefore := l.oks.Load()
		waitFor(t, 30*time.Second, "sends after the terminations", func() bool { return l.oks.Load() >= okBefore+50 })
		l.end()
		t.Logf("%d backends terminated; %d sends acknowledged, %d failed", killed, len(l.acks), len(l.errs))
		assert.Positive(t, killed)
		assertAcked(t, s, l.acks)
		l.retryKeyed(t)
		assertSound(t, x)
		assertStreams(t, s)
	})
}
