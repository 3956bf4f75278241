package pgstore

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestCommitOrderWaitsForSmallerStamps plays three commits whose pipelines
// return out of stamp order: callbacks still run in stamp order, and a
// transaction waits for the ones that were in flight when its stamp came
// back (one of which fails).
func TestCommitOrderWaitsForSmallerStamps(t *testing.T) {
	var o commitOrder
	a, b, c := o.begin(), o.begin(), o.begin()
	var mu sync.Mutex
	var ran []string
	record := func(name string) func() {
		return func() { mu.Lock(); ran = append(ran, name); mu.Unlock() }
	}
	var wg sync.WaitGroup
	wg.Go(func() { c.committed(30, []func(){record("c")}) }) // came back first, stamp 30
	time.Sleep(20 * time.Millisecond)
	wg.Go(func() { b.committed(20, []func(){record("b")}) })
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	assert.Empty(t, ran, "a is still in flight: it might have stamped first")
	mu.Unlock()
	a.failed()
	wg.Wait()
	assert.Equal(t, []string{"b", "c"}, ran)

	// A transaction begun after a stamp came back stamps later: no wait.
	d := o.begin()
	d.committed(40, []func(){record("d")})
	assert.Equal(t, []string{"b", "c", "d"}, ran)
}

// TestCommitOrderPanicReleasesOthers: a panicking callback still lets the
// transactions after it run theirs.
func TestCommitOrderPanicReleasesOthers(t *testing.T) {
	var o commitOrder
	a, b := o.begin(), o.begin()
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.committed(2, []func(){func() {}})
	}()
	assert.Panics(t, func() { a.committed(1, []func(){func() { panic("boom") }}) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("b still waits for a, whose callback panicked")
	}
}
