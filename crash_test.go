package messaging_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// crashEnv names the store file of a crash child; set only in the child.
const crashEnv = "MESSAGING_CRASH_CHILD_DB"

var crashPeople = []string{"ann", "bob", "cat", "dan", "eve", "fay"}

// TestCrashChild is the child of TestCrashRecovery: from 8 goroutines it
// sends durably, marks read (all, or up to a message), deletes single
// copies and now and then a whole conversation, until it is killed. It
// prints "ack ID SENDER RECIPIENT" for each send that returned nil, and
// "drop OWNER OTHER [ID]" before each delete, so that the parent knows
// which copies may be gone.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("run by TestCrashRecovery")
	}
	x, err := messaging.Open(path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush() // the line leaves the process before what it announces happens, or after what it acknowledges
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for i := 0; ; i++ {
				from := crashPeople[r.IntN(len(crashPeople))]
				to := crashPeople[r.IntN(len(crashPeople))]
				if from == to {
					continue
				}
				m, err := x.SendMessage(ctx, from, to, fmt.Sprintf("w%d #%d", w, i))
				if err != nil {
					fmt.Println("send:", err)
					os.Exit(3)
				}
				say("ack %d %s %s", m.ID, from, to)
				c, err := inboxGet(x, to, from)
				if err != nil {
					continue // deleted meanwhile by another goroutine
				}
				switch r.IntN(500) {
				case 0: // rare: it makes every copy of the pair "may be gone" for the round
					say("drop %s %s", to, from)
					if box, err := x.Get(ctx, to); err == nil {
						_ = box.Delete(ctx, from)
					}
				}
				switch r.IntN(10) {
				case 0:
					_ = c.MarkRead(ctx)
				case 1:
					_ = c.MarkReadUpTo(ctx, m.ID)
				case 2:
					say("drop %s %s %d", to, from, m.ID)
					_ = c.DeleteMessage(ctx, m.ID)
				}
			}
		})
	}
	wg.Wait()
}

type ack struct {
	id       uint64
	from, to string
}

// drops are the deletes a child announced: copies (owner, other, ID) and
// whole conversations (owner, other, 0) that may be gone.
type drops map[[2]string]map[uint64]bool

func (d drops) may(owner, other string, id uint64) bool {
	return d[[2]string{owner, other}][id] || d[[2]string{owner, other}][0]
}

// TestCrashRecovery kills a child that sends, marks read and deletes, with
// SIGKILL at a random moment, ten times over the same file, and checks
// after each crash that every acknowledged message is there in both copies
// (but those whose delete the child announced) and that Verify finds
// nothing wrong.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	rounds := 10
	total, dropped := 0, 0
	for round := range rounds {
		acks, drop := crashRound(t, path, time.Duration(50+rand.IntN(400))*time.Millisecond)
		total += len(acks)
		require.NotEmpty(t, acks, "round %d: the child acknowledged nothing before the kill", round)

		x, err := messaging.Open(path)
		require.NoError(t, err, "round %d: reopen after SIGKILL", round)
		for _, a := range acks {
			for _, side := range [][2]string{{a.from, a.to}, {a.to, a.from}} {
				if drop.may(side[0], side[1], a.id) {
					dropped++
					continue
				}
				c, err := inboxGet(x, side[0], side[1])
				require.NoError(t, err, "round %d: acknowledged message %d: conversation %s/%s", round, a.id, side[0], side[1])
				found := false
				for m, err := range c.Messages(ctx) {
					require.NoError(t, err)
					if m.ID == a.id {
						found = true
						break
					}
				}
				assert.True(t, found, "round %d: acknowledged message %d missing from %s's copy", round, a.id, side[0])
			}
		}
		problems, err := x.Verify(ctx)
		require.NoError(t, err)
		assert.Empty(t, problems, "round %d", round)
		require.NoError(t, x.Close())
	}
	t.Logf("%d rounds, %d acknowledged messages checked (%d copies announced as deleted)", rounds, total, dropped)
}

// crashRound runs the child on path, kills it after delay from its first
// ack, and returns the acks and drops it printed in full.
func crashRound(t *testing.T, path string, delay time.Duration) ([]ack, drops) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())

	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var acks []ack
	drop := drops{}
	var killed bool
	deadline := time.After(30 * time.Second)
	var timer <-chan time.Time
	for line := range lines {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "open:") || strings.HasPrefix(line, "send:"):
			t.Fatalf("child: %s", line)
		case len(f) >= 3 && f[0] == "drop":
			pair := [2]string{f[1], f[2]}
			if drop[pair] == nil {
				drop[pair] = map[uint64]bool{}
			}
			id := uint64(0) // the whole conversation
			if len(f) == 4 {
				id, _ = strconv.ParseUint(f[3], 10, 64)
			}
			drop[pair][id] = true
			continue
		case len(f) != 4 || f[0] != "ack":
			continue
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
				t.Fatal("child never reached the kill")
			default:
			}
		}
	}
	if !killed {
		t.Fatalf("child exited by itself after %d acks", len(acks))
	}
	err = cmd.Wait()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	return acks, drop
}
