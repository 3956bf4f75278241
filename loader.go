package messaging

import "context"

// Loader is an optional capability of a Store: Copy hands it each batch of
// records instead of writing them one by one through Update, so that the
// store can write them in bulk (pgstore: PostgreSQL's COPY).
//
// Load writes every record of b in one transaction, all of them or none,
// with the effect the Tx methods would have had (Batch.Put: PutInbox, then
// PutConversation, PutMessage, PutTombstone, PutBlock, PutIdempotency and
// PutEvent, in the order of Batch's fields). It leaves the ID source
// alone: Copy calls AdvanceID once all batches are in.
//
// Copy calls it only on a store that was empty when the copy began, with
// records that are not in it yet, an inbox before its conversations and a
// conversation before its messages and tombstones (in the same batch or an
// earlier one), so a Load need not replace records or check what it writes
// against what is stored. b is Copy's: it fills it again once Load
// returns, so Load must not keep b or its slices. A ctx that is done gives
// an error that wraps ctx.Err() and writes nothing.
type Loader interface {
	Load(ctx context.Context, b *Batch) error
}

// Batch is the records of one destination transaction of Copy.
type Batch struct {
	Inboxes         []InboxRecord
	Conversations   []ConversationRecord
	Messages        []MessageEntry
	Tombstones      []TombstoneEntry
	Blocks          []Block
	IdempotencyKeys []IdempotencyRecord
	Events          []EventRecord
}

// Len is how many records b holds.
func (b *Batch) Len() int {
	return len(b.Inboxes) + len(b.Conversations) + len(b.Messages) + len(b.Tombstones) +
		len(b.Blocks) + len(b.IdempotencyKeys) + len(b.Events)
}

// Counts tallies b's records by kind.
func (b *Batch) Counts() Counts {
	return Counts{
		Inboxes: int64(len(b.Inboxes)), Conversations: int64(len(b.Conversations)),
		Messages: int64(len(b.Messages)), Tombstones: int64(len(b.Tombstones)),
		Blocks: int64(len(b.Blocks)), IdempotencyKeys: int64(len(b.IdempotencyKeys)),
		Events: int64(len(b.Events)),
	}
}

// Put writes b through tx, record by record, in the order Loader.Load
// documents: how Copy writes a batch into a store without Loader, and
// what a Loader's Load must have the effect of.
func (b *Batch) Put(tx Tx) error {
	for _, r := range b.Inboxes {
		if err := tx.PutInbox(r); err != nil {
			return err
		}
	}
	for _, r := range b.Conversations {
		if err := tx.PutConversation(r); err != nil {
			return err
		}
	}
	for _, r := range b.Messages {
		if err := tx.PutMessage(r.Owner, r.Other, r.MessageRecord); err != nil {
			return err
		}
	}
	for _, r := range b.Tombstones {
		if err := tx.PutTombstone(r.Owner, r.Other, r.Tombstone); err != nil {
			return err
		}
	}
	for _, r := range b.Blocks {
		if err := tx.PutBlock(r); err != nil {
			return err
		}
	}
	for _, r := range b.IdempotencyKeys {
		if err := tx.PutIdempotency(r); err != nil {
			return err
		}
	}
	for _, r := range b.Events {
		if err := tx.PutEvent(r); err != nil {
			return err
		}
	}
	return nil
}

// reset empties b, keeping its slices' room but not the records they
// held.
func (b *Batch) reset() {
	clear(b.Inboxes)
	clear(b.Conversations)
	clear(b.Messages)
	clear(b.Tombstones)
	clear(b.Blocks)
	clear(b.IdempotencyKeys)
	clear(b.Events)
	*b = Batch{
		Inboxes: b.Inboxes[:0], Conversations: b.Conversations[:0], Messages: b.Messages[:0],
		Tombstones: b.Tombstones[:0], Blocks: b.Blocks[:0], IdempotencyKeys: b.IdempotencyKeys[:0],
		Events: b.Events[:0],
	}
}
