package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/httpapi"
)

// BenchmarkSendsWithSSEClients measures sends (8 concurrent senders to
// 1000 recipients, memory store) with no event stream open, and with 1000
// SSE clients connected through real HTTP connections on loopback, each
// reading its stream:
//
//   - clients=1000-idle: the clients are other users than the recipients,
//     so their streams stay quiet: what open streams cost the senders.
//   - clients=1000-receiving: the clients are the recipients, so every
//     send is also one event written to, and read by, one of them, on the
//     same cores as the senders.
//
// Senders go through the API (via=api: POST /conversations/{other}/messages
// over loopback) or call the library (via=library), whose memory-store
// sends cost a fraction of an event's delivery. Besides sends/s it
// reports the CPU time of the whole process (server, senders and clients)
// per send, which the load of other processes inflates less.
func BenchmarkSendsWithSSEClients(b *testing.B) {
	raiseFileLimit(b, 2*benchClients+1000)
	for _, via := range []string{"api", "library"} {
		for _, clients := range []string{"0", "1000-idle", "1000-receiving"} {
			b.Run(fmt.Sprintf("via=%s/clients=%s", via, clients), func(b *testing.B) {
				benchSends(b, via, clients)
			})
		}
	}
}

const (
	benchClients    = 1000
	benchRecipients = 1000 // r0 ... r999
)

func benchSends(b *testing.B, via, clients string) {
	x := messaging.New(messaging.NewMemoryStore())
	defer x.Close()
	api := httpapi.New(x, httpapi.Options{User: headerUser, Log: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(api)
	defer srv.Close()

	n, prefix := 0, ""
	switch clients {
	case "1000-idle":
		n, prefix = benchClients, "idle"
	case "1000-receiving":
		n, prefix = benchClients, "r"
	}
	streams := &http.Client{Transport: &http.Transport{}}
	defer streams.CloseIdleConnections()
	streamCtx, stop := context.WithCancel(context.Background())
	defer stop()
	var received atomic.Int64
	var readers sync.WaitGroup
	for i := range n {
		req, err := http.NewRequestWithContext(streamCtx, "GET", srv.URL+"/events", nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set(userHeader, fmt.Sprint(prefix, i))
		resp, err := streams.Do(req) // subscribed once the headers are in
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("stream %d: %s", i, resp.Status)
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer resp.Body.Close()
			lines := bufio.NewScanner(resp.Body)
			lines.Buffer(make([]byte, 4096), 1<<20)
			for lines.Scan() {
				if bytes.HasPrefix(lines.Bytes(), []byte("event: ")) {
					received.Add(1)
				}
			}
		}()
	}

	senders := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer senders.CloseIdleConnections()
	send := func(sender, to string) error {
		if via == "library" {
			_, err := x.SendMessage(context.Background(), sender, to, "hello")
			return err
		}
		req, err := http.NewRequest("POST", srv.URL+"/conversations/"+to+"/messages", strings.NewReader(`{"text":"hello"}`))
		if err != nil {
			return err
		}
		req.Header.Set(userHeader, sender)
		req.Header.Set("Content-Type", "application/json")
		resp, err := senders.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("send: %s", resp.Status)
		}
		return nil
	}
	var next, senderIDs atomic.Int64
	b.SetParallelism(4) // 8 senders on 2 cores
	b.ReportAllocs()
	cpuBefore, cpuOK := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		sender := fmt.Sprint("s", senderIDs.Add(1))
		for pb.Next() {
			if err := send(sender, fmt.Sprint("r", next.Add(1)%benchRecipients)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
	if cpuAfter, ok := processCPU(); ok && cpuOK {
		// The CPU time of the whole process per send: the server, the
		// senders and the clients, who share the machine's cores. Less
		// noisy than sends/s on a machine others use too.
		b.ReportMetric(float64((cpuAfter-cpuBefore).Microseconds())/float64(b.N), "cpu-µs/send")
	}

	// Every send to a client's user reached it (nothing was dropped to
	// keep the senders going), and no other event did.
	want := int64(0)
	if prefix == "r" {
		want = next.Load()
	}
	for end := time.Now().Add(30 * time.Second); received.Load() < want && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	if got := received.Load(); got != want {
		b.Fatalf("the clients received %d events, not %d", got, want)
	}
	stop()
	readers.Wait()
}
