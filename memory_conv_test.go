package messaging

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fill sets every field of the struct v points to, recursively, to a value
// of its own that is not zero, so that a packed form which forgets a field
// (one added to the record later) fails the round trip below.
func fill(t *testing.T, v reflect.Value, n *int) {
	t.Helper()
	for i := range v.NumField() {
		f := v.Field(i)
		*n++
		switch {
		case f.Type() == reflect.TypeFor[time.Time]():
			f.Set(reflect.ValueOf(time.Date(1+*n*37, time.March, 1, 2, 3, 4, 5+*n, time.UTC)))
		case f.Kind() == reflect.Struct:
			fill(t, f, n)
		case f.Kind() == reflect.String:
			f.SetString(fmt.Sprint("s", *n))
		case f.CanInt():
			f.SetInt(int64(-*n))
		case f.CanUint():
			f.SetUint(1<<63 + uint64(*n))
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.Type() == reflect.TypeFor[map[string]string]():
			f.Set(reflect.ValueOf(map[string]string{fmt.Sprint("k", *n): fmt.Sprint("v", *n)}))
		default:
			require.Failf(t, "field kind not handled", "%s %s", v.Type().Field(i).Name, f.Kind())
		}
	}
}

func TestMemConvRecordKeepsEveryField(t *testing.T) {
	var rec ConversationRecord
	n := 0
	fill(t, reflect.ValueOf(&rec).Elem(), &n)
	for _, users := range [][2]string{
		{rec.Last.Sender, rec.Last.Recipient}, // neither user: kept beside
		{rec.Other, rec.Owner},
		{rec.Owner, rec.Other},
		{"", ""},
		{rec.Owner, ""},
	} {
		rec.Last.Sender, rec.Last.Recipient = users[0], users[1]
		packed := packConv(&rec)
		assert.Equal(t, rec, packed.record(rec.Owner, rec.Other), "Last from %q to %q", users[0], users[1])
	}
}

func TestMemMsgKeepsEveryField(t *testing.T) {
	var m MessageRecord
	n := 0
	fill(t, reflect.ValueOf(&m).Elem(), &n)
	const owner, other = "bob", "dave"
	for _, users := range [][2]string{{m.Sender, m.Recipient}, {owner, other}, {other, owner}, {"", ""}} {
		m.Sender, m.Recipient = users[0], users[1]
		e := packMsg(owner, other, &m)
		odd := [2]string{m.Sender, m.Recipient}
		assert.Equal(t, m, e.record(owner, other, &odd, m.Meta), "metadata is kept beside the entry")
		if e.dir != dirOdd {
			assert.Equal(t, m, e.record(owner, other, nil, m.Meta), "no odd users needed from %q to %q", users[0], users[1])
		}
	}
}

// TestMemConvMatchesReference runs random puts, removals and reads on one
// conversation and on a plain slice, across the size at which the
// conversation starts keeping an ID index.
func TestMemConvMatchesReference(t *testing.T) {
	const owner, other = "bob", "dave"
	r := rand.New(rand.NewPCG(3, 5))
	for round := range 20 {
		c := new(memConv)
		c.init(&ConversationRecord{Owner: owner, Other: other})
		var ref []MessageRecord // by ID
		size := 1 + r.IntN(3*smallConv)
		for step := range 400 {
			id := uint64(1 + r.IntN(size))
			i, found := slices.BinarySearchFunc(ref, id, func(m MessageRecord, id uint64) int { return cmp.Compare(m.ID, id) })
			switch op := r.IntN(8); {
			case op < 4:
				m := MessageRecord{ID: id, Text: fmt.Sprint("text ", step),
					Created: time.Unix(int64(r.IntN(5)), int64(r.IntN(3))).UTC()}
				pair := [][2]string{{owner, other}, {other, owner}, {"x", "y"}}[r.IntN(3)]
				m.Sender, m.Recipient = pair[0], pair[1]
				if found {
					c.remove(id)
					ref[i] = m
				} else {
					ref = slices.Insert(ref, i, m)
				}
				e := packMsg(owner, other, &m)
				c.insert(e, [2]string{m.Sender, m.Recipient})
			case op < 6:
				e, _, ok := c.remove(id)
				require.Equal(t, found, ok, "round %d step %d: remove %d", round, step, id)
				if found {
					assert.Equal(t, id, e.id)
					ref = slices.Delete(ref, i, i+1)
				}
			default:
				e, ok := c.find(id)
				require.Equal(t, found, ok, "round %d step %d: find %d", round, step, id)
				if found {
					assert.Equal(t, ref[i], c.message(owner, &e))
				}
				limit := 1 + r.IntN(size)
				want := ref[i:]
				if found {
					want = ref[i+1:]
				}
				want = want[:min(len(want), limit)]
				assert.Equal(t, nilIfEmpty(want), c.messages(owner, c.byID(id, limit)), "round %d step %d: byID %d", round, step, id)
			}
			byKey := slices.SortedFunc(slices.Values(ref), func(a, b MessageRecord) int { return a.Key().Compare(b.Key()) })
			require.Equal(t, nilIfEmpty(byKey), c.messages(owner, c.msgs.after(nil, false, len(ref)+1)), "round %d step %d", round, step)
			require.Equal(t, len(ref), c.msgs.len())
			if ids := c.index(); ids != nil {
				require.Equal(t, len(ref), ids.len())
			}
		}
	}
}
