package messaging

import "errors"

// These errors are returned for input that breaks the rules in the package
// documentation. Nothing is written when one of them is returned. They are
// wrapped with context, so check them with errors.Is.
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
)

// These errors can be returned when opening a BoltStore (OpenBoltStore,
// NewBoltStore). The file is left exactly as it was when one of them is
// returned. They are wrapped with the path and the cause, so check them with
// errors.Is.
var (
	// ErrLocked: another process, or another open handle in this process,
	// held the file for longer than BoltOptions.Timeout.
	ErrLocked = errors.New("messaging: store file is in use")

	// ErrNotStore: the file is not a store of this package: not a bbolt
	// file at all, or a bbolt file that holds other data.
	ErrNotStore = errors.New("messaging: not a messaging store")

	// ErrVersion: the file was written in a newer format than this version
	// of the package reads.
	ErrVersion = errors.New("messaging: unsupported store format version")
)
