package messaging_test

// Benchmarks of the bbolt store at scale, with the memory store alongside
// for comparison; see BENCHMARKS.md for the commands and the figures. Every
// setup happens inside a benchmark function, so `go test` without -bench
// (and `go test -race`) pays nothing for them.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/socialkit/messaging"
)

// ---- durable sends: ours against raw bbolt ----

// sendPairs is how many user pairs each sender goroutine cycles through, so
// that concurrent senders never share a conversation and no conversation
// is hot.
const sendPairs = 4

// maxSenders is the most sender goroutines a benchmark runs.
const maxSenders = 64

// pairNames holds the user ids of every sender's pairs, made once so that
// the timed loop formats nothing.
var pairNames = func() (n [maxSenders][sendPairs][2]string) {
	for g := range n {
		for k := range n[g] {
			n[g][k] = [2]string{fmt.Sprintf("s%02dk%da", g, k), fmt.Sprintf("s%02dk%db", g, k)}
		}
	}
	return n
}()

// sendPair returns the users of sender g's k-th pair, swapped on odd turns
// so that both sides receive (and so write their inbox record).
func sendPair(g, j int) (from, to string) {
	p := &pairNames[g][j%sendPairs]
	if (j/sendPairs)%2 == 1 {
		return p[1], p[0]
	}
	return p[0], p[1]
}

// sendText is the text of every benchmark send.
const sendText = "hello there"

// BenchmarkDurableSend measures SendMessage on a BoltStore with fsync
// (default BoltOptions) with 1, 8 and 64 goroutines sending at once, each
// over its own sendPairs pairs of users whose conversations already exist,
// against a raw-bbolt baseline: one db.Update with fsync per send, writing
// what one of our sends writes (see rawSend). b.N sends are split among the
// senders. Metrics: sends/s over the whole run, and the median and 99th
// percentile of the per-send latencies.
func BenchmarkDurableSend(b *testing.B) {
	for _, impl := range []string{"ours", "rawbolt"} {
		for _, senders := range []int{1, 8, maxSenders} {
			b.Run(fmt.Sprintf("impl=%s/senders=%d", impl, senders), func(b *testing.B) {
				benchSends(b, impl, senders, false)
			})
		}
	}
}

// BenchmarkNoSyncSend is BenchmarkDurableSend's one-sender case without
// fsync, on both sides: the CPU cost of a send, ours against raw bbolt.
func BenchmarkNoSyncSend(b *testing.B) {
	for _, impl := range []string{"ours", "rawbolt"} {
		b.Run(fmt.Sprintf("impl=%s/senders=1", impl), func(b *testing.B) {
			benchSends(b, impl, 1, true)
		})
	}
}

func benchSends(b *testing.B, impl string, senders int, noSync bool) {
	path := filepath.Join(b.TempDir(), "bench.db")
	var send func(g, j int) error
	if impl == "ours" {
		x := openWarmStore(b, path, senders, noSync)
		defer x.Close()
		send = func(g, j int) error {
			from, to := sendPair(g, j)
			_, err := x.SendMessage(ctx, from, to, sendText)
			return err
		}
	} else {
		db := openWarmRaw(b, path, senders, noSync)
		defer db.Close()
		send = func(g, j int) error {
			from, to := sendPair(g, j)
			return db.Update(func(tx *bbolt.Tx) error { return rawSend(tx, from, to, time.Now()) })
		}
	}
	runSenders(b, senders, send)
}

// openWarmStore opens a durable BoltStore at path in which every pair the
// senders use already has its conversations, so that the timed sends are
// steady-state sends. The warm-up runs without fsync, then the file is
// reopened with the default (durable) options, or with NoSync if noSync.
func openWarmStore(b *testing.B, path string, senders int, noSync bool) *messaging.Inboxes {
	st, err := messaging.OpenBoltStore(path, &messaging.BoltOptions{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	x := messaging.New(st)
	for g := range senders {
		for j := range 2 * sendPairs {
			from, to := sendPair(g, j)
			if _, err := x.SendMessage(ctx, from, to, sendText); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := x.Close(); err != nil {
		b.Fatal(err)
	}
	var opts *messaging.BoltOptions // nil: the defaults, durable
	if noSync {
		opts = &messaging.BoltOptions{NoSync: true}
	}
	if st, err = messaging.OpenBoltStore(path, opts); err != nil {
		b.Fatal(err)
	}
	return messaging.New(st)
}

// openWarmRaw is openWarmStore for the raw baseline: bbolt's default
// options, so fsync is on unless noSync.
func openWarmRaw(b *testing.B, path string, senders int, noSync bool) *bbolt.DB {
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	db.NoSync = true
	err = db.Update(func(tx *bbolt.Tx) error {
		for g := range senders {
			for j := range 2 * sendPairs {
				from, to := sendPair(g, j)
				if err := rawSend(tx, from, to, time.Now()); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	db.NoSync = noSync
	return db
}

// rawSend writes, with bare bbolt calls, into a layout of nested buckets
// like BoltStore's (bolt_layout.go), the 12 key writes one steady-state
// SendMessage writes, values of the same sizes:
//
//	1     the message ID sequence (NextSequence of a meta bucket)
//	2-6   sender's side: conversation record, LastUpdate-index delete + put,
//	      message, ID-index entry
//	7-12  recipient's side: inbox record, conversation record,
//	      LastUpdate-index delete + put, message, ID-index entry
//
// Like BoltStore it reads each conversation record (for the old index key)
// and the recipient's inbox record (for the unread count) before writing
// them. What it skips is everything of ours around bbolt: validation, the
// record decoding and encoding, the group-commit queue.
func rawSend(tx *bbolt.Tx, from, to string, created time.Time) error {
	meta, err := tx.CreateBucketIfNotExists([]byte("meta"))
	if err != nil {
		return err
	}
	users, err := tx.CreateBucketIfNotExists([]byte("users"))
	if err != nil {
		return err
	}
	id, err := meta.NextSequence()
	if err != nil {
		return err
	}
	// The sizes of BoltStore's records for these ids and this text.
	msg := make([]byte, 1+8+12+1+len(from)+1+len(to)+1+len(sendText))
	rec := make([]byte, 1+8+8+12+4*8+len(msg)-1)
	mk := make([]byte, 12+8)
	binary.BigEndian.PutUint64(mk, uint64(created.UnixNano()))
	binary.BigEndian.PutUint64(mk[12:], id)
	copy(rec, mk[:12]) // the record starts with its LastUpdate: the index key
	for _, side := range [2]struct {
		owner, other string
		received     bool
	}{{from, to, false}, {to, from, true}} {
		ob, err := rawBucket(users, side.owner, "c", "x")
		if err != nil {
			return err
		}
		if side.received {
			in := binary.BigEndian.AppendUint64([]byte{1}, 0)
			if old := ob.Get([]byte("i")); len(old) == len(in) {
				binary.BigEndian.PutUint64(in[1:], binary.BigEndian.Uint64(old[1:])+1)
			}
			if err := ob.Put([]byte("i"), in); err != nil {
				return err
			}
		}
		cb, err := rawBucket(ob.Bucket([]byte("c")), side.other, "m", "d")
		if err != nil {
			return err
		}
		index := ob.Bucket([]byte("x"))
		if old := cb.Get([]byte("r")); len(old) >= 12 {
			if err := index.Delete(append(slices.Clone(old[:12]), side.other...)); err != nil {
				return err
			}
		}
		if err := index.Put(append(slices.Clone(rec[:12]), side.other...), nil); err != nil {
			return err
		}
		if err := cb.Put([]byte("r"), rec); err != nil {
			return err
		}
		if err := cb.Bucket([]byte("m")).Put(mk, msg); err != nil {
			return err
		}
		if err := cb.Bucket([]byte("d")).Put(mk[12:], mk); err != nil {
			return err
		}
	}
	return nil
}

// rawBucket returns the bucket name in parent, creating it with the nested
// buckets subs if it is missing.
func rawBucket(parent *bbolt.Bucket, name string, subs ...string) (*bbolt.Bucket, error) {
	if bk := parent.Bucket([]byte(name)); bk != nil {
		return bk, nil
	}
	bk, err := parent.CreateBucket([]byte(name))
	if err != nil {
		return nil, err
	}
	for _, s := range subs {
		if _, err := bk.CreateBucket([]byte(s)); err != nil {
			return nil, err
		}
	}
	return bk, nil
}

// runSenders splits b.N calls of send among senders goroutines (sender g
// makes calls j = 0, 1, ...), times the whole and each call, and reports
// sends/s and the latency percentiles.
func runSenders(b *testing.B, senders int, send func(g, j int) error) {
	lat := make([][]time.Duration, senders)
	for g := range lat {
		lat[g] = make([]time.Duration, 0, b.N/senders+1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := range senders {
		n := b.N / senders
		if g < b.N%senders {
			n++
		}
		wg.Go(func() {
			for j := range n {
				start := time.Now()
				if err := send(g, j); err != nil {
					b.Error(err)
					return
				}
				lat[g] = append(lat[g], time.Since(start))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
	reportLatencies(b, slices.Concat(lat...), "")
}

// reportLatencies reports the median and the 99th percentile of lat, and,
// if op is not empty, their mean as µs/<op> in place of ns/op.
func reportLatencies(b *testing.B, lat []time.Duration, op string) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	µs := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	b.ReportMetric(µs(lat[len(lat)/2]), "p50-µs")
	b.ReportMetric(µs(lat[len(lat)*99/100]), "p99-µs")
	if op != "" {
		var sum time.Duration
		for _, d := range lat {
			sum += d
		}
		b.ReportMetric(µs(sum)/float64(len(lat)), "µs/"+op)
		b.ReportMetric(0, "ns/op")
	}
}

// ---- O(page) reads ----

// Big stores are built through the Store seam, many records per Update,
// with records like the ones SendMessage writes; each is built once per
// test process and shared by every run (-count) of the benchmarks that read
// it. A bolt file is built without fsync (reads never fsync) and unlinked
// as soon as it is open: the open handle keeps it alive while the process
// runs, and nothing is left behind in the temp dir.
var (
	builtMu sync.Mutex
	built   = map[string]messaging.Store{}
)

// buildChunk is how many records one setup Update writes.
const buildChunk = 10_000

func builtStore(b *testing.B, kind, what string, size int, build func(messaging.Store, int) error) messaging.Store {
	builtMu.Lock()
	defer builtMu.Unlock()
	key := fmt.Sprintf("%s/%s/%d", kind, what, size)
	if st := built[key]; st != nil {
		return st
	}
	start := time.Now()
	var st messaging.Store
	switch kind {
	case "memory":
		st = messaging.NewMemoryStore()
	case "bolt":
		dir, err := os.MkdirTemp("", "messaging-bench-")
		if err != nil {
			b.Fatal(err)
		}
		s, err := messaging.OpenBoltStore(filepath.Join(dir, "big.db"), &messaging.BoltOptions{NoSync: true})
		if rmErr := os.RemoveAll(dir); err == nil && rmErr != nil {
			err = rmErr
		}
		if err != nil {
			b.Fatal(err)
		}
		st = s
	default:
		b.Fatalf("unknown store %q", kind)
	}
	if err := build(st, size); err != nil {
		b.Fatal(err)
	}
	b.Logf("setup: built the %s store %s in %v", kind, key, time.Since(start).Round(time.Millisecond))
	built[key] = st
	return st
}

// prebuild builds (or finds) the stores a benchmark reads, every kind and
// size, before any of its sub-benchmarks runs: a large memory store is a
// large live heap, which makes every garbage collection dearer, so the
// small and the large cases must both run with it in place or their ratio
// would measure the heap, not the read.
func prebuild(b *testing.B, what string, sizes []int, build func(messaging.Store, int) error) {
	for _, kind := range readStores {
		for _, n := range sizes {
			builtStore(b, kind, what, n, build)
		}
	}
}

// buildInbox fills dave's inbox with n conversations, one message each from
// u000000, u000001, ..., every one new, with LastUpdate going back one
// second per conversation: both copies of each message, both conversation
// records, both inbox records, as SendMessage writes them.
func buildInbox(st messaging.Store, n int) error {
	for lo := 0; lo < n; lo += buildChunk {
		hi := min(lo+buildChunk, n)
		err := st.Update(ctx, func(tx messaging.Tx) error {
			if err := tx.PutInbox(messaging.InboxRecord{Owner: "dave", Unread: hi}); err != nil {
				return err
			}
			for i := lo; i < hi; i++ {
				id, err := tx.NextID()
				if err != nil {
					return err
				}
				u := fmt.Sprintf("u%06d", i)
				m := messaging.MessageRecord{ID: id, Sender: u, Recipient: "dave", Text: "hello dave",
					Created: t0.Add(-time.Duration(i) * time.Second)}
				if err := tx.PutInbox(messaging.InboxRecord{Owner: u}); err != nil {
					return err
				}
				for _, c := range []messaging.ConversationRecord{
					{Owner: u, Other: "dave"},
					{Owner: "dave", Other: u, Unread: 1},
				} {
					c.Messages, c.LastUpdate, c.FirstID, c.MaxID, c.Last = 1, m.Created, id, id, m
					if err := tx.PutConversation(c); err != nil {
						return err
					}
					if err := tx.PutMessage(c.Owner, c.Other, m); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// buildConversation puts n messages from bob to dave, one second apart, all
// new for dave: both copies of each, both conversation records, both inbox
// records, as SendMessage writes them.
func buildConversation(st messaging.Store, n int) error {
	dave := messaging.ConversationRecord{Owner: "dave", Other: "bob"}
	bob := messaging.ConversationRecord{Owner: "bob", Other: "dave"}
	for lo := 0; lo < n; lo += buildChunk {
		hi := min(lo+buildChunk, n)
		err := st.Update(ctx, func(tx messaging.Tx) error {
			if err := tx.PutInbox(messaging.InboxRecord{Owner: "bob"}); err != nil {
				return err
			}
			if err := tx.PutInbox(messaging.InboxRecord{Owner: "dave", Unread: hi}); err != nil {
				return err
			}
			var msgs []messaging.MessageRecord
			for i := lo; i < hi; i++ {
				id, err := tx.NextID()
				if err != nil {
					return err
				}
				msgs = append(msgs, messaging.MessageRecord{ID: id, Sender: "bob", Recipient: "dave",
					Text: fmt.Sprintf("message %d", i), Created: t0.Add(time.Duration(i) * time.Second)})
			}
			last := msgs[len(msgs)-1]
			for _, c := range []*messaging.ConversationRecord{&dave, &bob} {
				if c.FirstID == 0 {
					c.FirstID = msgs[0].ID
				}
				c.Messages, c.MaxID, c.LastUpdate, c.Last = hi, last.ID, last.Created, last
				if c == &dave {
					c.Unread = hi
				}
				if err := tx.PutConversation(*c); err != nil {
					return err
				}
				for _, m := range msgs {
					if err := tx.PutMessage(c.Owner, c.Other, m); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

var readStores = []string{"memory", "bolt"}

// BenchmarkInboxFirst20 lists the first 20 conversations of dave's inbox
// through the public iterator (Inbox.Conversations), with 100 and 100 000
// conversations in the inbox.
func BenchmarkInboxFirst20(b *testing.B) {
	sizes := []int{100, 100_000}
	prebuild(b, "inbox", sizes, buildInbox)
	for _, kind := range readStores {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("store=%s/convs=%d", kind, n), func(b *testing.B) {
				st := builtStore(b, kind, "inbox", n, buildInbox)
				x := messaging.New(st) // not closed: the store is shared
				in, err := x.Get(ctx, "dave")
				if err != nil {
					b.Fatal(err)
				}
				if in.NewMessagesCount != n {
					b.Fatalf("dave has %d new messages, want %d", in.NewMessagesCount, n)
				}
				b.ReportAllocs()
				for b.Loop() {
					if got := breakAfter(in.Conversations(ctx), 20); got != 20 {
						b.Fatalf("got %d conversations", got)
					}
				}
			})
		}
	}
}

// BenchmarkStoreConversations20 is the same read through the Store seam:
// one View, tx.Conversations(owner, nil, 20).
func BenchmarkStoreConversations20(b *testing.B) {
	sizes := []int{100, 100_000}
	prebuild(b, "inbox", sizes, buildInbox)
	for _, kind := range readStores {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("store=%s/convs=%d", kind, n), func(b *testing.B) {
				st := builtStore(b, kind, "inbox", n, buildInbox)
				b.ReportAllocs()
				for b.Loop() {
					err := st.View(ctx, func(tx messaging.ReadTx) error {
						recs, err := tx.Conversations("dave", nil, 20)
						if err == nil && len(recs) != 20 {
							err = fmt.Errorf("got %d conversations", len(recs))
						}
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkStoreNewest50 reads the newest 50 messages of dave's
// conversation with bob, of 100 and of 1 000 000 messages, through the
// Store seam (there is no public "newest N" yet): one View,
// tx.Messages(owner, other, nil, true, 50).
func BenchmarkStoreNewest50(b *testing.B) {
	sizes := []int{100, 1_000_000}
	prebuild(b, "conversation", sizes, buildConversation)
	for _, kind := range readStores {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("store=%s/msgs=%d", kind, n), func(b *testing.B) {
				st := builtStore(b, kind, "conversation", n, buildConversation)
				want := fmt.Sprintf("message %d", n-1)
				b.ReportAllocs()
				for b.Loop() {
					err := st.View(ctx, func(tx messaging.ReadTx) error {
						msgs, err := tx.Messages("dave", "bob", nil, true, 50)
						switch {
						case err != nil:
						case len(msgs) != 50:
							err = fmt.Errorf("got %d messages", len(msgs))
						case msgs[0].Text != want:
							err = fmt.Errorf("newest is %q, want %q", msgs[0].Text, want)
						}
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkNewest50 is BenchmarkStoreNewest50 through the public API:
// Conversation.Older(ctx, 0, 50), the opening screen of a conversation.
func BenchmarkNewest50(b *testing.B) {
	sizes := []int{100, 1_000_000}
	prebuild(b, "conversation", sizes, buildConversation)
	for _, kind := range readStores {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("store=%s/msgs=%d", kind, n), func(b *testing.B) {
				x := messaging.New(builtStore(b, kind, "conversation", n, buildConversation)) // shared: not closed
				in, err := x.Get(ctx, "dave")
				if err != nil {
					b.Fatal(err)
				}
				c, err := in.Get(ctx, "bob")
				if err != nil {
					b.Fatal(err)
				}
				want := fmt.Sprintf("message %d", n-1)
				b.ReportAllocs()
				for b.Loop() {
					page, err := c.Older(ctx, 0, 50)
					if err != nil {
						b.Fatal(err)
					}
					if len(page) != 50 || page[0].Text != want || !page[0].New {
						b.Fatalf("got %d messages from %+v, want 50 from a new %q", len(page), page[0], want)
					}
				}
			})
		}
	}
}

// ---- MarkRead ----

// BenchmarkMarkRead marks read dave's conversation with bob holding 10 or
// 10 000 new messages (both sides written). Before each MarkRead, an Update
// puts back the three records MarkRead changes (dave's inbox record, dave's
// conversation record with its read mark, and bob's mirrored PeerReadMark)
// as they were before the first MarkRead, so every MarkRead finds all n
// messages new. Only the MarkRead calls are timed, each on its own clock
// (b.StopTimer around the reset would cost more than a memory MarkRead):
// the metrics are µs/markread (mean) and p50-µs; ns/op is suppressed, as
// it would include the reset, and B/op and allocs/op do include it.
// store=bolt is durable (default BoltOptions: the reset and the MarkRead
// each fsync); bolt-nosync and memory show the cost without the fsync.
func BenchmarkMarkRead(b *testing.B) {
	for _, kind := range []string{"bolt", "bolt-nosync", "memory"} {
		for _, n := range []int{10, 10_000} {
			b.Run(fmt.Sprintf("store=%s/unread=%d", kind, n), func(b *testing.B) {
				var st messaging.Store
				if kind == "memory" {
					st = messaging.NewMemoryStore()
					if err := buildConversation(st, n); err != nil {
						b.Fatal(err)
					}
				} else {
					path := filepath.Join(b.TempDir(), "bench.db")
					s, err := messaging.OpenBoltStore(path, &messaging.BoltOptions{NoSync: true})
					if err != nil {
						b.Fatal(err)
					}
					if err := buildConversation(s, n); err != nil {
						b.Fatal(err)
					}
					if err := s.Close(); err != nil {
						b.Fatal(err)
					}
					if st, err = messaging.OpenBoltStore(path, &messaging.BoltOptions{NoSync: kind == "bolt-nosync"}); err != nil {
						b.Fatal(err)
					}
				}
				x := messaging.New(st)
				defer x.Close()
				var (
					in0             messaging.InboxRecord
					dave0, bob0     messaging.ConversationRecord
					errNotAllUnread = errors.New("setup: not all messages unread")
				)
				err := st.View(ctx, func(tx messaging.ReadTx) (err error) {
					if in0, err = tx.Inbox("dave"); err != nil {
						return err
					}
					if dave0, err = tx.Conversation("dave", "bob"); err != nil {
						return err
					}
					if bob0, err = tx.Conversation("bob", "dave"); err != nil {
						return err
					}
					if in0.Unread != n || dave0.Unread != n || dave0.ReadMark != 0 {
						return errNotAllUnread
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				inbox, err := x.Get(ctx, "dave")
				if err != nil {
					b.Fatal(err)
				}
				conv, err := inbox.Get(ctx, "bob")
				if err != nil {
					b.Fatal(err)
				}
				reset := func(tx messaging.Tx) error {
					if err := tx.PutInbox(in0); err != nil {
						return err
					}
					if err := tx.PutConversation(dave0); err != nil {
						return err
					}
					return tx.PutConversation(bob0)
				}
				lat := make([]time.Duration, 0, 1024)
				b.ReportAllocs()
				for b.Loop() {
					if err := st.Update(ctx, reset); err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					if err := conv.MarkRead(ctx); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
				}
				reportLatencies(b, lat, "markread")
				in, err := x.Get(ctx, "dave")
				if err != nil {
					b.Fatal(err)
				}
				if in.NewMessagesCount != 0 {
					b.Fatalf("after MarkRead dave has %d new messages", in.NewMessagesCount)
				}
			})
		}
	}
}

// ---- sends into a large inbox ----

// BenchmarkSendToLargeInbox sends to dave, whose inbox holds 100 or
// 100 000 conversations, each time from the sender whose conversation is the
// oldest, so each send moves a conversation from the bottom of dave's
// LastUpdate order to the top. The bolt store is without fsync, to show the
// CPU cost. The stores are built once per process (their own copies, not
// the read benchmarks'), so each -count run goes on sending into the store
// the previous one left.
func BenchmarkSendToLargeInbox(b *testing.B) {
	sizes := []int{100, 100_000}
	prebuild(b, "inbox-for-sends", sizes, buildInbox)
	for _, kind := range readStores {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("store=%s/convs=%d", kind, n), func(b *testing.B) {
				x := messaging.New(builtStore(b, kind, "inbox-for-sends", n, buildInbox)) // shared: not closed
				senders := make([]string, n)
				for i := range senders {
					senders[i] = fmt.Sprintf("u%06d", n-1-i) // oldest first
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := x.SendMessage(ctx, senders[i%n], "dave", sendText); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}
