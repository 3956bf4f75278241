package messaging

import (
	"slices"
	"sort"
)

// sortedList is an ordered set kept in chunks of at most chunkMax items, so
// that inserting or deleting anywhere (a conversation moving from the bottom
// of a 100 000-conversation inbox to the top, an old message deleted from a
// long conversation) moves at most a chunk, not the whole list. The
// MemoryStore keeps its orders in it.
//
// It is a value, embedded in the records that own it, and the first chunk
// is a field of its own: a list of up to chunkMax items (every order of a
// small conversation or inbox) costs one allocation, its items. Items are
// appended in the common case (a new message, a conversation moving to the
// newest end), so an append to the end is checked first, and a full last
// chunk is followed by a new chunk rather than split in half: lists built by
// appending keep full chunks.
type sortedList[T any] struct {
	cmp  func(a, b T) int
	head []T    // the first chunk; empty only if the list is
	rest *[][]T // the chunks after the first, each non-empty; nil until needed
	n    int
}

const chunkMax = 256

// firstCap is the capacity a list's first chunk starts with: most orders
// of a store with many pairs hold a few items.
const firstCap = 4

func newSortedList[T any](cmp func(a, b T) int) *sortedList[T] {
	return &sortedList[T]{cmp: cmp}
}

func (l *sortedList[T]) len() int { return l.n }

func (l *sortedList[T]) nchunks() int {
	switch {
	case l.n == 0:
		return 0
	case l.rest == nil:
		return 1
	}
	return 1 + len(*l.rest)
}

func (l *sortedList[T]) chunk(c int) []T {
	if c == 0 {
		return l.head
	}
	return (*l.rest)[c-1]
}

func (l *sortedList[T]) setChunk(c int, ch []T) {
	if c == 0 {
		l.head = ch
	} else {
		(*l.rest)[c-1] = ch
	}
}

// addChunk puts ch at chunk index c >= 1.
func (l *sortedList[T]) addChunk(c int, ch []T) {
	if l.rest == nil {
		l.rest = new([][]T)
	}
	*l.rest = slices.Insert(*l.rest, c-1, ch)
}

// dropChunk removes chunk c, which the caller has emptied.
func (l *sortedList[T]) dropChunk(c int) {
	if c == 0 {
		if l.rest == nil {
			l.head = l.head[:0]
			return
		}
		l.head = (*l.rest)[0]
		c = 1
	}
	*l.rest = slices.Delete(*l.rest, c-1, c)
	if len(*l.rest) == 0 {
		l.rest = nil
	}
}

// pos is a position in the list: chunk c, index i in it.
type pos struct{ c, i int }

// seek returns the position of the first item >= k (or the end, with c ==
// nchunks), and whether that item equals k.
func (l *sortedList[T]) seek(k T) (pos, bool) {
	return l.seekBy(func(x T) int { return l.cmp(x, k) })
}

// seekBy is seek for a position that need not be an item: probe(x)
// compares item x with it.
func (l *sortedList[T]) seekBy(probe func(x T) int) (pos, bool) {
	if l.rest == nil { // one chunk or none: no chunk to choose
		i, found := slices.BinarySearchFunc(l.head, 0, func(x T, _ int) int { return probe(x) })
		if i == len(l.head) {
			return pos{l.nchunks(), 0}, false
		}
		return pos{0, i}, found
	}
	n := l.nchunks()
	c := sort.Search(n, func(c int) bool {
		ch := l.chunk(c)
		return probe(ch[len(ch)-1]) >= 0
	})
	if c == n {
		return pos{c, 0}, false
	}
	i, found := slices.BinarySearchFunc(l.chunk(c), 0, func(x T, _ int) int { return probe(x) })
	return pos{c, i}, found
}

func (l *sortedList[T]) get(k T) (T, bool) {
	p, found := l.seek(k)
	if !found {
		var zero T
		return zero, false
	}
	return l.chunk(p.c)[p.i], true
}

// insert adds v, replacing an equal item.
func (l *sortedList[T]) insert(v T) {
	if l.n == 0 {
		if l.head == nil {
			l.head = make([]T, 0, firstCap)
		}
		l.head = append(l.head, v)
		l.n = 1
		return
	}
	last := l.nchunks() - 1
	var p pos
	if ch := l.chunk(last); l.cmp(ch[len(ch)-1], v) < 0 {
		p = pos{last, len(ch)} // after every item: the common case
	} else {
		var found bool
		if p, found = l.seek(v); found {
			l.chunk(p.c)[p.i] = v
			return
		}
	}
	l.n++
	ch := l.chunk(p.c)
	if len(ch) < chunkMax {
		if len(ch) == cap(ch) && cap(ch) < firstCap { // out of a small array given by the owner (memConv.first)
			ch = append(make([]T, 0, firstCap), ch...)
		}
		l.setChunk(p.c, slices.Insert(ch, p.i, v))
		return
	}
	if p.c == last && p.i == len(ch) { // full last chunk: start the next one
		next := make([]T, 1, chunkMax)
		next[0] = v
		l.addChunk(p.c+1, next)
		return
	}
	// Split the full chunk in half, then insert into the half v belongs to;
	// the left half keeps its array, which has room.
	half := len(ch) / 2
	right := make([]T, len(ch)-half, chunkMax)
	copy(right, ch[half:])
	clear(ch[half:]) // no references kept beyond the length
	left := ch[:half]
	if p.i <= half {
		left = slices.Insert(left, p.i, v)
	} else {
		right = slices.Insert(right, p.i-half, v)
	}
	l.setChunk(p.c, left)
	l.addChunk(p.c+1, right)
}

// delete removes the item equal to k and returns it.
func (l *sortedList[T]) delete(k T) (T, bool) {
	p, found := l.seek(k)
	if !found {
		var zero T
		return zero, false
	}
	ch := l.chunk(p.c)
	v := ch[p.i]
	ch = slices.Delete(ch, p.i, p.i+1) // clears the vacated item
	l.n--
	if len(ch) == 0 {
		l.dropChunk(p.c)
		return v, true
	}
	l.setChunk(p.c, ch)
	if len(ch) < chunkMax/4 {
		l.merge(p.c)
	}
	return v, true
}

// merge joins chunk c, which deletes have thinned, with a neighbour if
// both fit in three quarters of a chunk, so that a list whose items move
// (deleted in one place, inserted in another) keeps at most about 4n/chunkMax
// chunks, not a trail of nearly empty ones.
func (l *sortedList[T]) merge(c int) {
	n := l.nchunks()
	switch {
	case c+1 < n && len(l.chunk(c))+len(l.chunk(c+1)) <= chunkMax*3/4:
	case c > 0 && len(l.chunk(c-1))+len(l.chunk(c)) <= chunkMax*3/4:
		c--
	default:
		return
	}
	left, right := l.chunk(c), l.chunk(c+1)
	l.setChunk(c, append(left, right...))
	clear(right)
	l.dropChunk(c + 1)
}

// after returns up to limit items strictly after k (from the first item if
// k is nil), ascending, or with reverse strictly before k (from the last if
// k is nil), descending. The slice is the caller's.
func (l *sortedList[T]) after(k *T, reverse bool, limit int) []T {
	if k == nil {
		return l.afterBy(nil, reverse, limit)
	}
	return l.afterBy(func(x T) int { return l.cmp(x, *k) }, reverse, limit)
}

// afterBy is after for a position given by a probe, as in seekBy; a nil
// probe starts at the first item (the last, with reverse).
func (l *sortedList[T]) afterBy(probe func(x T) int, reverse bool, limit int) []T {
	if limit <= 0 || l.n == 0 {
		return nil
	}
	out := make([]T, 0, min(limit, l.n))
	l.walk(probe, reverse, func(v *T) bool {
		out = append(out, *v)
		return len(out) < limit
	})
	return nilIfEmpty(out)
}

// walk calls yield with each item strictly after the position of probe
// (from the first item if probe is nil), ascending, or with reverse
// strictly before it (from the last), descending, until yield returns
// false. The list must not change meanwhile.
func (l *sortedList[T]) walk(probe func(x T) int, reverse bool, yield func(*T) bool) {
	n := l.nchunks()
	if n == 0 {
		return
	}
	if !reverse {
		p := pos{}
		if probe != nil {
			var found bool
			if p, found = l.seekBy(probe); found {
				p.i++
			}
		}
		for ; p.c < n; p = (pos{p.c + 1, 0}) {
			ch := l.chunk(p.c)
			for i := p.i; i < len(ch); i++ {
				if !yield(&ch[i]) {
					return
				}
			}
		}
		return
	}
	p := pos{n - 1, len(l.chunk(n - 1))} // end of the last chunk
	if probe != nil {
		p, _ = l.seekBy(probe) // items before p.i in chunk p.c are < the position
		if p.c == n {
			p = pos{p.c - 1, len(l.chunk(p.c - 1))}
		}
	}
	for {
		ch := l.chunk(p.c)
		for i := p.i - 1; i >= 0; i-- {
			if !yield(&ch[i]) {
				return
			}
		}
		if p.c == 0 {
			return
		}
		p = pos{p.c - 1, len(l.chunk(p.c - 1))}
	}
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// last returns the greatest item.
func (l *sortedList[T]) last() (T, bool) {
	if l.n == 0 {
		var zero T
		return zero, false
	}
	ch := l.chunk(l.nchunks() - 1)
	return ch[len(ch)-1], true
}
