// Package pgstore is a messaging.Store in PostgreSQL, for applications that
// run several processes over one database.
//
//	store, err := pgstore.Open(ctx, "postgres://app@db.internal/app", nil)
//	...
//	inboxes := messaging.New(store) // Close closes the store
//
// It keeps every rule of package messaging, as the bbolt store does, and
// stays correct with any number of processes writing at once: Updates are
// serializable, the OnCommit callbacks of one process run in commit order,
// and each user's event stream is numbered gap-free in commit order, the
// same in every process. A subscriber in one process receives what the
// others commit (WatchStreams, below).
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
// one database are two independent stores. Migration 0002 adds metadata,
// kinds of tombstone, blocks, idempotency records and event streams to the
// first layout, in place.
//
// Records map to plain columns (codec.go): user ids, texts and event data
// as bytea (byte order, NUL bytes, any length), message metadata as bytea
// in an order-independent encoding (NULL when there is none), message IDs
// and event Seqs as bigint with the sign bit flipped (every uint64, in
// unsigned order), times as Unix seconds and nanoseconds (years 1 to
// 9999, to the nanosecond), and a conversation's place in its inbox as
// its negated LastUpdate, so that one ascending index serves "newest
// first, then by user id". Every list read is a range scan of one index
// that stops after the page.
//
// A user's row (table inboxes) holds the user's inbox, if there is one,
// and the bounds of the user's event stream, which outlives the inbox: a
// row exists while either does.
//
// # Transactions and round trips
//
// View runs in a REPEATABLE READ READ ONLY transaction: one snapshot for
// all of fn's reads, no locks. Update runs in a REPEATABLE READ
// transaction whose reads take no locks either; its writes are buffered
// and go out with its COMMIT. BEGIN goes out with the first statement, so
// a transaction costs no round trip of its own; each read that the
// transaction cannot answer from what it already read or wrote is one
// round trip; the commit is one more. The first time an Update touches a
// pair of users it reads both user rows (inboxes and streams), both sides
// of their conversation and the blocks between them in one statement,
// which also takes a spare message ID for NextID (nextid.go) when the read
// comes from Blocked, as a send's does. A keyed send's idempotency record
// is guessed absent and checked in that same pipeline (guess.go). A read
// of a conversation's messages lays the transaction's own buffered writes
// over what the database returns, instead of sending them first.
//
// So Inboxes.SendMessage costs 2 round trips (3 with an idempotency key:
// the purge of expired keys returns how many it deleted; 2 for a repeated
// key), Block 2, MarkRead 2, MarkReadUpTo 4, DeleteMessage up to 5 (the
// sender's copy of an unread message, the newest message left), Retract
// 5, Conversation.Older and Newer 1 (the store's View is a
// messaging.PageReader: the conversation, the cursor's place and the page
// in one pipeline), Inbox.ConversationPage 2 (the inbox, then the page). A
// View does not wait for its ROLLBACK: the connection goes back to the
// pool once the server has answered it.
//
// # Isolation
//
// Update is serializable by validation at commit. fn reads a snapshot; the
// commit pipeline then takes every lock the transaction needs, in one
// order for all transactions (writes.go): the rows it writes, by writing
// them, and, with SELECT ... FOR SHARE, the rows that protect what fn read
// without writing. Under REPEATABLE READ, locking or writing a row that
// another transaction changed after this one's snapshot fails with
// SQLSTATE 40001. So once the commit pipeline holds its locks, everything
// fn read is still as it was, and the locks keep it so until COMMIT: the
// transaction behaves as if it ran whole at that instant, and of two
// transactions that touch a common row, the one that commits second ran
// second. fn is then run again, in a new transaction, on 40001, 40P01
// (deadlock), 55P03 (a lock_timeout the server may set), 23505 (a
// concurrent insert of a key it inserts: the same idempotency key, say)
// and a connection lost before COMMIT went out: at most 50 times, never
// after ctx is done, after a short random pause from the third attempt
// on.
//
// What protects a read (the set of users is the one row of table
// inbox_set):
//
//   - an inbox record: its row;
//   - the absence of an inbox, and the list of users: the set of users,
//     which creating or deleting an inbox touches, as does creating or
//     deleting a user's row;
//   - a conversation record: its row;
//   - the absence of a conversation: its inbox's row, which creating or
//     deleting a conversation writes (or touches: a no-op UPDATE);
//   - a message, a tombstone, their absence, and every list of a
//     conversation's messages or tombstones: the conversation's row, which
//     every write of a message or tombstone writes or touches;
//   - a list of an inbox's conversations: its inbox row and every
//     conversation row of the inbox (a conversation moving into the page
//     is a write of its row). This costs a lock per conversation; package
//     messaging never lists conversations inside Update;
//   - a user's stream (its bounds, its events, their absence): the user's
//     row, which every write of the stream writes; for a user without a
//     row (whose stream is empty), the set of users;
//   - the list of streams: the set of users, which a stream touches when
//     it becomes empty or stops being so;
//   - a block of either user by the other, or its absence: both users'
//     rows, which every write of a block between them touches (the set of
//     users stands for a user without a row). A send relies on finding no
//     block, and locks both rows anyway (it writes the recipient's, and
//     the sender's with streams, or locks it FOR SHARE): so a block that
//     commits first makes every send between the two that commits after
//     it fail at COMMIT, run again, and find the block;
//   - the list of blocks: the set of users, which every write of a block
//     touches;
//   - an idempotency record: its row; its absence: the insert of the same
//     key, if the transaction makes it (a concurrent insert fails one of
//     them with 23505), else an insert of the key and its deletion in the
//     commit pipeline, which fail or wait the same way;
//   - the list of idempotency records: the records listed, not a record
//     inserted among them meanwhile (package messaging lists them only in
//     View).
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
// Event Seqs: every write of a user's stream writes the user's row, so two
// transactions appending to one stream conflict and the second runs
// again: a Seq is committed once, without gaps, in commit order.
//
// The rows each operation of package messaging reads (R), writes (W) or
// touches, with c(a,b) for a's conversation with b, u(a) for a's row, and
// "streams" meaning with event history on (the default):
//
//	send a→b        R u(a) u(b) c(a,b) c(b,a), the blocks between a and b, the
//	                idempotency key if any; W c(a,b) c(b,a), both copies, u(b),
//	                u(a) with streams or if new, else FOR SHARE u(a); both
//	                streams; touch u(a) if c(a,b) is new; touch the set of users
//	                if a row is new; W the key if any, and purge expired keys
//	MarkRead(a,b)   R c(a,b) u(a) c(b,a) u(b); W c(a,b) u(a), c(b,a) if its mirror
//	                of the read mark is behind, both streams; nothing if nothing
//	                is new
//	MarkReadUpTo    as MarkRead, and R the message and the messages by ID above
//	                the read mark (protected by c(a,b), which it writes)
//	DeleteMessage   R c(a,b), the message, u(a), the newest message if it was
//	                the newest, the sender's copy if it was unread; W c(a,b),
//	                delete the message, add its tombstone, u(a)'s stream; W u(a)
//	                if it was new, the sender's copy and c(b,a) if unread
//	Retract         as DeleteMessage on both sides, with retracted tombstones
//	Block, Unblock  R the pair; W the block; touch u(a) u(b) and the set of users
//	Inbox.Delete    R c(a,b) u(a), the unread messages; delete c(a,b) with its
//	                messages and tombstones; W u(a) (at least touched)
//	Inboxes.Delete  R u(a), a's conversations and their unread messages; delete
//	                a's inbox and everything in it (u(a) stays for the stream);
//	                touch the set of users
//
// Why none of them can skew: write skew needs two transactions that each
// read what the other writes, neither seeing the other's write, and both
// commit. Here the commit of each locks what it read. Say T1's commit
// locks such a row first: T2's write of it waits until T1 has committed;
// T2's snapshot predates that commit, so when T2's commit locks the row
// T1 wrote (which T2 read), it fails with 40001. For instance a send that
// creates c(b,a) while a MarkRead(a,b) decides that c(b,a) is absent: the
// send writes c(a,b), which the MarkRead writes too; DeleteInbox(a) and a
// send creating c(a,b): the send touches u(a), which the delete writes;
// two sends to b: both write u(b); Block(b,a) and a send a→b: both lock
// u(a) and u(b), and the block writes them. An Update function of an
// application's own gets the same guarantee for every ReadTx method (but
// the list of idempotency records, as said), at the costs listed above.
//
// Deadlocks: commit pipelines lock in one order, so they never wait for
// each other in a cycle, and package messaging's writes send nothing
// before their commit pipeline: reads of messages lay the buffered writes
// over the database's answer, and the purge of idempotency keys sends only
// the transaction's idempotency records before it (which are only waited
// on by a transaction inserting the same key). A transaction of an
// application's own that lists users, conversations, blocks, streams,
// events or idempotency records after writing sends its writes early with
// that read, and takes their locks out of that order; PostgreSQL then
// breaks a cycle after deadlock_timeout (1s by default) and fn runs again.
//
// Within one process, Updates that touch the same users also wait for
// each other in memory before their snapshot is taken (queue.go), instead
// of failing each other at COMMIT: that is a saving, not what makes
// Updates correct.
//
// # Event streams
//
// A stream's events are rows of table events; its first and last Seq and
// how many events it holds are in the user's row. A trim of a stream
// without gaps (every stream package messaging writes) only moves the
// first Seq: the trimmed events leave the table 64 at a time, in one
// DELETE, and reads skip them meanwhile (streams.go). So with history on,
// a send writes both users' rows and one INSERT of the two events, and
// trims at no cost of its own.
//
// The store is a messaging.StreamWatcher (watch.go). A transaction that
// wrote events hands each stream's new last Seq, once committed, to the
// store's notifier, which sends them with NOTIFY on the schema's channel
// from a connection of its own, gathering the commits of up to 5 ms into
// one transaction that does not wait for its WAL flush: senders never wait
// for it, and PostgreSQL's global NOTIFY lock is taken at most a few
// hundred times a second however many sends there are. WatchStreams
// LISTENs on a connection of its own (reconnecting after a failure, and
// polling at once when it is back) and polls the last Seq of the watched
// users' streams every Options.PollInterval (1 s) in one statement, so a
// lost notification only delays an event; NOTIFY carries a wake-up hint,
// the events are read from the table.
//
// # Copying a store
//
// messaging.Copy uses two capabilities the store has. View's ReadTx is a
// messaging.Scanner (scan.go): an inbox's messages and tombstones across
// its conversations, a page per statement, each a range scan of an index
// starting at the position (a row comparison), so reading a store costs a
// few statements per inbox, not per conversation. The store is a
// messaging.Loader (load.go): a batch goes in one transaction, a COPY per
// kind of record straight into its table, with the user rows, the touches
// and the checks an Update of the same Puts would make; a kind that meets
// a stored row goes through a temporary table and INSERT ... ON CONFLICT
// DO UPDATE instead, so Load replaces what is stored, as Put does.
// Measured here (2 shared cores, fsync on), a bbolt store of 1 000 000
// sends (2 000 000 message copies, 864 240 conversations, 1 000 000
// events) copies into PostgreSQL at about 20 000 messages/s, and back at
// about 50 000.
//
// # Idempotency records
//
// A keyed send inserts its record with a plain INSERT: of two sends with
// one key, the second to commit fails with 23505 (or 40001), runs again
// and finds the first's record. Every keyed send also deletes up to two
// expired records, oldest first, through the function purge_idempotency,
// which skips records another purger holds (SKIP LOCKED) or deleted after
// this transaction's snapshot (a 40001 caught per record): purgers do not
// fail each other.
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
// Data never travels by LISTEN/NOTIFY, keys are bytea and bigint, and most
// of the SQL is plain: sequences, ON CONFLICT, row-value comparisons,
// UNION ALL, generate_series, FOR SHARE. What needs PostgreSQL itself: the
// advisory lock that serialises migrations (pg_advisory_xact_lock), the
// catalog query that looks for foreign tables (pg_catalog.pg_class), the
// plan_cache_mode and enable_seqscan settings Open makes, LISTEN/NOTIFY (set
// Options.DisableNotify on an engine without it: CockroachDB has none; the
// polls still deliver), the PL/pgSQL function that purges idempotency
// records, and the REPEATABLE READ semantics the isolation argument relies
// on (a lock or write of a row changed after the snapshot fails with
// 40001). An engine with other semantics for REPEATABLE READ must run
// SERIALIZABLE instead.
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
//   - AdvanceID is not transactional (a sequence is not), and an ID that a
//     concurrent NextID takes in the instant between its two steps may be
//     handed out again: advance a store's IDs before it is used.
//   - Pools given to New should set plan_cache_mode=force_generic_plan
//     (Open does), or PostgreSQL plans some statements at every execution,
//     and enable_seqscan=off (Open does), or a send writes its two
//     conversation rows (and two user rows) with a statement each: every
//     statement of the store is meant to use an index, and on a small
//     table PostgreSQL would rather scan it whole, keep that plan as the
//     table grows, and lock rows in the table's order.
//   - Verify walks the store in one View, a round trip per read: fine for
//     a check, slow for millions of messages.
package pgstore
