package messaging

import (
	"time"
)

// Message is one copy of a message, as seen from one inbox. The two copies
// that SendMessage stores share ID, Sender, Recipient, Text and Created; New
// differs, because only the recipient has something to read.
type Message struct {
	ID        uint64    `json:"id"`        // same in both copies; unique in the store
	Sender    string    `json:"sender"`    // user id of the author
	Recipient string    `json:"recipient"` // user id of the addressee
	Text      string    `json:"text"`      // as sent, byte for byte
	Created   time.Time `json:"created"`   // UTC; set by WithCreated or the clock at send time
	New       bool      `json:"new"`       // unread by the owner of the inbox it was read from

	// ReadByRecipient is the read receipt: for a message the inbox's owner
	// sent, whether the recipient has read it (as of retrieval). Always
	// false for a message the owner received, and for one the recipient
	// deleted, or deleted the conversation of, before reading it.
	ReadByRecipient bool `json:"read_by_recipient"`

	// Meta is the message's metadata as sent with WithMeta (attachments as
	// references the application keeps elsewhere, links, client ids); nil
	// when it has none. The map is the caller's: changing it changes
	// nothing stored.
	Meta map[string]string `json:"meta,omitempty"`
}

// SendOption changes how SendMessage stores a message. A nil SendOption is
// ignored.
type SendOption func(*sendOptions)

type sendOptions struct {
	created time.Time
	meta    map[string]string
	key     string
	keyed   bool
}

// WithCreated sets the message's Created time instead of now: for imports
// and for tests that need fixed times. The time is stored in UTC; a zero
// time means now; a time outside the years 1 to 9999 is refused with
// ErrInvalidTime. A back-dated message takes its place in the conversation
// by Created, but it is still new to its recipient.
func WithCreated(t time.Time) SendOption {
	return func(o *sendOptions) { o.created = t }
}

// WithMeta attaches metadata to the message: string keys and values the
// library keeps with both copies and hands back in Message.Meta, in events
// and in the conversation preview. Attachments are references the
// application stores elsewhere (a URL, a file id, a type, a size): the
// library keeps them, not the files. The map is copied; a message with
// metadata may have empty text. The limits (MaxMetaEntries,
// MaxMetaKeyBytes, MaxMetaBytes) are checked by SendMessage:
// ErrInvalidMeta. An empty map is no metadata.
func WithMeta(meta map[string]string) SendOption {
	meta = cloneMeta(meta)
	return func(o *sendOptions) { o.meta = meta }
}

// WithIdempotencyKey makes a retried send harmless: a send whose sender
// and key match an earlier committed send returns that send's message (same
// ID and Created) and writes nothing, emits nothing; the same key with
// another recipient, text or metadata is ErrIdempotencyConflict. Keys are
// 1 to MaxIdempotencyKeyBytes bytes, kept per sender for at least
// Options.IdempotencyWindow (24 hours by default).
func WithIdempotencyKey(key string) SendOption {
	return func(o *sendOptions) { o.key, o.keyed = key, true }
}

// cloneMeta copies meta; nil or empty gives nil.
func cloneMeta(meta map[string]string) map[string]string {
	if len(meta) == 0 {
		return nil
	}
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		out[k] = v
	}
	return out
}

// preview cuts text to at most PreviewRunes runes.
func preview(text string) string {
	n := 0
	for i := range text {
		if n == PreviewRunes {
			return text[:i]
		}
		n++
	}
	return text
}

// message turns the stored copy in rec's conversation into a Message; New
// and ReadByRecipient derive from the conversation's read marks.
func message(rec ConversationRecord, m MessageRecord) Message {
	return Message{
		ID:        m.ID,
		Sender:    m.Sender,
		Recipient: m.Recipient,
		Text:      m.Text,
		Created:   m.Created,
		New:       m.Recipient == rec.Owner && m.ID > rec.ReadMark,

		ReadByRecipient: m.Sender == rec.Owner && m.ID <= rec.PeerReadMark && !m.DeletedUnread,

		Meta: cloneMeta(m.Meta),
	}
}
