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
	var err error
	for _, ch := range changes {
		ch.audience(func(user string, ev Event) {
			if err != nil {
				return
			}
			if user != "" && x.hub.stored {
				ev.Seq, err = w.append(user, ev)
			}
			switch {
			case !live:
			case user == "":
				all = append(all, ev)
			default:
				mine = append(mine, userEvent{user: user, ev: ev})
			}
		})
	}
	if err != nil {
		return err
	}
	if live {
		tx.OnCommit(func() { x.hub.publish(all, mine) })
	}
	return nil
}

// audience decides who the change concerns, and calls tell once for each
// with the event that one is told: SubscribeAll (user "") and the owner's
// subscribers get the owner's event; for a read, the other user's
// subscribers get the read receipt with their own counts.
func (ch change) audience(tell func(user string, ev Event)) {
	ev := Event{Kind: ch.kind, User: ch.owner, Other: ch.other, ReadUpTo: ch.readUpTo,
		Unread: ch.unread, ConversationUnread: ch.convUnread}
	switch ch.kind {
	case MessageReceived, MessageSent, MessageDeleted, MessageRetracted:
		ev.Message = ch.msg
	}
	tell("", ev)
	tell(ch.owner, ev)
	if ch.receipt != nil {
		ev.Unread, ev.ConversationUnread = ch.receipt.unread, ch.receipt.convUnread
		tell(ch.other, ev)
	}
}
