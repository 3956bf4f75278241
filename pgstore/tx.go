package pgstore

// The transaction of Update: what it knows (records read under lock, or
// written by it), what it has written but not yet sent, and its reads.
// Every read that needs the database takes the locks it needs and sends
// the buffered writes first, in the same pipeline: one round trip, and the
// database then holds exactly what the transaction sees. Reads of records
// it already knows cost nothing.

import (
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/socialkit/messaging"
)

// inboxEntry is an inbox as the transaction sees it.
type inboxEntry struct {
	exists bool
	unread int
	inDB   bool // its row exists as of the last pipeline sent
	put    bool // pending: write the row
	del    bool // pending: delete the row
	// pending: delete its conversations, messages and tombstones, before
	// any write of the transaction that comes after the DeleteInbox.
	reset   bool
	written bool // its row is written by this transaction
	touch   bool // a conversation was created or deleted in it
}

// convEntry is a conversation as the transaction sees it.
type convEntry struct {
	exists         bool
	rec            messaging.ConversationRecord
	inDB, put, del bool
	reset          bool // pending: delete its messages and tombstones
	written, touch bool // touch: a message or tombstone was written in it
}

// msgEntry is a message whose presence the transaction knows.
type msgEntry struct {
	exists   bool
	rec      messaging.MessageRecord
	put, del bool // pending
}

type tx struct {
	s        *Store
	ss       *session
	inboxes  map[string]*inboxEntry
	convs    map[convKey]*convEntry
	msgs     map[msgKey]*msgEntry
	tombs    map[msgKey]bool // tombstones known to exist; true: pending insert
	onCommit []func()

	rootLocked bool            // the inbox_set row is locked
	rootTouch  bool            // an inbox was created or deleted
	convsOf    map[string]bool // owners whose conversations are all locked

	dirtyInboxes map[string]bool
	dirtyConvs   map[convKey]bool
	dirtyMsgs    map[msgKey]bool
	dirtyTombs   map[msgKey]bool
}

func newTx(s *Store, ss *session) *tx {
	return &tx{
		s: s, ss: ss,
		inboxes: make(map[string]*inboxEntry), convs: make(map[convKey]*convEntry),
		msgs: make(map[msgKey]*msgEntry), tombs: make(map[msgKey]bool), convsOf: make(map[string]bool),
		dirtyInboxes: make(map[string]bool), dirtyConvs: make(map[convKey]bool),
		dirtyMsgs: make(map[msgKey]bool), dirtyTombs: make(map[msgKey]bool),
	}
}

// ---------------------------------------------------------------------------
// Locks. See doc.go, "Isolation", for why each read takes the lock it does.

// lockInboxSteps locks the rows of the inboxes among owners that the
// transaction does not know yet, and the inbox set if one of them is
// missing; it records what it finds.
func (t *tx) lockInboxSteps(owners ...string) []step {
	var want [][]byte
	for _, o := range owners {
		if t.inboxes[o] == nil && !containsBytes(want, o) {
			want = append(want, []byte(o))
		}
	}
	if len(want) == 0 {
		return nil
	}
	sortBytes(want)
	found := make(map[string]int64)
	steps := []step{{
		sql:   t.s.q.lockInboxes,
		args:  []any{want},
		reset: func() { clear(found) },
		row: func(r pgx.Rows) error {
			var owner []byte
			var unread int64
			if err := r.Scan(&owner, &unread); err != nil {
				return err
			}
			found[string(owner)] = unread
			return nil
		},
		done: func(pgconn.CommandTag) error {
			for _, o := range want {
				unread, ok := found[string(o)]
				t.inboxes[string(o)] = &inboxEntry{exists: ok, inDB: ok, unread: int(unread)}
			}
			return nil
		},
	}}
	if !t.rootLocked {
		steps = append(steps, step{
			sql:  t.s.q.lockRootIfMissing,
			args: []any{want, len(want)},
			row:  func(pgx.Rows) error { t.rootLocked = true; return nil },
		})
	}
	return steps
}

// lockPairSteps locks both inboxes of a pair and both sides of its
// conversation, in one order for every transaction (inboxes by owner, then
// conversations by owner and other, then the inbox set), unless the
// transaction knows them already.
func (t *tx) lockPairSteps(owner, other string) []step {
	k, back := convKey{owner, other}, convKey{other, owner}
	steps := t.lockInboxSteps(owner, other)
	if t.convs[k] != nil && t.convs[back] != nil {
		return steps
	}
	found := make(map[convKey]messaging.ConversationRecord)
	return append(steps, step{
		sql:   t.s.q.lockPair,
		args:  []any{[]byte(owner), []byte(other)},
		reset: func() { clear(found) },
		row: func(r pgx.Rows) error {
			var c convRow
			if err := r.Scan(c.dest()...); err != nil {
				return err
			}
			rec := c.record()
			found[convKey{rec.Owner, rec.Other}] = rec
			return nil
		},
		done: func(pgconn.CommandTag) error {
			for _, key := range []convKey{k, back} {
				if t.convs[key] == nil {
					rec, ok := found[key]
					t.convs[key] = &convEntry{exists: ok, inDB: ok, rec: rec}
				}
			}
			return nil
		},
	})
}

// pairSteps sends the buffered writes and locks the pair (owner, other).
func (t *tx) pairSteps(owner, other string) []step {
	return append(t.flushSteps(false), t.lockPairSteps(owner, other)...)
}

// knowPair makes sure the transaction knows (and holds the locks of) the
// pair, at the cost of a round trip if it does not.
func (t *tx) knowPair(owner, other string) error {
	steps := t.lockPairSteps(owner, other)
	if len(steps) == 0 {
		return nil
	}
	if err := t.ss.run(append(t.flushSteps(false), steps...)...); err != nil {
		return wrapf(err, "lock conversation %q/%q", owner, other)
	}
	return nil
}

// knowInbox is knowPair for one inbox.
func (t *tx) knowInbox(owner string) error {
	steps := t.lockInboxSteps(owner)
	if len(steps) == 0 {
		return nil
	}
	if err := t.ss.run(append(t.flushSteps(false), steps...)...); err != nil {
		return wrapf(err, "lock inbox %q", owner)
	}
	return nil
}

func containsBytes(list [][]byte, s string) bool {
	for _, b := range list {
		if string(b) == s {
			return true
		}
	}
	return false
}

func sortBytes(list [][]byte) {
	for i := 1; i < len(list); i++ {
		for j := i; j > 0 && string(list[j]) < string(list[j-1]); j-- {
			list[j], list[j-1] = list[j-1], list[j]
		}
	}
}

// ---------------------------------------------------------------------------
// Reads

// Inbox returns owner's inbox, locking its row (or, if it is missing, the
// inbox set) until the transaction ends.
func (t *tx) Inbox(owner string) (messaging.InboxRecord, error) {
	if err := t.knowInbox(owner); err != nil {
		return messaging.InboxRecord{}, err
	}
	e := t.inboxes[owner]
	if !e.exists {
		return messaging.InboxRecord{}, messaging.ErrNotFound
	}
	return messaging.InboxRecord{Owner: owner, Unread: e.unread}, nil
}

// Users locks the inbox set: no inbox is created or deleted until the
// transaction ends.
func (t *tx) Users(after string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	steps := t.flushSteps(false)
	if !t.rootLocked {
		steps = append(steps, step{sql: t.s.q.lockRoot, row: func(pgx.Rows) error { t.rootLocked = true; return nil }})
	}
	var out []string
	if err := t.ss.run(append(steps, t.s.usersStep(after, limit, &out))...); err != nil {
		return nil, wrapf(err, "list users")
	}
	return out, nil
}

// Conversation returns owner's conversation with other. It locks both
// sides of the conversation and both inboxes at once, in one order: a send
// reads all four, and two sends in opposite directions then never wait for
// each other in a cycle.
func (t *tx) Conversation(owner, other string) (messaging.ConversationRecord, error) {
	if err := t.knowPair(owner, other); err != nil {
		return messaging.ConversationRecord{}, err
	}
	e := t.convs[convKey{owner, other}]
	if !e.exists {
		return messaging.ConversationRecord{}, messaging.ErrNotFound
	}
	return e.rec, nil
}

// Conversations locks the inbox and every conversation in it: a range
// read is protected from a conversation moving into it. This costs a lock
// per conversation of the inbox; package messaging never lists
// conversations inside Update.
func (t *tx) Conversations(owner string, after *messaging.ConversationKey, limit int) ([]messaging.ConversationRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	steps := append(t.flushSteps(false), t.lockInboxSteps(owner)...)
	if !t.convsOf[owner] {
		steps = append(steps, step{sql: t.s.q.lockInboxConvs, args: []any{[]byte(owner)},
			row: func(pgx.Rows) error { t.convsOf[owner] = true; return nil }})
	}
	var out []messaging.ConversationRecord
	if err := t.ss.run(append(steps, t.s.convsStep(owner, after, limit, &out))...); err != nil {
		return nil, wrapf(err, "list conversations of %q", owner)
	}
	return out, nil
}

// Message reads are protected by the conversation's row lock: every write
// of a message also writes its conversation's row.
func (t *tx) Message(owner, other string, id uint64) (messaging.MessageRecord, error) {
	k := msgKey{convKey{owner, other}, id}
	if e := t.msgs[k]; e != nil {
		if !e.exists {
			return messaging.MessageRecord{}, messaging.ErrNotFound
		}
		return e.rec, nil
	}
	if c := t.convs[k.conv]; c != nil && !c.exists {
		return messaging.MessageRecord{}, messaging.ErrNotFound
	}
	var rec messaging.MessageRecord
	var found bool
	if err := t.ss.run(append(t.pairSteps(owner, other), t.s.msgStep(k, &rec, &found))...); err != nil {
		return rec, wrapf(err, "read message %d of %q/%q", id, owner, other)
	}
	t.msgs[k] = &msgEntry{exists: found, rec: rec}
	if !found {
		return rec, messaging.ErrNotFound
	}
	return rec, nil
}

func (t *tx) Messages(owner, other string, after *messaging.MessageKey, reverse bool, limit int) ([]messaging.MessageRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	k := convKey{owner, other}
	if c := t.convs[k]; c != nil && !c.exists {
		return nil, nil
	}
	var out []messaging.MessageRecord
	if err := t.ss.run(append(t.pairSteps(owner, other), t.s.msgsStep(k, after, reverse, limit, &out))...); err != nil {
		return nil, wrapf(err, "list messages of %q/%q", owner, other)
	}
	return out, nil
}

func (t *tx) MessagesByID(owner, other string, afterID uint64, limit int) ([]messaging.MessageRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	k := convKey{owner, other}
	if c := t.convs[k]; c != nil && !c.exists {
		return nil, nil
	}
	var out []messaging.MessageRecord
	if err := t.ss.run(append(t.pairSteps(owner, other), t.s.msgsByIDStep(k, afterID, limit, &out))...); err != nil {
		return nil, wrapf(err, "list messages of %q/%q by ID", owner, other)
	}
	return out, nil
}

func (t *tx) Deleted(owner, other string, id uint64) (bool, error) {
	k := msgKey{convKey{owner, other}, id}
	if _, ok := t.tombs[k]; ok {
		return true, nil
	}
	if c := t.convs[k.conv]; c != nil && !c.exists {
		return false, nil
	}
	var deleted bool
	if err := t.ss.run(append(t.pairSteps(owner, other), t.s.tombStep(k, &deleted))...); err != nil {
		return false, wrapf(err, "read tombstone %d of %q/%q", id, owner, other)
	}
	if deleted {
		t.tombs[k] = false
	}
	return deleted, nil
}

// NextID takes the next value of the store's sequence. If it is the
// transaction's first statement, the snapshot is taken as it starts, so
// every transaction the snapshot shows took its IDs before this one: see
// doc.go, "Isolation".
func (t *tx) NextID() (uint64, error) {
	var id int64
	if err := t.ss.run(step{sql: t.s.q.nextID, row: func(r pgx.Rows) error { return r.Scan(&id) }}); err != nil {
		return 0, wrapf(err, "next message ID")
	}
	return uint64(id), nil
}

func (t *tx) OnCommit(f func()) { t.onCommit = append(t.onCommit, f) }
