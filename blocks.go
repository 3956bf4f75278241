package messaging

import (
	"context"
	"iter"
)

// Block makes user block other: while it stands, a message in either
// direction between them fails with ErrBlocked and writes nothing. Their
// existing conversations stay as they are, blocking creates no inbox, and a
// block outlives the deletion of either inbox. Blocking again is no error
// and writes nothing. Blocking oneself is refused with ErrSelfMessage.
func (x *Inboxes) Block(ctx context.Context, user, other string) error {
	if err := validBlock(user, other); err != nil {
		return wrapf(err, "block %q for %q", other, user)
	}
	err := x.store.Update(ctx, func(tx Tx) error {
		blocked, err := tx.Blocked(user, other)
		if err != nil || blocked {
			return err
		}
		return tx.PutBlock(Block{User: user, Other: other})
	})
	return wrapf(err, "block %q for %q", other, user)
}

// Unblock lifts user's block of other; a block by other of user stays.
// Unblocking a user not blocked is no error and writes nothing.
func (x *Inboxes) Unblock(ctx context.Context, user, other string) error {
	if err := validBlock(user, other); err != nil {
		return wrapf(err, "unblock %q for %q", other, user)
	}
	err := x.store.Update(ctx, func(tx Tx) error {
		blocked, err := tx.Blocked(user, other)
		if err != nil || !blocked {
			return err
		}
		return tx.DeleteBlock(Block{User: user, Other: other})
	})
	return wrapf(err, "unblock %q for %q", other, user)
}

// Blocked yields the users that user blocks, in ascending byte order.
func (x *Inboxes) Blocked(ctx context.Context, user string) iter.Seq2[string, error] {
	if err := validUser(user); err != nil {
		return func(yield func(string, error) bool) {
			yield("", wrapf(inputError("user", err), "list blocks of %q", user))
		}
	}
	return paginate(ctx, x.store, func() fetchFunc[string] {
		after := Block{User: user}
		return func(tx ReadTx, limit int) ([]string, bool, error) {
			blocks, err := tx.Blocks(after, limit)
			if err != nil {
				return nil, false, wrapf(err, "list blocks of %q", user)
			}
			var page []string
			for _, b := range blocks {
				if b.User != user {
					return page, false, nil // the next user's blocks
				}
				page = append(page, b.Other)
			}
			if len(blocks) > 0 {
				after = blocks[len(blocks)-1]
			}
			return page, len(blocks) == limit, nil
		}
	})
}

func validBlock(user, other string) error {
	if err := validPair("user", user, "other", other); err != nil {
		return err
	}
	if user == other {
		return inputError("other", ErrSelfMessage)
	}
	return nil
}

// blockedEitherWay reports whether a or b blocks the other.
func blockedEitherWay(tx ReadTx, a, b string) (bool, error) {
	blocked, err := tx.Blocked(a, b)
	if err != nil || blocked {
		return blocked, err
	}
	return tx.Blocked(b, a)
}
