package messaging_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/storetest"
)

// TestBoltStoreConformance runs the Store conformance suite on BoltStore,
// one file per subtest, without fsync.
func TestBoltStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) messaging.Store {
		s, err := messaging.OpenBoltStore(filepath.Join(t.TempDir(), "messages.db"), &messaging.BoltOptions{NoSync: true})
		require.NoError(t, err)
		return s
	})
}
