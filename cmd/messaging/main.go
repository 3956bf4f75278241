// Command messaging sends, lists, reads and deletes private messages in a
// messaging store file, and checks the file's invariants. It uses only the
// public API of github.com/socialkit/messaging, so it doubles as an example.
//
// Usage:
//
//	messaging [-db PATH] [-json] COMMAND ARGS
//
// The store is ./messages.db unless MESSAGING_DB names another file; -db
// overrides both. Only send creates the file; the other commands report a
// missing inbox or conversation instead.
//
// Commands:
//
//	send SENDER RECIPIENT TEXT   send a message; prints its ID
//	inbox USER                   USER's conversations, newest first
//	show [-limit N] USER OTHER   the messages of USER's conversation with OTHER
//	read USER OTHER              mark that conversation read
//	delete USER OTHER [ID]       delete one message from USER's copy, or the conversation
//	users                        every user with an inbox
//	check                        verify the store; exit 1 if anything is broken
//
// Exit status: 0 on success, 1 on an error (one line on stderr), 2 on a
// usage error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/socialkit/messaging"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: messaging [-db PATH] [-json] COMMAND ARGS

Commands:
  send SENDER RECIPIENT TEXT   send a message; prints its ID
  inbox USER                   USER's conversations, newest first
  show [-limit N] USER OTHER   the messages of USER's conversation with OTHER
                               (oldest first; -limit N: the newest N)
  read USER OTHER              mark that conversation read
  delete USER OTHER [ID]       delete message ID from USER's copy, or the
                               whole conversation from USER's inbox
  users                        every user with an inbox
  check                        verify the store's invariants

The store is ./messages.db, or $MESSAGING_DB, or -db PATH.

Flags:
`

// usageError is a mistake in the command line: exit 2 with the usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// errBroken is returned by check when the store has problems.
var errBroken = errors.New("the store has problems")

// run is the whole command, testable in-process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("messaging", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dbDefault := "messages.db"
	if env := os.Getenv("MESSAGING_DB"); env != "" {
		dbDefault = env
	}
	db := fl.String("db", dbDefault, "the store `file`")
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
	c := &cli{path: *db, json: *asJSON, out: stdout}
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
	path string
	json bool
	out  io.Writer
}

func (c *cli) dispatch(ctx context.Context, cmd string, args []string) error {
	switch cmd {
	case "send":
		if len(args) != 3 {
			return usagef("send takes SENDER RECIPIENT TEXT (quote a text with spaces)")
		}
		return c.send(ctx, args[0], args[1], args[2])
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
	}
	return usagef("unknown command %q", cmd)
}

// open opens the store. Only send may create the file: reading a store that
// is not there must not leave an empty one behind.
func (c *cli) open(create bool) (*messaging.Inboxes, error) {
	if !create {
		if _, err := os.Stat(c.path); errors.Is(err, fs.ErrNotExist) {
			return messaging.New(messaging.NewMemoryStore()), nil // an empty store, written nowhere
		}
	}
	return messaging.Open(c.path)
}

// with opens the store, runs fn, and closes the store, keeping fn's error
// first.
func (c *cli) with(create bool, fn func(x *messaging.Inboxes) error) error {
	x, err := c.open(create)
	if err != nil {
		return err
	}
	err = fn(x)
	if cerr := x.Close(); err == nil {
		err = cerr
	}
	return err
}

func (c *cli) emit(v any) error {
	enc := json.NewEncoder(c.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Documents printed with -json.
type (
	jsonMessage struct {
		ID        uint64    `json:"id"`
		Sender    string    `json:"sender"`
		Recipient string    `json:"recipient"`
		Text      string    `json:"text"`
		Created   time.Time `json:"created"`
		New       bool      `json:"new"`
	}
	jsonConversation struct {
		With        string       `json:"with"`
		Unread      int          `json:"unread"`
		Messages    int          `json:"messages"`
		LastUpdate  time.Time    `json:"last_update"`
		LastMessage *jsonMessage `json:"last_message,omitempty"`
	}
	jsonInbox struct {
		User          string             `json:"user"`
		Unread        int                `json:"unread"`
		Conversations []jsonConversation `json:"conversations"`
	}
	jsonShow struct {
		User     string        `json:"user"`
		With     string        `json:"with"`
		Unread   int           `json:"unread"`
		Messages []jsonMessage `json:"messages"`
	}
	jsonDone struct {
		Done      string `json:"done"`
		User      string `json:"user"`
		With      string `json:"with,omitempty"`
		MessageID uint64 `json:"message_id,omitempty"`
	}
	jsonCheck struct {
		OK       bool     `json:"ok"`
		Problems []string `json:"problems"`
	}
)

func toJSON(m messaging.Message) jsonMessage {
	return jsonMessage{ID: m.ID, Sender: m.Sender, Recipient: m.Recipient, Text: m.Text, Created: m.Created, New: m.New}
}

// human formats a time for people: local zone, to the minute.
func human(t time.Time) string { return t.Local().Format("2006-01-02 15:04") }

func (c *cli) send(ctx context.Context, sender, recipient, text string) error {
	_, statErr := os.Stat(c.path)
	existed := statErr == nil
	err := c.with(true, func(x *messaging.Inboxes) error {
		m, err := x.SendMessage(ctx, sender, recipient, text)
		if err != nil {
			return err
		}
		if c.json {
			return c.emit(toJSON(m))
		}
		_, err = fmt.Fprintln(c.out, m.ID)
		return err
	})
	if err != nil && !existed {
		// Refused input leaves no file behind either.
		_ = os.Remove(c.path)
	}
	return err
}

func (c *cli) inbox(ctx context.Context, user string) error {
	return c.with(false, func(x *messaging.Inboxes) error {
		in, err := x.Get(ctx, user)
		if err != nil {
			return err
		}
		doc := jsonInbox{User: user, Unread: in.NewMessagesCount, Conversations: []jsonConversation{}}
		for conv, err := range in.Conversations(ctx) {
			if err != nil {
				return err
			}
			jc := jsonConversation{With: conv.Username, Unread: conv.NewMessagesCount, Messages: conv.MessageCount, LastUpdate: conv.LastUpdate}
			if conv.MessageCount > 0 {
				lm := toJSON(conv.LastMessage)
				jc.LastMessage = &lm
			}
			doc.Conversations = append(doc.Conversations, jc)
		}
		if c.json {
			return c.emit(doc)
		}
		fmt.Fprintf(c.out, "%s: %d unread\n", user, doc.Unread)
		for _, jc := range doc.Conversations {
			preview := ""
			if jc.LastMessage != nil {
				preview = fmt.Sprintf("%s: %s", jc.LastMessage.Sender, jc.LastMessage.Text)
			}
			fmt.Fprintf(c.out, "  %-12s %3d new  %s  %s\n", jc.With, jc.Unread, human(jc.LastUpdate), preview)
		}
		return nil
	})
}

func (c *cli) show(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("show", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	limit := fl.Int("limit", 0, "show only the newest N messages")
	var pos []string
	for { // flags may come before or after the users
		if err := fl.Parse(args); err != nil {
			return usagef("show: %v", err)
		}
		if fl.NArg() == 0 {
			break
		}
		pos = append(pos, fl.Arg(0))
		args = fl.Args()[1:]
	}
	if len(pos) != 2 {
		return usagef("show takes [-limit N] USER OTHER")
	}
	if *limit < 0 {
		return usagef("show: -limit must not be negative")
	}
	user, other := pos[0], pos[1]
	return c.with(false, func(x *messaging.Inboxes) error {
		conv, err := getConversation(ctx, x, user, other)
		if err != nil {
			return err
		}
		msgs, err := messages(ctx, conv, *limit)
		if err != nil {
			return err
		}
		doc := jsonShow{User: user, With: other, Unread: conv.NewMessagesCount, Messages: []jsonMessage{}}
		for _, m := range msgs {
			doc.Messages = append(doc.Messages, toJSON(m))
		}
		if c.json {
			return c.emit(doc)
		}
		for _, m := range msgs {
			mark := " "
			if m.New {
				mark = "*"
			}
			fmt.Fprintf(c.out, "%s %-6d %s  %s: %s\n", mark, m.ID, human(m.Created), m.Sender, m.Text)
		}
		return nil
	})
}

// messages returns the conversation's messages oldest first: all of them,
// or with limit > 0 the newest limit, read back from the newest a page at a
// time so that the cost follows limit, not the conversation's length.
func messages(ctx context.Context, conv *messaging.Conversation, limit int) ([]messaging.Message, error) {
	var msgs []messaging.Message
	if limit == 0 {
		for m, err := range conv.Messages(ctx) {
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, m)
		}
		return msgs, nil
	}
	before := uint64(0)
	for len(msgs) < limit {
		page, err := conv.Older(ctx, before, limit-len(msgs))
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		msgs = append(msgs, page...)
		before = page[len(page)-1].ID
	}
	slices.Reverse(msgs)
	return msgs, nil
}

func getConversation(ctx context.Context, x *messaging.Inboxes, user, other string) (*messaging.Conversation, error) {
	in, err := x.Get(ctx, user)
	if err != nil {
		return nil, err
	}
	return in.Get(ctx, other)
}

func (c *cli) read(ctx context.Context, user, other string) error {
	return c.with(false, func(x *messaging.Inboxes) error {
		conv, err := getConversation(ctx, x, user, other)
		if err != nil {
			return err
		}
		if err := conv.MarkRead(ctx); err != nil {
			return err
		}
		if c.json {
			return c.emit(jsonDone{Done: "read", User: user, With: other})
		}
		_, err = fmt.Fprintf(c.out, "marked %d messages read\n", conv.NewMessagesCount)
		return err
	})
}

func (c *cli) delete(ctx context.Context, args []string) error {
	user, other := args[0], args[1]
	var id uint64
	if len(args) == 3 {
		var err error
		id, err = strconv.ParseUint(args[2], 10, 64)
		if err != nil || id == 0 {
			return fmt.Errorf("invalid message ID %q: want a positive whole number", args[2])
		}
	}
	return c.with(false, func(x *messaging.Inboxes) error {
		in, err := x.Get(ctx, user)
		if err != nil {
			return err
		}
		doc := jsonDone{Done: "delete", User: user, With: other, MessageID: id}
		if id == 0 {
			err = in.Delete(ctx, other)
		} else {
			var conv *messaging.Conversation
			if conv, err = in.Get(ctx, other); err == nil {
				err = conv.DeleteMessage(ctx, id)
			}
		}
		if err != nil {
			return err
		}
		if c.json {
			return c.emit(doc)
		}
		if id == 0 {
			_, err = fmt.Fprintf(c.out, "deleted %s's conversation with %s\n", user, other)
		} else {
			_, err = fmt.Fprintf(c.out, "deleted message %d from %s's conversation with %s\n", id, user, other)
		}
		return err
	})
}

func (c *cli) users(ctx context.Context) error {
	return c.with(false, func(x *messaging.Inboxes) error {
		users := []string{}
		for u, err := range x.Users(ctx) {
			if err != nil {
				return err
			}
			users = append(users, u)
		}
		if c.json {
			return c.emit(users)
		}
		for _, u := range users {
			fmt.Fprintln(c.out, u)
		}
		return nil
	})
}

func (c *cli) check(ctx context.Context) error {
	return c.with(false, func(x *messaging.Inboxes) error {
		problems, err := x.Verify(ctx)
		if err != nil {
			return err
		}
		doc := jsonCheck{OK: len(problems) == 0, Problems: []string{}}
		for _, p := range problems {
			doc.Problems = append(doc.Problems, p.String())
		}
		if c.json {
			if err := c.emit(doc); err != nil {
				return err
			}
		} else if doc.OK {
			fmt.Fprintln(c.out, "ok")
		} else {
			for _, p := range doc.Problems {
				fmt.Fprintln(c.out, p)
			}
			fmt.Fprintf(c.out, "%d problems\n", len(doc.Problems))
		}
		if !doc.OK {
			return errBroken
		}
		return nil
	})
}
