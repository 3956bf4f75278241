package messaging

// This file holds how a MemoryStore keeps one side of a conversation: its
// record and its messages, in entries that carry no pointer but a text.
//
// Why: a store with many pairs keeps millions of these, and the garbage
// collector scans every pointer of every live entry on every cycle. A
// time.Time holds a *Location, and a MessageRecord three strings beside its
// time; kept as they come, a stored message costs the collector four
// pointers (and its ID index entry one more). Kept as below it costs one,
// its text: times are (Unix seconds, nanoseconds) integers, which hold every
// instant from year 1 to 9999 exactly, and Sender and Recipient, which in a
// conversation are nearly always its two users, are a direction.

import (
	"cmp"
	"slices"
	"time"
)

// memDir says who sent a stored message, relative to the conversation
// holding it.
type memDir uint8

const (
	dirOut  memDir = iota // Sender is the owner, Recipient the other user
	dirIn                 // Sender is the other user, Recipient the owner
	dirNone               // both empty, as in the Last of an empty conversation
	dirOdd                // any other pair, kept beside the entry
)

func dirOf(owner, other string, m *MessageRecord) memDir {
	switch {
	case m.Sender == owner && m.Recipient == other:
		return dirOut
	case m.Sender == other && m.Recipient == owner:
		return dirIn
	case m.Sender == "" && m.Recipient == "":
		return dirNone
	}
	return dirOdd
}

// users returns Sender and Recipient of a message with direction d; odd
// holds them when d is dirOdd.
func users(owner, other string, d memDir, odd *[2]string) (sender, recipient string) {
	switch d {
	case dirOut:
		return owner, other
	case dirIn:
		return other, owner
	case dirOdd:
		return odd[0], odd[1]
	}
	return "", ""
}

func packTime(t time.Time) (sec int64, nsec int32) { return t.Unix(), int32(t.Nanosecond()) }

func unpackTime(sec int64, nsec int32) time.Time { return time.Unix(sec, int64(nsec)).UTC() }

func cmpTime(asec int64, ansec int32, bsec int64, bnsec int32) int {
	if c := cmp.Compare(asec, bsec); c != 0 {
		return c
	}
	return cmp.Compare(ansec, bnsec)
}

// memMsg is a stored message: its key, its direction and its text.
// Its metadata, which few messages have, is kept beside it (memMore.meta).
type memMsg struct {
	sec           int64 // Created
	id            uint64
	nsec          int32 // Created
	dir           memDir
	deletedUnread bool
	text          string
}

func packMsg(owner, other string, m *MessageRecord) memMsg {
	sec, nsec := packTime(m.Created)
	return memMsg{sec: sec, id: m.ID, nsec: nsec, dir: dirOf(owner, other, m), deletedUnread: m.DeletedUnread, text: m.Text}
}

// record unpacks e; meta is its metadata, which record copies.
func (e *memMsg) record(owner, other string, odd *[2]string, meta map[string]string) MessageRecord {
	s, r := users(owner, other, e.dir, odd)
	return MessageRecord{ID: e.id, Sender: s, Recipient: r, Text: e.text, Created: unpackTime(e.sec, e.nsec),
		DeletedUnread: e.deletedUnread, Meta: cloneMeta(meta)}
}

// cmpMemMsg is MessageKey.Compare on entries.
func cmpMemMsg(a, b memMsg) int {
	if c := cmpTime(a.sec, a.nsec, b.sec, b.nsec); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// memIDKey is an entry of a conversation's ID index: where message id sits
// in the (Created, ID) order.
type memIDKey struct {
	id   uint64
	sec  int64
	nsec int32
}

func cmpIDKey(a, b memIDKey) int { return cmp.Compare(a.id, b.id) }

// memConvRec is a ConversationRecord without its Owner and Other (the keys
// it is stored under) and with its times and Last packed.
type memConvRec struct {
	messages, unread                       int
	firstID, maxID, readMark, peerReadMark uint64
	luSec                                  int64 // LastUpdate
	luNsec                                 int32
	last                                   memMsg
	lastOdd                                *[2]string        // Last's Sender and Recipient if last.dir is dirOdd
	lastMeta                               map[string]string // Last's metadata; never changed once stored
}

func packConv(rec *ConversationRecord) memConvRec {
	r := memConvRec{
		messages: rec.Messages, unread: rec.Unread,
		firstID: rec.FirstID, maxID: rec.MaxID, readMark: rec.ReadMark, peerReadMark: rec.PeerReadMark,
		last:     packMsg(rec.Owner, rec.Other, &rec.Last),
		lastMeta: cloneMeta(rec.Last.Meta),
	}
	r.luSec, r.luNsec = packTime(rec.LastUpdate)
	if r.last.dir == dirOdd {
		r.lastOdd = &[2]string{rec.Last.Sender, rec.Last.Recipient}
	}
	return r
}

func (r *memConvRec) record(owner, other string) ConversationRecord {
	return ConversationRecord{
		Owner: owner, Other: other,
		Messages: r.messages, Unread: r.unread, LastUpdate: unpackTime(r.luSec, r.luNsec),
		FirstID: r.firstID, MaxID: r.maxID, ReadMark: r.readMark, PeerReadMark: r.peerReadMark,
		Last: r.last.record(owner, other, r.lastOdd, r.lastMeta),
	}
}

// convKey is the entry of a conversation in its inbox's order: its
// LastUpdate and its slot in the store's slab (memInbox.conv), through which
// ties are broken by Other. The order is kept oldest first (LastUpdate
// ascending, then Other descending: ConversationKey.Compare reversed), so
// that the conversation a send moves goes to the end of the list, where an
// insert moves nothing.
type convKey struct {
	sec  int64
	nsec int32
	slot uint32
}

// smallConv is how many messages a conversation holds before it keeps an
// ID index: below it, a lookup by ID reads every entry (one chunk of a few
// cache lines), which costs less than keeping a second list for each of
// the many small conversations of a store with many pairs.
const smallConv = 16

// A conversation that is not indexed is one chunk.
const _ = uint(chunkMax - smallConv)

// memConv is one side of a conversation.
type memConv struct {
	other string
	slot  uint32 // in the store's memSlab
	live  bool   // in its inbox (not removed)
	rec   memConvRec
	msgs  sortedList[memMsg] // (Created, ID) order
	more  *memMore           // nil until the conversation needs one of its fields

	// first is where msgs keeps its first item, so that the conversation
	// and its first message are one allocation: with many pairs most
	// conversations are new and small. msgs.head points into it, so a
	// memConv is never copied.
	first [1]memMsg
}

// memMore is what only some conversations need, kept apart to keep the
// many small ones small.
type memMore struct {
	ids     *sortedList[memIDKey]        // ascending ID; nil until msgs outgrows smallConv
	odd     map[uint64][2]string         // Sender and Recipient of the entries with dirOdd; nil until the first
	meta    map[uint64]map[string]string // metadata of the messages that have it; never changed once stored
	deleted map[uint64]bool              // tombstones: deleted IDs, true if retracted; nil until the first
}

// extra returns c.more, making it if need be.
func (c *memConv) extra() *memMore {
	if c.more == nil {
		c.more = new(memMore)
	}
	return c.more
}

// index returns c's ID index, or nil while c is small.
func (c *memConv) index() *sortedList[memIDKey] {
	if c.more == nil {
		return nil
	}
	return c.more.ids
}

// isDeleted reports whether id has a tombstone.
func (c *memConv) isDeleted(id uint64) bool {
	if c.more == nil {
		return false
	}
	_, ok := c.more.deleted[id]
	return ok
}

// tombstones lists up to limit tombstones with an ID above afterID.
func (c *memConv) tombstones(afterID uint64, limit int) []Tombstone {
	if c.more == nil {
		return nil
	}
	var out []Tombstone
	for id, retracted := range c.more.deleted {
		if id > afterID {
			out = append(out, Tombstone{ID: id, Retracted: retracted})
		}
	}
	slices.SortFunc(out, func(a, b Tombstone) int { return cmp.Compare(a.ID, b.ID) })
	return out[:min(len(out), limit)]
}

// setTombstone sets, or with gone removes, the tombstone of id; it returns
// what there was.
func (c *memConv) setTombstone(id uint64, retracted, gone bool) (was, had bool) {
	m := c.extra()
	was, had = m.deleted[id]
	if gone {
		delete(m.deleted, id)
		return was, had
	}
	if m.deleted == nil {
		m.deleted = make(map[uint64]bool)
	}
	m.deleted[id] = retracted
	return was, had
}

// metaOf returns the metadata of message id.
func (c *memConv) metaOf(id uint64) map[string]string {
	if c.more == nil {
		return nil
	}
	return c.more.meta[id]
}

// setMeta keeps meta as the metadata of message id (nil: none).
func (c *memConv) setMeta(id uint64, meta map[string]string) {
	switch {
	case len(meta) > 0:
		m := c.extra()
		if m.meta == nil {
			m.meta = make(map[uint64]map[string]string)
		}
		m.meta[id] = meta
	case c.more != nil:
		delete(c.more.meta, id)
	}
}

// init makes the zero memConv c the conversation of rec, empty. It sets
// the fields one by one: c is zero already, and a composite
// literal would be built aside and copied in, twice the writes.
func (c *memConv) init(rec *ConversationRecord) {
	c.other = rec.Other
	c.rec = packConv(rec)
	c.msgs.cmp = cmpMemMsg
	c.msgs.head = c.first[:0]
}

func (c *memConv) key() convKey {
	return convKey{sec: c.rec.luSec, nsec: c.rec.luNsec, slot: c.slot}
}

// message turns entry e into the record owner's copy holds.
func (c *memConv) message(owner string, e *memMsg) MessageRecord {
	var odd *[2]string
	if e.dir == dirOdd {
		u := c.more.odd[e.id]
		odd = &u
	}
	return e.record(owner, c.other, odd, c.metaOf(e.id))
}

func (c *memConv) messages(owner string, es []memMsg) []MessageRecord {
	if len(es) == 0 {
		return nil
	}
	out := make([]MessageRecord, len(es))
	for i := range es {
		out[i] = c.message(owner, &es[i])
	}
	return out
}

// find returns the entry of message id.
func (c *memConv) find(id uint64) (memMsg, bool) {
	ids := c.index()
	if ids == nil { // one chunk
		for _, e := range c.msgs.head {
			if e.id == id {
				return e, true
			}
		}
		return memMsg{}, false
	}
	if last, _ := ids.last(); last.id < id { // a new ID, above every other
		return memMsg{}, false
	}
	k, ok := ids.get(memIDKey{id: id})
	if !ok {
		return memMsg{}, false
	}
	return c.msgs.get(memMsg{sec: k.sec, nsec: k.nsec, id: id})
}

// insert adds entry e, whose Sender and Recipient are odd if e.dir is
// dirOdd. No entry with e.id may be present.
func (c *memConv) insert(e memMsg, odd [2]string) {
	c.msgs.insert(e)
	if e.dir == dirOdd {
		m := c.extra()
		if m.odd == nil {
			m.odd = make(map[uint64][2]string)
		}
		m.odd[e.id] = odd
	}
	switch ids := c.index(); {
	case ids != nil:
		ids.insert(memIDKey{id: e.id, sec: e.sec, nsec: e.nsec})
	case c.msgs.len() > smallConv: // one chunk
		keys := make([]memIDKey, 0, c.msgs.len())
		for _, e := range c.msgs.head {
			keys = append(keys, memIDKey{id: e.id, sec: e.sec, nsec: e.nsec})
		}
		slices.SortFunc(keys, cmpIDKey)
		c.extra().ids = &sortedList[memIDKey]{cmp: cmpIDKey, head: keys, n: len(keys)}
	}
}

// remove deletes message id and returns its entry and, if odd, its Sender
// and Recipient.
func (c *memConv) remove(id uint64) (memMsg, [2]string, bool) {
	e, ok := c.find(id)
	if !ok {
		return memMsg{}, [2]string{}, false
	}
	c.msgs.delete(e)
	if ids := c.index(); ids != nil {
		ids.delete(memIDKey{id: id})
	}
	var odd [2]string
	if e.dir == dirOdd {
		odd = c.more.odd[id]
		delete(c.more.odd, id)
	}
	return e, odd, true
}

// byID returns up to limit entries with an ID above afterID, ascending.
func (c *memConv) byID(afterID uint64, limit int) []memMsg {
	if limit <= 0 {
		return nil
	}
	ids := c.index()
	if ids == nil {
		var out []memMsg
		for _, e := range c.msgs.head { // one chunk
			if e.id > afterID {
				out = append(out, e)
			}
		}
		slices.SortFunc(out, func(a, b memMsg) int { return cmp.Compare(a.id, b.id) })
		return out[:min(len(out), limit)]
	}
	ks := ids.after(&memIDKey{id: afterID}, false, limit)
	if len(ks) == 0 {
		return nil
	}
	out := make([]memMsg, len(ks))
	for i, k := range ks {
		out[i], _ = c.msgs.get(memMsg{sec: k.sec, nsec: k.nsec, id: k.id})
	}
	return out
}
