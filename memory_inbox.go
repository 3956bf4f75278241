package messaging

// This file holds how a MemoryStore keeps one inbox: its record, its
// conversations by Other, and their LastUpdate order.

import (
	"math/bits"
	"strings"
)

type memInbox struct {
	rec   InboxRecord
	convs map[string]*memConv
	order sortedList[convKey] // oldest first: see convKey

	// The conversations live in pages of memConv values, found by slot
	// (see slotPage), rather than in an allocation each: with many pairs
	// most sends open a conversation, and a page costs one allocation
	// and one object for the garbage collector to mark. A page never
	// moves, so a *memConv stays valid while its slot is taken.
	pages  [][]memConv
	nslots uint32   // slots ever taken
	free   []uint32 // released slots
}

// Pages hold convPageFirst slots, then twice as many each up to convPageMax, so
// that an inbox with few conversations stays small and one with many
// wastes at most a page.
const (
	convPageFirst = 4
	convPageMax   = 64

	// slots in the pages that grow: convPageFirst + 2*convPageFirst + ... + convPageMax
	growingSlots = 2*convPageMax - convPageFirst
)

// slotPage returns the page and the index in it of slot s.
func slotPage(s uint32) (page, i int) {
	if s < growingSlots {
		page = bits.Len32(s+convPageFirst) - bits.Len32(convPageFirst)
		return page, int(s+convPageFirst) - convPageFirst<<page
	}
	s -= growingSlots
	return bits.Len32(convPageMax/convPageFirst) + int(s/convPageMax), int(s % convPageMax)
}

func newMemInbox(rec InboxRecord) *memInbox {
	in := &memInbox{rec: rec, convs: make(map[string]*memConv)}
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

func (in *memInbox) conv(slot uint32) *memConv {
	p, i := slotPage(slot)
	return &in.pages[p][i]
}

// newConv makes the conversation of rec in a free slot and adds it.
func (in *memInbox) newConv(rec *ConversationRecord) *memConv {
	var slot uint32
	if n := len(in.free); n > 0 {
		slot = in.free[n-1]
		in.free = in.free[:n-1]
	} else {
		slot = in.nslots
		in.nslots++
		if _, i := slotPage(slot); i == 0 {
			in.pages = append(in.pages, make([]memConv, min(convPageFirst<<min(len(in.pages), 30), convPageMax)))
		}
	}
	c := in.conv(slot)
	c.init(slot, rec)
	in.addConv(c)
	return c
}

// addConv adds c, made by newConv and removed since, back.
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
	slot := c.slot
	*c = memConv{}
	in.free = append(in.free, slot)
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
