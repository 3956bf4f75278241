package storetest

// Tests of concurrent Updates and Views.

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// testConcurrency runs writers, each putting messages into its own
// conversations and bumping its own and a shared counter (and now and then
// failing an Update after writing), next to readers that check what they see
// is whole; at the end every committed write is there once, and nothing of
// the failed ones.
func testConcurrency(t *testing.T, s messaging.Store) {
	const writers, perWriter, readers = 8, 20, 2
	owners := make([]string, writers)
	ops := []op{putInbox(inbox("shared", 0))}
	for w := range owners {
		owners[w] = fmt.Sprintf("writer %d", w)
		ops = append(ops, putInbox(inbox(owners[w], 0)))
	}
	update(t, s, ops...)
	peer := func(i int) string { return fmt.Sprintf("peer/%d", i%2) }

	committed := make([][]messaging.MessageRecord, writers)
	stop := make(chan struct{})
	var readersWG, writersWG sync.WaitGroup
	for r := range readers {
		readersWG.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					if n > 0 {
						return
					}
				default:
				}
				var problems []string
				err := s.View(t.Context(), func(tx messaging.ReadTx) error {
					problems = problems[:0]
					shared, err := tx.Inbox("shared")
					if err != nil {
						return err
					}
					sum := 0
					for w, owner := range owners {
						in, err := tx.Inbox(owner)
						if err != nil {
							return err
						}
						sum += in.Unread
						if (w+n)%readers != r {
							continue
						}
						for i := range 2 {
							c, err := found(tx.Conversation(owner, peer(i)))
							if err != nil {
								return err
							}
							if c == nil {
								continue
							}
							list, err := tx.MessagesByID(owner, peer(i), 0, noLimit)
							if err != nil {
								return err
							}
							if len(list) != c.Messages {
								problems = append(problems, fmt.Sprintf("%s/%s: record says %d messages, MessagesByID gives %d", owner, peer(i), c.Messages, len(list)))
							}
						}
					}
					if sum != shared.Unread {
						problems = append(problems, fmt.Sprintf("shared counter %d, sum of writers' counters %d", shared.Unread, sum))
					}
					return nil
				})
				if !assert.NoError(t, err) || !assert.Empty(t, problems, "reader %d, View %d", r, n) {
					return
				}
			}
		})
	}
	for w, owner := range owners {
		writersWG.Go(func() {
			for i := range perWriter {
				var rec messaging.MessageRecord
				err := s.Update(t.Context(), func(tx messaging.Tx) error {
					id, err := tx.NextID()
					if err != nil {
						return err
					}
					rec = messaging.MessageRecord{
						ID: id, Sender: owner, Recipient: peer(i),
						Text: fmt.Sprintf("%s #%d", owner, i), Created: at(i),
					}
					c, err := found(tx.Conversation(owner, peer(i)))
					if err != nil {
						return err
					}
					if c == nil {
						c = &messaging.ConversationRecord{Owner: owner, Other: peer(i)}
					}
					c.Messages++
					c.LastUpdate, c.MaxID, c.Last = rec.Created, id, rec
					in, err := tx.Inbox(owner)
					if err != nil {
						return err
					}
					shared, err := tx.Inbox("shared")
					if err != nil {
						return err
					}
					in.Unread++
					shared.Unread++
					return runOps(tx, []op{putConv(*c), putMsg(owner, peer(i), rec), putInbox(in), putInbox(shared)})
				})
				if !assert.NoError(t, err, "%s, update %d", owner, i) {
					return
				}
				committed[w] = append(committed[w], rec)
				if i%4 == 3 {
					// A failing Update among the others (a store that
					// groups commits must not commit its writes with theirs).
					err := s.Update(t.Context(), func(tx messaging.Tx) error {
						id, err := tx.NextID()
						if err != nil {
							return err
						}
						shared, err := tx.Inbox("shared")
						if err != nil {
							return err
						}
						shared.Unread += 1000
						junk := withText(msg(id, at(-1)), "rolled back")
						if err := runOps(tx, []op{putInbox(shared), putMsg(owner, peer(i), junk)}); err != nil {
							return err
						}
						return errBoom
					})
					if !assert.ErrorIs(t, err, errBoom, "%s, failing update after %d", owner, i) {
						return
					}
				}
			}
		})
	}
	writersWG.Wait()
	close(stop)
	readersWG.Wait()

	m := newModel()
	m.PutInbox(inbox("shared", writers*perWriter))
	seen := map[uint64]bool{}
	for w, owner := range owners {
		require.Len(t, committed[w], perWriter, owner)
		m.PutInbox(inbox(owner, perWriter))
		cs := map[string]*messaging.ConversationRecord{}
		for _, rec := range committed[w] {
			assert.False(t, seen[rec.ID], "ID %d committed twice", rec.ID)
			seen[rec.ID] = true
			c := cs[rec.Recipient]
			if c == nil {
				c = &messaging.ConversationRecord{Owner: owner, Other: rec.Recipient}
				cs[rec.Recipient] = c
			}
			c.Messages++
			c.LastUpdate, c.MaxID, c.Last = rec.Created, rec.ID, rec
			m.PutMessage(owner, rec.Recipient, rec)
		}
		for _, c := range cs {
			m.PutConversation(*c)
		}
	}
	assertState(t, s, m, "every write exactly once")
}
