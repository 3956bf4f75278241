package model

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/socialkit/messaging"
)

// Clock is a settable clock for Options.Now, so that the model knows the
// time every message is stamped with.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a clock at start.
func NewClock(start time.Time) *Clock {
	c := &Clock{}
	c.ns.Store(start.UnixNano())
	return c
}

// Now reads the clock.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Add moves the clock, backwards for a negative d.
func (c *Clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// Start is where the random test's clock starts.
var Start = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Failure says which op first made the library and the model disagree.
type Failure struct {
	At  int // index of the op
	Why string
}

func (f *Failure) Error() string { return fmt.Sprintf("op %d: %s", f.At, f.Why) }

// runner drives one Inboxes and the model in step.
type runner struct {
	ctx     context.Context
	x       *messaging.Inboxes
	w       *World
	clock   *Clock
	all     *messaging.Subscription
	sent    []uint64             // IDs of the messages sent so far, in order
	pairs   map[uint64][2]string // sender and recipient of each
	maxID   uint64
	boxes   map[string]*messaging.Inbox
	convs   map[[2]string]*messaging.Conversation
	cursors []savedCursor
	streams map[string]*stream // every user's stream, followed by a subscription
}

// stream follows one user's events: what the model says the user's
// subscribers must get, numbered from 1.
type stream struct {
	sub  *messaging.Subscription
	seq  uint64
	want []messaging.Event
}

type savedCursor struct {
	owner  string
	cursor string
	after  Conversation // the last conversation of the page it follows
}

// Stats counts the ops of a run by kind: those that changed something and
// those that were refused or found nothing to do.
type Stats map[Kind]*[2]int

func (st Stats) String() string {
	var b strings.Builder
	for k := Kind(0); k < numKinds; k++ {
		if c := st[k]; c != nil {
			fmt.Fprintf(&b, "%s %d/%d ", k, c[0], c[0]+c[1])
		}
	}
	return strings.TrimSpace(b.String())
}

// Run applies ops to x, whose clock must be clock, and to a fresh model,
// comparing after each op its results, the events it caused and everything
// users see. It returns the first disagreement as a *Failure, or another
// error if the run could not go on; stats counts, per kind, the ops that
// made events and those that did not.
func Run(ctx context.Context, x *messaging.Inboxes, clock *Clock, ops []Op, stats Stats) error {
	all, err := x.SubscribeAll()
	if err != nil {
		return err
	}
	defer all.Close()
	r := &runner{ctx: ctx, x: x, w: NewWorld(), clock: clock, all: all,
		boxes: map[string]*messaging.Inbox{}, convs: map[[2]string]*messaging.Conversation{}, streams: map[string]*stream{},
		pairs: map[uint64][2]string{}}
	for _, u := range Users {
		sub, err := x.SubscribeFrom(u, 0)
		if err != nil {
			return err
		}
		defer sub.Close()
		r.streams[u] = &stream{sub: sub}
	}
	for i, op := range ops {
		clock.Add(op.Clock)
		want, err := r.apply(op)
		if err == nil {
			err = r.events(want)
		}
		if err == nil {
			err = r.userEvents()
		}
		if err == nil {
			err = r.compareState()
		}
		if err != nil {
			return &Failure{At: i, Why: fmt.Sprintf("%v: %v", op, err)}
		}
		if stats != nil {
			if stats[op.Kind] == nil {
				stats[op.Kind] = new([2]int)
			}
			if len(want) > 0 || op.Kind >= Page && op.Kind <= Unblock {
				stats[op.Kind][0]++
			} else {
				stats[op.Kind][1]++
			}
		}
	}
	return nil
}

// Observe reads everything users see from x.
func Observe(ctx context.Context, x *messaging.Inboxes) (State, error) {
	st := State{Users: []string{}, Inboxes: map[string]Inbox{}, Blocks: map[string][]string{}}
	for _, u := range Users {
		for o, err := range x.Blocked(ctx, u) {
			if err != nil {
				return st, err
			}
			st.Blocks[u] = append(st.Blocks[u], o)
		}
	}
	for u, err := range x.Users(ctx) {
		if err != nil {
			return st, err
		}
		st.Users = append(st.Users, u)
		box, err := x.Get(ctx, u)
		if err != nil {
			return st, err
		}
		in := Inbox{Unread: box.NewMessagesCount}
		for c, err := range box.Conversations(ctx) {
			if err != nil {
				return st, err
			}
			cs := conversationOf(c)
			for m, err := range c.Messages(ctx) {
				if err != nil {
					return st, err
				}
				cs.Messages = append(cs.Messages, m)
			}
			in.Conversations = append(in.Conversations, cs)
		}
		st.Inboxes[u] = in
	}
	return st, nil
}

func conversationOf(c *messaging.Conversation) Conversation {
	return Conversation{Other: c.Username, Unread: c.NewMessagesCount, Count: c.MessageCount, LastUpdate: c.LastUpdate,
		Last: c.LastMessage, ReadByOtherUpTo: c.ReadByOtherUpTo, Messages: []messaging.Message{}}
}

func (r *runner) compareState() error {
	got, err := Observe(r.ctx, r.x)
	if err != nil {
		return err
	}
	if d := Diff(r.w.State(), got); d != "" {
		return errors.New(d)
	}
	return nil
}

// Diff describes how got differs from want, or returns "".
func Diff(want, got State) string {
	var out []string
	if !slices.Equal(want.Users, got.Users) {
		out = append(out, fmt.Sprintf("users %q, want %q", got.Users, want.Users))
	}
	if !reflect.DeepEqual(want.Blocks, got.Blocks) {
		out = append(out, fmt.Sprintf("blocks %q, want %q", got.Blocks, want.Blocks))
	}
	for _, u := range want.Users {
		w, g := want.Inboxes[u], got.Inboxes[u]
		if w.Unread != g.Unread {
			out = append(out, fmt.Sprintf("inbox %q unread %d, want %d", u, g.Unread, w.Unread))
		}
		if len(w.Conversations) != len(g.Conversations) {
			out = append(out, fmt.Sprintf("inbox %q has %d conversations, want %d", u, len(g.Conversations), len(w.Conversations)))
			continue
		}
		for i := range w.Conversations {
			wc, gc := w.Conversations[i], g.Conversations[i]
			if !reflect.DeepEqual(wc, gc) {
				out = append(out, fmt.Sprintf("inbox %q conversation #%d:\n   got  %s\n   want %s", u, i, fmtConv(gc), fmtConv(wc)))
			}
		}
	}
	if len(out) > 5 {
		out = append(out[:5], "...")
	}
	return strings.Join(out, "\n")
}

func fmtConv(c Conversation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q unread=%d count=%d last_update=%s read_by_other_up_to=%d last=%s messages:",
		c.Other, c.Unread, c.Count, c.LastUpdate.Format(time.RFC3339Nano), c.ReadByOtherUpTo, fmtMsg(c.Last))
	for _, m := range c.Messages {
		b.WriteString(" " + fmtMsg(m))
	}
	return b.String()
}

func fmtMsg(m messaging.Message) string {
	return fmt.Sprintf("{%d %s→%s %q %s new=%v read=%v}", m.ID, m.Sender, m.Recipient, clip(m.Text),
		m.Created.Format("15:04:05.000000000"), m.New, m.ReadByRecipient)
}

// events compares the events the op caused with want, and has each
// user's stream expect its share of them (audience, as the library says
// it: the owner, and for a read the other user, with their own counts).
func (r *runner) events(want []messaging.Event) error {
	for _, ev := range want {
		r.expect(ev.User, ev)
		if ev.Kind == messaging.ConversationRead && r.w.conv(ev.Other, ev.User) != nil {
			receipt := ev
			receipt.Unread, receipt.ConversationUnread = r.w.Counts(ev.Other, ev.User)
			r.expect(ev.Other, receipt)
		}
	}
	done, cancel := context.WithCancel(r.ctx)
	cancel() // Next returns pending events without waiting
	var got []messaging.Event
	for {
		ev, err := r.all.Next(done)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				break
			}
			return err
		}
		ev.Seq = 0
		got = append(got, ev)
	}
	if len(got) != len(want) {
		return fmt.Errorf("%d events %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			return fmt.Errorf("event %d:\n   got  %+v\n   want %+v", i, got[i], want[i])
		}
	}
	return nil
}

func (r *runner) expect(user string, ev messaging.Event) {
	st := r.streams[user]
	st.seq++
	ev.Seq = st.seq
	st.want = append(st.want, ev)
}

// userEvents compares what every user's subscription got with what the
// model says it must.
func (r *runner) userEvents() error {
	done, cancel := context.WithCancel(r.ctx)
	cancel()
	for _, u := range Users {
		st := r.streams[u]
		for {
			ev, err := st.sub.Next(done)
			if errors.Is(err, context.Canceled) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s's stream: %w", u, err)
			}
			if len(st.want) == 0 {
				return fmt.Errorf("%s's stream: unexpected %+v", u, ev)
			}
			if !reflect.DeepEqual(ev, st.want[0]) {
				return fmt.Errorf("%s's stream:\n   got  %+v\n   want %+v", u, ev, st.want[0])
			}
			st.want = st.want[1:]
		}
		if len(st.want) > 0 {
			return fmt.Errorf("%s's stream lacks %+v", u, st.want)
		}
	}
	return nil
}

// event is what SubscribeAll must deliver about owner after a change.
func (r *runner) event(kind messaging.EventKind, owner, other string) messaging.Event {
	unread, convUnread := r.w.Counts(owner, other)
	return messaging.Event{Kind: kind, User: owner, Other: other, Unread: unread, ConversationUnread: convUnread}
}

// msgID names the op's message: one sent earlier, or one never sent.
func (r *runner) msgID(op Op) uint64 {
	if op.Msg < 0 || len(r.sent) == 0 {
		return r.maxID + 1000
	}
	return r.sent[len(r.sent)-1-op.Msg%len(r.sent)]
}

// inbox returns a handle on user's inbox, got once it existed: handles act
// on the store by name, so an old one exercises the paths of a deleted
// inbox. ok is false if there never was one; then x.Get must say so.
func (r *runner) inbox(user string) (*messaging.Inbox, bool, error) {
	if b := r.boxes[user]; b != nil {
		return b, true, nil
	}
	b, err := r.x.Get(r.ctx, user)
	if r.w.inboxes[user] == nil {
		return nil, false, expectErr(err, messaging.ErrNotFound)
	}
	if err != nil {
		return nil, false, err
	}
	r.boxes[user] = b
	return b, true, nil
}

// conversation is inbox for a conversation.
func (r *runner) conversation(owner, other string) (*messaging.Conversation, bool, error) {
	k := [2]string{owner, other}
	if c := r.convs[k]; c != nil {
		return c, true, nil
	}
	c, err := r.x.Conversation(r.ctx, owner, other)
	if r.w.conv(owner, other) == nil {
		return nil, false, expectErr(err, messaging.ErrNotFound)
	}
	if err != nil {
		return nil, false, err
	}
	r.convs[k] = c
	return c, true, nil
}

func expectErr(err, want error) error {
	if !errors.Is(err, want) {
		return fmt.Errorf("error %v, want %v", err, want)
	}
	return nil
}

// found checks err against whether the model found what the op names.
func found(err error, ok bool) error {
	if ok {
		return err
	}
	return expectErr(err, messaging.ErrNotFound)
}

// apply runs op on both sides and returns the events SubscribeAll must get.
func (r *runner) apply(op Op) ([]messaging.Event, error) {
	if op.Follow && op.Msg >= 0 && len(r.sent) > 0 {
		switch op.Kind {
		case MarkReadUpTo, DeleteMessage, Retract, Page:
			p := r.pairs[r.msgID(op)]
			op.A, op.B = p[0], p[1]
			if op.Side {
				op.A, op.B = p[1], p[0]
			}
		}
	}
	switch op.Kind {
	case Send:
		return r.send(op)
	case MarkRead, MarkReadUpTo:
		return r.markRead(op)
	case DeleteMessage:
		return r.deleteMessage(op)
	case DeleteConversation:
		box, ok, err := r.inbox(op.A)
		if !ok {
			return nil, err
		}
		ok = r.w.DeleteConversation(op.A, op.B)
		if err := found(box.Delete(r.ctx, op.B), ok); err != nil || !ok {
			return nil, err
		}
		return []messaging.Event{r.event(messaging.ConversationDeleted, op.A, op.B)}, nil
	case DeleteInbox:
		ok := r.w.DeleteInbox(op.A)
		if err := found(r.x.Delete(r.ctx, op.A), ok); err != nil || !ok {
			return nil, err
		}
		return []messaging.Event{{Kind: messaging.InboxDeleted, User: op.A}}, nil
	case Page:
		return nil, r.page(op)
	case ConversationPage:
		return nil, r.conversationPage(op)
	case Block, Unblock:
		r.w.Block(op.A, op.B, op.Kind == Block)
		if op.Kind == Block {
			return nil, r.x.Block(r.ctx, op.A, op.B)
		}
		return nil, r.x.Unblock(r.ctx, op.A, op.B)
	case Retract:
		return r.retract(op)
	}
	return nil, fmt.Errorf("unknown op %v", op.Kind)
}

func (r *runner) send(op Op) ([]messaging.Event, error) {
	var opts []messaging.SendOption
	created := r.w.Stamp(op.A, op.B, r.clock.Now())
	if op.Created != 0 {
		created = r.clock.Now().Add(op.Created)
		opts = append(opts, messaging.WithCreated(created))
	}
	if op.Meta != nil {
		opts = append(opts, messaging.WithMeta(op.Meta))
	}
	if op.Key != "" {
		opts = append(opts, messaging.WithIdempotencyKey(op.Key))
	}
	m, err := r.x.SendMessage(r.ctx, op.A, op.B, op.Text, opts...)
	if earlier, ok := r.w.keys[[2]string{op.A, op.Key}]; op.Key != "" && ok {
		if earlier.recipient != op.B || earlier.text != op.Text || !maps.Equal(earlier.meta, op.Meta) {
			return nil, expectErr(err, messaging.ErrIdempotencyConflict)
		}
		want := messaging.Message{ID: earlier.id, Sender: op.A, Recipient: op.B, Text: op.Text, Created: earlier.created, Meta: op.Meta}
		if err != nil || !reflect.DeepEqual(m, want) {
			return nil, fmt.Errorf("retry returned %s (%v), want the first send %s", fmtMsg(m), err, fmtMsg(want))
		}
		return nil, nil // nothing written, nothing told
	}
	if r.w.Blocked(op.A, op.B) {
		return nil, expectErr(err, messaging.ErrBlocked)
	}
	if err != nil {
		return nil, err
	}
	want := messaging.Message{ID: m.ID, Sender: op.A, Recipient: op.B, Text: op.Text, Created: created, Meta: op.Meta}
	if m.ID <= r.maxID || !reflect.DeepEqual(m, want) {
		return nil, fmt.Errorf("sent %s, want %s with an ID above %d", fmtMsg(m), fmtMsg(want), r.maxID)
	}
	r.maxID = m.ID
	r.sent = append(r.sent, m.ID)
	r.pairs[m.ID] = [2]string{op.A, op.B}
	r.w.Send(m.ID, op.A, op.B, op.Text, created, op.Meta)
	if op.Key != "" {
		r.w.keys[[2]string{op.A, op.Key}] = sentWithKey{id: m.ID, created: created, recipient: op.B, text: op.Text, meta: op.Meta}
	}
	sent := r.event(messaging.MessageSent, op.A, op.B)
	sent.Message, _ = r.w.Message(op.A, op.B, m.ID)
	received := r.event(messaging.MessageReceived, op.B, op.A)
	received.Message, _ = r.w.Message(op.B, op.A, m.ID)
	return []messaging.Event{sent, received}, nil
}

func (r *runner) retract(op Op) ([]messaging.Event, error) {
	c, ok, err := r.conversation(op.A, op.B)
	if !ok {
		return nil, err
	}
	id := r.msgID(op)
	mine, theirs, ok, notSender := r.w.Retract(op.A, op.B, id)
	err = c.Retract(r.ctx, id)
	switch {
	case notSender:
		return nil, expectErr(err, messaging.ErrNotSender)
	case !ok:
		return nil, expectErr(err, messaging.ErrNotFound)
	case err != nil:
		return nil, err
	}
	strip := func(m messaging.Message) messaging.Message {
		m.Text, m.Meta = "", nil
		return m
	}
	ev := r.event(messaging.MessageRetracted, op.A, op.B)
	ev.Message = strip(mine)
	other := r.event(messaging.MessageRetracted, op.B, op.A)
	if theirs != nil {
		other.Message = strip(*theirs)
	} else {
		other.Message = messaging.Message{ID: mine.ID, Sender: mine.Sender, Recipient: mine.Recipient, Created: mine.Created}
	}
	return []messaging.Event{ev, other}, nil
}

func (r *runner) markRead(op Op) ([]messaging.Event, error) {
	c, ok, err := r.conversation(op.A, op.B)
	if !ok {
		return nil, err
	}
	var moved bool
	if op.Kind == MarkRead {
		moved, ok = r.w.MarkReadUpTo(op.A, op.B, r.w.MaxID(op.A, op.B))
		err = c.MarkRead(r.ctx)
	} else {
		id := r.msgID(op)
		if ok = r.w.Had(op.A, op.B, id); ok {
			moved, _ = r.w.MarkReadUpTo(op.A, op.B, id)
		}
		err = c.MarkReadUpTo(r.ctx, id)
	}
	if err := found(err, ok); err != nil || !moved {
		return nil, err
	}
	ev := r.event(messaging.ConversationRead, op.A, op.B)
	ev.ReadUpTo = r.w.conv(op.A, op.B).readMark
	return []messaging.Event{ev}, nil
}

func (r *runner) deleteMessage(op Op) ([]messaging.Event, error) {
	c, ok, err := r.conversation(op.A, op.B)
	if !ok {
		return nil, err
	}
	id := r.msgID(op)
	before, _ := r.w.Message(op.A, op.B, id)
	ok = r.w.DeleteMessage(op.A, op.B, id)
	if err := found(c.DeleteMessage(r.ctx, id), ok); err != nil || !ok {
		return nil, err
	}
	ev := r.event(messaging.MessageDeleted, op.A, op.B)
	ev.Message = before
	return []messaging.Event{ev}, nil
}

func (r *runner) page(op Op) error {
	c, ok, err := r.conversation(op.A, op.B)
	if !ok {
		return err
	}
	cursor := uint64(0)
	if op.Msg >= 0 {
		cursor = r.msgID(op)
	}
	want, ok, bad := r.w.Page(op.A, op.B, cursor, op.Reverse, op.Limit)
	var got []messaging.Message
	if op.Reverse {
		got, err = c.Older(r.ctx, cursor, op.Limit)
	} else {
		got, err = c.Newer(r.ctx, cursor, op.Limit)
	}
	switch {
	case !ok:
		return expectErr(err, messaging.ErrNotFound)
	case bad:
		return expectErr(err, messaging.ErrBadCursor)
	case err != nil:
		return err
	}
	if got == nil {
		got = []messaging.Message{}
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("page %d messages %v, want %d %v", len(got), got, len(want), want)
	}
	return nil
}

func (r *runner) conversationPage(op Op) error {
	box, ok, err := r.inbox(op.A)
	if !ok {
		return err
	}
	var saved *savedCursor
	cursor := ""
	if op.Cursor >= 0 && len(r.cursors) > 0 {
		saved = &r.cursors[op.Cursor%len(r.cursors)]
		cursor = saved.cursor
	}
	page, err := box.ConversationPage(r.ctx, cursor, op.Limit)
	switch { // a cursor is checked before the store is read
	case saved != nil && saved.owner != op.A:
		return expectErr(err, messaging.ErrBadCursor)
	case r.w.inboxes[op.A] == nil:
		return expectErr(err, messaging.ErrNotFound)
	case err != nil:
		return err
	}
	all := r.w.State().Inboxes[op.A].Conversations
	if saved != nil {
		all = slices.DeleteFunc(all, func(c Conversation) bool { return !after(c, saved.after) })
	}
	limit := pageLimit(op.Limit)
	want := append([]Conversation{}, all[:min(limit, len(all))]...)
	got := make([]Conversation, len(page.Conversations))
	for i, c := range page.Conversations {
		got[i] = conversationOf(c)
		got[i].Messages = nil
	}
	for i := range want {
		want[i].Messages = nil
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("conversation page %v, want %v", got, want)
	}
	if (page.Next != "") != (len(all) > limit) {
		return fmt.Errorf("next cursor %q with %d conversations after a page of %d", page.Next, len(all), limit)
	}
	if page.Next != "" {
		r.cursors = append(r.cursors, savedCursor{owner: op.A, cursor: page.Next, after: want[len(want)-1]})
	}
	return nil
}

// after reports whether c comes strictly after k in the conversation order.
func after(c, k Conversation) bool {
	if r := k.LastUpdate.Compare(c.LastUpdate); r != 0 {
		return r > 0
	}
	return cmp.Compare(c.Other, k.Other) > 0
}
