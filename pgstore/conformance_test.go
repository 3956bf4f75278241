package pgstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/pgstore/pgtest"
	"github.com/socialkit/messaging/pgstore"
	"github.com/socialkit/messaging/storetest"
)

// openStore opens a store in a schema of its own for t, closed when t ends.
func openStore(t testing.TB) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(t.Context(), pgtest.URL(t), &pgstore.Options{Schema: pgtest.Schema(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) messaging.Store { return openStore(t) })
}
