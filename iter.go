package messaging

import (
	"context"
	"iter"
)

// Iterators read a page in one short read transaction, close it, and only
// then yield the page, so the loop body may call anything, writes included.
// Pages start at iterFirstPage, so that breaking early costs little, and
// double up to MaxPageSize, so that a full walk takes few transactions.
const iterFirstPage = 32

// fetchFunc reads the page after the previous one (it keeps its own cursor)
// and reports whether there may be more.
type fetchFunc[T any] func(tx ReadTx, limit int) (page []T, more bool, err error)

// paginate yields what successive fetches return. start is called once per
// range, so each range begins afresh. On error it yields (zero, err) once
// and stops; a cancelled ctx is such an error.
func paginate[T any](ctx context.Context, s Store, start func() fetchFunc[T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		fetch := start()
		limit := iterFirstPage
		for {
			var (
				page []T
				more bool
			)
			err := s.View(ctx, func(tx ReadTx) (err error) {
				page, more, err = fetch(tx, limit)
				return err
			})
			if err != nil {
				yield(zero, wrapf(err, "iterate"))
				return
			}
			for _, item := range page {
				if err := ctx.Err(); err != nil {
					yield(zero, wrapf(err, "iterate"))
					return
				}
				if !yield(item, nil) {
					return
				}
			}
			if !more {
				return
			}
			limit = min(2*limit, MaxPageSize)
		}
	}
}
