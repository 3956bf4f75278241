package pgstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/pgstore"
	"github.com/socialkit/messaging/pgstore/pgtest"
)

// A child is this test binary run again by a test of this file, told what
// to do by these variables; the PostgreSQL server comes in
// MESSAGING_TEST_PG_URL, which pgtest.Main sets for its children.
const (
	childRole   = "MESSAGING_PGSTORE_CHILD"
	childSchema = "MESSAGING_PGSTORE_SCHEMA"
	childSeed   = "MESSAGING_PGSTORE_SEED"
)

var people = []string{"ann", "bob", "cat", "dan", "eve", "fay"}

// startChild runs TestChild in a new process with role, on schema.
func startChild(t *testing.T, role, schema string, seed int) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd, out, _ := startChildIn(t, role, schema, seed)
	return cmd, out
}

// startChildIn is startChild with a pipe to the child's standard input.
func startChildIn(t *testing.T, role, schema string, seed int) (*exec.Cmd, *bufio.Scanner, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), childRole+"="+role, childSchema+"="+schema, childSeed+"="+strconv.Itoa(seed),
		pgtest.EnvURL+"="+pgtest.URL(t))
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	return cmd, bufio.NewScanner(stdout), stdin
}

// TestChild is the body of the processes the tests of this file start;
// run alone, it skips.
func TestChild(t *testing.T) {
	role := os.Getenv(childRole)
	if role == "" {
		t.Skip("run by TestSeveralProcesses and TestSIGKILLClient")
	}
	seed, _ := strconv.Atoi(os.Getenv(childSeed))
	s, err := pgstore.Open(context.Background(), pgtest.URL(t), &pgstore.Options{Schema: os.Getenv(childSchema)})
	if err != nil {
		fmt.Println("fail: open:", err)
		os.Exit(3)
	}
	x := messaging.New(s)
	switch role {
	case "workload":
		childWorkload(x, seed)
	case "sender":
		childSender(x, seed)
	case "streamsend":
		childStreamSend(x, seed)
	case "keyed":
		childKeyed(x)
	}
	st := s.Stats()
	fmt.Printf("done: %d updates, %d retries (40001: %d, 40P01: %d, 23505: %d)\n", st.Updates, st.Attempts-st.Updates,
		st.SerializationFailures, st.Deadlocks, st.UniqueViolations)
	os.Exit(0)
}

// childWorkload runs 4 goroutines of random operations on the conversations
// among people, and prints "fail: ..." and exits at the first unexpected
// error. Concurrent deletes make ErrNotFound expected.
func childWorkload(x *messaging.Inboxes, seed int) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(seed), uint64(g)))
			for range 120 {
				a := people[r.IntN(len(people))]
				b := people[r.IntN(len(people))]
				if a == b {
					continue
				}
				if err := randomOp(ctx, x, r, a, b); err != nil && !errors.Is(err, messaging.ErrNotFound) && !errors.Is(err, messaging.ErrBlocked) {
					fmt.Printf("fail: %s/%s: %v\n", a, b, err)
					os.Exit(1)
				}
			}
		})
	}
	wg.Wait()
}

// randomOp does one random operation between a and b: a send (some with
// an idempotency key that repeats, so that some are retries), a read, a
// delete, a retract, a block or an unblock.
func randomOp(ctx context.Context, x *messaging.Inboxes, r *rand.Rand, a, b string) error {
	op := r.IntN(24)
	switch {
	case op < 8:
		_, err := x.SendMessage(ctx, a, b, fmt.Sprintf("from %s to %s", a, b))
		return err
	case op < 11:
		key := messaging.WithIdempotencyKey(fmt.Sprintf("%s>%s#%d", a, b, r.IntN(8)))
		_, err := x.SendMessage(ctx, a, b, fmt.Sprintf("from %s to %s", a, b), key)
		return err
	case op == 21:
		return x.Block(ctx, a, b)
	case op == 22:
		return x.Unblock(ctx, a, b)
	}
	in, err := x.Get(ctx, a)
	if err != nil {
		return err
	}
	c, err := in.Get(ctx, b)
	if err != nil {
		return err
	}
	switch {
	case op < 14:
		return c.MarkRead(ctx)
	case op < 17:
		page, err := c.Older(ctx, 0, 1+r.IntN(5))
		if err != nil || len(page) == 0 {
			return err
		}
		return c.MarkReadUpTo(ctx, page[len(page)-1].ID)
	case op < 19:
		page, err := c.Older(ctx, 0, 3)
		if err != nil || len(page) == 0 {
			return err
		}
		return c.DeleteMessage(ctx, page[r.IntN(len(page))].ID)
	case op < 21:
		page, err := c.Older(ctx, 0, 5)
		if err != nil {
			return err
		}
		for _, m := range page {
			if m.Sender == a {
				return c.Retract(ctx, m.ID)
			}
		}
		return nil
	default:
		return in.Delete(ctx, b)
	}
}

// TestSeveralProcesses runs three processes of random sends (some keyed),
// reads (all and up to a message), deletes of messages and conversations,
// retracts, blocks and unblocks, on overlapping conversations of one
// schema. Afterwards Verify finds nothing wrong, every stored count equals
// a count of the messages, and every user's event stream is gap-free.
func TestSeveralProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes or servers, or kills them: not with -short")
	}
	s := openStore(t)
	schema, x := s.Schema(), messaging.New(s)

	var cmds []*exec.Cmd
	var wg sync.WaitGroup
	for i := range 3 {
		cmd, out := startChild(t, "workload", schema, i+1)
		cmds = append(cmds, cmd)
		wg.Go(func() {
			for out.Scan() {
				switch line := out.Text(); {
				case strings.HasPrefix(line, "fail:"):
					t.Errorf("process %d: %s", i, line)
				case strings.HasPrefix(line, "done:"):
					t.Logf("process %d %s", i, line)
					// The commit pipelines lock in one order, and package
					// messaging's writes send nothing before them.
					assert.Contains(t, line, "40P01: 0,", "process %d: deadlocks", i)
				}
			}
		})
	}
	for i, cmd := range cmds {
		assert.NoError(t, cmd.Wait(), "process %d", i)
	}
	wg.Wait()
	assertSound(t, x)
	assertStreams(t, s)
}

// assertStreams checks that every stream is gap-free between its bounds.
func assertStreams(t *testing.T, s messaging.Store) {
	t.Helper()
	require.NoError(t, s.View(context.Background(), func(tx messaging.ReadTx) error {
		users, err := tx.Streams("", 1000)
		if err != nil {
			return err
		}
		for _, u := range users {
			first, last, err := tx.StreamBounds(u)
			if err != nil {
				return err
			}
			evs, err := tx.Events(u, 0, 10000)
			if err != nil {
				return err
			}
			if assert.Len(t, evs, int(last-first+1), "stream of %s", u) {
				for i, ev := range evs {
					assert.Equal(t, first+uint64(i), ev.Seq, "stream of %s", u)
				}
			}
		}
		return nil
	}))
}

// assertSound checks x with Verify, and recounts every conversation's
// messages against its counts and every inbox's unread count against its
// conversations'.
func assertSound(t *testing.T, x *messaging.Inboxes) {
	t.Helper()
	ctx := context.Background()
	problems, err := x.Verify(ctx)
	require.NoError(t, err)
	assert.Empty(t, problems)
	messages := 0
	for user, err := range x.Users(ctx) {
		require.NoError(t, err)
		in, err := x.Get(ctx, user)
		require.NoError(t, err)
		inboxUnread := 0
		for c, err := range in.Conversations(ctx) {
			require.NoError(t, err)
			count, unread := 0, 0
			for m, err := range c.Messages(ctx) {
				require.NoError(t, err)
				count++
				if m.New {
					unread++
				}
			}
			assert.Equal(t, count, c.MessageCount, "%s/%s: message count", user, c.Username)
			assert.Equal(t, unread, c.NewMessagesCount, "%s/%s: unread count", user, c.Username)
			inboxUnread += c.NewMessagesCount
			messages += count
		}
		assert.Equal(t, inboxUnread, in.NewMessagesCount, "%s: inbox unread count", user)
	}
	t.Logf("recounted %d message copies", messages)
}

// childSender sends from 8 goroutines, marking read now and then, and
// prints "ack ID SENDER RECIPIENT" for each send that returned nil, until
// it is killed.
func childSender(x *messaging.Inboxes, seed int) {
	ctx := context.Background()
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(seed), uint64(g)))
			for i := 0; ; i++ {
				from, to := people[r.IntN(len(people))], people[r.IntN(len(people))]
				if from == to {
					continue
				}
				m, err := x.SendMessage(ctx, from, to, fmt.Sprintf("g%d #%d", g, i))
				if err != nil {
					fmt.Println("fail: send:", err)
					os.Exit(3)
				}
				if i%5 == 0 {
					if in, err := x.Get(ctx, to); err == nil {
						if c, err := in.Get(ctx, from); err == nil {
							_ = c.MarkRead(ctx)
						}
					}
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %d %s %s\n", m.ID, from, to)
				out.Flush() // the ack leaves only after the send returned
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

type ack struct {
	id       uint64
	from, to string
}

// TestSIGKILLClient kills a process that is sending with SIGKILL at a
// random moment, five times over one schema, and checks after each kill
// that every acknowledged message is there in both copies and that
// Verify and a recount find nothing wrong: the server rolls back what the
// dead process had in flight.
func TestSIGKILLClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes or servers, or kills them: not with -short")
	}
	s := openStore(t)
	schema, x := s.Schema(), messaging.New(s)
	total := 0
	for round := range 5 {
		acks := killRound(t, schema, round, time.Duration(100+rand.IntN(300))*time.Millisecond)
		require.NotEmpty(t, acks, "round %d: nothing acknowledged before the kill", round)
		total += len(acks)
		assertAcked(t, s, acks)
		assertSound(t, x)
		assertStreams(t, s)
	}
	t.Logf("5 rounds, %d acknowledged sends checked", total)
}

// assertAcked checks that every acknowledged send has both its copies.
func assertAcked(t *testing.T, s messaging.Store, acks []ack) {
	t.Helper()
	require.NoError(t, s.View(context.Background(), func(tx messaging.ReadTx) error {
		for _, a := range acks {
			for _, side := range [][2]string{{a.from, a.to}, {a.to, a.from}} {
				_, err := tx.Message(side[0], side[1], a.id)
				if errors.Is(err, messaging.ErrNotFound) {
					t.Errorf("acknowledged message %d from %s to %s: %s's copy is missing", a.id, a.from, a.to, side[0])
					continue
				}
				if err != nil {
					return err
				}
			}
		}
		return nil
	}))
}

// killRound runs a sender process, kills it delay after its first ack, and
// returns the acks it printed whole.
func killRound(t *testing.T, schema string, seed int, delay time.Duration) []ack {
	t.Helper()
	cmd, out := startChild(t, "sender", schema, seed)
	var acks []ack
	var timer <-chan time.Time
	killed := false
	deadline := time.After(30 * time.Second)
	for out.Scan() {
		line := out.Text()
		if strings.HasPrefix(line, "fail:") {
			_ = cmd.Process.Kill()
			t.Fatalf("child: %s", line)
		}
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "ack" {
			continue // cut by the kill
		}
		id, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		acks = append(acks, ack{id, f[2], f[3]})
		if timer == nil {
			timer = time.After(delay)
		}
		if !killed {
			select {
			case <-timer:
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
				killed = true
			case <-deadline:
				_ = cmd.Process.Kill()
				t.Fatal("the child never reached the kill")
			default:
			}
		}
	}
	require.True(t, killed, "the child exited by itself after %d acks", len(acks))
	var exitErr *exec.ExitError
	require.ErrorAs(t, cmd.Wait(), &exitErr)
	return acks
}

// childStreamSend sends n messages from ann to bob, one after the other,
// printing "fail: ..." at the first error.
func childStreamSend(x *messaging.Inboxes, n int) {
	for i := range n {
		if _, err := x.SendMessage(context.Background(), "ann", "bob", fmt.Sprintf("from the child %d", i)); err != nil {
			fmt.Println("fail:", err)
			os.Exit(1)
		}
	}
}

// childKeyed prints "ready", waits for a line on its standard input, then
// sends one message with one idempotency key from 8 goroutines at once,
// and prints "id N" for each send that returned.
func childKeyed(x *messaging.Inboxes) {
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Println("fail: read the go:", err)
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 8 {
		wg.Go(func() {
			m, err := x.SendMessage(context.Background(), "ann", "bob", "once", messaging.WithIdempotencyKey("the key"))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fmt.Println("fail:", err)
				return
			}
			fmt.Println("id", m.ID)
		})
	}
	wg.Wait()
}

// TestStreamFromAnotherProcess: a subscriber in this process receives,
// in order and gap-free, the events another process commits.
func TestStreamFromAnotherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes or servers, or kills them: not with -short")
	}
	s := openStore(t)
	x := messaging.New(s)
	sub, err := x.Subscribe("bob")
	require.NoError(t, err)
	defer sub.Close()
	waitFor(t, 5*time.Second, "the watcher's first poll", func() bool { return s.Stats().Polls > 0 })
	const n = 20
	cmd, out := startChild(t, "streamsend", s.Schema(), n)
	for i := range n {
		ev := nextWithin(t, sub, 10*time.Second)
		assert.Equal(t, uint64(i+1), ev.Seq)
		assert.Equal(t, fmt.Sprintf("from the child %d", i), ev.Message.Text)
	}
	for out.Scan() {
		assert.NotContains(t, out.Text(), "fail:")
	}
	require.NoError(t, cmd.Wait())
}

// TestIdempotencyAcrossProcesses: this process and another send one
// message with one idempotency key from 8 goroutines each, at once: one
// message is made, and every send returns its ID.
func TestIdempotencyAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes or servers, or kills them: not with -short")
	}
	s := openStore(t)
	x := messaging.New(s)
	cmd, out, in := startChildIn(t, "keyed", s.Schema(), 0)
	require.True(t, out.Scan())
	require.Equal(t, "ready", out.Text())
	var ids sync.Map
	var wg sync.WaitGroup
	_, err := fmt.Fprintln(in, "go")
	require.NoError(t, err)
	for range 8 {
		wg.Go(func() {
			m, err := x.SendMessage(context.Background(), "ann", "bob", "once", messaging.WithIdempotencyKey("the key"))
			if assert.NoError(t, err) {
				ids.Store(m.ID, true)
			}
		})
	}
	theirs := 0
	for out.Scan() {
		line := out.Text()
		assert.NotContains(t, line, "fail:")
		if id, ok := strings.CutPrefix(line, "id "); ok {
			n, err := strconv.ParseUint(id, 10, 64)
			require.NoError(t, err)
			ids.Store(n, true)
			theirs++
		}
	}
	require.NoError(t, cmd.Wait())
	wg.Wait()
	assert.Equal(t, 8, theirs)
	var all []uint64
	ids.Range(func(k, _ any) bool { all = append(all, k.(uint64)); return true })
	assert.Len(t, all, 1, "one message ID for all 16 sends")
	c, err := x.Conversation(context.Background(), "bob", "ann")
	require.NoError(t, err)
	assert.Equal(t, 1, c.MessageCount)
	assertSound(t, x)
}
