package pgstore

// Writes of an Update are buffered in the transaction and go out with its
// next read or with its COMMIT, in one order for every transaction: resets
// (DeleteInbox, DeleteConversation), then inbox rows, conversation rows,
// messages and tombstones, each sorted by key, then the touches. The
// transaction already holds the lock of every existing row it writes (it
// read it first, see tx.go), so a flush never waits on a row another
// transaction holds, except to insert a key another is inserting too.

import (
	"fmt"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/socialkit/messaging"
)

// PutInbox writes the inbox record. Creating an inbox touches the inbox
// set, which the transactions that rely on an inbox being absent lock.
func (t *tx) PutInbox(rec messaging.InboxRecord) error {
	if err := t.knowInbox(rec.Owner); err != nil {
		return err
	}
	e := t.inboxes[rec.Owner]
	if !e.exists {
		t.rootTouch = true
	}
	e.exists, e.unread, e.put, e.del, e.written = true, rec.Unread, true, false, true
	t.dirtyInboxes[rec.Owner] = true
	return nil
}

// DeleteInbox deletes the inbox and everything in it. It locks the inbox
// set at once: a transaction takes every lock before the ticket that
// orders its OnCommit callbacks, except those of rows it inserts.
func (t *tx) DeleteInbox(owner string) error {
	steps := t.lockInboxSteps(owner)
	if !t.rootLocked {
		steps = append(steps, step{sql: t.s.q.lockRoot, done: func(pgconn.CommandTag) error { t.rootLocked = true; return nil }})
	}
	if len(steps) > 0 {
		if err := t.ss.run(append(t.flushSteps(false), steps...)...); err != nil {
			return wrapf(err, "lock inbox %q", owner)
		}
	}
	e := t.inboxes[owner]
	if !e.exists {
		return messaging.ErrNotFound
	}
	e.exists, e.put, e.del, e.reset, e.written, e.touch = false, false, true, true, true, false
	t.rootTouch = true
	t.dirtyInboxes[owner] = true
	// The reset deletes whatever the transaction knew inside the inbox.
	for k, c := range t.convs {
		if k.owner == owner {
			*c = convEntry{}
			delete(t.dirtyConvs, k)
		}
	}
	t.forget(func(k convKey) bool { return k.owner == owner })
	return nil
}

// forget drops what the transaction knows of the messages and tombstones
// of the conversations match selects, which a reset deletes.
func (t *tx) forget(match func(convKey) bool) {
	for k := range t.msgs {
		if match(k.conv) {
			delete(t.msgs, k)
			delete(t.dirtyMsgs, k)
		}
	}
	for k := range t.tombs {
		if match(k.conv) {
			delete(t.tombs, k)
			delete(t.dirtyTombs, k)
		}
	}
}

// PutConversation writes the conversation record. Creating a conversation
// touches its inbox's row, which a transaction relying on the
// conversation being absent holds.
func (t *tx) PutConversation(rec messaging.ConversationRecord) error {
	if err := t.knowPair(rec.Owner, rec.Other); err != nil {
		return err
	}
	in := t.inboxes[rec.Owner]
	if !in.exists {
		return messaging.ErrNotFound
	}
	c := t.convs[convKey{rec.Owner, rec.Other}]
	if !c.exists {
		in.touch = true
	}
	c.exists, c.rec, c.put, c.del, c.written = true, rec, true, false, true
	t.dirtyConvs[convKey{rec.Owner, rec.Other}] = true
	return nil
}

// DeleteConversation deletes the conversation with its messages and
// tombstones.
func (t *tx) DeleteConversation(owner, other string) error {
	if err := t.knowPair(owner, other); err != nil {
		return err
	}
	k := convKey{owner, other}
	c := t.convs[k]
	if !c.exists {
		return messaging.ErrNotFound
	}
	*c = convEntry{inDB: c.inDB, del: true, reset: true, written: true}
	t.inboxes[owner].touch = true
	t.dirtyConvs[k] = true
	t.forget(func(x convKey) bool { return x == k })
	return nil
}

// PutMessage writes m; its conversation's row is touched at commit, unless
// written anyway, so that reads of the conversation's messages can be
// protected by that row's lock.
func (t *tx) PutMessage(owner, other string, m messaging.MessageRecord) error {
	if err := t.knowPair(owner, other); err != nil {
		return err
	}
	c := t.convs[convKey{owner, other}]
	if !c.exists {
		return messaging.ErrNotFound
	}
	k := msgKey{convKey{owner, other}, m.ID}
	t.msgs[k] = &msgEntry{exists: true, rec: m, put: true}
	t.dirtyMsgs[k] = true
	c.touch = true
	return nil
}

// DeleteMessage deletes the message and records its tombstone.
func (t *tx) DeleteMessage(owner, other string, id uint64) error {
	if _, err := t.Message(owner, other, id); err != nil {
		return err
	}
	k := msgKey{convKey{owner, other}, id}
	t.msgs[k] = &msgEntry{del: true}
	t.dirtyMsgs[k] = true
	if _, ok := t.tombs[k]; !ok {
		t.tombs[k] = true
		t.dirtyTombs[k] = true
	}
	t.convs[k.conv].touch = true
	return nil
}

// flushSteps returns the statements that send the buffered writes, and
// marks them sent. With commit, it adds the touches: a no-op UPDATE of
// each row whose lock protects what the transaction wrote, if the
// transaction did not write that row anyway.
func (t *tx) flushSteps(commit bool) []step {
	var steps []step
	q := &t.s.q
	owners := slices.Sorted(maps.Keys(t.dirtyInboxes))
	convs := slices.SortedFunc(maps.Keys(t.dirtyConvs), cmpConvKey)
	for _, o := range owners {
		if e := t.inboxes[o]; e.reset {
			arg := []any{[]byte(o)}
			steps = append(steps, step{sql: q.deleteInboxMsgs, args: arg}, step{sql: q.deleteInboxTombs, args: arg},
				step{sql: q.deleteInboxConvs, args: arg})
			e.reset = false
		}
	}
	for _, k := range convs {
		if c := t.convs[k]; c.reset {
			args := []any{[]byte(k.owner), []byte(k.other)}
			steps = append(steps, step{sql: q.deleteConvMsgs, args: args}, step{sql: q.deleteConvTombs, args: args})
			c.reset = false
		}
	}
	for _, o := range owners {
		e := t.inboxes[o]
		switch {
		case e.put && e.inDB:
			steps = append(steps, step{sql: q.updateInbox, args: []any{[]byte(o), int64(e.unread)}, done: oneRow("inbox", o)})
		case e.put:
			steps = append(steps, step{sql: q.insertInbox, args: []any{[]byte(o), int64(e.unread)}})
		case e.del && e.inDB:
			steps = append(steps, step{sql: q.deleteInbox, args: []any{[]byte(o)}, done: oneRow("inbox", o)})
		}
		e.inDB, e.put, e.del = e.exists, false, false
	}
	for _, k := range convs {
		c := t.convs[k]
		switch {
		case c.put && c.inDB:
			steps = append(steps, step{sql: q.updateConv, args: convArgs(c.rec), done: oneRow("conversation", k)})
		case c.put:
			steps = append(steps, step{sql: q.insertConv, args: convArgs(c.rec)})
		case c.del && c.inDB:
			steps = append(steps, step{sql: q.deleteConv, args: []any{[]byte(k.owner), []byte(k.other)}, done: oneRow("conversation", k)})
		}
		c.inDB, c.put, c.del = c.exists, false, false
	}
	for _, k := range slices.SortedFunc(maps.Keys(t.dirtyMsgs), cmpMsgKey) {
		switch e := t.msgs[k]; {
		case e.put:
			steps = append(steps, step{sql: q.upsertMsg, args: msgArgs(k.conv, e.rec)})
		case e.del:
			steps = append(steps, step{sql: q.deleteMsg, args: []any{[]byte(k.conv.owner), []byte(k.conv.other), encodeID(k.id)}})
		}
		t.msgs[k].put, t.msgs[k].del = false, false
	}
	for _, k := range slices.SortedFunc(maps.Keys(t.dirtyTombs), cmpMsgKey) {
		steps = append(steps, step{sql: q.insertTomb, args: []any{[]byte(k.conv.owner), []byte(k.conv.other), encodeID(k.id)}})
		t.tombs[k] = false
	}
	clear(t.dirtyInboxes)
	clear(t.dirtyConvs)
	clear(t.dirtyMsgs)
	clear(t.dirtyTombs)
	if commit {
		steps = append(steps, t.touchSteps()...)
	}
	return steps
}

func (t *tx) touchSteps() []step {
	var steps []step
	q := &t.s.q
	for _, k := range slices.SortedFunc(maps.Keys(t.convs), cmpConvKey) {
		if c := t.convs[k]; c.touch && !c.written {
			steps = append(steps, step{sql: q.touchConv, args: []any{[]byte(k.owner), []byte(k.other)}, done: oneRow("conversation", k)})
		}
	}
	for _, o := range slices.Sorted(maps.Keys(t.inboxes)) {
		if e := t.inboxes[o]; e.touch && !e.written {
			steps = append(steps, step{sql: q.touchInbox, args: []any{[]byte(o)}, done: oneRow("inbox", o)})
		}
	}
	if t.rootTouch {
		steps = append(steps, step{sql: q.touchRoot, done: oneRow("inbox set", "")})
	}
	return steps
}

// oneRow checks that a write to a row the transaction holds locked found
// it: only a write outside the store's transactions can make it fail.
func oneRow[K any](what string, key K) func(pgconn.CommandTag) error {
	return func(tag pgconn.CommandTag) error {
		if n := tag.RowsAffected(); n != 1 {
			return fmt.Errorf("%s %v: %s touched %d rows, not 1: the table was changed outside the store", what, key, tag, n)
		}
		return nil
	}
}
