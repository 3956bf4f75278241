package messaging

import (
	"context"
	"time"
)

// Store is the seam between the messaging rules and the place records are
// kept. The rules (mirrored copies, unread counts, validation, ordering of
// what users see) live once, in this package; a Store only keeps records,
// keeps them in the orders documented below, and runs transactions.
//
// Implementations in this module: MemoryStore and BoltStore. An application
// writing its own Store runs the conformance suite in package storetest
// against it.
//
// Every Store must be safe for concurrent use by many goroutines, and its
// transactions serializable: concurrent Updates behave as if run one after
// the other, so a read-modify-write inside one Update never loses another's
// write.
//
// User ids reaching a Store are non-empty, valid UTF-8 of at most
// MaxUserBytes bytes without control characters (the root package refuses
// any other); a Store keeps every such id apart from every other, byte for
// byte. Times are kept to the nanosecond and returned in UTC.
//
// Errors: a missing record is ErrNotFound, returned bare or wrapped; the
// caller adds the context. Stores return ErrClosed after Close.
type Store interface {
	// View runs fn in a read-only transaction that sees one consistent
	// state of the store. fn must not keep the ReadTx, or anything that
	// borrows from it, after it returns; records it returns are copies the
	// caller owns. View returns fn's error unchanged, an error wrapping
	// ctx.Err() if ctx is done before fn starts, or ErrClosed after Close.
	View(ctx context.Context, fn func(ReadTx) error) error

	// Update runs fn in a read-write transaction. If fn returns nil, all its
	// writes are committed atomically (and durably, for a durable store)
	// before Update returns nil. If fn returns an error, or the commit
	// fails, none of its writes persist and Update returns that error.
	//
	// fn may be called more than once for one Update (a store that groups
	// commits may roll back and re-run it), so it must not have effects
	// outside the transaction other than recording its result. If ctx is
	// done before fn starts, fn is not called and Update returns an error
	// wrapping ctx.Err(). After Close, Update returns ErrClosed.
	//
	// fn must not call View, Update or Close of the same store: a store may
	// run fn while holding what those wait for.
	Update(ctx context.Context, fn func(Tx) error) error

	// Close releases the store, after the transactions in flight end. Other
	// calls after Close return ErrClosed; Close itself is idempotent and
	// returns what the first call returned.
	Close() error
}

// ReadTx reads records inside a transaction. It is valid only inside the
// function passed to View or Update, and only in that function's goroutine.
//
// Every record and slice returned is owned by the caller: changing it changes
// nothing stored, and it stays valid after the transaction ends. A missing
// record gives an error for which errors.Is(err, ErrNotFound) holds; methods
// returning lists give an empty list, not an error, when there is nothing to
// list, and so does a limit <= 0.
type ReadTx interface {
	// Inbox returns the inbox record of owner, or ErrNotFound.
	Inbox(owner string) (InboxRecord, error)

	// Users returns up to limit owners of inboxes, in ascending byte order,
	// starting strictly after after ("" starts at the first).
	Users(after string, limit int) ([]string, error)

	// Conversation returns owner's conversation record with other, or
	// ErrNotFound.
	Conversation(owner, other string) (ConversationRecord, error)

	// Conversations returns up to limit conversation records of owner's
	// inbox ordered by LastUpdate descending, then Other ascending (bytes),
	// starting strictly after the position after (nil starts at the newest).
	// An unknown owner gives an empty list.
	Conversations(owner string, after *ConversationKey, limit int) ([]ConversationRecord, error)

	// Message returns the message with id in owner's conversation with
	// other, or ErrNotFound.
	Message(owner, other string, id uint64) (MessageRecord, error)

	// Messages returns up to limit messages of owner's conversation with
	// other in (Created, ID) order, ascending or, with reverse, descending,
	// starting strictly after the position after (nil starts at the oldest,
	// or with reverse at the newest). The position need not be a stored
	// message. An unknown conversation gives an empty list.
	Messages(owner, other string, after *MessageKey, reverse bool, limit int) ([]MessageRecord, error)

	// MessagesByID returns up to limit messages of owner's conversation with
	// other whose ID is greater than afterID, in ascending ID order. Read
	// marks are IDs, so this is how the messages a read mark covers are
	// found. An unknown conversation gives an empty list.
	MessagesByID(owner, other string, afterID uint64, limit int) ([]MessageRecord, error)

	// Deleted reports whether DeleteMessage removed the message with id from
	// owner's conversation with other since the conversation was created:
	// the tombstones that let a check tell a copy deleted on purpose from a
	// copy lost. DeleteConversation and DeleteInbox forget them. An unknown
	// conversation gives false.
	Deleted(owner, other string, id uint64) (bool, error)

	// Tombstones returns up to limit tombstones of owner's conversation
	// with other whose ID is greater than afterID, in ascending ID order.
	// An unknown conversation gives an empty list.
	Tombstones(owner, other string, afterID uint64, limit int) ([]Tombstone, error)

	// Blocked reports whether user blocks other.
	Blocked(user, other string) (bool, error)

	// Blocks returns up to limit blocks in ascending (User, Other) byte
	// order, starting strictly after after (the zero Block starts at the
	// first). Blocks of one user are listed from Block{User: user}.
	Blocks(after Block, limit int) ([]Block, error)

	// Idempotency returns the record of sender's idempotency key, or
	// ErrNotFound. Expired records may still be returned: the caller
	// compares Expires with its clock.
	Idempotency(sender, key string) (IdempotencyRecord, error)

	// Idempotencies returns up to limit idempotency records in ascending
	// (Sender, Key) byte order, starting strictly after after.
	Idempotencies(after IdempotencyRecord, limit int) ([]IdempotencyRecord, error)

	// StreamBounds returns the Seq of the oldest and the newest event kept
	// in user's stream; both 0 if it holds none.
	StreamBounds(user string) (first, last uint64, err error)

	// Events returns up to limit events of user's stream with a Seq greater
	// than after, in ascending Seq order.
	Events(user string, after uint64, limit int) ([]EventRecord, error)

	// Streams returns up to limit users whose stream holds events, in
	// ascending byte order, starting strictly after after.
	Streams(after string, limit int) ([]string, error)
}

// Tx reads and writes records inside the function passed to Update. Its
// writes become visible to other transactions only when Update commits.
// Strings and values passed in are copied as needed; the caller may reuse
// them.
type Tx interface {
	ReadTx

	// NextID returns a message ID that is greater than every ID the store
	// has returned before in a committed transaction, or earlier in this
	// one. IDs start at 1.
	NextID() (uint64, error)

	// PutInbox creates or replaces the inbox record of rec.Owner.
	PutInbox(rec InboxRecord) error

	// DeleteInbox removes owner's inbox with all its conversations and
	// messages, or returns ErrNotFound.
	DeleteInbox(owner string) error

	// PutConversation creates or replaces the conversation record
	// (rec.Owner, rec.Other) and moves it to its place in the LastUpdate
	// order. Without an inbox record of rec.Owner it returns ErrNotFound.
	PutConversation(rec ConversationRecord) error

	// DeleteConversation removes owner's conversation with other and all
	// its messages, or returns ErrNotFound.
	DeleteConversation(owner, other string) error

	// PutMessage stores m in owner's conversation with other, replacing a
	// message with the same ID. Without the conversation record it returns
	// ErrNotFound.
	PutMessage(owner, other string, m MessageRecord) error

	// OnCommit registers f to run once the transaction has committed, so
	// that what happens after a write (events, caches) never sees a write
	// that did not persist. Callbacks run in registration order, and all
	// callbacks of a transaction run before those of any transaction that
	// commits after it, so their order is commit order. They are dropped if
	// the function passed to Update returns an error or the commit fails.
	// f runs while the store still serialises writers: it must be quick,
	// must not block and must not call the store. If f panics, the write
	// stays committed and the panic is raised in the Update that
	// registered f.
	OnCommit(f func())

	// DeleteMessage removes the message with id from owner's conversation
	// with other and leaves a tombstone for Deleted, or returns ErrNotFound.
	DeleteMessage(owner, other string, id uint64) error

	// PutTombstone creates or replaces a tombstone in owner's conversation
	// with other (marking a deletion as a retraction; a copy of a store).
	// Without the conversation record it returns ErrNotFound.
	PutTombstone(owner, other string, t Tombstone) error

	// PutBlock records that b.User blocks b.Other; blocking again is no
	// error. Blocks are kept apart from inboxes: they need none and
	// outlive DeleteInbox.
	PutBlock(b Block) error

	// DeleteBlock removes a block, or returns ErrNotFound.
	DeleteBlock(b Block) error

	// PutIdempotency creates or replaces the record of (rec.Sender,
	// rec.Key).
	PutIdempotency(rec IdempotencyRecord) error

	// DeleteIdempotencies removes up to limit records whose Expires is
	// before t, oldest first, and returns how many it removed.
	DeleteIdempotencies(t time.Time, limit int) (int, error)

	// PutEvent stores rec in rec.User's stream, replacing an event with the
	// same Seq. Streams are kept apart from inboxes: they outlive
	// DeleteInbox, so that a client resuming after an inbox was deleted
	// learns of it. rec.Data may be kept as it is: the caller does not
	// change it afterwards.
	PutEvent(rec EventRecord) error

	// DeleteEvents removes the events of user's stream with a Seq up to
	// and including upTo.
	DeleteEvents(user string, upTo uint64) error

	// AdvanceID makes NextID return IDs greater than id from now on (it
	// never lowers them): for a copy of a store, whose IDs must stay as
	// they were. Like NextID, it may take effect even if the transaction
	// rolls back (a database sequence does): IDs only grow.
	AdvanceID(id uint64) error
}

// Checker is an optional capability of a Store: a check of its own
// structure (indexes against records, records that do not decode) that the
// Store interface cannot see. Inboxes.Verify runs it when the store has it.
type Checker interface {
	// Check reports every problem it finds to report, and returns an error
	// only if it could not run the check.
	Check(ctx context.Context, report func(Problem)) error
}
