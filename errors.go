package messaging

import (
	"errors"
	"fmt"
	"strings"
)

// Every error this module returns says "messaging: " once, at the front: the
// sentinels below carry the prefix, and context is added by wrapf, which
// drops the prefix of the error it wraps. So a chain reads
// "messaging: get inbox "nobody": not found", and errors.Is still finds
// ErrNotFound in it.

// These errors are returned for input that breaks the rules in the package
// documentation. Nothing is written when one of them is returned. They come
// inside an *InputError naming the argument, so check them with errors.Is,
// and use errors.As to learn which argument was wrong.
var (
	// ErrInvalidUser: a user id is empty, longer than MaxUserBytes, not
	// valid UTF-8, or holds a control character.
	ErrInvalidUser = errors.New("messaging: invalid user id")

	// ErrSelfMessage: the sender and the recipient are the same user.
	ErrSelfMessage = errors.New("messaging: sender and recipient are the same user")

	// ErrEmptyMessage: the text is empty or only white space.
	ErrEmptyMessage = errors.New("messaging: empty message")

	// ErrMessageTooLong: the text is longer than the configured limit
	// (Options.MaxMessageBytes, DefaultMaxMessageBytes by default).
	ErrMessageTooLong = errors.New("messaging: message too long")

	// ErrInvalidText: the text is not valid UTF-8.
	ErrInvalidText = errors.New("messaging: message text is not valid UTF-8")

	// ErrInvalidTime: a time given with WithCreated is outside the years 1
	// to 9999, which JSON (RFC 3339) and SQL cannot carry.
	ErrInvalidTime = errors.New("messaging: time outside the years 1 to 9999")

	// ErrInvalidMeta: metadata given with WithMeta breaks a limit: more
	// than MaxMetaEntries entries, a key empty, longer than MaxMetaKeyBytes,
	// not valid UTF-8 or holding a control character, a value not valid
	// UTF-8, or keys and values over MaxMetaBytes in all.
	ErrInvalidMeta = errors.New("messaging: invalid metadata")

	// ErrInvalidKey: an idempotency key is empty or longer than
	// MaxIdempotencyKeyBytes.
	ErrInvalidKey = errors.New("messaging: invalid idempotency key")
)

// These errors are returned when the state of the store forbids a write.
// Nothing is written when one of them is returned.
var (
	// ErrBlocked: one of the two users blocks the other, so no message
	// goes between them.
	ErrBlocked = errors.New("messaging: blocked")

	// ErrNotSender: only the sender of a message may retract it.
	ErrNotSender = errors.New("messaging: not the sender of the message")

	// ErrIdempotencyConflict: an idempotency key was used before by the
	// same sender for another recipient, text or metadata.
	ErrIdempotencyConflict = errors.New("messaging: idempotency key used for another message")
)

// These errors are returned by lookups and by stores.
var (
	// ErrNotFound: the inbox, conversation or message does not exist.
	// Stores return it (possibly wrapped) for every missing record.
	ErrNotFound = errors.New("messaging: not found")

	// ErrBadCursor: a paging cursor is garbage, or belongs to another
	// inbox or conversation.
	ErrBadCursor = errors.New("messaging: bad cursor")

	// ErrClosed: the Inboxes or its Store was used after Close.
	ErrClosed = errors.New("messaging: store closed")

	// ErrCorrupt: a record or key in the store does not decode. Stores
	// wrap it with what they found; Inboxes.Verify reports such records
	// as problems instead.
	ErrCorrupt = errors.New("messaging: corrupt store")

	// ErrResumeTooOld: SubscribeFrom was asked to resume from a position
	// whose following events are no longer kept (Options.EventHistory), or
	// that the user's stream never reached. The client must reload its
	// state and subscribe afresh.
	ErrResumeTooOld = errors.New("messaging: cannot resume the event stream from there")
)

// These errors can be returned when opening a store (OpenBoltStore,
// NewBoltStore, and the stores of other packages such as pgstore). The
// store is left exactly as it was when one of them is returned. They are
// wrapped with the path and the cause, so check them with errors.Is.
var (
	// ErrLocked: another process, or another open handle in this process,
	// held the file for longer than BoltOptions.Timeout.
	ErrLocked = errors.New("messaging: store file is in use")

	// ErrNotStore: the file or database is not a store of this package:
	// not a bbolt file at all, or one that holds other data.
	ErrNotStore = errors.New("messaging: not a messaging store")

	// ErrVersion: the store was written in a newer format than this
	// version of the package reads.
	ErrVersion = errors.New("messaging: unsupported store format version")
)

// InputError is a refused argument: Field names it ("sender", "recipient",
// "user", "other", "text", "meta", "created", ...) and Err is the sentinel
// saying what is wrong with it, so that an HTTP handler can answer 400 and
// name the field. errors.Is(err, ErrInvalidUser) and the like see through
// it.
type InputError struct {
	Field string
	Err   error
}

func (e *InputError) Error() string { return prefix + e.Field + ": " + trimPrefix(e.Err) }

// Unwrap returns the sentinel.
func (e *InputError) Unwrap() error { return e.Err }

// inputError wraps a failed check of field; nil stays nil.
func inputError(field string, err error) error {
	if err == nil {
		return nil
	}
	return &InputError{Field: field, Err: err}
}

const prefix = "messaging: "

func trimPrefix(err error) string { return strings.TrimPrefix(err.Error(), prefix) }

// wrappedError is the one way this module adds context to an error.
type wrappedError struct {
	context string
	err     error
}

func (e *wrappedError) Error() string { return prefix + e.context + ": " + trimPrefix(e.err) }
func (e *wrappedError) Unwrap() error { return e.err }

// wrapf returns err with the context that format and args describe, keeping
// one "messaging: " prefix at the front of the chain. A nil err stays nil.
func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &wrappedError{context: fmt.Sprintf(format, args...), err: err}
}

// ignoreNotFound returns nil for an error wrapping ErrNotFound: a lookup
// that may find nothing.
func ignoreNotFound(err error) error {
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
