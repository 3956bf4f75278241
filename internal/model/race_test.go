//go:build race

package model_test

// raceEnabled: under -race every op costs ten times as much, and the model
// test runs one goroutine, so .ci/run gives it its full count without -race.
const raceEnabled = true
