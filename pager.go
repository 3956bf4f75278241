package messaging

// PageReader is an optional capability of the ReadTx of a Store: one page
// of a conversation in a single read, for a store where each read is a
// round trip (pgstore). Conversation.Older and Newer use it when the store
// has it, and give exactly what they give without it.
type PageReader interface {
	// ReadPage reads owner's conversation with other, the position of the
	// message from in it, and up to limit of its messages strictly after
	// that position, in (Created, ID) order, descending with reverse;
	// from 0 starts at the oldest message, or with reverse the newest. The
	// position of from is that of its copy in this conversation or, if it
	// is not there and Deleted(owner, other, from) holds, of the other
	// side's copy; if neither is found, Page.Cursor is nil and Messages
	// empty. A missing conversation gives ErrNotFound.
	ReadPage(owner, other string, from uint64, reverse bool, limit int) (Page, error)
}

// Page is what PageReader.ReadPage read.
type Page struct {
	Conversation ConversationRecord
	// Cursor is the position of the message the page starts after; nil
	// when from was 0, or when it was not found.
	Cursor *MessageKey
	// Deleted reports that from is not in the conversation but was deleted
	// from it (ReadTx.Deleted).
	Deleted  bool
	Messages []MessageRecord
}

// readPage reads a page as Conversation.page shows it: with the store's
// PageReader if it has one, else read by read.
func readPage(tx ReadTx, owner, other string, from uint64, reverse bool, limit int) (ConversationRecord, []MessageRecord, error) {
	pr, ok := tx.(PageReader)
	if !ok {
		return readPageByParts(tx, owner, other, from, reverse, limit)
	}
	p, err := pr.ReadPage(owner, other, from, reverse, limit)
	switch {
	case err != nil:
		return ConversationRecord{}, nil, err
	case from != 0 && p.Cursor == nil && p.Deleted:
		return ConversationRecord{}, nil, wrapf(ErrBadCursor, "message %d was deleted from both sides of this conversation", from)
	case from != 0 && p.Cursor == nil:
		return ConversationRecord{}, nil, wrapf(ErrBadCursor, "message %d is not in this conversation", from)
	}
	return p.Conversation, p.Messages, nil
}

// readPageByParts is readPage for a store without PageReader: the
// conversation, the cursor's position (cursorKey), then the page.
func readPageByParts(tx ReadTx, owner, other string, from uint64, reverse bool, limit int) (ConversationRecord, []MessageRecord, error) {
	rec, err := tx.Conversation(owner, other)
	if err != nil {
		return rec, nil, err
	}
	var after *MessageKey
	if from != 0 {
		k, err := cursorKey(tx, owner, other, from)
		if err != nil {
			return rec, nil, err
		}
		after = &k
	}
	recs, err := tx.Messages(owner, other, after, reverse, limit)
	return rec, recs, err
}
