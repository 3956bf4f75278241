package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func TestDemoUser(t *testing.T) {
	cases := []struct {
		name, method, header, query string
		want                        string // "" : refused
	}{
		{"header", "GET", "bob", "", "bob"},
		{"header, percent-encoded", "POST", "%C3%A9l%C3%A8ve%2F1%20%25", "", "élève/1 %"},
		{"header wins", "GET", "bob", "demo_user=dave", "bob"},
		{"query, GET only: for EventSource", "GET", "", "demo_user=d%C3%A9", "dé"},
		{"query refused on a write", "POST", "", "demo_user=dave", ""},
		{"nothing", "GET", "", "", ""},
		{"bad escape", "GET", "%zz", "", ""},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, "/api/inbox?"+c.query, nil)
		if c.header != "" {
			r.Header.Set(demoHeader, c.header)
		}
		got, err := demoUser(r)
		if c.want == "" {
			assert.Error(t, err, c.name)
		} else if assert.NoError(t, err, c.name) {
			assert.Equal(t, c.want, got, c.name)
		}
	}
}

func newDemo(t *testing.T) (*messaging.Inboxes, *httptest.Server) {
	t.Helper()
	x := messaging.New(messaging.NewMemoryStore())
	srv := httptest.NewServer(demoHandler(x))
	t.Cleanup(func() {
		srv.Close()
		x.Close()
	})
	return x, srv
}

func get(t *testing.T, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestDemoHandler(t *testing.T) {
	x, srv := newDemo(t)
	resp, body := get(t, srv.URL+"/", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "Demo identity, not for production.")
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'")
	assert.NotContains(t, body, "http://", "nothing fetched from elsewhere")
	assert.NotContains(t, body, "https://")

	resp, js := get(t, srv.URL+"/app.js", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "javascript")
	assert.NotContains(t, js, "innerHTML", "texts go in as text")
	assert.NotContains(t, js, "insertAdjacentHTML")
	assert.NotContains(t, js, "https://")
	resp, _ = get(t, srv.URL+"/style.css", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	_, err := x.SendMessage(context.Background(), "bob", "dave", "Hi Dave")
	require.NoError(t, err)
	resp, body = get(t, srv.URL+"/api/inbox", map[string]string{demoHeader: "dave"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"username": "dave", "new_messages_count": 1}`, body)
	resp, _ = get(t, srv.URL+"/api/inbox", nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no demo identity")
}

// serveUntil ends the event streams and the server when its context ends.
func TestServeUntil(t *testing.T) {
	x := messaging.New(messaging.NewMemoryStore())
	defer x.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serveUntil(ctx, ln, demoHandler(x)) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/api/events?demo_user=dave")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, err = x.SendMessage(context.Background(), "bob", "dave", "hi")
	require.NoError(t, err)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "id: 1\n", line)

	stop()
	select {
	case err := <-served:
		assert.NoError(t, err, "an open event stream does not hold the shutdown")
	case <-time.After(5 * time.Second):
		t.Fatal("serveUntil did not return")
	}
	_, err = http.Get("http://" + ln.Addr().String() + "/")
	assert.Error(t, err, "no longer listening")
}

func TestServeUsage(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	for _, args := range [][]string{{"serve", "extra"}, {"serve", "-port", "1"}} {
		code, _, errOut := cmd(t, db, args...)
		assert.Equal(t, 2, code, "%v", args)
		assert.True(t, strings.HasPrefix(errOut, "messaging: serve takes [-addr HOST:PORT]\n"), errOut)
	}
	code, _, errOut := cmd(t, db, "serve", "-addr", "256.0.0.1:1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "256.0.0.1")
}
