package model

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Kind is what an Op does.
type Kind uint8

// The operations the random test runs.
const (
	Send Kind = iota
	MarkRead
	MarkReadUpTo
	DeleteMessage
	DeleteConversation
	DeleteInbox
	Page             // Older or Newer around a message
	ConversationPage // a page of conversations after a saved cursor
	Block            // A blocks B
	Unblock          // A unblocks B
	Retract          // A retracts a message it sent to B
	numKinds
)

var kindNames = [...]string{"send", "mark-read", "mark-read-up-to", "delete-message", "delete-conversation",
	"delete-inbox", "page", "conversation-page", "block", "unblock", "retract"}

func (k Kind) String() string { return kindNames[k] }

// Op is one operation, as data, so that a failing sequence can be replayed
// and shrunk. Messages and cursors are named by the order they appeared in,
// not by value, so an op still means something when earlier ops are removed.
type Op struct {
	Kind    Kind
	A, B    string            // the users: sender and recipient, or owner and other
	Text    string            // Send
	Meta    map[string]string // Send: WithMeta, if not nil
	Key     string            // Send: WithIdempotencyKey, if not ""
	Created time.Duration     // Send: WithCreated at the clock plus this; 0: no WithCreated
	Msg     int               // which message: 0 the newest sent so far, 1 the one before...; -1: 0 (Page) or an ID never sent
	Follow  bool              // MarkReadUpTo, DeleteMessage, Retract, Page: act in the message's own conversation
	Side    bool              // with Follow: the recipient's side rather than the sender's
	Limit   int               // Page, ConversationPage
	Reverse bool              // Page: Older rather than Newer
	Cursor  int               // ConversationPage: an index into the cursors saved so far; -1: from the start
	Clock   time.Duration     // how far the clock moves before the op (negative: it steps back)
}

func (o Op) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", o.Kind, o.A)
	if o.Kind != DeleteInbox {
		fmt.Fprintf(&b, "→%s", o.B)
	}
	switch o.Kind {
	case Send:
		fmt.Fprintf(&b, " %q", clip(o.Text))
		if o.Created != 0 {
			fmt.Fprintf(&b, " created=clock%+v", o.Created)
		}
		if o.Meta != nil {
			fmt.Fprintf(&b, " meta=%v", o.Meta)
		}
		if o.Key != "" {
			fmt.Fprintf(&b, " key=%q", o.Key)
		}
	case MarkReadUpTo, DeleteMessage, Retract:
		fmt.Fprintf(&b, " msg#%d", o.Msg)
	case Page:
		dir := "newer"
		if o.Reverse {
			dir = "older"
		}
		fmt.Fprintf(&b, " %s msg#%d limit=%d", dir, o.Msg, o.Limit)
	case ConversationPage:
		fmt.Fprintf(&b, " cursor#%d limit=%d", o.Cursor, o.Limit)
	}
	if o.Clock != 0 {
		fmt.Fprintf(&b, " (clock %+v)", o.Clock)
	}
	return b.String()
}

func clip(s string) string {
	if r := []rune(s); len(r) > 12 {
		return string(r[:12]) + "…"
	}
	return s
}

// Users are the ids the random test uses: few, so that conversations meet
// and collide, and one with characters a careless key would mangle.
var Users = []string{"ann", "bob", "cy", "dee", "e/é:%"}

// Generate returns n random operations from seed.
func Generate(seed uint64, n int) []Op {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ops := make([]Op, n)
	for i := range ops {
		ops[i] = randomOp(r, i)
	}
	return ops
}

// weights of each Kind, in Kind order.
var weights = [numKinds]int{Send: 36, MarkRead: 8, MarkReadUpTo: 8, DeleteMessage: 12, DeleteConversation: 4,
	DeleteInbox: 2, Page: 12, ConversationPage: 12, Block: 1, Unblock: 4, Retract: 5}

func randomOp(r *rand.Rand, i int) Op {
	total := 0
	for _, w := range weights {
		total += w
	}
	pick := r.IntN(total)
	var k Kind
	for k = 0; pick >= weights[k]; k++ {
		pick -= weights[k]
	}
	a := Users[r.IntN(len(Users))]
	b := Users[r.IntN(len(Users))]
	for b == a {
		b = Users[r.IntN(len(Users))]
	}
	op := Op{Kind: k, A: a, B: b, Msg: -1, Cursor: -1}
	switch r.IntN(20) {
	case 0: // the clock steps back
		op.Clock = -time.Duration(r.IntN(10_000)) * time.Millisecond
	case 1, 2: // no time passes
	default:
		op.Clock = time.Duration(r.IntN(2_000)) * time.Millisecond
	}
	// Recent messages are the interesting ones: they are still there.
	op.Msg = r.IntN(12)
	if r.IntN(4) == 0 {
		op.Msg = r.IntN(60)
	}
	op.Follow = r.IntN(5) != 0 // mostly where the message is: the other ops test what is not found
	op.Side = r.IntN(2) == 0
	if k == Retract && r.IntN(5) != 0 {
		op.Side = false // mostly the sender, who may retract
	}
	if r.IntN(10) == 0 {
		op.Msg = -1
	}
	switch k {
	case Send:
		op.Text = randomText(r, i)
		switch r.IntN(8) {
		case 0:
			op.Meta = map[string]string{"file": fmt.Sprintf("https://f.example/%d", i), "type": "image/png"}
		case 1:
			op.Meta = map[string]string{"k\u00e9": "nul\x00 inside"}
			op.Text = "" // metadata alone is a message
		}
		if r.IntN(6) == 0 { // a small key space: retries, and conflicts
			op.Key = fmt.Sprint("key", r.IntN(3))
			op.Text = fmt.Sprint("keyed", r.IntN(2))
		}
		switch r.IntN(10) {
		case 0: // back-dated, maybe before everything
			op.Created = -time.Duration(r.IntN(100_000)) * time.Second
		case 1: // ahead of the clock
			op.Created = time.Duration(1+r.IntN(100)) * time.Second
		}
	case Page:
		op.Limit = []int{0, 1, 2, 3, 5, 2000}[r.IntN(6)]
		op.Reverse = r.IntN(2) == 0
	case ConversationPage:
		op.Limit = []int{0, 1, 2, 3}[r.IntN(4)]
		op.Cursor = r.IntN(1 << 30) // resolved modulo the cursors saved so far
		if r.IntN(4) == 0 {
			op.Cursor = -1
		}
	}
	return op
}

func randomText(r *rand.Rand, i int) string {
	switch r.IntN(12) {
	case 0:
		return strings.Repeat("long é ", 20+r.IntN(20)) // over the preview
	case 1:
		return "nul\x00 and tab\t inside"
	case 2:
		return "💬 " + fmt.Sprint(i)
	}
	return fmt.Sprintf("m%d", i)
}
