-- Venues (场所码), dependents, check-ins and sealed check-ins, SQLite
-- edition; the PostgreSQL edition holds the same columns in the same
-- encodings (healthcode_store::venues). Venue ids are 64 random bits;
-- a check-in's person is the person id's 16 raw bytes (no foreign key: the
-- table is the largest of a deployment and the service checks people).

CREATE TABLE venues (
    id                  INTEGER NOT NULL PRIMARY KEY,  -- 64 random bits
    name                TEXT    NOT NULL,
    address             TEXT    NOT NULL,
    region_code         TEXT    NOT NULL,              -- GB/T 2260
    category            TEXT    NOT NULL,
    cell                TEXT,                          -- location cell id
    mode                TEXT    NOT NULL CHECK (mode IN ('open', 'sealed')),
    operator_token_hash BLOB    NOT NULL,              -- SHA-256 of the operator's token
    demo                INTEGER NOT NULL,
    registered_by       TEXT    NOT NULL,
    created_ns          INTEGER NOT NULL,
    hour_keys           BLOB,                          -- sealed: first hour ‖ 32-byte keys
    CONSTRAINT venues_operator_token_hash_key UNIQUE (operator_token_hash)
);
CREATE INDEX venues_by_created ON venues (created_ns);

-- People a citizen checks in with (elderly parents, children).
CREATE TABLE dependents (
    guardian        TEXT    NOT NULL REFERENCES persons (id),
    number          INTEGER NOT NULL,
    identity_number TEXT    NOT NULL,
    full_name       TEXT    NOT NULL,
    identity        TEXT    NOT NULL,                  -- Identity as JSON
    created_ns      INTEGER NOT NULL,
    PRIMARY KEY (guardian, number),
    CONSTRAINT dependents_guardian_identity_number_key UNIQUE (guardian, identity_number)
) WITHOUT ROWID;

-- Check-ins. The key finds a person's stays; the venue index finds who
-- else was there (arrivals at most a day before a stay's end).
CREATE TABLE checkins (
    person     BLOB    NOT NULL,                       -- 16 bytes
    arrived_ns INTEGER NOT NULL,
    venue_id   INTEGER NOT NULL,
    dependent  INTEGER NOT NULL DEFAULT 0,
    left_ns    INTEGER NOT NULL,
    PRIMARY KEY (person, arrived_ns, venue_id, dependent)
) WITHOUT ROWID;
CREATE INDEX checkins_by_venue ON checkins (venue_id, arrived_ns);
CREATE INDEX checkins_by_left ON checkins (left_ns);

-- Client-supplied ids of batch-ingested check-ins (idempotency), as
-- SHA-256(scope ‖ id) truncated to 16 bytes; purged with the check-ins.
CREATE TABLE checkin_client_ids (
    key     BLOB    NOT NULL PRIMARY KEY,
    left_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX checkin_client_ids_by_left ON checkin_client_ids (left_ns);

-- Sealed check-ins of privacy-preserving venues: readable only with the
-- venue's hour secret and the authority's secret together.
CREATE TABLE sealed_checkins (
    venue_id   INTEGER NOT NULL,
    hour       INTEGER NOT NULL,                       -- Unix seconds / 3600
    ephemeral  BLOB    NOT NULL,
    ciphertext BLOB    NOT NULL,
    PRIMARY KEY (venue_id, hour, ephemeral)
) WITHOUT ROWID;

-- Hour secrets venues revealed to the authority.
CREATE TABLE hour_reveals (
    venue_id    INTEGER NOT NULL,
    hour        INTEGER NOT NULL,
    secret      BLOB    NOT NULL,
    revealed_ns INTEGER NOT NULL,
    PRIMARY KEY (venue_id, hour)
) WITHOUT ROWID;
