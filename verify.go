package messaging

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Problem is one broken invariant found by Inboxes.Verify.
type Problem struct {
	Owner     string // the inbox, if the problem is in one
	Other     string // the conversation, if the problem is in one
	MessageID uint64 // the message, if the problem is about one
	Detail    string // what is wrong
}

func (p Problem) String() string {
	where := ""
	switch {
	case p.MessageID != 0:
		where = fmt.Sprintf("message %d in %q/%q: ", p.MessageID, p.Owner, p.Other)
	case p.Other != "":
		where = fmt.Sprintf("conversation %q/%q: ", p.Owner, p.Other)
	case p.Owner != "":
		where = fmt.Sprintf("inbox %q: ", p.Owner)
	}
	return where + p.Detail
}

// Verify walks the whole store in one read transaction and reports every
// broken invariant it finds:
//
//   - a conversation whose stored counts, LastUpdate, newest message, read
//     mark or ID range differ from its messages;
//   - an inbox whose unread count differs from the sum over its
//     conversations;
//   - a message that does not belong to its conversation's pair of users;
//   - a message with one copy, where the other user still has the
//     conversation (created before the message) and did not delete it;
//   - two copies of a message that differ;
//   - a copy left of a message retracted (or deleted) from its conversation,
//     and metadata beyond the limits;
//   - and, if the store is a Checker (BoltStore is), whatever the store finds
//     wrong in its own structure, such as an index entry without a
//     conversation.
//
// A nil slice means the store is sound; problems come grouped by inbox and
// conversation, in byte order, followed by the Checker's. The error is for
// a walk that could not finish (a cancelled ctx, a closed store).
//
// The cost: each inbox is read once, a page at a time — its conversation
// records, which the walk holds while in that inbox (memory grows with the
// largest inbox, not with the store), then its messages and tombstones in
// the order of the conversations' other users, across all of them with
// the store's Scanner (BoltStore's and pgstore's ReadTx are Scanners) or
// conversation by conversation without one. Each copy is checked against
// its twin from the twin's side: while in a conversation, the walk reads
// the other user's side of it a page at a time and matches both in
// (Created, ID) order. So every message is read twice, once with each
// copy, with no lookup per message or per conversation record. With a
// Scanner that makes one read per conversation side (two per pair of
// users) and four per inbox, plus one per page of users and one per
// further page of MaxPageSize records, which is what counts where each
// read is a round trip (PostgreSQL); without one, two more per
// conversation side. On the memory store the walk holds the read lock, so
// writers wait until it ends.
func (x *Inboxes) Verify(ctx context.Context) ([]Problem, error) {
	var problems []Problem
	report := func(p Problem) { problems = append(problems, p) }
	err := x.store.View(ctx, func(tx ReadTx) error {
		v := verifier{ctx: ctx, tx: tx, report: report}
		return v.users()
	})
	// Each pair's problems are found from both of its sides: group them
	// as a reader of the report expects.
	slices.SortStableFunc(problems, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.Owner, b.Owner), strings.Compare(a.Other, b.Other))
	})
	if c, ok := x.store.(Checker); ok && err == nil {
		err = c.Check(ctx, report)
	}
	if err != nil {
		return problems, wrapf(err, "verify")
	}
	return problems, nil
}

type verifier struct {
	ctx    context.Context
	tx     ReadTx
	report func(Problem)
	steps  int
}

// tick checks ctx now and then, so a long walk can be cancelled.
func (v *verifier) tick() error {
	v.steps++
	if v.steps%4096 == 0 {
		return v.ctx.Err()
	}
	return nil
}

func (v *verifier) users() error {
	after := ""
	for {
		users, err := v.tx.Users(after, MaxPageSize)
		if err != nil {
			return err
		}
		for _, u := range users {
			if err := v.inbox(u); err != nil {
				return err
			}
		}
		if len(users) < MaxPageSize {
			return v.ctx.Err()
		}
		after = users[len(users)-1]
	}
}

// inboxWalk is the walk of one inbox: its conversations in byte order of
// their other user, with its messages and tombstones read alongside in the
// same order.
type inboxWalk struct {
	*verifier
	owner string
	// own: the inbox's own records are checked. Without an inbox record
	// they are not (that is its problem), but its conversations are still
	// walked, for the twins of the other users' copies.
	own   bool
	msgs  pages[MessageEntry]
	tombs pages[TombstoneEntry]
}

func (v *verifier) inbox(owner string) error {
	in, err := v.tx.Inbox(owner)
	switch {
	case errors.Is(err, ErrNotFound):
		v.report(Problem{Owner: owner, Detail: "listed as a user but has no inbox record"})
	case err != nil:
		return err
	case in.Owner != owner:
		v.report(Problem{Owner: owner, Detail: fmt.Sprintf("inbox record names owner %q", in.Owner)})
	}
	w := inboxWalk{verifier: v, owner: owner, own: err == nil}
	convs := make(map[string]ConversationRecord)
	unread := 0
	var after *ConversationKey
	for {
		page, err := v.tx.Conversations(owner, after, MaxPageSize)
		if err != nil {
			return err
		}
		for _, c := range page {
			unread += c.Unread
			convs[c.Other] = c
		}
		if len(page) < MaxPageSize {
			break
		}
		k := page[len(page)-1].Key()
		after = &k
	}
	if w.own && unread != in.Unread {
		v.report(Problem{Owner: owner, Detail: fmt.Sprintf("unread count %d, its conversations hold %d", in.Unread, unread)})
	}
	others := slices.Sorted(maps.Keys(convs))
	scan, ok := v.tx.(Scanner)
	if !ok {
		scan = conversationScanner{tx: v.tx, others: others}
	}
	w.msgs.fetch = func(after *MessageEntry) ([]MessageEntry, error) {
		return scan.ScanMessages(owner, after, MaxPageSize)
	}
	w.tombs.fetch = func(after *TombstoneEntry) ([]TombstoneEntry, error) {
		return scan.ScanTombstones(owner, after, MaxPageSize)
	}
	for _, other := range others {
		if err := w.conversation(convs[other]); err != nil {
			return err
		}
	}
	return w.strayTombstones(nil)
}

// conversation checks the owner's side c, and the other user's copies of
// its messages against it.
func (w *inboxWalk) conversation(c ConversationRecord) error {
	owner := w.owner
	p := func(format string, args ...any) {
		w.report(Problem{Owner: owner, Other: c.Other, Detail: fmt.Sprintf(format, args...)})
	}
	if w.own && c.Owner != owner {
		p("record names owner %q", c.Owner)
	}
	tombs, err := w.tombstones(c.Other)
	if err != nil {
		return err
	}
	// The other user's side, walked in step with this one, in (Created,
	// ID) order.
	theirs := pages[MessageRecord]{fetch: func(after *MessageRecord) ([]MessageRecord, error) {
		var k *MessageKey
		if after != nil {
			ak := after.Key()
			k = &ak
		}
		return w.tx.Messages(c.Other, owner, k, false, MaxPageSize)
	}}
	var (
		count, unread int
		last          MessageRecord
	)
	for {
		m, err := w.nextMessage(c.Other)
		if err != nil {
			return err
		}
		t, err := theirs.peek()
		if err != nil {
			return err
		}
		if m == nil && t == nil {
			break
		}
		if err := w.tick(); err != nil {
			return err
		}
		var order int // which comes first: -1 m, +1 t, 0 both (twins)
		switch {
		case t == nil:
			order = -1
		case m == nil:
			order = 1
		default:
			order = m.Key().Compare(t.Key())
		}
		if order <= 0 {
			count++
			if message(c, *m).New {
				unread++
			}
			last = *m
			if w.own {
				w.message(c, *m, tombs)
			}
			w.msgs.pop()
		}
		if order >= 0 {
			twin := m
			if order > 0 {
				twin = nil
			}
			w.theirCopy(c, *t, twin, tombs)
			theirs.pop()
		}
	}
	if !w.own {
		return nil
	}
	if count != c.Messages {
		p("message count %d, holds %d", c.Messages, count)
	}
	if unread != c.Unread {
		p("unread count %d, holds %d new messages", c.Unread, unread)
	}
	if c.ReadMark > c.MaxID {
		p("read mark %d is above the largest ID %d", c.ReadMark, c.MaxID)
	}
	if count > 0 {
		if !c.LastUpdate.Equal(last.Created) {
			p("LastUpdate %s, newest message created %s", c.LastUpdate.Format(time.RFC3339Nano), last.Created.Format(time.RFC3339Nano))
		}
		if c.Last.ID != last.ID || c.Last.Sender != last.Sender || c.Last.Text != preview(last.Text) || !c.Last.Created.Equal(last.Created) {
			p("last message summary is of message %d, newest is %d", c.Last.ID, last.ID)
		}
	} else if c.Last.ID != 0 {
		p("empty, but its last message summary names message %d", c.Last.ID)
	}
	return nil
}

// message checks one copy m of the owner's conversation c on its own; tombs
// are c's tombstones.
func (w *inboxWalk) message(c ConversationRecord, m MessageRecord, tombs map[uint64]bool) {
	owner := w.owner
	p := func(format string, args ...any) {
		w.report(Problem{Owner: owner, Other: c.Other, MessageID: m.ID, Detail: fmt.Sprintf(format, args...)})
	}
	if (m.Sender != owner || m.Recipient != c.Other) && (m.Sender != c.Other || m.Recipient != owner) {
		p("from %q to %q does not belong to this conversation", m.Sender, m.Recipient)
	}
	if m.ID > c.MaxID || m.ID < c.FirstID {
		p("ID outside the conversation's range %d..%d", c.FirstID, c.MaxID)
	}
	if validMeta(m.Meta) != nil {
		p("metadata beyond the limits (%d entries)", len(m.Meta))
	}
	if m.DeletedUnread && m.Sender != owner {
		p("marked as deleted unread on the recipient's copy")
	}
	if _, ok := tombs[m.ID]; ok {
		p("present, but deleted from this conversation (it has a tombstone)")
	}
}

// theirCopy checks m, the copy in c.Other's conversation with the owner,
// against the owner's side: its conversation c, the copy with the same
// (Created, ID) there (twin, nil if none) and c's tombstones. The problems
// are m's, reported as in c.Other's inbox.
func (w *inboxWalk) theirCopy(c ConversationRecord, m MessageRecord, twin *MessageRecord, tombs map[uint64]bool) {
	owner, other := c.Other, w.owner // m's side
	p := func(format string, args ...any) {
		w.report(Problem{Owner: owner, Other: other, MessageID: m.ID, Detail: fmt.Sprintf(format, args...)})
	}
	retracted, deleted := tombs[m.ID]
	if retracted {
		p("retracted, but this copy remains")
	}
	switch {
	case m.ID < c.FirstID:
		// The owner deleted the conversation since.
	case twin == nil:
		if !deleted {
			p("has one copy: %q's conversation lacks it and did not delete it", other)
		}
	case owner < other && (twin.Sender != m.Sender || twin.Recipient != m.Recipient ||
		twin.Text != m.Text || !maps.Equal(twin.Meta, m.Meta)):
		p("its two copies differ") // reported from one side only
	case m.DeletedUnread:
		p("marked as deleted unread by %q, who still has it", other)
	}
}

// nextMessage returns the owner's next message if it is in the
// conversation with other, which must not come before the conversation
// asked for last. Messages of conversations without a record are passed
// over: no listing shows them, and a Checker reports them.
func (w *inboxWalk) nextMessage(other string) (*MessageRecord, error) {
	for {
		m, err := w.msgs.peek()
		if err != nil || m == nil || m.Other > other {
			return nil, err
		}
		if m.Other == other {
			return &m.MessageRecord, nil
		}
		w.msgs.pop()
	}
}

// tombstones reads the tombstones of the owner's conversation with other,
// which must come after the conversation asked for last: whether each
// marks a retraction, by ID.
func (w *inboxWalk) tombstones(other string) (map[uint64]bool, error) {
	if err := w.strayTombstones(&other); err != nil {
		return nil, err
	}
	var out map[uint64]bool
	for {
		t, err := w.tombs.peek()
		if err != nil || t == nil || t.Other != other {
			return out, err
		}
		if out == nil {
			out = make(map[uint64]bool)
		}
		out[t.ID] = t.Retracted
		w.tombs.pop()
	}
}

// strayTombstones passes over the tombstones before the conversation with
// *before (all of them if nil), which belong to conversations without a
// record. A retraction among them still means no copy may remain on the
// other side, so each is looked up there.
func (w *inboxWalk) strayTombstones(before *string) error {
	for {
		t, err := w.tombs.peek()
		if err != nil || t == nil || (before != nil && t.Other >= *before) {
			return err
		}
		w.tombs.pop()
		if !t.Retracted {
			continue
		}
		switch _, err := w.tx.Message(t.Other, w.owner, t.ID); {
		case err == nil:
			w.report(Problem{Owner: t.Other, Other: w.owner, MessageID: t.ID, Detail: "retracted, but this copy remains"})
		case !errors.Is(err, ErrNotFound):
			return err
		}
	}
}

// pages reads a list a page of MaxPageSize at a time: fetch reads the page
// after the item given (nil: the first page).
type pages[T any] struct {
	fetch func(after *T) ([]T, error)
	page  []T
	last  *T
	done  bool
}

// peek returns the next item, nil at the end. It stays valid until the
// next peek after a pop.
func (p *pages[T]) peek() (*T, error) {
	for len(p.page) == 0 {
		if p.done {
			return nil, nil
		}
		page, err := p.fetch(p.last)
		if err != nil {
			return nil, err
		}
		p.done = len(page) < MaxPageSize
		if len(page) > 0 {
			p.last = &page[len(page)-1]
		}
		p.page = page
	}
	return &p.page[0], nil
}

// pop passes over the item peek returned.
func (p *pages[T]) pop() { p.page = p.page[1:] }

// conversationScanner gives a ReadTx that is not a Scanner the Scanner's
// shape, with a read per conversation (and page), so that Verify's walk is
// the same on every store. It knows the conversations others, in
// ascending byte order, and only those.
type conversationScanner struct {
	tx     ReadTx
	others []string
}

// ScanMessages implements Scanner.
func (s conversationScanner) ScanMessages(owner string, after *MessageEntry, limit int) ([]MessageEntry, error) {
	var out []MessageEntry
	i, from := 0, (*MessageKey)(nil)
	if after != nil {
		var found bool
		if i, found = slices.BinarySearch(s.others, after.Other); found {
			k := after.Key()
			from = &k
		}
	}
	for ; i < len(s.others) && len(out) < limit; i++ {
		msgs, err := s.tx.Messages(owner, s.others[i], from, false, limit-len(out))
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			out = append(out, MessageEntry{Owner: owner, Other: s.others[i], MessageRecord: m})
		}
		from = nil
	}
	return out, nil
}

// ScanTombstones implements Scanner.
func (s conversationScanner) ScanTombstones(owner string, after *TombstoneEntry, limit int) ([]TombstoneEntry, error) {
	var out []TombstoneEntry
	i, from := 0, uint64(0)
	if after != nil {
		var found bool
		if i, found = slices.BinarySearch(s.others, after.Other); found {
			from = after.ID
		}
	}
	for ; i < len(s.others) && len(out) < limit; i++ {
		tombs, err := s.tx.Tombstones(owner, s.others[i], from, limit-len(out))
		if err != nil {
			return nil, err
		}
		for _, t := range tombs {
			out = append(out, TombstoneEntry{Owner: owner, Other: s.others[i], Tombstone: t})
		}
		from = 0
	}
	return out, nil
}
