package messaging_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/socialkit/messaging"
)

// BenchmarkSendMessage sends on one goroutine in two workloads:
//   - users=32: 32 users in a fixed rotation of pairs and an 11-byte text,
//     so after the first few hundred sends every send lands in an existing
//     conversation;
//   - users=1000: sender and recipient drawn uniformly from 1000 users by a
//     fixed-seed PRNG, with an 80-byte text, so most sends of a short run
//     open both sides of a new conversation (there are 499 500 pairs).
//
// The stores keep every message, so the live heap, and with it the cost of
// the garbage collector, grows with b.N: compare runs of similar b.N, or fix
// it with -benchtime=Nx.
func BenchmarkSendMessage(b *testing.B) {
	text80 := strings.Repeat("0123456789", 8)
	for _, s := range plainStores() {
		b.Run(s.name+"/users=32", func(b *testing.B) {
			x := messaging.New(s.open(b))
			defer x.Close()
			var people [32]string
			for i := range people {
				people[i] = fmt.Sprintf("user%02d", i)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				from, to := people[i%32], people[(i/32+i+1)%32]
				if from == to {
					to = people[(i+1)%32]
				}
				if _, err := x.SendMessage(ctx, from, to, "hello there"); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
		})
		b.Run(s.name+"/users=1000", func(b *testing.B) {
			x := messaging.New(s.open(b))
			defer x.Close()
			people := make([]string, 1000)
			for i := range people {
				people[i] = fmt.Sprintf("user%04d", i)
			}
			r := rand.New(rand.NewPCG(1, 1000))
			b.ReportAllocs()
			for b.Loop() {
				from, to := r.IntN(len(people)), r.IntN(len(people))
				for to == from {
					to = r.IntN(len(people))
				}
				if _, err := x.SendMessage(ctx, people[from], people[to], text80); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
		})
	}
}

// BenchmarkFirstConversations lists the first 20 conversations of inboxes
// of different sizes: the cost must not grow with the inbox.
func BenchmarkFirstConversations(b *testing.B) {
	for _, s := range plainStores() {
		for _, n := range []int{100, 10_000} {
			b.Run(fmt.Sprintf("%s/convs=%d", s.name, n), func(b *testing.B) {
				x := messaging.New(s.open(b))
				defer x.Close()
				for i := range n {
					if _, err := x.SendMessage(ctx, fmt.Sprintf("u%06d", i), "dave", "x", day(i%5000)); err != nil {
						b.Fatal(err)
					}
				}
				in, err := x.Get(ctx, "dave")
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if got := breakAfter(in.Conversations(ctx), 20); got != 20 {
						b.Fatalf("got %d conversations", got)
					}
				}
			})
		}
	}
}
