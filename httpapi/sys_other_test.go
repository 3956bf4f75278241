//go:build !unix

package httpapi_test

import (
	"testing"
	"time"
)

// raiseFileLimit leaves the limits of other systems as they are.
func raiseFileLimit(*testing.B, uint64) {}

// processCPU is not measured on other systems.
func processCPU() (time.Duration, bool) { return 0, false }
