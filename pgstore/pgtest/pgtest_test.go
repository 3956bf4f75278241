package pgtest

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSchemaName(t *testing.T) {
	valid := regexp.MustCompile(`^t_[a-z0-9_]+_[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for _, name := range []string{"TestX", "TestConformance/Keys/UserIDsKeptApart", strings.Repeat("Ünïcode/", 20)} {
		s := SchemaName(name)
		assert.Regexp(t, valid, s)
		assert.LessOrEqual(t, len(s), 63, "PostgreSQL truncates identifiers beyond 63 bytes")
		assert.False(t, seen[s])
		seen[s] = true
	}
	assert.NotEqual(t, SchemaName("TestX"), SchemaName("TestX"), "unique per call")
}

// TestURLSkipsWithoutServer: without Main (this package's tests have no
// server), URL skips the test and says how to run it.
func TestURLSkipsWithoutServer(t *testing.T) {
	var skipped bool
	t.Run("needs PostgreSQL", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		URL(t)
		t.Error("URL returned without a server")
	})
	assert.True(t, skipped)
	assert.Contains(t, howTo, EnvURL)
	assert.Contains(t, howTo, "postgresql-15")
}
