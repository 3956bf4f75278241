package pgstore

// Writes of an Update are buffered in the transaction and go out with its
// next read or with its COMMIT. The commit pipeline is also where the
// transaction takes its locks: every row it writes (by the write itself)
// and every row whose lock protects what fn read without writing (FOR
// SHARE), in one order for every transaction, so that two commit
// pipelines never wait for each other in a cycle:
//
//	the inbox set; inbox rows by owner; their resets (DeleteInbox);
//	conversation rows by (owner, other); their resets
//	(DeleteConversation); messages and tombstones by key; the stamp
//	that orders OnCommit callbacks; COMMIT.
//
// Messages and tombstones need no lock of their own: whoever writes them
// writes their conversation's row first. Under REPEATABLE READ, locking
// or writing a row that a transaction committed after this one's snapshot
// fails with SQLSTATE 40001, so once the commit pipeline holds its locks,
// everything fn read is as it was in the snapshot, and stays so until
// COMMIT.

import (
	"fmt"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/socialkit/messaging"
)

// PutInbox writes the inbox record. Creating an inbox touches the inbox
// set, which the transactions that rely on an inbox being absent lock.
func (t *tx) PutInbox(rec messaging.InboxRecord) error {
	if err := t.knowInbox(rec.Owner); err != nil {
		return err
	}
	t.seeInbox(rec.Owner)
	e := t.inboxes[rec.Owner]
	if !e.exists {
		t.rootTouch = true
	}
	e.exists, e.unread, e.put, e.del, e.written = true, rec.Unread, true, false, true
	t.dirtyInboxes[rec.Owner] = true
	return nil
}

// DeleteInbox deletes the inbox and everything in it, and touches the
// inbox set.
func (t *tx) DeleteInbox(owner string) error {
	if err := t.knowInbox(owner); err != nil {
		return err
	}
	t.seeInbox(owner)
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
	t.seeInbox(rec.Owner)
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
	t.seeConv(k)
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
	t.seeConv(convKey{owner, other})
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
// marks them sent. With commit, they also take the locks of what fn read
// (see the top of this file), so every row the transaction touched is
// among them, in order.
func (t *tx) flushSteps(commit bool) []step {
	var steps []step
	add := func(st step) { steps = append(steps, st) }
	q := &t.s.q
	if commit {
		switch {
		case t.rootTouch:
			add(step{sql: q.touchRoot, done: oneRow("inbox set", "")})
		case t.rootSeen:
			add(step{sql: q.shareRoot, row: ignoreRow})
		}
	}
	owners := t.dirtyOrLocked(commit)
	for _, o := range owners {
		e := t.inboxes[o]
		switch {
		case e.put && e.inDB:
			add(step{sql: q.updateInbox, args: []any{[]byte(o), int64(e.unread)}, done: oneRow("inbox", o)})
		case e.put:
			add(step{sql: q.insertInbox, args: []any{[]byte(o), int64(e.unread)}})
		case e.del && e.inDB:
			add(step{sql: q.deleteInbox, args: []any{[]byte(o)}, done: oneRow("inbox", o)})
		case commit && e.touch && !e.written && e.inDB:
			add(step{sql: q.touchInbox, args: []any{[]byte(o)}, done: oneRow("inbox", o)})
		case commit && e.seen && !e.written && e.inDB:
			add(step{sql: q.shareInbox, args: []any{[]byte(o)}, row: ignoreRow})
		}
		e.inDB, e.put, e.del = e.exists, false, false
		if e.reset {
			arg := []any{[]byte(o)}
			add(step{sql: q.deleteInboxConvs, args: arg})
			add(step{sql: q.deleteInboxMsgs, args: arg})
			add(step{sql: q.deleteInboxTombs, args: arg})
			e.reset = false
		}
	}
	for _, k := range t.convsInOrder(commit) {
		if k.other == "" { // all of k.owner's conversations, listed by fn
			add(step{sql: q.shareInboxConvs, args: []any{[]byte(k.owner)}, row: ignoreRow})
			continue
		}
		c := t.convs[k]
		switch {
		case c.put && c.inDB:
			add(step{sql: q.updateConv, args: convArgs(c.rec), done: oneRow("conversation", k)})
		case c.put:
			add(step{sql: q.insertConv, args: convArgs(c.rec)})
		case c.del && c.inDB:
			add(step{sql: q.deleteConv, args: []any{[]byte(k.owner), []byte(k.other)}, done: oneRow("conversation", k)})
		case commit && c.touch && !c.written && c.inDB:
			add(step{sql: q.touchConv, args: []any{[]byte(k.owner), []byte(k.other)}, done: oneRow("conversation", k)})
		case commit && c.seen && !c.written && c.inDB:
			add(step{sql: q.shareConv, args: []any{[]byte(k.owner), []byte(k.other)}, row: ignoreRow})
		}
		c.inDB, c.put, c.del = c.exists, false, false
		if c.reset {
			args := []any{[]byte(k.owner), []byte(k.other)}
			add(step{sql: q.deleteConvMsgs, args: args})
			add(step{sql: q.deleteConvTombs, args: args})
			c.reset = false
		}
	}
	var puts []any // rows of the next INSERT, which writes up to maxMsgRows
	putMsgs := func() {
		if n := len(puts) / 8; n > 0 {
			add(step{sql: q.upsertMsgs[n], args: puts})
			puts = nil
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(t.dirtyMsgs), cmpMsgKey) {
		switch e := t.msgs[k]; {
		case e.put:
			if puts = append(puts, msgArgs(k.conv, e.rec)...); len(puts) == 8*maxMsgRows {
				putMsgs()
			}
		case e.del:
			putMsgs()
			add(step{sql: q.deleteMsg, args: []any{[]byte(k.conv.owner), []byte(k.conv.other), encodeID(k.id)}})
		}
		t.msgs[k].put, t.msgs[k].del = false, false
	}
	putMsgs()
	for _, k := range slices.SortedFunc(maps.Keys(t.dirtyTombs), cmpMsgKey) {
		add(step{sql: q.insertTomb, args: []any{[]byte(k.conv.owner), []byte(k.conv.other), encodeID(k.id)}})
		t.tombs[k] = false
	}
	clear(t.dirtyInboxes)
	clear(t.dirtyConvs)
	clear(t.dirtyMsgs)
	clear(t.dirtyTombs)
	return steps
}

// dirtyOrLocked returns, sorted, the owners of the inboxes with buffered
// writes and, with commit, also those the commit locks.
func (t *tx) dirtyOrLocked(commit bool) []string {
	if !commit {
		return slices.Sorted(maps.Keys(t.dirtyInboxes))
	}
	var out []string
	for o, e := range t.inboxes {
		if t.dirtyInboxes[o] || e.touch || e.seen {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out
}

// convsInOrder is dirtyOrLocked for conversations; a key with an empty
// other stands for all the conversations of its owner (which no real key
// has: user ids are not empty), and sorts before them.
func (t *tx) convsInOrder(commit bool) []convKey {
	if !commit {
		return slices.SortedFunc(maps.Keys(t.dirtyConvs), cmpConvKey)
	}
	var out []convKey
	for k, c := range t.convs {
		if t.dirtyConvs[k] || c.touch || c.seen {
			out = append(out, k)
		}
	}
	for o := range t.convsOf {
		out = append(out, convKey{owner: o})
	}
	slices.SortFunc(out, cmpConvKey)
	return out
}

func ignoreRow(pgx.Rows) error { return nil }

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
