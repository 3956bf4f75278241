// Package messaging gives a Go application private messages between its
// users, kept in a store of their own (in memory, a bbolt file, or
// PostgreSQL through package pgstore when the application runs on several
// machines) outside whatever the application keeps for its users.
//
// Every user has an Inbox, created on first use, that holds one
// Conversation per other user they have exchanged messages with.
// Inboxes.SendMessage stores each message twice, mirrored: a copy in the
// sender's conversation with the recipient and a copy in the recipient's
// conversation with the sender, both with the same ID. The recipient's copy
// is new (unread) until the recipient marks the conversation read; the
// sender's own copy never is. Deleting a message, a conversation or an inbox
// touches only one side, and a later message starts the conversation afresh:
// deleted history never comes back.
//
// Unread counts, message counts, the last update time and the preview of the
// newest message are summaries kept up to date by every write, in the same
// transaction, so listing an inbox never counts messages. Which messages are
// new derives from a per-conversation read mark, so marking a conversation
// read is one small write however long it is.
//
// # Basics
//
// Open a durable store with Open (a bbolt file) or wrap any Store with New;
// NewMemoryStore is the store for tests and examples. Every method that
// touches the store takes a context.Context first; a call on a cancelled
// context writes nothing and returns an error wrapping context.Canceled.
// Bad input is refused before anything is written, with an *InputError
// naming the argument and wrapping one of the sentinel errors in errors.go
// (check with errors.Is and errors.As). Every error reads
// "messaging: what was done: why".
//
// # Paging
//
// Screens page instead of iterating: Conversation.Older and
// Conversation.Newer return a page of messages before or after a message ID
// (0 for the newest or the oldest end), Inbox.ConversationPage returns a
// page of conversations with their summaries and an opaque cursor for the
// next page. Positions are keys, not offsets, so writes between calls
// neither repeat nor hide other items, and a page costs the same however
// long the history. Conversation.MarkReadUpTo marks what a screen has
// shown; Message.ReadByRecipient is the read receipt of a message the
// owner sent. Messages sent without WithCreated are stamped inside their
// transaction, never before the newest message of their conversation, so
// within a conversation they sort in the order their sends committed: a
// screen polling Newer misses none, whatever the clocks of the processes
// sharing the store.
//
// # What applications ask for
//
// WithMeta attaches metadata to a message (attachments as references the
// application keeps elsewhere, links, client ids). WithIdempotencyKey makes
// a send that is retried after a lost reply return the first message
// instead of sending it again. Inboxes.Block stops messages between two
// users in both directions. Conversation.Retract deletes a message its
// sender regrets for both users. Message, Conversation, Inbox, Event and
// ConversationPage marshal to JSON with snake_case names; package httpapi
// serves them over HTTP, with events as Server-Sent Events.
//
// # Events
//
// Inboxes.Subscribe (one user) and Inboxes.SubscribeAll return a
// Subscription whose Next and Events deliver what changed: a message
// received, sent, deleted or retracted, a conversation read (the read
// receipt, which the sender's subscribers get too, with the sender's own
// counts), a conversation or an inbox deleted, each with the message copy
// and the new unread counts. Events are published only after their write
// commits, in commit order, never for a write that failed.
//
// Each user's events are also kept in the store, in the same transaction as
// the change, at gap-free positions (Event.Seq): Inboxes.SubscribeFrom
// resumes a client from the last position it saw, after a reconnect, a
// deploy or a restart, and, on a store shared by several processes, with
// the events any of them wrote. Options.EventHistory (1000 by default) is
// how many of each user's events are kept; resuming from before them is
// ErrResumeTooOld, and the client reloads. A subscriber that falls behind
// further than what is kept gets ErrOverflow. SubscribeAll is in-process
// only. A Subscription holds no goroutine; senders never wait for
// subscribers.
//
// # Stores
//
// A Store only keeps records and runs transactions; the rules above live
// once, in this package. MemoryStore keeps everything in memory;
// BoltStore keeps it in one bbolt file, fsync'd at each commit, with
// concurrent writers committed together (group commit); package pgstore
// keeps it in PostgreSQL for several processes. Package storetest is the
// conformance suite every Store passes, an application's own included.
// Copy moves every record from one store to another, for an application
// that grows from a bbolt file to PostgreSQL.
//
// # Concurrency
//
// Inboxes, Inbox, Conversation, Subscription and the stores are safe for
// concurrent use by many goroutines. Every write is one store transaction:
// concurrent writers never see each other's halves, and transactions behave
// as if run one after the other.
//
// # Caveats
//
// Snapshots: the fields of an Inbox or a Conversation (counts, LastUpdate,
// LastMessage) are a snapshot taken when the value was retrieved; get the
// value again to refresh them. Their methods always act on the store as it
// is when called, so a Conversation obtained before a reply still lists it.
//
// Iterators: Users, Blocked, Conversations and Messages return iter.Seq2
// values that read one bounded page in a short read transaction and yield
// it after the transaction has ended. The loop body may therefore call any
// method, including writes, without deadlock. Each range starts afresh,
// breaking early costs about what was read, and no item is yielded twice in
// one range. An item changed behind the position, or ahead of it but inside
// the page already read, may or may not be seen as changed. On an error an
// iterator yields (zero, err) once and stops.
//
// Durability: with the bbolt store, a nil error from a write means the write
// is on disk (fsync'd), unless BoltOptions.NoSync was set; with pgstore, it
// means PostgreSQL committed it. The memory store loses everything on
// Close.
//
// Time: Created is stored and returned in UTC, to the nanosecond, for the
// years 1 to 9999.
package messaging
