// Command messaging sends, lists, reads and deletes private messages in a
// messaging store, manages blocks, checks the store's invariants, copies a
// store into another, and serves the HTTP API with a page to try it. It
// uses only the public API of github.com/socialkit/messaging and its
// packages, so it doubles as an example.
//
// Usage:
//
//	messaging [-db PATH_OR_URL] [-json] COMMAND ARGS
//
// The store is ./messages.db unless MESSAGING_DB names another; -db
// overrides both. It is a bbolt file, or a postgres:// URL for a store in
// PostgreSQL that several machines share. Only send and block create a
// file; the other commands fail with "no store at PATH" if it is missing,
// so a typo is not taken for an empty store. Texts are printed with their
// control characters escaped; -json prints the library's own types, with
// their exact texts.
//
// Commands (messaging -h says more):
//
//	send [-meta K=V]... [-key KEY] SENDER RECIPIENT TEXT
//	inbox USER                   USER's conversations, newest first
//	show [-limit N] USER OTHER   the messages of USER's conversation with OTHER
//	read USER OTHER              mark that conversation read
//	delete USER OTHER [ID]       delete one message from USER's copy, or the conversation
//	retract USER OTHER ID        delete a message USER sent, for both
//	block, unblock USER OTHER    who may message whom; blocked USER lists them
//	users                        every user with an inbox
//	check                        verify the store; exit 1 if anything is broken
//	copy -to PATH_OR_URL [-batch N]  copy the store into an empty one (offline)
//	serve [-addr HOST:PORT]      the HTTP API under /api/ and a demo page (serve.go)
//
// Exit status: 0 on success, 1 on an error (one line on stderr), 2 on a
// usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: messaging [-db PATH] [-json] COMMAND ARGS

Commands:
  send [-meta KEY=VALUE]... [-key KEY] SENDER RECIPIENT TEXT
                               send a message; prints its ID. -meta attaches
                               metadata (repeatable; TEXT may then be "");
                               -key makes a retry return the first message
  inbox USER                   USER's conversations, newest first
  show [-limit N] USER OTHER   the messages of USER's conversation with OTHER
                               (oldest first; -limit N: the newest N)
  read USER OTHER              mark that conversation read
  delete USER OTHER [ID]       delete message ID from USER's copy, or the
                               whole conversation from USER's inbox
  retract USER OTHER ID        delete message ID, which USER sent, for both
  block USER OTHER             no message between USER and OTHER from now on
  unblock USER OTHER           lift USER's block of OTHER
  blocked USER                 the users USER blocks
  users                        every user with an inbox
  check                        verify the store's invariants
  copy -to PATH_OR_URL [-batch N]
                               copy the whole store into a new, empty store
                               (offline: stop the application first), N
                               records a transaction (10000), check the copy
                               and print what both hold
  serve [-addr HOST:PORT]      the HTTP API under /api/ and a page to try it
                               (127.0.0.1:8080; demo identity, not for production)

The store is ./messages.db, or $MESSAGING_DB, or -db PATH: a bbolt file, or a
postgres://user:password@host/database URL (add ?schema=NAME for another
schema than "messaging"), for a store that several machines share.

Flags:
`

// usageError is a mistake in the command line: exit 2 with the usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// run is the whole command, testable in-process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("messaging", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dbDefault := "messages.db"
	if env := os.Getenv("MESSAGING_DB"); env != "" {
		dbDefault = env
	}
	db := fl.String("db", dbDefault, "the store: a bbolt `file` or a postgres:// URL")
	asJSON := fl.Bool("json", false, "print one JSON document instead of text")
	fl.Usage = func() {
		fmt.Fprint(stderr, usage)
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fl.NArg() == 0 {
		fl.Usage()
		return 2
	}
	c := &cli{path: *db, json: *asJSON, out: stdout, errOut: stderr}
	err := c.dispatch(context.Background(), fl.Arg(0), fl.Args()[1:])
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "messaging: %s\n", ue.msg)
		fl.Usage()
		return 2
	case errors.Is(err, errBroken):
		return 1 // the findings are on stdout
	default:
		fmt.Fprintln(stderr, oneLine(prefixed(err)))
		return 1
	}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

// prefixed returns the error's text with the program's name in front once:
// the library's errors already start with it.
func prefixed(err error) string {
	if msg := err.Error(); strings.HasPrefix(msg, "messaging: ") {
		return msg
	}
	return "messaging: " + err.Error()
}

type cli struct {
	path   string
	json   bool
	out    io.Writer
	errOut io.Writer // progress of long commands
}

func (c *cli) dispatch(ctx context.Context, cmd string, args []string) error {
	switch cmd {
	case "send":
		return c.send(ctx, args)
	case "retract":
		if len(args) != 3 {
			return usagef("retract takes USER OTHER ID")
		}
		return c.retract(ctx, args)
	case "block", "unblock":
		if len(args) != 2 {
			return usagef("%s takes USER OTHER", cmd)
		}
		return c.block(ctx, cmd == "block", args[0], args[1])
	case "copy":
		return c.copyStore(ctx, args)
	case "blocked":
		if len(args) != 1 {
			return usagef("blocked takes USER")
		}
		return c.blocked(ctx, args[0])
	case "inbox":
		if len(args) != 1 {
			return usagef("inbox takes USER")
		}
		return c.inbox(ctx, args[0])
	case "show":
		return c.show(ctx, args)
	case "read":
		if len(args) != 2 {
			return usagef("read takes USER OTHER")
		}
		return c.read(ctx, args[0], args[1])
	case "delete":
		if len(args) != 2 && len(args) != 3 {
			return usagef("delete takes USER OTHER [ID]")
		}
		return c.delete(ctx, args)
	case "users":
		if len(args) != 0 {
			return usagef("users takes no arguments")
		}
		return c.users(ctx)
	case "check":
		if len(args) != 0 {
			return usagef("check takes no arguments")
		}
		return c.check(ctx)
	case "serve":
		return c.serve(ctx, args)
	}
	return usagef("unknown command %q", cmd)
}
