package pgstore

// WaitBackground waits for the ROLLBACKs of Views that are still in
// flight, so that a test can count what went over the wire.
func WaitBackground(s *Store) { s.bg.Wait() }

// The encodings of codec.go, for fixtures written with COPY.
var (
	EncodeID   = encodeID
	EncodeTime = encodeTime
)
