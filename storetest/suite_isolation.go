package storetest

// Tests that returned records and slices are the caller's, and that
// arguments may be reused.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// scribble overwrites every element a returned slice reaches, up to its
// capacity (what an append past its end would write over).
func scribble[T any](s []T, junk T) {
	full := s[:cap(s)]
	for i := range full {
		full[i] = junk
	}
}

var (
	junkConv = conv("junk", "junk", at(-1000))
	junkMsg  = withText(msg(666, at(-1000)), "junk")
)

// readAndScribble reads every list m's keys give, with and without limits
// and positions, and scribbles over what it got back.
func readAndScribble(tx messaging.ReadTx, m *model) error {
	for _, limit := range []int{1, 2, noLimit} {
		us, err := tx.Users("", limit)
		if err != nil {
			return err
		}
		scribble(us, "junk")
		for o := range m.owners {
			cs, err := tx.Conversations(o, nil, limit)
			if err != nil {
				return err
			}
			scribble(cs, junkConv)
			k := messaging.ConversationKey{LastUpdate: at(2), Other: "a"}
			if cs, err = tx.Conversations(o, &k, limit); err != nil {
				return err
			}
			scribble(cs, junkConv)
		}
		for p := range m.pairs {
			for _, reverse := range []bool{false, true} {
				ms, err := tx.Messages(p.Owner, p.Other, nil, reverse, limit)
				if err != nil {
					return err
				}
				scribble(ms, junkMsg)
				k := messaging.MessageKey{Created: at(1), ID: 2}
				if ms, err = tx.Messages(p.Owner, p.Other, &k, reverse, limit); err != nil {
					return err
				}
				scribble(ms, junkMsg)
			}
			ms, err := tx.MessagesByID(p.Owner, p.Other, 0, limit)
			if err != nil {
				return err
			}
			scribble(ms, junkMsg)
			if ms, err = tx.MessagesByID(p.Owner, p.Other, 1, limit); err != nil {
				return err
			}
			scribble(ms, junkMsg)
		}
	}
	return nil
}

func testIsolationReturnedSlices(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	for range 2 {
		require.NoError(t, s.View(t.Context(), func(tx messaging.ReadTx) error { return readAndScribble(tx, m) }))
	}
	assertState(t, s, m)
	var got state
	require.NoError(t, s.View(t.Context(), func(tx messaging.ReadTx) error {
		if err := readAndScribble(tx, m); err != nil {
			return err
		}
		var err error
		got, err = readState(tx, m)
		return err
	}))
	assertSameState(t, m.want(), got, "read again in the same View")
}

func testIsolationReturnedSlicesInUpdate(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	ops := []op{m.PutMessage("bob", "dave", msg(7, at(7))), m.PutConversation(conv("bob", "carol", at(7)))}
	var got state
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) error {
		if err := runOps(tx, ops); err != nil {
			return err
		}
		if err := readAndScribble(tx, m); err != nil {
			return err
		}
		var err error
		got, err = readState(tx, m)
		return err
	}))
	assertSameState(t, m.want(), got, "read again in the same Update")
	assertState(t, s, m, "after commit")
}

func testIsolationOutliveTransaction(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	want := m.want()
	got := dump(t, s, m)
	var us []string
	var cs []messaging.ConversationRecord
	var ms []messaging.MessageRecord
	require.NoError(t, s.View(t.Context(), func(tx messaging.ReadTx) error {
		var err error
		if us, err = tx.Users("", noLimit); err != nil {
			return err
		}
		if cs, err = tx.Conversations("bob", nil, noLimit); err != nil {
			return err
		}
		ms, err = tx.Messages("bob", "dave", nil, false, noLimit)
		return err
	}))

	// Churn: delete everything, then write other bytes of the same shapes,
	// enough to reuse freed pages and to grow a mapped file.
	update(t, s, delInbox("bob"), delInbox("dave"), delInbox("bo"))
	for round := range 8 {
		var ops []op
		for _, owner := range []string{"BOB", "DAVE", "BO"} {
			ops = append(ops, putInbox(inbox(owner, round)))
			for _, other := range []string{"DAVE", "CAROL", "ERIN", "B"} {
				ops = append(ops, putConv(conv(owner, other, at(round))))
				for id := range uint64(6) {
					ops = append(ops, putMsg(owner, other, withText(msg(id+1, at(round)), strings.Repeat("#", 512))))
				}
			}
		}
		update(t, s, ops...)
	}

	assertSameState(t, want, got, "state read before the churn")
	assert.Equal(t, []string{"bo", "bob", "dave"}, us, "Users read before the churn")
	assert.Equal(t, want.Conversations["bob"], normConvs(cs), "Conversations read before the churn")
	assert.Equal(t, want.Ascending[pair{"bob", "dave"}], normMsgs(ms), "Messages read before the churn")
}

func testIsolationPutArgumentsReused(t *testing.T, s messaging.Store) {
	m := newModel()
	var buf []byte
	update(t, s, m.PutInbox(inbox("bob", 0)))
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) error {
		var c messaging.ConversationRecord
		var r messaging.MessageRecord
		for i := range 5 {
			buf = fmt.Appendf(buf[:0], "peer%d", i)
			c = conv("bob", string(buf), at(i))
			if err := tx.PutConversation(c); err != nil {
				return err
			}
			for j := range 4 {
				r.ID, r.Created, r.Sender = uint64(i*10+j+1), at(j), string(buf)
				r.Text = fmt.Sprintf("text %d/%d", i, j)
				if err := tx.PutMessage("bob", c.Other, r); err != nil {
					return err
				}
			}
		}
		return nil
	}))
	for i := range 5 {
		other := fmt.Sprintf("peer%d", i)
		m.PutConversation(conv("bob", other, at(i)))
		for j := range 4 {
			m.PutMessage("bob", other, messaging.MessageRecord{
				ID: uint64(i*10 + j + 1), Created: at(j), Sender: other, Text: fmt.Sprintf("text %d/%d", i, j),
			})
		}
	}
	assertState(t, s, m)
}
