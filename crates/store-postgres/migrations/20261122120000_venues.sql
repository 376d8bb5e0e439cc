-- Venues (场所码), dependents, check-ins and sealed check-ins, PostgreSQL
-- edition (same columns and encodings as the SQLite edition; see
-- healthcode_store::venues). No sequences: venue ids are 64 random bits
-- from the application.
--
-- `checkins` is the table that grows to hundreds of millions of rows, so
-- it is narrow (fixed-width columns first, no padding: ~70 bytes a row)
-- and has exactly the indexes tracing needs:
--   primary key (person, arrived_ns, …)  a case's own stays;
--   checkins_by_venue (venue_id, arrived_ns)  who else was there: stays
--       are at most 24 h, so arrivals in (stay start − 24 h, stay end);
--   checkins_by_arrival BRIN (arrived_ns)  retention deletes by time,
--       for a few kilobytes (rows arrive roughly in time order).

CREATE TABLE venues (
    id                  BIGINT NOT NULL PRIMARY KEY,   -- 64 random bits
    name                TEXT   NOT NULL,
    address             TEXT   NOT NULL,
    region_code         TEXT   NOT NULL,               -- GB/T 2260
    category            TEXT   NOT NULL,
    cell                TEXT,
    mode                TEXT   NOT NULL CHECK (mode IN ('open', 'sealed')),
    operator_token_hash BYTEA  NOT NULL,
    demo                BIGINT NOT NULL,
    registered_by       TEXT   NOT NULL,
    created_ns          BIGINT NOT NULL,
    hour_keys           BYTEA,
    CONSTRAINT venues_operator_token_hash_key UNIQUE (operator_token_hash)
);
CREATE INDEX venues_by_created ON venues (created_ns);

CREATE TABLE dependents (
    guardian        TEXT     NOT NULL REFERENCES persons (id),
    number          INTEGER  NOT NULL,
    identity_number TEXT     NOT NULL,
    full_name       TEXT     NOT NULL,
    identity        TEXT     NOT NULL,
    created_ns      BIGINT   NOT NULL,
    CONSTRAINT dependents_pkey PRIMARY KEY (guardian, number),
    CONSTRAINT dependents_guardian_identity_number_key UNIQUE (guardian, identity_number)
);

CREATE TABLE checkins (
    arrived_ns BIGINT   NOT NULL,
    left_ns    BIGINT   NOT NULL,
    venue_id   BIGINT   NOT NULL,
    dependent  INTEGER  NOT NULL DEFAULT 0,
    person     BYTEA    NOT NULL,                      -- 16 bytes
    CONSTRAINT checkins_pkey PRIMARY KEY (person, arrived_ns, venue_id, dependent)
);
CREATE INDEX checkins_by_venue ON checkins (venue_id, arrived_ns);
CREATE INDEX checkins_by_arrival ON checkins USING brin (arrived_ns);

CREATE TABLE checkin_client_ids (
    key     BYTEA  NOT NULL PRIMARY KEY,
    left_ns BIGINT NOT NULL
);
CREATE INDEX checkin_client_ids_by_left ON checkin_client_ids USING brin (left_ns);

CREATE TABLE sealed_checkins (
    venue_id   BIGINT NOT NULL,
    hour       BIGINT NOT NULL,
    ephemeral  BYTEA  NOT NULL,
    ciphertext BYTEA  NOT NULL,
    CONSTRAINT sealed_checkins_pkey PRIMARY KEY (venue_id, hour, ephemeral)
);

CREATE TABLE hour_reveals (
    venue_id    BIGINT NOT NULL,
    hour        BIGINT NOT NULL,
    secret      BYTEA  NOT NULL,
    revealed_ns BIGINT NOT NULL,
    CONSTRAINT hour_reveals_pkey PRIMARY KEY (venue_id, hour)
);
