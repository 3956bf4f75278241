package messaging_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// Bad options and arguments are refused with an error, never a runtime
// panic.
func TestOptionsRefused(t *testing.T) {
	tests := []struct {
		name string
		opts messaging.Options
	}{
		{"negative MaxMessageBytes", messaging.Options{MaxMessageBytes: -1}},
		{"huge MaxMessageBytes", messaging.Options{MaxMessageBytes: 1 << 40}},
		{"negative EventBuffer", messaging.Options{EventBuffer: -1}},
		{"EventBuffer beyond 1<<24", messaging.Options{EventBuffer: messaging.MaxEventBuffer + 1}},
		{"EventBuffer 1<<62", messaging.Options{EventBuffer: 1 << 62}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := messaging.NewWithOptions(messaging.NewMemoryStore(), &tt.opts)
			assert.Error(t, err)
			assert.Nil(t, x)
		})
	}
	t.Run("largest EventBuffer works", func(t *testing.T) {
		x, err := messaging.NewWithOptions(messaging.NewMemoryStore(), &messaging.Options{EventBuffer: messaging.MaxEventBuffer})
		require.NoError(t, err)
		defer x.Close()
		s, err := x.Subscribe("dave")
		require.NoError(t, err)
		defer s.Close()
		send(t, x, "bob", "dave", "hi")
		assert.Equal(t, "hi", next(t, s).Message.Text)
	})
	t.Run("nil store", func(t *testing.T) {
		_, err := messaging.NewWithOptions(nil, nil)
		assert.Error(t, err)
		assert.PanicsWithValue(t, "messaging: New called with a nil Store", func() { messaging.New(nil) })
	})
}

func TestNilSendOptionIgnored(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		m, err := x.SendMessage(ctx, "bob", "dave", "hi", nil, day(1), nil)
		require.NoError(t, err)
		assert.True(t, m.Created.Equal(t0.AddDate(0, 0, 1)))
	})
}

// Times JSON (RFC 3339) and SQL cannot carry are refused; the limits
// themselves are stored and marshal.
func TestCreatedWithinYears1To9999(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		for _, bad := range []time.Time{
			time.Date(0, 12, 31, 23, 59, 59, 999999999, time.UTC),
			time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("behind", -2*3600)), // 10000-01-01 in UTC
		} {
			_, err := x.SendMessage(ctx, "bob", "dave", "when?", messaging.WithCreated(bad))
			assert.ErrorIs(t, err, messaging.ErrInvalidTime, bad)
			var ie *messaging.InputError
			if assert.ErrorAs(t, err, &ie) {
				assert.Equal(t, "created", ie.Field)
			}
		}
		has, err := x.Has(ctx, "bob")
		require.NoError(t, err)
		assert.False(t, has, "nothing written")
		for _, good := range []time.Time{
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		} {
			m := send(t, x, "bob", "dave", "edge", messaging.WithCreated(good))
			_, err := json.Marshal(m)
			assert.NoError(t, err)
		}
		for _, c := range collect(t, conv(t, x, "dave", "bob").Messages(ctx)) {
			_, err := json.Marshal(c)
			assert.NoError(t, err)
		}
	})
}

// Validation errors name the argument, for a handler to report.
func TestInputErrorNamesTheField(t *testing.T) {
	x, err := messaging.NewWithOptions(messaging.NewMemoryStore(), &messaging.Options{MaxMessageBytes: 10})
	require.NoError(t, err)
	defer x.Close()
	send(t, x, "bob", "dave", "hi")
	tests := []struct {
		name  string
		call  func() error
		field string
		want  error
	}{
		{"sender", func() error { _, err := x.SendMessage(ctx, "", "dave", "hi"); return err }, "sender", messaging.ErrInvalidUser},
		{"recipient", func() error { _, err := x.SendMessage(ctx, "bob", "da\nve", "hi"); return err }, "recipient", messaging.ErrInvalidUser},
		{"self", func() error { _, err := x.SendMessage(ctx, "bob", "bob", "hi"); return err }, "recipient", messaging.ErrSelfMessage},
		{"empty text", func() error { _, err := x.SendMessage(ctx, "bob", "dave", " "); return err }, "text", messaging.ErrEmptyMessage},
		{"long text", func() error { _, err := x.SendMessage(ctx, "bob", "dave", "12345678901"); return err }, "text", messaging.ErrMessageTooLong},
		{"bad text", func() error { _, err := x.SendMessage(ctx, "bob", "dave", "\xff"); return err }, "text", messaging.ErrInvalidText},
		{"get", func() error { _, err := x.Get(ctx, ""); return err }, "user", messaging.ErrInvalidUser},
		{"conversation owner", func() error { _, err := x.Conversation(ctx, "", "dave"); return err }, "user", messaging.ErrInvalidUser},
		{"conversation other", func() error { _, err := x.Conversation(ctx, "bob", "\x00"); return err }, "other", messaging.ErrInvalidUser},
		{"delete inbox", func() error { return x.Delete(ctx, "\t") }, "user", messaging.ErrInvalidUser},
		{"delete conversation", func() error { return inbox(t, x, "bob").Delete(ctx, "") }, "other", messaging.ErrInvalidUser},
		{"subscribe", func() error { _, err := x.Subscribe(""); return err }, "user", messaging.ErrInvalidUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			assert.ErrorIs(t, err, tt.want)
			var ie *messaging.InputError
			if assert.ErrorAs(t, err, &ie) {
				assert.Equal(t, tt.field, ie.Field)
				assert.Equal(t, tt.want, ie.Err)
			}
			assert.Equal(t, 1, strings.Count(err.Error(), "messaging:"), "one prefix: %q", err)
			assert.True(t, strings.HasPrefix(err.Error(), "messaging: "), err.Error())
		})
	}
	assert.Equal(t, 10, x.MaxMessageBytes())
	assert.Equal(t, messaging.DefaultMaxMessageBytes, messaging.New(messaging.NewMemoryStore()).MaxMessageBytes())
}

// Every error chain of every store prints one "messaging: " prefix.
func TestErrorsHaveOnePrefix(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		m := send(t, x, "bob", "dave", "hi")
		c := conv(t, x, "dave", "bob")
		_, errGet := x.Get(ctx, "nobody")
		_, errConv := x.Conversation(ctx, "bob", "nobody")
		_, errPage := c.Older(ctx, 999, 10)
		_, errCursor := inbox(t, x, "dave").ConversationPage(ctx, "garbage", 10)
		errDel := c.DeleteMessage(ctx, 999)
		errMark := c.MarkReadUpTo(ctx, 999)
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, errCancelled := x.SendMessage(cancelled, "bob", "dave", "x")
		var errUsers error
		for _, err := range x.Users(cancelled) {
			errUsers = err
		}
		errs := []error{errGet, errConv, errPage, errCursor, errDel, errMark, errCancelled, errUsers}
		require.NoError(t, x.Close())
		_, errClosed := x.SendMessage(ctx, "bob", "dave", "x")
		errs = append(errs, errClosed, c.MarkRead(ctx), c.DeleteMessage(ctx, m.ID))
		for i, err := range errs {
			require.Error(t, err, i)
			assert.Equal(t, 1, strings.Count(err.Error(), "messaging:"), "one prefix: %q", err)
			assert.True(t, strings.HasPrefix(err.Error(), "messaging: "), err.Error())
		}
		assert.ErrorIs(t, errGet, messaging.ErrNotFound)
		assert.ErrorIs(t, errPage, messaging.ErrBadCursor)
		assert.True(t, errors.Is(errClosed, messaging.ErrClosed))
	})
}
