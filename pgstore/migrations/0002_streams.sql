-- 0002: message metadata, kinds of tombstone, blocks, idempotency records
-- and per-user event streams. A separate migration rather than a rewrite of
-- 0001, so that a schema made by the first version is upgraded in place.
-- Encodings are in codec.go; the locking protocol in doc.go.

-- Metadata: NULL when the message has none, else the keys in byte order,
-- each key and value as a uvarint length and its bytes (codec.go).
ALTER TABLE messages
    ADD COLUMN meta           bytea,
    ADD COLUMN deleted_unread boolean NOT NULL DEFAULT false;
ALTER TABLE conversations
    ADD COLUMN last_meta           bytea,
    ADD COLUMN last_deleted_unread boolean NOT NULL DEFAULT false;
ALTER TABLE tombstones
    ADD COLUMN retracted boolean NOT NULL DEFAULT false;

-- A row of inboxes is now a user's row: the inbox (has_inbox), and the
-- user's event stream, which outlives the inbox: its first and last Seq,
-- how many events it holds, and ev_phys, below which none is left in the
-- events table (those from ev_phys to ev_first are deleted but still in
-- the table, until a batch of them goes: streams.go). A user with neither
-- inbox nor events has no row. The row protects the user's stream, blocks
-- and inbox alike (doc.go, "Isolation"). Seqs are stored like message IDs
-- (sign bit flipped); 0, no event, is the smallest bigint.
ALTER TABLE inboxes
    ADD COLUMN has_inbox boolean NOT NULL DEFAULT true,
    ADD COLUMN ev_first  bigint  NOT NULL DEFAULT (-9223372036854775807 - 1),
    ADD COLUMN ev_last   bigint  NOT NULL DEFAULT (-9223372036854775807 - 1),
    ADD COLUMN ev_count  bigint  NOT NULL DEFAULT 0,
    ADD COLUMN ev_phys   bigint  NOT NULL DEFAULT (-9223372036854775807 - 1);

-- owner blocks other. Apart from the inboxes, which it outlives.
CREATE TABLE blocks (
    owner bytea NOT NULL,
    other bytea NOT NULL,
    PRIMARY KEY (owner, other)
);

CREATE TABLE idempotency (
    sender       bytea   NOT NULL,
    key          bytea   NOT NULL,
    message_id   bigint  NOT NULL,
    created_sec  bigint  NOT NULL,
    created_nsec integer NOT NULL,
    digest       bytea   NOT NULL,
    expires_sec  bigint  NOT NULL,
    expires_nsec integer NOT NULL,
    PRIMARY KEY (sender, key)
);
CREATE INDEX idempotency_by_expiry ON idempotency (expires_sec, expires_nsec);

CREATE TABLE events (
    owner bytea  NOT NULL,
    seq   bigint NOT NULL,
    data  bytea  NOT NULL,
    PRIMARY KEY (owner, seq)
);

-- Deletes up to lim records that expire before the given time, oldest
-- first, and returns their keys. Every keyed send purges, so purgers run
-- side by side and go for the same oldest records: a record another purger
-- holds is skipped (SKIP LOCKED), and so is one that a purger deleted
-- after this transaction's snapshot, which under REPEATABLE READ fails the
-- lock with 40001: caught here, per record, so the transaction goes on.
-- Serially, that record was gone before this transaction ran, and the next
-- oldest is the one to delete.
CREATE FUNCTION purge_idempotency(before_sec bigint, before_nsec integer, lim integer)
RETURNS TABLE (gone_sender bytea, gone_key bytea)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    r record;
    n integer := 0;
    tries integer := 0;
BEGIN
    IF lim <= 0 THEN
        RETURN;
    END IF;
    FOR r IN SELECT i.sender, i.key FROM idempotency i
             WHERE (i.expires_sec, i.expires_nsec) < (before_sec, before_nsec)
             ORDER BY i.expires_sec, i.expires_nsec LOOP
        BEGIN
            PERFORM 1 FROM idempotency i WHERE i.sender = r.sender AND i.key = r.key FOR UPDATE SKIP LOCKED;
            IF FOUND THEN
                DELETE FROM idempotency i WHERE i.sender = r.sender AND i.key = r.key;
                n := n + 1;
                gone_sender := r.sender;
                gone_key := r.key;
                RETURN NEXT;
            END IF;
        EXCEPTION WHEN serialization_failure THEN
            NULL; -- deleted or changed by a transaction that committed after our snapshot
        END;
        tries := tries + 1;
        EXIT WHEN n >= lim OR tries >= 4 * lim + 16;
    END LOOP;
END
$$;
