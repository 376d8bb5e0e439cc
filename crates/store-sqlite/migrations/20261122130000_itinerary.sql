-- The itinerary card (行程卡): carriers' stay records, risk areas, card
-- queries and carrier accounts. Same columns and encodings as the
-- PostgreSQL edition (instants are Unix nanoseconds in UTC).

-- Stays from carriers' signalling records, keyed by the phone's keyed hash
-- (the same HMAC the persons table holds, never the number). Idempotent on
-- (phone, city, first seen). The key serves the card's lookup by phone;
-- the index on last_seen serves the retention purge.
CREATE TABLE carrier_stays (
    phone_hash BLOB    NOT NULL,
    city_code  TEXT    NOT NULL,              -- GB/T 2260 city, 6 digits
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    cell       TEXT,                          -- the carrier's location cell id
    carrier    TEXT,                          -- the account or import that supplied it
    PRIMARY KEY (phone_hash, city_code, first_seen)
) WITHOUT ROWID;
CREATE INDEX carrier_stays_by_last_seen ON carrier_stays (last_seen);

-- Medium- and high-risk areas. Never updated in place except to set the
-- end once; a change is a new row naming the one it supersedes.
CREATE TABLE risk_areas (
    id           TEXT    NOT NULL PRIMARY KEY,
    city_code    TEXT    NOT NULL,
    area_zh      TEXT    NOT NULL,
    area_en      TEXT    NOT NULL,
    level        TEXT    NOT NULL CHECK (level IN ('medium', 'high')),
    starts_ns    INTEGER NOT NULL,
    ends_ns      INTEGER,
    published_by TEXT    NOT NULL,
    published_ns INTEGER NOT NULL,
    ended_by     TEXT,
    supersedes   TEXT
) WITHOUT ROWID;
CREATE INDEX risk_areas_by_city ON risk_areas (city_code, starts_ns);

-- Each card query, for the person's own data.
CREATE TABLE card_queries (
    phone_hash  BLOB    NOT NULL,
    at_ns       INTEGER NOT NULL,
    consent     INTEGER NOT NULL,
    window_days INTEGER NOT NULL,
    channel     TEXT    NOT NULL,
    colour      TEXT    NOT NULL,
    cities      INTEGER NOT NULL
);
CREATE INDEX card_queries_by_phone ON card_queries (phone_hash, at_ns);

-- Carriers allowed to post stays; only the API key's SHA-256.
CREATE TABLE carrier_accounts (
    name         TEXT    NOT NULL PRIMARY KEY,
    display_name TEXT    NOT NULL,
    key_hash     BLOB    NOT NULL UNIQUE,
    created_ns   INTEGER NOT NULL
) WITHOUT ROWID;
