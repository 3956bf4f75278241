package pgstore

// The transaction of Update: what it knows (records it read or wrote),
// what it has written but not yet sent, and which records fn saw, which
// the commit locks. Reads are snapshot reads that take no lock; a read
// that needs the database sends the buffered writes first, in the same
// pipeline: one round trip, and the database then holds exactly what the
// transaction sees. Reads of records it already knows cost nothing.

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
	seen    bool // fn read the record: the commit locks its row

	dbExists bool // as read from the snapshot, for a run of fn again
	dbUnread int
}

// convEntry is a conversation as the transaction sees it.
type convEntry struct {
	exists         bool
	rec            messaging.ConversationRecord
	inDB, put, del bool
	reset          bool // pending: delete its messages and tombstones
	written, touch bool // touch: a message or tombstone was written in it
	seen           bool // fn read it, or something in it

	dbExists bool // as read from the snapshot, for a run of fn again
	dbRec    messaging.ConversationRecord
}

// readInbox is the entry of an inbox as read from the snapshot.
func readInbox(exists bool, unread int) inboxEntry {
	return inboxEntry{exists: exists, inDB: exists, unread: unread, dbExists: exists, dbUnread: unread}
}

// readConv is the entry of a conversation as read from the snapshot.
func readConv(exists bool, rec messaging.ConversationRecord) convEntry {
	return convEntry{exists: exists, inDB: exists, rec: rec, dbExists: exists, dbRec: rec}
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

	rootSeen  bool            // fn relied on the set of inboxes
	rootTouch bool            // an inbox was created or deleted
	convsOf   map[string]bool // owners whose conversations fn listed

	dirtyInboxes map[string]bool
	dirtyConvs   map[convKey]bool
	dirtyMsgs    map[msgKey]bool
	dirtyTombs   map[msgKey]bool

	ids    idGuesses
	places queuePlaces // see queue.go
}

func newTx(s *Store, ss *session) *tx {
	return &tx{
		s: s, ss: ss,
		inboxes: make(map[string]*inboxEntry), convs: make(map[convKey]*convEntry),
		msgs: make(map[msgKey]*msgEntry), tombs: make(map[msgKey]bool), convsOf: make(map[string]bool),
		dirtyInboxes: make(map[string]bool), dirtyConvs: make(map[convKey]bool),
		dirtyMsgs: make(map[msgKey]bool), dirtyTombs: make(map[msgKey]bool),
		places: queuePlaces{q: s.queue},
	}
}

// ---------------------------------------------------------------------------
// Knowing records. A pair of users is read whole (both inboxes, both sides
// of their conversation) the first time fn touches it: a send reads all
// four, and the next three reads then cost nothing.

// inboxSteps reads the inboxes among owners that the transaction does not
// know yet.
func (t *tx) inboxSteps(owners ...string) []step {
	var want [][]byte
	for _, o := range owners {
		if t.inboxes[o] == nil && !containsBytes(want, o) {
			want = append(want, []byte(o))
		}
	}
	if len(want) == 0 {
		return nil
	}
	t.places.enter(owners, nil)
	found := make(map[string]int64)
	return []step{{
		sql:   t.s.q.readInboxes,
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
				e := readInbox(ok, int(unread))
				t.inboxes[string(o)] = &e
			}
			return nil
		},
	}}
}

// pairSteps reads what the transaction does not know yet of the pair
// (owner, other), in one statement that also takes the guessed message
// IDs (nextid.go): a send's first round trip is BEGIN and this.
func (t *tx) pairSteps(owner, other string) []step {
	k, back := convKey{owner, other}, convKey{other, owner}
	if t.inboxes[owner] != nil && t.inboxes[other] != nil && t.convs[k] != nil && t.convs[back] != nil {
		return nil
	}
	if len(t.ids.guesses)+len(t.ids.real) > 0 { // a send: see queue.go
		t.places.enter([]string{other}, []string{owner})
	} else {
		t.places.enter([]string{owner}, []string{other})
	}
	inboxes := make(map[string]int64, 2)
	convs := make(map[convKey]messaging.ConversationRecord, 2)
	return []step{{
		sql:      t.s.q.readPair,
		args:     []any{[]byte(owner), []byte(other), 0},
		takesIDs: true,
		reset: func() {
			clear(inboxes)
			clear(convs)
			t.ids.got = t.ids.got[:0]
		},
		row: func(r pgx.Rows) error {
			var kind int16
			var c convRow
			if err := r.Scan(append([]any{&kind}, c.dest()...)...); err != nil {
				return err
			}
			switch kind {
			case 0:
				t.ids.got = append(t.ids.got, c.messages)
			case 1:
				inboxes[string(c.owner)] = c.messages
			default:
				rec := c.record()
				convs[convKey{rec.Owner, rec.Other}] = rec
			}
			return nil
		},
		done: func(pgconn.CommandTag) error {
			for _, o := range []string{owner, other} {
				if t.inboxes[o] == nil {
					unread, ok := inboxes[o]
					e := readInbox(ok, int(unread))
					t.inboxes[o] = &e
				}
			}
			for _, key := range []convKey{k, back} {
				if t.convs[key] == nil {
					rec, ok := convs[key]
					e := readConv(ok, rec)
					if t.inboxes[key.owner].reset {
						// A DeleteInbox not sent yet deletes it, as it did
						// everything else the transaction knew of the inbox.
						e.exists, e.inDB, e.rec = false, false, messaging.ConversationRecord{}
					}
					t.convs[key] = &e
				}
			}
			return nil
		},
	}}
}

// readSteps are the statements a read of the pair's messages goes after:
// the buffered writes, then what the transaction does not know of the pair.
func (t *tx) readSteps(owner, other string) []step {
	return append(t.flushSteps(false), t.pairSteps(owner, other)...)
}

// knowPair makes sure the transaction knows the pair, at the cost of a
// round trip if it does not. The buffered writes stay buffered: a record
// the transaction wrote it knows already, so they cannot change what this
// reads, and sending them now would take their locks out of the common
// order (doc.go, "Deadlocks").
func (t *tx) knowPair(owner, other string) error {
	steps := t.pairSteps(owner, other)
	if len(steps) == 0 {
		return nil
	}
	if err := t.run(steps...); err != nil {
		return wrapf(err, "read conversation %q/%q", owner, other)
	}
	return nil
}

// knowInbox is knowPair for one inbox.
func (t *tx) knowInbox(owner string) error {
	steps := t.inboxSteps(owner)
	if len(steps) == 0 {
		return nil
	}
	if err := t.run(steps...); err != nil {
		return wrapf(err, "read inbox %q", owner)
	}
	return nil
}

// seeInbox records that fn relied on owner's inbox record, or on its
// absence; the commit locks the row, or the inbox set.
func (t *tx) seeInbox(owner string) {
	if e := t.inboxes[owner]; e.exists {
		e.seen = true
	} else {
		t.rootSeen = true
	}
}

// seeConv records that fn relied on the conversation k or on something in
// it (its messages and tombstones are protected by its row), or on its
// absence (protected by its inbox's row).
func (t *tx) seeConv(k convKey) {
	if c := t.convs[k]; c.exists {
		c.seen = true
	} else {
		t.seeInbox(k.owner)
	}
}

func containsBytes(list [][]byte, s string) bool {
	for _, b := range list {
		if string(b) == s {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Reads

// Inbox returns owner's inbox.
func (t *tx) Inbox(owner string) (messaging.InboxRecord, error) {
	if err := t.knowInbox(owner); err != nil {
		return messaging.InboxRecord{}, err
	}
	t.seeInbox(owner)
	e := t.inboxes[owner]
	if !e.exists {
		return messaging.InboxRecord{}, messaging.ErrNotFound
	}
	return messaging.InboxRecord{Owner: owner, Unread: e.unread}, nil
}

// Users relies on the set of inboxes: the commit locks it.
func (t *tx) Users(after string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []string
	if err := t.run(append(t.flushSteps(false), t.s.usersStep(after, limit, &out))...); err != nil {
		return nil, wrapf(err, "list users")
	}
	t.rootSeen = true
	return out, nil
}

// Conversation returns owner's conversation with other, reading the whole
// pair the first time.
func (t *tx) Conversation(owner, other string) (messaging.ConversationRecord, error) {
	if err := t.knowPair(owner, other); err != nil {
		return messaging.ConversationRecord{}, err
	}
	k := convKey{owner, other}
	t.seeConv(k)
	if e := t.convs[k]; e.exists {
		return e.rec, nil
	}
	return messaging.ConversationRecord{}, messaging.ErrNotFound
}

// Conversations relies on every conversation of the inbox: a range read
// is protected from a conversation moving into it only if the commit locks
// them all. That costs a lock per conversation of the inbox; package
// messaging never lists conversations inside Update.
func (t *tx) Conversations(owner string, after *messaging.ConversationKey, limit int) ([]messaging.ConversationRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	steps := append(t.flushSteps(false), t.inboxSteps(owner)...)
	var out []messaging.ConversationRecord
	if err := t.run(append(steps, t.s.convsStep(owner, after, limit, &out))...); err != nil {
		return nil, wrapf(err, "list conversations of %q", owner)
	}
	t.seeInbox(owner)
	if t.inboxes[owner].exists {
		t.convsOf[owner] = true
	}
	return out, nil
}

// Message relies on the conversation's row: every write of a message also
// writes (or touches) it.
func (t *tx) Message(owner, other string, id uint64) (messaging.MessageRecord, error) {
	k := msgKey{convKey{owner, other}, id}
	if e := t.msgs[k]; e != nil {
		t.seeConv(k.conv)
		if !e.exists {
			return messaging.MessageRecord{}, messaging.ErrNotFound
		}
		return e.rec, nil
	}
	if c := t.convs[k.conv]; c != nil && !c.exists {
		t.seeConv(k.conv)
		return messaging.MessageRecord{}, messaging.ErrNotFound
	}
	var rec messaging.MessageRecord
	var found bool
	if err := t.run(append(t.readSteps(owner, other), t.s.msgStep(k, &rec, &found))...); err != nil {
		return rec, wrapf(err, "read message %d of %q/%q", id, owner, other)
	}
	t.seeConv(k.conv)
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
	var out []messaging.MessageRecord
	if c := t.convs[k]; c == nil || c.exists {
		if err := t.run(append(t.readSteps(owner, other), t.s.msgsStep(k, after, reverse, limit, &out))...); err != nil {
			return nil, wrapf(err, "list messages of %q/%q", owner, other)
		}
	}
	t.seeConv(k)
	return out, nil
}

func (t *tx) MessagesByID(owner, other string, afterID uint64, limit int) ([]messaging.MessageRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	k := convKey{owner, other}
	var out []messaging.MessageRecord
	if c := t.convs[k]; c == nil || c.exists {
		if err := t.run(append(t.readSteps(owner, other), t.s.msgsByIDStep(k, afterID, limit, &out))...); err != nil {
			return nil, wrapf(err, "list messages of %q/%q by ID", owner, other)
		}
	}
	t.seeConv(k)
	return out, nil
}

func (t *tx) Deleted(owner, other string, id uint64) (bool, error) {
	k := msgKey{convKey{owner, other}, id}
	if _, ok := t.tombs[k]; ok {
		t.seeConv(k.conv)
		return true, nil
	}
	var deleted bool
	if c := t.convs[k.conv]; c == nil || c.exists {
		if err := t.run(append(t.readSteps(owner, other), t.s.tombStep(k, &deleted))...); err != nil {
			return false, wrapf(err, "read tombstone %d of %q/%q", id, owner, other)
		}
	}
	t.seeConv(k.conv)
	if deleted {
		t.tombs[k] = false
	}
	return deleted, nil
}

// OnCommit registers f to run after the commit, in commit order.
func (t *tx) OnCommit(f func()) { t.onCommit = append(t.onCommit, f) }
