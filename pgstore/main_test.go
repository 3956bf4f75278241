package pgstore_test

import (
	"testing"

	"github.com/socialkit/messaging/pgstore/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
