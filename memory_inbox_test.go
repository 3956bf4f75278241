package messaging

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMemoryInboxMatchesAMap runs random Updates that create, change and
// delete conversations of one inbox, and now and then the inbox itself, a
// third of them failing at the end, and compares the inbox with a map after
// each: slots freed by a deletion must not be reused before the Update that
// freed them has ended, or its rollback would bring back a conversation
// over another, and every slot still taken must hold a conversation.
func TestMemoryInboxMatchesAMap(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	require.NoError(t, s.Update(ctx, func(tx Tx) error { return tx.PutInbox(InboxRecord{Owner: "o"}) }))
	r := rand.New(rand.NewPCG(5, 8))
	ref := map[string]ConversationRecord{}
	errFail := errors.New("fail")
	for step := range 3000 {
		next := maps.Clone(ref)
		fail := r.IntN(3) == 0
		err := s.Update(ctx, func(tx Tx) error {
			for range 1 + r.IntN(6) {
				if r.IntN(40) == 0 { // the whole inbox, and a new one
					require.NoError(t, tx.DeleteInbox("o"))
					require.NoError(t, tx.PutInbox(InboxRecord{Owner: "o"}))
					clear(next)
					continue
				}
				other := fmt.Sprint("u", r.IntN(150))
				if _, ok := next[other]; ok && r.IntN(3) == 0 {
					require.NoError(t, tx.DeleteConversation("o", other))
					delete(next, other)
					continue
				}
				rec := ConversationRecord{Owner: "o", Other: other, Messages: step,
					LastUpdate: time.Unix(int64(r.IntN(50)), 0).UTC()}
				require.NoError(t, tx.PutConversation(rec))
				require.NoError(t, tx.PutMessage("o", other, MessageRecord{ID: uint64(step + 1), Sender: "o", Recipient: other, Text: "t"}))
				rec.Last = MessageRecord{} // not compared
				next[other] = rec
			}
			if fail {
				return errFail
			}
			return nil
		})
		if fail {
			require.ErrorIs(t, err, errFail)
		} else {
			require.NoError(t, err)
			ref = next
		}
		want := slices.Collect(maps.Values(ref))
		slices.SortFunc(want, func(a, b ConversationRecord) int { return a.Key().Compare(b.Key()) })
		var got []ConversationRecord
		require.NoError(t, s.View(ctx, func(tx ReadTx) (err error) {
			got, err = tx.Conversations("o", nil, len(ref)+1)
			return err
		}))
		require.Len(t, got, len(want), "step %d", step)
		for i := range got {
			got[i].Last = MessageRecord{}
		}
		assert.Equal(t, nilIfEmpty(want), got, "step %d", step)
		taken := 0
		for _, n := range s.slab.live {
			taken += int(n)
		}
		require.Equal(t, len(ref), taken, "step %d: every slot taken holds a conversation", step)
	}
}
