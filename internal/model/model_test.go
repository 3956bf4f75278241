package model_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/internal/model"
)

// stores are the stores the model test runs on; pgstore runs it too.
var stores = []struct {
	name string
	open func(t testing.TB) messaging.Store
}{
	{"memory", func(t testing.TB) messaging.Store { return messaging.NewMemoryStore() }},
	{"bolt", func(t testing.TB) messaging.Store {
		s, err := messaging.OpenBoltStore(filepath.Join(t.TempDir(), "model.db"), &messaging.BoltOptions{NoSync: true})
		require.NoError(t, err)
		return s
	}},
}

// runs returns the seeds and ops per seed: 50 × 1000 = 50 000 ops per store,
// 5 × 400 with -short or -race (the test is one goroutine; .ci/run runs it
// in full without -race). Many short runs rather than a few long ones: every op
// reads the whole store back, so a store that grows for thousands of ops
// makes the run quadratic, and most bugs show in the first few hundred
// ops. MESSAGING_MODEL_SEED and MESSAGING_MODEL_OPS replay one seed.
func runs(t *testing.T) (seeds []uint64, ops int) {
	if s := os.Getenv("MESSAGING_MODEL_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		ops, err := strconv.Atoi(os.Getenv("MESSAGING_MODEL_OPS"))
		require.NoError(t, err, "set MESSAGING_MODEL_OPS too")
		return []uint64{seed}, ops
	}
	n, ops := 50, 1000
	if testing.Short() || raceEnabled {
		n, ops = 5, 400
	}
	for i := range n {
		seeds = append(seeds, uint64(i+1))
	}
	return seeds, ops
}

func TestModel(t *testing.T) {
	seeds, n := runs(t)
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			total := model.Stats{}
			for _, seed := range seeds {
				stats := model.Check(t, func(t testing.TB, clock *model.Clock) *messaging.Inboxes {
					x, err := messaging.NewWithOptions(st.open(t), &messaging.Options{Now: clock.Now})
					require.NoError(t, err)
					return x
				}, seed, n)
				for k, c := range stats {
					if total[k] == nil {
						total[k] = new([2]int)
					}
					total[k][0] += c[0]
					total[k][1] += c[1]
				}
			}
			t.Logf("%d seeds × %d ops; done/run per kind: %v", len(seeds), n, total)
		})
	}
}
