//go:build pgdomain

package messaging_test

// With -tags pgdomain the root package's tests — the domain tests, the
// examples (TestExamplesOverEveryStore), the harnesses — run over
// PostgreSQL (package pgstore) instead of the memory and bbolt stores:
//
//	go test -race -tags pgdomain .
//
// .ci/run does. Without the tag the root package's tests never import
// pgstore, so the root package stays free of pgx.

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/pgstore"
	"github.com/socialkit/messaging/pgstore/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openPostgres(t testing.TB) messaging.Store {
	s, err := pgstore.Open(ctx, pgtest.URL(t), &pgstore.Options{Schema: pgtest.Schema(t)})
	require.NoError(t, err)
	return s
}

func init() {
	stores = []storeCase{
		{name: "postgres", open: openPostgres},
		{name: "postgres-rerun", open: func(t testing.TB) messaging.Store { return rerunStore{openPostgres(t)} }, rerun: true},
	}
}
