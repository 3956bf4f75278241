package messaging

import (
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"slices"
	"time"
)

// DefaultIdempotencyWindow is how long idempotency keys are kept unless
// Options.IdempotencyWindow says otherwise: long enough for any client's
// retries.
const DefaultIdempotencyWindow = 24 * time.Hour

// idempotencyPurge is how many expired keys a keyed send deletes: more than
// the one it adds, so expired keys never pile up, yet a bounded amount.
const idempotencyPurge = 2

// sendDigest is what a retry with the same key must match: the recipient,
// the text and the metadata of the first send.
func sendDigest(recipient, text string, meta map[string]string) [sha256.Size]byte {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	put := func(s string) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	put(recipient)
	put(text)
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		put(k)
		put(meta[k])
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// replay looks up an earlier send with the same sender and key. It returns
// the record if there is one still in its window, ErrIdempotencyConflict
// if that send was of another message.
func replay(tx ReadTx, sender, key string, digest [sha256.Size]byte, now time.Time) (*IdempotencyRecord, error) {
	rec, err := tx.Idempotency(sender, key)
	switch {
	case err != nil:
		return nil, ignoreNotFound(err)
	case !rec.Expires.After(now):
		return nil, nil // expired: the key is free again
	case rec.Digest != digest:
		return nil, wrapf(ErrIdempotencyConflict, "key %q was used for message %d", key, rec.MessageID)
	}
	return &rec, nil
}

// remember records a keyed send and drops a few expired keys.
func remember(tx Tx, rec IdempotencyRecord, now time.Time) error {
	if err := tx.PutIdempotency(rec); err != nil {
		return err
	}
	_, err := tx.DeleteIdempotencies(now, idempotencyPurge)
	return err
}
