package messaging

import (
	"context"
	"errors"
	"time"
)

// ErrNotEmpty is returned by Copy when the destination store already holds
// records: a copy goes into an empty store only, which it leaves untouched
// otherwise.
var ErrNotEmpty = errors.New("messaging: the destination store is not empty")

// DefaultCopyBatch is how many records Copy writes in one destination
// transaction unless CopyOptions.BatchSize says otherwise.
const DefaultCopyBatch = 2000

// CopyOptions configures Copy; nil means defaults.
type CopyOptions struct {
	// BatchSize is how many records go in one destination transaction. 0
	// means DefaultCopyBatch.
	BatchSize int

	// Progress, if set, is called after each destination transaction with
	// what has been copied so far, and once more at the end with Done set.
	// It runs on Copy's goroutine: keep it quick.
	Progress func(CopyProgress)

	// Now is the clock that decides which idempotency keys are still in
	// their window (expired ones are not copied); nil means time.Now.
	Now func() time.Time
}

// CopyProgress is what Copy has copied so far.
type CopyProgress struct {
	Counts
	// Total estimates how many records the source holds, as Counts.Records
	// counts them; 0 if the source cannot tell (see Estimator). It is an
	// estimate: Records may end above or below it.
	Total int64
	// Done is set on the last call, after the last transaction committed.
	Done bool
}

// Counts tallies records by kind.
type Counts struct {
	Inboxes, Conversations, Messages, Tombstones int64
	Blocks, IdempotencyKeys, Events              int64
}

// Records is the sum of all kinds.
func (c Counts) Records() int64 {
	return c.Inboxes + c.Conversations + c.Messages + c.Tombstones + c.Blocks + c.IdempotencyKeys + c.Events
}

// Estimator is an optional capability of a Store: a cheap estimate of how
// many records it holds (inboxes, conversations, message copies,
// tombstones, blocks, idempotency keys and events), for a progress bar.
type Estimator interface {
	EstimateRecords(ctx context.Context) (int64, error)
}

// Copy copies every record of src into dst, a store of any kind that must be
// empty: inboxes, conversations with their counts, read marks and peer read
// marks, messages with their IDs, Created and metadata, tombstones, blocks,
// idempotency keys still inside their window, and each user's event
// history with its positions. It then moves dst's ID source past the
// highest ID copied. Afterwards every observable of an Inboxes on dst
// equals that of one on src: unread counts, orders, New flags, receipts, a
// client's paging cursors and SubscribeFrom positions all keep working, and
// Verify is clean.
//
// Copy is an offline migration, not replication: run it while no
// application writes to src. It reads src in consistent pages (one short
// read transaction each), so that it never holds src for long, and writes
// dst in transactions of CopyOptions.BatchSize records, so memory stays
// bounded whatever the size of src. A dst that is not empty is refused with
// ErrNotEmpty and left untouched. If Copy fails half-way (ctx cancelled, a
// store error), dst holds a partial copy: the error says so; drop dst (its
// file, its schema) and copy again.
func Copy(ctx context.Context, dst, src Store, opts *CopyOptions) error {
	var o CopyOptions
	if opts != nil {
		o = *opts
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultCopyBatch
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if empty, err := isEmpty(ctx, dst); err != nil {
		return wrapf(err, "copy: read the destination")
	} else if !empty {
		return wrapf(ErrNotEmpty, "copy")
	}
	var progress CopyProgress
	if e, ok := src.(Estimator); ok {
		if total, err := e.EstimateRecords(ctx); err == nil {
			progress.Total = total
		}
	}
	// src is read on a goroutine of its own while this one writes the
	// batch read before: two batches at most are in memory.
	batches := make(chan *copyBatch, 1)
	stop := make(chan struct{})
	c := &copier{ctx: ctx, src: src, opts: o, out: batches, stop: stop, batch: new(copyBatch)}
	read := make(chan error, 1)
	go func() {
		err := c.run()
		if err == nil {
			err = c.send()
		}
		close(batches)
		read <- err
	}()
	var err error
	for b := range batches {
		if err = b.write(ctx, dst); err != nil {
			close(stop) // the reader gives up at its next batch
			for range batches {
			}
			break
		}
		progress.Counts.add(b.counts)
		if o.Progress != nil {
			o.Progress(progress)
		}
	}
	if rerr := <-read; err == nil {
		err = rerr
	}
	if err == nil {
		err = wrapf(dst.Update(ctx, func(tx Tx) error { return tx.AdvanceID(c.maxID) }), "advance IDs")
	}
	if err != nil {
		return wrapf(err, "copy interrupted after %d records: the destination holds a partial copy; drop it and copy again",
			progress.Records())
	}
	if o.Progress != nil {
		progress.Done = true
		o.Progress(progress)
	}
	return nil
}

// copyBatch is the writes of one destination transaction.
type copyBatch struct {
	writes []func(Tx) error
	counts Counts
}

func (b *copyBatch) write(ctx context.Context, dst Store) error {
	return dst.Update(ctx, func(tx Tx) error {
		for _, w := range b.writes {
			if err := w(tx); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *Counts) add(o Counts) {
	for k := kindInbox; k <= kindEvent; k++ {
		*c.of(k) += *o.of(k)
	}
}

// isEmpty reports whether s holds no record of any kind.
func isEmpty(ctx context.Context, s Store) (bool, error) {
	empty := false
	err := s.View(ctx, func(tx ReadTx) error {
		users, err := tx.Users("", 1)
		if err != nil || len(users) > 0 {
			return err
		}
		blocks, err := tx.Blocks(Block{}, 1)
		if err != nil || len(blocks) > 0 {
			return err
		}
		keys, err := tx.Idempotencies(IdempotencyRecord{}, 1)
		if err != nil || len(keys) > 0 {
			return err
		}
		streams, err := tx.Streams("", 1)
		empty = len(streams) == 0
		return err
	})
	return empty, err
}

// copier reads src a page at a time for Copy, and queues its records'
// writes in batches of BatchSize, which it hands to out; without out it
// only counts (Count).
type copier struct {
	ctx   context.Context
	src   Store
	opts  CopyOptions
	out   chan<- *copyBatch
	stop  <-chan struct{} // closed when the writer gave up
	batch *copyBatch
	total Counts // every record read, when counting
	maxID uint64
}

// The kinds of record, as Counts tallies them.
type recordKind int

const (
	kindInbox recordKind = iota
	kindConversation
	kindMessage
	kindTombstone
	kindBlock
	kindIdempotencyKey
	kindEvent
)

// of returns the tally of kind k.
func (c *Counts) of(k recordKind) *int64 {
	return [...]*int64{&c.Inboxes, &c.Conversations, &c.Messages, &c.Tombstones, &c.Blocks, &c.IdempotencyKeys, &c.Events}[k]
}

// put queues the write of a record of kind k.
func (c *copier) put(k recordKind, w func(Tx) error) error {
	if c.out == nil {
		*c.total.of(k)++
		return nil
	}
	*c.batch.counts.of(k)++
	c.batch.writes = append(c.batch.writes, w)
	if len(c.batch.writes) >= c.opts.BatchSize {
		return c.send()
	}
	return nil
}

// send hands the batch to the writer.
func (c *copier) send() error {
	if len(c.batch.writes) == 0 {
		return nil
	}
	select {
	case c.out <- c.batch:
		c.batch = &copyBatch{writes: make([]func(Tx) error, 0, c.opts.BatchSize)}
		return nil
	case <-c.stop:
		return errCopyStopped
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

// errCopyStopped ends the reader of a copy whose writer failed; the
// writer's error is the one Copy returns.
var errCopyStopped = errors.New("messaging: copy stopped")

// read runs one page read of src.
func (c *copier) read(fn func(ReadTx) error) error { return c.src.View(c.ctx, fn) }

func (c *copier) run() error {
	for after := ""; ; {
		var users []string
		if err := c.read(func(tx ReadTx) (err error) {
			users, err = tx.Users(after, MaxPageSize)
			return err
		}); err != nil {
			return err
		}
		for _, u := range users {
			if err := c.inbox(u); err != nil {
				return err
			}
		}
		if len(users) < MaxPageSize {
			break
		}
		after = users[len(users)-1]
	}
	if err := c.blocks(); err != nil {
		return err
	}
	if err := c.idempotencyKeys(); err != nil {
		return err
	}
	return c.streams()
}

func (c *copier) inbox(owner string) error {
	var box InboxRecord
	if err := c.read(func(tx ReadTx) (err error) {
		box, err = tx.Inbox(owner)
		return err
	}); err != nil {
		return err
	}
	if err := c.put(kindInbox, func(tx Tx) error { return tx.PutInbox(box) }); err != nil {
		return err
	}
	var after *ConversationKey
	for {
		var convs []ConversationRecord
		if err := c.read(func(tx ReadTx) (err error) {
			convs, err = tx.Conversations(owner, after, MaxPageSize)
			return err
		}); err != nil {
			return err
		}
		for _, conv := range convs {
			if err := c.conversation(conv); err != nil {
				return err
			}
		}
		if len(convs) < MaxPageSize {
			return nil
		}
		k := convs[len(convs)-1].Key()
		after = &k
	}
}

func (c *copier) conversation(conv ConversationRecord) error {
	c.maxID = max(c.maxID, conv.MaxID, conv.Last.ID)
	if err := c.put(kindConversation, func(tx Tx) error { return tx.PutConversation(conv) }); err != nil {
		return err
	}
	owner, other := conv.Owner, conv.Other
	var after *MessageKey
	for {
		var msgs []MessageRecord
		if err := c.read(func(tx ReadTx) (err error) {
			msgs, err = tx.Messages(owner, other, after, false, MaxPageSize)
			return err
		}); err != nil {
			return err
		}
		for _, m := range msgs {
			c.maxID = max(c.maxID, m.ID)
			if err := c.put(kindMessage, func(tx Tx) error { return tx.PutMessage(owner, other, m) }); err != nil {
				return err
			}
		}
		if len(msgs) < MaxPageSize {
			break
		}
		k := msgs[len(msgs)-1].Key()
		after = &k
	}
	for afterID := uint64(0); ; {
		var tombs []Tombstone
		if err := c.read(func(tx ReadTx) (err error) {
			tombs, err = tx.Tombstones(owner, other, afterID, MaxPageSize)
			return err
		}); err != nil {
			return err
		}
		for _, t := range tombs {
			c.maxID = max(c.maxID, t.ID)
			if err := c.put(kindTombstone, func(tx Tx) error { return tx.PutTombstone(owner, other, t) }); err != nil {
				return err
			}
		}
		if len(tombs) < MaxPageSize {
			return nil
		}
		afterID = tombs[len(tombs)-1].ID
	}
}

func (c *copier) blocks() error {
	for after := (Block{}); ; {
		var blocks []Block
		if err := c.read(func(tx ReadTx) (err error) {
			blocks, err = tx.Blocks(after, MaxPageSize)
			return err
		}); err != nil {
			return err
		}
		for _, b := range blocks {
			if err := c.put(kindBlock, func(tx Tx) error { return tx.PutBlock(b) }); err != nil {
				return err
			}
		}
		if len(blocks) < MaxPageSize {
			return nil
		}
		after = blocks[len(blocks)-1]
	}
}

// idempotencyKeys copies the keys still inside their window: an expired
// one would only be dropped at the next keyed send.
func (c *copier) idempotencyKeys() error {
	now := c.opts.Now()
	for after := (IdempotencyRecord{}); ; {
		var recs []IdempotencyRecord
		if err := c.read(func(tx ReadTx) (err error) {
			recs, err = tx.Idempotencies(after, MaxPageSize)
			return err
		}); err != nil {
			return err
		}
		for _, rec := range recs {
			if !rec.Expires.After(now) {
				continue
			}
			c.maxID = max(c.maxID, rec.MessageID)
			if err := c.put(kindIdempotencyKey, func(tx Tx) error { return tx.PutIdempotency(rec) }); err != nil {
				return err
			}
		}
		if len(recs) < MaxPageSize {
			return nil
		}
		after = recs[len(recs)-1]
	}
}

func (c *copier) streams() error {
	for after := ""; ; {
		var users []string
		if err := c.read(func(tx ReadTx) (err error) {
			users, err = tx.Streams(after, MaxPageSize)
			return err
		}); err != nil {
			return err
		}
		for _, u := range users {
			if err := c.stream(u); err != nil {
				return err
			}
		}
		if len(users) < MaxPageSize {
			return nil
		}
		after = users[len(users)-1]
	}
}

func (c *copier) stream(user string) error {
	for after := uint64(0); ; {
		var evs []EventRecord
		if err := c.read(func(tx ReadTx) (err error) {
			evs, err = tx.Events(user, after, MaxPageSize)
			return err
		}); err != nil {
			return err
		}
		for _, ev := range evs {
			if err := c.put(kindEvent, func(tx Tx) error { return tx.PutEvent(ev) }); err != nil {
				return err
			}
		}
		if len(evs) < MaxPageSize {
			return nil
		}
		after = evs[len(evs)-1].Seq
	}
}

// Count counts every record of s, by kind, walking it a page at a time (one
// read transaction each): what a copy of s writes, and what a check of a
// copy compares.
func Count(ctx context.Context, s Store) (Counts, error) {
	// A copier without a destination only counts; with a clock at the zero
	// time it counts every idempotency key, expired or not.
	c := &copier{ctx: ctx, src: s, opts: CopyOptions{Now: func() time.Time { return time.Time{} }}}
	err := c.run()
	return c.total, wrapf(err, "count records")
}
