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
}

// SendOption changes how SendMessage stores a message. A nil SendOption is
// ignored.
type SendOption func(*sendOptions)

type sendOptions struct {
	created time.Time
}

// WithCreated sets the message's Created time instead of now: for imports
// and for tests that need fixed times. The time is stored in UTC; a zero
// time means now; a time outside the years 1 to 9999 is refused with
// ErrInvalidTime. A back-dated message takes its place in the conversation
// by Created, but it is still new to its recipient.
func WithCreated(t time.Time) SendOption {
	return func(o *sendOptions) { o.created = t }
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
	}
}
