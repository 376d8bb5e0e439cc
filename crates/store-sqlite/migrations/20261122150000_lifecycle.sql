-- The data lifecycle: service shutdowns, kept code faces, deletion
-- statements (see docs/lifecycle.md). Same columns as the PostgreSQL edition.

-- One decided shutdown per service (`health-code`, `itinerary`, `checkins`).
-- `keep` lists what the decision lets stay, comma-separated (`code-face`).
-- Executed once it has a statement.
CREATE TABLE service_shutdowns (
    service      TEXT    NOT NULL PRIMARY KEY,
    at_ns        INTEGER NOT NULL,
    decision     TEXT    NOT NULL,
    keep         TEXT    NOT NULL,
    scheduled_ns INTEGER NOT NULL,
    scheduled_by TEXT    NOT NULL,
    executed_ns  INTEGER,
    statement_id TEXT
) WITHOUT ROWID;

-- Signed deletion statements, published as they were signed.
CREATE TABLE deletion_statements (
    id           TEXT    NOT NULL PRIMARY KEY,
    service      TEXT    NOT NULL,
    published_ns INTEGER NOT NULL,
    signed_json  TEXT    NOT NULL
) WITHOUT ROWID;

-- What stays of a person when the decision keeps the code face: the last
-- colour and the masked name and ID, found by a keyed hash of phone number
-- and identity number together (neither of them, nor the phone's own
-- keyed hash, is stored).
CREATE TABLE kept_code_faces (
    lookup          BLOB    NOT NULL PRIMARY KEY,
    colour          TEXT    NOT NULL,
    masked_name     TEXT    NOT NULL,
    masked_id       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    status_as_of_ns INTEGER NOT NULL
) WITHOUT ROWID;

-- The retention purge deletes outbox messages by age.
CREATE INDEX outbox_by_created ON outbox (created_ns);
