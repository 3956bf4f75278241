package pgstore

// The SQL of a store, with its schema's name filled in once at open. All of
// it is plain SQL that PostgreSQL-compatible engines run as well, except
// what doc.go lists under "PostgreSQL-only".

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

const (
	convColumns = "owner, other, messages, unread, lu_neg_sec, lu_neg_nsec, first_id, max_id, read_mark, " +
		"peer_read_mark, last_id, last_sender, last_recipient, last_text, last_sec, last_nsec, last_meta, last_deleted_unread"
	msgColumns     = "owner, other, id, sec, nsec, sender, recipient, text, meta, deleted_unread"
	msgReadColumns = "id, sec, nsec, sender, recipient, text, meta, deleted_unread"
	userColumns    = "owner, has_inbox, unread, ev_first, ev_last, ev_count, ev_phys"
	idemColumns    = "sender, key, message_id, created_sec, created_nsec, digest, expires_sec, expires_nsec"
	// noSeq is Seq 0 (no event) as stored: the smallest bigint.
	noSeq = "(-9223372036854775807 - 1)"
)

// Numbers of columns, for multi-row statements.
const (
	msgCols = 10
	evCols  = 3
)

type queries struct {
	// Transactions. BEGIN is sent in the same pipeline as the first
	// statement, which is where a REPEATABLE READ snapshot is taken.
	beginUpdate, beginView, commit, rollback string

	nextID, nextIDs, advanceID string

	// Inside Update: reads of what a pair of users holds, and the locks
	// the commit pipeline takes on what the transaction read but did not
	// write (see doc.go, "Isolation").
	readUsers string // $1 owners: their user rows
	// readPair reads a pair of users whole, in one row: the user rows of
	// $1 and $2, both sides of their conversation (NULLs where there is
	// none), whether each blocks the other, and a new message ID if $3 is
	// not 0. One row of joins costs the server less to set up than a
	// union of rows of one shape.
	readPair                         string
	shareRoot, shareInbox, shareConv string
	shareInboxConvs                  string // $1 owner: all its conversations
	shareIdem                        string
	stamp                            string // the place in commit order

	readInbox, readConv, readUser string

	users, convs, convsAfter                    string
	msg, msgsAsc, msgsAscAfter                  string
	msgsDesc, msgsDescAfter, msgsByID, tombRead string
	tombs                                       string
	blocked, blocks                             string
	idem, idems                                 string
	events, streams, pollStreams                string
	pageCursor                                  string
	pageAfter                                   [2]string // ascending, descending

	// Writes, buffered and sent with the next read or the COMMIT.
	insertUser, updateUser, updateUsers, deleteUser     string
	deleteInboxConvs, deleteInboxMsgs, deleteInboxTombs string
	insertConv, updateConv, updateConvs, deleteConv     string
	deleteConvMsgs, deleteConvTombs                     string
	upsertMsgs                                          [maxRows + 1]string // by number of rows
	insertEvents, upsertEvents                          [maxRows + 1]string
	deleteEvents, fixStream                             string
	deleteMsg, putTomb                                  string
	insertBlock, deleteBlock                            string
	insertIdem, upsertIdem, deleteIdem, purgeIdem       string
	touchRoot, touchInbox, touchConv                    string

	checkOrphanConvs, checkOrphanMsgs, checkOrphanTombs string
	checkTombstoned, checkBadTimes, checkCountsInRange  string
	checkInboxSetRows, checkStreamBounds                string

	scan scanQueries // scan.go
	load loadQueries // load.go
}

// commitSQL ends every Update; a pipeline holding it is never sent twice.
const commitSQL = "COMMIT"

// maxRows is the most messages or events one INSERT statement writes.
const maxRows = 4

func newQueries(schema string) queries {
	s := pgx.Identifier{schema}.Sanitize() + "."
	r := strings.NewReplacer("{S}.", s)
	q := func(sql string) string { return r.Replace(sql) }
	seq := seqName(schema, "message_ids")
	qs := queries{
		beginUpdate: "BEGIN ISOLATION LEVEL REPEATABLE READ",
		beginView:   "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
		commit:      commitSQL,
		rollback:    "ROLLBACK",

		nextID:  "SELECT nextval('" + seq + "')",
		nextIDs: "SELECT nextval('" + seq + "') FROM generate_series(1, $1::int)",
		// Raises the sequence only if id is above the value it gives next;
		// a nextval concurrent with this statement may still hand out a
		// value between the two (see tx.AdvanceID).
		advanceID: "SELECT CASE WHEN $1::bigint > nextval('" + seq + "') THEN setval('" + seq + "', $1::bigint) END",
		stamp:     "SELECT nextval('" + seqName(schema, "commit_order") + "')",

		readUsers: q("SELECT " + userColumns + " FROM {S}.inboxes WHERE owner = ANY($1)"),
		readPair: q("SELECT " + userColumnsOf("ua") + ", " + userColumnsOf("ub") + ", " + columnsOf("cab", convColumns) + ", " +
			columnsOf("cba", convColumns) + ", EXISTS (SELECT 1 FROM {S}.blocks WHERE owner = $1 AND other = $2), " +
			"EXISTS (SELECT 1 FROM {S}.blocks WHERE owner = $2 AND other = $1), " +
			"CASE WHEN $3::int > 0 THEN nextval('" + seq + "') END FROM (SELECT) AS one " +
			"LEFT JOIN {S}.inboxes ua ON ua.owner = $1 LEFT JOIN {S}.inboxes ub ON ub.owner = $2 " +
			"LEFT JOIN {S}.conversations cab ON cab.owner = $1 AND cab.other = $2 " +
			"LEFT JOIN {S}.conversations cba ON cba.owner = $2 AND cba.other = $1"),
		shareRoot:       q("SELECT changes FROM {S}.inbox_set FOR SHARE"),
		shareInbox:      q("SELECT 1 FROM {S}.inboxes WHERE owner = $1 FOR SHARE"),
		shareConv:       q("SELECT 1 FROM {S}.conversations WHERE owner = $1 AND other = $2 FOR SHARE"),
		shareInboxConvs: q("SELECT count(*) FROM (SELECT 1 FROM {S}.conversations WHERE owner = $1 ORDER BY other FOR SHARE) AS locked"),
		shareIdem:       q("SELECT 1 FROM {S}.idempotency WHERE sender = $1 AND key = $2 FOR SHARE"),

		readInbox: q("SELECT unread FROM {S}.inboxes WHERE owner = $1 AND has_inbox"),
		readConv:  q("SELECT " + convColumns + " FROM {S}.conversations WHERE owner = $1 AND other = $2"),
		readUser:  q("SELECT ev_first, ev_last, ev_count, ev_phys FROM {S}.inboxes WHERE owner = $1"),

		users:      q("SELECT owner FROM {S}.inboxes WHERE owner > $1 AND has_inbox ORDER BY owner LIMIT $2"),
		convs:      q("SELECT " + convColumns + " FROM {S}.conversations WHERE owner = $1 ORDER BY lu_neg_sec, lu_neg_nsec, other LIMIT $2"),
		convsAfter: q("SELECT " + convColumns + " FROM {S}.conversations WHERE owner = $1 AND (lu_neg_sec, lu_neg_nsec, other) > ($2, $3, $4) ORDER BY lu_neg_sec, lu_neg_nsec, other LIMIT $5"),
		msg:        q("SELECT " + msgReadColumns + " FROM {S}.messages WHERE owner = $1 AND other = $2 AND id = $3"),
		msgsAsc:    q("SELECT " + msgReadColumns + " FROM {S}.messages WHERE owner = $1 AND other = $2 ORDER BY sec, nsec, id LIMIT $3"),
		msgsAscAfter: q("SELECT " + msgReadColumns + " FROM {S}.messages WHERE owner = $1 AND other = $2 AND (sec, nsec, id) > ($3, $4, $5) " +
			"ORDER BY sec, nsec, id LIMIT $6"),
		msgsDesc: q("SELECT " + msgReadColumns + " FROM {S}.messages WHERE owner = $1 AND other = $2 ORDER BY sec DESC, nsec DESC, id DESC LIMIT $3"),
		msgsDescAfter: q("SELECT " + msgReadColumns + " FROM {S}.messages WHERE owner = $1 AND other = $2 AND (sec, nsec, id) < ($3, $4, $5) " +
			"ORDER BY sec DESC, nsec DESC, id DESC LIMIT $6"),
		msgsByID: q("SELECT " + msgReadColumns + " FROM {S}.messages WHERE owner = $1 AND other = $2 AND id > $3 ORDER BY id LIMIT $4"),
		tombRead: q("SELECT EXISTS (SELECT 1 FROM {S}.tombstones WHERE owner = $1 AND other = $2 AND id = $3)"),
		tombs:    q("SELECT id, retracted FROM {S}.tombstones WHERE owner = $1 AND other = $2 AND id > $3 ORDER BY id LIMIT $4"),
		blocked:  q("SELECT EXISTS (SELECT 1 FROM {S}.blocks WHERE owner = $1 AND other = $2)"),
		blocks:   q("SELECT owner, other FROM {S}.blocks WHERE (owner, other) > ($1, $2) ORDER BY owner, other LIMIT $3"),
		idem:     q("SELECT " + idemColumns + " FROM {S}.idempotency WHERE sender = $1 AND key = $2"),
		idems:    q("SELECT " + idemColumns + " FROM {S}.idempotency WHERE (sender, key) > ($1, $2) ORDER BY sender, key LIMIT $3"),
		// Events below the stream's first are deleted, if not yet from
		// the table (streams.go).
		events: q("SELECT seq, data FROM {S}.events WHERE owner = $1 AND seq > $2 " +
			"AND seq >= (SELECT ev_first FROM {S}.inboxes WHERE owner = $1) ORDER BY seq LIMIT $3"),
		streams:     q("SELECT owner FROM {S}.inboxes WHERE owner > $1 AND ev_last <> " + noSeq + " ORDER BY owner LIMIT $2"),
		pollStreams: q("SELECT owner, ev_last FROM {S}.inboxes WHERE owner = ANY($1) AND ev_last <> " + noSeq),

		insertUser: q("INSERT INTO {S}.inboxes (" + userColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7)"),
		updateUser: q("UPDATE {S}.inboxes SET has_inbox = $2, unread = $3, ev_first = $4, ev_last = $5, ev_count = $6, ev_phys = $7 " +
			"WHERE owner = $1"),
		// Two rows in one statement, as updateConvs.
		updateUsers: q("UPDATE {S}.inboxes AS i SET has_inbox = v.has_inbox, unread = v.unread, ev_first = v.ev_first, " +
			"ev_last = v.ev_last, ev_count = v.ev_count, ev_phys = v.ev_phys FROM (VALUES " + typedRow(1, userTypes) + ", " +
			typedRow(8, userTypes) + ") AS v(" + userColumns + ") WHERE i.owner = v.owner"),
		deleteUser:       q("DELETE FROM {S}.inboxes WHERE owner = $1"),
		deleteInboxConvs: q("DELETE FROM {S}.conversations WHERE owner = $1"),
		deleteInboxMsgs:  q("DELETE FROM {S}.messages WHERE owner = $1"),
		deleteInboxTombs: q("DELETE FROM {S}.tombstones WHERE owner = $1"),
		insertConv:       q("INSERT INTO {S}.conversations (" + convColumns + ") VALUES (" + params(1, 18) + ")"),
		updateConv: q("UPDATE {S}.conversations SET messages = $3, unread = $4, lu_neg_sec = $5, lu_neg_nsec = $6, first_id = $7, " +
			"max_id = $8, read_mark = $9, peer_read_mark = $10, last_id = $11, last_sender = $12, last_recipient = $13, " +
			"last_text = $14, last_sec = $15, last_nsec = $16, last_meta = $17, last_deleted_unread = $18 WHERE owner = $1 AND other = $2"),
		// Both sides of a conversation in one statement, the rows in the
		// order of VALUES (a nested loop over them, with enable_seqscan off:
		// key order).
		updateConvs: q("UPDATE {S}.conversations AS c SET messages = v.messages, unread = v.unread, lu_neg_sec = v.lu_neg_sec, " +
			"lu_neg_nsec = v.lu_neg_nsec, first_id = v.first_id, max_id = v.max_id, read_mark = v.read_mark, " +
			"peer_read_mark = v.peer_read_mark, last_id = v.last_id, last_sender = v.last_sender, last_recipient = v.last_recipient, " +
			"last_text = v.last_text, last_sec = v.last_sec, last_nsec = v.last_nsec, last_meta = v.last_meta, " +
			"last_deleted_unread = v.last_deleted_unread FROM (VALUES " + typedRow(1, convTypes) + ", " + typedRow(19, convTypes) + ") AS v(" + convColumns + ") " +
			"WHERE c.owner = v.owner AND c.other = v.other"),
		deleteConv:      q("DELETE FROM {S}.conversations WHERE owner = $1 AND other = $2"),
		deleteConvMsgs:  q("DELETE FROM {S}.messages WHERE owner = $1 AND other = $2"),
		deleteConvTombs: q("DELETE FROM {S}.tombstones WHERE owner = $1 AND other = $2"),
		deleteMsg:       q("DELETE FROM {S}.messages WHERE owner = $1 AND other = $2 AND id = $3"),
		putTomb: q("INSERT INTO {S}.tombstones (owner, other, id, retracted) VALUES ($1, $2, $3, $4) " +
			"ON CONFLICT (owner, other, id) DO UPDATE SET retracted = EXCLUDED.retracted"),
		insertBlock: q("INSERT INTO {S}.blocks (owner, other) VALUES ($1, $2) ON CONFLICT DO NOTHING"),
		deleteBlock: q("DELETE FROM {S}.blocks WHERE owner = $1 AND other = $2"),
		insertIdem:  q("INSERT INTO {S}.idempotency (" + idemColumns + ") VALUES (" + params(1, 8) + ")"),
		upsertIdem: q("INSERT INTO {S}.idempotency (" + idemColumns + ") VALUES (" + params(1, 8) + ") " +
			"ON CONFLICT (sender, key) DO UPDATE SET message_id = EXCLUDED.message_id, created_sec = EXCLUDED.created_sec, " +
			"created_nsec = EXCLUDED.created_nsec, digest = EXCLUDED.digest, expires_sec = EXCLUDED.expires_sec, " +
			"expires_nsec = EXCLUDED.expires_nsec"),
		deleteIdem:   q("DELETE FROM {S}.idempotency WHERE sender = $1 AND key = $2"),
		purgeIdem:    q("SELECT gone_sender, gone_key FROM {S}.purge_idempotency($1, $2, $3)"),
		deleteEvents: q("DELETE FROM {S}.events WHERE owner = $1 AND seq BETWEEN $2 AND $3"),
		// The bounds of a stream whose events hide none (streams.go),
		// found from its events.
		fixStream: q("UPDATE {S}.inboxes SET ev_first = coalesce((SELECT min(seq) FROM {S}.events WHERE owner = $1), " + noSeq + "), " +
			"ev_count = (SELECT count(*) FROM {S}.events WHERE owner = $1), " +
			"ev_phys = coalesce((SELECT min(seq) FROM {S}.events WHERE owner = $1), " + noSeq + ") WHERE owner = $1"),
		touchRoot:  q("UPDATE {S}.inbox_set SET changes = changes + 1"),
		touchInbox: q("UPDATE {S}.inboxes SET unread = unread WHERE owner = $1"),
		touchConv:  q("UPDATE {S}.conversations SET messages = messages WHERE owner = $1 AND other = $2"),

		checkOrphanConvs: q("SELECT c.owner, c.other FROM {S}.conversations c WHERE NOT EXISTS " +
			"(SELECT 1 FROM {S}.inboxes i WHERE i.owner = c.owner AND i.has_inbox) ORDER BY c.owner, c.other LIMIT 100"),
		checkOrphanMsgs: q("SELECT m.owner, m.other, m.id FROM {S}.messages m WHERE NOT EXISTS " +
			"(SELECT 1 FROM {S}.conversations c WHERE c.owner = m.owner AND c.other = m.other) ORDER BY m.owner, m.other, m.id LIMIT 100"),
		checkOrphanTombs: q("SELECT t.owner, t.other, t.id FROM {S}.tombstones t WHERE NOT EXISTS " +
			"(SELECT 1 FROM {S}.conversations c WHERE c.owner = t.owner AND c.other = t.other) ORDER BY t.owner, t.other, t.id LIMIT 100"),
		checkTombstoned: q("SELECT m.owner, m.other, m.id FROM {S}.messages m JOIN {S}.tombstones t " +
			"ON t.owner = m.owner AND t.other = m.other AND t.id = m.id ORDER BY m.owner, m.other, m.id LIMIT 100"),
		checkBadTimes: q("SELECT m.owner, m.other, m.id FROM {S}.messages m WHERE m.nsec NOT BETWEEN 0 AND 999999999 " +
			"ORDER BY m.owner, m.other, m.id LIMIT 100"),
		checkCountsInRange: q("SELECT c.owner, c.other FROM {S}.conversations c WHERE c.messages < 0 OR c.unread < 0 " +
			"OR c.unread > c.messages OR c.lu_neg_nsec NOT BETWEEN -999999999 AND 0 ORDER BY c.owner, c.other LIMIT 100"),
		checkInboxSetRows: q("SELECT count(*) FROM {S}.inbox_set"),
		// User rows whose stream bounds are not those of its events (the
		// events from ev_first on; those below are deleted), and events
		// of users without a row.
		checkStreamBounds: q("SELECT i.owner FROM {S}.inboxes i LEFT JOIN LATERAL (SELECT min(seq) AS lo, max(seq) AS hi, count(*) AS n " +
			"FROM {S}.events e WHERE e.owner = i.owner AND e.seq >= i.ev_first) b ON true " +
			"WHERE (i.ev_first, i.ev_last, i.ev_count) IS DISTINCT FROM (coalesce(b.lo, " + noSeq + "), coalesce(b.hi, " + noSeq + "), b.n) " +
			"OR i.ev_phys > i.ev_first OR EXISTS (SELECT 1 FROM {S}.events e WHERE e.owner = i.owner AND e.seq < i.ev_phys) " +
			"OR (NOT i.has_inbox AND i.unread <> 0) OR (NOT i.has_inbox AND b.hi IS NULL) " +
			"UNION ALL SELECT DISTINCT e.owner FROM {S}.events e WHERE NOT EXISTS (SELECT 1 FROM {S}.inboxes i WHERE i.owner = e.owner) " +
			"ORDER BY 1 LIMIT 100"),
	}
	// The position of a page's cursor, as Conversation.page finds it
	// (pager.go): the message here (kind 1), its tombstone (2), the other
	// side's copy (3). Selecting sender keeps the lookups on the primary
	// keys (an index-only scan of messages_by_created would read the whole
	// conversation for an id).
	qs.pageCursor = q("SELECT 1::int2, sec, nsec, id, sender FROM {S}.messages WHERE owner = $1 AND other = $2 AND id = $3 " +
		"UNION ALL SELECT 2::int2, 0::bigint, 0::int4, id, ''::bytea FROM {S}.tombstones WHERE owner = $1 AND other = $2 AND id = $3 " +
		"UNION ALL SELECT 3::int2, sec, nsec, id, sender FROM {S}.messages WHERE owner = $2 AND other = $1 AND id = $3")
	cursor := "WITH k AS MATERIALIZED (SELECT sec, nsec, id FROM (" +
		"SELECT 1 AS pri, sec, nsec, id, sender FROM {S}.messages WHERE owner = $1 AND other = $2 AND id = $3 " +
		"UNION ALL SELECT 2, m.sec, m.nsec, m.id, m.sender FROM {S}.messages m WHERE m.owner = $2 AND m.other = $1 AND m.id = $3 " +
		"AND EXISTS (SELECT 1 FROM {S}.tombstones t WHERE t.owner = $1 AND t.other = $2 AND t.id = $3)) c ORDER BY pri LIMIT 1) " +
		"SELECT " + msgReadColumns + " FROM {S}.messages WHERE owner = $1 AND other = $2 " +
		"AND (sec, nsec, id) %s ((SELECT sec FROM k), (SELECT nsec FROM k), (SELECT id FROM k)) ORDER BY %s LIMIT $4"
	qs.pageAfter[0] = q(fmt.Sprintf(cursor, ">", "sec, nsec, id"))
	qs.pageAfter[1] = q(fmt.Sprintf(cursor, "<", "sec DESC, nsec DESC, id DESC"))
	qs.scan = newScanQueries(q)
	qs.load = newLoadQueries(schema, q)
	for n := 1; n <= maxRows; n++ {
		qs.upsertMsgs[n] = q("INSERT INTO {S}.messages (" + msgColumns + ") VALUES " + rows(n, msgCols) +
			" ON CONFLICT (owner, other, id) DO UPDATE SET sec = EXCLUDED.sec, nsec = EXCLUDED.nsec, " +
			"sender = EXCLUDED.sender, recipient = EXCLUDED.recipient, text = EXCLUDED.text, meta = EXCLUDED.meta, " +
			"deleted_unread = EXCLUDED.deleted_unread")
		qs.insertEvents[n] = q("INSERT INTO {S}.events (owner, seq, data) VALUES " + rows(n, evCols))
		qs.upsertEvents[n] = qs.insertEvents[n] + " ON CONFLICT (owner, seq) DO UPDATE SET data = EXCLUDED.data"
	}
	return qs
}

// The types of the columns of a conversation and of a user row, for
// typedRow.
var (
	convTypes = []string{"bytea", "bytea", "bigint", "bigint", "bigint", "integer", "bigint", "bigint", "bigint", "bigint",
		"bigint", "bytea", "bytea", "bytea", "bigint", "integer", "bytea", "boolean"}
	userTypes = []string{"bytea", "boolean", "bigint", "bigint", "bigint", "bigint", "bigint"}
)

// typedRow is a VALUES row of parameters from on, with types (VALUES
// infers none from a table).
func typedRow(from int, types []string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, t := range types {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d::%s", from+i, t)
	}
	b.WriteByte(')')
	return b.String()
}

// params is "$from, ..., $to".
func params(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		if i > from {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", i)
	}
	return b.String()
}

// rows is the VALUES list of n rows of cols parameters each.
func rows(n, cols int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + params(cols*i+1, cols*i+cols) + ")")
	}
	return b.String()
}

// columnsOf qualifies each of the comma-separated columns with table.
func columnsOf(table, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = table + "." + c
	}
	return strings.Join(cols, ", ")
}

// userColumnsOf is the columns of a user row after its owner, qualified.
func userColumnsOf(table string) string {
	return columnsOf(table, strings.TrimPrefix(userColumns, "owner, "))
}

// seqName is the name of a sequence of the schema, quoted for a string
// literal that nextval reads as a regclass.
func seqName(schema, name string) string {
	return strings.ReplaceAll(pgx.Identifier{schema, name}.Sanitize(), "'", "''")
}
