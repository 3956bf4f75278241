package pgstore

// How records map to columns. Every choice here keeps an order the Store
// contract fixes, with plain SQL types that other PostgreSQL-compatible
// engines have too:
//
//   - User ids and texts are bytea: compared byte for byte (memcmp, then
//     length), the order of Go strings, whatever the database's collation;
//     NUL bytes and any UTF-8 round-trip.
//   - Message IDs (uint64) are bigint with the sign bit flipped, so that
//     bigint order is unsigned order and every uint64 fits.
//   - Times are two integers, Unix seconds (bigint) and nanoseconds
//     (integer): every instant of the years 1 to 9999 to the nanosecond,
//     which timestamptz (microseconds) cannot hold.
//   - A conversation's place in its inbox (LastUpdate descending, then
//     Other ascending) is the negated LastUpdate, so one ascending index
//     serves the order and a row comparison serves "after this position".
//   - Event Seqs are uint64 too, stored like message IDs.
//   - Message metadata is NULL when there is none, else bytea: the keys in
//     byte order, each key and each value as a uvarint length and its
//     bytes, so that equal maps encode alike and any UTF-8, NUL included,
//     round-trips.

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/socialkit/messaging"
)

const signBit = 1 << 63

// encodeID maps a uint64 to the bigint that sorts where it does.
func encodeID(id uint64) int64 { return int64(id ^ signBit) }

// decodeID reverses encodeID.
func decodeID(v int64) uint64 { return uint64(v) ^ signBit }

// encodeTime splits t into Unix seconds and nanoseconds.
func encodeTime(t time.Time) (sec int64, nsec int32) { return t.Unix(), int32(t.Nanosecond()) }

// decodeTime reverses encodeTime, in UTC. The zero time.Time comes back as
// the zero time.Time.
func decodeTime(sec int64, nsec int32) time.Time { return time.Unix(sec, int64(nsec)).UTC() }

// convKey is a conversation's key: (owner, other).
type convKey struct{ owner, other string }

// msgKey is a message's key in one conversation.
type msgKey struct {
	conv convKey
	id   uint64
}

func cmpConvKey(a, b convKey) int {
	switch {
	case a.owner < b.owner:
		return -1
	case a.owner > b.owner:
		return 1
	case a.other < b.other:
		return -1
	case a.other > b.other:
		return 1
	}
	return 0
}

func cmpMsgKey(a, b msgKey) int {
	if c := cmpConvKey(a.conv, b.conv); c != 0 {
		return c
	}
	switch {
	case a.id < b.id:
		return -1
	case a.id > b.id:
		return 1
	}
	return 0
}

// encodeMeta encodes a message's metadata; nil (SQL NULL) when it has none.
func encodeMeta(meta map[string]string) []byte {
	if len(meta) == 0 {
		return nil
	}
	n := 0
	for k, v := range meta {
		n += len(k) + len(v) + 2*binary.MaxVarintLen32
	}
	b := make([]byte, 0, n)
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		v := meta[k]
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

var errBadMeta = errors.New(prefix + "metadata column does not decode")

// decodeMeta reverses encodeMeta: nil for NULL or empty.
func decodeMeta(b []byte) (map[string]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	meta := make(map[string]string)
	for len(b) > 0 {
		var kv [2]string
		for i := range kv {
			n, w := binary.Uvarint(b)
			if w <= 0 || n > uint64(len(b)-w) {
				return nil, errBadMeta
			}
			kv[i] = string(b[w : w+int(n)])
			b = b[w+int(n):]
		}
		if _, dup := meta[kv[0]]; dup {
			return nil, errBadMeta
		}
		meta[kv[0]] = kv[1]
	}
	return meta, nil
}

// convArgs are the column values of a conversation record, in the order of
// convColumns (owner and other first).
func convArgs(c messaging.ConversationRecord) []any {
	luSec, luNsec := encodeTime(c.LastUpdate)
	lastSec, lastNsec := encodeTime(c.Last.Created)
	return []any{
		[]byte(c.Owner), []byte(c.Other),
		int64(c.Messages), int64(c.Unread),
		-luSec, -luNsec,
		encodeID(c.FirstID), encodeID(c.MaxID), encodeID(c.ReadMark), encodeID(c.PeerReadMark),
		encodeID(c.Last.ID), []byte(c.Last.Sender), []byte(c.Last.Recipient), []byte(c.Last.Text),
		lastSec, lastNsec, encodeMeta(c.Last.Meta), c.Last.DeletedUnread,
	}
}

// convRow receives a row of convColumns.
type convRow struct {
	owner, other                      []byte
	messages, unread                  int64
	luNegSec                          int64
	luNegNsec                         int32
	firstID, maxID, readMark, peerRM  int64
	lastID                            int64
	lastSender, lastRecipient, lastTx []byte
	lastSec                           int64
	lastNsec                          int32
	lastMeta                          []byte
	lastDeletedUnread                 bool
}

func (r *convRow) dest() []any {
	return []any{&r.owner, &r.other, &r.messages, &r.unread, &r.luNegSec, &r.luNegNsec,
		&r.firstID, &r.maxID, &r.readMark, &r.peerRM,
		&r.lastID, &r.lastSender, &r.lastRecipient, &r.lastTx, &r.lastSec, &r.lastNsec, &r.lastMeta, &r.lastDeletedUnread}
}

func (r *convRow) record() (messaging.ConversationRecord, error) {
	meta, err := decodeMeta(r.lastMeta)
	return messaging.ConversationRecord{
		Owner:        string(r.owner),
		Other:        string(r.other),
		Messages:     int(r.messages),
		Unread:       int(r.unread),
		LastUpdate:   decodeTime(-r.luNegSec, -r.luNegNsec),
		FirstID:      decodeID(r.firstID),
		MaxID:        decodeID(r.maxID),
		ReadMark:     decodeID(r.readMark),
		PeerReadMark: decodeID(r.peerRM),
		Last: messaging.MessageRecord{
			ID:        decodeID(r.lastID),
			Sender:    string(r.lastSender),
			Recipient: string(r.lastRecipient),
			Text:      string(r.lastTx),
			Created:   decodeTime(r.lastSec, r.lastNsec),
			Meta:      meta,

			DeletedUnread: r.lastDeletedUnread,
		},
	}, err
}

// msgArgs are the column values of a message in conversation k, in the
// order of msgColumns.
func msgArgs(k convKey, m messaging.MessageRecord) []any {
	sec, nsec := encodeTime(m.Created)
	return []any{[]byte(k.owner), []byte(k.other), encodeID(m.ID), sec, nsec,
		[]byte(m.Sender), []byte(m.Recipient), []byte(m.Text), encodeMeta(m.Meta), m.DeletedUnread}
}

// msgRow receives a row of msgReadColumns.
type msgRow struct {
	id                      int64
	sec                     int64
	nsec                    int32
	sender, recipient, text []byte
	meta                    []byte
	deletedUnread           bool
}

func (r *msgRow) dest() []any {
	return []any{&r.id, &r.sec, &r.nsec, &r.sender, &r.recipient, &r.text, &r.meta, &r.deletedUnread}
}

func (r *msgRow) record() (messaging.MessageRecord, error) {
	meta, err := decodeMeta(r.meta)
	return messaging.MessageRecord{
		ID:            decodeID(r.id),
		Sender:        string(r.sender),
		Recipient:     string(r.recipient),
		Text:          string(r.text),
		Created:       decodeTime(r.sec, r.nsec),
		Meta:          meta,
		DeletedUnread: r.deletedUnread,
	}, err
}

// idemArgs are the column values of an idempotency record, in the order of
// idemColumns.
func idemArgs(rec messaging.IdempotencyRecord) []any {
	cSec, cNsec := encodeTime(rec.Created)
	eSec, eNsec := encodeTime(rec.Expires)
	return []any{[]byte(rec.Sender), []byte(rec.Key), encodeID(rec.MessageID), cSec, cNsec, rec.Digest[:], eSec, eNsec}
}

// idemRow receives a row of idemColumns.
type idemRow struct {
	sender, key, digest []byte
	id, cSec, eSec      int64
	cNsec, eNsec        int32
}

func (r *idemRow) dest() []any {
	return []any{&r.sender, &r.key, &r.id, &r.cSec, &r.cNsec, &r.digest, &r.eSec, &r.eNsec}
}

func (r *idemRow) record() (messaging.IdempotencyRecord, error) {
	rec := messaging.IdempotencyRecord{Sender: string(r.sender), Key: string(r.key), MessageID: decodeID(r.id),
		Created: decodeTime(r.cSec, r.cNsec), Expires: decodeTime(r.eSec, r.eNsec)}
	if copy(rec.Digest[:], r.digest) != len(rec.Digest) || len(r.digest) != len(rec.Digest) {
		return rec, errors.New(prefix + "idempotency digest is not 32 bytes")
	}
	return rec, nil
}

// userRow is a row of the inboxes table: a user's inbox, if it has one,
// and the bounds of the user's event stream (0, 0 when it is empty).
type userRow struct {
	inbox           bool
	unread          int
	evFirst, evLast uint64
	evCount         int64  // events from evFirst to evLast
	evPhys          uint64 // no event below it is left in the table
}

// rawRow decodes a row's values in PostgreSQL's binary format, in order,
// without pgx's generic Scan: the pair read, on every send's path, returns
// a few rows of many columns. The []byte values alias the row's buffer,
// valid until the next row.
type rawRow struct {
	vals [][]byte
	i    int
	err  error
}

var errRawRow = errors.New(prefix + "unexpected binary value in a row")

func (r *rawRow) next(size int) []byte {
	if r.i >= len(r.vals) {
		r.err = errRawRow
		return nil
	}
	v := r.vals[r.i]
	r.i++
	if size >= 0 && len(v) != size {
		r.err = errRawRow
		return nil
	}
	return v
}

func (r *rawRow) int64() int64 {
	if v := r.next(8); v != nil {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

func (r *rawRow) int32() int32 {
	if v := r.next(4); v != nil {
		return int32(binary.BigEndian.Uint32(v))
	}
	return 0
}

func (r *rawRow) bool() bool {
	v := r.next(1)
	return v != nil && v[0] != 0
}

func (r *rawRow) bytes() []byte { return r.next(-1) }

// null reports whether the next n values are all NULL (a row a LEFT JOIN
// did not find), and skips them if so.
func (r *rawRow) null(n int) bool {
	if r.i+n > len(r.vals) {
		r.err = errRawRow
		return true
	}
	for _, v := range r.vals[r.i : r.i+n] {
		if v != nil {
			return false
		}
	}
	r.i += n
	return true
}

// end checks that every value was decoded.
func (r *rawRow) end() error {
	if r.err == nil && r.i != len(r.vals) {
		r.err = errRawRow
	}
	return r.err
}

// rawValues returns a row's values in the binary format: as sent, or
// re-encoded from what pgx decoded if the row came as text (a pool that
// uses the simple protocol), for the few types rawRow reads.
func rawValues(r pgx.Rows) ([][]byte, error) {
	if binaryRows(r) {
		return r.RawValues(), nil
	}
	vals, err := r.Values()
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
		case bool:
			out[i] = []byte{0}
			if v {
				out[i][0] = 1
			}
		case int64:
			out[i] = binary.BigEndian.AppendUint64(nil, uint64(v))
		case int32:
			out[i] = binary.BigEndian.AppendUint32(nil, uint32(v))
		case int16:
			out[i] = binary.BigEndian.AppendUint16(nil, uint16(v))
		case []byte:
			out[i] = v
			if v == nil {
				out[i] = []byte{}
			}
		default:
			return nil, errRawRow
		}
	}
	return out, nil
}

// binaryRows reports whether every column of r comes in the binary format.
func binaryRows(r pgx.Rows) bool {
	for _, fd := range r.FieldDescriptions() {
		if fd.Format != pgx.BinaryFormatCode {
			return false
		}
	}
	return true
}

// decodeRaw fills c from the binary values of the columns of a
// conversation (convColumns).
func (c *convRow) decodeRaw(r *rawRow) error {
	c.owner, c.other = r.bytes(), r.bytes()
	c.messages, c.unread, c.luNegSec, c.luNegNsec = r.int64(), r.int64(), r.int64(), r.int32()
	c.firstID, c.maxID, c.readMark, c.peerRM = r.int64(), r.int64(), r.int64(), r.int64()
	c.lastID, c.lastSender, c.lastRecipient, c.lastTx = r.int64(), r.bytes(), r.bytes(), r.bytes()
	c.lastSec, c.lastNsec, c.lastMeta, c.lastDeletedUnread = r.int64(), r.int32(), r.bytes(), r.bool()
	return r.err
}

// decodeRaw fills u from the binary values of the columns of a user row
// after its owner (userColumns).
func (u *userRow) decodeRaw(r *rawRow) error {
	u.inbox, u.unread = r.bool(), int(r.int64())
	u.evFirst, u.evLast, u.evCount, u.evPhys = decodeID(r.int64()), decodeID(r.int64()), r.int64(), decodeID(r.int64())
	return r.err
}
