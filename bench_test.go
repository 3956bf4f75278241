package messaging_test

import (
	"fmt"
	"testing"

	"github.com/socialkit/messaging"
)

// BenchmarkSendMessage sends between a few hundred pairs, one goroutine.
func BenchmarkSendMessage(b *testing.B) {
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
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
	}
}

// BenchmarkFirstConversations lists the first 20 conversations of inboxes
// of different sizes: the cost must not grow with the inbox.
func BenchmarkFirstConversations(b *testing.B) {
	for _, s := range stores {
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
