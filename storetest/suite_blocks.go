package storetest

// Tests of blocks and idempotency records: the small records kept apart
// from the inboxes, which they outlive.

import (
	"crypto/sha256"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func blocked(t *testing.T, s messaging.Store, user, other string) bool {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) (bool, error) { return tx.Blocked(user, other) })
}

func blocks(t *testing.T, s messaging.Store, after messaging.Block, limit int) []messaging.Block {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) ([]messaging.Block, error) { return tx.Blocks(after, limit) })
}

func putBlock(b messaging.Block) op {
	return func(tx messaging.Tx) error { return tx.PutBlock(b) }
}

func delBlock(b messaging.Block) op {
	return func(tx messaging.Tx) error { return tx.DeleteBlock(b) }
}

func testBlocksRoundTrip(t *testing.T, s messaging.Store) {
	assert.False(t, blocked(t, s, "bob", "dave"), "empty store")
	assert.Empty(t, blocks(t, s, messaging.Block{}, noLimit))
	update(t, s, putBlock(messaging.Block{User: "bob", Other: "dave"}))
	assert.True(t, blocked(t, s, "bob", "dave"))
	assert.False(t, blocked(t, s, "dave", "bob"), "a block has a direction")
	update(t, s, putBlock(messaging.Block{User: "bob", Other: "dave"}))
	assert.Equal(t, []messaging.Block{{User: "bob", Other: "dave"}}, blocks(t, s, messaging.Block{}, noLimit), "blocking again adds nothing")

	update(t, s, delBlock(messaging.Block{User: "bob", Other: "dave"}))
	assert.False(t, blocked(t, s, "bob", "dave"))
	assert.ErrorIs(t, updateErr(t, s, delBlock(messaging.Block{User: "bob", Other: "dave"})), messaging.ErrNotFound)
	assert.ErrorIs(t, updateErr(t, s, delBlock(messaging.Block{User: "x", Other: "y"})), messaging.ErrNotFound)
}

// Blocks need no inbox and outlive one.
func testBlocksApartFromInboxes(t *testing.T, s messaging.Store) {
	baseline(t, s)
	update(t, s, putBlock(messaging.Block{User: "bob", Other: "dave"}), putBlock(messaging.Block{User: "nobody", Other: "bob"}))
	assert.Equal(t, []string{"bo", "bob", "dave"}, users(t, s, "", noLimit), "a block creates no inbox")
	update(t, s, delInbox("bob"), delInbox("dave"))
	assert.True(t, blocked(t, s, "bob", "dave"), "DeleteInbox keeps blocks")
	assert.True(t, blocked(t, s, "nobody", "bob"))
}

// Blocks list in (User, Other) byte order, from after, with every tricky
// id kept apart.
func testBlocksOrderAndPaging(t *testing.T, s messaging.Store) {
	var want []messaging.Block
	var ops []op
	for i, u := range trickyIDs {
		for _, o := range trickyIDs[max(0, i-3):min(len(trickyIDs), i+3)] {
			if u != o {
				want = append(want, messaging.Block{User: u, Other: o})
				ops = append(ops, putBlock(messaging.Block{User: u, Other: o}))
			}
		}
	}
	update(t, s, ops...)
	slices.SortFunc(want, func(a, b messaging.Block) int {
		if c := strings.Compare(a.User, b.User); c != 0 {
			return c
		}
		return strings.Compare(a.Other, b.Other)
	})
	assert.Equal(t, want, blocks(t, s, messaging.Block{}, noLimit))
	for _, b := range want {
		assert.True(t, blocked(t, s, b.User, b.Other), "%q blocks %q", b.User, b.Other)
	}
	assert.False(t, blocked(t, s, "ab", "c"), "not a block: concatenations")

	var got []messaging.Block
	for after := (messaging.Block{}); ; {
		page := blocks(t, s, after, 3)
		got = append(got, page...)
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1]
	}
	assert.Equal(t, want, got, "paged by 3")

	// One user's blocks start at Block{User: user}.
	u := trickyIDs[5]
	var mine []messaging.Block
	for _, b := range blocks(t, s, messaging.Block{User: u}, noLimit) {
		if b.User != u {
			break
		}
		mine = append(mine, b)
	}
	for _, b := range want {
		if b.User == u {
			assert.Contains(t, mine, b)
		}
	}
	assert.Empty(t, blocks(t, s, messaging.Block{}, 0))
}

func testBlocksRollBack(t *testing.T, s messaging.Store) {
	update(t, s, putBlock(messaging.Block{User: "bob", Other: "dave"}))
	failUpdate(t, s, putBlock(messaging.Block{User: "bob", Other: "carol"}), delBlock(messaging.Block{User: "bob", Other: "dave"}))
	assert.Equal(t, []messaging.Block{{User: "bob", Other: "dave"}}, blocks(t, s, messaging.Block{}, noLimit))
}

func idemRec(sender, key string, id uint64, expires time.Time) messaging.IdempotencyRecord {
	return messaging.IdempotencyRecord{Sender: sender, Key: key, MessageID: id, Created: at(int(id)),
		Digest: sha256.Sum256([]byte(sender + "\x00" + key)), Expires: expires}
}

func putIdem(rec messaging.IdempotencyRecord) op {
	return func(tx messaging.Tx) error { return tx.PutIdempotency(rec) }
}

func getIdem(t *testing.T, s messaging.Store, sender, key string) (messaging.IdempotencyRecord, error) {
	t.Helper()
	var rec messaging.IdempotencyRecord
	err := lookupErr(t, s, func(tx messaging.ReadTx) (err error) {
		rec, err = tx.Idempotency(sender, key)
		return err
	})
	rec.Created, rec.Expires = canon(rec.Created), canon(rec.Expires)
	return rec, err
}

func idems(t *testing.T, s messaging.Store, after messaging.IdempotencyRecord, limit int) []messaging.IdempotencyRecord {
	t.Helper()
	out := read(t, s, func(tx messaging.ReadTx) ([]messaging.IdempotencyRecord, error) {
		return tx.Idempotencies(after, limit)
	})
	for i := range out {
		out[i].Created, out[i].Expires = canon(out[i].Created), canon(out[i].Expires)
	}
	return out
}

func deleteIdems(t *testing.T, s messaging.Store, before time.Time, limit int) int {
	t.Helper()
	var n int
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) (err error) {
		n, err = tx.DeleteIdempotencies(before, limit)
		return err
	}))
	return n
}

func testIdempotencyRoundTrip(t *testing.T, s messaging.Store) {
	_, err := getIdem(t, s, "bob", "k1")
	assert.ErrorIs(t, err, messaging.ErrNotFound)
	keys := []string{"k1", "k", "k1\x00x", "\x00", strings.Repeat("z", 128), "ключ", "a/b"}
	var want []messaging.IdempotencyRecord
	for i, k := range keys {
		for _, sender := range []string{"bob", "bo", "b", trickyIDs[len(trickyIDs)-1]} {
			rec := idemRec(sender, k, uint64(i+1)<<60|uint64(len(sender)), extremeTimes[(i+len(sender))%len(extremeTimes)])
			update(t, s, putIdem(rec))
			rec.Created, rec.Expires = canon(rec.Created), canon(rec.Expires)
			want = append(want, rec)
		}
	}
	for _, rec := range want {
		got, err := getIdem(t, s, rec.Sender, rec.Key)
		require.NoError(t, err)
		assert.Equal(t, rec, got, "%q/%q", rec.Sender, rec.Key)
	}
	slices.SortFunc(want, func(a, b messaging.IdempotencyRecord) int {
		if c := strings.Compare(a.Sender, b.Sender); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	assert.Equal(t, want, idems(t, s, messaging.IdempotencyRecord{}, noLimit), "(Sender, Key) byte order")
	var got []messaging.IdempotencyRecord
	for after := (messaging.IdempotencyRecord{}); ; {
		page := idems(t, s, after, 4)
		got = append(got, page...)
		if len(page) < 4 {
			break
		}
		after = page[len(page)-1]
	}
	assert.Equal(t, want, got, "paged by 4")

	// Replacing moves the record's place in the Expires order.
	rec := idemRec("bob", "k1", 99, base.Add(time.Hour))
	update(t, s, putIdem(rec))
	got1, err := getIdem(t, s, "bob", "k1")
	require.NoError(t, err)
	assert.Equal(t, uint64(99), got1.MessageID)
	failUpdate(t, s, putIdem(idemRec("bob", "k1", 100, base)), putIdem(idemRec("new", "k", 1, base)))
	got1, err = getIdem(t, s, "bob", "k1")
	require.NoError(t, err)
	assert.Equal(t, uint64(99), got1.MessageID, "rolled back")
	_, err = getIdem(t, s, "new", "k")
	assert.ErrorIs(t, err, messaging.ErrNotFound)
}

// DeleteIdempotencies removes expired records, oldest first, at most limit.
func testIdempotencyExpiry(t *testing.T, s messaging.Store) {
	for i := range 10 {
		update(t, s, putIdem(idemRec("u", string(rune('a'+i)), uint64(i+1), at(i))))
	}
	update(t, s, putIdem(idemRec("u", "a", 1, at(100)))) // moved later
	assert.Equal(t, 0, deleteIdems(t, s, at(1), 5), "nothing expired before at(1) once a moved")
	assert.Equal(t, 3, deleteIdems(t, s, at(4), 5), "b, c, d")
	assert.Equal(t, 2, deleteIdems(t, s, at(100), 2), "at most limit")
	var left []string
	for _, r := range idems(t, s, messaging.IdempotencyRecord{}, noLimit) {
		left = append(left, r.Key)
	}
	assert.Equal(t, []string{"a", "g", "h", "i", "j"}, left, "the oldest went first")
	assert.Equal(t, 0, deleteIdems(t, s, at(100), 0))
	assert.Equal(t, 4, deleteIdems(t, s, at(100), 100))
	assert.Equal(t, 1, deleteIdems(t, s, at(101), 100))
	assert.Empty(t, idems(t, s, messaging.IdempotencyRecord{}, noLimit))
}
