package model

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/socialkit/messaging"
)

// Open returns fresh Inboxes on a fresh store whose clock is clock
// (Options.Now = clock.Now). The caller closes them.
type Open func(t testing.TB, clock *Clock) *messaging.Inboxes

// Check runs n random ops from seed against the library and the model, and
// returns how many of each kind did something. On a disagreement it shrinks
// the failing sequence (for at most shrinkFor) to a short one that still
// fails, and fails t with the seed and that list.
func Check(t testing.TB, open Open, seed uint64, n int) Stats {
	t.Helper()
	ops := Generate(seed, n)
	stats := Stats{}
	err := replay(t, open, ops, stats)
	if err == nil {
		return stats
	}
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("seed %d: %v", seed, err)
	}
	short := Shrink(ops[:f.At+1], func(ops []Op) bool {
		var f *Failure
		return errors.As(replay(t, open, ops, nil), &f)
	}, shrinkFor)
	final := replay(t, open, short, nil)
	var b strings.Builder
	for i, op := range short {
		fmt.Fprintf(&b, "  %3d %v\n", i, op)
	}
	t.Fatalf("seed %d, %d ops: %v\nshrunk to %d ops, failing with %v:\n%s", seed, n, err, len(short), final, b.String())
	return nil
}

const shrinkFor = 2 * time.Minute

// replay runs ops on fresh Inboxes.
func replay(t testing.TB, open Open, ops []Op, stats Stats) error {
	clock := NewClock(Start)
	x := open(t, clock)
	defer x.Close()
	return Run(context.Background(), x, clock, ops, stats)
}

// Shrink removes ever smaller runs of ops while fails still holds of what
// is left, until no single op can go or the time is up.
func Shrink(ops []Op, fails func([]Op) bool, budget time.Duration) []Op {
	deadline := time.Now().Add(budget)
	for chunk := len(ops) / 2; chunk >= 1; chunk /= 2 {
		for i := 0; i+chunk <= len(ops); {
			if time.Now().After(deadline) {
				return ops
			}
			cand := append(append([]Op{}, ops[:i]...), ops[i+chunk:]...)
			if fails(cand) {
				ops = cand
			} else {
				i += chunk
			}
		}
	}
	return ops
}
