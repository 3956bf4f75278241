package pgstore

// How an Inboxes in one process learns that another appended to a user's
// stream (messaging.StreamWatcher). A transaction that wrote events hands
// each stream's new last Seq to the store's notifier once it has
// committed; the notifier sends them with NOTIFY on the schema's channel,
// many commits' worth in one small transaction of its own (see notifier).
// WatchStreams LISTENs on that channel and polls the bounds of the
// watched users' streams as well, so that a notification lost (a
// listener reconnecting, a server restarted, NOTIFY turned off) delays
// delivery by a poll at most. NOTIFY carries a wake-up hint only: the
// events are read from the events table.
//
// LISTEN/NOTIFY is PostgreSQL's own; on an engine without it, set
// Options.DisableNotify and delivery across processes rests on the poll.

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/socialkit/messaging"
)

var _ messaging.StreamWatcher = (*Store)(nil)

// DefaultPollInterval is how often WatchStreams polls the streams it
// watches unless Options.PollInterval says otherwise.
const DefaultPollInterval = time.Second

// notifyLinger is how long the notifier waits after the first commit to
// tell of, gathering others, before it sends them: it bounds the
// notifying transactions to two hundred a second however many commits
// there are.
const notifyLinger = 5 * time.Millisecond

// channel is the schema's NOTIFY channel: a name within PostgreSQL's 63
// bytes whatever the schema's name.
func channel(schema string) string {
	h := fnv.New64a()
	h.Write([]byte(schema))
	return fmt.Sprintf("pgstore_%016x", h.Sum64())
}

// notifier sends the new ends of streams that transactions of this store
// committed, on a connection of its own.
type notifier struct {
	s       *Store
	mu      sync.Mutex
	pending map[string]uint64 // user → the last Seq committed
	started bool
	wake    chan struct{}
	conn    *pgx.Conn // nil until connected, and after a failure
}

// tell queues the new last Seqs of streams a transaction committed.
func (n *notifier) tell(grown map[string]uint64) {
	n.mu.Lock()
	if n.pending == nil {
		n.pending = make(map[string]uint64)
		n.wake = make(chan struct{}, 1)
	}
	for u, last := range grown {
		n.pending[u] = max(n.pending[u], last)
	}
	if !n.started {
		n.started = true
		n.s.workers.Add(1)
		go n.run()
	}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// run sends what is pending until the store closes.
func (n *notifier) run() {
	defer n.s.workers.Done()
	defer func() {
		if n.conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			n.conn.Close(ctx)
			cancel()
		}
	}()
	for {
		select {
		case <-n.wake:
		case <-n.s.closing:
			return
		}
		timer := time.NewTimer(notifyLinger)
		select {
		case <-timer.C:
		case <-n.s.closing:
			timer.Stop()
			return
		}
		n.mu.Lock()
		batch := n.pending
		n.pending = make(map[string]uint64, len(batch))
		n.mu.Unlock()
		if len(batch) > 0 {
			n.send(batch)
		}
	}
}

// send notifies, in one statement, on a connection whose transactions
// commit without waiting for their WAL flush (they write nothing but the
// notifications; PostgreSQL holds its global NOTIFY lock from before such
// a commit until it is done). A connection that fails (a restarted
// server) is replaced and the batch sent once more; a batch that fails
// again is dropped: the watchers' polls cover it.
func (n *notifier) send(batch map[string]uint64) {
	payloads := make([]string, 0, len(batch))
	for u, last := range batch {
		payloads = append(payloads, strconv.FormatUint(last, 10)+" "+u)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for try := 0; try < 2; try++ {
		if n.conn == nil {
			cfg := n.s.pool.Config().ConnConfig.Copy()
			cfg.RuntimeParams["synchronous_commit"] = "off"
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				return
			}
			n.conn = conn
		}
		_, err := n.conn.Exec(ctx, "SELECT count(pg_notify($1, p)) FROM unnest($2::text[]) AS p", channel(n.s.schema), payloads)
		if err == nil {
			n.s.stats.notifies.Add(1)
			return
		}
		n.conn.Close(ctx)
		n.conn = nil
	}
}

// WatchStreams implements messaging.StreamWatcher: it calls changed(user,
// last) when another process (or this one) committed events of user up
// to last, for the users among users(), until ctx ends; it then returns
// ctx's error, or messaging.ErrClosed once the store is closed. It
// LISTENs on a connection of its own, reconnecting after a failure, and
// polls the watched users' streams every Options.PollInterval in one
// statement, and at once after each (re)connection.
func (s *Store) WatchStreams(ctx context.Context, users func() []string, changed func(user string, last uint64)) error {
	ctx, cancel := context.WithCancel(ctx)
	notes := make(chan note, 64)
	listening := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer func() {
		cancel() // ends the listener
		wg.Wait()
	}()
	if !s.disableNotify {
		wg.Go(func() { s.listen(ctx, notes, listening) })
	}
	ticker := time.NewTicker(s.pollInterval)
	defer ticker.Stop()
	var retry <-chan time.Time // a failed poll runs again soon, not at the next tick
	poll := func() {
		retry = nil
		list := users()
		for len(list) > 0 {
			chunk := list[:min(len(list), 1000)]
			list = list[len(chunk):]
			if err := s.pollStreams(ctx, chunk, changed); err != nil && ctx.Err() == nil {
				retry = time.After(min(100*time.Millisecond, s.pollInterval))
				return
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return messaging.ErrClosed
		case n := <-notes:
			changed(n.user, n.last)
		case <-listening: // notifications may have been lost before
			poll()
		case <-retry:
			poll()
		case <-ticker.C:
			poll()
		}
	}
}

type note struct {
	user string
	last uint64
}

// listen receives the schema's notifications on a connection of its own,
// and connects again after a failure, signalling each (re)connection.
func (s *Store) listen(ctx context.Context, notes chan<- note, listening chan<- struct{}) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(min(100*time.Millisecond<<min(attempt-1, 5), 2*time.Second)):
			}
		}
		conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
		if err != nil {
			continue
		}
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel(s.schema)}.Sanitize()); err != nil {
			conn.Close(context.Background())
			continue
		}
		attempt = 0
		select {
		case listening <- struct{}{}:
		default:
		}
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				break
			}
			lastText, user, ok := strings.Cut(n.Payload, " ")
			last, err := strconv.ParseUint(lastText, 10, 64)
			if !ok || err != nil {
				continue // not ours
			}
			select {
			case notes <- note{user, last}:
			case <-ctx.Done():
			}
		}
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
		s.stats.listenerLosses.Add(1)
	}
}

// pollStreams reads the last Seq of the streams of users, and reports
// each stream that holds events.
func (s *Store) pollStreams(ctx context.Context, users []string, changed func(string, uint64)) error {
	ids := make([][]byte, len(users))
	for i, u := range users {
		ids[i] = []byte(u)
	}
	rows, err := s.pool.Query(ctx, s.q.pollStreams, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var owner []byte
		var last int64
		if err := rows.Scan(&owner, &last); err != nil {
			return err
		}
		changed(string(owner), decodeID(last))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	s.stats.polls.Add(1)
	return nil
}
