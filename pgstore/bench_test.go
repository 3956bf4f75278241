package pgstore_test

// Benchmarks of the PostgreSQL store against what an application would
// write by hand, measured in one run (BENCHMARKS.md, "PostgreSQL store
// (issue 11)"). They skip without a server. Run them against a server with
// fsync on, e.g. the throwaway one pgtest starts:
//
//	go test -run XXX -bench . -benchmem -count=6 -timeout 60m ./pgstore/

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/pgstore"
	"github.com/socialkit/messaging/pgstore/pgtest"
)

// benchUsers is how many users the senders pick partners among.
const benchUsers = 32

func benchUser(i int) string { return fmt.Sprintf("user%02d", i) }

// benchURL is the shared server's URL with a pool large enough for every
// sender, used by both sides of each comparison.
func benchURL(b *testing.B) string {
	u := pgtest.URL(b)
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "pool_max_conns=40"
}

// baseline is the send an application would write without this package:
// plain pgx over the same rows (the store's schema and encodings), one
// READ COMMITTED transaction per send, as one pipelined batch: both
// message copies, both conversation rows upserted with their counts, the
// recipient's unread count bumped.
type baseline struct {
	pool *pgxpool.Pool
	sql  []string
}

func newBaseline(pool *pgxpool.Pool, schema string) *baseline {
	s := pgx.Identifier{schema}.Sanitize() + "."
	seq := strings.ReplaceAll(pgx.Identifier{schema, "message_ids"}.Sanitize(), "'", "''")
	const flip = " + (-9223372036854775807 - 1)" // uint64 with the sign bit flipped, as codec.go stores IDs
	conv := func(unread string) string {
		return "INSERT INTO " + s + "conversations AS c (owner, other, messages, unread, lu_neg_sec, lu_neg_nsec, first_id, max_id, " +
			"read_mark, peer_read_mark, last_id, last_sender, last_recipient, last_text, last_sec, last_nsec) " +
			"VALUES ($1, $2, 1, " + unread + ", -$3::bigint, -$4::integer, currval('" + seq + "')" + flip + ", currval('" + seq + "')" + flip +
			", 0" + flip + ", 0" + flip + ", currval('" + seq + "')" + flip + ", $5, $6, $7, $3, $4) " +
			"ON CONFLICT (owner, other) DO UPDATE SET messages = c.messages + 1, unread = c.unread + EXCLUDED.unread, " +
			"lu_neg_sec = EXCLUDED.lu_neg_sec, lu_neg_nsec = EXCLUDED.lu_neg_nsec, max_id = EXCLUDED.max_id, last_id = EXCLUDED.last_id, " +
			"last_sender = EXCLUDED.last_sender, last_recipient = EXCLUDED.last_recipient, last_text = EXCLUDED.last_text, " +
			"last_sec = EXCLUDED.last_sec, last_nsec = EXCLUDED.last_nsec"
	}
	return &baseline{pool: pool, sql: []string{
		"BEGIN",
		"INSERT INTO " + s + "messages (owner, other, id, sec, nsec, sender, recipient, text) VALUES ($1, $2, nextval('" + seq + "')" + flip + ", $3, $4, $1, $2, $5)",
		"INSERT INTO " + s + "messages (owner, other, id, sec, nsec, sender, recipient, text) VALUES ($2, $1, currval('" + seq + "')" + flip + ", $3, $4, $1, $2, $5)",
		conv("0"),
		conv("1"),
		"INSERT INTO " + s + "inboxes AS i (owner, unread) VALUES ($1, 1) ON CONFLICT (owner) DO UPDATE SET unread = i.unread + 1",
		"COMMIT",
	}}
}

func (bl *baseline) send(ctx context.Context, sender, recipient, text string) error {
	for {
		err := bl.sendOnce(ctx, sender, recipient, text)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") {
			continue
		}
		return err
	}
}

// sendOnce upserts the two conversation rows in key order, as a careful
// author does after meeting the deadlocks that opposite sends cause.
func (bl *baseline) sendOnce(ctx context.Context, sender, recipient, text string) error {
	now := time.Now().UTC()
	sec, nsec := now.Unix(), int32(now.Nanosecond())
	from, to, body := []byte(sender), []byte(recipient), []byte(text)
	b := &pgx.Batch{}
	b.Queue(bl.sql[0])
	b.Queue(bl.sql[1], from, to, sec, nsec, body)
	b.Queue(bl.sql[2], from, to, sec, nsec, body)
	if sender < recipient {
		b.Queue(bl.sql[3], from, to, sec, nsec, from, to, body)
		b.Queue(bl.sql[4], to, from, sec, nsec, from, to, body)
	} else {
		b.Queue(bl.sql[4], to, from, sec, nsec, from, to, body)
		b.Queue(bl.sql[3], from, to, sec, nsec, from, to, body)
	}
	b.Queue(bl.sql[5], to)
	b.Queue(bl.sql[6])
	return bl.pool.SendBatch(ctx, b).Close()
}

// runSenders sends b.N messages from senders goroutines, each to a random
// partner, and reports sends/s and the CPU time spent per send.
func runSenders(b *testing.B, pool *pgxpool.Pool, senders int, send func(ctx context.Context, from, to string) error) {
	ctx := context.Background()
	cpu := newCPUMeter(pool)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	stop := cpu.start(b)
	start := time.Now()
	for g := range senders {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for next.Add(1) <= int64(b.N) {
				from := r.IntN(benchUsers)
				to := (from + 1 + r.IntN(benchUsers-1)) % benchUsers
				if err := send(ctx, benchUser(from), benchUser(to)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sends/s")
	stop()
}

// BenchmarkSend compares Inboxes.SendMessage on the store with the
// hand-written baseline, at 1 and 16 concurrent senders. The store runs
// without event streams (EventHistory -1), so that it writes the rows the
// baseline writes; BenchmarkSendStreams measures what streams cost.
func BenchmarkSend(b *testing.B) {
	url := benchURL(b)
	for _, senders := range []int{1, 16} {
		b.Run(fmt.Sprintf("impl=pgstore/senders=%d", senders), func(b *testing.B) {
			benchStore(b, url, senders, -1, pgstore.Options{})
		})
		b.Run(fmt.Sprintf("impl=baseline/senders=%d", senders), func(b *testing.B) {
			schema := pgtest.Schema(b)
			s, err := pgstore.Open(context.Background(), url, &pgstore.Options{Schema: schema}) // creates the tables
			require.NoError(b, err)
			defer s.Close()
			bl := newBaseline(s.Pool(), schema)
			for i := range benchUsers {
				require.NoError(b, bl.send(context.Background(), benchUser(i), benchUser((i+1)%benchUsers), "hello"))
			}
			runSenders(b, s.Pool(), senders, func(ctx context.Context, from, to string) error {
				return bl.send(ctx, from, to, "a message of some forty bytes, say hi!")
			})
		})
	}
}

// BenchmarkSendStreams compares sends with event streams (the default:
// each send appends an event to both users' streams, and trims them to the
// last 1000) to sends without; and with streams, without NOTIFY (no
// process listens here, so NOTIFY is all cost).
func BenchmarkSendStreams(b *testing.B) {
	url := benchURL(b)
	for _, senders := range []int{1, 16} {
		for _, streams := range []string{"off", "on", "on-nonotify"} {
			b.Run(fmt.Sprintf("streams=%s/senders=%d", streams, senders), func(b *testing.B) {
				history := -1
				if streams != "off" {
					history = 0
				}
				benchStore(b, url, senders, history, pgstore.Options{DisableNotify: streams == "on-nonotify"})
			})
		}
	}
}

// benchStore runs senders through a store of its own whose Inboxes keeps
// history events per user, and reports retries and round trips per send.
func benchStore(b *testing.B, url string, senders, history int, opts pgstore.Options) {
	opts.Schema = pgtest.Schema(b)
	s, err := pgstore.Open(context.Background(), url, &opts)
	require.NoError(b, err)
	defer s.Close()
	x, err := messaging.NewWithOptions(s, &messaging.Options{EventHistory: history})
	require.NoError(b, err)
	ctx := context.Background()
	for i := range benchUsers { // every inbox exists, as in the baseline
		_, err := x.SendMessage(ctx, benchUser(i), benchUser((i+1)%benchUsers), "hello")
		require.NoError(b, err)
	}
	if history >= 0 {
		// Every stream full, so that each send also trims both streams, as
		// it does in the steady state.
		keep := history
		if keep == 0 {
			keep = messaging.DefaultEventHistory
		}
		fillStreams(b, s, keep)
	}
	before := s.Stats()
	runSenders(b, s.Pool(), senders, func(ctx context.Context, from, to string) error {
		_, err := x.SendMessage(ctx, from, to, "a message of some forty bytes, say hi!")
		return err
	})
	after := s.Stats()
	if history >= 0 && !opts.DisableNotify {
		b.ReportMetric(float64(after.Notifies-before.Notifies)/float64(b.N), "notifies/op")
	}
	b.ReportMetric(float64(after.Attempts-before.Attempts-(after.Updates-before.Updates))/float64(b.N), "retries/op")
	b.ReportMetric(float64(after.RoundTrips-before.RoundTrips)/float64(b.N), "roundtrips/op")
}

// fillStreams makes every bench user's stream hold keep events, written
// with COPY: what the stream holds does not matter, only its bounds.
func fillStreams(b *testing.B, s *pgstore.Store, keep int) {
	ctx := context.Background()
	for i := range benchUsers {
		u := benchUser(i)
		var first, last uint64
		require.NoError(b, s.View(ctx, func(tx messaging.ReadTx) (err error) {
			first, last, err = tx.StreamBounds(u)
			return err
		}))
		require.NotZero(b, last)
		var rows [][]any
		for seq := last + 1; seq < last+uint64(keep); seq++ {
			rows = append(rows, []any{[]byte(u), pgstore.EncodeID(seq), []byte("filler")})
		}
		_, err := s.Pool().CopyFrom(ctx, pgx.Identifier{s.Schema(), "events"}, []string{"owner", "seq", "data"}, pgx.CopyFromRows(rows))
		require.NoError(b, err)
		_, err = s.Pool().Exec(ctx, "UPDATE "+pgx.Identifier{s.Schema(), "inboxes"}.Sanitize()+" SET ev_last = $2 WHERE owner = $1",
			[]byte(u), pgstore.EncodeID(last+uint64(keep)-1))
		require.NoError(b, err)
		_ = first
	}
	_, err := s.Pool().Exec(ctx, "ANALYZE "+pgx.Identifier{s.Schema(), "events"}.Sanitize())
	require.NoError(b, err)
}

// BenchmarkBaselineReadFirst measures what reading before writing costs by
// itself, without the store: the baseline's send, and the same send after
// a first round trip that reads both users' inbox rows and both sides of
// their conversation (READ COMMITTED, no locks, no retries, no event, no
// bookkeeping). A send through the store must read before it writes (the
// domain computes the new records from the old ones), and its ID must be
// taken after its snapshot: two round trips at least.
func BenchmarkBaselineReadFirst(b *testing.B) {
	url := benchURL(b)
	for _, read := range []bool{false, true} {
		b.Run(fmt.Sprintf("read=%v/senders=16", read), func(b *testing.B) {
			schema := pgtest.Schema(b)
			s, err := pgstore.Open(context.Background(), url, &pgstore.Options{Schema: schema})
			require.NoError(b, err)
			defer s.Close()
			bl := newBaseline(s.Pool(), schema)
			for i := range benchUsers {
				require.NoError(b, bl.send(context.Background(), benchUser(i), benchUser((i+1)%benchUsers), "hello"))
			}
			q := pgx.Identifier{schema}.Sanitize() + "."
			readSQL := "SELECT owner, unread FROM " + q + "inboxes WHERE owner = $1 UNION ALL SELECT owner, unread FROM " + q +
				"inboxes WHERE owner = $2 UNION ALL SELECT owner, messages FROM " + q + "conversations WHERE owner = $1 AND other = $2 " +
				"UNION ALL SELECT owner, messages FROM " + q + "conversations WHERE owner = $2 AND other = $1"
			runSenders(b, s.Pool(), 16, func(ctx context.Context, from, to string) error {
				if !read {
					return bl.send(ctx, from, to, "a message of some forty bytes, say hi!")
				}
				conn, err := s.Pool().Acquire(ctx)
				if err != nil {
					return err
				}
				defer conn.Release()
				first := &pgx.Batch{}
				first.Queue("BEGIN")
				first.Queue(readSQL, []byte(from), []byte(to))
				if err := conn.SendBatch(ctx, first).Close(); err != nil {
					return err
				}
				now := time.Now().UTC()
				sec, nsec := now.Unix(), int32(now.Nanosecond())
				f, t, body := []byte(from), []byte(to), []byte("a message of some forty bytes, say hi!")
				second := &pgx.Batch{}
				second.Queue(bl.sql[1], f, t, sec, nsec, body)
				second.Queue(bl.sql[2], f, t, sec, nsec, body)
				if from < to {
					second.Queue(bl.sql[3], f, t, sec, nsec, f, t, body)
					second.Queue(bl.sql[4], t, f, sec, nsec, f, t, body)
				} else {
					second.Queue(bl.sql[4], t, f, sec, nsec, f, t, body)
					second.Queue(bl.sql[3], f, t, sec, nsec, f, t, body)
				}
				second.Queue(bl.sql[5], t)
				second.Queue("COMMIT")
				return conn.SendBatch(ctx, second).Close()
			})
		})
	}
}
