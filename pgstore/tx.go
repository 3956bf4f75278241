package pgstore

// The transaction of Update: what it knows (records it read or wrote),
// what it has written but not yet sent, and which records fn saw, which
// the commit locks. Reads are snapshot reads that take no lock; a read
// that needs the database sends the buffered writes first, in the same
// pipeline: one round trip, and the database then holds exactly what the
// transaction sees. Reads of records it already knows cost nothing.

import (
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/socialkit/messaging"
)

// userEntry is a user's row as the transaction sees it: the inbox, if
// there is one, and the bounds of the user's event stream. The row exists
// while either does.
type userEntry struct {
	userRow
	// unknown: the stream's first event and count are known only to the
	// database, which finds them from the events (streams.go).
	unknown bool
	inDB    bool // the row exists as of the last pipeline sent
	dirty   bool // pending: write the row (insert, update or delete)
	// pending: delete its conversations, messages and tombstones, before
	// any write of the transaction that comes after the DeleteInbox.
	reset   bool
	written bool // its row is written by this transaction
	touch   bool // something the row protects was written: touch it at commit
	seen    bool // fn relied on what the row protects: the commit locks it
	// updatedWith: the flush updated it with the row before it.
	updatedWith bool

	db     userRow // as read from the snapshot, for a run of fn again
	dbInDB bool
}

// needed reports whether the user's row must exist.
func (e *userEntry) needed() bool { return e.inbox || e.evLast != 0 }

// readUser is the entry of a user as read from the snapshot.
func readUser(inDB bool, row userRow) userEntry {
	return userEntry{userRow: row, inDB: inDB, db: row, dbInDB: inDB}
}

// convEntry is a conversation as the transaction sees it.
type convEntry struct {
	exists         bool
	rec            messaging.ConversationRecord
	inDB, put, del bool
	reset          bool // pending: delete its messages and tombstones
	written, touch bool // touch: a message or tombstone was written in it
	seen           bool // fn read it, or something in it
	updatedWith    bool // the flush updated it with the side before it

	dbExists bool // as read from the snapshot, for a run of fn again
	dbRec    messaging.ConversationRecord
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

// tombEntry is a tombstone the transaction knows to exist.
type tombEntry struct {
	retracted bool
	kindKnown bool // retracted is known (Deleted reads only existence)
	put       bool // pending
}

type tx struct {
	s        *Store
	ss       *session
	users    map[string]*userEntry
	convs    map[convKey]*convEntry
	msgs     map[msgKey]*msgEntry
	tombs    map[msgKey]*tombEntry
	blocks   map[messaging.Block]*blockEntry
	idems    map[idemKey]*idemEntry
	evOps    map[string][]evOp // pending writes of events, by user, in order
	grown    map[string]uint64 // streams written, with their last Seq: to notify of
	onCommit []func()

	rootSeen  bool            // fn relied on the set of inboxes (or of users, blocks, streams)
	rootTouch bool            // that set changed
	convsOf   map[string]bool // owners whose conversations fn listed

	dirtyUsers map[string]bool
	dirtyConvs map[convKey]bool
	dirtyMsgs  map[msgKey]bool
	dirtyTombs map[msgKey]bool

	ids     idTaker
	guesses guesses
	places  queuePlaces // see queue.go
}

func newTx(s *Store, ss *session) *tx {
	return &tx{
		s: s, ss: ss,
		users: make(map[string]*userEntry, 2), convs: make(map[convKey]*convEntry, 2),
		msgs: make(map[msgKey]*msgEntry, 2), tombs: make(map[msgKey]*tombEntry), convsOf: make(map[string]bool),
		blocks: make(map[messaging.Block]*blockEntry, 2), idems: make(map[idemKey]*idemEntry), evOps: make(map[string][]evOp, 2),
		dirtyUsers: make(map[string]bool, 2), dirtyConvs: make(map[convKey]bool, 2),
		dirtyMsgs: make(map[msgKey]bool, 2), dirtyTombs: make(map[msgKey]bool),
		places: queuePlaces{q: s.queue},
	}
}

// reset makes t as newTx made it, keeping what it allocated, for the next
// Update. Nothing refers to t once its attempt has returned.
func (t *tx) reset() {
	ss := t.ss
	*ss = session{s: ss.s, begin: ss.begin, batch: ss.batch}
	ss.batch.QueuedQueries = ss.batch.QueuedQueries[:0]
	clear(t.users)
	clear(t.convs)
	clear(t.msgs)
	clear(t.tombs)
	clear(t.blocks)
	clear(t.idems)
	clear(t.evOps)
	clear(t.convsOf)
	clear(t.dirtyUsers)
	clear(t.dirtyConvs)
	clear(t.dirtyMsgs)
	clear(t.dirtyTombs)
	t.grown = nil
	t.onCommit = nil
	t.rootSeen, t.rootTouch = false, false
	t.ids = idTaker{taken: t.ids.taken[:0]}
	t.guesses = guesses{pending: t.guesses.pending[:0]}
	t.places.held = t.places.held[:0]
}

// ---------------------------------------------------------------------------
// Knowing records. A pair of users is read whole (both user rows, both
// sides of their conversation, the blocks between them) the first time fn
// touches it: a send reads all of it, and the next reads then cost
// nothing.

// userSteps reads the user rows among owners that the transaction does not
// know yet.
func (t *tx) userSteps(owners ...string) []step {
	var want [][]byte
	for _, o := range owners {
		if t.users[o] == nil && !containsBytes(want, o) {
			want = append(want, []byte(o))
		}
	}
	if len(want) == 0 {
		return nil
	}
	t.places.enter(owners, nil)
	found := make(map[string]userRow)
	return []step{{
		sql:   t.s.q.readUsers,
		args:  []any{want},
		reset: func() { clear(found) },
		row: func(r pgx.Rows) error {
			var owner []byte
			var row userRow
			var unread, first, last, phys int64
			if err := r.Scan(&owner, &row.inbox, &unread, &first, &last, &row.evCount, &phys); err != nil {
				return err
			}
			row.unread, row.evFirst, row.evLast, row.evPhys = int(unread), decodeID(first), decodeID(last), decodeID(phys)
			found[string(owner)] = row
			return nil
		},
		done: func(pgconn.CommandTag) error {
			for _, o := range want {
				if t.users[string(o)] == nil {
					row, ok := found[string(o)]
					e := readUser(ok, row)
					t.users[string(o)] = &e
				}
			}
			return nil
		},
	}}
}

// pairSteps reads what the transaction does not know yet of the pair
// (owner, other), in one statement that also takes spare message IDs for
// NextID (see nextid.go).
func (t *tx) pairSteps(owner, other string, spare int) []step {
	k, back := convKey{owner, other}, convKey{other, owner}
	b1, b2 := messaging.Block{User: owner, Other: other}, messaging.Block{User: other, Other: owner}
	if t.users[owner] != nil && t.users[other] != nil && t.convs[k] != nil && t.convs[back] != nil &&
		t.blocks[b1] != nil && t.blocks[b2] != nil {
		return nil
	}
	switch {
	case t.s.writesBoth.Load():
		t.places.enter([]string{owner, other}, nil)
	case spare > 0: // a send: see queue.go
		t.places.enter([]string{other}, []string{owner})
	default:
		t.places.enter([]string{owner}, []string{other})
	}
	var users [2]*userRow
	var convs [2]*messaging.ConversationRecord
	var blocks [2]bool
	var id int64
	return []step{{
		sql:  t.s.q.readPair,
		args: []any{[]byte(owner), []byte(other), spare},
		reset: func() {
			users, convs, blocks, id = [2]*userRow{}, [2]*messaging.ConversationRecord{}, [2]bool{}, 0
		},
		row: func(r pgx.Rows) error {
			vals, err := rawValues(r)
			if err != nil {
				return err
			}
			raw := rawRow{vals: vals}
			for i := range users {
				if !raw.null(6) {
					users[i] = new(userRow)
					if err := users[i].decodeRaw(&raw); err != nil {
						return err
					}
				}
			}
			for i := range convs {
				if !raw.null(18) {
					var c convRow
					if err := c.decodeRaw(&raw); err != nil {
						return err
					}
					rec, err := c.record()
					if err != nil {
						return err
					}
					convs[i] = &rec
				}
			}
			blocks[0], blocks[1] = raw.bool(), raw.bool()
			if !raw.null(1) {
				id = raw.int64()
			}
			return raw.end()
		},
		done: func(pgconn.CommandTag) error {
			if id != 0 {
				t.ids.took([]int64{id})
			}
			for i, o := range []string{owner, other} {
				if t.users[o] == nil {
					var row userRow
					if users[i] != nil {
						row = *users[i]
					}
					e := readUser(users[i] != nil, row)
					t.users[o] = &e
				}
			}
			for i, key := range []convKey{k, back} {
				if t.convs[key] == nil {
					var rec messaging.ConversationRecord
					if convs[i] != nil {
						rec = *convs[i]
					}
					e := readConv(convs[i] != nil, rec)
					if t.users[key.owner].reset {
						// A DeleteInbox not sent yet deletes it, as it did
						// everything else the transaction knew of the inbox.
						e.exists, e.inDB, e.rec = false, false, messaging.ConversationRecord{}
					}
					t.convs[key] = &e
				}
			}
			for i, b := range []messaging.Block{b1, b2} {
				if t.blocks[b] == nil {
					t.blocks[b] = &blockEntry{exists: blocks[i], dbExists: blocks[i]}
				}
			}
			return nil
		},
	}}
}

// readSteps are the statements a read of the pair's messages goes after:
// the buffered writes, then what the transaction does not know of the pair.
func (t *tx) readSteps(owner, other string) []step {
	return append(t.flushSteps(false), t.pairSteps(owner, other, 0)...)
}

// pointSteps are the statements a read of one message or tombstone goes
// after. The buffered writes stay buffered (see knowPair): the
// transaction knows every message and tombstone it wrote, and a
// conversation it deleted is empty to it, unless it was created again
// before the deletion was sent.
func (t *tx) pointSteps(owner, other string) []step {
	c, u := t.convs[convKey{owner, other}], t.users[owner]
	if c != nil && c.reset || u != nil && u.reset {
		return t.readSteps(owner, other)
	}
	return t.pairSteps(owner, other, 0)
}

// knowPair makes sure the transaction knows the pair, at the cost of a
// round trip if it does not. The buffered writes stay buffered: a record
// the transaction wrote it knows already, so they cannot change what this
// reads, and sending them now would take their locks out of the common
// order (doc.go, "Deadlocks").
func (t *tx) knowPair(owner, other string) error {
	return t.knowPairSpare(owner, other, 0)
}

func (t *tx) knowPairSpare(owner, other string, spare int) error {
	steps := t.pairSteps(owner, other, spare)
	if len(steps) == 0 {
		return nil
	}
	if err := t.run(steps...); err != nil {
		return wrapf(err, "read conversation %q/%q", owner, other)
	}
	return nil
}

// knowUser is knowPair for one user.
func (t *tx) knowUser(owner string) error {
	steps := t.userSteps(owner)
	if len(steps) == 0 {
		return nil
	}
	if err := t.run(steps...); err != nil {
		return wrapf(err, "read inbox %q", owner)
	}
	return nil
}

// seeInbox records that fn relied on owner's inbox record, or on its
// absence; the commit locks the row, or the inbox set, which creating or
// deleting an inbox touches.
func (t *tx) seeInbox(owner string) {
	if e := t.users[owner]; e.inbox && e.inDB {
		e.seen = true
	} else {
		t.rootSeen = true
	}
}

// seeUser records that fn relied on what owner's row protects besides the
// inbox (the stream, the blocks of owner and against owner): the commit
// locks the row or, if there is none, the set of users, which creating
// one touches.
func (t *tx) seeUser(owner string) {
	if e := t.users[owner]; e.inDB {
		e.seen = true
	} else {
		t.rootSeen = true
	}
}

// touchUser records a write of something owner's row protects: the commit
// touches the row; a user without one is covered by the touch of the set
// of users, which the caller makes.
func (t *tx) touchUser(owner string) {
	if e := t.users[owner]; e.inDB {
		e.touch = true
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

// cloneMsg copies what a message record shares with its copies: the
// caller owns what it gets, and what it passes in.
func cloneMsg(m messaging.MessageRecord) messaging.MessageRecord {
	if m.Meta != nil {
		m.Meta = maps.Clone(m.Meta)
	}
	return m
}

func cloneConv(c messaging.ConversationRecord) messaging.ConversationRecord {
	c.Last = cloneMsg(c.Last)
	return c
}

// ---------------------------------------------------------------------------
// Reads

// Inbox returns owner's inbox.
func (t *tx) Inbox(owner string) (messaging.InboxRecord, error) {
	if err := t.knowUser(owner); err != nil {
		return messaging.InboxRecord{}, err
	}
	t.seeInbox(owner)
	e := t.users[owner]
	if !e.inbox {
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
		return cloneConv(e.rec), nil
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
	steps := append(t.flushSteps(false), t.userSteps(owner)...)
	var out []messaging.ConversationRecord
	if err := t.run(append(steps, t.s.convsStep(owner, after, limit, &out))...); err != nil {
		return nil, wrapf(err, "list conversations of %q", owner)
	}
	t.seeInbox(owner)
	if t.users[owner].inbox {
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
		return cloneMsg(e.rec), nil
	}
	if c := t.convs[k.conv]; c != nil && !c.exists {
		t.seeConv(k.conv)
		return messaging.MessageRecord{}, messaging.ErrNotFound
	}
	var rec messaging.MessageRecord
	var found bool
	if err := t.run(append(t.pointSteps(owner, other), t.s.msgStep(k, &rec, &found))...); err != nil {
		return rec, wrapf(err, "read message %d of %q/%q", id, owner, other)
	}
	t.seeConv(k.conv)
	t.msgs[k] = &msgEntry{exists: found, rec: cloneMsg(rec)}
	if !found {
		return rec, messaging.ErrNotFound
	}
	return rec, nil
}

// Messages reads the page from the database, and lays the transaction's
// buffered writes of the conversation's messages over it: they stay
// buffered, so that package messaging, which reads the newest message
// after deleting one, sends no write before its commit pipeline (whose
// locks go in one order: doc.go, "Deadlocks").
func (t *tx) Messages(owner, other string, after *messaging.MessageKey, reverse bool, limit int) ([]messaging.MessageRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	k := convKey{owner, other}
	inRange := func(m messaging.MessageRecord) bool {
		switch c := m.Key().Compare(*after); {
		case reverse:
			return c < 0
		default:
			return c > 0
		}
	}
	if after == nil {
		inRange = func(messaging.MessageRecord) bool { return true }
	}
	cmp := func(a, b messaging.MessageRecord) int {
		if reverse {
			return b.Key().Compare(a.Key())
		}
		return a.Key().Compare(b.Key())
	}
	out, err := t.overlaid(k, limit, inRange, cmp, func(n int, out *[]messaging.MessageRecord) step {
		return t.s.msgsStep(k, after, reverse, n, out)
	})
	if err != nil {
		return nil, wrapf(err, "list messages of %q/%q", owner, other)
	}
	return out, nil
}

func (t *tx) MessagesByID(owner, other string, afterID uint64, limit int) ([]messaging.MessageRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	k := convKey{owner, other}
	out, err := t.overlaid(k, limit, func(m messaging.MessageRecord) bool { return m.ID > afterID },
		func(a, b messaging.MessageRecord) int { return cmpUint64(a.ID, b.ID) },
		func(n int, out *[]messaging.MessageRecord) step { return t.s.msgsByIDStep(k, afterID, n, out) })
	if err != nil {
		return nil, wrapf(err, "list messages of %q/%q by ID", owner, other)
	}
	return out, nil
}

// overlaid reads up to limit messages of the conversation k that inRange
// selects, in cmp's order: those of the database (read by the step that
// read makes, for up to n of them) that the transaction has not written,
// and those it has written and not deleted. Reading n = limit + the number
// written leaves at least limit after those are dropped, or all there are.
// A conversation deleted by a write not sent yet is read after it.
func (t *tx) overlaid(k convKey, limit int, inRange func(messaging.MessageRecord) bool,
	cmp func(a, b messaging.MessageRecord) int, read func(n int, out *[]messaging.MessageRecord) step) ([]messaging.MessageRecord, error) {
	var out []messaging.MessageRecord
	c := t.convs[k]
	if c != nil && !c.exists {
		t.seeConv(k)
		return nil, nil
	}
	if c != nil && c.reset || t.users[k.owner] != nil && t.users[k.owner].reset {
		if err := t.run(append(t.readSteps(k.owner, k.other), read(limit, &out))...); err != nil {
			return nil, err
		}
		t.seeConv(k)
		return out, nil
	}
	var written []msgKey
	for mk := range t.dirtyMsgs {
		if mk.conv == k {
			written = append(written, mk)
		}
	}
	if err := t.run(append(t.pairSteps(k.owner, k.other, 0), read(limit+len(written), &out))...); err != nil {
		return nil, err
	}
	t.seeConv(k)
	if len(written) == 0 {
		return out, nil
	}
	out = slices.DeleteFunc(out, func(m messaging.MessageRecord) bool { return t.dirtyMsgs[msgKey{k, m.ID}] })
	for _, mk := range written {
		if e := t.msgs[mk]; e.put && inRange(e.rec) {
			out = append(out, cloneMsg(e.rec))
		}
	}
	slices.SortFunc(out, cmp)
	return out[:min(len(out), limit)], nil
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (t *tx) Deleted(owner, other string, id uint64) (bool, error) {
	k := msgKey{convKey{owner, other}, id}
	if t.tombs[k] != nil {
		t.seeConv(k.conv)
		return true, nil
	}
	var deleted bool
	if c := t.convs[k.conv]; c == nil || c.exists {
		if err := t.run(append(t.pointSteps(owner, other), t.s.tombStep(k, &deleted))...); err != nil {
			return false, wrapf(err, "read tombstone %d of %q/%q", id, owner, other)
		}
	}
	t.seeConv(k.conv)
	if deleted {
		t.tombs[k] = &tombEntry{}
	}
	return deleted, nil
}

// Tombstones is protected like the messages: by the conversation's row.
func (t *tx) Tombstones(owner, other string, afterID uint64, limit int) ([]messaging.Tombstone, error) {
	if limit <= 0 {
		return nil, nil
	}
	k := convKey{owner, other}
	var out []messaging.Tombstone
	if c := t.convs[k]; c == nil || c.exists {
		if err := t.run(append(t.readSteps(owner, other), t.s.tombsStep(k, afterID, limit, &out))...); err != nil {
			return nil, wrapf(err, "list tombstones of %q/%q", owner, other)
		}
	}
	t.seeConv(k)
	return out, nil
}

// OnCommit registers f to run after the commit, in commit order.
func (t *tx) OnCommit(f func()) { t.onCommit = append(t.onCommit, f) }
