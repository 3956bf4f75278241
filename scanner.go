package messaging

// Scanner is an optional capability of the ReadTx of a Store: the messages
// and tombstones of all of an inbox's conversations, a page at a time,
// rather than a read per conversation. Copy and Count use it when the
// source has it; for a store where each read is a round trip (pgstore),
// most conversations of a large store hold a few messages, and a read per
// conversation would be most of a copy's time.
type Scanner interface {
	// ScanMessages returns up to limit messages of owner's inbox, ordered
	// by Other (bytes), then by (Created, ID) within a conversation,
	// starting strictly after the position of after: its Other and its
	// MessageRecord's Key, which need not be stored (after.Other need not
	// name a conversation); after.Owner and the rest are not looked at.
	// nil starts at the first. An unknown owner gives an empty list. As
	// with every ReadTx method, what it returns is the caller's, and a
	// limit <= 0 lists nothing.
	ScanMessages(owner string, after *MessageEntry, limit int) ([]MessageEntry, error)

	// ScanTombstones returns up to limit tombstones of owner's inbox,
	// ordered by Other (bytes), then by ID, starting strictly after the
	// position of after: its Other and ID, which need not be stored. nil
	// starts at the first. An unknown owner gives an empty list.
	ScanTombstones(owner string, after *TombstoneEntry, limit int) ([]TombstoneEntry, error)
}

// MessageEntry is a message with the conversation it is stored in.
type MessageEntry struct {
	Owner, Other string
	MessageRecord
}

// TombstoneEntry is a tombstone with the conversation it is stored in.
type TombstoneEntry struct {
	Owner, Other string
	Tombstone
}
