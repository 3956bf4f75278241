package messaging

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

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

// validUser returns nil if id is a user id the store accepts, or the
// sentinel saying why not. Everything else (spaces, punctuation, any
// printable Unicode) is kept byte for byte.
func validUser(id string) error {
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

// validText applies the text rules; the length check comes first so that a
// huge text is refused without being scanned.
func validText(text string, maxBytes int) error {
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

// Times a message may carry: RFC 3339 (JSON) and SQL timestamps hold the
// years 1 to 9999 only.
var (
	minCreated = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxCreated = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// validCreated refuses a time that JSON and SQL cannot carry.
func validCreated(t time.Time) error {
	if t.Before(minCreated) || !t.Before(maxCreated) {
		return ErrInvalidTime
	}
	return nil
}

// validPair checks the two users of a conversation.
func validPair(ownerField, owner, otherField, other string) error {
	if err := validUser(owner); err != nil {
		return inputError(ownerField, err)
	}
	return inputError(otherField, validUser(other))
}
