package messaging

// This file holds the byte encoding shared by the records of a BoltStore
// (bolt_codec.go) and the events kept in user streams (event_codec.go):
// big-endian integers, uvarint-length-prefixed strings, 12-byte times
// (internal/keys) and metadata, and the decoder that reads them back.

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/socialkit/messaging/internal/keys"
)

// corrupt returns ErrCorrupt with what format says is wrong: a record or key
// that does not decode, or a bucket missing where the layout has one.
func corrupt(format string, args ...any) error { return wrapf(ErrCorrupt, format, args...) }

// corruptDetail returns what corrupt said is wrong, without the context
// wrapped around it since, for Check's reports.
func corruptDetail(err error) string {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if w, ok := e.(*wrappedError); ok && w.err == ErrCorrupt {
			return w.context
		}
	}
	return trimPrefix(err)
}

const timeLen = keys.TimeLen

// getTime decodes b[:timeLen], in UTC.
func getTime(b []byte) (time.Time, error) {
	t, err := keys.GetTime(b)
	if err != nil {
		return time.Time{}, corrupt("%v", err)
	}
	return t, nil
}

func appendInt(b []byte, v int) []byte { return binary.BigEndian.AppendUint64(b, uint64(int64(v))) }

func appendTime(b []byte, t time.Time) []byte {
	n := len(b)
	b = append(b, make([]byte, timeLen)...)
	keys.PutTime(b[n:], t)
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// appendMeta appends metadata: its count, then its keys and values, in
// sorted key order so that equal maps encode alike.
func appendMeta(b []byte, meta map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(meta)))
	if len(meta) > 0 {
		for _, k := range slices.Sorted(maps.Keys(meta)) {
			b = appendString(b, k)
			b = appendString(b, meta[k])
		}
	}
	return b
}

// decoder reads a record. The first failure sticks; every value read after
// it is zero. It copies what it returns out of the bbolt page.
type decoder struct {
	b   []byte
	err error
	v   byte // the record's version
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = corrupt("record truncated")
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) uint64() uint64 {
	if p := d.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) int() int {
	v := int64(d.uint64())
	if int64(int(v)) != v && d.err == nil {
		d.err = corrupt("count %d out of range", v)
	}
	return int(v)
}

func (d *decoder) time() time.Time {
	p := d.take(timeLen)
	if p == nil {
		return time.Time{}
	}
	t, err := getTime(p)
	if err != nil {
		d.err = err
	}
	return t
}

func (d *decoder) string() string {
	if d.err != nil {
		return ""
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)-k) {
		d.err = corrupt("bad string length")
		return ""
	}
	d.b = d.b[k:]
	return string(d.take(int(n))) // string() copies out of the page
}

// meta reads a metadata map: nil when it has no entries.
func (d *decoder) meta() map[string]string {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) { // each entry takes at least two bytes
		d.err = corrupt("bad metadata count %d", n)
		return nil
	}
	meta := make(map[string]string, n)
	for range n {
		k := d.string()
		meta[k] = d.string()
	}
	if d.err == nil && uint64(len(meta)) != n {
		d.err = corrupt("repeated metadata key")
	}
	return meta
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.err = corrupt("bad varint")
		return 0
	}
	d.b = d.b[k:]
	return n
}

// finish reports the first failure, or trailing bytes, with what names the
// record; what is formatted only then (by wrapf's Error), since decoding
// runs on every read.
func (d *decoder) finish(what string, args ...any) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = corrupt("%d trailing bytes", len(d.b))
	}
	return wrapf(d.err, what, args...)
}

func (d *decoder) byte() byte {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) varint() int {
	if d.err != nil {
		return 0
	}
	n, k := binary.Varint(d.b)
	if k <= 0 {
		d.err = corrupt("bad varint")
		return 0
	}
	d.b = d.b[k:]
	return int(n)
}
