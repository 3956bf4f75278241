package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/pgstore"
	"github.com/socialkit/messaging/pgstore/pgtest"
)

// dumpSchema describes everything in schema: its relations, with the rows
// of each table, and whether the schema exists at all.
func dumpSchema(t *testing.T, schema string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.URL(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var b strings.Builder
	var exists bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists))
	fmt.Fprintf(&b, "exists=%v\n", exists)
	rows, err := conn.Query(ctx, `SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 ORDER BY c.relname`, schema)
	require.NoError(t, err)
	type rel struct{ name, kind string }
	var rels []rel
	for rows.Next() {
		var r rel
		require.NoError(t, rows.Scan(&r.name, &r.kind))
		rels = append(rels, r)
	}
	require.NoError(t, rows.Err())
	for _, r := range rels {
		fmt.Fprintf(&b, "%s %s", r.kind, r.name)
		if r.kind == "r" {
			rows, err := conn.Query(ctx, "SELECT t::text FROM "+pgx.Identifier{schema, r.name}.Sanitize()+" t ORDER BY 1")
			require.NoError(t, err)
			content, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			// applied_at is the time of the migration: it stays put too.
			fmt.Fprintf(&b, " %q", content)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// countSchemas counts the schemas of the shared server's database.
func countSchemas(t *testing.T) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pgtest.URL(t))
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_namespace").Scan(&n))
	return n
}

func openErr(t *testing.T, url, schema string) error {
	t.Helper()
	s, err := pgstore.Open(context.Background(), url, &pgstore.Options{Schema: schema})
	if err == nil {
		_ = s.Close()
	}
	return err
}

// TestOpenConcurrently opens one new schema from 8 connections at once:
// the migration runs once, under its advisory lock, and all 8 stores work.
func TestOpenConcurrently(t *testing.T) {
	schema := pgtest.Schema(t)
	stores := make([]*pgstore.Store, 8)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			s, err := pgstore.Open(context.Background(), pgtest.URL(t), &pgstore.Options{Schema: schema})
			if assert.NoError(t, err) {
				stores[i] = s
			}
		})
	}
	wg.Wait()
	for i, s := range stores {
		if s == nil {
			continue
		}
		_, err := messaging.New(s).SendMessage(context.Background(), "ann", fmt.Sprintf("u%d", i), "hi")
		assert.NoError(t, err)
		require.NoError(t, s.Close())
	}
	dump := dumpSchema(t, schema)
	assert.Equal(t, 1, strings.Count(dump, "r schema_migrations"))
	assert.Equal(t, []string{"1 init", "2 streams"}, migrationsApplied(t, schema), "one row per migration")
	assert.Equal(t, 2, pgstore.SchemaVersion())
}

// migrationsApplied lists the rows of schema's schema_migrations.
func migrationsApplied(t *testing.T, schema string) []string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pgtest.URL(t))
	require.NoError(t, err)
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), "SELECT version::text || ' ' || name FROM "+
		pgx.Identifier{schema, "schema_migrations"}.Sanitize()+" ORDER BY version")
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// TestNewerVersionRefused: a schema written by a later version of this
// package is refused with ErrVersion and left as it was.
func TestNewerVersionRefused(t *testing.T) {
	schema := pgtest.Schema(t)
	s, err := pgstore.Open(context.Background(), pgtest.URL(t), &pgstore.Options{Schema: schema})
	require.NoError(t, err)
	_, err = messaging.New(s).SendMessage(context.Background(), "ann", "bob", "hi")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	pgtest.Exec(t, "INSERT INTO "+pgx.Identifier{schema, "schema_migrations"}.Sanitize()+
		fmt.Sprintf(" (version, name) VALUES (%d, 'from the future')", pgstore.SchemaVersion()+1))
	before := dumpSchema(t, schema)

	err = openErr(t, pgtest.URL(t), schema)
	assert.ErrorIs(t, err, messaging.ErrVersion)
	t.Log(err)
	assert.Equal(t, before, dumpSchema(t, schema), "the schema is left untouched")
}

// TestForeignTablesRefused: a schema holding tables that are not a
// store's is refused with ErrNotStore and left as it was, whether or not
// it also holds a store's tables.
func TestForeignTablesRefused(t *testing.T) {
	t.Run("other tables only", func(t *testing.T) {
		schema := pgtest.Schema(t)
		id := pgx.Identifier{schema}.Sanitize()
		pgtest.Exec(t, "CREATE SCHEMA "+id+"; CREATE TABLE "+id+".users (id int PRIMARY KEY); INSERT INTO "+id+".users VALUES (1)")
		before := dumpSchema(t, schema)
		err := openErr(t, pgtest.URL(t), schema)
		assert.ErrorIs(t, err, messaging.ErrNotStore)
		t.Log(err)
		assert.Equal(t, before, dumpSchema(t, schema))
	})
	t.Run("a store and another table", func(t *testing.T) {
		schema := pgtest.Schema(t)
		require.NoError(t, openErr(t, pgtest.URL(t), schema))
		pgtest.Exec(t, "CREATE VIEW "+pgx.Identifier{schema, "report"}.Sanitize()+" AS SELECT 1 AS one")
		before := dumpSchema(t, schema)
		assert.ErrorIs(t, openErr(t, pgtest.URL(t), schema), messaging.ErrNotStore)
		assert.Equal(t, before, dumpSchema(t, schema))
	})
}

// TestTwoSchemas: two schemas of one database are two independent stores,
// down to their message IDs.
func TestTwoSchemas(t *testing.T) {
	ctx := context.Background()
	open := func() *messaging.Inboxes {
		s, err := pgstore.Open(ctx, pgtest.URL(t), &pgstore.Options{Schema: pgtest.Schema(t)})
		require.NoError(t, err)
		x := messaging.New(s)
		t.Cleanup(func() { _ = x.Close() })
		return x
	}
	x1, x2 := open(), open()
	m1, err := x1.SendMessage(ctx, "ann", "bob", "in one")
	require.NoError(t, err)
	m2, err := x2.SendMessage(ctx, "cat", "dan", "in two")
	require.NoError(t, err)
	assert.Equal(t, m1.ID, m2.ID, "each store numbers its own messages")
	for _, c := range []struct {
		x          *messaging.Inboxes
		has, hasnt string
	}{{x1, "ann", "cat"}, {x2, "cat", "ann"}} {
		ok, err := c.x.Has(ctx, c.has)
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = c.x.Has(ctx, c.hasnt)
		require.NoError(t, err)
		assert.False(t, ok)
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// TestOpenErrors: what cannot be opened gives an error that starts with
// "pgstore: ", names what failed and where, never shows the password, and
// writes nothing.
func TestOpenErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes or servers, or kills them: not with -short")
	}
	shared := pgtest.URL(t)
	srv := pgtest.NewServer(t, pgtest.ServerOptions{HBA: []string{"host all pwuser 127.0.0.1/32 scram-sha-256"}})
	require.NoError(t, srv.Exec(context.Background(),
		"CREATE ROLE pwuser LOGIN PASSWORD 'right-secret'; GRANT CREATE ON DATABASE postgres TO pwuser"))
	cfg, err := pgconn.ParseConfig(shared)
	require.NoError(t, err)
	down := closedPort(t)
	schemas := countSchemas(t)

	cases := []struct {
		name, url, schema string
		where             string // what the message names
		cause             func(error) bool
	}{
		{"schema with the reserved prefix", shared, "pg_mine", `schema name "pg_mine"`, nil},
		{"schema name too long", shared, strings.Repeat("s", 64), "longer than 63 bytes", nil},
		{"schema name with NUL", shared, "a\x00b", "without NUL", nil},
		{"not a URL", "postgres://pwuser:right-secret@127.0.0.1:notaport/db", "", "cannot parse", nil},
		{"server down", fmt.Sprintf("postgres://pwuser:right-secret@127.0.0.1:%d/db?connect_timeout=2", down), "",
			fmt.Sprintf("pgstore: open postgres://pwuser@127.0.0.1:%d/db: ", down),
			func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }},
		{"wrong password", fmt.Sprintf("postgres://pwuser:wrong-secret@127.0.0.1:%d/postgres", srv.Port()), "",
			fmt.Sprintf("pgstore: open postgres://pwuser@127.0.0.1:%d/postgres: ", srv.Port()),
			func(err error) bool { var pe *pgconn.PgError; return errors.As(err, &pe) && pe.Code == "28P01" }},
		{"missing database", fmt.Sprintf("postgres://%s@%s/no_such_database", cfg.User, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))), "",
			"/no_such_database: ",
			func(err error) bool { var pe *pgconn.PgError; return errors.As(err, &pe) && pe.Code == "3D000" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := openErr(t, tc.url, tc.schema)
			require.Error(t, err)
			t.Log(err)
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, "pgstore: open"), msg)
			assert.Contains(t, msg, tc.where)
			assert.NotContains(t, msg, "secret", "the password never shows")
			if tc.cause != nil {
				assert.True(t, tc.cause(err), "the cause is in the chain: %v", err)
			}
			if tc.schema != "" {
				assert.Equal(t, schemas, countSchemas(t), "nothing written")
			}
		})
	}
	t.Run("right password", func(t *testing.T) {
		require.NoError(t, openErr(t, fmt.Sprintf("postgres://pwuser:right-secret@127.0.0.1:%d/postgres", srv.Port()), "pw"))
	})
}

// TestNewKeepsThePool: a store made with New leaves the caller's pool open
// at Close; New refuses a nil pool.
func TestNewKeepsThePool(t *testing.T) {
	_, err := pgstore.New(context.Background(), nil, nil)
	assert.Error(t, err)
	s := openStore(t)
	pool := s.Pool()
	s2, err := pgstore.New(context.Background(), pool, &pgstore.Options{Schema: s.Schema()})
	require.NoError(t, err)
	require.NoError(t, s2.Close())
	assert.NoError(t, pool.Ping(context.Background()), "the pool outlives a store made with New")
	assert.ErrorIs(t, s2.View(context.Background(), func(messaging.ReadTx) error { return nil }), messaging.ErrClosed)
}

// TestUpgradeFromVersion1: a schema as the first version of this package
// left it, with a conversation in it, is upgraded in place when opened:
// its records read as they were (no metadata, no stream, no blocks), and
// the store then works as any other.
func TestUpgradeFromVersion1(t *testing.T) {
	schema := pgtest.Schema(t)
	ident := pgx.Identifier{schema}.Sanitize()
	pgtest.Exec(t, "CREATE SCHEMA "+ident)
	pgtest.Exec(t, "SET search_path TO "+ident+"; "+pgstore.MigrationSQL(1)+
		"; CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"+
		"; INSERT INTO schema_migrations (version, name) VALUES (1, 'init')")
	q := func(table string) string { return pgx.Identifier{schema, table}.Sanitize() }
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	sec, nsec := pgstore.EncodeTime(created)
	id := pgstore.EncodeID(1)
	pgtest.Exec(t, "INSERT INTO "+q("inboxes")+" VALUES ('ann', 0), ('bob', 1)")
	for _, side := range [][2]string{{"ann", "bob"}, {"bob", "ann"}} {
		unread := 0
		if side[0] == "bob" {
			unread = 1
		}
		pgtest.Exec(t, fmt.Sprintf("INSERT INTO %s VALUES ('%s', '%s', 1, %d, %d, %d, %d, %d, %d, %d, %d, 'ann', 'bob', 'hi', %d, %d)",
			q("conversations"), side[0], side[1], unread, -sec, -nsec, id, id, pgstore.EncodeID(0), pgstore.EncodeID(0), id, sec, nsec))
		pgtest.Exec(t, fmt.Sprintf("INSERT INTO %s VALUES ('%s', '%s', %d, %d, %d, 'ann', 'bob', 'hi')",
			q("messages"), side[0], side[1], id, sec, nsec))
	}
	pgtest.Exec(t, "SELECT setval('"+q("message_ids")+"', 1)")

	s, err := pgstore.Open(context.Background(), pgtest.URL(t), &pgstore.Options{Schema: schema})
	require.NoError(t, err)
	x := messaging.New(s)
	defer x.Close()
	assert.Equal(t, []string{"1 init", "2 streams"}, migrationsApplied(t, schema))
	ctx := context.Background()
	c, err := x.Conversation(ctx, "bob", "ann")
	require.NoError(t, err)
	assert.Equal(t, 1, c.NewMessagesCount)
	page, err := c.Older(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, page, 1)
	assert.Equal(t, messaging.Message{ID: 1, Sender: "ann", Recipient: "bob", Text: "hi", Created: created, New: true}, page[0])
	sub, err := x.SubscribeFrom("bob", 0)
	require.NoError(t, err, "an empty stream")
	defer sub.Close()

	reply, err := x.SendMessage(ctx, "bob", "ann", "hello", messaging.WithMeta(map[string]string{"k": "v"}))
	require.NoError(t, err)
	assert.Greater(t, reply.ID, uint64(1))
	ev, err := sub.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, messaging.MessageSent, ev.Kind)
	assert.Equal(t, uint64(1), ev.Seq, "bob's stream starts")
	assertSound(t, x)
}
