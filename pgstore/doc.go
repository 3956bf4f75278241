// Package pgstore is a messaging.Store in PostgreSQL, for applications that
// run several processes over one database.
//
//	store, err := pgstore.Open(ctx, "postgres://app@db.internal/app", nil)
//	...
//	inboxes := messaging.New(store) // Close closes the store
//
// It keeps every rule of package messaging, as the bbolt store does, and
// stays correct with any number of processes writing at once: Updates are
// serializable, and the OnCommit callbacks of one process run in commit
// order.
//
// # Basics
//
// Open makes a pgx connection pool from a URL and owns it; New takes a
// pool the application already has (see the notes on New). The tables
// live in one schema (Options.Schema, "messaging" by default), created on
// first use by embedded, numbered migrations applied in one transaction
// under an advisory lock, so several processes may open a store at once.
// The version is recorded in the schema; a newer one is refused with
// messaging.ErrVersion, a schema holding other tables with
// messaging.ErrNotStore, and either way nothing is written. Two schemas in
// one database are two independent stores.
//
// Records map to plain columns (codec.go): user ids and texts as bytea
// (byte order, NUL bytes, any length), message IDs as bigint with the sign
// bit flipped (every uint64, in unsigned order), times as Unix seconds and
// nanoseconds (years 1 to 9999, to the nanosecond), and a conversation's
// place in its inbox as its negated LastUpdate, so that one ascending
// index serves "newest first, then by user id". Every list read is a
// range scan of one index that stops after the page.
//
// # Transactions and round trips
//
// View runs in a REPEATABLE READ READ ONLY transaction: one snapshot for
// all of fn's reads, no locks. Update runs in a REPEATABLE READ
// transaction whose reads take no locks either; its writes are buffered
// and go out with its COMMIT, or earlier with a read whose answer they
// could change (a list, or a message). BEGIN goes out with the
// first statement, so a transaction costs no round trip of its own; each
// read that the transaction cannot answer from what it already read or
// wrote is one round trip (with the buffered writes in front of it); the
// commit is one more. The first time an Update touches a pair of users it
// reads both inboxes and both sides of their conversation in one
// statement. NextID, called before anything was sent, returns a guess and
// takes the real ID in that same statement (nextid.go).
//
// So Inboxes.SendMessage costs 2 round trips, MarkRead 2, DeleteMessage
// 3 or 4, Inbox.ConversationPage 1 and Conversation.Older 2 (it reads the
// conversation, then the page: two reads). A View does not wait for its
// ROLLBACK: the connection goes back to the pool once the server has
// answered it.
//
// # Isolation
//
// Update is serializable by validation at commit. fn reads a snapshot; the
// commit pipeline then takes every lock the transaction needs, in one
// order for all transactions (the inbox set, inbox rows by owner,
// conversation rows by owner and other, then messages and tombstones):
// the rows it writes, by writing them, and, with SELECT ... FOR SHARE, the
// rows that protect what fn read without writing. Under REPEATABLE READ,
// locking or writing a row that another transaction changed after this
// one's snapshot fails with SQLSTATE 40001. So once the commit pipeline
// holds its locks, everything fn read is still as it was, and the locks
// keep it so until COMMIT: the transaction behaves as if it ran whole at
// that instant, and of two transactions that touch a common row, the one
// that commits second ran second. fn is then run again, in a new
// transaction, on 40001, 40P01 (deadlock), 55P03 (a lock_timeout the
// server may set), 23505 (a concurrent insert of a key it inserts) and a
// connection lost before COMMIT went out: at most 50 times, never after
// ctx is done, after a short random pause from the third attempt on.
//
// What protects a read:
//
//   - an inbox record: its row;
//   - the absence of an inbox, and the list of users: the one row of the
//     inbox set, which creating or deleting an inbox writes;
//   - a conversation record: its row;
//   - the absence of a conversation: its inbox's row, which creating or
//     deleting a conversation writes (or touches: a no-op UPDATE);
//   - a message, a tombstone, their absence, and every list of a
//     conversation's messages: the conversation's row, which every write
//     of a message or tombstone writes or touches;
//   - a list of an inbox's conversations: its inbox row and every
//     conversation row of the inbox (a conversation moving into the page
//     is a write of its row). This costs a lock per conversation; package
//     messaging never lists conversations inside Update.
//
// Message IDs: a transaction's snapshot is taken before its ID (the
// sequence is called in or after its first statement), so every
// transaction it sees took its IDs before, and validation at commit makes
// that true of everything it read. Hence a new message's ID is above
// every read mark and every ID in the conversations it joins, and within
// one conversation messages commit in ID order. READ COMMITTED would not
// do: a send that took ID 1 before another took ID 2 and a MarkRead moved
// the read mark to 2 would then add message 1 as unread under the read
// mark (TestReadCommittedDrift shows it, and that the store refuses it).
//
// The rows each operation of package messaging reads (R), writes (W) or
// touches, with c(a,b) for a's conversation with b and i(a) for a's inbox:
//
//	send a→b        R c(a,b) c(b,a) i(a) i(b); W c(a,b) c(b,a), both copies, i(b);
//	                W i(a) if new; touch i(a) if c(a,b) is new; touch the inbox
//	                set if an inbox is new; FOR SHARE i(a) otherwise
//	MarkRead(a,b)   R c(a,b) i(a) c(b,a); W c(a,b) i(a), c(b,a) if its mirror of
//	                the read mark is behind; nothing if nothing is new
//	MarkReadUpTo    as MarkRead, and R the message and the messages by ID above
//	                the read mark (protected by c(a,b), which it writes)
//	DeleteMessage   R c(a,b), the message, i(a), the newest message if it was
//	                the newest; W c(a,b), delete the message, add its
//	                tombstone; W i(a) if it was new
//	Inbox.Delete    R c(a,b) i(a); delete c(a,b) with its messages and
//	                tombstones; W i(a) (at least touched: a conversation left)
//	Inboxes.Delete  R i(a); delete i(a) and everything of a; touch the inbox set
//
// Why none of them can skew: write skew needs two transactions that each
// read what the other writes, neither seeing the other's write, and both
// commit. Here the commit of each locks what it read. Say T1's commit
// locks such a row first: T2's write of it waits until T1 has committed;
// T2's snapshot predates that commit, so when T2's commit locks the row
// T1 wrote (which T2 read), it fails with 40001. For instance a send that creates c(b,a) while a
// MarkRead(a,b) decides that c(b,a) is absent: the send writes c(a,b),
// which the MarkRead writes too; DeleteInbox(a) and a send creating
// c(a,b): the send touches i(a), which the delete writes; two sends to b:
// both write i(b). An Update function of an application's own gets the
// same guarantee for every ReadTx method, at the costs listed above.
//
// Deadlocks: commit pipelines lock in one order, so they never wait for
// each other in a cycle. A transaction that lists records or reads a
// message after writing sends its writes early (with that read), and
// takes those locks out of that order;
// PostgreSQL then breaks a cycle after deadlock_timeout (1s by default)
// and fn runs again. Package messaging does that only in DeleteMessage
// (its inbox row, the message and its tombstone, then its conversation
// row at commit); two of them on one message meet on the inbox row or the
// message before either holds the conversation row, and nothing else
// writes a message without holding its conversation row first.
//
// Within one process, Updates that touch the same inboxes also wait for
// each other in memory before their snapshot is taken (queue.go), instead
// of failing each other at COMMIT: that is a saving, not what makes
// Updates correct.
//
// # OnCommit order
//
// A transaction with OnCommit callbacks takes a stamp from a sequence as
// the last statement before COMMIT, in its commit pipeline, when it holds
// all its locks. Of two transactions touching a common row, the second to
// lock it waits for the first to commit (or fails), so it stamps after the
// first did: stamp order is commit order wherever the order can be seen.
// Callbacks run in stamp order; a committed transaction waits until every
// transaction of this process that was in flight when its stamp came back
// has returned, and those with a smaller stamp have run their callbacks
// (commitorder.go). No lock is held around COMMIT, and transactions
// without callbacks take no stamp.
//
// # PostgreSQL-only
//
// Data never travels by LISTEN/NOTIFY, keys are bytea and bigint, and the
// SQL is plain: sequences, ON CONFLICT, row-value comparisons, UNION ALL,
// generate_series, FOR SHARE. What needs PostgreSQL itself: the advisory
// lock that serialises migrations (pg_advisory_xact_lock), the catalog
// query that looks for foreign tables (pg_catalog.pg_class), the
// plan_cache_mode setting Open makes, and the REPEATABLE READ semantics
// the isolation argument relies on (a lock or write of a row changed
// after the snapshot fails with 40001). An engine with other semantics
// for REPEATABLE READ must run SERIALIZABLE instead.
//
// # Caveats
//
//   - A connection lost while COMMIT is in flight leaves the outcome
//     unknown: Update returns an error saying so, the send it carried may
//     or may not have happened, and its OnCommit callbacks (events) do not
//     run. (pg_xact_status could tell, for an xid taken by every
//     transaction; this store does not do that.) A server that answers
//     with a FATAL error before any result, as pg_terminate_backend makes
//     it do, ran none of it: fn then runs again.
//   - Conversations inside Update locks every conversation of the inbox.
//   - Pools given to New should set plan_cache_mode=force_generic_plan
//     (Open does), or PostgreSQL plans some statements at every execution.
//   - Verify walks the store in one View, a round trip per read: fine for
//     a check, slow for millions of messages.
package pgstore
