package pgstore

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging/pgstore/pgtest"
)

// TestFirstPipelineNotSentAgainAfterAResult: the connection of a
// transaction's first pipeline dies after a step was handed a row. The
// pipeline must not be sent again on a fresh connection, where the step
// would mix rows of the dead connection's snapshot into a transaction with
// another (an Update's function would write a count read before a commit
// that the new snapshot already holds: a lost update); the error goes to
// the caller, whose retry runs the whole function again.
func TestFirstPipelineNotSentAgainAfterAResult(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.URL(t), &Options{Schema: pgtest.Schema(t)})
	require.NoError(t, err)
	defer s.Close()
	ss := newSession(s, ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ")
	defer ss.finish()
	sent, killed := 0, false
	err = ss.run(
		// A megabyte of rows: the server sends them as the client reads,
		// so the first arrives while the server is still at work.
		step{sql: "SELECT repeat('x', 1000) FROM generate_series(1, 1000)",
			reset: func() { sent++ },
			row: func(pgx.Rows) error {
				if killed {
					return nil
				}
				killed = true
				_, err := s.pool.Exec(ctx, "SELECT pg_terminate_backend($1)", ss.conn.Conn().PgConn().PID())
				return err
			}},
		step{sql: "SELECT pg_sleep(1)"},
	)
	require.Error(t, err, "the session was ended under the pipeline")
	assert.Equal(t, 1, sent, "a step is handed results from one connection only")
}
