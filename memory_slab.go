package messaging

// This file holds where a MemoryStore keeps its conversations: pages of
// memConv values, found by slot.

// memSlab holds every conversation of a store in pages of memConv values
// rather than in an allocation each: with many pairs most sends open a
// conversation, and a page costs one allocation and one object for the
// garbage collector to mark for slabPage conversations. Slots are taken
// in order across all inboxes, so a new conversation is written next to
// the one before, in memory the cache has just seen, as the allocator
// would place it; per-inbox pages put each in a line untouched for long.
//
// A page never moves, so a *memConv stays valid while its slot is taken.
// A page whose conversations are all gone is dropped, so that deleting
// conversations gives their memory back to the runtime.
type memSlab struct {
	pages [][]memConv // nil where dropped
	live  []uint16    // taken slots by page
	n     uint32      // slots ever taken
	free  []uint32    // slots given back, most recent last; those of dropped pages are skipped
}

const slabPage = 64

func (s *memSlab) get(slot uint32) *memConv { return &s.pages[slot/slabPage][slot%slabPage] }

// take returns a zero memConv in a free slot.
func (s *memSlab) take() *memConv {
	for n := len(s.free); n > 0; n-- {
		slot := s.free[n-1]
		s.free = s.free[:n-1]
		if p := slot / slabPage; s.pages[p] != nil {
			s.live[p]++
			c := s.get(slot)
			c.slot = slot
			return c
		}
	}
	slot := s.n
	s.n++
	if slot%slabPage == 0 {
		s.pages = append(s.pages, make([]memConv, slabPage))
		s.live = append(s.live, 0)
	}
	s.live[slot/slabPage]++
	c := s.get(slot)
	c.slot = slot
	return c
}

// put gives c's slot back.
func (s *memSlab) put(c *memConv) {
	slot := c.slot
	*c = memConv{}
	p := slot / slabPage
	if s.live[p]--; s.live[p] == 0 && p != (s.n-1)/slabPage { // not the page being filled
		s.pages[p] = nil
		return
	}
	s.free = append(s.free, slot)
}
