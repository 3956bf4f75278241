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
		"peer_read_mark, last_id, last_sender, last_recipient, last_text, last_sec, last_nsec"
	msgColumns     = "owner, other, id, sec, nsec, sender, recipient, text"
	msgReadColumns = "id, sec, nsec, sender, recipient, text"
)

type queries struct {
	// Transactions. BEGIN is sent in the same pipeline as the first
	// statement, which is where a REPEATABLE READ snapshot is taken.
	beginUpdate, beginView, commit, rollback string

	nextID, nextIDs string

	// Inside Update: reads of what a pair of users holds, and the locks
	// the commit pipeline takes on what the transaction read but did not
	// write (see doc.go, "Isolation").
	readInboxes string // $1 owners
	// readPair reads a pair of users whole: $3 new message IDs (kind 0),
	// the inboxes of $1 and $2 (kind 1), both sides of their conversation
	// (kind 2), as rows of kind and the columns of a conversation.
	readPair                         string
	shareRoot, shareInbox, shareConv string
	shareInboxConvs                  string // $1 owner: all its conversations
	stamp                            string // the place in commit order

	readInbox, readConv string

	users, convs, convsAfter                    string
	msg, msgsAsc, msgsAscAfter                  string
	msgsDesc, msgsDescAfter, msgsByID, tombRead string

	// Writes, buffered and sent with the next read or the COMMIT.
	insertInbox, updateInbox, deleteInbox               string
	deleteInboxConvs, deleteInboxMsgs, deleteInboxTombs string
	insertConv, updateConv, deleteConv                  string
	deleteConvMsgs, deleteConvTombs                     string
	upsertMsgs                                          [maxMsgRows + 1]string // by number of rows
	deleteMsg, insertTomb                               string
	touchRoot, touchInbox, touchConv                    string
	checkOrphanConvs, checkOrphanMsgs, checkOrphanTombs string
	checkTombstoned, checkBadTimes, checkCountsInRange  string
	checkInboxSetRows                                   string
}

// commitSQL ends every Update; a pipeline holding it is never sent twice.
const commitSQL = "COMMIT"

// maxMsgRows is the most messages one INSERT statement writes.
const maxMsgRows = 4

func newQueries(schema string) queries {
	s := pgx.Identifier{schema}.Sanitize() + "."
	r := strings.NewReplacer("{S}.", s)
	q := func(sql string) string { return r.Replace(sql) }
	qs := queries{
		beginUpdate: "BEGIN ISOLATION LEVEL REPEATABLE READ",
		beginView:   "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
		commit:      commitSQL,
		rollback:    "ROLLBACK",

		nextID:  "SELECT nextval('" + seqName(schema, "message_ids") + "')",
		nextIDs: "SELECT nextval('" + seqName(schema, "message_ids") + "') FROM generate_series(1, $1::int)",
		stamp:   "SELECT nextval('" + seqName(schema, "commit_order") + "')",

		readInboxes: q("SELECT owner, unread FROM {S}.inboxes WHERE owner = ANY($1)"),
		readPair: q("SELECT 0::int2, " + dummyConv("nextval('"+seqName(schema, "message_ids")+"')") + " FROM generate_series(1, $3::int) " +
			"UNION ALL SELECT 1::int2, " + dummyConvOwner("owner", "unread") + " FROM {S}.inboxes WHERE owner IN ($1, $2) " +
			"UNION ALL SELECT 2::int2, " + convColumns + " FROM {S}.conversations WHERE (owner = $1 AND other = $2) OR (owner = $2 AND other = $1)"),
		shareRoot:       q("SELECT changes FROM {S}.inbox_set FOR SHARE"),
		shareInbox:      q("SELECT 1 FROM {S}.inboxes WHERE owner = $1 FOR SHARE"),
		shareConv:       q("SELECT 1 FROM {S}.conversations WHERE owner = $1 AND other = $2 FOR SHARE"),
		shareInboxConvs: q("SELECT count(*) FROM (SELECT 1 FROM {S}.conversations WHERE owner = $1 ORDER BY other FOR SHARE) AS locked"),

		readInbox: q("SELECT unread FROM {S}.inboxes WHERE owner = $1"),
		readConv:  q("SELECT " + convColumns + " FROM {S}.conversations WHERE owner = $1 AND other = $2"),

		users:      q("SELECT owner FROM {S}.inboxes WHERE owner > $1 ORDER BY owner LIMIT $2"),
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

		insertInbox:      q("INSERT INTO {S}.inboxes (owner, unread) VALUES ($1, $2)"),
		updateInbox:      q("UPDATE {S}.inboxes SET unread = $2 WHERE owner = $1"),
		deleteInbox:      q("DELETE FROM {S}.inboxes WHERE owner = $1"),
		deleteInboxConvs: q("DELETE FROM {S}.conversations WHERE owner = $1"),
		deleteInboxMsgs:  q("DELETE FROM {S}.messages WHERE owner = $1"),
		deleteInboxTombs: q("DELETE FROM {S}.tombstones WHERE owner = $1"),
		insertConv:       q("INSERT INTO {S}.conversations (" + convColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"),
		updateConv: q("UPDATE {S}.conversations SET messages = $3, unread = $4, lu_neg_sec = $5, lu_neg_nsec = $6, first_id = $7, " +
			"max_id = $8, read_mark = $9, peer_read_mark = $10, last_id = $11, last_sender = $12, last_recipient = $13, " +
			"last_text = $14, last_sec = $15, last_nsec = $16 WHERE owner = $1 AND other = $2"),
		deleteConv:      q("DELETE FROM {S}.conversations WHERE owner = $1 AND other = $2"),
		deleteConvMsgs:  q("DELETE FROM {S}.messages WHERE owner = $1 AND other = $2"),
		deleteConvTombs: q("DELETE FROM {S}.tombstones WHERE owner = $1 AND other = $2"),
		deleteMsg:       q("DELETE FROM {S}.messages WHERE owner = $1 AND other = $2 AND id = $3"),
		insertTomb:      q("INSERT INTO {S}.tombstones (owner, other, id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"),
		touchRoot:       q("UPDATE {S}.inbox_set SET changes = changes + 1"),
		touchInbox:      q("UPDATE {S}.inboxes SET unread = unread WHERE owner = $1"),
		touchConv:       q("UPDATE {S}.conversations SET messages = messages WHERE owner = $1 AND other = $2"),

		checkOrphanConvs: q("SELECT c.owner, c.other FROM {S}.conversations c WHERE NOT EXISTS " +
			"(SELECT 1 FROM {S}.inboxes i WHERE i.owner = c.owner) ORDER BY c.owner, c.other LIMIT 100"),
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
	}
	for n := 1; n <= maxMsgRows; n++ {
		var b strings.Builder
		b.WriteString(q("INSERT INTO {S}.messages (" + msgColumns + ") VALUES "))
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", 8*i+1, 8*i+2, 8*i+3, 8*i+4, 8*i+5, 8*i+6, 8*i+7, 8*i+8)
		}
		b.WriteString(" ON CONFLICT (owner, other, id) DO UPDATE SET sec = EXCLUDED.sec, nsec = EXCLUDED.nsec, " +
			"sender = EXCLUDED.sender, recipient = EXCLUDED.recipient, text = EXCLUDED.text")
		qs.upsertMsgs[n] = b.String()
	}
	return qs
}

// dummyConv fills the columns of a conversation row with n in the
// messages column, for rows of readPair that are not conversations.
func dummyConv(n string) string { return dummyConvOwner("''::bytea", n) }

func dummyConvOwner(owner, n string) string {
	return owner + ", ''::bytea, " + n + ", 0::bigint, 0::bigint, 0::int4, 0::bigint, 0::bigint, 0::bigint, 0::bigint, " +
		"0::bigint, ''::bytea, ''::bytea, ''::bytea, 0::bigint, 0::int4"
}

// seqName is the name of a sequence of the schema, quoted for a string
// literal that nextval reads as a regclass.
func seqName(schema, name string) string {
	return strings.ReplaceAll(pgx.Identifier{schema, name}.Sanitize(), "'", "''")
}
