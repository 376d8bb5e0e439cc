-- The health-code store, SQLite edition. The PostgreSQL edition
-- (crates/store-postgres/migrations) holds the same columns in the same
-- encodings (see healthcode_store::columns): instants are Unix nanoseconds
-- in UTC (`*_ns`), hashes are 32 raw bytes, identities and events are their
-- serde JSON with the looked-up and ordered fields copied into columns.

-- Citizens and travellers. One identity number and one phone per region.
CREATE TABLE persons (
    id              TEXT    NOT NULL PRIMARY KEY,  -- 32 hex digits, random
    region          TEXT    NOT NULL,
    identity_number TEXT    NOT NULL,              -- Identity::number(), for lookups
    identity        TEXT    NOT NULL,              -- healthcode_core::Identity as JSON
    full_name       TEXT    NOT NULL,
    phone_hash      BLOB    NOT NULL,              -- HMAC of the number, never the number
    channel         TEXT    NOT NULL,
    created_ns      INTEGER NOT NULL,
    CONSTRAINT persons_region_identity_number_key UNIQUE (region, identity_number),
    CONSTRAINT persons_region_phone_hash_key UNIQUE (region, phone_hash)
) WITHOUT ROWID;

-- Facts about people. Event ids are unique per person; reads go by
-- person in time order, then id (bytewise).
CREATE TABLE events (
    person_id TEXT    NOT NULL REFERENCES persons (id),
    event_id  TEXT    NOT NULL,
    at_ns     INTEGER NOT NULL,
    body      TEXT    NOT NULL,                    -- healthcode_core::Event as JSON
    PRIMARY KEY (person_id, event_id)
) WITHOUT ROWID;
CREATE INDEX events_by_person_time ON events (person_id, at_ns, event_id);

-- One live SMS challenge per phone; only the code's hash.
CREATE TABLE otp_challenges (
    phone_hash      BLOB    NOT NULL PRIMARY KEY,
    code_hash       BLOB    NOT NULL,
    created_ns      INTEGER NOT NULL,
    expires_ns      INTEGER NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX otp_challenges_by_expiry ON otp_challenges (expires_ns);

-- Sessions, by the hash of their token. The subject is a phone hash or an
-- official's username, exactly one of the two.
CREATE TABLE sessions (
    token_hash       BLOB    NOT NULL PRIMARY KEY,
    subject_phone    BLOB,
    subject_official TEXT,
    created_ns       INTEGER NOT NULL,
    expires_ns       INTEGER NOT NULL,
    CHECK ((subject_phone IS NULL) <> (subject_official IS NULL))
) WITHOUT ROWID;
CREATE INDEX sessions_by_expiry ON sessions (expires_ns);

CREATE TABLE officials (
    username      TEXT    NOT NULL PRIMARY KEY,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,                -- argon2id PHC string
    roles         TEXT    NOT NULL,                -- role names, comma-separated
    created_ns    INTEGER NOT NULL
) WITHOUT ROWID;

-- The development SMS outbox. AUTOINCREMENT: ids only ever increase.
CREATE TABLE outbox (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    to_masked  TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_ns INTEGER NOT NULL
);

-- The audit hash chain. `at_offset` (seconds east of UTC) is kept because
-- the entry's hash covers it. Appends run in BEGIN IMMEDIATE transactions,
-- so two appends never seal onto the same head; the primary key on `seq`
-- would refuse a fork anyway.
CREATE TABLE audit_log (
    seq       INTEGER NOT NULL PRIMARY KEY,
    prev      BLOB    NOT NULL,
    at_ns     INTEGER NOT NULL,
    at_offset INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    details   TEXT    NOT NULL,
    hash      BLOB    NOT NULL
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, seq);
