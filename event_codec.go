package messaging

import "encoding/binary"

// The encoding of an event in a user's stream (EventRecord.Data): a version
// byte, the kind, then the pieces of codec.go (strings, varints, times,
// metadata). Seq is the record's own; the rest is the Event.
const eventVersion = 1

// Flags of an encoded event's message.
const (
	evHasMessage = 1 << iota
	evNew
	evReadByRecipient
)

// encodeEvent appends the encoding of ev, without its Seq, to b.
func encodeEvent(b []byte, ev *Event) []byte {
	m := &ev.Message
	b = append(b, eventVersion, byte(ev.Kind))
	b = appendString(b, ev.User)
	b = appendString(b, ev.Other)
	b = binary.AppendUvarint(b, ev.ReadUpTo)
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
	b = appendString(b, m.Sender)
	b = appendString(b, m.Recipient)
	b = appendString(b, m.Text)
	b = appendTime(b, m.Created)
	return appendMeta(b, m.Meta)
}

// decodeEvent decodes an event of user's stream.
func decodeEvent(rec EventRecord) (Event, error) {
	d := decoder{b: rec.Data}
	if v := d.byte(); v != eventVersion && d.err == nil {
		d.err = corrupt("event version %d", v)
	}
	ev := Event{Seq: rec.Seq, Kind: EventKind(d.byte())}
	ev.User = d.string()
	ev.Other = d.string()
	ev.ReadUpTo = d.uvarint()
	ev.Unread = d.varint()
	ev.ConversationUnread = d.varint()
	flags := d.byte()
	if flags&evHasMessage != 0 {
		m := &ev.Message
		m.ID = d.uint64()
		m.Sender = d.string()
		m.Recipient = d.string()
		m.Text = d.string()
		m.Created = d.time()
		m.New = flags&evNew != 0
		m.ReadByRecipient = flags&evReadByRecipient != 0
		m.Meta = d.meta()
	}
	if err := d.finish("event %d of %q", rec.Seq, rec.User); err != nil {
		return Event{}, err
	}
	return ev, nil
}
