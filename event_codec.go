package messaging

import (
	"encoding/binary"
	"maps"
	"slices"

	"github.com/socialkit/messaging/internal/keys"
)

// The encoding of an event in a user's stream (EventRecord.Data): a version
// byte, the kind, then uvarint-prefixed strings, varints and 12-byte times
// (internal/keys). Seq is the record's own; the rest is the Event.
const eventVersion = 1

// Flags of an encoded event's message.
const (
	evHasMessage = 1 << iota
	evNew
	evReadByRecipient
)

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendStr(b []byte, s string) []byte { return append(appendUvarint(b, uint64(len(s))), s...) }

// encodeEvent appends the encoding of ev, without its Seq, to b.
func encodeEvent(b []byte, ev Event) []byte {
	m := ev.Message
	b = append(b, eventVersion, byte(ev.Kind))
	b = appendStr(b, ev.User)
	b = appendStr(b, ev.Other)
	b = appendUvarint(b, ev.ReadUpTo)
	b = binary.AppendVarint(b, int64(ev.Unread))
	b = binary.AppendVarint(b, int64(ev.ConversationUnread))
	var flags byte
	if m.ID != 0 {
		flags |= evHasMessage
	}
	if m.New {
		flags |= evNew
	}
	if m.ReadByRecipient {
		flags |= evReadByRecipient
	}
	b = append(b, flags)
	if m.ID == 0 {
		return b
	}
	b = binary.BigEndian.AppendUint64(b, m.ID)
	b = appendStr(b, m.Sender)
	b = appendStr(b, m.Recipient)
	b = appendStr(b, m.Text)
	n := len(b)
	b = append(b, make([]byte, keys.TimeLen)...)
	keys.PutTime(b[n:], m.Created)
	b = appendUvarint(b, uint64(len(m.Meta)))
	if len(m.Meta) > 0 {
		for _, k := range slices.Sorted(maps.Keys(m.Meta)) {
			b = appendStr(b, k)
			b = appendStr(b, m.Meta[k])
		}
	}
	return b
}

// eventReader reads an encoded event; the first failure sticks.
type eventReader struct {
	b   []byte
	err error
}

func (r *eventReader) fail() {
	if r.err == nil {
		r.err = wrapf(ErrCorrupt, "event does not decode")
	}
}

func (r *eventReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *eventReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if r.err != nil || n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *eventReader) varint() int {
	v, n := binary.Varint(r.b)
	if r.err != nil || n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *eventReader) take(n uint64) []byte {
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *eventReader) str() string { return string(r.take(r.uvarint())) }

// decodeEvent decodes an event of user's stream.
func decodeEvent(rec EventRecord) (Event, error) {
	r := eventReader{b: rec.Data}
	if r.byte() != eventVersion {
		r.fail()
	}
	ev := Event{Seq: rec.Seq, Kind: EventKind(r.byte())}
	ev.User = r.str()
	ev.Other = r.str()
	ev.ReadUpTo = r.uvarint()
	ev.Unread = r.varint()
	ev.ConversationUnread = r.varint()
	flags := r.byte()
	if flags&evHasMessage != 0 {
		m := &ev.Message
		if p := r.take(8); p != nil {
			m.ID = binary.BigEndian.Uint64(p)
		}
		m.Sender = r.str()
		m.Recipient = r.str()
		m.Text = r.str()
		if p := r.take(keys.TimeLen); p != nil {
			t, err := keys.GetTime(p)
			if err != nil {
				r.fail()
			}
			m.Created = t
		}
		m.New = flags&evNew != 0
		m.ReadByRecipient = flags&evReadByRecipient != 0
		if n := r.uvarint(); n > 0 && n <= uint64(len(r.b)) {
			m.Meta = make(map[string]string, n)
			for range n {
				k := r.str()
				m.Meta[k] = r.str()
			}
		} else if n > 0 {
			r.fail()
		}
	}
	if len(r.b) != 0 {
		r.fail()
	}
	if r.err != nil {
		return Event{}, wrapf(r.err, "event %d of %q", rec.Seq, rec.User)
	}
	return ev, nil
}
