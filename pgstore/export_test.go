package pgstore

// WaitBackground waits for the ROLLBACKs of Views that are still in
// flight, so that a test can count what went over the wire.
func WaitBackground(s *Store) { s.bg.Wait() }

// The encodings of codec.go, for fixtures written with COPY.
var (
	EncodeID   = encodeID
	EncodeTime = encodeTime
)

// MigrationSQL is the SQL of migration v, for a test that builds a schema
// as an older version of this package left it.
func MigrationSQL(v int) string { return migrations[v-1].sql }

// ScanSQL is the Scanner's statements: messages from the start and after
// a position, then tombstones the same.
func ScanSQL(s *Store) []string {
	q := s.q.scan
	return []string{q.msgs, q.msgsAfter, q.tombs, q.tombsAfter}
}
