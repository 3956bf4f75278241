//go:build race

package pgstore_test

// raceEnabled: under -race the model test, one goroutine, runs fewer
// operations (every one costs several times as much).
const raceEnabled = true
