package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// emit prints v as one indented JSON document: the library's own types
// marshal with stable snake_case names.
func (c *cli) emit(v any) error {
	enc := json.NewEncoder(c.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// human formats a time for people: local zone, to the minute.
func human(t time.Time) string { return t.Local().Format("2006-01-02 15:04") }

// printable escapes the control characters of a text for a terminal (a
// message could otherwise move the cursor, clear the screen or forge
// lines), and leaves every other character as it is.
func printable(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r) // '\n', '\x1b', '\u0085'
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}
