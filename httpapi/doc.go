// Package httpapi is a JSON + Server-Sent Events API over a
// messaging.Inboxes, for an application to mount behind its own
// authentication. Every route acts for the user that Options.User names
// and on that user's side only: no route takes the asking user's id from
// the path or the body, so no request can read or change another user's
// inbox or events.
//
//	api := httpapi.New(inboxes, httpapi.Options{
//		User: func(r *http.Request) (string, error) { return mySession(r) },
//	})
//	mux.Handle("/api/", http.StripPrefix("/api", api))
//
// # Routes
//
//	GET    /inbox                                   messaging.Inbox
//	GET    /conversations?cursor=&limit=            messaging.ConversationPage
//	GET    /conversations/{other}/messages?before=&after=&limit=
//	                                                [messaging.Message]
//	POST   /conversations/{other}/messages          201 messaging.Message
//	       {"text": "...", "meta": {...}, "idempotency_key": "..."}
//	POST   /conversations/{other}/read              messaging.Conversation
//	       {} or {"up_to": ID}
//	DELETE /conversations/{other}                   204
//	DELETE /conversations/{other}/messages/{id}     204
//	POST   /conversations/{other}/messages/{id}/retract
//	                                                204
//	PUT    /blocks/{other}                          204
//	DELETE /blocks/{other}                          204
//	GET    /blocks                                  ["id", ...]
//	GET    /events                                  text/event-stream of messaging.Event (HEAD: its headers)
//
// Answers are the library's own types, which marshal with snake_case
// names. A user who never sent or received anything has an empty inbox
// and an empty page of conversations, not a 404. Messages come newest
// first with before (or neither), as Conversation.Older gives them, and
// oldest first with after, as Conversation.Newer does. Two answers have no
// library type: a page of messages and the blocked users are plain JSON
// arrays ([]messaging.Message, []string), which need no wrapper; and
// errors are an ErrorResponse, the one shape this package adds, because
// the library's errors are Go values with no JSON form.
//
// # Errors
//
// Every error answer is {"error": "...", "code": "...", "field": "..."}.
// The code is stable; field names the input at fault, when there is one:
// a body field ("text", "meta", "idempotency_key", "up_to"), a path or
// query parameter ("other", "id", "cursor", "before", "after", "limit",
// "last_event_id"), or "user" when the id Options.User returned is not a
// valid user id.
//
//	400 invalid_user            messaging.ErrInvalidUser
//	400 self_message            messaging.ErrSelfMessage
//	400 empty_message           messaging.ErrEmptyMessage
//	400 message_too_long        messaging.ErrMessageTooLong (a body under the cap)
//	400 invalid_text            messaging.ErrInvalidText
//	400 invalid_time            messaging.ErrInvalidTime
//	400 invalid_meta            messaging.ErrInvalidMeta
//	400 invalid_key             messaging.ErrInvalidKey (idempotency_key)
//	400 bad_cursor              messaging.ErrBadCursor
//	400 bad_json                the body is not a JSON object, or a field has the wrong type
//	400 unknown_field           the body has a field the route does not take
//	400 bad_parameter           a path or query parameter is not a number it can be
//	401 unauthorized            Options.User returned an error (logged, not sent)
//	403 blocked                 messaging.ErrBlocked
//	403 not_sender              messaging.ErrNotSender
//	404 not_found               messaging.ErrNotFound
//	404 no_route                no route has this path
//	405 method_not_allowed      the path takes other methods (see Allow)
//	409 idempotency_conflict    messaging.ErrIdempotencyConflict
//	410 resume_too_old          messaging.ErrResumeTooOld
//	410 overflow                messaging.ErrOverflow (in the reload event only)
//	413 body_too_large          the body is over the cap (see Bodies)
//	415 unsupported_media_type  a POST without Content-Type: application/json, or a PUT or DELETE with another type
//	500 corrupt, locked, not_store, version, internal
//	503 closed                  messaging.ErrClosed: the Inboxes is shutting down
//	503 canceled, timeout       the request's context ended
//
// A 4xx answer carries the library's message, which names only the asking
// user's own input. A 5xx answer carries the sentinel's text only (or
// "internal error"), and the whole error goes to Options.Log.
//
// # Bodies
//
// A POST must say Content-Type: application/json (charset utf-8 if any),
// even where it has no body: an HTML form cannot send that type, so a
// cross-site form cannot post here. A PUT or DELETE may leave the type out
// (a browser sends those methods cross-site only after a CORS preflight),
// but one that gives a type must give that one. Bodies are one JSON object
// whose keys are exactly the route's fields (others are refused, not
// ignored); an empty body is {}. A message body is capped with
// http.MaxBytesReader at 6 × (MaxMessageBytes + messaging.MaxMetaBytes +
// messaging.MaxIdempotencyKeyBytes) + 6 × messaging.MaxMetaEntries + 4 KiB:
// JSON may write any byte of a string as a 6-byte \u escape, so every
// message the library accepts fits whatever escaping the client uses
// (about 485 KiB at the default 64 KiB text limit). Other bodies are
// capped at 4 KiB. The request's context is passed to every call: a client
// that goes away cancels its work.
//
// # Paths
//
// {other} is one path segment, unescaped once by the ServeMux: a user id
// with "/" is sent as %2F, "%" as %25, and a user id of "." or ".." must be
// escaped (%2E), since a literal one would be cleaned out of the path. The
// library validates it: 400 invalid_user with field "other".
//
// # Events
//
// GET /events streams the asking user's events: their own changes and the
// read receipts of what they sent. Each event is written and flushed as
//
//	id: <Event.Seq>
//	event: <Event.Kind, e.g. message_received>
//	data: <the messaging.Event as JSON>
//
// The Seq is the event's position in the user's stream, the same in every
// process sharing the store. A Last-Event-ID header (sent by EventSource
// when it reconnects), or a last_event_id query parameter for clients that
// cannot set headers, resumes after that position with no gap and no
// duplicate (Inboxes.SubscribeFrom); the header wins. Without either, the
// stream starts at the current end of the user's stream: a client should
// open the stream before it loads its state, and reload its state if it
// reconnects before it got any event (it has no position to resume from).
//
// A comment line (": heartbeat") goes out every Options.Heartbeat (15 s by
// default), and a client that reads nothing for two heartbeats is dropped.
// If the client asks for a position no longer kept (ErrResumeTooOld) or
// later falls out of what is kept for it (ErrOverflow), the stream ends
// with an "event: reload" whose data is an ErrorResponse and whose empty
// id clears the client's position: the client reloads its state and opens
// the stream afresh. The stream also ends when the client goes away, and
// when the Inboxes closes. Events wait in the library's bounded
// subscription queues, backed by the stored stream: a slow client never
// slows senders, and this package buffers nothing beyond one event.
package httpapi
