package messaging

import "context"

// This file turns the changes of a write (bookkeeping.go) into events: who
// each change concerns, and what each of them is told.

// write runs fn in one store Update and announces the changes it returns.
// Every write of the package goes through it.
func (x *Inboxes) write(ctx context.Context, fn func(Tx) ([]change, error)) error {
	return x.store.Update(ctx, func(tx Tx) error {
		changes, err := fn(tx)
		if err != nil {
			return err
		}
		return x.announce(tx, changes)
	})
}

// announce turns changes into events: it appends each user's to their
// stream in the store (in tx, so with the change or not at all), and has
// all of them published in this process once tx commits, so that no
// subscriber ever sees a write that did not persist.
func (x *Inboxes) announce(tx Tx, changes []change) error {
	live := x.hub.enabled()
	if len(changes) == 0 || !x.hub.stored && !live {
		return nil
	}
	a := announcer{stored: x.hub.stored, live: live, w: streamWriter{tx: tx, keep: uint64(x.history)}}
	if a.stored {
		a.w.buf = make([]byte, 0, encodedSize(changes)) // one allocation for every event's data
	}
	for i := range changes {
		if err := changes[i].audience(&a); err != nil {
			return err
		}
	}
	if live {
		all, mine := a.all, a.mine
		tx.OnCommit(func() { x.hub.publish(all, mine) })
	}
	return nil
}

// announcer gathers the events of one write: it appends each user's to
// their stream, and keeps those to publish in this process.
type announcer struct {
	stored, live bool
	w            streamWriter
	all          []Event     // SubscribeAll's
	mine         []userEvent // per-user subscribers'
}

// everyone tells SubscribeAll's subscribers of ev.
func (a *announcer) everyone(ev *Event) {
	if a.live {
		a.all = append(a.all, *ev)
	}
}

// tell tells user's subscribers of ev, setting ev.Seq to its position in
// user's stream.
func (a *announcer) tell(user string, ev *Event) error {
	if a.stored {
		seq, err := a.w.append(user, ev)
		if err != nil {
			return err
		}
		ev.Seq = seq
	}
	if a.live {
		a.mine = append(a.mine, userEvent{user: user, ev: *ev})
	}
	return nil
}

// audience decides who the change concerns, and what each of them is
// told: SubscribeAll and the owner's subscribers get the owner's event;
// for a read, the other user's subscribers get the read receipt with their
// own counts. (It tells a rather than return a list: an Event is some two
// hundred bytes, and a send makes four of them.)
func (ch *change) audience(a *announcer) error {
	ev := Event{Kind: ch.kind, User: ch.owner, Other: ch.other, ReadUpTo: ch.readUpTo,
		Unread: ch.unread, ConversationUnread: ch.convUnread}
	switch ch.kind {
	case MessageReceived, MessageSent, MessageDeleted, MessageRetracted:
		ev.Message = ch.msg
	}
	a.everyone(&ev)
	if err := a.tell(ch.owner, &ev); err != nil {
		return err
	}
	if ch.receipt != nil {
		ev.Seq = 0
		ev.Unread, ev.ConversationUnread = ch.receipt.unread, ch.receipt.convUnread
		if err := a.tell(ch.other, &ev); err != nil {
			return err
		}
	}
	return nil
}

// encodedSize bounds the encoded size of the events of changes: a
// change's event and, for a read, the receipt (encodeEvent writes at most
// 64 bytes besides the strings of an event, 64 more and 20 a metadata
// entry for its message). An estimate too small costs an allocation, one
// too large a larger one, on every write.
func encodedSize(changes []change) int {
	n := 0
	for i := range changes {
		ch := &changes[i]
		e := 64 + len(ch.owner) + len(ch.other)
		if ch.msg.ID != 0 {
			e += 64 + len(ch.msg.Sender) + len(ch.msg.Recipient) + len(ch.msg.Text)
			for k, v := range ch.msg.Meta {
				e += 20 + len(k) + len(v)
			}
		}
		if ch.receipt != nil {
			e *= 2
		}
		n += e
	}
	return n
}
