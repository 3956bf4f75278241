package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/socialkit/messaging"
)

// metaFlag collects repeated -meta KEY=VALUE flags.
type metaFlag map[string]string

func (m metaFlag) String() string { return fmt.Sprint(map[string]string(m)) }

func (m metaFlag) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("want KEY=VALUE, got %q", kv)
	}
	m[k] = v
	return nil
}

// positional parses fl from args, letting flags come before or after the
// positional arguments, and returns those.
func positional(fl *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fl.Parse(args); err != nil {
			return nil, err
		}
		if fl.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fl.Arg(0))
		args = fl.Args()[1:]
	}
}

func (c *cli) send(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("send", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	meta := metaFlag{}
	fl.Var(meta, "meta", "metadata KEY=VALUE")
	key := fl.String("key", "", "idempotency key")
	pos, err := positional(fl, args)
	if err != nil {
		return usagef("send: %v", err)
	}
	if len(pos) != 3 {
		return usagef("send takes [-meta KEY=VALUE]... [-key KEY] SENDER RECIPIENT TEXT (quote a text with spaces)")
	}
	var opts []messaging.SendOption
	if len(meta) > 0 {
		opts = append(opts, messaging.WithMeta(meta))
	}
	if *key != "" {
		opts = append(opts, messaging.WithIdempotencyKey(*key))
	}
	existed := c.exists()
	err = c.with(true, func(x *messaging.Inboxes) error {
		m, err := x.SendMessage(ctx, pos[0], pos[1], pos[2], opts...)
		if err != nil {
			return err
		}
		if c.json {
			return c.emit(m)
		}
		_, err = fmt.Fprintln(c.out, m.ID)
		return err
	})
	if err != nil && !existed {
		c.removeNew() // refused input leaves no store behind either
	}
	return err
}

// shown is what show prints with -json: the conversation with its messages.
type shown struct {
	*messaging.Conversation
	Messages []messaging.Message `json:"messages"`
}

func (c *cli) show(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("show", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	limit := fl.Int("limit", 0, "show only the newest N messages")
	pos, err := positional(fl, args) // flags may come before or after the users
	if err != nil {
		return usagef("show: %v", err)
	}
	if len(pos) != 2 {
		return usagef("show takes [-limit N] USER OTHER")
	}
	if *limit < 0 {
		return usagef("show: -limit must not be negative")
	}
	user, other := pos[0], pos[1]
	return c.with(false, func(x *messaging.Inboxes) error {
		conv, err := x.Conversation(ctx, user, other)
		if err != nil {
			return err
		}
		msgs, err := messages(ctx, conv, *limit)
		if err != nil {
			return err
		}
		if c.json {
			return c.emit(shown{Conversation: conv, Messages: append([]messaging.Message{}, msgs...)})
		}
		for _, m := range msgs {
			mark := " "
			if m.New {
				mark = "*"
			}
			fmt.Fprintf(c.out, "%s %-6d %s  %s: %s%s\n", mark, m.ID, human(m.Created), m.Sender, printable(m.Text), metaText(m.Meta))
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

// done is what the commands that only act print with -json.
type done struct {
	Done      string `json:"done"`
	User      string `json:"user"`
	With      string `json:"with,omitempty"`
	MessageID uint64 `json:"message_id,omitempty"`
}

func (c *cli) read(ctx context.Context, user, other string) error {
	return c.with(false, func(x *messaging.Inboxes) error {
		conv, err := x.Conversation(ctx, user, other)
		if err != nil {
			return err
		}
		if err := conv.MarkRead(ctx); err != nil {
			return err
		}
		if c.json {
			return c.emit(done{Done: "read", User: user, With: other})
		}
		_, err = fmt.Fprintf(c.out, "marked %d messages read\n", conv.NewMessagesCount)
		return err
	})
}

// parseID reads a message ID argument.
func parseID(arg string) (uint64, error) {
	id, err := strconv.ParseUint(arg, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("invalid message ID %q: want a positive whole number", arg)
	}
	return id, nil
}

func (c *cli) delete(ctx context.Context, args []string) error {
	user, other := args[0], args[1]
	var id uint64
	if len(args) == 3 {
		var err error
		if id, err = parseID(args[2]); err != nil {
			return err
		}
	}
	return c.with(false, func(x *messaging.Inboxes) error {
		box, err := x.Get(ctx, user)
		if err != nil {
			return err
		}
		if id == 0 {
			err = box.Delete(ctx, other)
		} else {
			var conv *messaging.Conversation
			if conv, err = box.Get(ctx, other); err == nil {
				err = conv.DeleteMessage(ctx, id)
			}
		}
		if err != nil {
			return err
		}
		if c.json {
			return c.emit(done{Done: "delete", User: user, With: other, MessageID: id})
		}
		if id == 0 {
			_, err = fmt.Fprintf(c.out, "deleted %s's conversation with %s\n", user, other)
		} else {
			_, err = fmt.Fprintf(c.out, "deleted message %d from %s's conversation with %s\n", id, user, other)
		}
		return err
	})
}

// metaText shows metadata after a text: " [k=v k2=v2]", keys sorted.
func metaText(meta map[string]string) string {
	if len(meta) == 0 {
		return ""
	}
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(meta)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", printable(k), printable(meta[k]))
	}
	return " [" + b.String() + "]"
}

func (c *cli) retract(ctx context.Context, args []string) error {
	user, other := args[0], args[1]
	id, err := parseID(args[2])
	if err != nil {
		return err
	}
	return c.with(false, func(x *messaging.Inboxes) error {
		conv, err := x.Conversation(ctx, user, other)
		if err != nil {
			return err
		}
		if err := conv.Retract(ctx, id); err != nil {
			return err
		}
		if c.json {
			return c.emit(done{Done: "retract", User: user, With: other, MessageID: id})
		}
		_, err = fmt.Fprintf(c.out, "retracted message %d from %s's and %s's conversations\n", id, user, other)
		return err
	})
}

func (c *cli) block(ctx context.Context, on bool, user, other string) error {
	return c.with(true, func(x *messaging.Inboxes) error {
		verb, err := "block", error(nil)
		if on {
			err = x.Block(ctx, user, other)
		} else {
			verb, err = "unblock", x.Unblock(ctx, user, other)
		}
		if err != nil {
			return err
		}
		if c.json {
			return c.emit(done{Done: verb, User: user, With: other})
		}
		if on {
			_, err = fmt.Fprintf(c.out, "%s blocks %s\n", user, other)
		} else {
			_, err = fmt.Fprintf(c.out, "%s does not block %s\n", user, other)
		}
		return err
	})
}

func (c *cli) blocked(ctx context.Context, user string) error {
	return c.with(false, func(x *messaging.Inboxes) error { return c.listUsers(x.Blocked(ctx, user)) })
}
