-- 0001: the first layout of a pgstore schema. Applied with search_path set
-- to the store's schema only, so names are unqualified. Encodings are in
-- codec.go; the locking protocol these tables serve is in doc.go.

-- One row. Creating or deleting an inbox updates it, and a transaction
-- that relies on an inbox being absent (or lists users) locks it.
CREATE TABLE inbox_set (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    changes bigint  NOT NULL DEFAULT 0
);
INSERT INTO inbox_set DEFAULT VALUES;

CREATE TABLE inboxes (
    owner  bytea  PRIMARY KEY,
    unread bigint NOT NULL
) WITH (fillfactor = 90);

CREATE TABLE conversations (
    owner          bytea   NOT NULL,
    other          bytea   NOT NULL,
    messages       bigint  NOT NULL,
    unread         bigint  NOT NULL,
    lu_neg_sec     bigint  NOT NULL, -- LastUpdate, negated: newest first
    lu_neg_nsec    integer NOT NULL,
    first_id       bigint  NOT NULL, -- message IDs: sign bit flipped
    max_id         bigint  NOT NULL,
    read_mark      bigint  NOT NULL,
    peer_read_mark bigint  NOT NULL,
    last_id        bigint  NOT NULL, -- Last, the newest message's summary
    last_sender    bytea   NOT NULL,
    last_recipient bytea   NOT NULL,
    last_text      bytea   NOT NULL,
    last_sec       bigint  NOT NULL,
    last_nsec      integer NOT NULL,
    PRIMARY KEY (owner, other)
) WITH (fillfactor = 90);
CREATE INDEX conversations_by_update ON conversations (owner, lu_neg_sec, lu_neg_nsec, other);

CREATE TABLE messages (
    owner     bytea   NOT NULL,
    other     bytea   NOT NULL,
    id        bigint  NOT NULL,
    sec       bigint  NOT NULL, -- Created
    nsec      integer NOT NULL,
    sender    bytea   NOT NULL,
    recipient bytea   NOT NULL,
    text      bytea   NOT NULL,
    PRIMARY KEY (owner, other, id)
);
CREATE INDEX messages_by_created ON messages (owner, other, sec, nsec, id);

-- IDs DeleteMessage removed from a conversation (ReadTx.Deleted).
CREATE TABLE tombstones (
    owner bytea  NOT NULL,
    other bytea  NOT NULL,
    id    bigint NOT NULL,
    PRIMARY KEY (owner, other, id)
);

-- NextID. No cache: IDs must grow in the order they are handed out, across
-- every process sharing the store.
CREATE SEQUENCE message_ids AS bigint MINVALUE 1 START 1 CACHE 1;

-- Stamps a transaction with OnCommit callbacks once it holds all its locks,
-- just before COMMIT: the order callbacks run in (commitorder.go).
CREATE SEQUENCE commit_order AS bigint MINVALUE 1 START 1 CACHE 1;
