package messaging

// This file holds the blocks of a BoltStore: keys Pair(user, other) in the
// "messaging.blocks" bucket (see the layout on boltFormatVersion).

import (
	"bytes"

	"github.com/socialkit/messaging/internal/keys"
)

// Blocked looks the pair up.
func (t *boltReadTx) Blocked(user, other string) (bool, error) {
	if err := t.usable(); err != nil {
		return false, err
	}
	return t.blocks.get(keys.Pair(user, other)) != nil, nil
}

// Blocks walks the bucket from a Seek past after.
func (t *boltReadTx) Blocks(after Block, limit int) ([]Block, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	if limit <= 0 || !t.blocks.exists() {
		return nil, nil
	}
	c := t.blocks.cursor()
	ak := keys.Pair(after.User, after.Other)
	k, _ := c.Seek(ak)
	if bytes.Equal(k, ak) {
		k, _ = c.Next()
	}
	var out []Block
	for ; k != nil && len(out) < limit; k, _ = c.Next() {
		user, other, err := keys.ParsePair(k)
		if err != nil {
			return nil, corrupt("bolt: block: %s", err)
		}
		out = append(out, Block{User: user, Other: other})
	}
	return out, nil
}

// PutBlock writes the pair's key.
func (t *boltTx) PutBlock(b Block) error {
	w, err := t.write()
	if err != nil {
		return err
	}
	return wrapf(w.put(t.blocks, keys.Pair(b.User, b.Other), emptyValue), "bolt: put block %q/%q", b.User, b.Other)
}

// DeleteBlock deletes the pair's key.
func (t *boltTx) DeleteBlock(b Block) error {
	if err := t.usable(); err != nil {
		return err
	}
	k := keys.Pair(b.User, b.Other)
	if t.blocks.get(k) == nil {
		return ErrNotFound
	}
	w, err := t.write()
	if err != nil {
		return err
	}
	return wrapf(w.delete(t.blocks, k), "bolt: delete block %q/%q", b.User, b.Other)
}
