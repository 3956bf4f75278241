package messaging

import "slices"

// sortedList is an ordered set kept in chunks of at most chunkMax items, so
// that inserting or deleting anywhere (a conversation moving from the bottom
// of a 100 000-conversation inbox to the top, an old message deleted from a
// long conversation) moves at most a chunk, not the whole list. The
// MemoryStore keeps its orders in it.
type sortedList[T any] struct {
	cmp    func(a, b T) int
	chunks [][]T // each sorted and non-empty; chunks in order
	n      int
}

const chunkMax = 256

func newSortedList[T any](cmp func(a, b T) int) *sortedList[T] {
	return &sortedList[T]{cmp: cmp}
}

func (l *sortedList[T]) len() int { return l.n }

// pos is a position in the list: chunk c, index i in it.
type pos struct{ c, i int }

// seek returns the position of the first item >= k (or the end), and
// whether that item equals k.
func (l *sortedList[T]) seek(k T) (pos, bool) {
	c, _ := slices.BinarySearchFunc(l.chunks, k, func(ch []T, k T) int { return l.cmp(ch[len(ch)-1], k) })
	if c == len(l.chunks) {
		return pos{c, 0}, false
	}
	i, found := slices.BinarySearchFunc(l.chunks[c], k, l.cmp)
	return pos{c, i}, found
}

func (l *sortedList[T]) get(k T) (T, bool) {
	p, found := l.seek(k)
	if !found {
		var zero T
		return zero, false
	}
	return l.chunks[p.c][p.i], true
}

// insert adds v, replacing an equal item.
func (l *sortedList[T]) insert(v T) {
	if len(l.chunks) == 0 {
		l.chunks = append(l.chunks, []T{v})
		l.n++
		return
	}
	p, found := l.seek(v)
	if found {
		l.chunks[p.c][p.i] = v
		return
	}
	if p.c == len(l.chunks) { // after the last item: append to the last chunk
		p = pos{p.c - 1, len(l.chunks[p.c-1])}
	}
	ch := slices.Insert(l.chunks[p.c], p.i, v)
	l.n++
	if len(ch) <= chunkMax {
		l.chunks[p.c] = ch
		return
	}
	half := len(ch) / 2
	right := slices.Clone(ch[half:])
	clear(ch[half:]) // no references kept beyond the length
	l.chunks[p.c] = ch[:half:half]
	l.chunks = slices.Insert(l.chunks, p.c+1, right)
}

// delete removes the item equal to k and returns it.
func (l *sortedList[T]) delete(k T) (T, bool) {
	p, found := l.seek(k)
	if !found {
		var zero T
		return zero, false
	}
	ch := l.chunks[p.c]
	v := ch[p.i]
	ch = slices.Delete(ch, p.i, p.i+1)
	l.n--
	if len(ch) == 0 {
		l.chunks = slices.Delete(l.chunks, p.c, p.c+1)
	} else {
		l.chunks[p.c] = ch
	}
	return v, true
}

// after returns up to limit items strictly after k (from the first item if
// k is nil), ascending, or with reverse strictly before k (from the last if
// k is nil), descending. The slice is the caller's.
func (l *sortedList[T]) after(k *T, reverse bool, limit int) []T {
	if limit <= 0 || l.n == 0 {
		return nil
	}
	out := make([]T, 0, min(limit, l.n))
	if !reverse {
		p := pos{}
		if k != nil {
			var found bool
			if p, found = l.seek(*k); found {
				p.i++
			}
		}
		for ; p.c < len(l.chunks) && len(out) < limit; p = (pos{p.c + 1, 0}) {
			ch := l.chunks[p.c][p.i:]
			out = append(out, ch[:min(len(ch), limit-len(out))]...)
		}
		return nilIfEmpty(out)
	}
	p := pos{len(l.chunks) - 1, len(l.chunks[len(l.chunks)-1])} // end of the last chunk
	if k != nil {
		p, _ = l.seek(*k) // items before p.i in chunk p.c are < k
		if p.c == len(l.chunks) {
			p = pos{p.c - 1, len(l.chunks[p.c-1])}
		}
	}
	for len(out) < limit {
		ch := l.chunks[p.c][:p.i]
		for j := len(ch) - 1; j >= 0 && len(out) < limit; j-- {
			out = append(out, ch[j])
		}
		if p.c == 0 {
			break
		}
		p = pos{p.c - 1, len(l.chunks[p.c-1])}
	}
	return nilIfEmpty(out)
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
	ch := l.chunks[len(l.chunks)-1]
	return ch[len(ch)-1], true
}
