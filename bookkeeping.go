package messaging

import (
	"errors"
	"time"
)

// This file is the bookkeeping of the store: every change of records that
// keeps the counts and summaries true. The rules it keeps, each in one
// place:
//
//   - Unread: a conversation's Unread is the number of its messages received
//     by its owner with an ID above its ReadMark; an inbox's Unread is the
//     sum over its conversations. Every function here that adds, removes or
//     covers such a message changes both counts, in the same transaction.
//   - Summaries: Messages counts the copies, Last is the newest by
//     (Created, ID) with its text cut to a preview, LastUpdate is Last's
//     Created (kept when the conversation is emptied), MaxID is the largest
//     ID ever added, FirstID the ID that created the conversation.
//   - Receipts: each side mirrors the other's ReadMark as PeerReadMark, as a
//     maximum; a copy the recipient dropped unread is marked DeletedUnread on
//     the sender's side, so no mark ever covers it.
//
// Each function returns the changes it made, one per inbox it concerns, and
// announce (announce.go) turns them into events. Nothing here emits events
// or talks to subscribers.

// change is what one write did to one inbox, as its events report it.
type change struct {
	kind       EventKind
	owner      string  // whose inbox changed
	other      string  // the conversation's other user; "" for InboxDeleted
	msg        Message // owner's copy, for the message kinds
	readUpTo   uint64  // the new read mark, for ConversationRead
	unread     int     // owner's inbox unread count after the change
	convUnread int     // owner's conversation unread count after the change

	// receipt is, for ConversationRead, the other user's counts when
	// their side of the conversation exists: they get the read receipt
	// as an event of their own, with their own counts.
	receipt *counts
}

// counts are one user's unread counts after a change.
type counts struct {
	unread, convUnread int
}

// conversationOrNew returns owner's conversation with other, or a new empty
// record if there is none.
func conversationOrNew(tx ReadTx, owner, other string) (ConversationRecord, error) {
	c, err := tx.Conversation(owner, other)
	if errors.Is(err, ErrNotFound) {
		return ConversationRecord{Owner: owner, Other: other}, nil
	}
	return c, err
}

// stamp is the Created time of a message sent now into the conversations
// out and in: the clock, but never before the newest message of either, so
// that within a conversation messages sent without WithCreated sort in the
// order their sends commit, whatever the clocks of the processes sharing
// the store do. (IDs, which break ties, are handed out in commit order
// within a conversation by every Store, since both sends write its record.)
func stamp(now time.Time, out, in ConversationRecord) time.Time {
	t := now.UTC()
	for _, c := range [...]ConversationRecord{out, in} {
		if c.FirstID != 0 && c.LastUpdate.After(t) {
			t = c.LastUpdate
		}
	}
	return t
}

// deliver writes both copies of m, out being the sender's side and in the
// recipient's, and every summary they change. (An array, not a slice: a
// send allocates as little as it can.)
func deliver(tx Tx, out, in ConversationRecord, m MessageRecord) ([2]change, error) {
	// Each side mirrors the other's read mark, for read receipts. A side
	// created afresh has a read mark of 0; what the other user read before
	// stays read, so the mirror never goes down.
	out.PeerReadMark = max(out.PeerReadMark, in.ReadMark)
	in.PeerReadMark = max(in.PeerReadMark, out.ReadMark)
	last := m
	last.Text = preview(m.Text) // once for both summaries
	sent, err := addCopy(tx, out, m, last, false)
	if err != nil {
		return [2]change{}, err
	}
	received, err := addCopy(tx, in, m, last, true)
	return [2]change{sent, received}, err
}

// addCopy adds m to conversation c, creating the inbox holding it if need
// be; last is m as the conversation's summary keeps it.
func addCopy(tx Tx, c ConversationRecord, m, last MessageRecord, received bool) (change, error) {
	box, err := tx.Inbox(c.Owner)
	created := errors.Is(err, ErrNotFound)
	switch {
	case created:
		box = InboxRecord{Owner: c.Owner}
	case err != nil:
		return change{}, err
	}
	if c.Messages == 0 || m.Key().Compare(c.Last.Key()) > 0 {
		c.Last, c.LastUpdate = last, m.Created
	}
	if c.FirstID == 0 {
		c.FirstID = m.ID // a new conversation
	}
	c.Messages++
	c.MaxID = max(c.MaxID, m.ID)
	if received { // m.ID is the newest ID, so it is above the read mark
		c.Unread++
		box.Unread++
	}
	if created || received {
		if err := tx.PutInbox(box); err != nil {
			return change{}, err
		}
	}
	if err := tx.PutConversation(c); err != nil {
		return change{}, err
	}
	if err := tx.PutMessage(c.Owner, c.Other, m); err != nil {
		return change{}, err
	}
	kind := MessageSent
	if received {
		kind = MessageReceived
	}
	return change{kind: kind, owner: c.Owner, other: c.Other, msg: message(c, m), unread: box.Unread, convUnread: c.Unread}, nil
}

// setNewest makes m the conversation's newest message: the summary a list
// screen shows (its text cut to a preview), and LastUpdate.
func (c *ConversationRecord) setNewest(m MessageRecord) {
	c.Last = m
	c.Last.Text = preview(m.Text)
	c.LastUpdate = m.Created
}

// markRead raises c's read mark to mark, which covers read of its new
// messages, and mirrors the mark to the other side for read receipts.
// Covering nothing new writes nothing and changes nothing: a read mark
// only moves over messages its owner has.
func markRead(tx Tx, c ConversationRecord, mark uint64, read int) ([]change, error) {
	if read == 0 {
		return nil, nil
	}
	unread, err := addUnread(tx, c.Owner, -read)
	if err != nil {
		return nil, err
	}
	c.Unread -= read
	c.ReadMark = max(c.ReadMark, mark)
	if err := tx.PutConversation(c); err != nil {
		return nil, err
	}
	ch := change{kind: ConversationRead, owner: c.Owner, other: c.Other, readUpTo: c.ReadMark, unread: unread, convUnread: c.Unread}
	peer, err := tx.Conversation(c.Other, c.Owner)
	if errors.Is(err, ErrNotFound) {
		return []change{ch}, nil // the other side deleted the conversation: no receipt
	}
	if err != nil {
		return nil, err
	}
	if peer.PeerReadMark < c.ReadMark {
		peer.PeerReadMark = c.ReadMark
		if err := tx.PutConversation(peer); err != nil {
			return nil, err
		}
	}
	peerBox, err := tx.Inbox(c.Other)
	if err != nil {
		return nil, err
	}
	ch.receipt = &counts{unread: peerBox.Unread, convUnread: peer.Unread}
	return []change{ch}, nil
}

// newlyRead counts the messages of c that a read mark at mark would cover
// and that are new now: those received by c's owner with an ID above the
// current mark and up to mark. It walks those messages only.
func newlyRead(tx ReadTx, c ConversationRecord, mark uint64) (int, error) {
	read := 0
	for after := c.ReadMark; after < mark; {
		msgs, err := tx.MessagesByID(c.Owner, c.Other, after, MaxPageSize)
		if err != nil {
			return 0, err
		}
		for _, m := range msgs {
			if m.ID > mark {
				return read, nil
			}
			if m.Recipient == c.Owner {
				read++
			}
		}
		if len(msgs) < MaxPageSize {
			break
		}
		after = msgs[len(msgs)-1].ID
	}
	return read, nil
}

// removeMessage deletes the copy with id from owner's conversation with
// other, and keeps the counts, the newest-message summary and the other
// side's receipts true.
func removeMessage(tx Tx, owner, other string, id uint64) ([]change, error) {
	c, err := tx.Conversation(owner, other)
	if err != nil {
		return nil, err
	}
	m, err := tx.Message(owner, other, id)
	if err != nil {
		return nil, err
	}
	if err := tx.DeleteMessage(owner, other, id); err != nil {
		return nil, err
	}
	deleted := message(c, m)
	c.Messages--
	delta := 0
	if deleted.New {
		c.Unread--
		delta = -1
		if err := dropReceipt(tx, other, owner, id); err != nil {
			return nil, err
		}
	}
	unread, err := addUnread(tx, owner, delta)
	if err != nil {
		return nil, err
	}
	if c.Last.ID == id {
		c.Last = MessageRecord{}
		newest, err := tx.Messages(owner, other, nil, true, 1)
		if err != nil {
			return nil, err
		}
		if len(newest) > 0 {
			c.setNewest(newest[0])
		}
	}
	if err := tx.PutConversation(c); err != nil {
		return nil, err
	}
	return []change{{kind: MessageDeleted, owner: owner, other: other, msg: deleted, unread: unread, convUnread: c.Unread}}, nil
}

// retract deletes the message id that owner sent from both conversations of
// the pair and marks both tombstones retracted. The recipient may have
// deleted their copy, or the whole conversation, already.
func retract(tx Tx, owner, other string, id uint64) ([]change, error) {
	m, err := tx.Message(owner, other, id)
	if err != nil {
		return nil, err
	}
	if m.Sender != owner {
		return nil, wrapf(ErrNotSender, "message %d is from %q", id, m.Sender)
	}
	changes, err := removeMessage(tx, owner, other, id)
	if err != nil {
		return nil, err
	}
	if err := tx.PutTombstone(owner, other, Tombstone{ID: id, Retracted: true}); err != nil {
		return nil, err
	}
	theirs := change{owner: other, other: owner, msg: message(ConversationRecord{Owner: other}, m)}
	theirs.msg.New = false // their copy is gone already, if they are told of it below
	switch peer, err := tx.Conversation(other, owner); {
	case errors.Is(err, ErrNotFound) || err == nil && peer.FirstID > id:
		// Their conversation is gone, or started after the message.
		theirs.convUnread = peer.Unread // 0 if gone
		if theirs.unread, err = unreadOf(tx, other); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		if _, err := tx.Message(other, owner, id); err == nil {
			removed, err := removeMessage(tx, other, owner, id)
			if err != nil {
				return nil, err
			}
			theirs = removed[0]
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		} else {
			theirs.convUnread = peer.Unread
			if theirs.unread, err = unreadOf(tx, other); err != nil {
				return nil, err
			}
		}
		if err := tx.PutTombstone(other, owner, Tombstone{ID: id, Retracted: true}); err != nil {
			return nil, err
		}
	}
	changes = append(changes, theirs)
	for i := range changes { // told as retracted, without the retracted content
		changes[i].kind = MessageRetracted
		changes[i].msg.Text, changes[i].msg.Meta = "", nil
	}
	return changes, nil
}

// unreadOf is owner's inbox unread count; 0 without an inbox.
func unreadOf(tx ReadTx, owner string) (int, error) {
	box, err := tx.Inbox(owner)
	return box.Unread, ignoreNotFound(err)
}

// removeConversation deletes owner's conversation with other and lowers the
// inbox count by its unread messages, whose senders keep no receipt of them.
func removeConversation(tx Tx, owner, other string) ([]change, error) {
	c, err := tx.Conversation(owner, other)
	if err != nil {
		return nil, err
	}
	if err := dropReceipts(tx, c); err != nil {
		return nil, err
	}
	if err := tx.DeleteConversation(owner, other); err != nil {
		return nil, err
	}
	unread, err := addUnread(tx, owner, -c.Unread)
	if err != nil {
		return nil, err
	}
	return []change{{kind: ConversationDeleted, owner: owner, other: other, unread: unread}}, nil
}

// removeInbox deletes owner's inbox with all its conversations; the senders
// of what it held unread keep no receipt of it.
func removeInbox(tx Tx, owner string) ([]change, error) {
	if _, err := tx.Inbox(owner); err != nil {
		return nil, err
	}
	var after *ConversationKey
	for {
		convs, err := tx.Conversations(owner, after, MaxPageSize)
		if err != nil {
			return nil, err
		}
		for _, c := range convs {
			if err := dropReceipts(tx, c); err != nil {
				return nil, err
			}
		}
		if len(convs) < MaxPageSize {
			break
		}
		k := convs[len(convs)-1].Key()
		after = &k
	}
	if err := tx.DeleteInbox(owner); err != nil {
		return nil, err
	}
	return []change{{kind: InboxDeleted, owner: owner}}, nil
}

// dropReceipts marks, on the senders' side, every message that c's owner
// still had unread: c is about to go.
func dropReceipts(tx Tx, c ConversationRecord) error {
	if c.Unread == 0 {
		return nil
	}
	for after := c.ReadMark; ; {
		msgs, err := tx.MessagesByID(c.Owner, c.Other, after, MaxPageSize)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Recipient == c.Owner {
				if err := dropReceipt(tx, c.Other, c.Owner, m.ID); err != nil {
					return err
				}
			}
		}
		if len(msgs) < MaxPageSize {
			return nil
		}
		after = msgs[len(msgs)-1].ID
	}
}

// dropReceipt marks the sender's copy of id, in sender's conversation with
// recipient, as deleted unread by the recipient. The sender may have
// deleted it already: then there is nothing to mark.
func dropReceipt(tx Tx, sender, recipient string, id uint64) error {
	m, err := tx.Message(sender, recipient, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil || m.DeletedUnread {
		return err
	}
	m.DeletedUnread = true
	if err := tx.PutMessage(sender, recipient, m); err != nil {
		return err
	}
	c, err := tx.Conversation(sender, recipient)
	if err != nil || c.Last.ID != id {
		return err
	}
	c.Last.DeletedUnread = true // the summary is a copy of the message
	return tx.PutConversation(c)
}

// addUnread adds delta to owner's unread count and returns the new count.
func addUnread(tx Tx, owner string, delta int) (int, error) {
	box, err := tx.Inbox(owner)
	if err != nil || delta == 0 {
		return box.Unread, err
	}
	box.Unread += delta
	return box.Unread, tx.PutInbox(box)
}
