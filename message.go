package messaging

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Message is one copy of a message, as seen from one inbox. The two copies
// that SendMessage stores share ID, Sender, Recipient, Text and Created; New
// differs, because only the recipient has something to read.
type Message struct {
	ID        uint64    // same in both copies; unique in the store
	Sender    string    // user id of the author
	Recipient string    // user id of the addressee
	Text      string    // as sent, byte for byte
	Created   time.Time // UTC; set by WithCreated or the clock at send time
	New       bool      // unread by the owner of the inbox it was read from

	// ReadByRecipient is the read receipt: for a message the inbox's owner
	// sent, whether the recipient has marked it read (as of retrieval).
	// Always false for a message the owner received.
	ReadByRecipient bool
}

// SendOption changes how SendMessage stores a message.
type SendOption func(*sendOptions)

type sendOptions struct {
	created time.Time
}

// WithCreated sets the message's Created time instead of now: for imports
// and for tests that need fixed times. The time is stored in UTC; a zero
// time means now. A back-dated message takes its place in the conversation
// by Created, but it is still new to its recipient.
func WithCreated(t time.Time) SendOption {
	return func(o *sendOptions) { o.created = t }
}

// Limits on input. User ids and texts beyond them are refused with the
// errors in errors.go.
const (
	// MaxUserBytes is the longest user id, in bytes.
	MaxUserBytes = 255
	// DefaultMaxMessageBytes is the longest text, in bytes, unless
	// Options.MaxMessageBytes says otherwise.
	DefaultMaxMessageBytes = 64 << 10
	// PreviewRunes is how much of the newest message's text a Conversation
	// carries in LastMessage, so that list screens need no further read.
	PreviewRunes = 100
)

// checkUser reports whether id is a user id the store accepts. Everything
// else (spaces, punctuation, any printable Unicode) is kept byte for byte.
func checkUser(id string) error {
	if id == "" || len(id) > MaxUserBytes || !utf8.ValidString(id) {
		return ErrInvalidUser
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return ErrInvalidUser
		}
	}
	return nil
}

// checkText applies the text rules; the length check comes first so that a
// huge text is refused without being scanned.
func checkText(text string, maxBytes int) error {
	switch {
	case len(text) > maxBytes:
		return ErrMessageTooLong
	case !utf8.ValidString(text):
		return ErrInvalidText
	case strings.TrimSpace(text) == "":
		return ErrEmptyMessage
	}
	return nil
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
// derives from the conversation's read mark.
func message(rec ConversationRecord, m MessageRecord) Message {
	return Message{
		ID:        m.ID,
		Sender:    m.Sender,
		Recipient: m.Recipient,
		Text:      m.Text,
		Created:   m.Created,
		New:       m.Recipient == rec.Owner && m.ID > rec.ReadMark,

		ReadByRecipient: m.Sender == rec.Owner && m.ID <= rec.PeerReadMark,
	}
}
