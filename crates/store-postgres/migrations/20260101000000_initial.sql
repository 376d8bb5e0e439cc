-- The health-code store, PostgreSQL edition. The SQLite edition
-- (crates/store-sqlite/migrations) holds the same columns in the same
-- encodings (see healthcode_store::columns): instants are Unix nanoseconds
-- in UTC (`*_ns`, BIGINT: exact to the nanosecond, unlike timestamptz),
-- hashes are 32 raw bytes, identities and events are their serde JSON with
-- the looked-up and ordered fields copied into columns.
--
-- Written to also run on PostgreSQL-compatible distributed engines
-- (CockroachDB): no SERIAL or sequences (ids come from the application or
-- from a counter row updated in the same statement), no extensions, no
-- advisory locks. Text that is ordered uses COLLATE "C" (bytewise, as Rust
-- orders strings), whatever the database's locale.

-- Citizens and travellers. One identity number and one phone per region.
CREATE TABLE persons (
    id              TEXT   NOT NULL PRIMARY KEY,   -- 32 hex digits, random
    region          TEXT   NOT NULL,
    identity_number TEXT   NOT NULL,               -- Identity::number(), for lookups
    identity        TEXT   NOT NULL,               -- healthcode_core::Identity as JSON
    full_name       TEXT   NOT NULL,
    phone_hash      BYTEA  NOT NULL,               -- HMAC of the number, never the number
    channel         TEXT   NOT NULL,
    created_ns      BIGINT NOT NULL,
    CONSTRAINT persons_region_identity_number_key UNIQUE (region, identity_number),
    CONSTRAINT persons_region_phone_hash_key UNIQUE (region, phone_hash)
);

-- Facts about people. Event ids are unique per person; reads go by
-- person in time order, then id (bytewise).
CREATE TABLE events (
    person_id TEXT   NOT NULL REFERENCES persons (id),
    event_id  TEXT   COLLATE "C" NOT NULL,
    at_ns     BIGINT NOT NULL,
    body      TEXT   NOT NULL,                     -- healthcode_core::Event as JSON
    CONSTRAINT events_pkey PRIMARY KEY (person_id, event_id)
);
CREATE INDEX events_by_person_time ON events (person_id, at_ns, event_id);

-- One live SMS challenge per phone; only the code's hash.
CREATE TABLE otp_challenges (
    phone_hash      BYTEA  NOT NULL PRIMARY KEY,
    code_hash       BYTEA  NOT NULL,
    created_ns      BIGINT NOT NULL,
    expires_ns      BIGINT NOT NULL,
    failed_attempts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX otp_challenges_by_expiry ON otp_challenges (expires_ns);

-- Sessions, by the hash of their token. The subject is a phone hash or an
-- official's username, exactly one of the two.
CREATE TABLE sessions (
    token_hash       BYTEA  NOT NULL PRIMARY KEY,
    subject_phone    BYTEA,
    subject_official TEXT,
    created_ns       BIGINT NOT NULL,
    expires_ns       BIGINT NOT NULL,
    CONSTRAINT sessions_one_subject CHECK ((subject_phone IS NULL) <> (subject_official IS NULL))
);
CREATE INDEX sessions_by_expiry ON sessions (expires_ns);

CREATE TABLE officials (
    username      TEXT   NOT NULL PRIMARY KEY,
    display_name  TEXT   NOT NULL,
    password_hash TEXT   NOT NULL,                 -- argon2id PHC string
    roles         TEXT   NOT NULL,                 -- role names, comma-separated
    created_ns    BIGINT NOT NULL
);

-- Counters for ids assigned by the store: `UPDATE ... RETURNING` in the
-- same statement as the insert that uses the id, so ids increase in commit
-- order without sequences.
CREATE TABLE counters (
    name  TEXT   NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('outbox', 0);

-- The development SMS outbox.
CREATE TABLE outbox (
    id         BIGINT NOT NULL PRIMARY KEY,
    to_masked  TEXT   NOT NULL,
    body       TEXT   NOT NULL,
    created_ns BIGINT NOT NULL
);

-- The audit hash chain. `at_offset` (seconds east of UTC) is kept because
-- the entry's hash covers it.
CREATE TABLE audit_log (
    seq       BIGINT NOT NULL PRIMARY KEY,
    prev      BYTEA  NOT NULL,
    at_ns     BIGINT NOT NULL,
    at_offset INTEGER NOT NULL,
    actor     TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    subject   TEXT   NOT NULL,
    details   TEXT   NOT NULL,
    hash      BYTEA  NOT NULL
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, seq);

-- The chain's head: one row, locked FOR UPDATE and updated by every append,
-- so appends are serialised (and, under SERIALIZABLE, conflict and are
-- retried) instead of forking the chain. Empty log: last_seq is NULL.
CREATE TABLE audit_head (
    id       SMALLINT NOT NULL PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT,
    last_hash BYTEA
);
INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, NULL, NULL);
