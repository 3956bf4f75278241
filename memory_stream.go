package messaging

import "bytes"

// memStream is one user's events in a MemoryStore, ascending by Seq, in
// chunks of up to streamChunk events. A store keeps up to EventHistory
// events of every user: in chunks, an append never copies more than one
// chunk (a single growing array would copy the whole stream, trimmed
// prefix included, every time it doubled), trimming frees whole chunks, and
// the events' data sit in pointer-free arrays the garbage collector does
// not scan.
type memStream struct {
	chunks []*eventChunk // oldest first; every one but the last is full
	lo     int           // events of chunks[0] before lo are trimmed
	// n, first and last repeat what the chunks hold: every send reads
	// the bounds of two streams, and the chunks at either end are, with
	// a thousand users, two cache misses each time.
	n           int
	first, last uint64
}

const streamChunk = 64

// maxChunkReserve bounds the bytes a new chunk reserves for its events'
// data up front; append grows it past that if need be.
const maxChunkReserve = 16 << 10

// eventChunk holds events i < n: seqs[i] and data[offs[i]:offs[i+1]].
// Events are only ever appended to a chunk, so a chunk's content up to n is
// never changed once written: an undo restores n.
type eventChunk struct {
	seqs [streamChunk]uint64
	offs [streamChunk + 1]uint32
	n    int
	data []byte
}

// memStreamState is what an undo needs to restore a stream: later writes
// only append past these lengths, add chunks, or drop chunks from the
// front.
type memStreamState struct {
	chunks      []*eventChunk
	lo, n       int
	first, last uint64
	lastN       int // n of the last chunk
	lastLen     int // len(data) of the last chunk
}

func (st *memStream) len() int { return st.n }

// bounds returns the first and last Seq kept; 0, 0 when empty.
func (st *memStream) bounds() (first, last uint64) {
	if st == nil || st.n == 0 {
		return 0, 0
	}
	return st.first, st.last
}

func (st *memStream) state() memStreamState {
	s := memStreamState{chunks: st.chunks, lo: st.lo, n: st.n, first: st.first, last: st.last}
	if n := len(st.chunks); n > 0 {
		s.lastN, s.lastLen = st.chunks[n-1].n, len(st.chunks[n-1].data)
	}
	return s
}

func (st *memStream) restore(s memStreamState) {
	st.chunks, st.lo, st.n, st.first, st.last = s.chunks, s.lo, s.n, s.first, s.last
	if n := len(st.chunks); n > 0 {
		c := st.chunks[n-1]
		c.n, c.data = s.lastN, c.data[:s.lastLen]
	}
}

// appendEvent adds an event after the last.
func (st *memStream) appendEvent(seq uint64, data []byte) {
	var c *eventChunk
	if n := len(st.chunks); n > 0 && st.chunks[n-1].n < streamChunk {
		c = st.chunks[n-1]
	} else {
		// Room for a chunk of events like this one, within reason: one
		// large message must not reserve 96 times its size.
		c = &eventChunk{data: make([]byte, 0, min(streamChunk*(len(data)+len(data)/2), maxChunkReserve))}
		st.chunks = append(st.chunks, c)
	}
	c.seqs[c.n] = seq
	c.data = append(c.data, data...)
	c.n++
	c.offs[c.n] = uint32(len(c.data))
	if st.n == 0 {
		st.first = seq
	}
	st.last = seq
	st.n++
}

// at returns the chunk and index of the i-th event kept.
func (st *memStream) at(i int) (*eventChunk, int) {
	i += st.lo
	return st.chunks[i/streamChunk], i % streamChunk
}

func (c *eventChunk) event(user string, j int) EventRecord {
	return EventRecord{User: user, Seq: c.seqs[j], Data: bytes.Clone(c.data[c.offs[j]:c.offs[j+1]])}
}

// find returns how many events kept have a Seq below seq.
func (st *memStream) find(seq uint64) int {
	lo, hi := 0, st.len()
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if c, j := st.at(mid); c.seqs[j] < seq {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// events returns up to limit events with a Seq above after, copied.
func (st *memStream) events(user string, after uint64, limit int) []EventRecord {
	i := st.find(after + 1)
	n := min(st.len()-i, limit)
	if n <= 0 {
		return nil
	}
	out := make([]EventRecord, n)
	for k := range out {
		c, j := st.at(i + k)
		out[k] = c.event(user, j)
	}
	return out
}

// trimUpTo drops the events with a Seq up to seq, whole chunks first.
func (st *memStream) trimUpTo(seq uint64) {
	k := 1 // a stream at its history drops its first event on each append
	if st.n == 0 || st.first != seq {
		k = st.find(seq + 1)
	}
	i := k + st.lo
	drop := i / streamChunk
	st.chunks = st.chunks[drop:]
	st.lo = i % streamChunk
	st.n -= k
	if st.n == 0 {
		st.first, st.last = 0, 0
		return
	}
	c, j := st.at(0)
	st.first = c.seqs[j]
}

// rebuild makes the stream hold evs, in fresh chunks (an undo may still
// hold the old ones).
func (st *memStream) rebuild(evs []EventRecord) {
	*st = memStream{}
	for _, e := range evs {
		st.appendEvent(e.Seq, e.Data)
	}
}
