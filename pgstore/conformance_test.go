package pgstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/internal/model"
	"github.com/socialkit/messaging/pgstore"
	"github.com/socialkit/messaging/pgstore/pgtest"
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

// schemaPool hands out schemas that are already made and empty: creating
// a schema costs about 0.2 s, and the conformance suite and the model test
// want a fresh store for each of hundreds of runs. A schema goes back to
// the pool emptied (every table, and the sequences restarted) when the
// run that took it ends; the pool's test drops them all.
type schemaPool struct {
	parent testing.TB
	mu     sync.Mutex
	free   []string
}

func newSchemaPool(parent testing.TB) *schemaPool { return &schemaPool{parent: parent} }

// open opens a store in a schema of the pool for t, closed when t ends.
func (p *schemaPool) open(t testing.TB) *pgstore.Store {
	t.Helper()
	p.mu.Lock()
	var schema string
	if n := len(p.free); n > 0 {
		schema, p.free = p.free[n-1], p.free[:n-1]
	} else {
		schema = pgtest.Schema(p.parent)
	}
	p.mu.Unlock()
	s, err := pgstore.Open(t.Context(), pgtest.URL(t), &pgstore.Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = s.Close()
		if emptySchema(t, schema) {
			p.mu.Lock()
			p.free = append(p.free, schema)
			p.mu.Unlock()
		}
	})
	return s
}

// emptySchema deletes everything a store wrote in schema, as if it were
// new, and reports whether it could.
func emptySchema(t testing.TB, schema string) bool {
	conn, err := pgx.Connect(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Errorf("empty schema %s: %v", schema, err)
		return false
	}
	defer conn.Close(context.Background())
	q := func(name string) string { return pgx.Identifier{schema, name}.Sanitize() }
	var sql []string
	for _, table := range []string{"inboxes", "conversations", "messages", "tombstones", "blocks", "idempotency", "events"} {
		sql = append(sql, "DELETE FROM "+q(table))
	}
	sql = append(sql, "UPDATE "+q("inbox_set")+" SET changes = 0",
		"SELECT setval('"+q("message_ids")+"', 1, false), setval('"+q("commit_order")+"', 1, false)")
	if _, err := conn.Exec(context.Background(), strings.Join(sql, "; ")); err != nil {
		t.Errorf("empty schema %s: %v", schema, err)
		return false
	}
	return true
}

func TestConformance(t *testing.T) {
	pool := newSchemaPool(t)
	storetest.Run(t, func(t *testing.T) messaging.Store { return pool.open(t) })
}

// TestModel runs the model-based random test (internal/model) on
// PostgreSQL: 4 seeds × 300 operations, 2 × 150 with -short or -race.
func TestModel(t *testing.T) {
	seeds, n := 4, 300
	if testing.Short() || raceEnabled {
		seeds, n = 2, 150
	}
	pool := newSchemaPool(t)
	for seed := range seeds {
		model.Check(t, func(t testing.TB, clock *model.Clock) *messaging.Inboxes {
			x, err := messaging.NewWithOptions(pool.open(t), &messaging.Options{Now: clock.Now})
			require.NoError(t, err)
			return x
		}, uint64(seed+1), n)
	}
	t.Logf("%d seeds × %d ops", seeds, n)
}
