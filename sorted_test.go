package messaging

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSortedListMatchesASortedSlice runs random inserts, deletes and page
// reads on a sortedList and on a plain sorted slice, and compares every
// answer; enough items to split and empty many chunks.
func TestSortedListMatchesASortedSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	l := newSortedList(cmp.Compare[int])
	var ref []int
	const space = 5000
	for step := range 30_000 {
		k := r.IntN(space)
		switch op := r.IntN(10); {
		case op < 5:
			l.insert(k)
			if i, found := slices.BinarySearch(ref, k); !found {
				ref = slices.Insert(ref, i, k)
			}
		case op < 8:
			got, ok := l.delete(k)
			i, found := slices.BinarySearch(ref, k)
			require.Equal(t, found, ok, "step %d: delete %d", step, k)
			if found {
				assert.Equal(t, k, got)
				ref = slices.Delete(ref, i, i+1)
			}
		default:
			limit := r.IntN(300)
			var from *int
			if r.IntN(4) > 0 {
				from = &k
			}
			for _, reverse := range []bool{false, true} {
				require.Equal(t, refAfter(ref, from, reverse, limit), l.after(from, reverse, limit),
					"step %d: after(%v, %v, %d)", step, from, reverse, limit)
			}
		}
		require.Equal(t, len(ref), l.len())
		if step%1000 == 0 {
			require.Equal(t, ref, l.after(nil, false, space+1), "step %d", step)
			for c := range l.nchunks() {
				require.NotEmpty(t, l.chunk(c))
				require.LessOrEqual(t, len(l.chunk(c)), chunkMax)
			}
		}
	}
	_, ok := l.get(-1)
	assert.False(t, ok)
	if len(ref) > 0 {
		last, ok := l.last()
		assert.True(t, ok)
		assert.Equal(t, ref[len(ref)-1], last)
	}
}

func refAfter(ref []int, from *int, reverse bool, limit int) []int {
	var out []int
	if !reverse {
		for _, v := range ref {
			if (from == nil || v > *from) && len(out) < limit {
				out = append(out, v)
			}
		}
		return out
	}
	for i := len(ref) - 1; i >= 0; i-- {
		if (from == nil || ref[i] < *from) && len(out) < limit {
			out = append(out, ref[i])
		}
	}
	return out
}

// TestSortedListAppendsKeepFullChunks: a list built by appending (messages
// in ID order) fills each chunk before starting the next.
func TestSortedListAppendsKeepFullChunks(t *testing.T) {
	l := newSortedList(cmp.Compare[int])
	for i := range 10 * chunkMax {
		l.insert(i)
	}
	require.Equal(t, 10, l.nchunks())
	for c := range l.nchunks() {
		assert.Len(t, l.chunk(c), chunkMax, "chunk %d", c)
	}
}

// TestSortedListMovesKeepFewChunks moves random items to the end, as sends
// move conversations to the newest end of an inbox: the chunks they leave
// behind thin out and must merge, or a list of n items would keep a trail
// of nearly empty chunks.
func TestSortedListMovesKeepFewChunks(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	l := newSortedList(cmp.Compare[int])
	const n = 1000
	items := make([]int, n)
	for i := range items {
		items[i] = i
		l.insert(i)
	}
	next := n
	for step := range 200_000 {
		j := r.IntN(n)
		_, ok := l.delete(items[j])
		require.True(t, ok)
		items[j] = next
		l.insert(next)
		next++
		if step%1000 == 0 {
			require.Equal(t, n, l.len())
			require.LessOrEqual(t, l.nchunks(), 4*n/chunkMax+2, "step %d", step)
		}
	}
	assert.Equal(t, slices.Sorted(slices.Values(items)), l.after(nil, false, n+1))
}
