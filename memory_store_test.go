package messaging_test

import (
	"testing"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/storetest"
)

// TestMemoryStoreConformance runs the Store conformance suite on MemoryStore.
func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) messaging.Store { return messaging.NewMemoryStore() })
}
