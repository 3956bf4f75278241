package storetest

import (
	"slices"
	"time"

	"github.com/socialkit/messaging"
)

// Comparing records: one representation for equal instants, and the orders
// the suite sorts by.

// canon gives equal instants one representation, so that records compare
// with assert.Equal exactly when their times are Equal.
func canon(tm time.Time) time.Time { return tm.UTC().Round(0) }

func normMsg(m messaging.MessageRecord) messaging.MessageRecord {
	m.Created = canon(m.Created)
	if len(m.Meta) == 0 {
		m.Meta = nil
	}
	return m
}

func normConv(c messaging.ConversationRecord) messaging.ConversationRecord {
	c.LastUpdate = canon(c.LastUpdate)
	c.Last = normMsg(c.Last)
	return c
}

// normMsgs returns a normalised copy; an empty list is nil.
func normMsgs(ms []messaging.MessageRecord) []messaging.MessageRecord {
	var out []messaging.MessageRecord
	for _, m := range ms {
		out = append(out, normMsg(m))
	}
	return out
}

func normConvs(cs []messaging.ConversationRecord) []messaging.ConversationRecord {
	var out []messaging.ConversationRecord
	for _, c := range cs {
		out = append(out, normConv(c))
	}
	return out
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func reversed[T any](s []T) []T {
	out := slices.Clone(nilIfEmpty(s))
	slices.Reverse(out)
	return out
}

func byMsgKey(a, b messaging.MessageRecord) int { return a.Key().Compare(b.Key()) }

func byConvKey(a, b messaging.ConversationRecord) int { return a.Key().Compare(b.Key()) }

func ids(ms []messaging.MessageRecord) []uint64 {
	var out []uint64
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func others(cs []messaging.ConversationRecord) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Other)
	}
	return out
}
