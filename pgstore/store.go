package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/socialkit/messaging"
)

var (
	_ messaging.Store   = (*Store)(nil)
	_ messaging.Checker = (*Store)(nil)
)

// DefaultSchema is the schema a store lives in unless Options.Schema says
// otherwise.
const DefaultSchema = "messaging"

// Defaults that Open applies when the URL does not set them.
const (
	// DefaultConnectTimeout bounds each connection attempt, so that calls
	// fail instead of hanging while the server is unreachable.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultMinMaxConns is the smallest pool Open makes: every
	// transaction holds a connection, and a pool as small as pgxpool's own
	// default (4) would queue writers that PostgreSQL could run together.
	DefaultMinMaxConns = 16
)

// Options configures Open and New. A nil *Options means the defaults.
type Options struct {
	// Schema is the PostgreSQL schema that holds the store's tables: one
	// to 63 bytes of UTF-8 without NUL, not starting with "pg_". It is
	// created if missing; "" means DefaultSchema. Two schemas in one
	// database are two independent stores.
	Schema string

	// DisableNotify turns LISTEN/NOTIFY off, for an engine without it
	// (it is PostgreSQL's own) or a test: transactions that write events
	// notify no one, and WatchStreams only polls. Every store of a schema
	// should say the same, or the watchers of the others wait for polls.
	DisableNotify bool

	// PollInterval is how often WatchStreams polls the streams of the
	// users it watches: the longest an event from another process waits
	// when its notification is lost. 0 means DefaultPollInterval.
	PollInterval time.Duration
}

func (o *Options) withDefaults() (Options, error) {
	var out Options
	if o != nil {
		out = *o
	}
	if out.Schema == "" {
		out.Schema = DefaultSchema
	}
	switch {
	case out.PollInterval < 0:
		return out, fmt.Errorf("poll interval %v is negative", out.PollInterval)
	case out.PollInterval == 0:
		out.PollInterval = DefaultPollInterval
	}
	switch s := out.Schema; {
	case len(s) > 63:
		return out, fmt.Errorf("schema name %q is longer than 63 bytes", s)
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return out, fmt.Errorf("schema name %q is not UTF-8 without NUL", s)
	case strings.HasPrefix(s, "pg_"):
		return out, fmt.Errorf("schema name %q: the prefix pg_ is reserved for system schemas", s)
	}
	return out, nil
}

// Store is a messaging.Store in a PostgreSQL schema, shared safely by every
// process that opens the same schema. See the package documentation for
// how it keeps Updates serializable and what each call costs.
type Store struct {
	pool   *pgxpool.Pool
	owns   bool // Close closes the pool
	schema string
	q      queries

	mu      sync.RWMutex // read-held by every View and Update; Close takes it
	closed  bool
	closing chan struct{} // closed by Close, for what runs in the background

	disableNotify bool
	pollInterval  time.Duration
	// noSeqScan: the pool's sessions set enable_seqscan off, so a write of
	// two rows joined with VALUES looks them up by key (writes.go).
	noSeqScan bool
	notifier  notifier

	order   commitOrder    // OnCommit callbacks in commit order
	queue   *inboxQueue    // Updates touching the same inboxes take turns
	bg      sync.WaitGroup // View endings still in flight
	workers sync.WaitGroup // the notifier

	txs   sync.Pool // of *tx: a transaction's maps and buffers, used again
	stats statCounters
	// writesBoth: a transaction wrote an event; from then on, a
	// transaction that reads a pair of users is taken to write both rows
	// (queue.go).
	writesBoth atomic.Bool
}

// Open connects to the database at url (a PostgreSQL URL or keyword/value
// connection string, as pgx reads it) and opens the store in
// opts.Schema, creating the schema and its tables if missing. The store
// owns its connection pool: Close closes it.
//
// Unless url says otherwise (connect_timeout, pool_max_conns), each
// connection attempt is bounded by DefaultConnectTimeout and the pool holds
// up to max(DefaultMinMaxConns, 4×GOMAXPROCS) connections.
//
// Errors name what failed and where, without the password. It refuses,
// writing nothing: a schema written by a newer version of this package
// (messaging.ErrVersion) and a schema holding tables that are not a
// store's (messaging.ErrNotStore).
func Open(ctx context.Context, url string, opts *Options) (*Store, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, wrapf(err, "open")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, wrapf(err, "open") // pgx's message leaves the password out
	}
	where := describe(cfg)
	if !hasParam(url, "connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	if !hasParam(url, "pool_max_conns") {
		cfg.MaxConns = int32(max(DefaultMinMaxConns, 4*runtime.GOMAXPROCS(0)))
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !ok {
		// Every statement of the store is a lookup by key or a range scan
		// of one index, for which the generic plan is the plan: without
		// this, PostgreSQL plans some of them again at every execution,
		// which costs more than running them.
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["enable_seqscan"]; !ok {
		// Every statement of the store is meant to use an index: on a
		// small table PostgreSQL would rather scan it whole, and a generic
		// plan made then is kept as the table grows (until an ANALYZE);
		// a whole scan also locks rows in the table's order, not the
		// key order the commit pipeline keeps.
		cfg.ConnConfig.RuntimeParams["enable_seqscan"] = "off"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrapf(err, "open %s", where)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, wrapf(withContext(ctx, err), "open %s", where)
	}
	s, err := newStore(ctx, pool, o, true)
	if err != nil {
		pool.Close()
		return nil, wrapf(err, "open %s", where)
	}
	return s, nil
}

// New opens the store in opts.Schema of the database pool connects to,
// creating the schema and its tables if missing, like Open. The caller
// keeps the pool: Close waits for the store's transactions and leaves the
// pool open. The pool must not be configured to use the simple protocol
// (QueryExecModeSimpleProtocol): the store pipelines prepared statements.
// Like Open's, its connections should set plan_cache_mode to
// force_generic_plan and enable_seqscan to off (RuntimeParams): with the
// latter, a send writes both sides of a conversation (and, with event
// streams, both users' rows) in one statement each, whose plan then looks
// the rows up by key, in key order, however small the tables are.
func New(ctx context.Context, pool *pgxpool.Pool, opts *Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New(prefix + "new: nil pool")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, wrapf(err, "new")
	}
	s, err := newStore(ctx, pool, o, false)
	if err != nil {
		return nil, wrapf(err, "new store in %s", describe(pool.Config()))
	}
	return s, nil
}

func newStore(ctx context.Context, pool *pgxpool.Pool, o Options, owns bool) (*Store, error) {
	s := &Store{pool: pool, owns: owns, schema: o.Schema, q: newQueries(o.Schema), queue: newInboxQueue(),
		closing: make(chan struct{}), disableNotify: o.DisableNotify, pollInterval: o.PollInterval,
		noSeqScan: pool.Config().ConnConfig.RuntimeParams["enable_seqscan"] == "off"}
	s.notifier.s = s
	s.txs.New = func() any { return newTx(s, newSession(s, context.Background(), s.q.beginUpdate)) }
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// describe names the database a pool connects to, without the password.
func describe(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("postgres://%s@%s/%s", c.User, net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))), c.Database)
}

// hasParam reports whether the connection string sets name, in either of
// its forms.
func hasParam(conn, name string) bool {
	return strings.Contains(conn, "?"+name+"=") || strings.Contains(conn, "&"+name+"=") ||
		strings.HasPrefix(conn, name+"=") || strings.Contains(conn, " "+name+"=")
}

// Schema returns the name of the schema the store lives in.
func (s *Store) Schema() string { return s.schema }

// Pool returns the connection pool, for statistics and for reading the
// tables directly. Writing them bypasses the rules of package messaging
// and the locking protocol (doc.go) that keeps concurrent Updates
// serializable: don't. Do not close the pool of a store Open made.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// enter registers a transaction, or refuses it after Close or on a done ctx.
func (s *Store) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return wrapf(err, "begin")
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return messaging.ErrClosed
	}
	return nil
}

func (s *Store) exit() { s.mu.RUnlock() }

// Close waits for the transactions in flight, then closes the pool if Open
// made it. Later calls of View and Update return messaging.ErrClosed;
// Close itself is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		return nil
	}
	close(s.closing)
	s.bg.Wait() // View endings and the notifier hold connections of the pool
	s.workers.Wait()
	if s.owns {
		s.pool.Close()
	}
	return nil
}

// Stats counts what the store did since it was opened.
type Stats struct {
	Updates  int64 // calls of Update that returned
	Attempts int64 // transactions begun by Update, the first and those after a conflict
	// Runs of an Update's function again in the same transaction, because
	// an idempotency record guessed absent before the transaction began
	// was there (guess.go).
	Reruns     int64
	RoundTrips int64 // pipelines sent and waited for (BEGIN and COMMIT ride along)

	// Re-runs of an Update function, by cause.
	SerializationFailures int64 // SQLSTATE 40001: a row read or written was changed by a concurrent commit
	Deadlocks             int64 // 40P01
	UniqueViolations      int64 // 23505: a concurrent transaction inserted the same key
	ConnectionFailures    int64 // the connection was lost before COMMIT was sent

	// Event streams across processes (watch.go).
	Notifies       int64 // notifying transactions sent, each for one or more commits
	Polls          int64 // polls of the watched streams
	ListenerLosses int64 // LISTEN connections lost (and made again)
}

type statCounters struct {
	updates, attempts, reruns, roundTrips                 atomic.Int64
	serialization, deadlocks, uniqueViolations, connLosts atomic.Int64
	notifies, polls, listenerLosses                       atomic.Int64
}

// Stats returns the counters; they are read one by one, not as one
// snapshot.
func (s *Store) Stats() Stats {
	c := &s.stats
	return Stats{
		Updates: c.updates.Load(), Attempts: c.attempts.Load(), Reruns: c.reruns.Load(), RoundTrips: c.roundTrips.Load(),
		SerializationFailures: c.serialization.Load(), Deadlocks: c.deadlocks.Load(),
		UniqueViolations: c.uniqueViolations.Load(), ConnectionFailures: c.connLosts.Load(),
		Notifies: c.notifies.Load(), Polls: c.polls.Load(), ListenerLosses: c.listenerLosses.Load(),
	}
}
