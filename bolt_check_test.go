package messaging

// Tests of bolt_check.go: BoltStore.Check on sound and damaged files.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"
)

// soundBolt commits, through the Store interface, a small store whose
// structure is sound: inboxes bob, carol and dave; messages 1 bob→dave,
// 2 dave→bob, 3 bob→dave (deleted from bob's copy), 4 bob→carol and
// 5 carol→dave, each at t0 plus its ID in seconds, both copies.
func soundBolt(t *testing.T) *BoltStore {
	t.Helper()
	s, _ := openTestBolt(t)
	require.NoError(t, s.Update(context.Background(), func(tx Tx) error {
		for _, u := range []string{"bob", "carol", "dave"} {
			if err := tx.PutInbox(InboxRecord{Owner: u}); err != nil {
				return err
			}
		}
		for _, p := range [][2]string{{"bob", "dave"}, {"dave", "bob"}, {"bob", "dave"}, {"bob", "carol"}, {"carol", "dave"}} {
			id, err := tx.NextID()
			if err != nil {
				return err
			}
			m := MessageRecord{ID: id, Sender: p[0], Recipient: p[1], Text: fmt.Sprint("m", id), Created: sec(int(id))}
			for _, side := range [][2]string{p, {p[1], p[0]}} {
				c, err := tx.Conversation(side[0], side[1])
				if errors.Is(err, ErrNotFound) {
					c, err = ConversationRecord{Owner: side[0], Other: side[1], FirstID: id}, nil
				}
				if err != nil {
					return err
				}
				c.Messages++
				c.LastUpdate, c.MaxID, c.Last = m.Created, id, m
				if err := tx.PutConversation(c); err != nil {
					return err
				}
				if err := tx.PutMessage(side[0], side[1], m); err != nil {
					return err
				}
			}
		}
		return tx.DeleteMessage("bob", "dave", 3)
	}))
	return s
}

func sec(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

func check(t *testing.T, s *BoltStore) []Problem {
	t.Helper()
	var got []Problem
	require.NoError(t, s.Check(context.Background(), func(p Problem) { got = append(got, p) }))
	return got
}

// corruptBolt writes to s's file behind its back.
func corruptBolt(t *testing.T, s *BoltStore, fn func(users *bbolt.Bucket) error) {
	t.Helper()
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error { return fn(tx.Bucket(bucketUsers)) }))
}

// convBucket returns owner's conversation bucket with other.
func convBucket(users *bbolt.Bucket, owner, other string) *bbolt.Bucket {
	return users.Bucket([]byte(owner)).Bucket(keyConvs).Bucket([]byte(other))
}

func idKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

func TestBoltCheckSound(t *testing.T) {
	s := soundBolt(t)
	assert.Empty(t, check(t, s))
	var deleted bool
	require.NoError(t, s.View(context.Background(), func(tx ReadTx) error {
		var err error
		deleted, err = tx.Deleted("bob", "dave", 3)
		return err
	}))
	assert.True(t, deleted)

	// Moves, replaces and deletes keep it sound; an empty store is sound.
	ctx := context.Background()
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		c, err := tx.Conversation("bob", "carol")
		if err != nil {
			return err
		}
		c.LastUpdate = sec(-100)
		if err := tx.PutConversation(c); err != nil {
			return err
		}
		if err := tx.PutMessage("bob", "carol", MessageRecord{ID: 4, Text: "moved", Created: sec(50)}); err != nil {
			return err
		}
		if err := tx.DeleteMessage("dave", "bob", 1); err != nil {
			return err
		}
		return tx.DeleteConversation("carol", "dave")
	}))
	assert.Empty(t, check(t, s))
	empty, _ := openTestBolt(t)
	assert.Empty(t, check(t, empty))
}

func TestBoltCheckFindsCorruption(t *testing.T) {
	s := soundBolt(t)
	corruptBolt(t, s, func(users *bbolt.Bucket) error {
		bob := users.Bucket([]byte("bob"))
		bobIndex := bob.Bucket(keyIndex)
		return errors.Join(
			// bob/dave: its index entry deleted, a tombstone for a present ID.
			bobIndex.Delete(encodeConversationKey(ConversationKey{LastUpdate: sec(3), Other: "dave"})),
			convBucket(users, "bob", "dave").Bucket(keyTombs).Put(idKey(1), emptyValue),
			// bob: an index entry for a conversation it does not have, a
			// stale second one for carol.
			bobIndex.Put(encodeConversationKey(ConversationKey{LastUpdate: t0, Other: "zed"}), emptyValue),
			bobIndex.Put(encodeConversationKey(ConversationKey{LastUpdate: sec(1), Other: "carol"}), emptyValue),
			// bob/carol: message 4's record is garbage.
			convBucket(users, "bob", "carol").Bucket(keyMessages).Put(encodeMessageKey(MessageKey{sec(4), 4}), []byte{1, 2, 3}),
			// carol/bob: the conversation record is garbage.
			convBucket(users, "carol", "bob").Put(keyRecord, []byte{1, 2, 3}),
			// carol/dave: the "m" bucket is gone (so is message 5).
			convBucket(users, "carol", "dave").DeleteBucket(keyMessages),
			// dave: a garbage inbox record.
			users.Bucket([]byte("dave")).Put(keyInbox, []byte{1}),
			// dave/bob: message 1 under a wrong key (its "d" entry follows
			// it), and a "d" entry for a message it does not have.
			func() error {
				cb := convBucket(users, "dave", "bob")
				m, d := cb.Bucket(keyMessages), cb.Bucket(keyIDs)
				oldKey, newKey := encodeMessageKey(MessageKey{sec(1), 1}), encodeMessageKey(MessageKey{sec(60), 1})
				rec := bytes.Clone(m.Get(oldKey))
				return errors.Join(m.Delete(oldKey), m.Put(newKey, rec), d.Put(idKey(1), newKey),
					d.Put(idKey(4), encodeMessageKey(MessageKey{sec(4), 4})))
			}(),
			// dave/carol: message 5 without its "d" entry.
			convBucket(users, "dave", "carol").Bucket(keyIDs).Delete(idKey(5)),
			// erin: an owner bucket without an inbox record; frank: a key
			// where an owner bucket belongs.
			func() error {
				ob, err := users.CreateBucket([]byte("erin"))
				if err != nil {
					return err
				}
				_, err1 := ob.CreateBucket(keyConvs)
				_, err2 := ob.CreateBucket(keyIndex)
				return errors.Join(err1, err2, users.Put([]byte("frank"), []byte("x")))
			}(),
		)
	})
	want := []Problem{
		{Owner: "bob", Other: "carol", Detail: fmt.Sprintf("stale index entry at %s: the record's LastUpdate is %s", fmtTime(sec(1)), fmtTime(sec(4)))},
		{Owner: "bob", Other: "zed", Detail: fmt.Sprintf("index entry at %s without its conversation", fmtTime(t0))},
		{Owner: "bob", Other: "carol", MessageID: 4, Detail: "message record does not decode: record truncated"},
		{Owner: "bob", Other: "dave", Detail: fmt.Sprintf("no index entry at its LastUpdate %s", fmtTime(sec(3)))},
		{Owner: "bob", Other: "dave", MessageID: 1, Detail: "deleted (it has a tombstone) but present"},
		{Owner: "carol", Other: "bob", Detail: "conversation record does not decode: record truncated"},
		{Owner: "carol", Other: "dave", Detail: `the messages bucket "m" is missing`},
		{Owner: "dave", Detail: "inbox record does not decode: record truncated"},
		{Owner: "dave", Other: "bob", MessageID: 1, Detail: fmt.Sprintf("stored under the key of (%s, 1), its record says (%s, 1)", fmtTime(sec(60)), fmtTime(sec(1)))},
		{Owner: "dave", Other: "bob", MessageID: 4, Detail: fmt.Sprintf("ID index entry names a missing message (%s, 4)", fmtTime(sec(4)))},
		{Owner: "dave", Other: "carol", MessageID: 5, Detail: "not in the ID index"},
		{Owner: "erin", Detail: "no inbox record"},
		{Owner: "frank", Detail: `a key, not an inbox bucket, in the "messaging.users" bucket`},
	}
	got := check(t, s)
	assert.ElementsMatch(t, want, got)
	for _, p := range got {
		t.Log(p)
	}
}

func TestBoltCheckMoreCorruption(t *testing.T) {
	s := soundBolt(t)
	corruptBolt(t, s, func(users *bbolt.Bucket) error {
		bob := users.Bucket([]byte("bob"))
		bobDave := convBucket(users, "bob", "dave")
		return errors.Join(
			// The meta sequence falls behind the IDs.
			users.Tx().Bucket(bucketMeta).SetSequence(4),
			// bob/dave: an undecodable message key, a "d" entry naming the
			// key of another ID (so message 2 is not indexed), a short
			// tombstone key, a stray key.
			bobDave.Bucket(keyMessages).Put([]byte("short"), appendMessage(nil, MessageRecord{ID: 2, Created: sec(2)})),
			bobDave.Bucket(keyIDs).Put(idKey(2), encodeMessageKey(MessageKey{sec(1), 1})),
			bobDave.Bucket(keyTombs).Put([]byte{7}, emptyValue),
			bobDave.Put([]byte("?"), []byte("junk")),
			// bob/carol: no record, no "d" bucket.
			convBucket(users, "bob", "carol").Delete(keyRecord),
			convBucket(users, "bob", "carol").DeleteBucket(keyIDs),
			// carol: no index bucket; dave: an undecodable index key; bob:
			// a stray key.
			users.Bucket([]byte("carol")).DeleteBucket(keyIndex),
			users.Bucket([]byte("dave")).Bucket(keyIndex).Put([]byte("short"), emptyValue),
			bob.Put([]byte("zz"), nil),
		)
	})
	want := []Problem{
		{Owner: "bob", Other: "carol", Detail: "no conversation record"},
		{Owner: "bob", Other: "carol", Detail: `the ID index bucket "d" is missing`},
		{Owner: "bob", Other: "dave", Detail: `unexpected key "?" in the conversation bucket`},
		{Owner: "bob", Other: "dave", MessageID: 2, Detail: "message key 73686f7274 does not decode: message key of 5 bytes"},
		{Owner: "bob", Other: "dave", MessageID: 2, Detail: "ID index entry names the key of message 1"},
		{Owner: "bob", Other: "dave", MessageID: 2, Detail: "not in the ID index, which names another key for its ID"},
		{Owner: "bob", Other: "dave", Detail: "tombstone key 07 does not decode: not 8 bytes"},
		{Owner: "bob", Detail: `unexpected key "zz" in the inbox bucket`},
		{Owner: "carol", Detail: `the conversation index bucket "x" is missing`},
		{Owner: "dave", Detail: "conversation index key 73686f7274 does not decode: conversation key of 5 bytes"},
		{Owner: "carol", Other: "dave", MessageID: 5, Detail: "message ID above the meta sequence 4: NextID would hand it out again"},
	}
	got := check(t, s)
	assert.ElementsMatch(t, want, got)
	for _, p := range got {
		t.Log(p)
	}
}

// TestBoltCheckTombstoneOfPutBackID: PutMessage leaves a tombstone as it is,
// so an ID put back after its delete is both present and Deleted, which
// Check reports.
func TestBoltCheckTombstoneOfPutBackID(t *testing.T) {
	s := soundBolt(t)
	ctx := context.Background()
	m := MessageRecord{ID: 3, Sender: "bob", Recipient: "dave", Text: "m3", Created: sec(3)}
	require.NoError(t, s.Update(ctx, func(tx Tx) error { return tx.PutMessage("bob", "dave", m) }))
	require.NoError(t, s.View(ctx, func(tx ReadTx) error {
		deleted, err := tx.Deleted("bob", "dave", 3)
		assert.True(t, deleted)
		return err
	}))
	assert.Equal(t, []Problem{{Owner: "bob", Other: "dave", MessageID: 3, Detail: "deleted (it has a tombstone) but present"}}, check(t, s))
}

func TestBoltCheckContext(t *testing.T) {
	s, _ := openTestBolt(t)
	ctx := context.Background()
	// "a" without an inbox record comes first; then more than a tick of keys.
	require.NoError(t, s.Update(ctx, func(tx Tx) error {
		if err := tx.PutInbox(InboxRecord{Owner: "bob"}); err != nil {
			return err
		}
		if err := tx.PutConversation(ConversationRecord{Owner: "bob", Other: "dave"}); err != nil {
			return err
		}
		for i := range boltCheckTick + 10 {
			id, err := tx.NextID()
			if err != nil {
				return err
			}
			if err := tx.PutMessage("bob", "dave", MessageRecord{ID: id, Created: sec(i)}); err != nil {
				return err
			}
		}
		return nil
	}))
	corruptBolt(t, s, func(users *bbolt.Bucket) error {
		_, err := users.CreateBucket([]byte("a"))
		return err
	})

	cctx, cancel := context.WithCancel(ctx)
	var got []Problem
	err := s.Check(cctx, func(p Problem) { got = append(got, p); cancel() })
	assert.ErrorIs(t, err, context.Canceled, "cancelled during the walk")
	assert.NotEmpty(t, got)

	called := false
	err = s.Check(cctx, func(Problem) { called = true })
	assert.ErrorIs(t, err, context.Canceled, "cancelled before")
	assert.False(t, called)

	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Check(ctx, func(Problem) {}), ErrClosed)
}

// TestBoltEstimateRecords: the sampled estimate is exact while every
// bucket is sampled, and near the count when there are more inboxes than
// samples, of different sizes.
func TestBoltEstimateRecords(t *testing.T) {
	ctx := context.Background()
	for _, users := range []int{3, 30, 300} {
		t.Run(fmt.Sprint(users, " users"), func(t *testing.T) {
			s, _ := openTestBolt(t)
			in := New(s)
			rng := rand.New(rand.NewPCG(1, uint64(users)))
			for i := range 20 * users {
				// Skewed: low-numbered users send and receive more.
				from := fmt.Sprint("u", rng.IntN(1+rng.IntN(users)))
				to := fmt.Sprint("u", rng.IntN(users))
				if from == to {
					continue
				}
				m, err := in.SendMessage(ctx, from, to, fmt.Sprint("m", i))
				require.NoError(t, err)
				if i%7 == 0 {
					c, err := in.Conversation(ctx, from, to)
					require.NoError(t, err)
					require.NoError(t, c.DeleteMessage(ctx, m.ID))
				}
			}
			counts, err := Count(ctx, s)
			require.NoError(t, err)
			require.Positive(t, counts.Tombstones)
			est, err := s.EstimateRecords(ctx)
			require.NoError(t, err)
			want := counts.Records()
			if users <= 32 {
				assert.InDelta(t, want, est, float64(counts.Tombstones), "every inbox sampled: off by tombstones at most")
			} else {
				assert.InEpsilon(t, want, est, 0.25, "estimate %d, count %d", est, want)
			}
			t.Logf("%d users: estimate %d, count %d", users, est, want)
		})
	}
}
