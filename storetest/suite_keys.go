package storetest

// Tests that user ids are kept apart, byte for byte, however they are
// composed.

import (
	"fmt"
	"testing"

	"github.com/socialkit/messaging"
)

func testKeysUserIDsKeptApart(t *testing.T, s messaging.Store) {
	m := newModel()
	var ops []op
	id := uint64(0)
	idOf := map[pair]uint64{}
	for i, owner := range trickyIDs {
		ops = append(ops, m.PutInbox(inbox(owner, i)))
		for j, other := range trickyIDs {
			if i == j {
				continue
			}
			id++
			idOf[pair{owner, other}] = id
			ops = append(ops,
				m.PutConversation(conv(owner, other, at((i*7+j*3)%4))),
				m.PutMessage(owner, other, withText(msg(id, at(j)), fmt.Sprintf("%q to %q", owner, other))),
			)
		}
	}
	update(t, s, ops...)
	assertState(t, s, m)

	update(t, s, m.DeleteInbox("a"), m.DeleteInbox("/"), m.DeleteInbox("Zoë"),
		m.DeleteConversation("ab", "c"), m.DeleteConversation("a/b", "c"), m.DeleteConversation("日本", "日本語"),
		m.DeleteMessage("a b", "c", idOf[pair{"a b", "c"}]), m.DeleteMessage("b c", "a b", idOf[pair{"b c", "a b"}]))
	assertState(t, s, m, "after deletes")
}

func testKeysConcatenationsKeptApart(t *testing.T, s messaging.Store) {
	m := newModel()
	pairs := []pair{
		{"ab", "c"}, {"a", "bc"}, {"a", "b/c"}, {"a/b", "c"}, {"a:b", "c"}, {"a", "b:c"},
		{"a b", "c"}, {"a", "b c"}, {"a", "b"}, {"a", "bc/"}, {"ab", "c/"},
	}
	var ops []op
	for _, p := range pairs {
		if _, ok := m.inboxes[p.Owner]; !ok {
			ops = append(ops, m.PutInbox(inbox(p.Owner, 0)))
		}
		ops = append(ops, m.PutConversation(conv(p.Owner, p.Other, base)))
		for id := range uint64(2) {
			ops = append(ops, m.PutMessage(p.Owner, p.Other, withText(msg(id+1, base), fmt.Sprintf("%q+%q", p.Owner, p.Other))))
		}
	}
	update(t, s, ops...)
	assertState(t, s, m)
	update(t, s, m.DeleteConversation("a", "bc"), m.DeleteMessage("ab", "c", 1))
	assertState(t, s, m, `after deleting ("a", "bc") and message 1 of ("ab", "c")`)
	update(t, s, m.DeleteInbox("a"))
	assertState(t, s, m, `after deleting inbox "a"`)
}
