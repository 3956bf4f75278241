package messaging

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMemSlabTakesFreeSlotsAndDropsEmptyPages takes and puts back slots at
// random: every taken slot is zero but for its number, distinct from every other taken
// one, and a page all of whose slots are back is dropped.
func TestMemSlabTakesFreeSlotsAndDropsEmptyPages(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	var s memSlab
	taken := map[uint32]*memConv{}
	for step := range 50_000 {
		if len(taken) > 0 && r.IntN(2) == 0 {
			for slot, c := range taken { // a random one
				require.Same(t, c, s.get(slot))
				s.put(c)
				delete(taken, slot)
				break
			}
		} else {
			c := s.take()
			require.Equal(t, memConv{slot: c.slot}, *c, "step %d: slot %d is not zero", step, c.slot)
			require.NotContains(t, taken, c.slot, "step %d", step)
			c.other = "x" // taken
			taken[c.slot] = c
		}
		if step%500 == 0 {
			live := map[uint32]int{}
			for slot := range taken {
				live[slot/slabPage]++
			}
			for p := range s.pages {
				assert.Equal(t, live[uint32(p)], int(s.live[p]), "step %d: page %d", step, p)
				if live[uint32(p)] == 0 && uint32(p) != (s.n-1)/slabPage {
					assert.Nil(t, s.pages[p], "step %d: page %d is empty", step, p)
				}
			}
		}
	}
	for _, c := range taken {
		s.put(c)
	}
	dropped := 0
	for _, p := range s.pages {
		if p == nil {
			dropped++
		}
	}
	assert.Equal(t, len(s.pages)-1, dropped, "all pages but the one being filled are dropped")
}
