package storetest

// A model of the store, and the whole observable state: what the store must
// hold after a series of writes, read back in full and compared with a
// readable diff.

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

type pair struct{ Owner, Other string }

type msgRef struct {
	Pair pair
	ID   uint64
}

// model is what the store should hold. Its Put and Delete methods record the
// write and return it as an op for update. It also remembers every key it has
// seen, so that a dump looks them up whether or not they still exist.
type model struct {
	inboxes map[string]messaging.InboxRecord
	convs   map[pair]messaging.ConversationRecord
	msgs    map[pair]map[uint64]messaging.MessageRecord
	tombs   map[pair]map[uint64]bool // what Deleted gives true for

	owners map[string]bool
	pairs  map[pair]bool
	refs   map[msgRef]bool
}

func newModel() *model {
	return &model{
		inboxes: map[string]messaging.InboxRecord{},
		convs:   map[pair]messaging.ConversationRecord{},
		msgs:    map[pair]map[uint64]messaging.MessageRecord{},
		tombs:   map[pair]map[uint64]bool{},
		owners:  map[string]bool{},
		pairs:   map[pair]bool{},
		refs:    map[msgRef]bool{},
	}
}

// clone returns a deep copy, for writes that are meant to be rolled back.
func (m *model) clone() *model {
	c := newModel()
	for k, v := range m.inboxes {
		c.inboxes[k] = v
	}
	for k, v := range m.convs {
		c.convs[k] = v
	}
	for p, ms := range m.msgs {
		c.msgs[p] = map[uint64]messaging.MessageRecord{}
		for id, v := range ms {
			c.msgs[p][id] = v
		}
	}
	for p, ts := range m.tombs {
		c.tombs[p] = maps.Clone(ts)
	}
	c.probe(m)
	return c
}

// probe adds the keys o has seen to those m looks up.
func (m *model) probe(o *model) {
	for k := range o.owners {
		m.owners[k] = true
	}
	for k := range o.pairs {
		m.pairs[k] = true
		m.owners[k.Owner] = true
	}
	for k := range o.refs {
		m.refs[k] = true
	}
}

func (m *model) seePair(owner, other string) pair {
	p := pair{owner, other}
	m.owners[owner] = true
	m.pairs[p] = true
	return p
}

func (m *model) PutInbox(rec messaging.InboxRecord) op {
	m.owners[rec.Owner] = true
	m.inboxes[rec.Owner] = rec
	return putInbox(rec)
}

func (m *model) PutConversation(rec messaging.ConversationRecord) op {
	m.convs[m.seePair(rec.Owner, rec.Other)] = rec
	return putConv(rec)
}

func (m *model) PutMessage(owner, other string, rec messaging.MessageRecord) op {
	p := m.seePair(owner, other)
	m.refs[msgRef{p, rec.ID}] = true
	if m.msgs[p] == nil {
		m.msgs[p] = map[uint64]messaging.MessageRecord{}
	}
	m.msgs[p][rec.ID] = rec
	return putMsg(owner, other, rec)
}

func (m *model) DeleteInbox(owner string) op {
	m.owners[owner] = true
	delete(m.inboxes, owner)
	for p := range m.convs {
		if p.Owner == owner {
			delete(m.convs, p)
			delete(m.msgs, p)
			delete(m.tombs, p)
		}
	}
	return delInbox(owner)
}

func (m *model) DeleteConversation(owner, other string) op {
	p := m.seePair(owner, other)
	delete(m.convs, p)
	delete(m.msgs, p)
	delete(m.tombs, p)
	return delConv(owner, other)
}

func (m *model) DeleteMessage(owner, other string, id uint64) op {
	p := m.seePair(owner, other)
	m.refs[msgRef{p, id}] = true
	delete(m.msgs[p], id)
	if m.tombs[p] == nil {
		m.tombs[p] = map[uint64]bool{}
	}
	m.tombs[p][id] = true
	return delMsg(owner, other, id)
}

// state is everything the ReadTx methods show about the keys a model has
// seen. Missing records are nil; empty lists are nil; times are canonical.
type state struct {
	Users         []string
	Inboxes       map[string]*messaging.InboxRecord
	Conversations map[string][]messaging.ConversationRecord // Conversations(owner), whole list
	Records       map[pair]*messaging.ConversationRecord    // Conversation(owner, other)
	Ascending     map[pair][]messaging.MessageRecord        // Messages, oldest first
	Descending    map[pair][]messaging.MessageRecord        // Messages with reverse
	ByID          map[pair][]messaging.MessageRecord        // MessagesByID from 0
	Points        map[msgRef]*messaging.MessageRecord       // Message(owner, other, id)
	Deleted       map[msgRef]bool                           // Deleted(owner, other, id)
}

func newState() state {
	return state{
		Inboxes:       map[string]*messaging.InboxRecord{},
		Conversations: map[string][]messaging.ConversationRecord{},
		Records:       map[pair]*messaging.ConversationRecord{},
		Ascending:     map[pair][]messaging.MessageRecord{},
		Descending:    map[pair][]messaging.MessageRecord{},
		ByID:          map[pair][]messaging.MessageRecord{},
		Points:        map[msgRef]*messaging.MessageRecord{},
		Deleted:       map[msgRef]bool{},
	}
}

// want is the state the store should show.
func (m *model) want() state {
	st := newState()
	for o := range m.inboxes {
		st.Users = append(st.Users, o)
	}
	slices.Sort(st.Users)
	for o := range m.owners {
		st.Inboxes[o] = nil
		if rec, ok := m.inboxes[o]; ok {
			st.Inboxes[o] = &rec
		}
		var list []messaging.ConversationRecord
		for p, c := range m.convs {
			if p.Owner == o {
				list = append(list, normConv(c))
			}
		}
		slices.SortFunc(list, byConvKey)
		st.Conversations[o] = list
	}
	for p := range m.pairs {
		st.Records[p] = nil
		if c, ok := m.convs[p]; ok {
			c = normConv(c)
			st.Records[p] = &c
		}
		var asc []messaging.MessageRecord
		for _, r := range m.msgs[p] {
			asc = append(asc, normMsg(r))
		}
		slices.SortFunc(asc, byMsgKey)
		st.Ascending[p] = asc
		st.Descending[p] = reversed(asc)
		byID := slices.Clone(asc)
		slices.SortFunc(byID, func(a, b messaging.MessageRecord) int { return cmpUint(a.ID, b.ID) })
		st.ByID[p] = byID
	}
	for r := range m.refs {
		st.Points[r] = nil
		if rec, ok := m.msgs[r.Pair][r.ID]; ok {
			rec = normMsg(rec)
			st.Points[r] = &rec
		}
		st.Deleted[r] = m.tombs[r.Pair][r.ID]
	}
	return st
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// found turns ErrNotFound into a nil record.
func found[T any](v T, err error) (*T, error) {
	if err == nil {
		return &v, nil
	}
	if errors.Is(err, messaging.ErrNotFound) {
		return nil, nil
	}
	return nil, err
}

// readState reads, through tx, the state of the keys m has seen.
func readState(tx messaging.ReadTx, m *model) (state, error) {
	st := newState()
	us, err := tx.Users("", noLimit)
	if err != nil {
		return st, fmt.Errorf("read Users: %w", err)
	}
	st.Users = nilIfEmpty(us)
	for o := range m.owners {
		if st.Inboxes[o], err = found(tx.Inbox(o)); err != nil {
			return st, fmt.Errorf("Inbox(%q): %w", o, err)
		}
		list, err := tx.Conversations(o, nil, noLimit)
		if err != nil {
			return st, fmt.Errorf("Conversations(%q): %w", o, err)
		}
		st.Conversations[o] = normConvs(list)
	}
	for p := range m.pairs {
		c, err := found(tx.Conversation(p.Owner, p.Other))
		if err != nil {
			return st, fmt.Errorf("Conversation(%q, %q): %w", p.Owner, p.Other, err)
		}
		if c != nil {
			*c = normConv(*c)
		}
		st.Records[p] = c
		asc, err := tx.Messages(p.Owner, p.Other, nil, false, noLimit)
		if err != nil {
			return st, fmt.Errorf("Messages(%q, %q): %w", p.Owner, p.Other, err)
		}
		desc, err := tx.Messages(p.Owner, p.Other, nil, true, noLimit)
		if err != nil {
			return st, fmt.Errorf("Messages(%q, %q, reverse): %w", p.Owner, p.Other, err)
		}
		byID, err := tx.MessagesByID(p.Owner, p.Other, 0, noLimit)
		if err != nil {
			return st, fmt.Errorf("MessagesByID(%q, %q): %w", p.Owner, p.Other, err)
		}
		st.Ascending[p], st.Descending[p], st.ByID[p] = normMsgs(asc), normMsgs(desc), normMsgs(byID)
	}
	for r := range m.refs {
		rec, err := found(tx.Message(r.Pair.Owner, r.Pair.Other, r.ID))
		if err != nil {
			return st, fmt.Errorf("Message(%q, %q, %d): %w", r.Pair.Owner, r.Pair.Other, r.ID, err)
		}
		if rec != nil {
			*rec = normMsg(*rec)
		}
		st.Points[r] = rec
		if st.Deleted[r], err = tx.Deleted(r.Pair.Owner, r.Pair.Other, r.ID); err != nil {
			return st, fmt.Errorf("Deleted(%q, %q, %d): %w", r.Pair.Owner, r.Pair.Other, r.ID, err)
		}
	}
	return st, nil
}

func dump(t *testing.T, s messaging.Store, m *model) state {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) (state, error) { return readState(tx, m) })
}

// assertState checks that the store shows exactly what m holds.
func assertState(t *testing.T, s messaging.Store, m *model, msgAndArgs ...any) bool {
	t.Helper()
	return assertSameState(t, m.want(), dump(t, s, m), msgAndArgs...)
}

// assertSameState reports, briefly, how got differs from want.
func assertSameState(t *testing.T, want, got state, msgAndArgs ...any) bool {
	t.Helper()
	d := diffState(want, got)
	if len(d) == 0 {
		return true
	}
	const maxLines = 25
	if len(d) > maxLines {
		d = append(d[:maxLines], fmt.Sprintf("... and %d more differences", len(d)-maxLines))
	}
	return assert.Fail(t, "the store does not hold what was written:\n\t"+strings.Join(d, "\n\t"), msgAndArgs...)
}

// diffState lists the differences between two states, one a line.
func diffState(want, got state) []string {
	var d []string
	d = append(d, diffList("Users", want.Users, got.Users, short, nil)...)
	for _, o := range sortedKeys(want.Inboxes, got.Inboxes, strings.Compare) {
		d = append(d, diffOne("Inbox("+short(o)+")", want.Inboxes[o], got.Inboxes[o], func(r messaging.InboxRecord) string {
			return fmt.Sprintf("{Owner:%s Unread:%d}", short(r.Owner), r.Unread)
		})...)
	}
	for _, o := range sortedKeys(want.Conversations, got.Conversations, strings.Compare) {
		d = append(d, diffList("Conversations("+short(o)+")", want.Conversations[o], got.Conversations[o],
			func(c messaging.ConversationRecord) string { return short(c.Other) }, fmtConv)...)
	}
	for _, p := range sortedKeys(want.Records, got.Records, cmpPair) {
		d = append(d, diffOne("Conversation"+p.String(), want.Records[p], got.Records[p], fmtConv)...)
	}
	msgID := func(m messaging.MessageRecord) string { return fmt.Sprint(m.ID) }
	for _, p := range sortedKeys(want.Ascending, got.Ascending, cmpPair) {
		d = append(d, diffList("Messages"+p.String(), want.Ascending[p], got.Ascending[p], msgID, fmtMsg)...)
	}
	for _, p := range sortedKeys(want.Descending, got.Descending, cmpPair) {
		d = append(d, diffList("Messages"+p.String()+" reverse", want.Descending[p], got.Descending[p], msgID, fmtMsg)...)
	}
	for _, p := range sortedKeys(want.ByID, got.ByID, cmpPair) {
		d = append(d, diffList("MessagesByID"+p.String(), want.ByID[p], got.ByID[p], msgID, fmtMsg)...)
	}
	for _, r := range sortedKeys(want.Points, got.Points, cmpRef) {
		d = append(d, diffOne(fmt.Sprintf("Message(%s, %s, %d)", short(r.Pair.Owner), short(r.Pair.Other), r.ID), want.Points[r], got.Points[r], fmtMsg)...)
	}
	for _, r := range sortedKeys(want.Deleted, got.Deleted, cmpRef) {
		if want.Deleted[r] != got.Deleted[r] {
			d = append(d, fmt.Sprintf("Deleted(%s, %s, %d): want %v, got %v", short(r.Pair.Owner), short(r.Pair.Other), r.ID, want.Deleted[r], got.Deleted[r]))
		}
	}
	return d
}

func (p pair) String() string { return "(" + short(p.Owner) + ", " + short(p.Other) + ")" }

// short quotes a user id, eliding the middle of long ones.
func short(id string) string {
	r := []rune(id)
	if len(r) <= 24 {
		return strconv.Quote(id)
	}
	return fmt.Sprintf("%q…%q(%d bytes)", string(r[:10]), string(r[len(r)-4:]), len(id))
}

// diffOne compares two records; nil stands for ErrNotFound.
func diffOne[T any](name string, want, got *T, format func(T) string) []string {
	if reflect.DeepEqual(want, got) {
		return nil
	}
	f := func(v *T) string {
		if v == nil {
			return "ErrNotFound"
		}
		return format(*v)
	}
	return []string{fmt.Sprintf("%s: want %s, got %s", name, f(want), f(got))}
}

// diffList compares two lists: first by their keys, then record by record.
func diffList[T any](name string, want, got []T, key func(T) string, format func(T) string) []string {
	if reflect.DeepEqual(want, got) {
		return nil
	}
	keys := func(l []T) string {
		var ks []string
		for i, v := range l {
			if i == 30 {
				ks = append(ks, fmt.Sprintf("...(%d in all)", len(l)))
				break
			}
			ks = append(ks, key(v))
		}
		return "[" + strings.Join(ks, " ") + "]"
	}
	if wk, gk := keys(want), keys(got); wk != gk || format == nil {
		return []string{fmt.Sprintf("%s: want %s, got %s", name, wk, gk)}
	}
	for i := range want {
		if !reflect.DeepEqual(want[i], got[i]) {
			return []string{fmt.Sprintf("%s[%d]: want %s, got %s", name, i, format(want[i]), format(got[i]))}
		}
	}
	return nil
}

func sortedKeys[K comparable, V any](a, b map[K]V, cmp func(K, K) int) []K {
	var ks []K
	for k := range a {
		ks = append(ks, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, cmp)
	return ks
}

func cmpPair(a, b pair) int {
	if c := strings.Compare(a.Owner, b.Owner); c != 0 {
		return c
	}
	return strings.Compare(a.Other, b.Other)
}

func cmpRef(a, b msgRef) int {
	if c := cmpPair(a.Pair, b.Pair); c != 0 {
		return c
	}
	return cmpUint(a.ID, b.ID)
}

func fmtMsg(m messaging.MessageRecord) string {
	text := m.Text
	if len(text) > 40 {
		text = text[:40] + "..."
	}
	return fmt.Sprintf("{ID:%d Created:%s Sender:%s Recipient:%s Text:%q}", m.ID, m.Created.Format(time.RFC3339Nano), short(m.Sender), short(m.Recipient), text)
}

func fmtConv(c messaging.ConversationRecord) string {
	return fmt.Sprintf("{Owner:%s Other:%s Messages:%d Unread:%d LastUpdate:%s FirstID:%d MaxID:%d ReadMark:%d PeerReadMark:%d Last:%s}",
		short(c.Owner), short(c.Other), c.Messages, c.Unread, c.LastUpdate.Format(time.RFC3339Nano), c.FirstID, c.MaxID, c.ReadMark, c.PeerReadMark, fmtMsg(c.Last))
}

// baseline commits, over three transactions, a small store: inboxes "bob",
// "dave" and "bo" (a prefix of "bob"); bob's conversations with carol, dave
// and erin; dave's with bob holding the mirrored copies (same IDs); and bo's
// with "b".
func baseline(t *testing.T, s messaging.Store) *model {
	t.Helper()
	m := newModel()
	update(t, s,
		m.PutInbox(inbox("bob", 2)), m.PutInbox(inbox("dave", 1)), m.PutInbox(inbox("bo", 0)),
		m.PutConversation(conv("bob", "dave", at(2))),
		m.PutConversation(conv("bob", "carol", at(1))),
		m.PutConversation(conv("dave", "bob", at(2))),
		m.PutConversation(conv("bo", "b", at(0))),
	)
	update(t, s,
		m.PutMessage("bob", "dave", msg(1, at(0))),
		m.PutMessage("bob", "dave", msg(2, at(1))),
		m.PutMessage("bob", "dave", msg(3, at(2))),
		m.PutMessage("dave", "bob", msg(1, at(0))),
		m.PutMessage("dave", "bob", msg(2, at(1))),
		m.PutMessage("dave", "bob", msg(3, at(2))),
		m.PutMessage("bob", "carol", msg(4, at(1))),
		m.PutMessage("bo", "b", msg(5, at(0))),
	)
	update(t, s,
		m.PutConversation(conv("bob", "erin", at(3))),
		m.PutMessage("bob", "erin", msg(6, at(3))),
	)
	require.True(t, assertState(t, s, m), "baseline")
	return m
}
