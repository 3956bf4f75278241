package pgstore

// A session is one transaction's connection. It is acquired for the first
// statement, and BEGIN goes out in the same pipeline as that statement, so
// a transaction costs no round trip of its own: each call of run is one
// round trip, whatever it holds. Statements queued by run go out as one
// pgx batch (the extended protocol, pipelined, with one Sync).

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// step is one statement of a pipeline and what to do with its result.
type step struct {
	sql  string
	args []any
	// row is called for each row; nil for a statement that returns none.
	row func(pgx.Rows) error
	// done is called with the command tag after the rows, if not nil.
	done func(pgconn.CommandTag) error
	// reset is called before the statement's results are read, if not nil,
	// so that a pipeline sent again on a fresh connection starts clean.
	reset func()
	// write: the statement writes (guess.go).
	write bool
}

type session struct {
	s     *Store
	ctx   context.Context
	begin string
	conn  *pgxpool.Conn
	inTx  bool  // BEGIN has run on conn
	err   error // the first failure; the transaction is dead after it
	// results is how many statements of the last pipeline sent returned
	// their results, BEGIN included.
	results int
	// handed: a step of the last pipeline sent was handed a row or a
	// command tag, and may have kept what it read.
	handed bool
	batch  pgx.Batch
}

func newSession(s *Store, ctx context.Context, begin string) *session {
	return &session{s: s, ctx: ctx, begin: begin}
}

// run sends steps as one pipeline, with BEGIN in front if the transaction
// has not begun, and hands each result to its step. The first pipeline of
// a transaction is sent again on a fresh connection if the connection
// turns out to be dead (a server restart leaves dead connections in the
// pool), since nothing of the transaction has happened yet — unless a step
// was handed a result already: what it read is from the dead
// connection's snapshot, which a fresh transaction must not build on (the
// caller's retry runs the whole function again instead). A pipeline that
// commits is never sent again.
func (ss *session) run(steps ...step) error {
	if ss.err != nil {
		return ss.err
	}
	first := !ss.inTx
	for try := 0; ; try++ {
		if ss.conn == nil {
			conn, err := ss.s.pool.Acquire(ss.ctx)
			if err != nil {
				return ss.fail(err)
			}
			ss.conn = conn
		}
		err := ss.send(first, steps)
		if err == nil {
			return nil
		}
		if first && try < 3 && !ss.handed && ss.ctx.Err() == nil && ss.conn.Conn().IsClosed() && !commits(steps) {
			ss.conn.Release() // destroys it: it is closed
			ss.conn, ss.inTx = nil, false
			continue
		}
		return ss.fail(err)
	}
}

func commits(steps []step) bool {
	return len(steps) > 0 && steps[len(steps)-1].sql == commitSQL
}

func (ss *session) fail(err error) error {
	ss.err = withContext(ss.ctx, err)
	return ss.err
}

func (ss *session) send(first bool, steps []step) error {
	b := &ss.batch
	b.QueuedQueries = b.QueuedQueries[:0]
	if first {
		b.Queue(ss.begin)
	}
	for _, st := range steps {
		b.Queue(st.sql, st.args...)
	}
	ss.s.stats.roundTrips.Add(1)
	br := ss.conn.Conn().SendBatch(ss.ctx, b)
	err := ss.read(br, first, steps)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

func (ss *session) read(br pgx.BatchResults, first bool, steps []step) error {
	ss.results, ss.handed = 0, false
	if first {
		if _, err := br.Exec(); err != nil {
			return err
		}
		ss.inTx = true
		ss.results++
	}
	for _, st := range steps {
		if st.reset != nil {
			st.reset()
		}
		var tag pgconn.CommandTag
		if st.row != nil {
			rows, _ := br.Query() // its error is rows.Err()
			for rows.Next() {
				ss.handed = true
				if err := st.row(rows); err != nil {
					rows.Close()
					return err
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			tag = rows.CommandTag()
		} else {
			var err error
			if tag, err = br.Exec(); err != nil {
				return err
			}
		}
		ss.results++
		if st.done != nil {
			ss.handed = true
			if err := st.done(tag); err != nil {
				return err
			}
		}
	}
	return nil
}

// quitFirst reports whether the server ended the session before running
// any statement of the last pipeline: its first answer was a FATAL error
// (pg_terminate_backend, a shutdown). PostgreSQL sends what it has
// buffered before a FATAL, so nothing of the pipeline, COMMIT included,
// ran. (A connection that just ends, with nothing received, proves
// nothing: the server may have run it all and died before answering.)
func (ss *session) quitFirst(err error) bool {
	var pe *pgconn.PgError
	return ss.results == 0 && errors.As(err, &pe) && pe.Severity == "FATAL"
}

// finish returns the connection to the pool. A transaction still open on
// it (a View's, or one that failed) is rolled back first, in the
// background: nothing it did persists either way, and its caller need not
// wait a round trip for the server to forget it.
func (ss *session) finish() {
	conn := ss.conn
	ss.conn = nil
	if conn == nil {
		return
	}
	if conn.Conn().IsClosed() || conn.Conn().PgConn().TxStatus() == 'I' {
		conn.Release()
		return
	}
	s := ss.s // ss is used again once its transaction has returned
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
		defer cancel()
		_, _ = conn.Conn().Exec(ctx, s.q.rollback)
		conn.Release() // destroyed if the rollback failed
	}()
}

const rollbackTimeout = 10 * time.Second

// sqlState returns err's SQLSTATE, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
