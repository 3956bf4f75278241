package messaging

import (
	"context"
	"strings"
	"sync"
)

// MemoryStore is a Store that keeps everything in memory: for tests, for
// examples, and for applications that do not need messages to survive a
// restart. It has the same transactions as a durable store: an Update whose
// function fails is rolled back as a whole, from an undo log, so it behaves
// like BoltStore in every way but durability.
//
// Writers are serialised by one lock and readers share it, so a View sees
// only committed state. Costs: lookups by key are map reads; orders are kept
// in chunked sorted lists (sortedList), so a write anywhere in an order (a
// back-dated message, a conversation moving from the bottom of a large inbox
// to the top, an old message deleted) moves at most one chunk, and a page is
// read from a binary search. With many pairs, a send's cost is mostly
// cache misses and the garbage collector's scan of what is kept, so records
// and orders are kept in entries with as few pointers as possible
// (memory_conv.go) and an inbox's conversations in pages of values
// (memory_inbox.go).
type MemoryStore struct {
	mu       sync.RWMutex
	closed   bool
	seq      uint64
	inboxes  map[string]*memInbox
	users    *sortedList[string]
	undo     []memUndo // the running Update's undo log, reused
	onCommit []func()  // the running Update's callbacks, reused

	// recent are the conversations the running Update looked up last: a
	// send looks its two conversations up a dozen times, and with many
	// pairs each map lookup is a cache miss. Only writers use it (readers
	// share the lock); Update and every removal clear it, so it never
	// names a conversation that is not in the store.
	recent     [2]memRecent
	nextRecent int

	slab    memSlab      // every conversation
	removed []memRemoved // conversations the running Update removed, to release at its end
	dropped []*memInbox  // inboxes it deleted, whose conversations to release at its end

	side memSide // blocks, idempotency records, streams (memory_records.go)
}

type memRemoved struct {
	in *memInbox
	c  *memConv
}

type memRecent struct {
	owner, other string
	in           *memInbox
	c            *memConv
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{inboxes: make(map[string]*memInbox), users: newSortedList(strings.Compare), side: newMemSide()}
}

// View runs fn under the read lock. See Store.View.
func (s *MemoryStore) View(ctx context.Context, fn func(ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return wrapf(err, "view")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return fn((*memView)(s))
}

// Update runs fn under the write lock and undoes its writes if it returns
// an error or panics. See Store.Update.
func (s *MemoryStore) Update(ctx context.Context, fn func(Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return wrapf(err, "update")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	committed := false
	defer func() {
		if !committed {
			s.rollback()
		}
		clear(s.undo) // drop references to deleted records
		s.undo = s.undo[:0]
		s.side.endUpdate()
		clear(s.onCommit)
		s.onCommit = s.onCommit[:0]
		s.forget()
		for _, r := range s.removed {
			r.in.release(r.c)
		}
		clear(s.removed)
		s.removed = s.removed[:0]
		for _, in := range s.dropped {
			if s.inboxes[in.rec.Owner] != in { // not put back by a rollback
				in.releaseAll()
			}
		}
		clear(s.dropped)
		s.dropped = s.dropped[:0]
	}()
	if err := fn((*memTx)(s)); err != nil {
		return err
	}
	committed = true
	for _, f := range s.onCommit {
		f() // still under the write lock: commit order
	}
	return nil
}

// Close drops all records. Later calls return ErrClosed.
func (s *MemoryStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.inboxes = nil
	s.users = nil
	s.slab = memSlab{}
	return nil
}

// memView is the ReadTx of a MemoryStore; memTx adds the writes. Both are
// the store itself under another method set, so handing one out costs no
// allocation, and a View's ReadTx cannot be asserted to a Tx.
type (
	memView MemoryStore
	memTx   MemoryStore
)

func (v *memView) conv(owner, other string) *memConv {
	if in := v.inboxes[owner]; in != nil {
		return in.convs[other]
	}
	return nil
}

func (v *memView) Inbox(owner string) (InboxRecord, error) {
	in := v.inboxes[owner]
	if in == nil {
		return InboxRecord{}, ErrNotFound
	}
	return in.rec, nil
}

func (v *memView) Users(after string, limit int) ([]string, error) {
	var k *string
	if after != "" {
		k = &after
	}
	return v.users.after(k, false, limit), nil
}

func (v *memView) Conversation(owner, other string) (ConversationRecord, error) {
	return findConversation(v.conv(owner, other), owner, other)
}

func findConversation(c *memConv, owner, other string) (ConversationRecord, error) {
	if c == nil {
		return ConversationRecord{}, ErrNotFound
	}
	return c.rec.record(owner, other), nil
}

func (v *memView) Conversations(owner string, after *ConversationKey, limit int) ([]ConversationRecord, error) {
	in := v.inboxes[owner]
	if in == nil || limit <= 0 || in.order.len() == 0 {
		return nil, nil
	}
	var probe func(convKey) int
	if after != nil {
		sec, nsec := packTime(after.LastUpdate)
		probe = func(x convKey) int {
			if c := cmpTime(x.sec, x.nsec, sec, nsec); c != 0 {
				return c
			}
			return strings.Compare(after.Other, in.conv(x.slot).other)
		}
	}
	out := make([]ConversationRecord, 0, min(limit, in.order.len()))
	in.order.walk(probe, true, func(k *convKey) bool { // oldest first, so newest first is backwards
		c := in.conv(k.slot)
		out = append(out, c.rec.record(owner, c.other))
		return len(out) < limit
	})
	return nilIfEmpty(out), nil
}

func (v *memView) Message(owner, other string, id uint64) (MessageRecord, error) {
	return findMessage(v.conv(owner, other), owner, id)
}

func findMessage(c *memConv, owner string, id uint64) (MessageRecord, error) {
	if c != nil {
		if e, ok := c.find(id); ok {
			return c.message(owner, &e), nil
		}
	}
	return MessageRecord{}, ErrNotFound
}

func (v *memView) Messages(owner, other string, after *MessageKey, reverse bool, limit int) ([]MessageRecord, error) {
	c := v.conv(owner, other)
	if c == nil {
		return nil, nil
	}
	if limit <= 0 || c.msgs.len() == 0 {
		return nil, nil
	}
	var probe func(memMsg) int
	if after != nil {
		sec, nsec := packTime(after.Created)
		k := memMsg{sec: sec, nsec: nsec, id: after.ID}
		probe = func(x memMsg) int { return cmpMemMsg(x, k) }
	}
	out := make([]MessageRecord, 0, min(limit, c.msgs.len()))
	c.msgs.walk(probe, reverse, func(e *memMsg) bool {
		out = append(out, c.message(owner, e))
		return len(out) < limit
	})
	return nilIfEmpty(out), nil
}

func (v *memView) MessagesByID(owner, other string, afterID uint64, limit int) ([]MessageRecord, error) {
	c := v.conv(owner, other)
	if c == nil {
		return nil, nil
	}
	return c.messages(owner, c.byID(afterID, limit)), nil
}

// Deleted looks id up in the conversation's tombstones.
func (v *memView) Deleted(owner, other string, id uint64) (bool, error) {
	c := v.conv(owner, other)
	if c == nil {
		return false, nil
	}
	return c.isDeleted(id), nil
}

func (s *MemoryStore) addUser(in *memInbox) {
	s.inboxes[in.rec.Owner] = in
	s.users.insert(in.rec.Owner)
}

func (s *MemoryStore) removeUser(owner string) {
	s.forget()
	delete(s.inboxes, owner)
	s.users.delete(owner)
}

// lookup returns owner's inbox and its conversation with other, either
// possibly nil, through recent.
func (t *memTx) lookup(owner, other string) (*memInbox, *memConv) {
	for i := range t.recent {
		if r := &t.recent[i]; r.c != nil && r.owner == owner && r.other == other {
			return r.in, r.c
		}
	}
	in := t.inboxes[owner]
	if in == nil {
		return nil, nil
	}
	c := in.convs[other]
	if c != nil {
		t.remember(owner, other, in, c)
	}
	return in, c
}

func (t *memTx) remember(owner, other string, in *memInbox, c *memConv) {
	t.recent[t.nextRecent] = memRecent{owner: owner, other: other, in: in, c: c}
	t.nextRecent = (t.nextRecent + 1) % len(t.recent)
}

// inbox returns owner's inbox or nil, through recent.
func (t *memTx) inbox(owner string) *memInbox {
	for i := range t.recent {
		if r := &t.recent[i]; r.in != nil && r.owner == owner {
			return r.in
		}
	}
	return t.inboxes[owner]
}

func (s *MemoryStore) forget() { s.recent = [len(s.recent)]memRecent{} }

func (s *MemoryStore) removeConv(in *memInbox, c *memConv) {
	s.forget()
	in.removeConv(c)
	s.removed = append(s.removed, memRemoved{in, c})
}

// The writes. Each logs how to undo itself before it returns.

func (t *memTx) Inbox(owner string) (InboxRecord, error) {
	in := t.inbox(owner)
	if in == nil {
		return InboxRecord{}, ErrNotFound
	}
	return in.rec, nil
}
func (t *memTx) Users(after string, limit int) ([]string, error) {
	return (*memView)(t).Users(after, limit)
}
func (t *memTx) Conversation(owner, other string) (ConversationRecord, error) {
	_, c := t.lookup(owner, other)
	return findConversation(c, owner, other)
}
func (t *memTx) Conversations(owner string, after *ConversationKey, limit int) ([]ConversationRecord, error) {
	return (*memView)(t).Conversations(owner, after, limit)
}
func (t *memTx) Message(owner, other string, id uint64) (MessageRecord, error) {
	_, c := t.lookup(owner, other)
	return findMessage(c, owner, id)
}
func (t *memTx) Messages(owner, other string, after *MessageKey, reverse bool, limit int) ([]MessageRecord, error) {
	return (*memView)(t).Messages(owner, other, after, reverse, limit)
}
func (t *memTx) MessagesByID(owner, other string, afterID uint64, limit int) ([]MessageRecord, error) {
	return (*memView)(t).MessagesByID(owner, other, afterID, limit)
}
func (t *memTx) Deleted(owner, other string, id uint64) (bool, error) {
	return (*memView)(t).Deleted(owner, other, id)
}

func (t *memTx) OnCommit(f func()) { t.onCommit = append(t.onCommit, f) }

func (t *memTx) NextID() (uint64, error) {
	t.undo = append(t.undo, memUndo{op: undoSeq, seq: t.seq})
	t.seq++
	return t.seq, nil
}

func (t *memTx) PutInbox(rec InboxRecord) error {
	if in := t.inbox(rec.Owner); in != nil {
		t.undo = append(t.undo, memUndo{op: undoInboxRec, inbox: in, inboxRec: in.rec})
		in.rec = rec
		return nil
	}
	in := newMemInbox(rec, &t.slab)
	(*MemoryStore)(t).addUser(in)
	t.undo = append(t.undo, memUndo{op: undoInboxAdd, inbox: in})
	return nil
}

func (t *memTx) DeleteInbox(owner string) error {
	in := t.inboxes[owner]
	if in == nil {
		return ErrNotFound
	}
	(*MemoryStore)(t).removeUser(owner)
	t.dropped = append(t.dropped, in)
	t.undo = append(t.undo, memUndo{op: undoInboxDel, inbox: in})
	return nil
}

func (t *memTx) PutConversation(rec ConversationRecord) error {
	in, c := t.lookup(rec.Owner, rec.Other)
	if in == nil {
		return ErrNotFound
	}
	if c != nil {
		t.undo = append(t.undo, memUndo{op: undoConvRec, inbox: in, conv: c, convRec: c.rec})
		in.setConvRec(c, packConv(&rec))
		return nil
	}
	c = in.newConv(&rec)
	t.remember(rec.Owner, rec.Other, in, c)
	t.undo = append(t.undo, memUndo{op: undoConvAdd, inbox: in, conv: c})
	return nil
}

func (t *memTx) DeleteConversation(owner, other string) error {
	in := t.inboxes[owner]
	if in == nil || in.convs[other] == nil {
		return ErrNotFound
	}
	c := in.convs[other]
	(*MemoryStore)(t).removeConv(in, c)
	t.undo = append(t.undo, memUndo{op: undoConvDel, inbox: in, conv: c})
	return nil
}

// PutMessage leaves a tombstone of m.ID as it is: a deleted ID put back is
// both present and Deleted (package messaging never puts a deleted ID back).
func (t *memTx) PutMessage(owner, other string, m MessageRecord) error {
	_, c := t.lookup(owner, other)
	if c == nil {
		return ErrNotFound
	}
	oldMeta := c.metaOf(m.ID)
	if old, odd, ok := c.remove(m.ID); ok {
		t.undo = append(t.undo, memUndo{op: undoMsgDel, conv: c, msg: old, odd: odd, meta: oldMeta})
	}
	e := packMsg(owner, other, &m)
	var odd [2]string
	if e.dir == dirOdd {
		odd = [2]string{m.Sender, m.Recipient}
	}
	c.insert(e, odd)
	c.setMeta(m.ID, cloneMeta(m.Meta))
	t.undo = append(t.undo, memUndo{op: undoMsgAdd, conv: c, msg: memMsg{id: m.ID}})
	return nil
}

// PutTombstone sets the tombstone's kind, creating it if need be.
func (t *memTx) PutTombstone(owner, other string, tomb Tombstone) error {
	_, c := t.lookup(owner, other)
	if c == nil {
		return ErrNotFound
	}
	was, had := c.setTombstone(tomb.ID, tomb.Retracted, false)
	t.undo = append(t.undo, memUndo{op: undoTombSet, conv: c, msg: memMsg{id: tomb.ID}, tombWas: was, tombHad: had})
	return nil
}

// DeleteMessage removes the message and adds its ID to the conversation's
// tombstones, creating the set on the conversation's first delete.
func (t *memTx) DeleteMessage(owner, other string, id uint64) error {
	_, c := t.lookup(owner, other)
	if c == nil {
		return ErrNotFound
	}
	meta := c.metaOf(id)
	e, odd, ok := c.remove(id)
	if !ok {
		return ErrNotFound
	}
	c.setMeta(id, nil)
	t.undo = append(t.undo, memUndo{op: undoMsgDel, conv: c, msg: e, odd: odd, meta: meta})
	if !c.isDeleted(id) {
		c.setTombstone(id, false, false)
		t.undo = append(t.undo, memUndo{op: undoTombSet, conv: c, msg: memMsg{id: id}})
	}
	return nil
}

// memUndo is one entry of the undo log: what to restore, by value, so that
// logging a write allocates nothing once the log has grown.
type memUndo struct {
	op       undoOp
	seq      uint64
	inbox    *memInbox
	inboxRec InboxRecord
	conv     *memConv
	convRec  memConvRec
	msg      memMsg
	odd      [2]string         // msg's Sender and Recipient if msg.dir is dirOdd
	meta     map[string]string // msg's metadata
	tombWas  bool              // undoTombSet: the tombstone's kind before, if tombHad
	tombHad  bool
}

type undoOp uint8

const (
	undoSeq      undoOp = iota // restore seq
	undoInboxAdd               // remove inbox
	undoInboxDel               // put inbox back
	undoInboxRec               // restore inbox.rec = inboxRec
	undoConvAdd                // remove conv from inbox
	undoConvDel                // put conv back into inbox
	undoConvRec                // restore conv.rec = convRec
	undoMsgAdd                 // remove msg.ID from conv
	undoMsgDel                 // put msg back into conv
	undoTombSet                // restore the tombstone of msg.ID in conv: tombWas, or none without tombHad
)

// rollback applies the undo log backwards, so each entry finds the state
// its write left.
func (s *MemoryStore) rollback() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		u := &s.undo[i]
		switch u.op {
		case undoSeq:
			s.seq = u.seq
		case undoInboxAdd:
			s.removeUser(u.inbox.rec.Owner)
		case undoInboxDel:
			s.addUser(u.inbox)
		case undoInboxRec:
			u.inbox.rec = u.inboxRec
		case undoConvAdd:
			s.removeConv(u.inbox, u.conv)
		case undoConvDel:
			u.inbox.addConv(u.conv)
		case undoConvRec:
			u.inbox.setConvRec(u.conv, u.convRec)
		case undoMsgAdd:
			u.conv.remove(u.msg.id)
			u.conv.setMeta(u.msg.id, nil)
		case undoMsgDel:
			u.conv.insert(u.msg, u.odd)
			u.conv.setMeta(u.msg.id, u.meta)
		case undoTombSet:
			u.conv.setTombstone(u.msg.id, u.tombWas, !u.tombHad)
		}
	}
	s.side.rollback()
}
