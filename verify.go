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
// not finish (a cancelled ctx, a closed store). The cost is one pass over
// every message plus one lookup of its mirrored copy; on the memory store
// the walk holds the read lock, so writers wait until it ends.
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
			if err := v.message(owner, c, m, peer, hasPeer); err != nil {
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

func (v *verifier) message(owner string, c ConversationRecord, m MessageRecord, peer ConversationRecord, hasPeer bool) error {
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
	if t, err := v.tombstone(owner, c.Other, m.ID); err != nil {
		return err
	} else if t != nil {
		p("present, but deleted from this conversation (it has a tombstone)")
	}
	if t, err := v.tombstone(c.Other, owner, m.ID); err != nil {
		return err
	} else if t != nil && t.Retracted {
		p("retracted, but this copy remains")
	}
	if !hasPeer || m.ID < peer.FirstID {
		return nil // the other side deleted the conversation since
	}
	twin, err := v.tx.Message(c.Other, owner, m.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		deleted, err := v.tx.Deleted(c.Other, owner, m.ID)
		if err != nil {
			return err
		}
		if !deleted {
			p("has one copy: %q's conversation lacks it and did not delete it", c.Other)
		}
	case err != nil:
		return err
	case owner < c.Other && (twin.ID != m.ID || twin.Sender != m.Sender || twin.Recipient != m.Recipient ||
		twin.Text != m.Text || !twin.Created.Equal(m.Created) || !maps.Equal(twin.Meta, m.Meta)):
		p("its two copies differ") // reported from one side only
	case m.DeletedUnread:
		p("marked as deleted unread by %q, who still has it", c.Other)
	}
	return nil
}

// tombstone returns the tombstone of id in owner's conversation with other,
// or nil.
func (v *verifier) tombstone(owner, other string, id uint64) (*Tombstone, error) {
	ts, err := v.tx.Tombstones(owner, other, id-1, 1)
	if err != nil || len(ts) == 0 || ts[0].ID != id {
		return nil, err
	}
	return &ts[0], nil
}
