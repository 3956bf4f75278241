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

	// MaxMetaEntries is the most entries a message's metadata may have.
	MaxMetaEntries = 32
	// MaxMetaKeyBytes is the longest metadata key, in bytes.
	MaxMetaKeyBytes = 64
	// MaxMetaBytes bounds a message's metadata: its keys and values, in
	// bytes, all together.
	MaxMetaBytes = 16 << 10

	// MaxIdempotencyKeyBytes is the longest idempotency key, in bytes.
	MaxIdempotencyKeyBytes = 128
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
// huge text is refused without being scanned. A message with metadata may
// have an empty text (a photo).
func validText(text string, maxBytes int, hasMeta bool) error {
	switch {
	case len(text) > maxBytes:
		return ErrMessageTooLong
	case !utf8.ValidString(text):
		return ErrInvalidText
	case strings.TrimSpace(text) == "" && !hasMeta:
		return ErrEmptyMessage
	}
	return nil
}

// validMeta applies the metadata limits.
func validMeta(meta map[string]string) error {
	if len(meta) > MaxMetaEntries {
		return ErrInvalidMeta
	}
	total := 0
	for k, v := range meta {
		total += len(k) + len(v)
		if k == "" || len(k) > MaxMetaKeyBytes || !utf8.ValidString(k) || strings.IndexFunc(k, unicode.IsControl) >= 0 ||
			!utf8.ValidString(v) || total > MaxMetaBytes {
			return ErrInvalidMeta
		}
	}
	return nil
}

// validKey applies the idempotency key limits.
func validKey(key string) error {
	if key == "" || len(key) > MaxIdempotencyKeyBytes {
		return ErrInvalidKey
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
