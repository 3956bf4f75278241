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
		x.announce(tx, changes)
		return nil
	})
}

// announce has the events of changes published once tx commits, so that no
// subscriber ever sees a write that did not persist. Events are built only
// while someone subscribes.
func (x *Inboxes) announce(tx Tx, changes []change) {
	if len(changes) == 0 || !x.hub.enabled() {
		return
	}
	tx.OnCommit(func() { x.hub.publish(changes) })
}

// audience decides who the change concerns, and calls tell once for each
// with the event that one is told: SubscribeAll (user "") and the owner's
// subscribers get the owner's event; for a read, the other user's
// subscribers get the read receipt with their own counts. Every event of a
// change has the same Seq.
func (ch change) audience(seq uint64, tell func(user string, ev Event)) {
	ev := Event{Seq: seq, Kind: ch.kind, User: ch.owner, Other: ch.other, ReadUpTo: ch.readUpTo,
		Unread: ch.unread, ConversationUnread: ch.convUnread}
	switch ch.kind {
	case MessageReceived, MessageSent, MessageDeleted:
		ev.Message = ch.msg
	}
	tell("", ev)
	tell(ch.owner, ev)
	if ch.receipt != nil {
		ev.Unread, ev.ConversationUnread = ch.receipt.unread, ch.receipt.convUnread
		tell(ch.other, ev)
	}
}
