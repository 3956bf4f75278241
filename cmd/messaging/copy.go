package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/socialkit/messaging"
)

// copied is what copy prints with -json.
type copied struct {
	Source      messaging.Counts `json:"source"`
	Destination messaging.Counts `json:"destination"`
	Problems    []string         `json:"problems"`
}

// copyStore copies the store of -db into the one -to names, then checks the
// copy and prints what both hold.
func (c *cli) copyStore(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("copy", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	to := fl.String("to", "", "the destination: a bbolt file or a postgres:// URL")
	batch := fl.Int("batch", messaging.DefaultCopyBatch, "records written in one transaction of the destination")
	pos, err := positional(fl, args)
	switch {
	case err != nil:
		return usagef("copy: %v", err)
	case len(pos) != 0 || *to == "":
		return usagef("copy takes -to PATH_OR_URL [-batch N]")
	case *batch <= 0:
		return usagef("copy: -batch must be above 0")
	case *to == c.path:
		return usagef("copy: -to names the store being copied")
	}
	src, err := c.openStore(c.path, false)
	if err != nil {
		return err
	}
	defer src.Close()
	dstSpec := storeSpec(*to)
	existed := dstSpec.exists()
	dst, err := c.openStore(*to, true)
	if err != nil {
		return err
	}
	defer dst.Close()

	bar := newProgress(c.errOut)
	err = messaging.Copy(ctx, dst, src, &messaging.CopyOptions{BatchSize: *batch, Progress: bar.update})
	bar.end()
	if err != nil {
		if !existed && !errors.Is(err, messaging.ErrNotEmpty) {
			err = fmt.Errorf("%w (the partial file %s was left for you to remove)", err, *to)
		}
		return err
	}
	var doc copied
	if doc.Source, err = messaging.Count(ctx, src); err != nil {
		return err
	}
	if doc.Destination, err = messaging.Count(ctx, dst); err != nil {
		return err
	}
	problems, err := messaging.New(dst).Verify(ctx)
	if err != nil {
		return err
	}
	doc.Problems = []string{}
	for _, p := range problems {
		doc.Problems = append(doc.Problems, p.String())
	}
	if c.json {
		if err := c.emit(doc); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(c.out, "%-16s %12s %12s\n", "", "source", "copy")
		for _, row := range []struct {
			name     string
			src, dst int64
		}{
			{"inboxes", doc.Source.Inboxes, doc.Destination.Inboxes},
			{"conversations", doc.Source.Conversations, doc.Destination.Conversations},
			{"messages", doc.Source.Messages, doc.Destination.Messages},
			{"tombstones", doc.Source.Tombstones, doc.Destination.Tombstones},
			{"blocks", doc.Source.Blocks, doc.Destination.Blocks},
			{"idempotency keys", doc.Source.IdempotencyKeys, doc.Destination.IdempotencyKeys},
			{"events", doc.Source.Events, doc.Destination.Events},
		} {
			fmt.Fprintf(c.out, "%-16s %12d %12d\n", row.name, row.src, row.dst)
		}
		if len(problems) == 0 {
			fmt.Fprintln(c.out, "check: ok")
		}
		for _, p := range doc.Problems {
			fmt.Fprintln(c.out, printable(p))
		}
	}
	if len(problems) > 0 {
		return errBroken
	}
	return nil
}

// progress shows a copy's progress on stderr: a bar redrawn in place on a
// terminal, a plain line every few seconds otherwise.
type progress struct {
	w        io.Writer
	terminal bool
	start    time.Time
	last     time.Time
	drawn    bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progress) update(cp messaging.CopyProgress) {
	now := time.Now()
	every := 5 * time.Second
	if p.terminal {
		every = 100 * time.Millisecond
	}
	if !cp.Done && now.Sub(p.last) < every {
		return
	}
	p.last = now
	done := cp.Records()
	rate := float64(cp.Messages) / max(now.Sub(p.start).Seconds(), 1e-3)
	line := fmt.Sprintf("copied %d records (%d messages, %.0f messages/s)", done, cp.Messages, rate)
	if cp.Total > 0 {
		frac := min(float64(done)/float64(cp.Total), 1)
		if p.terminal {
			const width = 30
			n := int(frac * width)
			line = fmt.Sprintf("[%s%s] %3.0f%% ", strings.Repeat("#", n), strings.Repeat(" ", width-n), 100*frac) + line
		} else {
			line += fmt.Sprintf(" of about %d", cp.Total)
		}
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		p.drawn = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// end ends the bar's line.
func (p *progress) end() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
