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
	"errors"
	"testing"

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

	{"Blocks/RoundTrip", testBlocksRoundTrip},
	{"Blocks/ApartFromInboxes", testBlocksApartFromInboxes},
	{"Blocks/OrderAndPaging", testBlocksOrderAndPaging},
	{"Blocks/RollBack", testBlocksRollBack},

	{"Idempotency/RoundTripOrderAndPaging", testIdempotencyRoundTrip},
	{"Idempotency/DeleteExpired", testIdempotencyExpiry},

	{"Streams/RoundTripTrimAndRollBack", testStreamsRoundTrip},
	{"Streams/ApartFromInboxes", testStreamsApartFromInboxes},
	{"Streams/ReturnedDataIsACopy", testStreamsIsolation},
	{"Scanner/Messages", testScannerMessages},
	{"Scanner/Tombstones", testScannerTombstones},
	{"Loader/LikePut", testLoaderLikePut},
	{"Loader/Cancelled", testLoaderCancelled},

	{"Tombstones/ListAndKind", testTombstonesListAndKind},
	{"Message/MetaRoundTripAndIsolation", testMessageMetaRoundTrip},
	{"NextID/AdvanceID", testAdvanceID},
}
