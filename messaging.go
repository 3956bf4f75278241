package messaging

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"
)

// Inboxes is every user's inbox in one store: the entry point of the
// package. It is safe for concurrent use by many goroutines.
type Inboxes struct {
	store      Store
	maxBytes   int
	now        func() time.Time
	idemWindow time.Duration
	history    int // events kept per user stream; 0: none
	hub        *hub

	// The store's StreamWatcher, started by the first subscription to a
	// user (streams.go) and stopped by Close.
	watchOnce sync.Once
	stopWatch context.CancelFunc
	watching  sync.WaitGroup
}

// Options configures an Inboxes. The zero value and nil mean defaults.
type Options struct {
	// MaxMessageBytes is the longest text SendMessage accepts, in bytes.
	// 0 means DefaultMaxMessageBytes; negative, or more than
	// MaxMessageBytesLimit, is invalid.
	MaxMessageBytes int

	// EventHistory is how many of the latest events of each user are kept
	// in the store, for SubscribeFrom to resume from. 0 means
	// DefaultEventHistory; negative keeps none (then events reach only the
	// subscribers of this process, and SubscribeFrom always gives
	// ErrResumeTooOld); more than MaxEventHistory is invalid.
	EventHistory int

	// EventBuffer is how many of the latest events are kept for
	// subscribers that have not read them yet; a subscriber further behind
	// gets ErrOverflow. 0 means DefaultEventBuffer; negative, or more than
	// MaxEventBuffer, is invalid.
	EventBuffer int

	// IdempotencyWindow is how long the keys of WithIdempotencyKey are
	// kept at least: a retry after that sends the message again. 0 means
	// DefaultIdempotencyWindow; negative is invalid.
	IdempotencyWindow time.Duration

	// Now is the clock that stamps messages sent without WithCreated. nil
	// means time.Now. Whatever it says, a new message is never stamped
	// before the newest message of the conversations it joins, so a clock
	// that steps back, or another process's clock that runs behind, never
	// puts a message before one that was sent earlier.
	Now func() time.Time
}

// testHookStore, set only by this package's tests, replaces every store
// given to New: it runs the examples, as written, over other stores.
var testHookStore atomic.Pointer[func(Store) Store]

// MaxMessageBytesLimit is the largest Options.MaxMessageBytes accepted: a
// message is kept twice and travels whole in every event.
const MaxMessageBytesLimit = 16 << 20

// New returns the inboxes kept in store, with default Options. The Inboxes
// takes the store over: its Close closes the store. New panics if store is
// nil, as http.Handle does with a nil handler: that is a mistake in the
// program, not a condition to handle.
func New(store Store) *Inboxes {
	if store == nil {
		panic("messaging: New called with a nil Store")
	}
	x, err := NewWithOptions(store, nil)
	if err != nil {
		panic(err) // nil options are always valid
	}
	return x
}

// NewWithOptions is New with options. It returns an error, and does not
// take the store over, if store is nil or the options are invalid.
func NewWithOptions(store Store, opts *Options) (*Inboxes, error) {
	if store == nil {
		return nil, errors.New("messaging: nil Store")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	switch {
	case o.MaxMessageBytes < 0 || o.MaxMessageBytes > MaxMessageBytesLimit:
		return nil, fmt.Errorf("messaging: Options.MaxMessageBytes %d is outside 0..%d", o.MaxMessageBytes, MaxMessageBytesLimit)
	case o.MaxMessageBytes == 0:
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	switch {
	case o.EventBuffer < 0 || o.EventBuffer > MaxEventBuffer:
		return nil, fmt.Errorf("messaging: Options.EventBuffer %d is outside 0..%d", o.EventBuffer, MaxEventBuffer)
	case o.EventBuffer == 0:
		o.EventBuffer = DefaultEventBuffer
	}
	switch {
	case o.EventHistory > MaxEventHistory:
		return nil, fmt.Errorf("messaging: Options.EventHistory %d is above %d", o.EventHistory, MaxEventHistory)
	case o.EventHistory == 0:
		o.EventHistory = DefaultEventHistory
	case o.EventHistory < 0:
		o.EventHistory = 0
	}
	switch {
	case o.IdempotencyWindow < 0:
		return nil, fmt.Errorf("messaging: Options.IdempotencyWindow %v is negative", o.IdempotencyWindow)
	case o.IdempotencyWindow == 0:
		o.IdempotencyWindow = DefaultIdempotencyWindow
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if hook := testHookStore.Load(); hook != nil {
		store = (*hook)(store)
	}
	return &Inboxes{store: store, maxBytes: o.MaxMessageBytes, now: o.Now, idemWindow: o.IdempotencyWindow,
		history: o.EventHistory, hub: newHub(o.EventBuffer, o.EventHistory > 0)}, nil
}

// Open opens the bbolt file at path, creating it if missing, with default
// BoltOptions: the durable store most applications want.
func Open(path string) (*Inboxes, error) {
	s, err := OpenBoltStore(path, nil)
	if err != nil {
		return nil, err
	}
	return New(s), nil
}

// Close ends every subscription with ErrClosed and closes the store. Calls
// after Close return ErrClosed.
func (x *Inboxes) Close() error {
	x.hub.close()
	x.watchOnce.Do(func() {}) // no watcher starts after this
	if x.stopWatch != nil {
		x.stopWatch()
		x.watching.Wait()
	}
	return x.store.Close()
}

// MaxMessageBytes returns the longest text SendMessage accepts, in bytes:
// what an HTTP handler bounds a request body by.
func (x *Inboxes) MaxMessageBytes() int { return x.maxBytes }

// SendMessage stores text from sender to recipient, twice: in the sender's
// conversation with the recipient (not new) and in the recipient's
// conversation with the sender (new). It creates inboxes and conversations
// as needed, updates both conversation summaries and both unread counts,
// and writes all of it in one transaction: on error nothing of it exists.
// It returns the sender's copy.
//
// Without WithCreated the message is stamped with the clock (Options.Now)
// inside the transaction, and never before the newest message of either
// conversation, so that within a conversation such messages sort in the
// order their sends committed: a screen polling Conversation.Newer misses
// none.
//
// While either user blocks the other it fails with ErrBlocked. With
// WithIdempotencyKey, a send that repeats an earlier one returns the
// earlier message and writes nothing.
func (x *Inboxes) SendMessage(ctx context.Context, sender, recipient, text string, opts ...SendOption) (Message, error) {
	c := sendCalls.Get().(*sendCall)
	defer c.release()
	o := &c.opts // applied in the pooled call: a local would escape to the options' funcs
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	if err := x.validSend(sender, recipient, text, *o); err != nil {
		return Message{}, wrapf(err, "send message from %q to %q", sender, recipient)
	}
	c.x, c.sender, c.recipient, c.text = x, sender, recipient, text
	if o.keyed {
		c.digest = sendDigest(recipient, text, o.meta)
	}
	if err := x.store.Update(ctx, c.fn); err != nil {
		return Message{}, wrapf(err, "send message from %q to %q", sender, recipient)
	}
	return Message{ID: c.sent.ID, Sender: sender, Recipient: recipient, Text: text, Created: c.sent.Created,
		Meta: cloneMeta(o.meta)}, nil
}

// sendCall is the state of one SendMessage. Calls are pooled, each with its
// transaction function bound once, so that a send allocates no closure:
// the memory store sends hundreds of thousands a second.
type sendCall struct {
	x                       *Inboxes
	sender, recipient, text string
	opts                    sendOptions
	digest                  [32]byte
	sent                    MessageRecord // the message, once the function ran
	fn                      func(Tx) error
}

var sendCalls = sync.Pool{New: func() any {
	c := new(sendCall)
	c.fn = c.run
	return c
}}

func (c *sendCall) release() {
	fn := c.fn
	*c = sendCall{fn: fn}
	sendCalls.Put(c)
}

// run is the transaction of a send; the store may run it more than once.
func (c *sendCall) run(tx Tx) error {
	x, o := c.x, &c.opts
	now := x.now()
	if o.keyed {
		earlier, err := replay(tx, c.sender, o.key, c.digest, now)
		if err != nil || earlier != nil {
			if earlier != nil {
				c.sent = MessageRecord{ID: earlier.MessageID, Created: earlier.Created}
			}
			return err // a retry: nothing written, nothing told
		}
	}
	switch blocked, err := blockedEitherWay(tx, c.sender, c.recipient); {
	case err != nil:
		return err
	case blocked:
		return ErrBlocked
	}
	out, err := conversationOrNew(tx, c.sender, c.recipient)
	if err != nil {
		return err
	}
	in, err := conversationOrNew(tx, c.recipient, c.sender)
	if err != nil {
		return err
	}
	m := MessageRecord{Sender: c.sender, Recipient: c.recipient, Text: c.text, Created: o.created.UTC(), Meta: o.meta}
	if o.created.IsZero() {
		m.Created = stamp(now, out, in)
	}
	if m.ID, err = tx.NextID(); err != nil {
		return err
	}
	c.sent = m
	changes, err := deliver(tx, out, in, m)
	if err != nil {
		return err
	}
	if o.keyed {
		err := remember(tx, IdempotencyRecord{Sender: c.sender, Key: o.key, MessageID: m.ID, Created: m.Created,
			Digest: c.digest, Expires: now.Add(x.idemWindow)}, now)
		if err != nil {
			return err
		}
	}
	return x.announce(tx, changes[:])
}

func (x *Inboxes) validSend(sender, recipient, text string, o sendOptions) error {
	if err := validPair("sender", sender, "recipient", recipient); err != nil {
		return err
	}
	if sender == recipient {
		return inputError("recipient", ErrSelfMessage)
	}
	if err := validText(text, x.maxBytes, o.meta != nil); err != nil {
		return inputError("text", err)
	}
	if err := validMeta(o.meta); err != nil {
		return inputError("meta", err)
	}
	if o.keyed {
		if err := validKey(o.key); err != nil {
			return inputError("idempotency_key", err)
		}
	}
	if !o.created.IsZero() {
		return inputError("created", validCreated(o.created))
	}
	return nil
}

// Has reports whether user has an inbox.
func (x *Inboxes) Has(ctx context.Context, user string) (bool, error) {
	_, err := x.Get(ctx, user)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Get returns user's inbox, or an error wrapping ErrNotFound if user has
// never sent or received a message (or the inbox was deleted).
func (x *Inboxes) Get(ctx context.Context, user string) (*Inbox, error) {
	if err := validUser(user); err != nil {
		return nil, wrapf(inputError("user", err), "get inbox %q", user)
	}
	var rec InboxRecord
	err := x.store.View(ctx, func(tx ReadTx) (err error) {
		rec, err = tx.Inbox(user)
		return err
	})
	if err != nil {
		return nil, wrapf(err, "get inbox %q", user)
	}
	return &Inbox{Username: user, NewMessagesCount: rec.Unread, inboxes: x}, nil
}

// Conversation returns owner's conversation with other in one read, or an
// error wrapping ErrNotFound: the same as Get followed by Inbox.Get.
func (x *Inboxes) Conversation(ctx context.Context, owner, other string) (*Conversation, error) {
	if err := validPair("user", owner, "other", other); err != nil {
		return nil, wrapf(err, "get conversation %q/%q", owner, other)
	}
	var rec ConversationRecord
	err := x.store.View(ctx, func(tx ReadTx) (err error) {
		rec, err = tx.Conversation(owner, other)
		return err
	})
	if err != nil {
		return nil, wrapf(err, "get conversation %q/%q", owner, other)
	}
	return x.conversation(rec), nil
}

// Delete removes user's inbox with all its conversations. The other users'
// copies of the same messages stay, but no read receipt will ever cover
// what user had not read.
func (x *Inboxes) Delete(ctx context.Context, user string) error {
	if err := validUser(user); err != nil {
		return wrapf(inputError("user", err), "delete inbox %q", user)
	}
	err := x.write(ctx, func(tx Tx) ([]change, error) { return removeInbox(tx, user) })
	return wrapf(err, "delete inbox %q", user)
}

// Users yields the id of every user with an inbox, in ascending byte order.
func (x *Inboxes) Users(ctx context.Context) iter.Seq2[string, error] {
	return paginate(ctx, x.store, func() fetchFunc[string] {
		after := ""
		return func(tx ReadTx, limit int) ([]string, bool, error) {
			users, err := tx.Users(after, limit)
			if err != nil {
				return nil, false, wrapf(err, "list users")
			}
			if len(users) > 0 {
				after = users[len(users)-1]
			}
			return users, len(users) == limit, nil
		}
	})
}
