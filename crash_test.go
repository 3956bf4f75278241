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

// TestCrashChild is the child of TestCrashRecovery: it sends from 8
// goroutines, durably, and prints "ack ID SENDER RECIPIENT" for each send
// that returned nil, until it is killed.
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
				if i%7 == 0 { // counters move on reads too
					if c, err := inboxGet(x, to, from); err == nil {
						_ = c.MarkRead(ctx)
					}
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %d %s %s\n", m.ID, from, to)
				out.Flush() // the ack leaves the process only after the send returned
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

// TestCrashRecovery kills a child that is sending with SIGKILL at a random
// moment, several times over the same file, and checks after each crash
// that every acknowledged message is there in both copies and that Verify
// finds nothing wrong.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	rounds := 4
	total := 0
	for round := range rounds {
		acks := crashRound(t, path, time.Duration(50+rand.IntN(400))*time.Millisecond)
		total += len(acks)
		require.NotEmpty(t, acks, "round %d: the child acknowledged nothing before the kill", round)

		x, err := messaging.Open(path)
		require.NoError(t, err, "round %d: reopen after SIGKILL", round)
		for _, a := range acks {
			for _, side := range [][2]string{{a.from, a.to}, {a.to, a.from}} {
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
	t.Logf("%d rounds, %d acknowledged messages checked", rounds, total)
}

// crashRound runs the child on path, kills it after delay from its first
// ack, and returns the acks it printed in full.
func crashRound(t *testing.T, path string, delay time.Duration) []ack {
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
	var killed bool
	deadline := time.After(30 * time.Second)
	var timer <-chan time.Time
	for line := range lines {
		if !strings.HasPrefix(line, "ack ") {
			if strings.HasPrefix(line, "open:") || strings.HasPrefix(line, "send:") {
				t.Fatalf("child: %s", line)
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
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
	return acks
}
