package messaging

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrNotEmpty is returned by Copy when the destination store already holds
// records: a copy goes into an empty store only, which it leaves untouched
// otherwise.
var ErrNotEmpty = errors.New("messaging: the destination store is not empty")

// DefaultCopyBatch is how many records Copy writes in one destination
// transaction unless CopyOptions.BatchSize says otherwise. Larger batches
// copy faster into PostgreSQL (fewer transactions, and an inbox's
// conversations and messages more often in the same one: 42 s against
// 101 s at 2000 for the 1 000 000-message store of BENCHMARKS.md), at a
// few megabytes of memory for each of the three batches in flight.
const DefaultCopyBatch = 10000

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
	// batch read before; batches go back to the reader through free, so
	// three at most (one read, one queued, one written) are in memory.
	batches := make(chan *Batch, 1)
	free := make(chan *Batch, 3)
	stop := make(chan struct{})
	c := &copier{ctx: ctx, src: src, opts: o, out: batches, free: free, stop: stop, batch: new(Batch)}
	read := make(chan error, 1)
	go func() {
		err := c.run()
		if err == nil {
			err = c.send()
		}
		close(batches)
		read <- err
	}()
	load := func(b *Batch) error {
		return dst.Update(ctx, func(tx Tx) error { return b.Put(tx) })
	}
	if l, ok := dst.(Loader); ok {
		load = func(b *Batch) error { return l.Load(ctx, b) }
	}
	// halt stops the reader, at its next batch, when the writer fails or
	// panics (in Load, in Progress), so that it never waits for a writer
	// that is gone.
	halt := sync.OnceFunc(func() {
		close(stop)
		for range batches {
		}
	})
	defer halt()
	var err error
	for b := range batches {
		if err = ctx.Err(); err == nil {
			err = load(b)
		}
		if err != nil {
			halt()
			break
		}
		progress.Counts.add(b.Counts())
		b.reset()
		free <- b
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

// copier reads src a page at a time for Copy, into batches of BatchSize
// records, which it hands to out; without out it only counts (Count).
type copier struct {
	ctx   context.Context
	src   Store
	opts  CopyOptions
	out   chan<- *Batch
	free  <-chan *Batch   // batches written, to fill again
	stop  <-chan struct{} // closed when the writer gave up
	batch *Batch
	scan  bool   // src's ReadTx is a Scanner
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

// added is called after each record put in the batch: a full batch goes
// to the writer.
func (c *copier) added() error {
	if c.batch.Len() >= c.opts.BatchSize {
		return c.send()
	}
	return nil
}

// send hands the batch to the writer, or when counting counts it.
func (c *copier) send() error {
	if c.batch.Len() == 0 {
		return nil
	}
	if c.out == nil {
		c.total.add(c.batch.Counts())
		c.batch.reset()
		return nil
	}
	// A stopped writer still drains out: look at stop first, so that the
	// reader does not read one more batch for nothing.
	select {
	case <-c.stop:
		return errCopyStopped
	case <-c.ctx.Done():
		return c.ctx.Err()
	default:
	}
	select {
	case c.out <- c.batch:
	case <-c.stop:
		return errCopyStopped
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
	select {
	case c.batch = <-c.free:
	default:
		c.batch = new(Batch)
	}
	return nil
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
			_, c.scan = tx.(Scanner)
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
	c.batch.Inboxes = append(c.batch.Inboxes, box)
	if err := c.added(); err != nil {
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
			break
		}
		k := convs[len(convs)-1].Key()
		after = &k
	}
	if !c.scan {
		return nil
	}
	if err := c.scanMessages(owner); err != nil {
		return err
	}
	return c.scanTombstones(owner)
}

// conversation copies conv, and without a Scanner its messages and
// tombstones.
func (c *copier) conversation(conv ConversationRecord) error {
	c.maxID = max(c.maxID, conv.MaxID, conv.Last.ID)
	c.batch.Conversations = append(c.batch.Conversations, conv)
	if err := c.added(); err != nil {
		return err
	}
	if c.scan {
		return nil
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
			if err := c.message(MessageEntry{Owner: owner, Other: other, MessageRecord: m}); err != nil {
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
			if err := c.tombstone(TombstoneEntry{Owner: owner, Other: other, Tombstone: t}); err != nil {
				return err
			}
		}
		if len(tombs) < MaxPageSize {
			return nil
		}
		afterID = tombs[len(tombs)-1].ID
	}
}

func (c *copier) message(m MessageEntry) error {
	c.maxID = max(c.maxID, m.ID)
	c.batch.Messages = append(c.batch.Messages, m)
	return c.added()
}

func (c *copier) tombstone(t TombstoneEntry) error {
	c.maxID = max(c.maxID, t.ID)
	c.batch.Tombstones = append(c.batch.Tombstones, t)
	return c.added()
}

// scanMessages copies the messages of owner's inbox with a Scanner.
func (c *copier) scanMessages(owner string) error {
	var after *MessageEntry
	for {
		var msgs []MessageEntry
		if err := c.read(func(tx ReadTx) (err error) {
			s, err := scanner(tx)
			if err == nil {
				msgs, err = s.ScanMessages(owner, after, MaxPageSize)
			}
			return err
		}); err != nil {
			return err
		}
		for _, m := range msgs {
			if err := c.message(m); err != nil {
				return err
			}
		}
		if len(msgs) < MaxPageSize {
			return nil
		}
		after = &msgs[len(msgs)-1]
	}
}

// scanTombstones copies the tombstones of owner's inbox with a Scanner.
func (c *copier) scanTombstones(owner string) error {
	var after *TombstoneEntry
	for {
		var tombs []TombstoneEntry
		if err := c.read(func(tx ReadTx) (err error) {
			s, err := scanner(tx)
			if err == nil {
				tombs, err = s.ScanTombstones(owner, after, MaxPageSize)
			}
			return err
		}); err != nil {
			return err
		}
		for _, t := range tombs {
			if err := c.tombstone(t); err != nil {
				return err
			}
		}
		if len(tombs) < MaxPageSize {
			return nil
		}
		after = &tombs[len(tombs)-1]
	}
}

// scanner returns tx's Scanner, which the copier saw it has.
func scanner(tx ReadTx) (Scanner, error) {
	s, ok := tx.(Scanner)
	if !ok {
		return nil, errors.New("messaging: the source's ReadTx is a Scanner in one View and not in another")
	}
	return s, nil
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
			c.batch.Blocks = append(c.batch.Blocks, b)
			if err := c.added(); err != nil {
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
			c.batch.IdempotencyKeys = append(c.batch.IdempotencyKeys, rec)
			if err := c.added(); err != nil {
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
			// An event names message IDs that may no longer be stored
			// anywhere else (a message deleted from both sides): the
			// destination must not hand them out again.
			e, err := decodeEvent(ev)
			if err != nil {
				return wrapf(err, "event %d of %q", ev.Seq, user)
			}
			c.maxID = max(c.maxID, e.Message.ID, e.ReadUpTo)
			c.batch.Events = append(c.batch.Events, ev)
			if err := c.added(); err != nil {
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
	c := &copier{ctx: ctx, src: s, opts: CopyOptions{BatchSize: DefaultCopyBatch, Now: func() time.Time { return time.Time{} }}, batch: new(Batch)}
	err := c.run()
	if err == nil {
		err = c.send()
	}
	return c.total, wrapf(err, "count records")
}
