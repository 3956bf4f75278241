package main

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/socialkit/messaging"
)

// listed is what inbox prints with -json: the inbox with its conversations.
type listed struct {
	*messaging.Inbox
	Conversations []*messaging.Conversation `json:"conversations"`
}

func (c *cli) inbox(ctx context.Context, user string) error {
	return c.with(false, func(x *messaging.Inboxes) error {
		box, err := x.Get(ctx, user)
		if err != nil {
			return err
		}
		doc := listed{Inbox: box, Conversations: []*messaging.Conversation{}}
		for conv, err := range box.Conversations(ctx) {
			if err != nil {
				return err
			}
			doc.Conversations = append(doc.Conversations, conv)
		}
		if c.json {
			return c.emit(doc)
		}
		fmt.Fprintf(c.out, "%s: %d unread\n", user, box.NewMessagesCount)
		for _, conv := range doc.Conversations {
			preview := ""
			if conv.MessageCount > 0 {
				preview = fmt.Sprintf("%s: %s", conv.LastMessage.Sender, printable(conv.LastMessage.Text))
			}
			fmt.Fprintf(c.out, "  %-12s %3d new  %s  %s\n", conv.Username, conv.NewMessagesCount, human(conv.LastUpdate), preview)
		}
		return nil
	})
}

func (c *cli) users(ctx context.Context) error {
	return c.with(false, func(x *messaging.Inboxes) error { return c.listUsers(x.Users(ctx)) })
}

// listUsers prints the user ids seq yields: one a line, or a JSON array.
func (c *cli) listUsers(seq iter.Seq2[string, error]) error {
	users := []string{}
	for u, err := range seq {
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
}

// errBroken is returned by check when the store has problems.
var errBroken = errors.New("the store has problems")

// checked is what check prints with -json.
type checked struct {
	OK       bool     `json:"ok"`
	Problems []string `json:"problems"`
}

func (c *cli) check(ctx context.Context) error {
	return c.with(false, func(x *messaging.Inboxes) error {
		problems, err := x.Verify(ctx)
		if err != nil {
			return err
		}
		doc := checked{OK: len(problems) == 0, Problems: []string{}}
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
				fmt.Fprintln(c.out, printable(p))
			}
			fmt.Fprintf(c.out, "%d problems\n", len(doc.Problems))
		}
		if !doc.OK {
			return errBroken
		}
		return nil
	})
}
