// Package storetest is the conformance suite for implementations of
// messaging.Store, in the manner of gocloud's docstore/drivertest and of
// testing/fstest.TestFS.
//
// A backend hooks it up from a test file of its own:
//
//	func TestMyStoreConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) messaging.Store {
//			s, err := mystore.Open(filepath.Join(t.TempDir(), "db"))
//			require.NoError(t, err)
//			return s
//		})
//	}
//
// Run checks the Store contract as the comments in package messaging state
// it, and nothing more: the records and their orders, tombstones (Deleted),
// what a missing key gives, who owns returned memory, transactions (atomic
// commit, rollback of every kind of write, isolation of readers,
// cancellation), Close, and concurrent use. It does not check the messaging rules (mirrored copies,
// unread counts, validation), which live in package messaging, above any
// store. Run it with -race.
//
// The suite relies on these readings of the contract:
//   - User ids are any non-empty valid UTF-8 strings without control
//     characters (the ids package messaging lets through): "/", ":", "%",
//     quotes, backslashes, dots, spaces, non-ASCII, 255 bytes. No two
//     distinct ids may collide, as owners, as others, or as (owner, other)
//     pairs whose concatenations coincide.
//   - Times are kept exactly, to the nanosecond, from year 1 to year 9999;
//     message Created times come back in UTC.
//   - Message IDs are any uint64 from 1 to math.MaxUint64, ordered as
//     unsigned numbers; the same ID may be stored in two conversations (the
//     two copies of one message).
//   - A store keeps records as they are put: putting or deleting messages
//     does not change the conversation or inbox records.
//   - A limit of zero or less lists nothing.
//   - An Update runs as if alone (serializable): concurrent read-modify-write
//     Updates lose no write.
//   - A second Close returns nil or ErrClosed.
//   - Deleted is true exactly for the IDs DeleteMessage removed from that
//     conversation since it was last created. The suite never puts such an
//     ID back into the same conversation (package messaging never does), so
//     what Deleted says then is left to the store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

// Run runs the conformance suite against the stores made by newStore, one
// subtest per behaviour, each on a fresh store. newStore registers whatever
// cleanup its store needs (t.TempDir, t.Cleanup); Run closes the store at the
// end of each subtest, before that cleanup runs, and accepts ErrClosed there
// since some subtests close the store themselves.
func Run(t *testing.T, newStore func(t *testing.T) messaging.Store) {
	t.Helper()
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "newStore returned nil")
			t.Cleanup(func() {
				if err := s.Close(); err != nil && !errors.Is(err, messaging.ErrClosed) {
					t.Errorf("Close at the end of the subtest: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

var suite = []struct {
	name string
	fn   func(*testing.T, messaging.Store)
}{
	{"NextID/StartsAtOneOrMore", testNextIDStartsAtOneOrMore},
	{"NextID/IncreasesAcrossTransactions", testNextIDIncreasesAcrossTransactions},
	{"NextID/RollbackNeverGoesBack", testNextIDRollbackNeverGoesBack},
	{"NextID/UniqueUnderConcurrentUpdates", testNextIDUniqueUnderConcurrentUpdates},

	{"Inbox/RoundTrip", testInboxRoundTrip},
	{"Inbox/MissingIsErrNotFound", testInboxMissing},
	{"Inbox/ReplaceKeepsConversations", testInboxReplaceKeepsConversations},
	{"Inbox/DeleteMissingIsErrNotFound", testInboxDeleteMissing},
	{"Inbox/DeleteCascades", testInboxDeleteCascades},
	{"Inbox/DeleteThenRecreateIsEmpty", testInboxDeleteThenRecreate},

	{"Users/EmptyStore", testUsersEmptyStore},
	{"Users/AscendingBytes", testUsersAscendingBytes},
	{"Users/PagingWithAfter", testUsersPaging},
	{"Users/AfterUnstoredID", testUsersAfterUnstored},
	{"Users/LimitZeroOrNegative", testUsersLimitZeroOrNegative},

	{"Conversation/RoundTrip", testConversationRoundTrip},
	{"Conversation/ExtremeTimesRoundTrip", testConversationExtremeTimes},
	{"Conversation/MissingIsErrNotFound", testConversationMissing},
	{"Conversation/ReplaceKeepsMessages", testConversationReplaceKeepsMessages},
	{"Conversation/DeleteMissingIsErrNotFound", testConversationDeleteMissing},
	{"Conversation/DeleteCascadesMessages", testConversationDeleteCascades},

	{"Conversations/OrderLastUpdateDescThenOther", testConversationsOrder},
	{"Conversations/TiesOrderedByOtherBytes", testConversationsTies},
	{"Conversations/ExtremeTimesOrder", testConversationsExtremeTimes},
	{"Conversations/AfterStoredKey", testConversationsAfterStored},
	{"Conversations/AfterUnstoredKey", testConversationsAfterUnstored},
	{"Conversations/PagingWithLimit", testConversationsPaging},
	{"Conversations/MoveOnLastUpdateChange", testConversationsMove},
	{"Conversations/MoveTwiceInOneTransaction", testConversationsMoveTwiceInOneTx},
	{"Conversations/UnknownOwnerIsEmpty", testConversationsUnknownOwner},

	{"Message/RoundTrip", testMessageRoundTrip},
	{"Message/MissingIsErrNotFound", testMessageMissing},
	{"Message/SameIDInMirroredConversations", testMessageSameIDMirrored},
	{"Message/ReplaceSameIDMoves", testMessageReplaceSameID},
	{"Message/DeleteMissingIsErrNotFound", testMessageDeleteMissing},
	{"Message/DeleteRemovesFromAllViews", testMessageDeleteAllViews},
	{"Message/RecordsOfOthersUnchanged", testMessageRecordsOfOthersUnchanged},

	{"Deleted/AfterDeleteMessageOnly", testDeletedAfterDeleteMessage},
	{"Deleted/ReadableInsideTheDeletingUpdate", testDeletedInsideUpdate},
	{"Deleted/ForgottenByDeleteConversation", testDeletedForgottenByDeleteConversation},
	{"Deleted/ForgottenByDeleteInbox", testDeletedForgottenByDeleteInbox},

	{"Messages/OrderByCreatedThenID", testMessagesOrder},
	{"Messages/EqualCreatedOrderedByID", testMessagesEqualCreated},
	{"Messages/BackdatedInsert", testMessagesBackdated},
	{"Messages/ExtremeTimesOrder", testMessagesExtremeTimes},
	{"Messages/AfterStoredPosition", testMessagesAfterStored},
	{"Messages/AfterUnstoredPosition", testMessagesAfterUnstored},
	{"Messages/PagingWithLimit", testMessagesPaging},
	{"Messages/UnknownConversationIsEmpty", testMessagesUnknownConversation},
	{"Messages/ConversationsDoNotMix", testMessagesDoNotMix},

	{"MessagesByID/AscendingFromAfterID", testMessagesByIDAscending},
	{"MessagesByID/LargeIDs", testMessagesByIDLargeIDs},

	{"Keys/UserIDsKeptApart", testKeysUserIDsKeptApart},
	{"Keys/ConcatenationsKeptApart", testKeysConcatenationsKeptApart},

	{"Update/CommittedVisibleToLaterViews", testUpdateVisibleToLaterViews},
	{"Update/ReadsOwnWrites", testUpdateReadsOwnWrites},
	{"Update/ErrorRollsBackPuts", testUpdateRollbackPuts},
	{"Update/ErrorRollsBackReplaces", testUpdateRollbackReplaces},
	{"Update/ErrorRollsBackConversationMove", testUpdateRollbackMove},
	{"Update/ErrorRollsBackDeleteInbox", testUpdateRollbackDeleteInbox},
	{"Update/ErrorRollsBackDeleteConversation", testUpdateRollbackDeleteConversation},
	{"Update/ErrorRollsBackDeleteMessage", testUpdateRollbackDeleteMessage},
	{"Update/UncommittedInvisibleToViews", testUpdateUncommittedInvisible},
	{"Update/CancelledContext", testUpdateCancelled},
	{"Update/ExpiredDeadline", testUpdateDeadline},

	{"OnCommit/RunsAfterCommitInOrder", testOnCommitAfterCommit},
	{"OnCommit/DroppedOnError", testOnCommitDroppedOnError},
	{"OnCommit/CommitOrderUnderConcurrency", testOnCommitCommitOrder},

	{"View/ReturnsFnErrorUnchanged", testViewReturnsFnError},
	{"View/CancelledContext", testViewCancelled},
	{"View/RepeatableRead", testViewRepeatableRead},
	{"View/SeesWholeTransactions", testViewSeesWholeTransactions},

	{"Isolation/ReturnedSlicesAreCopies", testIsolationReturnedSlices},
	{"Isolation/ReturnedSlicesAreCopiesInUpdate", testIsolationReturnedSlicesInUpdate},
	{"Isolation/ResultsOutliveTransaction", testIsolationOutliveTransaction},
	{"Isolation/PutArgumentsReused", testIsolationPutArgumentsReused},

	{"Close/ViewAndUpdateReturnErrClosed", testCloseErrClosed},
	{"Close/Idempotent", testCloseIdempotent},

	{"Concurrency/UpdatesAndViews", testConcurrency},
}

// ---------------------------------------------------------------------------
// Fixtures

// noLimit is a limit larger than anything the suite stores in one list.
const noLimit = 10000

// errBoom is what a failing transaction function returns.
var errBoom = errors.New("storetest: deliberate failure")

// base is an ordinary time with nanoseconds; at(n) is n seconds after it.
var base = time.Date(2024, time.May, 6, 7, 8, 9, 123456789, time.UTC)

func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

// extremeTimes, ascending: the zero time, times outside UnixNano's range
// (before 1678, after 2262), negative Unix times, neighbours one nanosecond
// apart, and the last nanosecond of year 9999.
var extremeTimes = []time.Time{
	{},
	time.Date(1, time.January, 1, 0, 0, 0, 1, time.UTC),
	time.Date(1600, time.February, 29, 12, 0, 0, 500, time.UTC),
	time.Date(1969, time.December, 31, 23, 59, 59, 999999999, time.UTC),
	time.Unix(0, 0).UTC(),
	time.Unix(0, 1).UTC(),
	base,
	base.Add(time.Nanosecond),
	time.Date(2300, time.January, 1, 0, 0, 0, 0, time.UTC),
	time.Date(9999, time.December, 31, 23, 59, 59, 999999999, time.UTC),
}

// trickyIDs are user ids that naive key encodings confuse: separators,
// escapes, prefixes of each other, pairs whose concatenations coincide
// ("ab"+"c", "a"+"bc", "a/b"+"c", "a"+"b/c"...), Unicode in two
// normalisation forms, and the longest ids.
var trickyIDs = []string{
	"a", "ab", "abc", "a b", "a/b", "a:b", "a.b", "a%b",
	"b", "bc", "b c", "b/c", "b:c", "c",
	"/", ":", "%", "%2F", `"`, "'", `\`, ".", "..", " x ",
	"Zoë", "Zoe\u0308", "日本", "日本語", "😀",
	strings.Repeat("x", 255), strings.Repeat("é", 127),
}

func inbox(owner string, unread int) messaging.InboxRecord {
	return messaging.InboxRecord{Owner: owner, Unread: unread}
}

// conv returns a conversation record with every field set, distinct per pair.
func conv(owner, other string, last time.Time) messaging.ConversationRecord {
	return messaging.ConversationRecord{
		Owner:        owner,
		Other:        other,
		Messages:     len(owner) + 1,
		Unread:       len(other),
		LastUpdate:   last,
		FirstID:      uint64(10 + len(other)),
		MaxID:        100,
		ReadMark:     90,
		PeerReadMark: 80,
		Last: messaging.MessageRecord{
			ID: 100, Sender: other, Recipient: owner,
			Text: "last from " + other, Created: last,
		},
	}
}

func msg(id uint64, created time.Time) messaging.MessageRecord {
	return messaging.MessageRecord{
		ID: id, Sender: "sender", Recipient: "recipient",
		Text:    fmt.Sprintf("message %d at %s", id, created.Format(time.RFC3339Nano)),
		Created: created,
	}
}

func withText(m messaging.MessageRecord, text string) messaging.MessageRecord {
	m.Text = text
	return m
}

// ---------------------------------------------------------------------------
// Transactions

// op is one write inside an Update.
type op func(messaging.Tx) error

func putInbox(rec messaging.InboxRecord) op {
	return func(tx messaging.Tx) error { return tx.PutInbox(rec) }
}

func putConv(rec messaging.ConversationRecord) op {
	return func(tx messaging.Tx) error { return tx.PutConversation(rec) }
}

func putMsg(owner, other string, m messaging.MessageRecord) op {
	return func(tx messaging.Tx) error { return tx.PutMessage(owner, other, m) }
}

func delInbox(owner string) op {
	return func(tx messaging.Tx) error { return tx.DeleteInbox(owner) }
}

func delConv(owner, other string) op {
	return func(tx messaging.Tx) error { return tx.DeleteConversation(owner, other) }
}

func delMsg(owner, other string, id uint64) op {
	return func(tx messaging.Tx) error { return tx.DeleteMessage(owner, other, id) }
}

func runOps(tx messaging.Tx, ops []op) error {
	for i, o := range ops {
		if err := o(tx); err != nil {
			return fmt.Errorf("write %d of %d: %w", i+1, len(ops), err)
		}
	}
	return nil
}

// update commits ops in one Update.
func update(t *testing.T, s messaging.Store, ops ...op) {
	t.Helper()
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) error { return runOps(tx, ops) }))
}

// failUpdate runs ops in one Update whose function then returns errBoom.
func failUpdate(t *testing.T, s messaging.Store, ops ...op) {
	t.Helper()
	err := s.Update(t.Context(), func(tx messaging.Tx) error {
		if err := runOps(tx, ops); err != nil {
			return err
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom, "the writes must succeed and Update must return fn's error")
}

// updateErr runs one write in an Update and returns Update's error.
func updateErr(t *testing.T, s messaging.Store, o op) error {
	t.Helper()
	return s.Update(t.Context(), func(tx messaging.Tx) error { return o(tx) })
}

func nextID(t *testing.T, s messaging.Store) uint64 {
	t.Helper()
	var id uint64
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) error {
		var err error
		id, err = tx.NextID()
		return err
	}))
	return id
}

// read runs f in a View and returns its result.
func read[T any](t *testing.T, s messaging.Store, f func(messaging.ReadTx) (T, error)) T {
	t.Helper()
	var v T
	require.NoError(t, s.View(t.Context(), func(tx messaging.ReadTx) error {
		var err error
		v, err = f(tx)
		return err
	}))
	return v
}

// lookupErr runs f in a View and returns f's error (the View itself must
// succeed).
func lookupErr(t *testing.T, s messaging.Store, f func(messaging.ReadTx) error) error {
	t.Helper()
	var ferr error
	require.NoError(t, s.View(t.Context(), func(tx messaging.ReadTx) error {
		ferr = f(tx)
		return nil
	}))
	return ferr
}

func getInbox(t *testing.T, s messaging.Store, owner string) messaging.InboxRecord {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) (messaging.InboxRecord, error) { return tx.Inbox(owner) })
}

func getConv(t *testing.T, s messaging.Store, owner, other string) messaging.ConversationRecord {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) (messaging.ConversationRecord, error) {
		return tx.Conversation(owner, other)
	})
}

func getMsg(t *testing.T, s messaging.Store, owner, other string, id uint64) messaging.MessageRecord {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) (messaging.MessageRecord, error) {
		return tx.Message(owner, other, id)
	})
}

func users(t *testing.T, s messaging.Store, after string, limit int) []string {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) ([]string, error) { return tx.Users(after, limit) })
}

func convs(t *testing.T, s messaging.Store, owner string, after *messaging.ConversationKey, limit int) []messaging.ConversationRecord {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) ([]messaging.ConversationRecord, error) {
		return tx.Conversations(owner, after, limit)
	})
}

func msgs(t *testing.T, s messaging.Store, owner, other string, after *messaging.MessageKey, reverse bool, limit int) []messaging.MessageRecord {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) ([]messaging.MessageRecord, error) {
		return tx.Messages(owner, other, after, reverse, limit)
	})
}

func msgsByID(t *testing.T, s messaging.Store, owner, other string, afterID uint64, limit int) []messaging.MessageRecord {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) ([]messaging.MessageRecord, error) {
		return tx.MessagesByID(owner, other, afterID, limit)
	})
}

// ---------------------------------------------------------------------------
// Comparing records

// canon gives equal instants one representation, so that records compare
// with assert.Equal exactly when their times are Equal.
func canon(tm time.Time) time.Time { return tm.UTC().Round(0) }

func normMsg(m messaging.MessageRecord) messaging.MessageRecord {
	m.Created = canon(m.Created)
	return m
}

func normConv(c messaging.ConversationRecord) messaging.ConversationRecord {
	c.LastUpdate = canon(c.LastUpdate)
	c.Last = normMsg(c.Last)
	return c
}

// normMsgs returns a normalised copy; an empty list is nil.
func normMsgs(ms []messaging.MessageRecord) []messaging.MessageRecord {
	var out []messaging.MessageRecord
	for _, m := range ms {
		out = append(out, normMsg(m))
	}
	return out
}

func normConvs(cs []messaging.ConversationRecord) []messaging.ConversationRecord {
	var out []messaging.ConversationRecord
	for _, c := range cs {
		out = append(out, normConv(c))
	}
	return out
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func reversed[T any](s []T) []T {
	out := slices.Clone(nilIfEmpty(s))
	slices.Reverse(out)
	return out
}

func byMsgKey(a, b messaging.MessageRecord) int { return a.Key().Compare(b.Key()) }

func byConvKey(a, b messaging.ConversationRecord) int { return a.Key().Compare(b.Key()) }

func ids(ms []messaging.MessageRecord) []uint64 {
	var out []uint64
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func others(cs []messaging.ConversationRecord) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Other)
	}
	return out
}

// ---------------------------------------------------------------------------
// A model of the store, and the whole observable state

type pair struct{ Owner, Other string }

type msgRef struct {
	Pair pair
	ID   uint64
}

// model is what the store should hold. Its Put and Delete methods record the
// write and return it as an op for update. It also remembers every key it has
// seen, so that a dump looks them up whether or not they still exist.
type model struct {
	inboxes map[string]messaging.InboxRecord
	convs   map[pair]messaging.ConversationRecord
	msgs    map[pair]map[uint64]messaging.MessageRecord
	tombs   map[pair]map[uint64]bool // what Deleted gives true for

	owners map[string]bool
	pairs  map[pair]bool
	refs   map[msgRef]bool
}

func newModel() *model {
	return &model{
		inboxes: map[string]messaging.InboxRecord{},
		convs:   map[pair]messaging.ConversationRecord{},
		msgs:    map[pair]map[uint64]messaging.MessageRecord{},
		tombs:   map[pair]map[uint64]bool{},
		owners:  map[string]bool{},
		pairs:   map[pair]bool{},
		refs:    map[msgRef]bool{},
	}
}

// clone returns a deep copy, for writes that are meant to be rolled back.
func (m *model) clone() *model {
	c := newModel()
	for k, v := range m.inboxes {
		c.inboxes[k] = v
	}
	for k, v := range m.convs {
		c.convs[k] = v
	}
	for p, ms := range m.msgs {
		c.msgs[p] = map[uint64]messaging.MessageRecord{}
		for id, v := range ms {
			c.msgs[p][id] = v
		}
	}
	for p, ts := range m.tombs {
		c.tombs[p] = maps.Clone(ts)
	}
	c.probe(m)
	return c
}

// probe adds the keys o has seen to those m looks up.
func (m *model) probe(o *model) {
	for k := range o.owners {
		m.owners[k] = true
	}
	for k := range o.pairs {
		m.pairs[k] = true
		m.owners[k.Owner] = true
	}
	for k := range o.refs {
		m.refs[k] = true
	}
}

func (m *model) seePair(owner, other string) pair {
	p := pair{owner, other}
	m.owners[owner] = true
	m.pairs[p] = true
	return p
}

func (m *model) PutInbox(rec messaging.InboxRecord) op {
	m.owners[rec.Owner] = true
	m.inboxes[rec.Owner] = rec
	return putInbox(rec)
}

func (m *model) PutConversation(rec messaging.ConversationRecord) op {
	m.convs[m.seePair(rec.Owner, rec.Other)] = rec
	return putConv(rec)
}

func (m *model) PutMessage(owner, other string, rec messaging.MessageRecord) op {
	p := m.seePair(owner, other)
	m.refs[msgRef{p, rec.ID}] = true
	if m.msgs[p] == nil {
		m.msgs[p] = map[uint64]messaging.MessageRecord{}
	}
	m.msgs[p][rec.ID] = rec
	return putMsg(owner, other, rec)
}

func (m *model) DeleteInbox(owner string) op {
	m.owners[owner] = true
	delete(m.inboxes, owner)
	for p := range m.convs {
		if p.Owner == owner {
			delete(m.convs, p)
			delete(m.msgs, p)
			delete(m.tombs, p)
		}
	}
	return delInbox(owner)
}

func (m *model) DeleteConversation(owner, other string) op {
	p := m.seePair(owner, other)
	delete(m.convs, p)
	delete(m.msgs, p)
	delete(m.tombs, p)
	return delConv(owner, other)
}

func (m *model) DeleteMessage(owner, other string, id uint64) op {
	p := m.seePair(owner, other)
	m.refs[msgRef{p, id}] = true
	delete(m.msgs[p], id)
	if m.tombs[p] == nil {
		m.tombs[p] = map[uint64]bool{}
	}
	m.tombs[p][id] = true
	return delMsg(owner, other, id)
}

// state is everything the ReadTx methods show about the keys a model has
// seen. Missing records are nil; empty lists are nil; times are canonical.
type state struct {
	Users         []string
	Inboxes       map[string]*messaging.InboxRecord
	Conversations map[string][]messaging.ConversationRecord // Conversations(owner), whole list
	Records       map[pair]*messaging.ConversationRecord    // Conversation(owner, other)
	Ascending     map[pair][]messaging.MessageRecord        // Messages, oldest first
	Descending    map[pair][]messaging.MessageRecord        // Messages with reverse
	ByID          map[pair][]messaging.MessageRecord        // MessagesByID from 0
	Points        map[msgRef]*messaging.MessageRecord       // Message(owner, other, id)
	Deleted       map[msgRef]bool                           // Deleted(owner, other, id)
}

func newState() state {
	return state{
		Inboxes:       map[string]*messaging.InboxRecord{},
		Conversations: map[string][]messaging.ConversationRecord{},
		Records:       map[pair]*messaging.ConversationRecord{},
		Ascending:     map[pair][]messaging.MessageRecord{},
		Descending:    map[pair][]messaging.MessageRecord{},
		ByID:          map[pair][]messaging.MessageRecord{},
		Points:        map[msgRef]*messaging.MessageRecord{},
		Deleted:       map[msgRef]bool{},
	}
}

// want is the state the store should show.
func (m *model) want() state {
	st := newState()
	for o := range m.inboxes {
		st.Users = append(st.Users, o)
	}
	slices.Sort(st.Users)
	for o := range m.owners {
		st.Inboxes[o] = nil
		if rec, ok := m.inboxes[o]; ok {
			st.Inboxes[o] = &rec
		}
		var list []messaging.ConversationRecord
		for p, c := range m.convs {
			if p.Owner == o {
				list = append(list, normConv(c))
			}
		}
		slices.SortFunc(list, byConvKey)
		st.Conversations[o] = list
	}
	for p := range m.pairs {
		st.Records[p] = nil
		if c, ok := m.convs[p]; ok {
			c = normConv(c)
			st.Records[p] = &c
		}
		var asc []messaging.MessageRecord
		for _, r := range m.msgs[p] {
			asc = append(asc, normMsg(r))
		}
		slices.SortFunc(asc, byMsgKey)
		st.Ascending[p] = asc
		st.Descending[p] = reversed(asc)
		byID := slices.Clone(asc)
		slices.SortFunc(byID, func(a, b messaging.MessageRecord) int { return cmpUint(a.ID, b.ID) })
		st.ByID[p] = byID
	}
	for r := range m.refs {
		st.Points[r] = nil
		if rec, ok := m.msgs[r.Pair][r.ID]; ok {
			rec = normMsg(rec)
			st.Points[r] = &rec
		}
		st.Deleted[r] = m.tombs[r.Pair][r.ID]
	}
	return st
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// found turns ErrNotFound into a nil record.
func found[T any](v T, err error) (*T, error) {
	if err == nil {
		return &v, nil
	}
	if errors.Is(err, messaging.ErrNotFound) {
		return nil, nil
	}
	return nil, err
}

// readState reads, through tx, the state of the keys m has seen.
func readState(tx messaging.ReadTx, m *model) (state, error) {
	st := newState()
	us, err := tx.Users("", noLimit)
	if err != nil {
		return st, fmt.Errorf("read Users: %w", err)
	}
	st.Users = nilIfEmpty(us)
	for o := range m.owners {
		if st.Inboxes[o], err = found(tx.Inbox(o)); err != nil {
			return st, fmt.Errorf("Inbox(%q): %w", o, err)
		}
		list, err := tx.Conversations(o, nil, noLimit)
		if err != nil {
			return st, fmt.Errorf("Conversations(%q): %w", o, err)
		}
		st.Conversations[o] = normConvs(list)
	}
	for p := range m.pairs {
		c, err := found(tx.Conversation(p.Owner, p.Other))
		if err != nil {
			return st, fmt.Errorf("Conversation(%q, %q): %w", p.Owner, p.Other, err)
		}
		if c != nil {
			*c = normConv(*c)
		}
		st.Records[p] = c
		asc, err := tx.Messages(p.Owner, p.Other, nil, false, noLimit)
		if err != nil {
			return st, fmt.Errorf("Messages(%q, %q): %w", p.Owner, p.Other, err)
		}
		desc, err := tx.Messages(p.Owner, p.Other, nil, true, noLimit)
		if err != nil {
			return st, fmt.Errorf("Messages(%q, %q, reverse): %w", p.Owner, p.Other, err)
		}
		byID, err := tx.MessagesByID(p.Owner, p.Other, 0, noLimit)
		if err != nil {
			return st, fmt.Errorf("MessagesByID(%q, %q): %w", p.Owner, p.Other, err)
		}
		st.Ascending[p], st.Descending[p], st.ByID[p] = normMsgs(asc), normMsgs(desc), normMsgs(byID)
	}
	for r := range m.refs {
		rec, err := found(tx.Message(r.Pair.Owner, r.Pair.Other, r.ID))
		if err != nil {
			return st, fmt.Errorf("Message(%q, %q, %d): %w", r.Pair.Owner, r.Pair.Other, r.ID, err)
		}
		if rec != nil {
			*rec = normMsg(*rec)
		}
		st.Points[r] = rec
		if st.Deleted[r], err = tx.Deleted(r.Pair.Owner, r.Pair.Other, r.ID); err != nil {
			return st, fmt.Errorf("Deleted(%q, %q, %d): %w", r.Pair.Owner, r.Pair.Other, r.ID, err)
		}
	}
	return st, nil
}

func dump(t *testing.T, s messaging.Store, m *model) state {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) (state, error) { return readState(tx, m) })
}

// assertState checks that the store shows exactly what m holds.
func assertState(t *testing.T, s messaging.Store, m *model, msgAndArgs ...any) bool {
	t.Helper()
	return assertSameState(t, m.want(), dump(t, s, m), msgAndArgs...)
}

// assertSameState reports, briefly, how got differs from want.
func assertSameState(t *testing.T, want, got state, msgAndArgs ...any) bool {
	t.Helper()
	d := diffState(want, got)
	if len(d) == 0 {
		return true
	}
	const maxLines = 25
	if len(d) > maxLines {
		d = append(d[:maxLines], fmt.Sprintf("... and %d more differences", len(d)-maxLines))
	}
	return assert.Fail(t, "the store does not hold what was written:\n\t"+strings.Join(d, "\n\t"), msgAndArgs...)
}

// diffState lists the differences between two states, one a line.
func diffState(want, got state) []string {
	var d []string
	d = append(d, diffList("Users", want.Users, got.Users, short, nil)...)
	for _, o := range sortedKeys(want.Inboxes, got.Inboxes, strings.Compare) {
		d = append(d, diffOne("Inbox("+short(o)+")", want.Inboxes[o], got.Inboxes[o], func(r messaging.InboxRecord) string {
			return fmt.Sprintf("{Owner:%s Unread:%d}", short(r.Owner), r.Unread)
		})...)
	}
	for _, o := range sortedKeys(want.Conversations, got.Conversations, strings.Compare) {
		d = append(d, diffList("Conversations("+short(o)+")", want.Conversations[o], got.Conversations[o],
			func(c messaging.ConversationRecord) string { return short(c.Other) }, fmtConv)...)
	}
	for _, p := range sortedKeys(want.Records, got.Records, cmpPair) {
		d = append(d, diffOne("Conversation"+p.String(), want.Records[p], got.Records[p], fmtConv)...)
	}
	msgID := func(m messaging.MessageRecord) string { return fmt.Sprint(m.ID) }
	for _, p := range sortedKeys(want.Ascending, got.Ascending, cmpPair) {
		d = append(d, diffList("Messages"+p.String(), want.Ascending[p], got.Ascending[p], msgID, fmtMsg)...)
	}
	for _, p := range sortedKeys(want.Descending, got.Descending, cmpPair) {
		d = append(d, diffList("Messages"+p.String()+" reverse", want.Descending[p], got.Descending[p], msgID, fmtMsg)...)
	}
	for _, p := range sortedKeys(want.ByID, got.ByID, cmpPair) {
		d = append(d, diffList("MessagesByID"+p.String(), want.ByID[p], got.ByID[p], msgID, fmtMsg)...)
	}
	for _, r := range sortedKeys(want.Points, got.Points, cmpRef) {
		d = append(d, diffOne(fmt.Sprintf("Message(%s, %s, %d)", short(r.Pair.Owner), short(r.Pair.Other), r.ID), want.Points[r], got.Points[r], fmtMsg)...)
	}
	for _, r := range sortedKeys(want.Deleted, got.Deleted, cmpRef) {
		if want.Deleted[r] != got.Deleted[r] {
			d = append(d, fmt.Sprintf("Deleted(%s, %s, %d): want %v, got %v", short(r.Pair.Owner), short(r.Pair.Other), r.ID, want.Deleted[r], got.Deleted[r]))
		}
	}
	return d
}

func (p pair) String() string { return "(" + short(p.Owner) + ", " + short(p.Other) + ")" }

// short quotes a user id, eliding the middle of long ones.
func short(id string) string {
	r := []rune(id)
	if len(r) <= 24 {
		return strconv.Quote(id)
	}
	return fmt.Sprintf("%q…%q(%d bytes)", string(r[:10]), string(r[len(r)-4:]), len(id))
}

// diffOne compares two records; nil stands for ErrNotFound.
func diffOne[T any](name string, want, got *T, format func(T) string) []string {
	if reflect.DeepEqual(want, got) {
		return nil
	}
	f := func(v *T) string {
		if v == nil {
			return "ErrNotFound"
		}
		return format(*v)
	}
	return []string{fmt.Sprintf("%s: want %s, got %s", name, f(want), f(got))}
}

// diffList compares two lists: first by their keys, then record by record.
func diffList[T any](name string, want, got []T, key func(T) string, format func(T) string) []string {
	if reflect.DeepEqual(want, got) {
		return nil
	}
	keys := func(l []T) string {
		var ks []string
		for i, v := range l {
			if i == 30 {
				ks = append(ks, fmt.Sprintf("...(%d in all)", len(l)))
				break
			}
			ks = append(ks, key(v))
		}
		return "[" + strings.Join(ks, " ") + "]"
	}
	if wk, gk := keys(want), keys(got); wk != gk || format == nil {
		return []string{fmt.Sprintf("%s: want %s, got %s", name, wk, gk)}
	}
	for i := range want {
		if !reflect.DeepEqual(want[i], got[i]) {
			return []string{fmt.Sprintf("%s[%d]: want %s, got %s", name, i, format(want[i]), format(got[i]))}
		}
	}
	return nil
}

func sortedKeys[K comparable, V any](a, b map[K]V, cmp func(K, K) int) []K {
	var ks []K
	for k := range a {
		ks = append(ks, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, cmp)
	return ks
}

func cmpPair(a, b pair) int {
	if c := strings.Compare(a.Owner, b.Owner); c != 0 {
		return c
	}
	return strings.Compare(a.Other, b.Other)
}

func cmpRef(a, b msgRef) int {
	if c := cmpPair(a.Pair, b.Pair); c != 0 {
		return c
	}
	return cmpUint(a.ID, b.ID)
}

func fmtMsg(m messaging.MessageRecord) string {
	text := m.Text
	if len(text) > 40 {
		text = text[:40] + "..."
	}
	return fmt.Sprintf("{ID:%d Created:%s Sender:%s Recipient:%s Text:%q}", m.ID, m.Created.Format(time.RFC3339Nano), short(m.Sender), short(m.Recipient), text)
}

func fmtConv(c messaging.ConversationRecord) string {
	return fmt.Sprintf("{Owner:%s Other:%s Messages:%d Unread:%d LastUpdate:%s FirstID:%d MaxID:%d ReadMark:%d PeerReadMark:%d Last:%s}",
		short(c.Owner), short(c.Other), c.Messages, c.Unread, c.LastUpdate.Format(time.RFC3339Nano), c.FirstID, c.MaxID, c.ReadMark, c.PeerReadMark, fmtMsg(c.Last))
}

// baseline commits, over three transactions, a small store: inboxes "bob",
// "dave" and "bo" (a prefix of "bob"); bob's conversations with carol, dave
// and erin; dave's with bob holding the mirrored copies (same IDs); and bo's
// with "b".
func baseline(t *testing.T, s messaging.Store) *model {
	t.Helper()
	m := newModel()
	update(t, s,
		m.PutInbox(inbox("bob", 2)), m.PutInbox(inbox("dave", 1)), m.PutInbox(inbox("bo", 0)),
		m.PutConversation(conv("bob", "dave", at(2))),
		m.PutConversation(conv("bob", "carol", at(1))),
		m.PutConversation(conv("dave", "bob", at(2))),
		m.PutConversation(conv("bo", "b", at(0))),
	)
	update(t, s,
		m.PutMessage("bob", "dave", msg(1, at(0))),
		m.PutMessage("bob", "dave", msg(2, at(1))),
		m.PutMessage("bob", "dave", msg(3, at(2))),
		m.PutMessage("dave", "bob", msg(1, at(0))),
		m.PutMessage("dave", "bob", msg(2, at(1))),
		m.PutMessage("dave", "bob", msg(3, at(2))),
		m.PutMessage("bob", "carol", msg(4, at(1))),
		m.PutMessage("bo", "b", msg(5, at(0))),
	)
	update(t, s,
		m.PutConversation(conv("bob", "erin", at(3))),
		m.PutMessage("bob", "erin", msg(6, at(3))),
	)
	require.True(t, assertState(t, s, m), "baseline")
	return m
}

// ---------------------------------------------------------------------------
// NextID

func testNextIDStartsAtOneOrMore(t *testing.T, s messaging.Store) {
	assert.GreaterOrEqual(t, nextID(t, s), uint64(1))
}

func testNextIDIncreasesAcrossTransactions(t *testing.T, s messaging.Store) {
	update(t, s, putInbox(inbox("bob", 0)))
	prev := nextID(t, s)
	for i := range 20 {
		if i%3 == 0 {
			update(t, s, putInbox(inbox("bob", i)))
		}
		id := nextID(t, s)
		assert.Greater(t, id, prev, "transaction %d", i)
		prev = id
	}
}

func testNextIDRollbackNeverGoesBack(t *testing.T, s messaging.Store) {
	committed := nextID(t, s)
	var rolledBack uint64
	err := s.Update(t.Context(), func(tx messaging.Tx) error {
		var err error
		if rolledBack, err = tx.NextID(); err != nil {
			return err
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	assert.Greater(t, rolledBack, committed, "inside the failed transaction")
	assert.Greater(t, nextID(t, s), committed, "after the failed transaction")
}

func testNextIDUniqueUnderConcurrentUpdates(t *testing.T, s messaging.Store) {
	const goroutines, perGoroutine = 8, 25
	got := make([][]uint64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range perGoroutine {
				var id uint64
				err := s.Update(t.Context(), func(tx messaging.Tx) error {
					var err error
					id, err = tx.NextID()
					return err
				})
				if !assert.NoError(t, err) {
					return
				}
				got[g] = append(got[g], id)
			}
		})
	}
	wg.Wait()
	seen := map[uint64]int{}
	for g, list := range got {
		assert.Len(t, list, perGoroutine, "goroutine %d", g)
		assert.True(t, slices.IsSorted(list) && len(slices.Compact(slices.Clone(list))) == len(list),
			"goroutine %d: IDs of its successive transactions not strictly increasing: %v", g, list)
		for _, id := range list {
			seen[id]++
		}
	}
	for id, n := range seen {
		assert.Equal(t, 1, n, "ID %d returned by %d committed transactions", id, n)
	}
}

// ---------------------------------------------------------------------------
// Inbox and Users

func testInboxRoundTrip(t *testing.T, s messaging.Store) {
	update(t, s, putInbox(inbox("bob", 3)), putInbox(inbox("dave", 1<<40)), putInbox(inbox("日本", 0)))
	assert.Equal(t, inbox("bob", 3), getInbox(t, s, "bob"))
	assert.Equal(t, inbox("dave", 1<<40), getInbox(t, s, "dave"))
	assert.Equal(t, inbox("日本", 0), getInbox(t, s, "日本"))

	update(t, s, putInbox(inbox("bob", 0)))
	assert.Equal(t, inbox("bob", 0), getInbox(t, s, "bob"), "replaced")
	assert.Equal(t, inbox("dave", 1<<40), getInbox(t, s, "dave"), "untouched")
}

func testInboxMissing(t *testing.T, s messaging.Store) {
	inboxErr := func(owner string) error {
		return lookupErr(t, s, func(tx messaging.ReadTx) error { _, err := tx.Inbox(owner); return err })
	}
	assert.ErrorIs(t, inboxErr("bob"), messaging.ErrNotFound, "empty store")
	update(t, s, putInbox(inbox("bob", 1)))
	for _, owner := range []string{"bo", "bobby", "Bob", "bob ", "dave"} {
		assert.ErrorIs(t, inboxErr(owner), messaging.ErrNotFound, "owner %q", owner)
	}
	require.NoError(t, inboxErr("bob"))
}

func testInboxReplaceKeepsConversations(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	update(t, s, m.PutInbox(inbox("bob", 7)))
	assertState(t, s, m)
}

func testInboxDeleteMissing(t *testing.T, s messaging.Store) {
	assert.ErrorIs(t, updateErr(t, s, delInbox("bob")), messaging.ErrNotFound, "empty store")
	m := baseline(t, s)
	for _, owner := range []string{"b", "bobby", "carol", "Bob"} {
		assert.ErrorIs(t, updateErr(t, s, delInbox(owner)), messaging.ErrNotFound, "owner %q", owner)
	}
	assertState(t, s, m, "failed deletes changed the store")
}

// prefixOwners writes inboxes whose owners are prefixes of each other or
// differ by a separator, each with conversations and messages.
func prefixOwners(t *testing.T, s messaging.Store) *model {
	t.Helper()
	m := newModel()
	var ops []op
	for i, owner := range []string{"a", "ab", "a b", "a/b", "a:b", "a.b", "b"} {
		ops = append(ops, m.PutInbox(inbox(owner, i)))
		for j, other := range []string{"b", "c", "bc"} {
			if other == owner {
				continue
			}
			ops = append(ops,
				m.PutConversation(conv(owner, other, at(i+j))),
				m.PutMessage(owner, other, withText(msg(uint64(j+1), at(j)), owner+" to "+other)),
				m.PutMessage(owner, other, withText(msg(uint64(10+i), at(i)), owner+" to "+other+" again")),
			)
		}
	}
	update(t, s, ops...)
	require.True(t, assertState(t, s, m), "fixture")
	return m
}

func testInboxDeleteCascades(t *testing.T, s messaging.Store) {
	m := prefixOwners(t, s)
	update(t, s, m.DeleteInbox("a"))
	assertState(t, s, m, `after DeleteInbox("a")`)
	update(t, s, m.DeleteInbox("a/b"), m.DeleteInbox("ab"))
	assertState(t, s, m, `after DeleteInbox("a/b") and ("ab")`)
}

func testInboxDeleteThenRecreate(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	update(t, s, m.DeleteInbox("bob"))
	update(t, s, m.PutInbox(inbox("bob", 0)))
	assertState(t, s, m, "recreated in a later transaction")
	assert.Empty(t, convs(t, s, "bob", nil, noLimit))

	update(t, s, m.DeleteInbox("dave"), m.PutInbox(inbox("dave", 0)), m.PutConversation(conv("dave", "bob", at(-1))))
	assertState(t, s, m, "recreated in the same transaction")
}

func testUsersEmptyStore(t *testing.T, s messaging.Store) {
	assert.Empty(t, users(t, s, "", 10))
	assert.Empty(t, users(t, s, "bob", 10))
}

func sortedTricky() []string {
	out := slices.Clone(trickyIDs)
	slices.Sort(out)
	return out
}

func putTrickyInboxes(t *testing.T, s messaging.Store) {
	t.Helper()
	var ops []op
	for _, id := range reversed(trickyIDs) {
		ops = append(ops, putInbox(inbox(id, len(id))))
	}
	update(t, s, ops...)
}

func testUsersAscendingBytes(t *testing.T, s messaging.Store) {
	putTrickyInboxes(t, s)
	assert.Equal(t, sortedTricky(), users(t, s, "", noLimit))
}

func testUsersPaging(t *testing.T, s messaging.Store) {
	putTrickyInboxes(t, s)
	want := sortedTricky()
	for _, limit := range []int{1, 2, 3, 7, len(want), len(want) + 1} {
		var got []string
		after := ""
		for range len(want) + 2 {
			page := users(t, s, after, limit)
			assert.Len(t, page, min(limit, len(want)-len(got)), "limit %d after %q", limit, after)
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1]
		}
		assert.Equal(t, want, got, "limit %d", limit)
	}
	for i, after := range want {
		assert.Equal(t, nilIfEmpty(want[i+1:]), nilIfEmpty(users(t, s, after, noLimit)), "after %q", after)
	}
}

func testUsersAfterUnstored(t *testing.T, s messaging.Store) {
	putTrickyInboxes(t, s)
	want := sortedTricky()
	for _, after := range []string{"!", "a ", "aa", "a/", "a/bb", "b0", "Zo", "Zz", "日", "~", "\U0010FFFF"} {
		i, found := slices.BinarySearch(want, after)
		require.False(t, found, after)
		assert.Equal(t, nilIfEmpty(want[i:]), nilIfEmpty(users(t, s, after, noLimit)), "after %q", after)
		assert.Equal(t, nilIfEmpty(want[i:min(i+2, len(want))]), nilIfEmpty(users(t, s, after, 2)), "after %q, limit 2", after)
	}
}

func testUsersLimitZeroOrNegative(t *testing.T, s messaging.Store) {
	update(t, s, putInbox(inbox("bob", 0)), putInbox(inbox("dave", 0)))
	assert.Empty(t, users(t, s, "", 0))
	assert.Empty(t, users(t, s, "", -1))
	assert.Empty(t, users(t, s, "bob", math.MinInt))
}

// ---------------------------------------------------------------------------
// Conversation

func testConversationRoundTrip(t *testing.T, s messaging.Store) {
	rec := messaging.ConversationRecord{
		Owner: "bob", Other: "dave",
		Messages: 42, Unread: 7, LastUpdate: base,
		FirstID: 1<<63 + 3, MaxID: math.MaxUint64 - 1, ReadMark: 1 << 40, PeerReadMark: 1<<40 - 1,
		Last: messaging.MessageRecord{
			ID: 1 << 40, Sender: "dave", Recipient: "bob",
			Text: "see you at 8 ✓\nbring \"the\" \\ stuff\x00", Created: base,
		},
	}
	update(t, s, putInbox(inbox("bob", 7)), putConv(rec))
	got := getConv(t, s, "bob", "dave")
	assert.Equal(t, normConv(rec), normConv(got))
	assert.Equal(t, time.UTC, got.Last.Created.Location(), "Last.Created comes back in UTC")

	empty := messaging.ConversationRecord{Owner: "bob", Other: "carol"}
	update(t, s, putConv(empty))
	assert.Equal(t, normConv(empty), normConv(getConv(t, s, "bob", "carol")), "zero fields")

	rec.Messages, rec.Unread, rec.LastUpdate, rec.ReadMark, rec.FirstID = 43, 0, at(1), rec.MaxID, 1
	rec.Last = messaging.MessageRecord{}
	update(t, s, putConv(rec))
	assert.Equal(t, normConv(rec), normConv(getConv(t, s, "bob", "dave")), "replaced")
}

func testConversationExtremeTimes(t *testing.T, s messaging.Store) {
	ops := []op{putInbox(inbox("bob", 0))}
	for i, tm := range extremeTimes {
		ops = append(ops, putConv(conv("bob", fmt.Sprint("t", i), tm)))
	}
	update(t, s, ops...)
	for i, tm := range extremeTimes {
		got := getConv(t, s, "bob", fmt.Sprint("t", i))
		assert.True(t, got.LastUpdate.Equal(tm), "LastUpdate: got %v, want %v", got.LastUpdate, tm)
		assert.True(t, got.Last.Created.Equal(tm), "Last.Created: got %v, want %v", got.Last.Created, tm)
	}
}

func testConversationMissing(t *testing.T, s messaging.Store) {
	convErr := func(owner, other string) error {
		return lookupErr(t, s, func(tx messaging.ReadTx) error { _, err := tx.Conversation(owner, other); return err })
	}
	assert.ErrorIs(t, convErr("bob", "dave"), messaging.ErrNotFound, "empty store")
	update(t, s, putInbox(inbox("bob", 0)), putInbox(inbox("bo", 0)), putConv(conv("bob", "dave", base)))
	require.NoError(t, convErr("bob", "dave"))
	for _, p := range []pair{
		{"dave", "bob"}, {"bob", "dav"}, {"bob", "daves"}, {"bob", "Dave"},
		{"bo", "bdave"}, {"bo", "b/dave"}, {"carol", "dave"}, {"bob", "bob"},
	} {
		assert.ErrorIs(t, convErr(p.Owner, p.Other), messaging.ErrNotFound, "%q", p)
	}
}

func testConversationReplaceKeepsMessages(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	c := conv("bob", "dave", at(-7))
	c.Messages, c.Unread = 99, 98
	update(t, s, m.PutConversation(c))
	assertState(t, s, m)
}

func testConversationDeleteMissing(t *testing.T, s messaging.Store) {
	assert.ErrorIs(t, updateErr(t, s, delConv("bob", "dave")), messaging.ErrNotFound, "empty store")
	m := baseline(t, s)
	for _, p := range []pair{{"bob", "dav"}, {"bob", "zed"}, {"carol", "bob"}, {"erin", "bob"}, {"bo", "bdave"}} {
		assert.ErrorIs(t, updateErr(t, s, delConv(p.Owner, p.Other)), messaging.ErrNotFound, "%q", p)
	}
	assertState(t, s, m, "failed deletes changed the store")
}

func testConversationDeleteCascades(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	update(t, s, m.DeleteConversation("bob", "dave"))
	assertState(t, s, m, "deleted")
	update(t, s, m.PutConversation(conv("bob", "dave", at(5))))
	assertState(t, s, m, "recreated: no old messages")
	assert.Empty(t, msgs(t, s, "bob", "dave", nil, false, noLimit))
}

// ---------------------------------------------------------------------------
// Conversations

// convSeed puts bob's conversations (several sharing a LastUpdate) in an
// order unrelated to theirs, and returns them in the order Conversations
// must give.
func convSeed(t *testing.T, s messaging.Store) []messaging.ConversationRecord {
	t.Helper()
	recs := []messaging.ConversationRecord{
		conv("bob", "carol", at(2)),
		conv("bob", "dave", at(5)),
		conv("bob", "al", at(2)),
		conv("bob", "ed", at(-3)),
		conv("bob", "erin", at(5)),
		conv("bob", "al b", at(2)),
		conv("bob", "zed", at(0)),
		conv("bob", "Zoë", at(2)),
		conv("bob", "fay", at(2).Add(time.Nanosecond)),
	}
	ops := []op{putInbox(inbox("bob", 0)), putInbox(inbox("carol", 0))}
	for i, r := range recs {
		ops = append(ops, putConv(r))
		if i == 4 {
			update(t, s, ops...) // two transactions
			ops = nil
		}
	}
	ops = append(ops, putConv(conv("carol", "bob", at(3))))
	update(t, s, ops...)
	slices.SortFunc(recs, byConvKey)
	return recs
}

func testConversationsOrder(t *testing.T, s messaging.Store) {
	want := convSeed(t, s)
	got := convs(t, s, "bob", nil, noLimit)
	assert.Equal(t, []string{"dave", "erin", "fay", "Zoë", "al", "al b", "carol", "zed", "ed"}, others(got))
	assert.Equal(t, normConvs(want), normConvs(got), "records")
}

func testConversationsTies(t *testing.T, s messaging.Store) {
	names := []string{"b", "日本", "ab", "a:b", "a/b", "a b", "a", "Zoë", "Zoe\u0308", "a.b"}
	ops := []op{putInbox(inbox("bob", 0))}
	for _, n := range names {
		ops = append(ops, putConv(conv("bob", n, base)))
	}
	update(t, s, ops...)
	want := slices.Clone(names)
	slices.Sort(want)
	assert.Equal(t, want, others(convs(t, s, "bob", nil, noLimit)))
}

func testConversationsExtremeTimes(t *testing.T, s messaging.Store) {
	ops := []op{putInbox(inbox("bob", 0))}
	var want []string
	for i, tm := range extremeTimes {
		name := fmt.Sprintf("t%02d", i)
		want = append([]string{name}, want...)
		ops = append(ops, putConv(conv("bob", name, tm)))
	}
	slices.Reverse(ops[1:])
	update(t, s, ops...)
	got := convs(t, s, "bob", nil, noLimit)
	assert.Equal(t, want, others(got), "newest first")
	for i, c := range got {
		tm := extremeTimes[len(extremeTimes)-1-i]
		assert.True(t, c.LastUpdate.Equal(tm), "%s: got %v, want %v", c.Other, c.LastUpdate, tm)
	}
}

func testConversationsAfterStored(t *testing.T, s messaging.Store) {
	want := convSeed(t, s)
	for i, c := range want {
		k := c.Key()
		assert.Equal(t, others(want[i+1:]), others(convs(t, s, "bob", &k, noLimit)), "after %q", c.Other)
		assert.Equal(t, others(want[i+1:min(i+3, len(want))]), others(convs(t, s, "bob", &k, 2)), "after %q, limit 2", c.Other)
	}
}

func testConversationsAfterUnstored(t *testing.T, s messaging.Store) {
	want := convSeed(t, s)
	afters := []messaging.ConversationKey{
		{LastUpdate: at(2), Other: "am"},                       // inside a tie
		{LastUpdate: at(2), Other: ""},                         // before a tie
		{LastUpdate: at(2), Other: "\U0010FFFF"},               // after a tie
		{LastUpdate: at(2), Other: "al "},                      // between "al" and "al b"
		{LastUpdate: at(3), Other: "bob"},                      // between two times
		{LastUpdate: at(2).Add(-time.Nanosecond), Other: "a"},  // just older than a tie
		{LastUpdate: at(5).Add(time.Nanosecond), Other: "zzz"}, // newer than all
		{LastUpdate: at(-4), Other: ""},                        // older than all
		{LastUpdate: extremeTimes[len(extremeTimes)-1], Other: "x"},
		{LastUpdate: time.Time{}, Other: ""},
		{LastUpdate: extremeTimes[3], Other: "x"},
	}
	for _, after := range afters {
		var exp []messaging.ConversationRecord
		for _, c := range want {
			if c.Key().Compare(after) > 0 {
				exp = append(exp, c)
			}
		}
		assert.Equal(t, others(exp), others(convs(t, s, "bob", &after, noLimit)), "after %v %q", after.LastUpdate, after.Other)
	}
}

func testConversationsPaging(t *testing.T, s messaging.Store) {
	want := convSeed(t, s)
	assert.Empty(t, convs(t, s, "bob", nil, 0), "limit 0")
	for _, limit := range []int{1, 2, 4, len(want)} {
		var got []messaging.ConversationRecord
		var after *messaging.ConversationKey
		for range len(want) + 2 {
			page := convs(t, s, "bob", after, limit)
			assert.Len(t, page, min(limit, len(want)-len(got)), "limit %d", limit)
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			k := page[len(page)-1].Key()
			after = &k
		}
		assert.Equal(t, others(want), others(got), "limit %d", limit)
	}
}

func testConversationsMove(t *testing.T, s messaging.Store) {
	want := convSeed(t, s)
	oldEd := want[len(want)-1]
	require.Equal(t, "ed", oldEd.Other)

	check := func(ed messaging.ConversationRecord, msgAndArgs ...any) {
		t.Helper()
		exp := slices.DeleteFunc(slices.Clone(want), func(c messaging.ConversationRecord) bool { return c.Other == "ed" })
		exp = append(exp, ed)
		slices.SortFunc(exp, byConvKey)
		assert.Equal(t, normConvs(exp), normConvs(convs(t, s, "bob", nil, noLimit)), msgAndArgs...)
		assert.Equal(t, normConv(ed), normConv(getConv(t, s, "bob", "ed")), msgAndArgs...)
		old := oldEd.Key()
		exp = slices.DeleteFunc(exp, func(c messaging.ConversationRecord) bool { return c.Key().Compare(old) <= 0 })
		assert.Equal(t, others(exp), others(convs(t, s, "bob", &old, noLimit)), "after its old position")
	}
	for _, tm := range []time.Time{at(10), at(2), at(5), at(-100), extremeTimes[0], at(-3)} {
		ed := conv("bob", "ed", tm)
		ed.Messages = int(tm.Unix() & 0xff)
		update(t, s, putConv(ed))
		check(ed, "moved to %v", tm)
	}
}

func testConversationsMoveTwiceInOneTx(t *testing.T, s messaging.Store) {
	want := convSeed(t, s)
	ed := conv("bob", "ed", at(7))
	update(t, s, putConv(conv("bob", "ed", at(1))), putConv(conv("bob", "ed", at(-9))), putConv(ed))
	exp := slices.DeleteFunc(slices.Clone(want), func(c messaging.ConversationRecord) bool { return c.Other == "ed" })
	exp = append([]messaging.ConversationRecord{ed}, exp...)
	assert.Equal(t, normConvs(exp), normConvs(convs(t, s, "bob", nil, noLimit)))
}

func testConversationsUnknownOwner(t *testing.T, s messaging.Store) {
	assert.Empty(t, convs(t, s, "bob", nil, noLimit), "empty store")
	convSeed(t, s)
	update(t, s, putInbox(inbox("bo", 0)))
	for _, owner := range []string{"bo", "b", "bobby", "dave", "Bob"} {
		assert.Empty(t, convs(t, s, owner, nil, noLimit), "owner %q", owner)
		k := messaging.ConversationKey{LastUpdate: at(100)}
		assert.Empty(t, convs(t, s, owner, &k, noLimit), "owner %q with after", owner)
	}
}

// ---------------------------------------------------------------------------
// Message and Messages

func testMessageRoundTrip(t *testing.T, s messaging.Store) {
	m := messaging.MessageRecord{
		ID: 7, Sender: "dave", Recipient: "bob",
		Text:    "héllo 😀\n\t\"quoted\" \\ back\x00slash",
		Created: base,
	}
	long := messaging.MessageRecord{
		ID: 8, Sender: "bob", Recipient: "dave",
		Text:    strings.Repeat("0123456789abcdé", 64<<10/16),
		Created: base.Add(time.Nanosecond),
	}
	update(t, s, putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base)), putMsg("bob", "dave", m), putMsg("bob", "dave", long))
	for _, want := range []messaging.MessageRecord{m, long} {
		got := getMsg(t, s, "bob", "dave", want.ID)
		assert.Equal(t, normMsg(want), normMsg(got))
		assert.Equal(t, time.UTC, got.Created.Location(), "Created comes back in UTC")
	}
	assert.Equal(t, normMsgs([]messaging.MessageRecord{m, long}), normMsgs(msgs(t, s, "bob", "dave", nil, false, noLimit)))
	assert.Equal(t, normMsgs([]messaging.MessageRecord{m, long}), normMsgs(msgsByID(t, s, "bob", "dave", 0, noLimit)))
}

func testMessageMissing(t *testing.T, s messaging.Store) {
	msgErr := func(owner, other string, id uint64) error {
		return lookupErr(t, s, func(tx messaging.ReadTx) error { _, err := tx.Message(owner, other, id); return err })
	}
	assert.ErrorIs(t, msgErr("bob", "dave", 1), messaging.ErrNotFound, "empty store")
	update(t, s,
		putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base)), putConv(conv("bob", "carol", base)),
		putMsg("bob", "dave", msg(1, base)), putMsg("bob", "carol", msg(2, base)),
	)
	require.NoError(t, msgErr("bob", "dave", 1))
	for _, c := range []struct {
		owner, other string
		id           uint64
	}{
		{"bob", "dave", 0}, {"bob", "dave", 2}, {"bob", "dave", 1 << 8}, {"bob", "dave", math.MaxUint64},
		{"bob", "carol", 1}, {"dave", "bob", 1}, {"bob", "dav", 1}, {"bo", "bdave", 1}, {"erin", "dave", 1},
	} {
		assert.ErrorIs(t, msgErr(c.owner, c.other, c.id), messaging.ErrNotFound, "%q %q %d", c.owner, c.other, c.id)
	}
}

func testMessageSameIDMirrored(t *testing.T, s messaging.Store) {
	m := newModel()
	update(t, s,
		m.PutInbox(inbox("bob", 0)), m.PutInbox(inbox("dave", 0)),
		m.PutConversation(conv("bob", "dave", base)), m.PutConversation(conv("dave", "bob", base)),
		m.PutMessage("bob", "dave", withText(msg(1, base), "bob's copy")),
		m.PutMessage("dave", "bob", withText(msg(1, base), "dave's copy")),
		m.PutMessage("dave", "bob", msg(2, at(1))),
	)
	assertState(t, s, m, "both copies")
	update(t, s, m.DeleteMessage("bob", "dave", 1))
	assertState(t, s, m, "bob's copy deleted")
	update(t, s, m.DeleteConversation("dave", "bob"))
	assertState(t, s, m, "dave's conversation deleted")
}

func testMessageReplaceSameID(t *testing.T, s messaging.Store) {
	update(t, s, putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base)),
		putMsg("bob", "dave", msg(1, at(0))), putMsg("bob", "dave", msg(2, at(1))), putMsg("bob", "dave", msg(3, at(2))))
	edited := withText(msg(1, at(5)), "edited")
	update(t, s, putMsg("bob", "dave", edited))

	assert.Equal(t, normMsg(edited), normMsg(getMsg(t, s, "bob", "dave", 1)))
	assert.Equal(t, []uint64{2, 3, 1}, ids(msgs(t, s, "bob", "dave", nil, false, noLimit)), "ascending")
	assert.Equal(t, []uint64{1, 3, 2}, ids(msgs(t, s, "bob", "dave", nil, true, noLimit)), "descending")
	assert.Equal(t, []uint64{1, 2, 3}, ids(msgsByID(t, s, "bob", "dave", 0, noLimit)), "by ID")
	oldPos := msg(1, at(0)).Key()
	assert.Equal(t, []uint64{2, 3, 1}, ids(msgs(t, s, "bob", "dave", &oldPos, false, noLimit)), "after its old position")
	assert.Equal(t, normMsgs([]messaging.MessageRecord{edited}), normMsgs(msgs(t, s, "bob", "dave", nil, true, 1)), "newest is the edited one")

	update(t, s, putMsg("bob", "dave", msg(2, at(-1))), putMsg("bob", "dave", msg(2, at(9))), putMsg("bob", "dave", msg(2, at(3))))
	assert.Equal(t, []uint64{3, 2, 1}, ids(msgs(t, s, "bob", "dave", nil, false, noLimit)), "moved three times in one transaction")
}

func testMessageDeleteMissing(t *testing.T, s messaging.Store) {
	assert.ErrorIs(t, updateErr(t, s, delMsg("bob", "dave", 1)), messaging.ErrNotFound, "empty store")
	m := baseline(t, s)
	for _, c := range []struct {
		owner, other string
		id           uint64
	}{
		{"bob", "dave", 4}, {"bob", "dave", 0}, {"bob", "carol", 1}, {"bob", "dav", 1},
		{"carol", "bob", 4}, {"bo", "bdave", 1}, {"bob", "zed", 1},
	} {
		assert.ErrorIs(t, updateErr(t, s, delMsg(c.owner, c.other, c.id)), messaging.ErrNotFound, "%q %q %d", c.owner, c.other, c.id)
	}
	assertState(t, s, m, "failed deletes changed the store")
}

// msgSeed puts, over two transactions, messages whose ID order differs from
// their (Created, ID) order, and returns them in (Created, ID) order:
// 4 1 2 3 9 8 6 5 7.
func msgSeed(t *testing.T, s messaging.Store) []messaging.MessageRecord {
	t.Helper()
	recs := []messaging.MessageRecord{
		msg(5, at(3)), msg(1, at(0)), msg(2, at(1)), msg(9, at(1)),
		msg(3, at(1)), msg(4, at(-5)), msg(7, at(3).Add(time.Nanosecond)),
		msg(6, at(3).Add(-time.Nanosecond)), msg(8, at(2)),
	}
	update(t, s, putInbox(inbox("bob", 0)), putInbox(inbox("dave", 0)),
		putConv(conv("bob", "dave", at(3))), putConv(conv("dave", "bob", at(3))), putConv(conv("bob", "carol", at(0))))
	var ops []op
	for i, r := range recs {
		ops = append(ops, putMsg("bob", "dave", r))
		if i == 3 {
			update(t, s, ops...)
			ops = nil
		}
	}
	ops = append(ops, putMsg("dave", "bob", msg(10, at(0))), putMsg("bob", "carol", msg(11, at(2))))
	update(t, s, ops...)
	slices.SortFunc(recs, byMsgKey)
	return recs
}

func testMessagesOrder(t *testing.T, s messaging.Store) {
	want := msgSeed(t, s)
	asc := msgs(t, s, "bob", "dave", nil, false, noLimit)
	assert.Equal(t, []uint64{4, 1, 2, 3, 9, 8, 6, 5, 7}, ids(asc), "ascending")
	assert.Equal(t, normMsgs(want), normMsgs(asc), "records")
	assert.Equal(t, []uint64{7, 5, 6, 8, 9, 3, 2, 1, 4}, ids(msgs(t, s, "bob", "dave", nil, true, noLimit)), "descending")
}

func testMessagesEqualCreated(t *testing.T, s messaging.Store) {
	update(t, s, putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base)),
		putMsg("bob", "dave", msg(30, base)), putMsg("bob", "dave", msg(10, base)),
		putMsg("bob", "dave", msg(1, base.Add(time.Nanosecond))), putMsg("bob", "dave", msg(99, base.Add(-time.Nanosecond))))
	update(t, s, putMsg("bob", "dave", msg(20, base)), putMsg("bob", "dave", msg(15, base)))
	assert.Equal(t, []uint64{99, 10, 15, 20, 30, 1}, ids(msgs(t, s, "bob", "dave", nil, false, noLimit)))
	assert.Equal(t, []uint64{1, 30, 20, 15, 10, 99}, ids(msgs(t, s, "bob", "dave", nil, true, noLimit)))
}

func testMessagesBackdated(t *testing.T, s messaging.Store) {
	update(t, s, putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base)),
		putMsg("bob", "dave", msg(1, at(0))), putMsg("bob", "dave", msg(2, at(1))), putMsg("bob", "dave", msg(3, at(2))))
	update(t, s, putMsg("bob", "dave", msg(4, at(-1))))
	update(t, s, putMsg("bob", "dave", msg(5, at(1))))
	assert.Equal(t, []uint64{4, 1, 2, 5, 3}, ids(msgs(t, s, "bob", "dave", nil, false, noLimit)))
	assert.Equal(t, []uint64{3, 5, 2, 1, 4}, ids(msgs(t, s, "bob", "dave", nil, true, noLimit)))
	assert.Equal(t, []uint64{4}, ids(msgs(t, s, "bob", "dave", nil, false, 1)), "oldest")
	assert.Equal(t, []uint64{1, 2, 3, 4, 5}, ids(msgsByID(t, s, "bob", "dave", 0, noLimit)))
}

func testMessagesExtremeTimes(t *testing.T, s messaging.Store) {
	ops := []op{putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base))}
	var want []uint64
	for i, tm := range extremeTimes {
		id := uint64(100 - i)
		want = append(want, id)
		ops = append(ops, putMsg("bob", "dave", msg(id, tm)))
	}
	update(t, s, ops...)
	got := msgs(t, s, "bob", "dave", nil, false, noLimit)
	assert.Equal(t, want, ids(got), "ascending")
	assert.Equal(t, reversed(want), ids(msgs(t, s, "bob", "dave", nil, true, noLimit)), "descending")
	for i, m := range got {
		assert.True(t, m.Created.Equal(extremeTimes[i]), "ID %d: got %v, want %v", m.ID, m.Created, extremeTimes[i])
	}
}

func testMessagesAfterStored(t *testing.T, s messaging.Store) {
	want := msgSeed(t, s)
	for i, m := range want {
		k := m.Key()
		assert.Equal(t, ids(want[i+1:]), ids(msgs(t, s, "bob", "dave", &k, false, noLimit)), "after ID %d", m.ID)
		assert.Equal(t, ids(reversed(want[:i])), ids(msgs(t, s, "bob", "dave", &k, true, noLimit)), "before ID %d, reverse", m.ID)
		assert.Equal(t, ids(want[i+1:min(i+3, len(want))]), ids(msgs(t, s, "bob", "dave", &k, false, 2)), "after ID %d, limit 2", m.ID)
		assert.Equal(t, ids(reversed(want[max(i-2, 0):i])), ids(msgs(t, s, "bob", "dave", &k, true, 2)), "before ID %d, reverse, limit 2", m.ID)
	}
}

func testMessagesAfterUnstored(t *testing.T, s messaging.Store) {
	want := msgSeed(t, s)
	afters := []messaging.MessageKey{
		{Created: at(1), ID: 5},   // inside an equal-Created run
		{Created: at(1), ID: 0},   // before it
		{Created: at(1), ID: 100}, // after it
		{Created: at(1), ID: math.MaxUint64},
		{Created: at(2).Add(1), ID: 0},
		{Created: at(2), ID: 7}, // before ID 8, same Created
		{Created: at(-100), ID: 0},
		{Created: at(100), ID: 0},
		{Created: time.Time{}, ID: 0},
		{Created: extremeTimes[3], ID: 1},
		{Created: extremeTimes[len(extremeTimes)-1], ID: math.MaxUint64},
	}
	for _, after := range afters {
		var asc, desc []messaging.MessageRecord
		for _, m := range want {
			if c := m.Key().Compare(after); c > 0 {
				asc = append(asc, m)
			} else if c < 0 {
				desc = append([]messaging.MessageRecord{m}, desc...)
			}
		}
		assert.Equal(t, ids(asc), ids(msgs(t, s, "bob", "dave", &after, false, noLimit)), "after %v #%d", after.Created, after.ID)
		assert.Equal(t, ids(desc), ids(msgs(t, s, "bob", "dave", &after, true, noLimit)), "before %v #%d, reverse", after.Created, after.ID)
	}
}

func testMessagesPaging(t *testing.T, s messaging.Store) {
	want := msgSeed(t, s)
	assert.Empty(t, msgs(t, s, "bob", "dave", nil, false, 0), "limit 0")
	assert.Empty(t, msgs(t, s, "bob", "dave", nil, true, 0), "limit 0, reverse")
	for _, reverse := range []bool{false, true} {
		exp := want
		if reverse {
			exp = reversed(want)
		}
		for _, limit := range []int{1, 2, 4, len(want)} {
			var got []messaging.MessageRecord
			var after *messaging.MessageKey
			for range len(want) + 2 {
				page := msgs(t, s, "bob", "dave", after, reverse, limit)
				assert.Len(t, page, min(limit, len(want)-len(got)), "limit %d reverse %v", limit, reverse)
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				k := page[len(page)-1].Key()
				after = &k
			}
			assert.Equal(t, ids(exp), ids(got), "limit %d reverse %v", limit, reverse)
		}
	}
}

func testMessagesUnknownConversation(t *testing.T, s messaging.Store) {
	msgSeed(t, s)
	update(t, s, putInbox(inbox("bo", 0)))
	k := messaging.MessageKey{Created: at(0)}
	for _, p := range []pair{{"bob", "dav"}, {"bob", "daves"}, {"bo", "bdave"}, {"bo", "b"}, {"erin", "dave"}, {"dave", "carol"}, {"carol", "bob"}} {
		assert.Empty(t, msgs(t, s, p.Owner, p.Other, nil, false, noLimit), "%q", p)
		assert.Empty(t, msgs(t, s, p.Owner, p.Other, nil, true, noLimit), "%q reverse", p)
		assert.Empty(t, msgs(t, s, p.Owner, p.Other, &k, false, noLimit), "%q after", p)
		assert.Empty(t, msgsByID(t, s, p.Owner, p.Other, 0, noLimit), "%q by ID", p)
	}
}

func testMessagesDoNotMix(t *testing.T, s messaging.Store) {
	m := newModel()
	ops := []op{m.PutInbox(inbox("bob", 0)), m.PutInbox(inbox("dave", 0)), m.PutInbox(inbox("bo", 0))}
	pairs := []pair{{"bob", "dave"}, {"dave", "bob"}, {"bob", "dav"}, {"bob", "dave "}, {"bob", "davey"}, {"bo", "bdave"}, {"bo", "b"}}
	for i, p := range pairs {
		ops = append(ops, m.PutConversation(conv(p.Owner, p.Other, at(i))))
		for j := range 3 {
			id := uint64(1 + j + i%2) // overlapping IDs
			ops = append(ops, m.PutMessage(p.Owner, p.Other, withText(msg(id, at(j-i)), fmt.Sprintf("%q to %q #%d", p.Owner, p.Other, id))))
		}
	}
	update(t, s, ops...)
	assertState(t, s, m)
	update(t, s, m.DeleteMessage("bob", "dave", 2), m.DeleteConversation("bob", "davey"))
	assertState(t, s, m, "after deletes")
}

func testMessageDeleteAllViews(t *testing.T, s messaging.Store) {
	want := msgSeed(t, s)
	deleted := []messaging.MessageRecord{getMsg(t, s, "bob", "dave", 3), getMsg(t, s, "bob", "dave", 4), getMsg(t, s, "bob", "dave", 7)}
	update(t, s, delMsg("bob", "dave", 3), delMsg("bob", "dave", 4))
	update(t, s, delMsg("bob", "dave", 7))
	rest := slices.DeleteFunc(slices.Clone(want), func(m messaging.MessageRecord) bool {
		return m.ID == 3 || m.ID == 4 || m.ID == 7
	})
	for _, d := range deleted {
		err := lookupErr(t, s, func(tx messaging.ReadTx) error { _, err := tx.Message("bob", "dave", d.ID); return err })
		assert.ErrorIs(t, err, messaging.ErrNotFound, "Message %d", d.ID)
	}
	assert.Equal(t, ids(rest), ids(msgs(t, s, "bob", "dave", nil, false, noLimit)), "ascending")
	assert.Equal(t, ids(reversed(rest)), ids(msgs(t, s, "bob", "dave", nil, true, noLimit)), "descending")
	assert.Equal(t, []uint64{1, 2, 5, 6, 8, 9}, ids(msgsByID(t, s, "bob", "dave", 0, noLimit)), "by ID")
	assert.Equal(t, []uint64{5, 6, 8, 9}, ids(msgsByID(t, s, "bob", "dave", 3, noLimit)), "by ID after a deleted ID")
	k := deleted[0].Key()
	assert.Equal(t, []uint64{9, 8, 6, 5}, ids(msgs(t, s, "bob", "dave", &k, false, noLimit)), "after a deleted message")
	assert.Equal(t, []uint64{10}, ids(msgs(t, s, "dave", "bob", nil, false, noLimit)), "other conversations untouched")
	assert.Equal(t, []uint64{11}, ids(msgs(t, s, "bob", "carol", nil, false, noLimit)), "other conversations untouched")
}

func testMessageRecordsOfOthersUnchanged(t *testing.T, s messaging.Store) {
	m := newModel()
	update(t, s, m.PutInbox(inbox("bob", 3)), m.PutConversation(conv("bob", "dave", at(1))))
	update(t, s, m.PutMessage("bob", "dave", msg(1, at(5))), m.PutMessage("bob", "dave", msg(2, at(-5))))
	assertState(t, s, m, "PutMessage changed the conversation or inbox record")
	update(t, s, m.DeleteMessage("bob", "dave", 1), m.DeleteMessage("bob", "dave", 2))
	assertState(t, s, m, "DeleteMessage changed the conversation or inbox record")
}

// ---------------------------------------------------------------------------
// Deleted

// deleted reads Deleted in a View.
func deleted(t *testing.T, s messaging.Store, owner, other string, id uint64) bool {
	t.Helper()
	return read(t, s, func(tx messaging.ReadTx) (bool, error) { return tx.Deleted(owner, other, id) })
}

func testDeletedAfterDeleteMessage(t *testing.T, s messaging.Store) {
	assert.False(t, deleted(t, s, "bob", "dave", 1), "empty store")
	m := baseline(t, s)
	for _, id := range []uint64{1, 2, 3} {
		assert.False(t, deleted(t, s, "bob", "dave", id), "message %d, before any delete", id)
	}
	update(t, s, m.DeleteMessage("bob", "dave", 2))
	assert.True(t, deleted(t, s, "bob", "dave", 2), "after DeleteMessage")
	for _, c := range []struct {
		owner, other string
		id           uint64
	}{
		{"bob", "dave", 1}, {"bob", "dave", 3}, {"bob", "dave", 0}, {"bob", "dave", 99}, {"bob", "dave", math.MaxUint64},
		{"dave", "bob", 2}, // the mirrored copy
		{"bob", "carol", 2}, {"bob", "zed", 2}, {"zed", "dave", 2}, {"bo", "bdave", 2}, {"bo", "b", 2}, {"bob", "dav", 2},
	} {
		assert.False(t, deleted(t, s, c.owner, c.other, c.id), "Deleted(%q, %q, %d)", c.owner, c.other, c.id)
	}
	assert.ErrorIs(t, updateErr(t, s, delMsg("bob", "dave", 2)), messaging.ErrNotFound, "deleting again")
	assert.True(t, deleted(t, s, "bob", "dave", 2), "after a failed second delete")

	update(t, s,
		m.PutMessage("bob", "carol", msg(math.MaxUint64, at(5))), m.PutMessage("bob", "carol", msg(1<<63, at(5))),
		m.PutMessage("bob", "carol", msg(1<<63-1, at(5))))
	update(t, s, m.DeleteMessage("bob", "carol", math.MaxUint64), m.DeleteMessage("bob", "carol", 1<<63-1),
		m.DeleteMessage("dave", "bob", 3), m.DeleteMessage("bo", "b", 5))
	assertState(t, s, m, "more deletes, large IDs")
	update(t, s, m.PutConversation(conv("bob", "dave", at(9))), m.PutMessage("bob", "dave", msg(10, at(9))))
	assertState(t, s, m, "the record replaced and a message added: the tombstones stay")
}

func testDeletedInsideUpdate(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	var before, after, mirrored bool
	var lookup error
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) error {
		var err error
		if before, err = tx.Deleted("bob", "dave", 1); err != nil {
			return err
		}
		if err := tx.DeleteMessage("bob", "dave", 1); err != nil {
			return err
		}
		_, lookup = tx.Message("bob", "dave", 1)
		if after, err = tx.Deleted("bob", "dave", 1); err != nil {
			return err
		}
		mirrored, err = tx.Deleted("dave", "bob", 1)
		return err
	}))
	m.DeleteMessage("bob", "dave", 1)
	assert.False(t, before, "before DeleteMessage")
	assert.ErrorIs(t, lookup, messaging.ErrNotFound, "Message after DeleteMessage")
	assert.True(t, after, "after DeleteMessage, in the same Update")
	assert.False(t, mirrored, "the mirrored copy")
	assertState(t, s, m, "after commit")
}

func testDeletedForgottenByDeleteConversation(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	update(t, s, m.DeleteMessage("bob", "dave", 1), m.DeleteMessage("bob", "dave", 2), m.DeleteMessage("dave", "bob", 1))
	assertState(t, s, m, "deleted messages")
	update(t, s, m.DeleteConversation("bob", "dave"))
	assertState(t, s, m, "conversation deleted: no tombstones, the other side's stay")
	assert.False(t, deleted(t, s, "bob", "dave", 1))
	update(t, s, m.PutConversation(conv("bob", "dave", at(5))), m.PutMessage("bob", "dave", msg(7, at(5))))
	assertState(t, s, m, "recreated in a later transaction")
	update(t, s, m.DeleteMessage("bob", "dave", 7), m.DeleteConversation("bob", "dave"), m.PutConversation(conv("bob", "dave", at(6))))
	assertState(t, s, m, "message and conversation deleted, conversation recreated, in one transaction")
	assert.False(t, deleted(t, s, "bob", "dave", 7))
}

func testDeletedForgottenByDeleteInbox(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	update(t, s, m.DeleteMessage("bob", "dave", 1), m.DeleteMessage("bob", "carol", 4),
		m.DeleteMessage("dave", "bob", 2), m.DeleteMessage("bo", "b", 5))
	assertState(t, s, m, "deleted messages")
	update(t, s, m.DeleteInbox("bob"))
	assertState(t, s, m, `inbox "bob" deleted: its tombstones go, "bo"'s and "dave"'s stay`)
	update(t, s, m.PutInbox(inbox("bob", 0)), m.PutConversation(conv("bob", "dave", at(7))), m.PutConversation(conv("bob", "carol", at(7))))
	assertState(t, s, m, "recreated in a later transaction")
	assert.False(t, deleted(t, s, "bob", "dave", 1))
	update(t, s, m.DeleteMessage("dave", "bob", 1), m.DeleteInbox("dave"), m.PutInbox(inbox("dave", 0)), m.PutConversation(conv("dave", "bob", at(8))))
	assertState(t, s, m, "message and inbox deleted, recreated, in one transaction")
}

// ---------------------------------------------------------------------------
// MessagesByID

func testMessagesByIDAscending(t *testing.T, s messaging.Store) {
	update(t, s, putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base)), putConv(conv("bob", "carol", base)))
	for _, id := range []uint64{40, 2, 11, 10, 4} {
		update(t, s, putMsg("bob", "dave", msg(id, at(-int(id)))))
	}
	update(t, s, putMsg("bob", "carol", msg(3, base)), putMsg("bob", "carol", msg(12, base)))
	for _, c := range []struct {
		after uint64
		limit int
		want  []uint64
	}{
		{0, noLimit, []uint64{2, 4, 10, 11, 40}},
		{1, noLimit, []uint64{2, 4, 10, 11, 40}},
		{2, noLimit, []uint64{4, 10, 11, 40}},
		{3, noLimit, []uint64{4, 10, 11, 40}},
		{5, 2, []uint64{10, 11}},
		{10, 1, []uint64{11}},
		{11, noLimit, []uint64{40}},
		{39, noLimit, []uint64{40}},
		{40, noLimit, nil},
		{math.MaxUint64, noLimit, nil},
		{0, 0, nil},
	} {
		assert.Equal(t, c.want, ids(msgsByID(t, s, "bob", "dave", c.after, c.limit)), "after %d limit %d", c.after, c.limit)
	}
}

func testMessagesByIDLargeIDs(t *testing.T, s messaging.Store) {
	large := []uint64{math.MaxUint64, 1 << 63, 1, 1<<63 - 1, 1 << 32, math.MaxUint64 - 1, 1<<32 + 1, 1<<63 + 1, 255, 256}
	ops := []op{putInbox(inbox("bob", 0)), putConv(conv("bob", "dave", base))}
	for _, id := range large {
		ops = append(ops, putMsg("bob", "dave", msg(id, base)))
	}
	update(t, s, ops...)
	want := slices.Clone(large)
	slices.Sort(want)
	assert.Equal(t, want, ids(msgsByID(t, s, "bob", "dave", 0, noLimit)), "by ID")
	assert.Equal(t, want, ids(msgs(t, s, "bob", "dave", nil, false, noLimit)), "equal Created: by unsigned ID")
	assert.Equal(t, []uint64{1 << 63, 1<<63 + 1}, ids(msgsByID(t, s, "bob", "dave", 1<<63-1, 2)))
	assert.Equal(t, []uint64{math.MaxUint64}, ids(msgsByID(t, s, "bob", "dave", math.MaxUint64-1, noLimit)))
	assert.Empty(t, msgsByID(t, s, "bob", "dave", math.MaxUint64, noLimit), "nothing after the largest ID")
	k := messaging.MessageKey{Created: base, ID: math.MaxUint64}
	assert.Empty(t, msgs(t, s, "bob", "dave", &k, false, noLimit), "nothing after the largest position")
	assert.Equal(t, normMsg(msg(math.MaxUint64-1, base)), normMsg(getMsg(t, s, "bob", "dave", math.MaxUint64-1)))
}

// ---------------------------------------------------------------------------
// Keys

func testKeysUserIDsKeptApart(t *testing.T, s messaging.Store) {
	m := newModel()
	var ops []op
	id := uint64(0)
	idOf := map[pair]uint64{}
	for i, owner := range trickyIDs {
		ops = append(ops, m.PutInbox(inbox(owner, i)))
		for j, other := range trickyIDs {
			if i == j {
				continue
			}
			id++
			idOf[pair{owner, other}] = id
			ops = append(ops,
				m.PutConversation(conv(owner, other, at((i*7+j*3)%4))),
				m.PutMessage(owner, other, withText(msg(id, at(j)), fmt.Sprintf("%q to %q", owner, other))),
			)
		}
	}
	update(t, s, ops...)
	assertState(t, s, m)

	update(t, s, m.DeleteInbox("a"), m.DeleteInbox("/"), m.DeleteInbox("Zoë"),
		m.DeleteConversation("ab", "c"), m.DeleteConversation("a/b", "c"), m.DeleteConversation("日本", "日本語"),
		m.DeleteMessage("a b", "c", idOf[pair{"a b", "c"}]), m.DeleteMessage("b c", "a b", idOf[pair{"b c", "a b"}]))
	assertState(t, s, m, "after deletes")
}

func testKeysConcatenationsKeptApart(t *testing.T, s messaging.Store) {
	m := newModel()
	pairs := []pair{
		{"ab", "c"}, {"a", "bc"}, {"a", "b/c"}, {"a/b", "c"}, {"a:b", "c"}, {"a", "b:c"},
		{"a b", "c"}, {"a", "b c"}, {"a", "b"}, {"a", "bc/"}, {"ab", "c/"},
	}
	var ops []op
	for _, p := range pairs {
		if _, ok := m.inboxes[p.Owner]; !ok {
			ops = append(ops, m.PutInbox(inbox(p.Owner, 0)))
		}
		ops = append(ops, m.PutConversation(conv(p.Owner, p.Other, base)))
		for id := range uint64(2) {
			ops = append(ops, m.PutMessage(p.Owner, p.Other, withText(msg(id+1, base), fmt.Sprintf("%q+%q", p.Owner, p.Other))))
		}
	}
	update(t, s, ops...)
	assertState(t, s, m)
	update(t, s, m.DeleteConversation("a", "bc"), m.DeleteMessage("ab", "c", 1))
	assertState(t, s, m, `after deleting ("a", "bc") and message 1 of ("ab", "c")`)
	update(t, s, m.DeleteInbox("a"))
	assertState(t, s, m, `after deleting inbox "a"`)
}

// ---------------------------------------------------------------------------
// Update

func testUpdateVisibleToLaterViews(t *testing.T, s messaging.Store) {
	m := newModel()
	update(t, s, m.PutInbox(inbox("bob", 1)), m.PutConversation(conv("bob", "dave", base)), m.PutMessage("bob", "dave", msg(1, base)))
	assertState(t, s, m, "after puts")
	assertState(t, s, m, "a second View")
	update(t, s, m.DeleteMessage("bob", "dave", 1))
	assertState(t, s, m, "after a delete")
	update(t, s, m.DeleteInbox("bob"))
	assertState(t, s, m, "after deleting the inbox")
}

func testUpdateReadsOwnWrites(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	ops := []op{
		m.PutInbox(inbox("zed", 1)),
		m.PutConversation(conv("zed", "bob", at(1))),
		m.PutMessage("zed", "bob", msg(7, at(1))),
		m.PutConversation(conv("bob", "carol", at(9))), // moves
		m.DeleteMessage("bob", "dave", 2),
		m.PutMessage("bob", "dave", msg(8, at(-1))),
		m.DeleteConversation("bob", "erin"),
		m.DeleteInbox("bo"),
	}
	var got state
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) error {
		if err := runOps(tx, ops); err != nil {
			return err
		}
		var err error
		got, err = readState(tx, m)
		return err
	}))
	assertSameState(t, m.want(), got, "inside the transaction")
	assertState(t, s, m, "after commit")
}

func testUpdateRollbackPuts(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	committed := nextID(t, s)
	x := m.clone()
	failUpdate(t, s,
		x.PutInbox(inbox("zed", 1)),
		x.PutConversation(conv("zed", "bob", at(1))),
		x.PutMessage("zed", "bob", msg(7, at(1))),
		x.PutConversation(conv("bob", "zed", at(10))),
		x.PutMessage("bob", "zed", msg(7, at(10))),
		x.PutMessage("bob", "dave", msg(8, at(-1))),
		func(tx messaging.Tx) error { _, err := tx.NextID(); return err },
	)
	m.probe(x)
	assertState(t, s, m)
	assert.Greater(t, nextID(t, s), committed)
}

func testUpdateRollbackReplaces(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	x := m.clone()
	c := conv("bob", "dave", at(2))
	c.Unread, c.ReadMark, c.Last.Text = 0, 1000, "changed"
	failUpdate(t, s,
		x.PutInbox(inbox("bob", 99)),
		x.PutConversation(c),
		x.PutMessage("bob", "dave", withText(msg(2, at(1)), "changed")),
		x.PutMessage("bob", "dave", msg(3, at(-9))),
	)
	m.probe(x)
	assertState(t, s, m)
}

func testUpdateRollbackMove(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	x := m.clone()
	failUpdate(t, s,
		x.PutConversation(conv("bob", "carol", at(10))),
		x.PutConversation(conv("bob", "erin", at(-10))),
	)
	m.probe(x)
	assertState(t, s, m)
	assert.Equal(t, []string{"erin", "dave", "carol"}, others(convs(t, s, "bob", nil, noLimit)))
}

func testUpdateRollbackDeleteInbox(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	update(t, s, m.DeleteMessage("bob", "dave", 2)) // a tombstone to keep
	x := m.clone()
	failUpdate(t, s, x.DeleteInbox("bob"))
	m.probe(x)
	assertState(t, s, m, "delete")

	x = m.clone()
	failUpdate(t, s,
		x.DeleteInbox("bob"), x.PutInbox(inbox("bob", 0)),
		x.PutConversation(conv("bob", "dave", at(-1))), x.PutMessage("bob", "dave", msg(9, at(-1))),
	)
	m.probe(x)
	assertState(t, s, m, "delete and recreate")
}

func testUpdateRollbackDeleteConversation(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	update(t, s, m.DeleteMessage("bob", "dave", 2)) // a tombstone to keep
	x := m.clone()
	failUpdate(t, s, x.DeleteConversation("bob", "dave"), x.DeleteConversation("bob", "erin"))
	m.probe(x)
	assertState(t, s, m, "delete")

	x = m.clone()
	failUpdate(t, s,
		x.DeleteConversation("bob", "dave"), x.PutConversation(conv("bob", "dave", at(-1))),
		x.PutMessage("bob", "dave", withText(msg(1, at(-1)), "replacement")),
	)
	m.probe(x)
	assertState(t, s, m, "delete and recreate")
}

func testUpdateRollbackDeleteMessage(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	x := m.clone()
	failUpdate(t, s, x.DeleteMessage("bob", "dave", 1), x.DeleteMessage("bob", "dave", 3), x.DeleteMessage("bo", "b", 5))
	m.probe(x)
	assertState(t, s, m, "first deletes in their conversations")
	for _, r := range []msgRef{{pair{"bob", "dave"}, 1}, {pair{"bob", "dave"}, 3}, {pair{"bo", "b"}, 5}} {
		assert.False(t, deleted(t, s, r.Pair.Owner, r.Pair.Other, r.ID), "Deleted%s %d after rollback", r.Pair, r.ID)
	}

	update(t, s, m.DeleteMessage("bob", "dave", 2))
	x = m.clone()
	failUpdate(t, s, x.DeleteMessage("bob", "dave", 1))
	m.probe(x)
	assertState(t, s, m, "a delete next to a committed one")
	assert.False(t, deleted(t, s, "bob", "dave", 1), "rolled back")
	assert.True(t, deleted(t, s, "bob", "dave", 2), "committed")
}

func testUpdateUncommittedInvisible(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen []error
	)
	err := s.Update(t.Context(), func(tx messaging.Tx) error {
		if err := runOps(tx, []op{putInbox(inbox("ghost", 1)), putInbox(inbox("bob", 99))}); err != nil {
			return err
		}
		// A concurrent View, while this transaction is open (a store may
		// also make it wait until the transaction ends).
		done := make(chan struct{})
		wg.Go(func() {
			defer close(done)
			var ghost error
			var bob messaging.InboxRecord
			err := s.View(context.Background(), func(rtx messaging.ReadTx) error {
				_, ghost = rtx.Inbox("ghost")
				var err error
				bob, err = rtx.Inbox("bob")
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			if err == nil && bob.Unread != 2 {
				err = fmt.Errorf("a concurrent View saw bob's uncommitted Unread %d", bob.Unread)
			}
			seen = append(seen, errors.Join(err, ghostErr(ghost)))
		})
		select {
		case <-done:
		case <-time.After(20 * time.Millisecond):
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	wg.Wait()
	require.NotEmpty(t, seen)
	for _, err := range seen {
		assert.NoError(t, err)
	}
	x := newModel()
	x.owners["ghost"] = true
	m.probe(x)
	assertState(t, s, m, "after rollback")
}

// ghostErr checks the lookup of an inbox that was never committed.
func ghostErr(err error) error {
	if errors.Is(err, messaging.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("a concurrent View saw an uncommitted inbox (lookup error %v)", err)
}

func testUpdateCancelled(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	err := s.Update(ctx, func(tx messaging.Tx) error {
		called = true
		return runOps(tx, []op{putInbox(inbox("ghost", 1)), delInbox("bob")})
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, called, "fn called on a cancelled context")
	x := newModel()
	x.owners["ghost"] = true
	m.probe(x)
	assertState(t, s, m)
}

func testUpdateDeadline(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	called := false
	err := s.Update(ctx, func(tx messaging.Tx) error {
		called = true
		return tx.DeleteInbox("bob")
	})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, called, "fn called on an expired context")
	assertState(t, s, m)
}

// ---------------------------------------------------------------------------
// View

func testViewReturnsFnError(t *testing.T, s messaging.Store) {
	baseline(t, s)
	err := s.View(t.Context(), func(messaging.ReadTx) error { return errBoom })
	assert.Same(t, errBoom, err, "View must return fn's error unchanged, got %v", err)
}

func testViewCancelled(t *testing.T, s messaging.Store) {
	baseline(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	err := s.View(ctx, func(messaging.ReadTx) error { called = true; return nil })
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, called, "fn called on a cancelled context")
}

func testViewRepeatableRead(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	x := m.clone()
	ops := []op{
		x.PutInbox(inbox("bob", 5)),
		x.PutMessage("bob", "dave", msg(9, at(4))),
		x.PutConversation(conv("bob", "carol", at(8))),
		x.DeleteConversation("bob", "erin"),
		x.DeleteMessage("bob", "dave", 1),
	}
	m.probe(x)
	before, after := m.want(), x.want()

	var first, second state
	var updateErr error
	done := make(chan struct{})
	require.NoError(t, s.View(t.Context(), func(tx messaging.ReadTx) error {
		var err error
		if first, err = readState(tx, m); err != nil {
			return err
		}
		go func() {
			defer close(done)
			updateErr = s.Update(context.Background(), func(tx messaging.Tx) error { return runOps(tx, ops) })
		}()
		// Let the Update commit while this View is open, or give up waiting
		// if the store makes writers wait for readers.
		select {
		case <-done:
		case <-time.After(30 * time.Millisecond):
		}
		second, err = readState(tx, m)
		return err
	}))
	<-done
	require.NoError(t, updateErr)
	assertSameState(t, before, first, "first read")
	assertSameState(t, before, second, "second read in the same View, after a concurrent Update")
	assertSameState(t, after, dump(t, s, x), "a later View")
}

// testViewSeesWholeTransactions moves units between two inbox records, and
// adds a message with its count, in each of many Updates, while Views check
// that they never see half of one.
func testViewSeesWholeTransactions(t *testing.T, s messaging.Store) {
	const total, moves = 100, 40
	update(t, s, putInbox(inbox("x", total)), putInbox(inbox("y", 0)), putConv(messaging.ConversationRecord{Owner: "x", Other: "y"}))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					if n > 0 {
						return
					}
				default:
				}
				var x, y messaging.InboxRecord
				var c messaging.ConversationRecord
				var byID, asc []messaging.MessageRecord
				err := s.View(t.Context(), func(tx messaging.ReadTx) error {
					var err error
					if x, err = tx.Inbox("x"); err != nil {
						return err
					}
					if y, err = tx.Inbox("y"); err != nil {
						return err
					}
					if c, err = tx.Conversation("x", "y"); err != nil {
						return err
					}
					if byID, err = tx.MessagesByID("x", "y", 0, noLimit); err != nil {
						return err
					}
					asc, err = tx.Messages("x", "y", nil, false, noLimit)
					return err
				})
				if !assert.NoError(t, err) {
					return
				}
				moved := total - x.Unread
				if !assert.Equal(t, total, x.Unread+y.Unread, "View %d saw half a transaction", n) ||
					!assert.Equal(t, []int{moved, moved, moved}, []int{c.Messages, len(byID), len(asc)}, "View %d saw half a transaction", n) {
					return
				}
			}
		})
	}
	for i := range moves {
		err := s.Update(t.Context(), func(tx messaging.Tx) error {
			x, err := tx.Inbox("x")
			if err != nil {
				return err
			}
			y, err := tx.Inbox("y")
			if err != nil {
				return err
			}
			c, err := tx.Conversation("x", "y")
			if err != nil {
				return err
			}
			id, err := tx.NextID()
			if err != nil {
				return err
			}
			x.Unread--
			y.Unread++
			c.Messages++
			c.LastUpdate = at(i)
			return runOps(tx, []op{putInbox(x), putInbox(y), putMsg("x", "y", msg(id, at(i))), putConv(c)})
		})
		if !assert.NoError(t, err) {
			break
		}
	}
	close(stop)
	wg.Wait()
	assert.Equal(t, total-moves, getInbox(t, s, "x").Unread)
	assert.Len(t, msgsByID(t, s, "x", "y", 0, noLimit), moves)
}

// ---------------------------------------------------------------------------
// Isolation

// scribble overwrites every element a returned slice reaches, up to its
// capacity (what an append past its end would write over).
func scribble[T any](s []T, junk T) {
	full := s[:cap(s)]
	for i := range full {
		full[i] = junk
	}
}

var (
	junkConv = conv("junk", "junk", at(-1000))
	junkMsg  = withText(msg(666, at(-1000)), "junk")
)

// readAndScribble reads every list m's keys give, with and without limits
// and positions, and scribbles over what it got back.
func readAndScribble(tx messaging.ReadTx, m *model) error {
	for _, limit := range []int{1, 2, noLimit} {
		us, err := tx.Users("", limit)
		if err != nil {
			return err
		}
		scribble(us, "junk")
		for o := range m.owners {
			cs, err := tx.Conversations(o, nil, limit)
			if err != nil {
				return err
			}
			scribble(cs, junkConv)
			k := messaging.ConversationKey{LastUpdate: at(2), Other: "a"}
			if cs, err = tx.Conversations(o, &k, limit); err != nil {
				return err
			}
			scribble(cs, junkConv)
		}
		for p := range m.pairs {
			for _, reverse := range []bool{false, true} {
				ms, err := tx.Messages(p.Owner, p.Other, nil, reverse, limit)
				if err != nil {
					return err
				}
				scribble(ms, junkMsg)
				k := messaging.MessageKey{Created: at(1), ID: 2}
				if ms, err = tx.Messages(p.Owner, p.Other, &k, reverse, limit); err != nil {
					return err
				}
				scribble(ms, junkMsg)
			}
			ms, err := tx.MessagesByID(p.Owner, p.Other, 0, limit)
			if err != nil {
				return err
			}
			scribble(ms, junkMsg)
			if ms, err = tx.MessagesByID(p.Owner, p.Other, 1, limit); err != nil {
				return err
			}
			scribble(ms, junkMsg)
		}
	}
	return nil
}

func testIsolationReturnedSlices(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	for range 2 {
		require.NoError(t, s.View(t.Context(), func(tx messaging.ReadTx) error { return readAndScribble(tx, m) }))
	}
	assertState(t, s, m)
	var got state
	require.NoError(t, s.View(t.Context(), func(tx messaging.ReadTx) error {
		if err := readAndScribble(tx, m); err != nil {
			return err
		}
		var err error
		got, err = readState(tx, m)
		return err
	}))
	assertSameState(t, m.want(), got, "read again in the same View")
}

func testIsolationReturnedSlicesInUpdate(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	ops := []op{m.PutMessage("bob", "dave", msg(7, at(7))), m.PutConversation(conv("bob", "carol", at(7)))}
	var got state
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) error {
		if err := runOps(tx, ops); err != nil {
			return err
		}
		if err := readAndScribble(tx, m); err != nil {
			return err
		}
		var err error
		got, err = readState(tx, m)
		return err
	}))
	assertSameState(t, m.want(), got, "read again in the same Update")
	assertState(t, s, m, "after commit")
}

func testIsolationOutliveTransaction(t *testing.T, s messaging.Store) {
	m := baseline(t, s)
	want := m.want()
	got := dump(t, s, m)
	var us []string
	var cs []messaging.ConversationRecord
	var ms []messaging.MessageRecord
	require.NoError(t, s.View(t.Context(), func(tx messaging.ReadTx) error {
		var err error
		if us, err = tx.Users("", noLimit); err != nil {
			return err
		}
		if cs, err = tx.Conversations("bob", nil, noLimit); err != nil {
			return err
		}
		ms, err = tx.Messages("bob", "dave", nil, false, noLimit)
		return err
	}))

	// Churn: delete everything, then write other bytes of the same shapes,
	// enough to reuse freed pages and to grow a mapped file.
	update(t, s, delInbox("bob"), delInbox("dave"), delInbox("bo"))
	for round := range 8 {
		var ops []op
		for _, owner := range []string{"BOB", "DAVE", "BO"} {
			ops = append(ops, putInbox(inbox(owner, round)))
			for _, other := range []string{"DAVE", "CAROL", "ERIN", "B"} {
				ops = append(ops, putConv(conv(owner, other, at(round))))
				for id := range uint64(6) {
					ops = append(ops, putMsg(owner, other, withText(msg(id+1, at(round)), strings.Repeat("#", 512))))
				}
			}
		}
		update(t, s, ops...)
	}

	assertSameState(t, want, got, "state read before the churn")
	assert.Equal(t, []string{"bo", "bob", "dave"}, us, "Users read before the churn")
	assert.Equal(t, want.Conversations["bob"], normConvs(cs), "Conversations read before the churn")
	assert.Equal(t, want.Ascending[pair{"bob", "dave"}], normMsgs(ms), "Messages read before the churn")
}

func testIsolationPutArgumentsReused(t *testing.T, s messaging.Store) {
	m := newModel()
	var buf []byte
	update(t, s, m.PutInbox(inbox("bob", 0)))
	require.NoError(t, s.Update(t.Context(), func(tx messaging.Tx) error {
		var c messaging.ConversationRecord
		var r messaging.MessageRecord
		for i := range 5 {
			buf = fmt.Appendf(buf[:0], "peer%d", i)
			c = conv("bob", string(buf), at(i))
			if err := tx.PutConversation(c); err != nil {
				return err
			}
			for j := range 4 {
				r.ID, r.Created, r.Sender = uint64(i*10+j+1), at(j), string(buf)
				r.Text = fmt.Sprintf("text %d/%d", i, j)
				if err := tx.PutMessage("bob", c.Other, r); err != nil {
					return err
				}
			}
		}
		return nil
	}))
	for i := range 5 {
		other := fmt.Sprintf("peer%d", i)
		m.PutConversation(conv("bob", other, at(i)))
		for j := range 4 {
			m.PutMessage("bob", other, messaging.MessageRecord{
				ID: uint64(i*10 + j + 1), Created: at(j), Sender: other, Text: fmt.Sprintf("text %d/%d", i, j),
			})
		}
	}
	assertState(t, s, m)
}

// ---------------------------------------------------------------------------
// Close

func testCloseErrClosed(t *testing.T, s messaging.Store) {
	baseline(t, s)
	require.NoError(t, s.Close())
	called := false
	err := s.View(t.Context(), func(messaging.ReadTx) error { called = true; return nil })
	assert.ErrorIs(t, err, messaging.ErrClosed, "View")
	err = s.Update(t.Context(), func(messaging.Tx) error { called = true; return nil })
	assert.ErrorIs(t, err, messaging.ErrClosed, "Update")
	assert.False(t, called, "fn called after Close")
}

func testCloseIdempotent(t *testing.T, s messaging.Store) {
	baseline(t, s)
	require.NoError(t, s.Close())
	for i := range 2 {
		err := s.Close()
		assert.True(t, err == nil || errors.Is(err, messaging.ErrClosed), "Close #%d: %v", i+2, err)
	}
	err := s.View(t.Context(), func(messaging.ReadTx) error { return nil })
	assert.ErrorIs(t, err, messaging.ErrClosed, "View after Close twice")
}

// ---------------------------------------------------------------------------
// Concurrency

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

// ---------------------------------------------------------------------------
// OnCommit

func testOnCommitAfterCommit(t *testing.T, s messaging.Store) {
	var calls []string
	err := s.Update(context.Background(), func(tx messaging.Tx) error {
		calls = calls[:0] // the function may run more than once
		tx.OnCommit(func() { calls = append(calls, "first") })
		if err := tx.PutInbox(inbox("a", 1)); err != nil {
			return err
		}
		tx.OnCommit(func() { calls = append(calls, "second") })
		assert.Empty(t, calls, "nothing runs before the commit")
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"first", "second"}, calls, "once each, in registration order, by the time Update returns")

	// A transaction that writes nothing still runs its callbacks.
	ran := 0
	require.NoError(t, s.Update(context.Background(), func(tx messaging.Tx) error {
		ran = 0
		tx.OnCommit(func() { ran++ })
		return nil
	}))
	assert.Equal(t, 1, ran)
}

func testOnCommitDroppedOnError(t *testing.T, s messaging.Store) {
	ran := false
	err := s.Update(context.Background(), func(tx messaging.Tx) error {
		tx.OnCommit(func() { ran = true })
		if err := tx.PutInbox(inbox("a", 1)); err != nil {
			return err
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	assert.False(t, ran, "a rolled-back transaction runs no callback")

	err = s.Update(context.Background(), func(tx messaging.Tx) error {
		tx.OnCommit(func() { ran = true })
		return errBoom // without writing
	})
	require.ErrorIs(t, err, errBoom)
	assert.False(t, ran, "a failed read-only function runs no callback")
}

// testOnCommitCommitOrder has concurrent Updates each bump one counter and
// register a callback with the value they wrote: the callbacks must see the
// values in increasing order, exactly once each for the Updates that
// succeeded, whichever commits were grouped.
func testOnCommitCommitOrder(t *testing.T, s messaging.Store) {
	ctx := context.Background()
	update(t, s, putInbox(inbox("counter", 0)))
	var (
		mu   sync.Mutex
		seen []int
		wg   sync.WaitGroup
		okN  atomic.Int64
	)
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				fail := (w+i)%5 == 0
				err := s.Update(ctx, func(tx messaging.Tx) error {
					in, err := tx.Inbox("counter")
					if err != nil {
						return err
					}
					in.Unread++
					if err := tx.PutInbox(in); err != nil {
						return err
					}
					v := in.Unread
					tx.OnCommit(func() {
						mu.Lock()
						seen = append(seen, v)
						mu.Unlock()
					})
					if fail {
						return errBoom
					}
					return nil
				})
				if fail {
					assert.ErrorIs(t, err, errBoom)
				} else if assert.NoError(t, err) {
					okN.Add(1)
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, int(okN.Load()), "one callback per successful Update")
	for i, v := range seen {
		assert.Equal(t, i+1, v, "callback %d saw the counter at %d: not commit order", i, v)
	}
	assert.Equal(t, int(okN.Load()), getInbox(t, s, "counter").Unread)
}
