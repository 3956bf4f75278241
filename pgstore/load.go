package pgstore

// The store is a messaging.Loader: Copy hands it a batch of records, which
// it writes in one transaction with COPY rather than an INSERT per row.
//
// A Load has the effect Batch.Put would have through Update, and takes
// part in the locking protocol (doc.go, "Isolation") as such an Update
// would: it runs in REPEATABLE READ, writes (or touches) every row that
// protects what it writes, and runs again on the failures Update runs
// again on. Its steps, in the protocol's lock order as far as it goes:
//
//  1. BEGIN; a touch of the set of users (an inbox, a stream or a block
//     may be new); the rows of the users the batch concerns, FOR UPDATE.
//  2. In Go, from those rows: each user's row as the batch leaves it (the
//     inbox, the stream's bounds as PutEvent moves them), and whether the
//     conversations' owners have inboxes (PutConversation's ErrNotFound).
//  3. The user rows, in one upsert; a touch of the conversations whose
//     messages or tombstones the batch writes without writing the
//     conversation, which also finds those that do not exist
//     (PutMessage's ErrNotFound); the events a put below a stream's
//     first would otherwise bring back (streams.go).
//  4. The conversations, messages, tombstones and events, a COPY each
//     into the store's table. A COPY that meets a stored row is undone
//     (to a savepoint), and those records go through a temporary table
//     and one INSERT ... ON CONFLICT DO UPDATE instead, in key order: a
//     record already stored is replaced, as the Tx's Put methods replace
//     it. Blocks and idempotency records, which a copy has few of, go as
//     arrays.
//  5. The bounds of a stream that had gaps, which only the database can
//     count; COMMIT.
//
// Records repeated in one batch are written once, the last one winning,
// as one Put after another would leave them. After the commit, the
// streams that grew are handed to the notifier, as an Update's are, so
// that WatchStreams, in this process and others, delivers the loaded
// events.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/socialkit/messaging"
)

var _ messaging.Loader = (*Store)(nil)

// Names of the temporary tables of a Load, one set per connection. Their
// rows go at COMMIT.
const (
	loadConvs  = "pg_temp.pgstore_load_convs"
	loadMsgs   = "pg_temp.pgstore_load_msgs"
	loadTombs  = "pg_temp.pgstore_load_tombs"
	loadEvents = "pg_temp.pgstore_load_events"
)

// loadQueries are the statements of Load.
type loadQueries struct {
	lockUsers  string // $1 owners
	putUsers   string // unnest of user rows
	touchConvs string // $1 owners, $2 others
	putBlocks  string // $1 users, $2 others
	putIdems   string // unnest of idempotency records
	unhide     string // $1 owners, $2 from, $3 to
	// The bulk tables: conversations, messages, tombstones, events.
	bulk [4]bulkQueries
}

// bulkQueries are the statements that write one kind of record in bulk.
type bulkQueries struct {
	table   pgx.Identifier // the store's table, which COPY writes when no row is there yet
	columns []string
	temp    string // creates the temporary table, for when some are
	upsert  string // from the temporary table into the store's
}

func newLoadQueries(schema string, q func(string) string) loadQueries {
	set := func(cols string) string {
		var sets []string
		for _, c := range strings.Split(cols, ", ") {
			sets = append(sets, c+" = EXCLUDED."+c)
		}
		return strings.Join(sets, ", ")
	}
	unnest := func(types []string) string {
		args := make([]string, len(types))
		for i, t := range types {
			args[i] = fmt.Sprintf("$%d::%s[]", i+1, t)
		}
		return "unnest(" + strings.Join(args, ", ") + ")"
	}
	bulk := func(schema, table, temp, cols, key, update string) bulkQueries {
		return bulkQueries{
			table:   pgx.Identifier{schema, table},
			columns: strings.Split(cols, ", "),
			temp:    q("CREATE TEMP TABLE IF NOT EXISTS " + temp + " (LIKE {S}." + table + ") ON COMMIT DELETE ROWS"),
			upsert: q("INSERT INTO {S}." + table + " (" + cols + ") SELECT " + cols + " FROM " + temp +
				" ORDER BY " + key + " ON CONFLICT (" + key + ") DO UPDATE SET " + set(update)),
		}
	}
	return loadQueries{
		lockUsers: q("SELECT " + userColumns + " FROM {S}.inboxes WHERE owner = ANY($1) ORDER BY owner FOR UPDATE"),
		putUsers: q("INSERT INTO {S}.inboxes (" + userColumns + ") SELECT * FROM " + unnest(userTypes) + " AS v ORDER BY 1 " +
			"ON CONFLICT (owner) DO UPDATE SET " + set(strings.TrimPrefix(userColumns, "owner, "))),
		touchConvs: q("UPDATE {S}.conversations AS c SET messages = c.messages FROM unnest($1::bytea[], $2::bytea[]) AS k(owner, other) " +
			"WHERE c.owner = k.owner AND c.other = k.other RETURNING c.owner, c.other"),
		putBlocks: q("INSERT INTO {S}.blocks (owner, other) SELECT * FROM unnest($1::bytea[], $2::bytea[]) AS v ORDER BY 1, 2 " +
			"ON CONFLICT DO NOTHING"),
		putIdems: q("INSERT INTO {S}.idempotency (" + idemColumns + ") SELECT * FROM " +
			unnest([]string{"bytea", "bytea", "bigint", "bigint", "integer", "bytea", "bigint", "integer"}) + " AS v ORDER BY 1, 2 " +
			"ON CONFLICT (sender, key) DO UPDATE SET " + set(strings.TrimPrefix(idemColumns, "sender, key, "))),
		unhide: q("DELETE FROM {S}.events AS e USING unnest($1::bytea[], $2::bigint[], $3::bigint[]) AS d(owner, lo, hi) " +
			"WHERE e.owner = d.owner AND e.seq BETWEEN d.lo AND d.hi"),
		bulk: [4]bulkQueries{
			bulk(schema, "conversations", loadConvs, convColumns, "owner, other", strings.TrimPrefix(convColumns, "owner, other, ")),
			bulk(schema, "messages", loadMsgs, msgColumns, "owner, other, id", strings.TrimPrefix(msgColumns, "owner, other, id, ")),
			bulk(schema, "tombstones", loadTombs, "owner, other, id, retracted", "owner, other, id", "retracted"),
			bulk(schema, "events", loadEvents, "owner, seq, data", "owner, seq", "data"),
		},
	}
}

// Load implements messaging.Loader: it writes b in one transaction, with
// the effect of Batch.Put in an Update (records already stored are
// replaced), using COPY for the bulk of it; see the top of this file. It
// leaves the message ID sequence alone. On a ctx that is done it returns
// an error wrapping ctx.Err(), and nothing of b is written — unless ctx
// ends, or the connection is lost, while COMMIT is in flight: then the
// error says that the outcome is unknown, as Update's does.
func (s *Store) Load(ctx context.Context, b *messaging.Batch) error {
	if err := s.enter(ctx); err != nil {
		return wrapf(err, "load")
	}
	defer s.exit()
	if b.Len() == 0 {
		return nil
	}
	p := planLoad(b)
	for attempt := 1; ; attempt++ {
		grown, err := s.loadOnce(ctx, p)
		if err == nil {
			if len(grown) > 0 {
				s.writesBoth.Store(true) // as PutEvent does: see queue.go
				if !s.disableNotify {
					s.notifier.tell(grown)
				}
			}
			return nil
		}
		err = withContext(ctx, err)
		if ctx.Err() != nil || !loadRetryable(err) || errors.As(err, new(unknownOutcome)) {
			return wrapf(err, "load")
		}
		if attempt == maxAttempts {
			return wrapf(err, "load: gave up after %d attempts", attempt)
		}
		if perr := pause(ctx, attempt); perr != nil {
			return wrapf(perr, "load: waiting to run again after: %v", bare(err))
		}
	}
}

// unknownOutcome is a Load's error when COMMIT may or may not have run:
// never run again.
type unknownOutcome struct{ error }

func (u unknownOutcome) Unwrap() error { return u.error }

// loadRetryable reports whether a Load that failed with err may run again
// in a new transaction: the failures Update runs its function again on.
func loadRetryable(err error) bool {
	switch sqlState(err) {
	case "40001", "40P01", "55P03", "23505":
		return true
	}
	return false
}

// loadPlan is a batch made ready for the database: repeated records
// dropped (the last one stays), and what the steps need to know of it.
type loadPlan struct {
	b         *messaging.Batch
	convs     []messaging.ConversationRecord
	msgs      []messaging.MessageEntry
	tombs     []messaging.TombstoneEntry
	events    []messaging.EventRecord
	idems     []messaging.IdempotencyRecord
	users     []string  // every user whose row the batch reads or writes, sorted
	needConvs []convKey // conversations of messages and tombstones not in convs, sorted
}

func planLoad(b *messaging.Batch) *loadPlan {
	p := &loadPlan{b: b}
	p.convs = lastOf(b.Conversations, func(c messaging.ConversationRecord) convKey { return convKey{c.Owner, c.Other} })
	p.msgs = lastOf(b.Messages, func(m messaging.MessageEntry) msgKey { return msgKey{convKey{m.Owner, m.Other}, m.ID} })
	p.tombs = lastOf(b.Tombstones, func(t messaging.TombstoneEntry) msgKey { return msgKey{convKey{t.Owner, t.Other}, t.ID} })
	p.events = lastOf(b.Events, func(e messaging.EventRecord) evKey { return evKey{e.User, e.Seq} })
	p.idems = lastOf(b.IdempotencyKeys, func(r messaging.IdempotencyRecord) idemKey { return idemKey{r.Sender, r.Key} })

	users := make(map[string]bool)
	for _, r := range b.Inboxes {
		users[r.Owner] = true
	}
	inBatch := make(map[convKey]bool, len(p.convs))
	for _, c := range p.convs {
		users[c.Owner] = true
		inBatch[convKey{c.Owner, c.Other}] = true
	}
	need := make(map[convKey]bool)
	for _, m := range p.msgs {
		if k := (convKey{m.Owner, m.Other}); !inBatch[k] {
			need[k] = true
		}
	}
	for _, t := range p.tombs {
		if k := (convKey{t.Owner, t.Other}); !inBatch[k] {
			need[k] = true
		}
	}
	p.needConvs = slices.SortedFunc(func(yield func(convKey) bool) {
		for k := range need {
			if !yield(k) {
				return
			}
		}
	}, cmpConvKey)
	for _, bl := range b.Blocks {
		users[bl.User], users[bl.Other] = true, true
	}
	for _, e := range p.events {
		users[e.User] = true
	}
	p.users = make([]string, 0, len(users))
	for u := range users {
		p.users = append(p.users, u)
	}
	slices.Sort(p.users)
	return p
}

type evKey struct {
	user string
	seq  uint64
}

// lastOf returns recs without those that a later one with the same key
// replaces, in their order; recs itself when no key repeats.
func lastOf[R any, K comparable](recs []R, key func(R) K) []R {
	at := make(map[K]int, len(recs))
	repeated := false
	for i, r := range recs {
		k := key(r)
		if _, ok := at[k]; ok {
			repeated = true
		}
		at[k] = i
	}
	if !repeated {
		return recs
	}
	out := make([]R, 0, len(at))
	for i, r := range recs {
		if at[key(r)] == i {
			out = append(out, r)
		}
	}
	return out
}

// loadUser is a user's row as a Load leaves it.
type loadUser struct {
	userEntry
	// unhide: delete the events from..to, which a trim hid below the
	// stream's first, before a put below it (tx.unhide).
	unhide   bool
	from, to uint64
}

// putEvent moves the stream's bounds as tx.PutEvent does.
func (u *loadUser) putEvent(seq uint64) {
	switch e := &u.userEntry; {
	case e.evLast == 0:
		e.evFirst, e.evLast, e.evCount, e.evPhys = seq, seq, 1, seq
	case e.unknown:
		e.evLast = max(e.evLast, seq)
	case seq > e.evLast:
		e.evLast, e.evCount = seq, e.evCount+1
	case seq >= e.evFirst && !e.hasGaps():
	case seq >= e.evFirst:
		u.hide()
		e.unknown = true
	default:
		u.hide()
		e.evFirst, e.evCount, e.evPhys = seq, e.evCount+1, seq
	}
}

func (u *loadUser) hide() {
	if e := &u.userEntry; e.evPhys < e.evFirst {
		u.unhide, u.from, u.to = true, e.evPhys, e.evFirst-1
		e.evPhys = e.evFirst
	}
}

// loadOnce runs one transaction of Load, and returns the new last Seq of
// the streams it wrote.
func (s *Store) loadOnce(ctx context.Context, p *loadPlan) (map[string]uint64, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	// A connection left in a transaction (a failure) is destroyed, and the
	// server rolls the transaction back.
	defer conn.Release()
	c := conn.Conn()
	b := p.b

	// 1. BEGIN, the set of users, the user rows.
	found := make(map[string]*loadUser, len(p.users))
	var pipe pgx.Batch
	pipe.Queue(s.q.beginUpdate)
	if len(b.Inboxes)+len(b.Blocks)+len(p.events) > 0 {
		pipe.Queue(s.q.touchRoot)
	}
	owners := make([][]byte, len(p.users))
	for i, u := range p.users {
		owners[i] = []byte(u)
	}
	pipe.Queue(s.q.load.lockUsers, owners).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			vals, err := rawValues(rows)
			if err != nil {
				return err
			}
			raw := rawRow{vals: vals}
			owner := string(raw.bytes())
			u := &loadUser{}
			if err := u.decodeRaw(&raw); err != nil {
				return err
			}
			if err := raw.end(); err != nil {
				return err
			}
			u.inDB = true
			found[owner] = u
		}
		return rows.Err()
	})
	if err := c.SendBatch(ctx, &pipe).Close(); err != nil {
		return nil, err
	}

	// 2. The user rows as the batch leaves them.
	rows := make(map[string]*loadUser, len(p.users))
	user := func(name string) *loadUser {
		u := rows[name]
		if u == nil {
			u = found[name]
			if u == nil {
				u = &loadUser{}
			}
			rows[name] = u
		}
		return u
	}
	for _, r := range b.Inboxes {
		u := user(r.Owner)
		u.inbox, u.unread = true, r.Unread
	}
	for _, cr := range p.convs {
		if u := user(cr.Owner); !u.inbox {
			return nil, wrapf(messaging.ErrNotFound, "conversation %q/%q: no inbox %q", cr.Owner, cr.Other, cr.Owner)
		}
	}
	for _, bl := range b.Blocks {
		for _, name := range []string{bl.User, bl.Other} {
			if found[name] != nil {
				user(name) // touched
			}
		}
	}
	grown := make(map[string]uint64)
	for _, e := range p.events {
		u := user(e.User)
		u.putEvent(e.Seq)
		grown[e.User] = u.evLast
	}

	// 3. The user rows, the conversations relied on, the hidden events.
	pipe = pgx.Batch{}
	names := slices.Sorted(func(yield func(string) bool) {
		for name := range rows {
			if !yield(name) {
				return
			}
		}
	})
	cols := make([][]any, len(userTypes))
	var unhide [3][]any
	var fix []string
	for _, name := range names {
		u := rows[name]
		for i, v := range u.args(name) {
			cols[i] = append(cols[i], v)
		}
		if u.unhide {
			unhide[0], unhide[1], unhide[2] = append(unhide[0], []byte(name)), append(unhide[1], encodeID(u.from)), append(unhide[2], encodeID(u.to))
		}
		if u.unknown {
			fix = append(fix, name)
		}
	}
	if len(names) > 0 {
		pipe.Queue(s.q.load.putUsers, typedArrays(cols)...)
	}
	if n := len(p.needConvs); n > 0 {
		owners, others := make([][]byte, n), make([][]byte, n)
		for i, k := range p.needConvs {
			owners[i], others[i] = []byte(k.owner), []byte(k.other)
		}
		touched := make(map[convKey]bool, n)
		pipe.Queue(s.q.load.touchConvs, owners, others).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var owner, other []byte
				if err := rows.Scan(&owner, &other); err != nil {
					return err
				}
				touched[convKey{string(owner), string(other)}] = true
			}
			if err := rows.Err(); err != nil {
				return err
			}
			for _, k := range p.needConvs {
				if !touched[k] {
					return wrapf(messaging.ErrNotFound, "conversation %q/%q", k.owner, k.other)
				}
			}
			return nil
		})
	}
	if len(unhide[0]) > 0 {
		pipe.Queue(s.q.load.unhide, byteaArray(unhide[0]), int64Array(unhide[1]), int64Array(unhide[2]))
	}
	if pipe.Len() > 0 {
		if err := c.SendBatch(ctx, &pipe).Close(); err != nil {
			return nil, err
		}
	}

	// 4. The records.
	if err := s.copyRecords(ctx, c, p); err != nil {
		return nil, err
	}
	pipe = pgx.Batch{}
	if n := len(b.Blocks); n > 0 {
		users, others := make([][]byte, n), make([][]byte, n)
		for i, bl := range b.Blocks {
			users[i], others[i] = []byte(bl.User), []byte(bl.Other)
		}
		pipe.Queue(s.q.load.putBlocks, users, others)
	}
	if len(p.idems) > 0 {
		cols := make([][]any, 8)
		for _, r := range p.idems {
			for i, v := range idemArgs(r) {
				cols[i] = append(cols[i], v)
			}
		}
		pipe.Queue(s.q.load.putIdems, typedArrays(cols)...)
	}
	// 5. The streams with gaps, and COMMIT.
	for _, name := range fix {
		pipe.Queue(s.q.fixStream, []byte(name))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pipe.Queue(commitSQL)
	if err := c.SendBatch(ctx, &pipe).Close(); err != nil {
		if c.IsClosed() && !pgconn.SafeToRetry(err) {
			return nil, unknownOutcome{wrapf(err, "commit: the connection was lost while COMMIT was in flight; the outcome is unknown")}
		}
		return nil, err
	}
	return grown, nil
}

// copyRecords writes the batch's conversations, messages, tombstones and
// events, each kind with one COPY into the store's table. A COPY that
// meets a row already stored (23505) is undone to the savepoint before
// it, and the records go into a temporary table instead, from which one
// INSERT ... ON CONFLICT DO UPDATE replaces what is stored: the effect of
// the Put methods, at about half the speed of the COPY alone (measured
// on messages), which a copy into an empty store never pays.
func (s *Store) copyRecords(ctx context.Context, c *pgx.Conn, p *loadPlan) error {
	rows := [4]struct {
		n   int
		row func(i int) []any
	}{
		{len(p.convs), func(i int) []any { return convArgs(p.convs[i]) }},
		{len(p.msgs), func(i int) []any {
			m := p.msgs[i]
			return msgArgs(convKey{m.Owner, m.Other}, m.MessageRecord)
		}},
		{len(p.tombs), func(i int) []any {
			t := p.tombs[i]
			return []any{[]byte(t.Owner), []byte(t.Other), encodeID(t.ID), t.Retracted}
		}},
		{len(p.events), func(i int) []any {
			e := p.events[i]
			return []any{[]byte(e.User), encodeID(e.Seq), e.Data}
		}},
	}
	for k, r := range rows {
		if r.n == 0 {
			continue
		}
		q := &s.q.load.bulk[k]
		src := func() pgx.CopyFromSource {
			return pgx.CopyFromSlice(r.n, func(i int) ([]any, error) { return r.row(i), nil })
		}
		if _, err := c.Exec(ctx, "SAVEPOINT pgstore_load"); err != nil {
			return err
		}
		_, err := c.CopyFrom(ctx, q.table, q.columns, src())
		if err == nil {
			continue
		}
		if sqlState(err) != "23505" {
			return err
		}
		if _, err := c.Exec(ctx, "ROLLBACK TO SAVEPOINT pgstore_load"); err != nil {
			return err
		}
		if _, err := c.Exec(ctx, q.temp); err != nil {
			return err
		}
		temp := strings.Split(tempOf(k), ".")
		if _, err := c.CopyFrom(ctx, pgx.Identifier(temp), q.columns, src()); err != nil {
			return err
		}
		if _, err := c.Exec(ctx, q.upsert); err != nil {
			return err
		}
	}
	return nil
}

// tempOf is the temporary table of the k-th kind of bulk record.
func tempOf(k int) string { return [...]string{loadConvs, loadMsgs, loadTombs, loadEvents}[k] }

// typedArrays turns columns of values into the typed slices pgx encodes
// as arrays for unnest.
func typedArrays(cols [][]any) []any {
	out := make([]any, len(cols))
	for i, col := range cols {
		switch col[0].(type) {
		case []byte:
			out[i] = byteaArray(col)
		case bool:
			a := make([]bool, len(col))
			for j, v := range col {
				a[j] = v.(bool)
			}
			out[i] = a
		case int64:
			out[i] = int64Array(col)
		case int32:
			a := make([]int32, len(col))
			for j, v := range col {
				a[j] = v.(int32)
			}
			out[i] = a
		}
	}
	return out
}

func byteaArray(col []any) [][]byte {
	a := make([][]byte, len(col))
	for j, v := range col {
		a[j] = v.([]byte)
		if a[j] == nil {
			a[j] = []byte{} // not NULL: the columns are NOT NULL
		}
	}
	return a
}

func int64Array(col []any) []int64 {
	a := make([]int64, len(col))
	for j, v := range col {
		a[j] = v.(int64)
	}
	return a
}
