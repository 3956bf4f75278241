package pgstore

// Schema creation and upgrades: numbered SQL files embedded in the binary,
// applied in one transaction under an advisory lock, so that processes
// opening one schema at once take turns and see each other's work; the
// version applied is recorded in schema_migrations. Anything that refuses
// the schema (a newer version, tables that are not ours) rolls that
// transaction back, so the database is left exactly as it was.

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/socialkit/messaging"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations are the embedded files, by version: NNNN_name.sql, numbered
// from 1 without gaps.
var migrations = mustLoadMigrations(migrationFiles)

// versionTable records the migrations applied; its greatest version is the
// schema's version.
const versionTable = "schema_migrations"

// ours are the relations a store's schema may hold.
var ours = map[string]bool{
	versionTable: true, "inbox_set": true, "inboxes": true, "conversations": true,
	"messages": true, "tombstones": true, "message_ids": true, "commit_order": true,
	"blocks": true, "idempotency": true, "events": true,
}

func mustLoadMigrations(fsys fs.FS) []migration {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	var ms []migration
	for _, path := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(path, "migrations/"), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic("pgstore: migration file " + path + " is not named NNNN_name.sql")
		}
		sql, err := fs.ReadFile(fsys, path)
		if err != nil {
			panic(err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(sql)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			panic(fmt.Sprintf("pgstore: migrations must be numbered 1, 2, ... without gaps; found %d at place %d", m.version, i+1))
		}
	}
	return ms
}

// SchemaVersion is the schema version this package writes, and the newest
// it reads.
func SchemaVersion() int { return len(migrations) }

// lockKey is the advisory lock that serialises migrations of one schema.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("github.com/socialkit/messaging/pgstore\x00" + schema))
	return int64(h.Sum64())
}

// migrate brings the store's schema to SchemaVersion, creating it if it
// does not exist.
func (s *Store) migrate(ctx context.Context) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return withContext(ctx, err)
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return withContext(ctx, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.Background())
		}
	}()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(s.schema)); err != nil {
		return wrapf(withContext(ctx, err), "lock schema %q for migration", s.schema)
	}
	version, exists, err := s.inspect(ctx, tx)
	if err != nil {
		return err
	}
	if version == len(migrations) {
		return tx.Commit(ctx)
	}
	ident := pgx.Identifier{s.schema}.Sanitize()
	if !exists {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
			return wrapf(withContext(ctx, err), "create schema %q", s.schema)
		}
	}
	// Migrations name tables without a schema; only this transaction sees
	// the search path.
	if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+ident); err != nil {
		return wrapf(withContext(ctx, err), "migrate schema %q", s.schema)
	}
	if version == 0 {
		if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+versionTable+
			" (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"); err != nil {
			return wrapf(withContext(ctx, err), "migrate schema %q", s.schema)
		}
	}
	for _, m := range migrations[version:] {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return wrapf(withContext(ctx, err), "migrate schema %q to version %d (%s)", s.schema, m.version, m.name)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+versionTable+" (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return wrapf(withContext(ctx, err), "migrate schema %q", s.schema)
		}
	}
	return withContext(ctx, tx.Commit(ctx))
}

// inspect returns the version of the store in the schema (0 for an empty
// or missing schema) and whether the schema exists, or refuses a schema
// that is not a store of ours or is newer than this code.
func (s *Store) inspect(ctx context.Context, tx pgx.Tx) (version int, exists bool, err error) {
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
		s.schema).Scan(&exists); err != nil {
		return 0, false, wrapf(withContext(ctx, err), "inspect schema %q", s.schema)
	}
	if !exists {
		return 0, false, nil
	}
	// pg_class rather than information_schema: the latter lists only what
	// this user may use, and a table we cannot see is still in the way.
	rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') ORDER BY c.relname`, s.schema)
	if err != nil {
		return 0, true, wrapf(withContext(ctx, err), "inspect schema %q", s.schema)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, true, wrapf(withContext(ctx, err), "inspect schema %q", s.schema)
	}
	var foreign []string
	for _, n := range names {
		if !ours[n] {
			foreign = append(foreign, strconv.Quote(n))
		}
	}
	switch {
	case len(foreign) > 0:
		return 0, true, wrapf(messaging.ErrNotStore, "schema %q holds %s", s.schema, strings.Join(foreign, ", "))
	case len(names) == 0:
		return 0, true, nil
	case !slices.Contains(names, versionTable):
		return 0, true, wrapf(messaging.ErrNotStore, "schema %q holds tables named like a store's but no %s", s.schema, versionTable)
	}
	var v *int
	if err := tx.QueryRow(ctx, "SELECT max(version) FROM "+pgx.Identifier{s.schema, versionTable}.Sanitize()).Scan(&v); err != nil {
		return 0, true, wrapf(withContext(ctx, err), "read the version of schema %q", s.schema)
	}
	if v != nil {
		version = *v
	}
	if version > len(migrations) {
		return version, true, wrapf(messaging.ErrVersion, "schema %q is at version %d; this version of pgstore reads up to %d",
			s.schema, version, len(migrations))
	}
	return version, true, nil
}
