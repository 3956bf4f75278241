package messaging

// This file holds how a MemoryStore keeps one inbox: its record, its
// conversations by Other, and their LastUpdate order.

import "strings"

type memInbox struct {
	rec   InboxRecord
	convs map[string]*memConv
	order sortedList[convKey] // oldest first: see convKey
	slab  *memSlab            // where its conversations are, the store's
}

func newMemInbox(rec InboxRecord, slab *memSlab) *memInbox {
	in := &memInbox{rec: rec, convs: make(map[string]*memConv), slab: slab}
	in.order.cmp = func(a, b convKey) int {
		if c := cmpTime(a.sec, a.nsec, b.sec, b.nsec); c != 0 {
			return c
		}
		if a.slot == b.slot {
			return 0
		}
		return strings.Compare(in.conv(b.slot).other, in.conv(a.slot).other)
	}
	return in
}

func (in *memInbox) conv(slot uint32) *memConv { return in.slab.get(slot) }

// newConv makes the conversation of rec in a free slot and adds it.
func (in *memInbox) newConv(rec *ConversationRecord) *memConv {
	c := in.slab.take()
	c.init(rec)
	in.addConv(c)
	return c
}

// addConv puts c in the inbox: new from newConv, or back after removeConv.
func (in *memInbox) addConv(c *memConv) {
	c.live = true
	in.convs[c.other] = c
	in.order.insert(c.key())
}

// removeConv takes c out of the inbox but keeps its slot, so that an undo
// can add it back; release frees the slot once no undo can.
func (in *memInbox) removeConv(c *memConv) {
	in.order.delete(c.key())
	delete(in.convs, c.other)
	c.live = false
}

// release frees the slot of c, removed in the Update that just ended,
// unless that Update's rollback added c back.
func (in *memInbox) release(c *memConv) {
	if c.live || c.other == "" { // added back, or already released
		return
	}
	in.slab.put(c)
}

// releaseAll frees the slots of every conversation of in, deleted in the
// Update that just ended.
func (in *memInbox) releaseAll() {
	for _, c := range in.convs {
		in.slab.put(c)
	}
	clear(in.convs)
}

func (in *memInbox) setConvRec(c *memConv, rec memConvRec) {
	if rec.luSec != c.rec.luSec || rec.luNsec != c.rec.luNsec {
		in.order.delete(c.key())
		c.rec = rec
		in.order.insert(c.key())
		return
	}
	c.rec = rec
}
