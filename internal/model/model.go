// Package model is a plain reference model of package messaging's rules,
// written without its code: maps and slices, recomputed from scratch where
// the library keeps summaries. The random test in this package drives the
// library and the model with the same operations and compares everything a
// user can see after each one.
package model

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/socialkit/messaging"
)

// World is the model: every inbox, as the rules say it should be.
type World struct {
	inboxes map[string]*inbox
	blocks  map[[2]string]bool        // (user, other): user blocks other
	keys    map[[2]string]sentWithKey // (sender, key) of idempotent sends
}

// sentWithKey is what a send with an idempotency key made.
type sentWithKey struct {
	id              uint64
	created         time.Time
	recipient, text string
	meta            map[string]string
}

type inbox struct {
	convs map[string]*conv
}

type conv struct {
	owner, other string
	firstID      uint64             // the message that created it
	msgs         map[uint64]*copyOf // the copies it holds
	tombs        map[uint64]bool    // IDs deleted from it since it was created
	readMark     uint64
	peerReadMark uint64
	maxID        uint64
	lastUpdate   time.Time
}

// copyOf is one copy of a message in one conversation.
type copyOf struct {
	id                uint64
	sender, recipient string
	text              string
	created           time.Time
	meta              map[string]string
	deletedUnread     bool // on the sender's copy: the recipient dropped theirs unread
}

// NewWorld returns an empty model.
func NewWorld() *World {
	return &World{inboxes: map[string]*inbox{}, blocks: map[[2]string]bool{}, keys: map[[2]string]sentWithKey{}}
}

func (w *World) conv(owner, other string) *conv {
	if in := w.inboxes[owner]; in != nil {
		return in.convs[other]
	}
	return nil
}

func (w *World) convOrNew(owner, other string, id uint64) *conv {
	in := w.inboxes[owner]
	if in == nil {
		in = &inbox{convs: map[string]*conv{}}
		w.inboxes[owner] = in
	}
	c := in.convs[other]
	if c == nil {
		c = &conv{owner: owner, other: other, firstID: id, msgs: map[uint64]*copyOf{}, tombs: map[uint64]bool{}}
		in.convs[other] = c
	}
	return c
}

// Stamp is the Created the library must give a message sent at now from a
// to b without WithCreated: never before the newest of either conversation.
func (w *World) Stamp(a, b string, now time.Time) time.Time {
	t := now.UTC()
	for _, c := range []*conv{w.conv(a, b), w.conv(b, a)} {
		if c != nil && c.lastUpdate.After(t) {
			t = c.lastUpdate
		}
	}
	return t
}

// Send adds both copies of a message.
func (w *World) Send(id uint64, from, to, text string, created time.Time, meta map[string]string) {
	out, in := w.convOrNew(from, to, id), w.convOrNew(to, from, id)
	out.peerReadMark = max(out.peerReadMark, in.readMark)
	in.peerReadMark = max(in.peerReadMark, out.readMark)
	for _, c := range []*conv{out, in} {
		c.msgs[id] = &copyOf{id: id, sender: from, recipient: to, text: text, created: created.UTC(), meta: meta}
		c.maxID = max(c.maxID, id)
		c.lastUpdate = c.newest().created
	}
}

func (c *conv) sorted() []*copyOf {
	out := make([]*copyOf, 0, len(c.msgs))
	for _, m := range c.msgs {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *copyOf) int {
		if r := a.created.Compare(b.created); r != 0 {
			return r
		}
		return cmp.Compare(a.id, b.id)
	})
	return out
}

func (c *conv) newest() *copyOf {
	s := c.sorted()
	if len(s) == 0 {
		return nil
	}
	return s[len(s)-1]
}

func (c *conv) isNew(m *copyOf) bool { return m.recipient == c.owner && m.id > c.readMark }

func (c *conv) unread() int {
	n := 0
	for _, m := range c.msgs {
		if c.isNew(m) {
			n++
		}
	}
	return n
}

// MarkReadUpTo moves owner's read mark to mark if that covers anything new,
// and reports whether it did. ok is false if the conversation is missing.
func (w *World) MarkReadUpTo(owner, other string, mark uint64) (moved, ok bool) {
	c := w.conv(owner, other)
	if c == nil {
		return false, false
	}
	read := 0
	for _, m := range c.msgs {
		if c.isNew(m) && m.id <= mark {
			read++
		}
	}
	if read == 0 {
		return false, true
	}
	c.readMark = max(c.readMark, mark)
	if p := w.conv(other, owner); p != nil {
		p.peerReadMark = max(p.peerReadMark, c.readMark)
	}
	return true, true
}

// MaxID is the mark MarkRead moves to.
func (w *World) MaxID(owner, other string) uint64 {
	if c := w.conv(owner, other); c != nil {
		return c.maxID
	}
	return 0
}

// Had reports whether owner's conversation with other holds id or held it
// until it was deleted from this side.
func (w *World) Had(owner, other string, id uint64) bool {
	c := w.conv(owner, other)
	return c != nil && (c.msgs[id] != nil || c.tombs[id])
}

// dropReceipt marks the sender's copy of id as dropped unread.
func (w *World) dropReceipt(sender, recipient string, id uint64) {
	if c := w.conv(sender, recipient); c != nil && c.msgs[id] != nil {
		c.msgs[id].deletedUnread = true
	}
}

// DeleteMessage removes owner's copy of id; ok is false if there is none.
func (w *World) DeleteMessage(owner, other string, id uint64) bool {
	c := w.conv(owner, other)
	if c == nil || c.msgs[id] == nil {
		return false
	}
	if c.isNew(c.msgs[id]) {
		w.dropReceipt(other, owner, id)
	}
	delete(c.msgs, id)
	c.tombs[id] = true
	if n := c.newest(); n != nil {
		c.lastUpdate = n.created
	}
	return true
}

// DeleteConversation removes owner's conversation with other.
func (w *World) DeleteConversation(owner, other string) bool {
	c := w.conv(owner, other)
	if c == nil {
		return false
	}
	for _, m := range c.msgs {
		if c.isNew(m) {
			w.dropReceipt(other, owner, m.id)
		}
	}
	delete(w.inboxes[owner].convs, other)
	return true
}

// DeleteInbox removes owner's inbox.
func (w *World) DeleteInbox(owner string) bool {
	in := w.inboxes[owner]
	if in == nil {
		return false
	}
	for other := range in.convs {
		w.DeleteConversation(owner, other)
	}
	delete(w.inboxes, owner)
	return true
}

// message is m as owner's conversation c shows it.
func (c *conv) message(m *copyOf) messaging.Message {
	return messaging.Message{
		ID: m.id, Sender: m.sender, Recipient: m.recipient, Text: m.text, Created: m.created, Meta: m.meta,
		New:             c.isNew(m),
		ReadByRecipient: m.sender == c.owner && m.id <= c.peerReadMark && !m.deletedUnread,
	}
}

// Blocked reports whether either user blocks the other.
func (w *World) Blocked(a, b string) bool {
	return w.blocks[[2]string{a, b}] || w.blocks[[2]string{b, a}]
}

// Block and Unblock set whether user blocks other.
func (w *World) Block(user, other string, on bool) {
	if on {
		w.blocks[[2]string{user, other}] = true
	} else {
		delete(w.blocks, [2]string{user, other})
	}
}

// Retract removes the message id that owner sent from both sides. It
// returns the owner's copy as it was, and the recipient's if they had it;
// ok false means not found, notSender that owner did not send it.
func (w *World) Retract(owner, other string, id uint64) (mine messaging.Message, theirs *messaging.Message, ok, notSender bool) {
	c := w.conv(owner, other)
	if c == nil || c.msgs[id] == nil {
		return messaging.Message{}, nil, false, false
	}
	if c.msgs[id].sender != owner {
		return messaging.Message{}, nil, false, true
	}
	mine, _ = w.Message(owner, other, id)
	w.DeleteMessage(owner, other, id)
	c.tombs[id] = true
	if p := w.conv(other, owner); p != nil && p.firstID <= id {
		if m, had := w.Message(other, owner, id); had {
			theirs = &m
			w.DeleteMessage(other, owner, id)
		}
		p.tombs[id] = true
	}
	return mine, theirs, true, false
}

// Counts returns owner's inbox unread and its conversation with other's.
func (w *World) Counts(owner, other string) (inboxUnread, convUnread int) {
	in := w.inboxes[owner]
	if in == nil {
		return 0, 0
	}
	for o, c := range in.convs {
		n := c.unread()
		inboxUnread += n
		if o == other {
			convUnread = n
		}
	}
	return inboxUnread, convUnread
}

// Message returns owner's copy of id as shown, if it has it.
func (w *World) Message(owner, other string, id uint64) (messaging.Message, bool) {
	c := w.conv(owner, other)
	if c == nil || c.msgs[id] == nil {
		return messaging.Message{}, false
	}
	return c.message(c.msgs[id]), true
}

// Conversation is everything a user sees of one conversation.
type Conversation struct {
	Other           string
	Unread          int
	Count           int
	LastUpdate      time.Time
	Last            messaging.Message
	ReadByOtherUpTo uint64
	Messages        []messaging.Message // oldest first
}

// Inbox is everything a user sees of one inbox.
type Inbox struct {
	Unread        int
	Conversations []Conversation // newest LastUpdate first, then by Other
}

// State is everything the users see: Users ascending, each with an inbox,
// and whom each of the test's users blocks.
type State struct {
	Users   []string
	Inboxes map[string]Inbox
	Blocks  map[string][]string
}

// State returns what the model says users must see.
func (w *World) State() State {
	st := State{Users: []string{}, Inboxes: map[string]Inbox{}, Blocks: map[string][]string{}}
	for _, u := range Users {
		for _, o := range Users {
			if w.blocks[[2]string{u, o}] {
				st.Blocks[u] = append(st.Blocks[u], o)
			}
		}
		slices.Sort(st.Blocks[u])
	}
	for u, in := range w.inboxes {
		st.Users = append(st.Users, u)
		var box Inbox
		for _, c := range in.convs {
			cs := Conversation{Other: c.other, Unread: c.unread(), Count: len(c.msgs), LastUpdate: c.lastUpdate,
				ReadByOtherUpTo: c.peerReadMark, Messages: []messaging.Message{}}
			for _, m := range c.sorted() {
				cs.Messages = append(cs.Messages, c.message(m))
			}
			if n := c.newest(); n != nil {
				cs.Last = c.message(n)
				cs.Last.Text = previewOf(n.text)
			}
			box.Unread += cs.Unread
			box.Conversations = append(box.Conversations, cs)
		}
		slices.SortFunc(box.Conversations, func(a, b Conversation) int {
			if r := b.LastUpdate.Compare(a.LastUpdate); r != 0 {
				return r
			}
			return strings.Compare(a.Other, b.Other)
		})
		st.Inboxes[u] = box
	}
	slices.Sort(st.Users)
	return st
}

func previewOf(text string) string {
	r := []rune(text)
	if len(r) > messaging.PreviewRunes {
		return string(r[:messaging.PreviewRunes])
	}
	return text
}

// Page returns what Older (reverse) or Newer returns: up to limit messages
// strictly before or after the position of cursor (0: from the end), and
// whether the cursor is good.
func (w *World) Page(owner, other string, cursor uint64, reverse bool, limit int) (page []messaging.Message, found, badCursor bool) {
	c := w.conv(owner, other)
	if c == nil {
		return nil, false, false
	}
	all := c.sorted()
	if reverse {
		slices.Reverse(all)
	}
	start := 0
	if cursor != 0 {
		key, ok := w.cursorKey(c, cursor)
		if !ok {
			return nil, true, true
		}
		start = len(all)
		for i, m := range all {
			r := m.created.Compare(key.created)
			if r == 0 {
				r = cmp.Compare(m.id, key.id)
			}
			if reverse {
				r = -r
			}
			if r > 0 {
				start = i
				break
			}
		}
	}
	limit = pageLimit(limit)
	page = []messaging.Message{}
	for _, m := range all[start:] {
		if len(page) == limit {
			break
		}
		page = append(page, c.message(m))
	}
	return page, true, false
}

func pageLimit(limit int) int {
	switch {
	case limit <= 0:
		return messaging.DefaultPageSize
	case limit > messaging.MaxPageSize:
		return messaging.MaxPageSize
	}
	return limit
}

// cursorKey is where the message id sits in c: its own copy, or for a copy
// deleted from this side, the other side's.
func (w *World) cursorKey(c *conv, id uint64) (*copyOf, bool) {
	if m := c.msgs[id]; m != nil {
		return m, true
	}
	if !c.tombs[id] {
		return nil, false
	}
	if p := w.conv(c.other, c.owner); p != nil && p.msgs[id] != nil {
		return p.msgs[id], true
	}
	return nil, false
}
