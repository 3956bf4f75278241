package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// TestBuildBigStore builds the store BENCHMARKS.md measures copy with: a
// bbolt file of MESSAGING_BIG_SENDS sends (1 000 000 by default) among 1000
// users, 80-byte texts, a read now and then, every event history full. It
// runs only when MESSAGING_BIG_STORE names the file to build:
//
//	MESSAGING_BIG_STORE=/tmp/big.db go test -run TestBuildBigStore -timeout 60m ./cmd/messaging/
func TestBuildBigStore(t *testing.T) {
	path := os.Getenv("MESSAGING_BIG_STORE")
	if path == "" {
		t.Skip("set MESSAGING_BIG_STORE=PATH to build the store of the copy benchmark")
	}
	sends := 1_000_000
	if s := os.Getenv("MESSAGING_BIG_SENDS"); s != "" {
		var err error
		sends, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	s, err := messaging.OpenBoltStore(path, &messaging.BoltOptions{NoSync: true})
	require.NoError(t, err)
	x := messaging.New(s)
	defer func() { require.NoError(t, x.Close()) }()
	ctx := context.Background()
	var done atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 42))
			text := fmt.Sprintf("%080d", w)
			for i := w; i < sends; i += workers {
				from, to := r.IntN(1000), r.IntN(1000)
				if from == to {
					to = (to + 1) % 1000
				}
				m, err := x.SendMessage(ctx, fmt.Sprintf("user%04d", from), fmt.Sprintf("user%04d", to), text)
				if err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 {
					if c, err := x.Conversation(ctx, fmt.Sprintf("user%04d", to), fmt.Sprintf("user%04d", from)); err == nil {
						_ = c.MarkReadUpTo(ctx, m.ID)
					}
				}
				if n := done.Add(1); n%100_000 == 0 {
					t.Logf("%d sends, %.0f/s", n, float64(n)/time.Since(start).Seconds())
				}
			}
		})
	}
	wg.Wait()
	n, err := messaging.Count(ctx, s)
	require.NoError(t, err)
	t.Logf("%+v in %v", n, time.Since(start).Round(time.Second))
}
