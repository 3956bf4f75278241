// Package messaging gives a Go application private messages between its
// users, kept in a store of their own (in memory, or a bbolt file) outside
// whatever the application keeps for its users.
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
// Bad input is refused with the sentinel errors in errors.go (check with
// errors.Is) before anything is written.
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
// owner sent.
//
// # Events
//
// Inboxes.Subscribe (one user) and Inboxes.SubscribeAll return a
// Subscription whose Next and Events deliver what changed: a message
// received or sent, a conversation read (the read receipt), a message, a
// conversation or an inbox deleted, each with the message copy and the new
// unread counts. Events are published only after their write commits, in
// commit order, never for a write that failed. They are kept in one bounded
// ring shared by all subscriptions, so senders never wait for subscribers
// and their cost does not grow with the number of subscribers; a
// subscriber that falls so far behind that it lost events gets ErrOverflow
// and should reload its state. A Subscription holds no goroutine.
//
// # Concurrency
//
// Inboxes, Inbox, Conversation and both stores are safe for concurrent use
// by many goroutines. Every write is one store transaction: concurrent
// writers never see each other's halves, and on the bbolt store writers that
// arrive while a commit is in flight are committed together in the next one
// (group commit), which is where its throughput under load comes from.
//
// # Caveats
//
// Snapshots: the fields of an Inbox or a Conversation (counts, LastUpdate,
// LastMessage) are a snapshot taken when the value was retrieved; get the
// value again to refresh them. Their methods always act on the store as it
// is when called, so a Conversation obtained before a reply still lists it.
//
// Iterators: Users, Conversations and Messages return iter.Seq2 values that
// read one bounded page in a short read transaction and yield it after the
// transaction has ended. The loop body may therefore call any method,
// including writes, without deadlock. Each range starts afresh, breaking
// early costs about what was read, and no item is yielded twice in one
// range. An item changed behind the position, or ahead of it but inside the
// page already read, may or may not be seen as changed. On an error an
// iterator yields (zero, err) once and stops.
//
// Durability: with the bbolt store, a nil error from a write means the write
// is on disk (fsync'd), unless BoltOptions.NoSync was set. The memory store
// loses everything on Close.
//
// Time: Created is stored and returned in UTC, to the nanosecond.
package messaging
