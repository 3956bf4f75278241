package httpapi

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/socialkit/messaging"
)

// Every sentinel of the library has its own code and status, also when it
// comes wrapped, and a 5xx answer shows the sentinel's text only.
func TestAnswerEverySentinel(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{messaging.ErrInvalidUser, 400, "invalid_user"},
		{messaging.ErrSelfMessage, 400, "self_message"},
		{messaging.ErrEmptyMessage, 400, "empty_message"},
		{messaging.ErrMessageTooLong, 400, "message_too_long"},
		{messaging.ErrInvalidText, 400, "invalid_text"},
		{messaging.ErrInvalidTime, 400, "invalid_time"},
		{messaging.ErrInvalidMeta, 400, "invalid_meta"},
		{messaging.ErrInvalidKey, 400, "invalid_key"},
		{messaging.ErrBadCursor, 400, "bad_cursor"},
		{messaging.ErrBlocked, 403, "blocked"},
		{messaging.ErrNotSender, 403, "not_sender"},
		{messaging.ErrNotFound, 404, "not_found"},
		{messaging.ErrIdempotencyConflict, 409, "idempotency_conflict"},
		{messaging.ErrResumeTooOld, 410, "resume_too_old"},
		{messaging.ErrOverflow, 410, "overflow"},
		{messaging.ErrClosed, 503, "closed"},
		{messaging.ErrCorrupt, 500, "corrupt"},
		{messaging.ErrLocked, 500, "locked"},
		{messaging.ErrNotStore, 500, "not_store"},
		{messaging.ErrVersion, 500, "version"},
		{context.Canceled, 503, "canceled"},
		{context.DeadlineExceeded, 503, "timeout"},
		{errors.New("disk on fire at /var/secret"), 500, "internal"},
	}
	codes := map[string]bool{}
	for _, c := range cases {
		wrapped := fmt.Errorf("messaging: get inbox %q at /var/secret/db: %w", "dave", c.err)
		status, body, logged := answer(wrapped)
		assert.Equal(t, c.status, status, c.code)
		assert.Equal(t, c.code, body.Code)
		assert.Equal(t, c.status >= 500 && c.err != context.Canceled, logged, "%s: the log has what the client is not shown", c.code)
		if c.status >= 500 {
			assert.NotContains(t, body.Error, "secret", c.code)
			assert.Regexp(t, `^messaging: [a-z]`, body.Error)
		} else {
			assert.Equal(t, wrapped.Error(), body.Error, "a 4xx answer says what was wrong")
		}
		assert.False(t, codes[c.code], "code %s given twice", c.code)
		codes[c.code] = true
	}
	assert.Len(t, sentinels, len(cases)-1, "every mapped sentinel is in this test")
}

// The library's InputError fields are renamed for HTTP: the asking user
// is "user", the other one "other".
func TestAnswerFields(t *testing.T) {
	cases := map[string]string{
		"sender": "user", "user": "user", "owner": "user",
		"recipient": "other", "other": "other",
		"text": "text", "meta": "meta", "idempotency_key": "idempotency_key",
	}
	for field, want := range cases {
		_, body, _ := answer(fmt.Errorf("messaging: send: %w", &messaging.InputError{Field: field, Err: messaging.ErrInvalidUser}))
		assert.Equal(t, want, body.Field, field)
	}
	_, body, _ := answer(inField("before", fmt.Errorf("messaging: page: %w", messaging.ErrBadCursor)))
	assert.Equal(t, "before", body.Field)
	assert.NoError(t, inField("before", nil))
	assert.Equal(t, messaging.ErrNotFound, inField("before", messaging.ErrNotFound), "only cursors are attributed")
}
