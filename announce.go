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
	var all []Event
	var mine []userEvent
	w := streamWriter{tx: tx, keep: uint64(x.history)}
	if x.hub.stored {
		w.buf = make([]byte, 0, encodedSize(changes)) // one allocation for every event's data
	}
	for i := range changes {
		aud := changes[i].audience()
		if live {
			all = append(all, aud.all)
		}
		for _, ue := range aud.users[:aud.n] {
			if x.hub.stored {
				seq, err := w.append(ue.user, ue.ev)
				if err != nil {
					return err
				}
				ue.ev.Seq = seq
			}
			if live {
				mine = append(mine, ue)
			}
		}
	}
	if live {
		tx.OnCommit(func() { x.hub.publish(all, mine) })
	}
	return nil
}

// audience is who a change concerns and what each is told.
type audience struct {
	all   Event        // SubscribeAll's event
	users [2]userEvent // the users' events: users[:n]
	n     int
}

// audience decides who the change concerns, and what each of them is
// told: SubscribeAll and the owner's subscribers get the owner's event;
// for a read, the other user's subscribers get the read receipt with their
// own counts.
func (ch *change) audience() audience {
	ev := Event{Kind: ch.kind, User: ch.owner, Other: ch.other, ReadUpTo: ch.readUpTo,
		Unread: ch.unread, ConversationUnread: ch.convUnread}
	switch ch.kind {
	case MessageReceived, MessageSent, MessageDeleted, MessageRetracted:
		ev.Message = ch.msg
	}
	a := audience{all: ev, n: 1}
	a.users[0] = userEvent{user: ch.owner, ev: ev}
	if ch.receipt != nil {
		ev.Unread, ev.ConversationUnread = ch.receipt.unread, ch.receipt.convUnread
		a.users[1] = userEvent{user: ch.other, ev: ev}
		a.n = 2
	}
	return a
}

// encodedSize bounds the encoded size of the events of changes (receipts
// carry no message, so twice each change is plenty).
func encodedSize(changes []change) int {
	n := 0
	for i := range changes {
		ch := &changes[i]
		n += 2 * (64 + len(ch.owner) + len(ch.other) + len(ch.msg.Sender) + len(ch.msg.Recipient) + len(ch.msg.Text))
		for k, v := range ch.msg.Meta {
			n += 2 * (20 + len(k) + len(v))
		}
	}
	return n
}
