package messaging

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
// A nil slice means the store is sound. The error is for a walk that could
// not finish (a cancelled ctx, a closed store). The cost is two passes over
// every message, one from each side of its conversation, read a page at a
// time in order (no lookup per message, which on a database would be a
// round trip each); on the memory store the walk holds the read lock, so
// writers wait until it ends.
func (x *Inboxes) Verify(ctx context.Context) ([]Problem, error) {
	var problems []Problem
	report := func(p Problem) { problems = append(problems, p) }
	err := x.store.View(ctx, func(tx ReadTx) error {
		v := verifier{ctx: ctx, tx: tx, report: report}
		return v.users()
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

func (v *verifier) inbox(owner string) error {
	in, err := v.tx.Inbox(owner)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			v.report(Problem{Owner: owner, Detail: "listed as a user but has no inbox record"})
			return nil
		}
		return err
	}
	if in.Owner != owner {
		v.report(Problem{Owner: owner, Detail: fmt.Sprintf("inbox record names owner %q", in.Owner)})
	}
	unread := 0
	var after *ConversationKey
	for {
		convs, err := v.tx.Conversations(owner, after, MaxPageSize)
		if err != nil {
			return err
		}
		for _, c := range convs {
			unread += c.Unread
			if err := v.conversation(owner, c); err != nil {
				return err
			}
		}
		if len(convs) < MaxPageSize {
			break
		}
		k := convs[len(convs)-1].Key()
		after = &k
	}
	if unread != in.Unread {
		v.report(Problem{Owner: owner, Detail: fmt.Sprintf("unread count %d, its conversations hold %d", in.Unread, unread)})
	}
	return nil
}

func (v *verifier) conversation(owner string, c ConversationRecord) error {
	p := func(format string, args ...any) {
		v.report(Problem{Owner: owner, Other: c.Other, Detail: fmt.Sprintf(format, args...)})
	}
	if c.Owner != owner {
		p("record names owner %q", c.Owner)
	}
	peer, err := v.tx.Conversation(c.Other, owner)
	hasPeer := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	// Both sides are walked in (Created, ID) order, and each side's
	// tombstones read once: page reads, not a lookup per message, which on
	// a database would be a round trip each.
	mine, err := v.tombstones(owner, c.Other)
	if err != nil {
		return err
	}
	theirs, err := v.tombstones(c.Other, owner)
	if err != nil {
		return err
	}
	twins := &messageWalk{tx: v.tx, owner: c.Other, other: owner}
	var (
		count, unread int
		last          MessageRecord
		after         *MessageKey
	)
	for {
		msgs, err := v.tx.Messages(owner, c.Other, after, false, MaxPageSize)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if err := v.tick(); err != nil {
				return err
			}
			count++
			if message(c, m).New {
				unread++
			}
			last = m
			if err := v.message(owner, c, m, peer, hasPeer, mine, theirs, twins); err != nil {
				return err
			}
		}
		if len(msgs) < MaxPageSize {
			break
		}
		k := msgs[len(msgs)-1].Key()
		after = &k
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

// message checks one copy m of owner's conversation c: mine and theirs are
// the tombstones of c and of the other side, twins walks the other side's
// messages.
func (v *verifier) message(owner string, c ConversationRecord, m MessageRecord, peer ConversationRecord, hasPeer bool,
	mine, theirs map[uint64]bool, twins *messageWalk) error {
	p := func(format string, args ...any) {
		v.report(Problem{Owner: owner, Other: c.Other, MessageID: m.ID, Detail: fmt.Sprintf(format, args...)})
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
	if _, ok := mine[m.ID]; ok {
		p("present, but deleted from this conversation (it has a tombstone)")
	}
	if theirs[m.ID] {
		p("retracted, but this copy remains")
	}
	if !hasPeer || m.ID < peer.FirstID {
		return nil // the other side deleted the conversation since
	}
	twin, found, err := twins.find(m.Key())
	switch {
	case err != nil:
		return err
	case !found:
		if _, deleted := theirs[m.ID]; !deleted {
			p("has one copy: %q's conversation lacks it and did not delete it", c.Other)
		}
	case owner < c.Other && (twin.Sender != m.Sender || twin.Recipient != m.Recipient ||
		twin.Text != m.Text || !maps.Equal(twin.Meta, m.Meta)):
		p("its two copies differ") // reported from one side only
	case m.DeletedUnread:
		p("marked as deleted unread by %q, who still has it", c.Other)
	}
	return nil
}

// tombstones reads every tombstone of owner's conversation with other:
// whether it marks a retraction, by ID.
func (v *verifier) tombstones(owner, other string) (map[uint64]bool, error) {
	var out map[uint64]bool
	for after := uint64(0); ; {
		ts, err := v.tx.Tombstones(owner, other, after, MaxPageSize)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if out == nil {
				out = make(map[uint64]bool)
			}
			out[t.ID] = t.Retracted
		}
		if len(ts) < MaxPageSize {
			return out, nil
		}
		after = ts[len(ts)-1].ID
	}
}

// messageWalk walks the messages of owner's conversation with other in
// (Created, ID) order, a page at a time, to find the copies with the keys
// asked for in ascending order.
type messageWalk struct {
	tx           ReadTx
	owner, other string
	page         []MessageRecord
	after        *MessageKey
	done         bool
}

// find returns the message with key k, if the conversation holds it; k
// must not be below a key asked for before.
func (w *messageWalk) find(k MessageKey) (MessageRecord, bool, error) {
	for {
		for len(w.page) > 0 && w.page[0].Key().Compare(k) < 0 {
			w.page = w.page[1:]
		}
		if len(w.page) > 0 {
			m := w.page[0]
			return m, m.Key().Compare(k) == 0, nil
		}
		if w.done {
			return MessageRecord{}, false, nil
		}
		page, err := w.tx.Messages(w.owner, w.other, w.after, false, MaxPageSize)
		if err != nil {
			return MessageRecord{}, false, err
		}
		w.done = len(page) < MaxPageSize
		if len(page) > 0 {
			k := page[len(page)-1].Key()
			w.after = &k
		}
		w.page = page
	}
}
