package messaging

import (
	"crypto/sha256"
	"time"
)

// The records a Store keeps. Stores copy what they are given and hand out
// copies: a record returned is the caller's to change.

// InboxRecord is the stored summary of one user's inbox.
type InboxRecord struct {
	Owner  string
	Unread int // new messages over all its conversations
}

// ConversationRecord is the stored state of one side of a conversation: its
// summary and the read marks that message New flags derive from, so that
// neither counts nor flags need a pass over the messages.
type ConversationRecord struct {
	Owner string // whose inbox
	Other string // the other user

	Messages   int       // number of messages in this copy
	Unread     int       // new messages in this copy
	LastUpdate time.Time // the largest Created among its messages (kept when emptied)

	// FirstID is the ID of the message that created this conversation: no
	// message of the pair with a smaller ID can be in it.
	FirstID uint64
	// MaxID is the largest message ID ever added to this conversation.
	MaxID uint64
	// ReadMark: messages received by Owner with ID <= ReadMark are read.
	ReadMark uint64
	// PeerReadMark is Other's ReadMark on their side, mirrored here so that
	// read receipts need no read of the other inbox.
	PeerReadMark uint64

	// Last is the newest message in (Created, ID) order, with Text cut to a
	// preview; zero when the conversation is empty.
	Last MessageRecord
}

// Key returns the position of c in its inbox's LastUpdate order.
func (c ConversationRecord) Key() ConversationKey {
	return ConversationKey{LastUpdate: c.LastUpdate, Other: c.Other}
}

// ConversationKey is a position in an inbox's conversation order: LastUpdate
// descending, then Other ascending.
type ConversationKey struct {
	LastUpdate time.Time
	Other      string
}

// MessageRecord is one stored copy of a message. Whether it is new is not
// stored: it derives from the conversation's ReadMark.
type MessageRecord struct {
	ID        uint64
	Sender    string
	Recipient string
	Text      string
	Created   time.Time // UTC

	// Meta is the message's metadata (attachments, links, client ids),
	// nil when it has none.
	Meta map[string]string

	// DeletedUnread, on the sender's copy, says that the recipient deleted
	// their copy (or their conversation) before reading it, so that no
	// read receipt ever covers it. Always false on the recipient's copy.
	DeletedUnread bool
}

// Key returns the position of m in its conversation's (Created, ID) order.
func (m MessageRecord) Key() MessageKey {
	return MessageKey{Created: m.Created, ID: m.ID}
}

// MessageKey is a position in a conversation's message order: Created, then
// ID.
type MessageKey struct {
	Created time.Time
	ID      uint64
}

// Compare returns -1, 0 or +1 as k sorts before, with or after o.
func (k MessageKey) Compare(o MessageKey) int {
	if c := k.Created.Compare(o.Created); c != 0 {
		return c
	}
	switch {
	case k.ID < o.ID:
		return -1
	case k.ID > o.ID:
		return 1
	}
	return 0
}

// Compare returns -1, 0 or +1 as k sorts before, with or after o in the
// conversation order (newest first, then by Other).
func (k ConversationKey) Compare(o ConversationKey) int {
	if c := k.LastUpdate.Compare(o.LastUpdate); c != 0 {
		return -c
	}
	switch {
	case k.Other < o.Other:
		return -1
	case k.Other > o.Other:
		return 1
	}
	return 0
}

// Tombstone marks a message deleted from one conversation
// (ReadTx.Deleted), so that a check can tell a copy deleted on purpose from
// one lost, and a cursor can still find the place of a deleted message.
type Tombstone struct {
	ID uint64
	// Retracted: the sender deleted the message for both users
	// (Conversation.Retract), so no copy of it may remain anywhere.
	Retracted bool
}

// Block is one user blocking another: no message goes between them, either
// way, while it stands.
type Block struct {
	User  string // who blocks
	Other string // whom
}

// IdempotencyRecord remembers a send made with WithIdempotencyKey, so that
// a retry returns the first send's message instead of sending it again.
type IdempotencyRecord struct {
	Sender string
	Key    string
	// MessageID and Created are those of the message the first send made.
	MessageID uint64
	Created   time.Time
	// Digest is the SHA-256 of the recipient, text and metadata of the first
	// send: a retry must match it.
	Digest [sha256.Size]byte
	// Expires is when the record may be dropped.
	Expires time.Time
}

// EventRecord is one event in a user's stream, in the order of Seq, which
// is gap-free and grows by one per event. Data is the event as package
// messaging encodes it; a Store keeps it as opaque bytes.
type EventRecord struct {
	User string
	Seq  uint64
	Data []byte
}
