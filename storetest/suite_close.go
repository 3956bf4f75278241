package storetest

// Tests of Store.Close.

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func testCloseErrClosed(t *testing.T, s messaging.Store) {
	baseline(t, s)
	require.NoError(t, s.Close())
	called := false
	err := s.View(t.Context(), func(messaging.ReadTx) error { called = true; return nil })
	assert.ErrorIs(t, err, messaging.ErrClosed, "View")
	err = s.Update(t.Context(), func(messaging.Tx) error { called = true; return nil })
	assert.ErrorIs(t, err, messaging.ErrClosed, "Update")
	assert.False(t, called, "fn called after Close")
}

func testCloseIdempotent(t *testing.T, s messaging.Store) {
	baseline(t, s)
	require.NoError(t, s.Close())
	for i := range 2 {
		err := s.Close()
		assert.True(t, err == nil || errors.Is(err, messaging.ErrClosed), "Close #%d: %v", i+2, err)
	}
	err := s.View(t.Context(), func(messaging.ReadTx) error { return nil })
	assert.ErrorIs(t, err, messaging.ErrClosed, "View after Close twice")
}
