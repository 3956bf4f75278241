package pgstore

// Errors that pgstore makes say "pgstore: " once, at the front: the package
// messaging wraps them as "messaging: send message ...: pgstore: ...".
// Sentinels of package messaging (ErrNotFound, ErrVersion, ...) are kept in
// the chain for errors.Is, with their own "messaging: " dropped from the
// text. Errors that the function passed to View or Update returns are
// returned unchanged.

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

const prefix = "pgstore: "

type wrappedError struct {
	context string
	err     error
}

func (e *wrappedError) Error() string { return prefix + e.context + ": " + bare(e.err) }
func (e *wrappedError) Unwrap() error { return e.err }

// wrapf adds context to err; nil stays nil.
func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &wrappedError{context: fmt.Sprintf(format, args...), err: err}
}

// bare is err's text without a leading "messaging: " or "pgstore: ".
func bare(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "messaging: ")
	return strings.TrimPrefix(s, prefix)
}

// doneError is a failure caused by a context that ended: errors.Is finds
// both the context's error and the database's.
type doneError struct {
	err, ctxErr error
}

func (e *doneError) Error() string {
	if errors.Is(e.err, e.ctxErr) {
		return e.err.Error()
	}
	return e.ctxErr.Error() + ": " + e.err.Error()
}

func (e *doneError) Unwrap() []error { return []error{e.ctxErr, e.err} }

// withContext makes err match ctx.Err() if ctx is done, since a failure
// while ctx ends is most likely caused by it (pgx closes the connection).
func withContext(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil || errors.Is(err, ctx.Err()) {
		return err
	}
	return &doneError{err: err, ctxErr: ctx.Err()}
}
