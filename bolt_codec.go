package messaging

// This file holds the encoding of the records of a BoltStore, and the
// adapters from the key encodings of internal/keys to the record types.
// The pieces it shares with the event encoding are in codec.go.

import (
	"encoding/binary"

	"github.com/socialkit/messaging/internal/keys"
)

// The encodings themselves live in internal/keys; these adapt them to the
// record types and turn what does not decode into a corrupt-store error.

// encodeMessageKey returns the key of a message in its "m" bucket: byte
// order is MessageKey order.
func encodeMessageKey(k MessageKey) []byte { return keys.Message(k.Created, k.ID) }

func decodeMessageKey(b []byte) (MessageKey, error) {
	created, id, err := keys.ParseMessage(b)
	if err != nil {
		return MessageKey{}, corrupt("%v", err)
	}
	return MessageKey{Created: created, ID: id}, nil
}

// encodeConversationKey returns the key of a conversation in its owner's
// "x" bucket: byte order is ConversationKey order.
func encodeConversationKey(k ConversationKey) []byte { return keys.Conversation(k.LastUpdate, k.Other) }

func decodeConversationKey(b []byte) (ConversationKey, error) {
	lastUpdate, other, err := keys.ParseConversation(b)
	if err != nil {
		return ConversationKey{}, corrupt("%v", err)
	}
	return ConversationKey{LastUpdate: lastUpdate, Other: other}, nil
}

// recordVersion is the version byte records are written with. Version 2
// added the message flags after the text; version 1 records still decode.
const recordVersion = 2

// Message flags, a byte after the text in version 2 records.
const flagDeletedUnread = 1 << 0

func encodeInbox(rec InboxRecord) []byte {
	return appendInt([]byte{recordVersion}, rec.Unread)
}

func encodeConversation(rec ConversationRecord) []byte {
	b := make([]byte, 0, 112+len(rec.Last.Sender)+len(rec.Last.Recipient)+len(rec.Last.Text))
	b = append(b, recordVersion)
	b = appendInt(b, rec.Messages)
	b = appendInt(b, rec.Unread)
	b = appendTime(b, rec.LastUpdate)
	b = binary.BigEndian.AppendUint64(b, rec.FirstID)
	b = binary.BigEndian.AppendUint64(b, rec.MaxID)
	b = binary.BigEndian.AppendUint64(b, rec.ReadMark)
	b = binary.BigEndian.AppendUint64(b, rec.PeerReadMark)
	return appendMessageBody(b, rec.Last)
}

// appendMessage appends the message record encoding of m to b.
func appendMessage(b []byte, m MessageRecord) []byte {
	return appendMessageBody(append(b, recordVersion), m)
}

func appendMessageBody(b []byte, m MessageRecord) []byte {
	b = binary.BigEndian.AppendUint64(b, m.ID)
	b = appendTime(b, m.Created)
	b = appendString(b, m.Sender)
	b = appendString(b, m.Recipient)
	b = appendString(b, m.Text)
	var flags byte
	if m.DeletedUnread {
		flags |= flagDeletedUnread
	}
	b = append(b, flags)
	return appendMeta(b, m.Meta)
}

func (d *decoder) version() {
	if p := d.take(1); p != nil {
		if d.v = p[0]; d.v < 1 || d.v > recordVersion {
			d.err = corrupt("record version %d", p[0])
		}
	}
}

func (d *decoder) messageBody() MessageRecord {
	var m MessageRecord
	m.ID = d.uint64()
	m.Created = d.time()
	m.Sender = d.string()
	m.Recipient = d.string()
	m.Text = d.string()
	if d.v >= 2 {
		if p := d.take(1); p != nil {
			if p[0]&^flagDeletedUnread != 0 {
				d.err = corrupt("unknown message flags %#x", p[0])
			}
			m.DeletedUnread = p[0]&flagDeletedUnread != 0
		}
		m.Meta = d.meta()
	}
	return m
}

func decodeInbox(owner string, b []byte) (InboxRecord, error) {
	if b == nil {
		return InboxRecord{}, wrapf(corrupt("record missing"), "bolt: inbox %q", owner)
	}
	d := decoder{b: b}
	d.version()
	rec := InboxRecord{Owner: owner, Unread: d.int()}
	if err := d.finish("bolt: inbox %q", owner); err != nil {
		return InboxRecord{}, err
	}
	return rec, nil
}

func decodeConversation(owner, other string, b []byte) (ConversationRecord, error) {
	if b == nil {
		return ConversationRecord{}, wrapf(corrupt("record missing"), "bolt: conversation %q/%q", owner, other)
	}
	d := decoder{b: b}
	d.version()
	rec := ConversationRecord{Owner: owner, Other: other}
	rec.Messages = d.int()
	rec.Unread = d.int()
	rec.LastUpdate = d.time()
	rec.FirstID = d.uint64()
	rec.MaxID = d.uint64()
	rec.ReadMark = d.uint64()
	rec.PeerReadMark = d.uint64()
	rec.Last = d.messageBody()
	if err := d.finish("bolt: conversation %q/%q", owner, other); err != nil {
		return ConversationRecord{}, err
	}
	return rec, nil
}

func decodeMessage(b []byte) (MessageRecord, error) {
	d := decoder{b: b}
	d.version()
	m := d.messageBody()
	if err := d.finish("bolt: message"); err != nil {
		return MessageRecord{}, err
	}
	return m, nil
}

// An idempotency record is the version byte, the message ID, Created, the
// 32-byte digest and Expires. Sender and Key are its key.
func encodeIdempotency(rec IdempotencyRecord) []byte {
	b := make([]byte, 0, 1+8+2*timeLen+len(rec.Digest))
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, rec.MessageID)
	b = appendTime(b, rec.Created)
	b = append(b, rec.Digest[:]...)
	return appendTime(b, rec.Expires)
}

func decodeIdempotency(sender, key string, b []byte) (IdempotencyRecord, error) {
	d := decoder{b: b}
	d.version()
	rec := IdempotencyRecord{Sender: sender, Key: key}
	rec.MessageID = d.uint64()
	rec.Created = d.time()
	copy(rec.Digest[:], d.take(len(rec.Digest)))
	rec.Expires = d.time()
	if err := d.finish("bolt: idempotency key %q of %q", key, sender); err != nil {
		return IdempotencyRecord{}, err
	}
	return rec, nil
}
