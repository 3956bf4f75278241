package storetest

// The capabilities Copy uses when a store has them: Scanner (the messages
// and tombstones of an inbox across its conversations) and Loader (a batch
// of records written in bulk). Each is checked against what the store
// itself gives without it.

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// copyOwner's conversations, in the order Scanner lists them (Other, bytes):
// ids that are prefixes of each other and that sort apart from their
// lengths.
var copyOthers = []string{"a", "a b", "a/b", "ab", "b", "Zoë", "日本", strings.Repeat("x", 255)}

const copyOwner = "ann"

// copyBatch is a batch with every kind of record: copyOwner's inbox and
// conversations, their messages (some with equal Created, metadata, a
// DeletedUnread flag) and tombstones of both kinds, blocks, idempotency
// records, and streams of a user with an inbox and one without.
func copyBatch() *messaging.Batch {
	b := &messaging.Batch{Inboxes: []messaging.InboxRecord{inbox(copyOwner, 3), inbox("bob", 0)}}
	id := uint64(1)
	for i, other := range sortedIDs(copyOthers) {
		b.Conversations = append(b.Conversations, conv(copyOwner, other, extremeTimes[i%len(extremeTimes)]))
		for j := range i + 1 {
			m := msg(id, at(j/2)) // pairs of equal Created
			m.Sender, m.Recipient = other, copyOwner
			if j%3 == 1 {
				m.Meta = map[string]string{"k": other, "": "empty key"}
			}
			m.DeletedUnread = j%4 == 3
			b.Messages = append(b.Messages, messaging.MessageEntry{Owner: copyOwner, Other: other, MessageRecord: m})
			id++
		}
		for j := range i % 3 {
			b.Tombstones = append(b.Tombstones, messaging.TombstoneEntry{Owner: copyOwner, Other: other,
				Tombstone: messaging.Tombstone{ID: 1000 + uint64(10*i+j), Retracted: j == 1}})
		}
	}
	b.Conversations = append(b.Conversations, conv("bob", copyOwner, at(5)))
	b.Messages = append(b.Messages, messaging.MessageEntry{Owner: "bob", Other: copyOwner, MessageRecord: msg(id, at(5))})
	b.Blocks = []messaging.Block{{User: copyOwner, Other: "a"}, {User: "gone", Other: copyOwner}}
	b.IdempotencyKeys = []messaging.IdempotencyRecord{idemRec(copyOwner, "k1", 3, at(100)), idemRec("gone", "k\x00", 4, at(200))}
	for seq := uint64(7); seq < 12; seq++ {
		b.Events = append(b.Events, event(copyOwner, seq), event("gone", seq*seq))
	}
	return b
}

func sortedIDs(ids []string) []string {
	s := slices.Clone(ids)
	slices.Sort(s)
	return s
}

func testScannerMessages(t *testing.T, s messaging.Store) {
	if !hasScanner(t, s) {
		t.Skip("the store's ReadTx is not a messaging.Scanner")
	}
	b := copyBatch()
	update(t, s, func(tx messaging.Tx) error { return b.Put(tx) })

	// What per-conversation reads give, in Scanner's order.
	var want []messaging.MessageEntry
	for _, other := range sortedIDs(copyOthers) {
		for _, m := range messages(t, s, copyOwner, other) {
			want = append(want, messaging.MessageEntry{Owner: copyOwner, Other: other, MessageRecord: normMsg(m)})
		}
	}
	require.NotEmpty(t, want)
	for _, limit := range []int{1, 2, 5, len(want), noLimit} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			var got []messaging.MessageEntry
			var after *messaging.MessageEntry
			for range len(want) + 1 {
				page := scanMessages(t, s, copyOwner, after, limit)
				assert.LessOrEqual(t, len(page), limit)
				got = append(got, page...)
				if len(page) < limit {
					break
				}
				after = &page[len(page)-1]
			}
			assert.Equal(t, want, got)
		})
	}

	// A position that is not stored: in a conversation that does not
	// exist, between two stored keys, past the last.
	mid := want[3]
	mid.Other = mid.Other + "\x7f"
	assert.Equal(t, entriesAfter(want, mid), scanMessages(t, s, copyOwner, &mid, noLimit), "after a missing conversation")
	// want[6] and want[7] have equal Created, want[8] a later one: a
	// position a nanosecond after want[6] is after want[7] too, as Created
	// comes before ID.
	between := want[6]
	between.Created = between.Created.Add(1)
	require.Equal(t, want[6].Created, want[7].Created)
	require.True(t, want[7].Created.Before(want[8].Created))
	assert.Equal(t, want[8:], scanMessages(t, s, copyOwner, &between, noLimit), "after a missing key")
	last := want[len(want)-1]
	assert.Empty(t, scanMessages(t, s, copyOwner, &last, noLimit), "after the last")

	assert.Empty(t, scanMessages(t, s, "nobody", nil, noLimit), "unknown owner")
	assert.Empty(t, scanMessages(t, s, copyOwner, nil, 0), "limit 0")
	assert.Equal(t, []messaging.MessageEntry{normEntry(b.Messages[len(b.Messages)-1])},
		scanMessages(t, s, "bob", nil, noLimit), "another inbox")
}

func testScannerTombstones(t *testing.T, s messaging.Store) {
	if !hasScanner(t, s) {
		t.Skip("the store's ReadTx is not a messaging.Scanner")
	}
	b := copyBatch()
	update(t, s, func(tx messaging.Tx) error { return b.Put(tx) })

	var want []messaging.TombstoneEntry
	for _, other := range sortedIDs(copyOthers) {
		for _, tomb := range tombstones(t, s, copyOwner, other, 0, noLimit) {
			want = append(want, messaging.TombstoneEntry{Owner: copyOwner, Other: other, Tombstone: tomb})
		}
	}
	require.Greater(t, len(want), 3)
	assert.ElementsMatch(t, b.Tombstones, want, "the tombstones put")
	for _, limit := range []int{1, 2, len(want), noLimit} {
		var got []messaging.TombstoneEntry
		var after *messaging.TombstoneEntry
		for range len(want) + 1 {
			page := scanTombstones(t, s, copyOwner, after, limit)
			assert.LessOrEqual(t, len(page), limit)
			got = append(got, page...)
			if len(page) < limit {
				break
			}
			after = &page[len(page)-1]
		}
		assert.Equal(t, want, got, "limit %d", limit)
	}
	// "a b" holds 1020 and 1021; 1015 is not stored.
	missing := messaging.TombstoneEntry{Other: "a b", Tombstone: messaging.Tombstone{ID: 1015}}
	var rest []messaging.TombstoneEntry
	for _, tomb := range want {
		if tomb.Other > missing.Other || tomb.Other == missing.Other && tomb.ID > missing.ID {
			rest = append(rest, tomb)
		}
	}
	require.Equal(t, "a b", rest[0].Other)
	require.EqualValues(t, 1020, rest[0].ID)
	assert.Equal(t, rest, scanTombstones(t, s, copyOwner, &missing, noLimit), "after a missing ID")
	top := messaging.TombstoneEntry{Other: "a b", Tombstone: messaging.Tombstone{ID: math.MaxUint64}}
	assert.Equal(t, rest[2:], scanTombstones(t, s, copyOwner, &top, noLimit), "after the largest ID of a conversation")
	assert.Empty(t, scanTombstones(t, s, copyOwner, &want[len(want)-1], noLimit), "after the last")
	assert.Empty(t, scanTombstones(t, s, copyOwner, nil, 0), "limit 0")
	assert.Empty(t, scanTombstones(t, s, "nobody", nil, noLimit), "unknown owner")
	assert.Empty(t, scanTombstones(t, s, "bob", nil, noLimit), "an inbox without tombstones")
}

// testLoaderLikePut loads copyBatch in two batches, the second holding
// messages of conversations of the first, and compares every record with a
// memory store that got the same batches through Batch.Put.
func testLoaderLikePut(t *testing.T, s messaging.Store) {
	l, ok := s.(messaging.Loader)
	if !ok {
		t.Skip("the store is not a messaging.Loader")
	}
	ref := messaging.NewMemoryStore()
	t.Cleanup(func() { _ = ref.Close() })
	b := copyBatch()
	first := &messaging.Batch{Inboxes: b.Inboxes, Conversations: b.Conversations, Messages: b.Messages[:4]}
	second := *b
	second.Inboxes, second.Conversations, second.Messages = nil, nil, b.Messages[4:]
	for _, batch := range []*messaging.Batch{first, &second} {
		require.NoError(t, l.Load(context.Background(), batch))
		update(t, ref, func(tx messaging.Tx) error { return batch.Put(tx) })
	}
	assert.Equal(t, readAll(t, ref), readAll(t, s))
}

// testLoaderCancelled: a Load with a cancelled context fails and writes
// nothing.
func testLoaderCancelled(t *testing.T, s messaging.Store) {
	l, ok := s.(messaging.Loader)
	if !ok {
		t.Skip("the store is not a messaging.Loader")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, l.Load(ctx, copyBatch()))
	assert.Equal(t, copyState{}, readAll(t, s))
}

func hasScanner(t *testing.T, s messaging.Store) (ok bool) {
	t.Helper()
	require.NoError(t, s.View(context.Background(), func(tx messaging.ReadTx) error {
		_, ok = tx.(messaging.Scanner)
		return nil
	}))
	return ok
}

func messages(t *testing.T, s messaging.Store, owner, other string) []messaging.MessageRecord {
	t.Helper()
	var ms []messaging.MessageRecord
	require.NoError(t, s.View(context.Background(), func(tx messaging.ReadTx) (err error) {
		ms, err = tx.Messages(owner, other, nil, false, noLimit)
		return err
	}))
	return ms
}

func scanMessages(t *testing.T, s messaging.Store, owner string, after *messaging.MessageEntry, limit int) []messaging.MessageEntry {
	t.Helper()
	var out []messaging.MessageEntry
	require.NoError(t, s.View(context.Background(), func(tx messaging.ReadTx) error {
		page, err := tx.(messaging.Scanner).ScanMessages(owner, after, limit)
		for _, m := range page {
			out = append(out, normEntry(m))
		}
		return err
	}))
	return out
}

func scanTombstones(t *testing.T, s messaging.Store, owner string, after *messaging.TombstoneEntry, limit int) []messaging.TombstoneEntry {
	t.Helper()
	var out []messaging.TombstoneEntry
	require.NoError(t, s.View(context.Background(), func(tx messaging.ReadTx) (err error) {
		out, err = tx.(messaging.Scanner).ScanTombstones(owner, after, limit)
		return err
	}))
	return nilIfEmpty(out)
}

func normEntry(m messaging.MessageEntry) messaging.MessageEntry {
	m.MessageRecord = normMsg(m.MessageRecord)
	return m
}

// entriesAfter returns the entries of want strictly after the position of
// after in Scanner's order.
func entriesAfter(want []messaging.MessageEntry, after messaging.MessageEntry) []messaging.MessageEntry {
	var out []messaging.MessageEntry
	for _, m := range want {
		if c := strings.Compare(m.Other, after.Other); c > 0 || c == 0 && m.Key().Compare(after.Key()) > 0 {
			out = append(out, m)
		}
	}
	return out
}

// copyState is every record of a store, read through the ReadTx listing
// methods.
type copyState struct {
	Inboxes       []messaging.InboxRecord
	Conversations []messaging.ConversationRecord
	Messages      map[string][]messaging.MessageRecord // by owner ‖ 0 ‖ other
	ByID          map[string][]uint64
	Tombstones    map[string][]messaging.Tombstone
	Blocks        []messaging.Block
	Idempotency   []messaging.IdempotencyRecord
	Streams       map[string][]messaging.EventRecord
	Bounds        map[string][2]uint64
}

// Records prints every record of s, read through the ReadTx listing
// methods in one View: inboxes, conversations, messages (by key and by
// ID), tombstones, blocks, idempotency records, and each stream's events
// and bounds. Two stores with equal Records hold the same records; a test
// compares a store's Records before and after a write that must leave it
// alone.
func Records(t *testing.T, s messaging.Store) string {
	t.Helper()
	return fmt.Sprintf("%+v", readAll(t, s))
}

func readAll(t *testing.T, s messaging.Store) copyState {
	t.Helper()
	var st copyState
	require.NoError(t, s.View(context.Background(), func(tx messaging.ReadTx) error {
		users, err := tx.Users("", noLimit)
		if err != nil {
			return err
		}
		for _, u := range users {
			box, err := tx.Inbox(u)
			if err != nil {
				return err
			}
			st.Inboxes = append(st.Inboxes, box)
			convs, err := tx.Conversations(u, nil, noLimit)
			if err != nil {
				return err
			}
			for _, c := range convs {
				st.Conversations = append(st.Conversations, normConv(c))
				k := c.Owner + "\x00" + c.Other
				ms, err := tx.Messages(c.Owner, c.Other, nil, false, noLimit)
				if err != nil {
					return err
				}
				byID, err := tx.MessagesByID(c.Owner, c.Other, 0, noLimit)
				if err != nil {
					return err
				}
				tombs, err := tx.Tombstones(c.Owner, c.Other, 0, noLimit)
				if err != nil {
					return err
				}
				setIn(&st.Messages, k, normMsgs(ms))
				setIn(&st.ByID, k, ids(byID))
				setIn(&st.Tombstones, k, nilIfEmpty(tombs))
			}
		}
		if st.Blocks, err = tx.Blocks(messaging.Block{}, noLimit); err != nil {
			return err
		}
		idem, err := tx.Idempotencies(messaging.IdempotencyRecord{}, noLimit)
		if err != nil {
			return err
		}
		for _, rec := range idem {
			rec.Created, rec.Expires = canon(rec.Created), canon(rec.Expires)
			st.Idempotency = append(st.Idempotency, rec)
		}
		streams, err := tx.Streams("", noLimit)
		if err != nil {
			return err
		}
		for _, u := range streams {
			evs, err := tx.Events(u, 0, noLimit)
			if err != nil {
				return err
			}
			first, last, err := tx.StreamBounds(u)
			if err != nil {
				return err
			}
			setIn(&st.Streams, u, evs)
			setIn(&st.Bounds, u, [2]uint64{first, last})
		}
		st.Blocks = nilIfEmpty(st.Blocks)
		return nil
	}))
	return st
}

func setIn[V any](m *map[string]V, k string, v V) {
	if *m == nil {
		*m = make(map[string]V)
	}
	(*m)[k] = v
}
