package messaging

// This file holds the layout of a BoltStore file: its doc, the bucket and
// key names, the format version, and reading and creating the root
// buckets.

import (
	"bytes"
	"encoding/binary"

	"go.etcd.io/bbolt"
)

// boltFormatVersion is the file format this code writes and the newest it
// reads. Bump it whenever the layout below changes incompatibly.
//
// # Layout
//
// Every user id is used as raw bytes, as a bucket name or as the
// fixed-offset tail of a key, so no id is ever escaped and no two ids can
// collide.
//
//	"messaging.meta"                   bucket
//	    "marker"   -> "github.com/socialkit/messaging"   (what makes a file ours)
//	    "version"  -> uint64 big-endian                   (file format, boltFormatVersion)
//	    sequence   = the last message ID handed out        (Bucket.NextSequence)
//	"messaging.users"                  bucket
//	    <owner>                        bucket, one per inbox
//	        "i" -> inbox record
//	        "c"                        bucket of conversations
//	            <other>                bucket, one per conversation
//	                "r" -> conversation record
//	                "m"                bucket of messages
//	                    time(Created) ‖ uint64(ID) -> message record
//	                "d"                bucket: the ID index of "m"
//	                    uint64(ID) -> the message's key in "m"
//	                "t"                bucket of tombstones, created by the first DeleteMessage
//	                    uint64(ID) -> (empty)
//	        "x"                        bucket: the LastUpdate order of "c"
//	            ^time(LastUpdate) ‖ <other> -> (empty)
//	"messaging.blocks"                 bucket (format 2)
//	    <user> ‖ 0x00 ‖ <other> -> (empty)                 (user blocks other)
//	"messaging.idempotency"            bucket (format 2)
//	    <sender> ‖ 0x00 ‖ <key> -> idempotency record
//	"messaging.idempotency.expiry"     bucket (format 2): the Expires order of the above
//	    time(Expires) ‖ <sender> ‖ 0x00 ‖ <key> -> (empty)
//	"messaging.streams"                bucket (format 2)
//	    <user>                         bucket, one per stream that holds events
//	        uint64(Seq) -> event data
//
// User ids hold no control character, so 0x00 ends the user part of a key
// and byte order is (user, other) and (sender, key) order; an idempotency
// key may hold any byte, since it comes last. A tombstone's value is empty,
// or 0x01 for a retracted message. Blocks, idempotency records and streams
// are apart from the inboxes, which they outlive.
//
// "t" holds the IDs DeleteMessage removed from the conversation (ReadTx.Deleted).
// It goes with the conversation bucket, so DeleteConversation and DeleteInbox
// forget the tombstones. PutMessage does not clear one: a deleted ID put back
// is both in "m" and in "t" (package messaging never does that; Check reports
// it).
//
// time(t) is 12 bytes: the seconds since 0001-01-01 UTC (the range package
// time itself uses, so every time.Time fits) as a big-endian int64 with the
// sign bit flipped, then the nanoseconds as a big-endian uint32. Byte order is
// time order for every time.Time, and decoding gives back the same instant,
// to the nanosecond, in UTC. ^time(t) is its bitwise NOT: byte order is
// newest first. Integers in keys are big-endian, so a cursor walks "m" in
// (Created, ID) order both ways and "x" in LastUpdate descending, then
// <other> ascending, order; every list read is a Seek and a walk of one
// page. Package internal/keys holds these encodings, and fuzzes them.
//
// Records are a version byte (2; 1 before messages had flags and
// metadata, still read) followed by fixed-width big-endian integers,
// 12-byte times and uvarint-length-prefixed strings (see encodeInbox,
// encodeConversation, appendMessage). Owner and Other are not stored in
// records: they are the bucket names the record lives under.
//
// BoltStore.Check walks all of this and reports what does not fit.
//
// Format 1 had no blocks, idempotency records or streams; opening a format
// 1 file for writing adds their buckets and records format 2, and format 1
// files open read-only as they are (the missing buckets read as empty).
const boltFormatVersion uint64 = 2

// The names of the buckets and keys of the layout documented on
// boltFormatVersion.
var (
	bucketMeta  = []byte("messaging.meta")
	bucketUsers = []byte("messaging.users")

	keyMarker  = []byte("marker")
	keyVersion = []byte("version")
	markerData = []byte("github.com/socialkit/messaging")

	keyInbox    = []byte("i") // in an owner bucket
	keyConvs    = []byte("c") // in an owner bucket
	keyIndex    = []byte("x") // in an owner bucket
	keyRecord   = []byte("r") // in a conversation bucket
	keyMessages = []byte("m") // in a conversation bucket
	keyIDs      = []byte("d") // in a conversation bucket
	keyTombs    = []byte("t") // in a conversation bucket, created on first use

	bucketBlocks      = []byte("messaging.blocks")
	bucketIdempotency = []byte("messaging.idempotency")
	bucketIdemExpiry  = []byte("messaging.idempotency.expiry")
	bucketStreams     = []byte("messaging.streams")

	// rootBuckets are created by initLayout; those after bucketUsers came
	// with format 2 (upgradeLayout).
	rootBuckets = [][]byte{bucketUsers, bucketBlocks, bucketIdempotency, bucketIdemExpiry, bucketStreams}

	tombRetracted = []byte{1} // the value of a retracted message's tombstone

	emptyValue = []byte{}
)

// readLayout reports whether tx sees an empty database (no root bucket at
// all), or else whether it holds a store this code can read, and its
// format.
func readLayout(tx *bbolt.Tx) (empty bool, version uint64, err error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if k, _ := tx.Cursor().First(); k == nil {
			return true, 0, nil
		}
		return false, 0, wrapf(ErrNotStore, "bbolt file without the %q bucket", bucketMeta)
	}
	if !bytes.Equal(meta.Get(keyMarker), markerData) {
		return false, 0, wrapf(ErrNotStore, "%q bucket without our marker", bucketMeta)
	}
	v := meta.Get(keyVersion)
	if len(v) != 8 {
		return false, 0, wrapf(ErrNotStore, "malformed format version")
	}
	switch version = binary.BigEndian.Uint64(v); {
	case version > boltFormatVersion:
		return false, 0, wrapf(ErrVersion, "file format %d, this version reads up to %d", version, boltFormatVersion)
	case version == 0:
		return false, 0, wrapf(ErrNotStore, "format version 0")
	}
	if tx.Bucket(bucketUsers) == nil {
		return false, 0, wrapf(ErrNotStore, "the %q bucket is missing", bucketUsers)
	}
	return false, version, nil
}

// upgradeLayout brings a format 1 file to format 2: the buckets it lacks,
// then the version.
func upgradeLayout(tx *bbolt.Tx) error {
	for _, name := range rootBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return wrapf(err, "bolt: upgrade to format %d", boltFormatVersion)
		}
	}
	if err := tx.Bucket(bucketMeta).Put(keyVersion, binary.BigEndian.AppendUint64(nil, boltFormatVersion)); err != nil {
		return wrapf(err, "bolt: upgrade to format %d", boltFormatVersion)
	}
	return nil
}

// initLayout creates the root buckets of an empty database.
func initLayout(tx *bbolt.Tx) error {
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return wrapf(err, "bolt: init")
	}
	if err := meta.Put(keyMarker, markerData); err != nil {
		return wrapf(err, "bolt: init")
	}
	if err := meta.Put(keyVersion, binary.BigEndian.AppendUint64(nil, boltFormatVersion)); err != nil {
		return wrapf(err, "bolt: init")
	}
	for _, name := range rootBuckets {
		if _, err := tx.CreateBucket(name); err != nil {
			return wrapf(err, "bolt: init")
		}
	}
	return nil
}
