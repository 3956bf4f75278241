package main

// The serve command: the HTTP API of package httpapi under /api/, and a
// page to try it in a browser, with a demo identity.

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/httpapi"
)

// webFiles is the page: plain HTML, CSS and JavaScript, no build step,
// nothing fetched from elsewhere.
//
//go:embed web
var webFiles embed.FS

// serve runs the API and the page on addr until SIGINT or SIGTERM.
func (c *cli) serve(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	addr := fl.String("addr", "127.0.0.1:8080", "")
	if err := fl.Parse(args); err != nil || fl.NArg() != 0 {
		return usagef("serve takes [-addr HOST:PORT]")
	}
	return c.with(true, func(x *messaging.Inboxes) error {
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out, "serving %s on http://%s/ (Ctrl-C stops)\n", c.path, ln.Addr())
		fmt.Fprintln(c.out, "the page's identity is a demo: anyone can be anyone; never expose it beyond your machine")
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		return serveUntil(ctx, ln, demoHandler(x))
	})
}

// demoHandler is the page at / and the API at /api/, acting for the demo
// identity.
func demoHandler(x *messaging.Inboxes) http.Handler {
	web, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded tree always has web/
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", httpapi.New(x, httpapi.Options{User: demoUser})))
	mux.Handle("/", http.FileServerFS(web))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// The page runs its own script only: even a text that got into
		// the page as HTML could run nothing.
		h.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		mux.ServeHTTP(w, r)
	})
}

// demoHeader carries the demo identity, percent-encoded (UTF-8), as the
// page sends it: header values cannot hold every character of a user id.
const demoHeader = "X-Demo-User"

// demoUser is the demo identity: the request says who it is, in the
// X-Demo-User header or, for a GET (EventSource cannot set headers), the
// demo_user query parameter. There is no password: anyone can be anyone.
// It is for trying the library on one's own machine, never for production;
// an application passes its own authentication as httpapi.Options.User.
func demoUser(r *http.Request) (string, error) {
	if v := r.Header.Get(demoHeader); v != "" {
		return url.PathUnescape(v)
	}
	if r.Method == http.MethodGet {
		if v := r.URL.Query().Get("demo_user"); v != "" {
			return v, nil
		}
	}
	return "", errors.New("no demo identity: the page sets " + demoHeader)
}

// serveUntil serves h on ln until ctx ends, then ends the event streams
// (their requests' context) and shuts the server down.
func serveUntil(ctx context.Context, ln net.Listener, h http.Handler) error {
	streams, endStreams := context.WithCancel(context.Background())
	defer endStreams()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return streams },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	endStreams()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdown)
	<-served // http.ErrServerClosed
	return err
}
