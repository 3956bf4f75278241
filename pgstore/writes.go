package pgstore

// Writes of an Update are buffered in the transaction and go out with its
// next read or with its COMMIT. The commit pipeline is also where the
// transaction takes its locks: every row it writes (by the write itself)
// and every row whose lock protects what fn read without writing (FOR
// SHARE), in one order for every transaction, so that two commit
// pipelines never wait for each other in a cycle:
//
//	the set of users; user rows by owner; their resets (DeleteInbox);
//	conversation rows by (owner, other); their resets
//	(DeleteConversation); messages and tombstones by key; blocks;
//	idempotency records by key; events; the stamp that orders OnCommit
//	callbacks; COMMIT.
//
// Messages and tombstones need no lock of their own: whoever writes them
// writes their conversation's row first; blocks and events are protected
// the same way by user rows, and the set of users. Under REPEATABLE READ,
// locking or writing a row that a transaction committed after this one's
// snapshot fails with SQLSTATE 40001, so once the commit pipeline holds
// its locks, everything fn read is as it was in the snapshot, and stays so
// until COMMIT.

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/socialkit/messaging"
)

// dirtyUser marks owner's row to be written.
func (t *tx) dirtyUser(owner string) {
	e := t.users[owner]
	e.dirty, e.written = true, true
	t.dirtyUsers[owner] = true
}

// PutInbox writes the inbox record. Creating an inbox touches the set of
// users, which the transactions that rely on an inbox being absent lock.
func (t *tx) PutInbox(rec messaging.InboxRecord) error {
	if err := t.knowUser(rec.Owner); err != nil {
		return err
	}
	t.seeInbox(rec.Owner)
	e := t.users[rec.Owner]
	if !e.inbox {
		t.rootTouch = true
	}
	e.inbox, e.unread = true, rec.Unread
	t.dirtyUser(rec.Owner)
	return nil
}

// DeleteInbox deletes the inbox and everything in it, and touches the set
// of users. The user's row stays if the user's stream holds events.
func (t *tx) DeleteInbox(owner string) error {
	if err := t.knowUser(owner); err != nil {
		return err
	}
	t.seeInbox(owner)
	e := t.users[owner]
	if !e.inbox {
		return messaging.ErrNotFound
	}
	e.inbox, e.unread, e.reset, e.touch = false, 0, true, false
	t.dirtyUser(owner)
	t.rootTouch = true
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
	in := t.users[rec.Owner]
	if !in.inbox {
		return messaging.ErrNotFound
	}
	c := t.convs[convKey{rec.Owner, rec.Other}]
	if !c.exists {
		in.touch = true
	}
	c.exists, c.rec, c.put, c.del, c.written = true, cloneConv(rec), true, false, true
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
	*c = convEntry{inDB: c.inDB, del: true, reset: true, written: true, dbExists: c.dbExists, dbRec: c.dbRec}
	t.users[owner].touch = true
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
	t.msgs[k] = &msgEntry{exists: true, rec: cloneMsg(m), put: true}
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
	t.tombs[k] = &tombEntry{kindKnown: true, put: true}
	t.dirtyTombs[k] = true
	t.convs[k.conv].touch = true
	return nil
}

// PutTombstone writes a tombstone of the kind given.
func (t *tx) PutTombstone(owner, other string, tomb messaging.Tombstone) error {
	if err := t.knowPair(owner, other); err != nil {
		return err
	}
	k := msgKey{convKey{owner, other}, tomb.ID}
	t.seeConv(k.conv)
	c := t.convs[k.conv]
	if !c.exists {
		return messaging.ErrNotFound
	}
	t.tombs[k] = &tombEntry{retracted: tomb.Retracted, kindKnown: true, put: true}
	t.dirtyTombs[k] = true
	c.touch = true
	return nil
}

// flushSteps returns the statements that send the buffered writes, and
// marks them sent. With commit, they also take the locks of what fn read
// (see the top of this file), so every row the transaction touched is
// among them, in order.
func (t *tx) flushSteps(commit bool) []step {
	var steps []step
	add := func(st step) {
		st.write = true
		steps = append(steps, st)
	}
	q := &t.s.q
	if commit {
		switch {
		case t.rootTouch:
			add(step{sql: q.touchRoot, done: oneRow("inbox set", "")})
		case t.rootSeen:
			add(step{sql: q.shareRoot, row: ignoreRow})
		}
	}
	owners := t.usersInOrder(commit)
	for i, o := range owners {
		e := t.users[o]
		switch need := e.needed(); {
		case e.updatedWith:
			e.updatedWith = false
		case e.dirty && need:
			args := e.args(o)
			switch {
			case e.inDB && t.s.noSeqScan && i+1 < len(owners) && t.users[owners[i+1]].updates():
				// This row and the next (a send with streams writes both)
				// in one statement.
				next := t.users[owners[i+1]]
				add(step{sql: q.updateUsers, args: append(args, next.args(owners[i+1])...), done: nRows(2, "users", o)})
				next.dirty, next.updatedWith = false, true
			case e.inDB:
				add(step{sql: q.updateUser, args: args, done: oneRow("user", o)})
			default:
				add(step{sql: q.insertUser, args: args})
			}
			e.inDB = true
		case e.dirty && e.inDB:
			add(step{sql: q.deleteUser, args: []any{[]byte(o)}, done: oneRow("user", o)})
			e.inDB = false
		case commit && e.touch && !e.written && e.inDB:
			add(step{sql: q.touchInbox, args: []any{[]byte(o)}, done: oneRow("user", o)})
		case commit && e.seen && !e.written && e.inDB:
			add(step{sql: q.shareInbox, args: []any{[]byte(o)}, row: ignoreRow})
		}
		e.dirty = false
		if e.reset {
			arg := []any{[]byte(o)}
			add(step{sql: q.deleteInboxConvs, args: arg})
			add(step{sql: q.deleteInboxMsgs, args: arg})
			add(step{sql: q.deleteInboxTombs, args: arg})
			e.reset = false
		}
	}
	keys := t.convsInOrder(commit)
	for i, k := range keys {
		if k.other == "" { // all of k.owner's conversations, listed by fn
			add(step{sql: q.shareInboxConvs, args: []any{[]byte(k.owner)}, row: ignoreRow})
			continue
		}
		c := t.convs[k]
		switch {
		case c.put && c.inDB && t.s.noSeqScan && i+1 < len(keys) && t.updatesConv(keys[i+1]):
			// This side and the next (a send writes both) in one statement.
			next := t.convs[keys[i+1]]
			add(step{sql: q.updateConvs, args: append(convArgs(c.rec), convArgs(next.rec)...), done: nRows(2, "conversations", k)})
			next.put, next.updatedWith = false, true
		case c.updatedWith:
			c.updatedWith = false
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
	var puts []any // rows of the next INSERT, which writes up to maxRows
	putMsgs := func() {
		if n := len(puts) / msgCols; n > 0 {
			add(step{sql: q.upsertMsgs[n], args: puts})
			puts = nil
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(t.dirtyMsgs), cmpMsgKey) {
		switch e := t.msgs[k]; {
		case e.put:
			if puts = append(puts, msgArgs(k.conv, e.rec)...); len(puts) == msgCols*maxRows {
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
		e := t.tombs[k]
		add(step{sql: q.putTomb, args: []any{[]byte(k.conv.owner), []byte(k.conv.other), encodeID(k.id), e.retracted}})
		e.put = false
	}
	t.flushBlocks(add)
	t.flushIdems(commit, add)
	t.flushEvents(add)
	clear(t.dirtyUsers)
	clear(t.dirtyConvs)
	clear(t.dirtyMsgs)
	clear(t.dirtyTombs)
	return steps
}

func (t *tx) flushBlocks(add func(step)) {
	var dirty []messaging.Block
	for b, e := range t.blocks {
		if e.dirty {
			dirty = append(dirty, b)
		}
	}
	slices.SortFunc(dirty, func(a, b messaging.Block) int {
		return cmpConvKey(convKey{a.User, a.Other}, convKey{b.User, b.Other})
	})
	for _, b := range dirty {
		sql := t.s.q.deleteBlock
		if t.blocks[b].exists {
			sql = t.s.q.insertBlock
		}
		add(step{sql: sql, args: []any{[]byte(b.User), []byte(b.Other)}})
		t.blocks[b].dirty = false
	}
}

// flushIdems writes the idempotency records and, with commit, protects
// those fn relied on without writing them: a record by its lock, the
// absence of one by inserting it and deleting it again, which fails (or
// waits) if a concurrent transaction inserted it.
func (t *tx) flushIdems(commit bool, add func(step)) {
	var keys []idemKey
	for k, e := range t.idems {
		if e.dirty || commit && e.seen && !e.written && e.dbKnown {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b idemKey) int {
		if c := strings.Compare(a.sender, b.sender); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	q := &t.s.q
	for _, k := range keys {
		e := t.idems[k]
		key := []any{[]byte(k.sender), []byte(k.key)}
		switch {
		case e.dirty && e.dbKnown && !e.inDB:
			add(step{sql: q.insertIdem, args: idemArgs(e.rec)})
		case e.dirty:
			add(step{sql: q.upsertIdem, args: idemArgs(e.rec)})
		case e.inDB:
			add(step{sql: q.shareIdem, args: key, row: ignoreRow})
		default:
			add(step{sql: q.insertIdem, args: idemArgs(messaging.IdempotencyRecord{Sender: k.sender, Key: k.key})})
			add(step{sql: q.deleteIdem, args: key})
		}
		if e.dirty {
			e.dirty, e.dbKnown, e.inDB = false, true, true
		}
	}
}

// usersInOrder returns, sorted, the owners of the user rows with buffered
// writes and, with commit, also those the commit locks or touches.
func (t *tx) usersInOrder(commit bool) []string {
	if !commit {
		return slices.Sorted(maps.Keys(t.dirtyUsers))
	}
	var out []string
	for o, e := range t.users {
		if t.dirtyUsers[o] || e.touch || e.seen {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out
}

// convsInOrder is usersInOrder for conversations; a key with an empty
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

// args are the column values of the user's row, in the order of
// userColumns.
func (e *userEntry) args(owner string) []any {
	return []any{[]byte(owner), e.inbox, int64(e.unread), encodeID(e.evFirst), encodeID(e.evLast), e.evCount, encodeID(e.evPhys)}
}

// updates reports whether the flush writes the user's row with an UPDATE.
func (e *userEntry) updates() bool { return e.dirty && e.needed() && e.inDB }

// updatesConv reports whether the flush writes the conversation k with an
// UPDATE.
func (t *tx) updatesConv(k convKey) bool {
	c := t.convs[k]
	return k.other != "" && c.put && c.inDB
}

func ignoreRow(pgx.Rows) error { return nil }

// oneRow checks that a write to a row the transaction holds locked found
// it: only a write outside the store's transactions can make it fail.
func oneRow[K any](what string, key K) func(pgconn.CommandTag) error {
	return nRows(1, what, key)
}

// nRows is oneRow for a write of n rows.
func nRows[K any](n int64, what string, key K) func(pgconn.CommandTag) error {
	return func(tag pgconn.CommandTag) error {
		if got := tag.RowsAffected(); got != n {
			return fmt.Errorf("%s %v: %s touched %d rows, not %d: the table was changed outside the store", what, key, tag, got, n)
		}
		return nil
	}
}
