package messaging_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/internal/model"
	"github.com/socialkit/messaging/storetest"
)

// modelStore builds a store the way users would: the model-based random
// test's operations (sends with metadata and keys, reads, deletes,
// retracts, blocks) on a memory store, checked against the model as they
// run.
func modelStore(t *testing.T, seed uint64, n int) (messaging.Store, *model.Clock) {
	t.Helper()
	clock := model.NewClock(model.Start)
	store := messaging.NewMemoryStore()
	x, err := messaging.NewWithOptions(store, &messaging.Options{Now: clock.Now})
	require.NoError(t, err)
	require.NoError(t, model.Run(ctx, x, clock, model.Generate(seed, n), nil))
	return store, clock
}

// sameStores checks that every observable of b equals a's: what users see,
// every stream event by event, blocks, idempotency keys, record counts; and
// that b is sound and hands out IDs above a's.
func sameStores(t *testing.T, a, b messaging.Store, clock *model.Clock) {
	t.Helper()
	xa, err := messaging.NewWithOptions(a, &messaging.Options{Now: clock.Now})
	require.NoError(t, err)
	xb, err := messaging.NewWithOptions(b, &messaging.Options{Now: clock.Now})
	require.NoError(t, err)
	sa, err := model.Observe(ctx, xa)
	require.NoError(t, err)
	sb, err := model.Observe(ctx, xb)
	require.NoError(t, err)
	require.Empty(t, model.Diff(sa, sb), "what users see")
	assert.NotEmpty(t, sa.Users, "the store has something to copy")

	ca, err := messaging.Count(ctx, a)
	require.NoError(t, err)
	cb, err := messaging.Count(ctx, b)
	require.NoError(t, err)
	assert.Equal(t, ca, cb, "records by kind")
	assert.Positive(t, ca.Tombstones)
	assert.Positive(t, ca.Events)

	var keysA, keysB []messaging.IdempotencyRecord
	readAll(t, a, func(tx messaging.ReadTx) (err error) {
		keysA, err = tx.Idempotencies(messaging.IdempotencyRecord{}, 1000)
		return err
	})
	readAll(t, b, func(tx messaging.ReadTx) (err error) {
		keysB, err = tx.Idempotencies(messaging.IdempotencyRecord{}, 1000)
		return err
	})
	require.Equal(t, len(keysA), len(keysB))
	for i := range keysA {
		assert.Equal(t, keysA[i].MessageID, keysB[i].MessageID)
		assert.True(t, keysA[i].Created.Equal(keysB[i].Created))
		assert.True(t, keysA[i].Expires.Equal(keysB[i].Expires))
		assert.Equal(t, keysA[i].Digest, keysB[i].Digest)
	}

	// Every stream, event by event; and a subscriber resumes on b where
	// it left a.
	for _, u := range model.Users {
		evA, evB := allEvents(t, xa, u), allEvents(t, xb, u)
		assert.Equal(t, evA, evB, "%s's stream", u)
		if len(evA) > 1 {
			mid := evA[len(evA)/2].Seq
			s, err := xb.SubscribeFrom(u, mid)
			require.NoError(t, err)
			assert.Equal(t, evA[len(evA)/2+1], next(t, s), "resume on the copy")
			s.Close()
		}
	}

	// Paging cursors of a carry over.
	for _, u := range sa.Users {
		pa, err := inbox(t, xa, u).ConversationPage(ctx, "", 1)
		require.NoError(t, err)
		if pa.Next == "" {
			continue
		}
		na, err := inbox(t, xa, u).ConversationPage(ctx, pa.Next, 2)
		require.NoError(t, err)
		nb, err := inbox(t, xb, u).ConversationPage(ctx, pa.Next, 2)
		require.NoError(t, err, "a cursor of the source works on the copy")
		assert.Equal(t, len(na.Conversations), len(nb.Conversations))
		for i := range na.Conversations {
			assert.Equal(t, na.Conversations[i].Username, nb.Conversations[i].Username)
		}
	}

	problems, err := xb.Verify(ctx)
	require.NoError(t, err)
	assert.Empty(t, problems, "the copy is sound")
	var maxA, next uint64
	readAll(t, a, func(tx messaging.ReadTx) error {
		for _, u := range sa.Users {
			for _, c := range sa.Inboxes[u].Conversations {
				rec, err := tx.Conversation(u, c.Other)
				if err != nil {
					return err
				}
				maxA = max(maxA, rec.MaxID)
			}
		}
		return nil
	})
	require.NoError(t, b.Update(ctx, func(tx messaging.Tx) (err error) {
		next, err = tx.NextID()
		return err
	}))
	assert.Greater(t, next, maxA, "the copy's IDs go on past the source's")
}

func readAll(t *testing.T, s messaging.Store, fn func(messaging.ReadTx) error) {
	t.Helper()
	require.NoError(t, s.View(ctx, fn))
}

// allEvents reads user's whole stream.
func allEvents(t *testing.T, x *messaging.Inboxes, user string) []messaging.Event {
	t.Helper()
	s, err := x.SubscribeFrom(user, 0)
	require.NoError(t, err)
	defer s.Close()
	var out []messaging.Event
	done, cancel := context.WithCancel(ctx)
	cancel()
	for {
		ev, err := s.Next(done)
		if errors.Is(err, context.Canceled) {
			return out
		}
		require.NoError(t, err)
		out = append(out, ev)
	}
}

// TestCopyAcrossStores copies a store the random test built from memory
// into bbolt, then into each store of the run (with -tags pgdomain,
// PostgreSQL), then back into memory, comparing every observable after
// each hop.
func TestCopyAcrossStores(t *testing.T) {
	hops := []storeCase{{name: "bolt", open: openBolt}}
	hops = append(hops, plainStores()...)
	hops = append(hops,
		storeCase{name: "memory with a Loader", open: func(testing.TB) messaging.Store { return newLoadingStore(0) }},
		storeCase{name: "memory", open: func(testing.TB) messaging.Store { return messaging.NewMemoryStore() }})
	for _, seed := range []uint64{1, 2, 3} {
		src, clock := modelStore(t, seed, 600)
		prev, route := src, "memory"
		for i, hop := range hops {
			dst := hop.open(t)
			var last messaging.CopyProgress
			calls := 0
			require.NoError(t, messaging.Copy(ctx, dst, prev, &messaging.CopyOptions{BatchSize: 50, Now: clock.Now,
				Progress: func(p messaging.CopyProgress) {
					assert.GreaterOrEqual(t, p.Records(), last.Records(), "progress never goes back")
					last = p
					calls++
				}}))
			route += " → " + hop.name
			assert.True(t, last.Done, route)
			assert.Greater(t, calls, 2, "%s: progress reported along the way", route)
			total, err := messaging.Count(ctx, prev)
			require.NoError(t, err)
			assert.Equal(t, total, last.Counts, route)
			if i == 0 {
				assert.Equal(t, total.Records(), last.Total, "the memory store's estimate is exact")
			}
			sameStores(t, prev, dst, clock)
			prev = dst
		}
		sameStores(t, src, prev, clock)
		t.Logf("seed %d: %s", seed, route)
	}
}

func TestCopyRefusesANonEmptyDestination(t *testing.T) {
	for _, fill := range []func(x *messaging.Inboxes) error{
		func(x *messaging.Inboxes) error { _, err := x.SendMessage(ctx, "a", "b", "hi"); return err },
		func(x *messaging.Inboxes) error { return x.Block(ctx, "a", "b") },
	} {
		src, _ := modelStore(t, 7, 100)
		dst := openBolt(t)
		x := messaging.New(dst)
		require.NoError(t, fill(x))
		before := snapshot(t, x)
		err := messaging.Copy(ctx, dst, src, nil)
		assert.ErrorIs(t, err, messaging.ErrNotEmpty)
		assert.Equal(t, before, snapshot(t, x), "left untouched")
	}
}

// A copy cut short says what to do about the partial destination.
func TestCopyInterrupted(t *testing.T) {
	src, _ := modelStore(t, 5, 400)
	dst := openBolt(t)
	cctx, cancel := context.WithCancel(ctx)
	err := messaging.Copy(cctx, dst, src, &messaging.CopyOptions{BatchSize: 20, Progress: func(p messaging.CopyProgress) {
		if p.Records() >= 40 {
			cancel()
		}
	}})
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "the destination holds a partial copy; drop it and copy again")
	got, err := messaging.Count(ctx, dst)
	require.NoError(t, err)
	assert.Equal(t, int64(40), got.Records(), "what committed before the cut stays: two transactions")
}

// loadingStore is a memory store with a Loader that writes each batch in
// one Update through Batch.Put, or fails the failAt-th: Copy's Loader path
// and storetest's Loader tests, without PostgreSQL.
type loadingStore struct {
	*messaging.MemoryStore
	loads, failAt int
}

var errLoad = errors.New("loadingStore: deliberate failure")

func newLoadingStore(failAt int) *loadingStore {
	return &loadingStore{MemoryStore: messaging.NewMemoryStore(), failAt: failAt}
}

func (s *loadingStore) Load(ctx context.Context, b *messaging.Batch) error {
	s.loads++
	if s.loads == s.failAt {
		return errLoad
	}
	return s.Update(ctx, func(tx messaging.Tx) error { return b.Put(tx) })
}

func TestLoadingStoreConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) messaging.Store { return newLoadingStore(0) })
}

// A Load that fails ends the copy with its error; what the batches before
// it wrote stays.
func TestCopyLoadFails(t *testing.T) {
	src, _ := modelStore(t, 6, 300)
	dst := newLoadingStore(3)
	err := messaging.Copy(ctx, dst, src, &messaging.CopyOptions{BatchSize: 25})
	require.ErrorIs(t, err, errLoad)
	assert.ErrorContains(t, err, "the destination holds a partial copy; drop it and copy again")
	got, err := messaging.Count(ctx, dst)
	require.NoError(t, err)
	assert.Equal(t, int64(50), got.Records(), "two batches")
	assert.Equal(t, 3, dst.loads, "no Load after the one that failed")
}

// IDs live on in the event streams a copy carries (a message deleted from
// both sides is still in both users' histories): the destination hands out
// none of them again, and the same next ID as the source (found in
// review).
func TestCopyKeepsIDsNamedInEventStreams(t *testing.T) {
	src := messaging.NewMemoryStore()
	x := messaging.New(src)
	m, err := x.SendMessage(ctx, "bob", "dave", "secret")
	require.NoError(t, err)
	require.NoError(t, handleInbox(x, "bob").Delete(ctx, "dave"))
	require.NoError(t, handleInbox(x, "dave").Delete(ctx, "bob"))
	dst := messaging.NewMemoryStore()
	require.NoError(t, messaging.Copy(ctx, dst, src, nil))
	fromCopy, err := messaging.New(dst).SendMessage(ctx, "carol", "erin", "hello")
	require.NoError(t, err)
	fromSource, err := x.SendMessage(ctx, "carol", "erin", "hello")
	require.NoError(t, err)
	assert.Greater(t, fromCopy.ID, m.ID)
	assert.Equal(t, fromSource.ID, fromCopy.ID)
}
