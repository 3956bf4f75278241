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

// BenchmarkSendsWithSSEClients measures sends (8 concurrent senders,
// memory store) with no event stream open, and with 1000 SSE clients
// connected through real HTTP connections on loopback, each reading its
// stream. The recipients are the same 1000 users in both cases: with
// clients, every send is also one event written to, and read by, one of
// them. Senders go through the API (via=api: POST
// /conversations/{other}/messages over loopback) or call the library
// (via=library), whose memory-store sends cost a fraction of an event's
// delivery.
func BenchmarkSendsWithSSEClients(b *testing.B) {
	raiseFileLimit(b, 2*1000+1000)
	for _, via := range []string{"api", "library"} {
		for _, clients := range []int{0, 1000} {
			b.Run(fmt.Sprintf("via=%s/clients=%d", via, clients), func(b *testing.B) { benchSends(b, via, clients) })
		}
	}
}

const benchRecipients = 1000

func benchSends(b *testing.B, via string, clients int) {
	x := messaging.New(messaging.NewMemoryStore())
	defer x.Close()
	api := httpapi.New(x, httpapi.Options{User: headerUser, Log: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(api)
	defer srv.Close()

	streams := &http.Client{Transport: &http.Transport{}}
	defer streams.CloseIdleConnections()
	streamCtx, stop := context.WithCancel(context.Background())
	defer stop()
	var received atomic.Int64
	var readers sync.WaitGroup
	for i := range clients {
		req, err := http.NewRequestWithContext(streamCtx, "GET", srv.URL+"/events", nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set(userHeader, fmt.Sprint("r", i))
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

	if clients > 0 {
		// Every send to a client's user reached it: nothing was dropped
		// to keep the senders going.
		want := int64(0)
		for i := int64(1); i <= next.Load(); i++ {
			if i%benchRecipients < int64(clients) {
				want++
			}
		}
		for end := time.Now().Add(30 * time.Second); received.Load() < want && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
		if got := received.Load(); got != want {
			b.Fatalf("the clients received %d events of %d", got, want)
		}
	}
	stop()
	readers.Wait()
}
