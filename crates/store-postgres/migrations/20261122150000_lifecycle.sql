-- The data lifecycle: service shutdowns, kept code faces, deletion
-- statements (see docs/lifecycle.md). Same columns as the SQLite edition.

-- One decided shutdown per service (`health-code`, `itinerary`, `checkins`).
-- `keep` lists what the decision lets stay, comma-separated (`code-face`).
-- Executed once it has a statement.
CREATE TABLE service_shutdowns (
    service      TEXT   NOT NULL PRIMARY KEY,
    at_ns        BIGINT NOT NULL,
    decision     TEXT   NOT NULL,
    keep         TEXT   NOT NULL,
    scheduled_ns BIGINT NOT NULL,
    scheduled_by TEXT   NOT NULL,
    executed_ns  BIGINT,
    statement_id TEXT
);

-- Signed deletion statements, published as they were signed.
CREATE TABLE deletion_statements (
    id           TEXT   NOT NULL PRIMARY KEY,
    service      TEXT   NOT NULL,
    published_ns BIGINT NOT NULL,
    signed_json  TEXT   NOT NULL
);

-- What stays of a person when the decision keeps the code face: the last
-- colour and the masked name and ID, found by a keyed hash of phone number
-- and identity number together (neither of them, nor the phone's own
-- keyed hash, is stored).
CREATE TABLE kept_code_faces (
    lookup          BYTEA  NOT NULL PRIMARY KEY,
    colour          TEXT   NOT NULL,
    masked_name     TEXT   NOT NULL,
    masked_id       TEXT   NOT NULL,
    kind            TEXT   NOT NULL,
    status_as_of_ns BIGINT NOT NULL
);

-- The retention purge deletes outbox messages by age.
CREATE INDEX outbox_by_created ON outbox (created_ns);

-- ANALYZE copies sample values of a column (most common values, histogram
-- bounds) into pg_statistic, where deleting the rows does not reach them.
-- Columns holding personal data keep no such samples; lookups on them are
-- by unique keys and need none.
ALTER TABLE persons ALTER COLUMN identity_number SET STATISTICS 0;
ALTER TABLE persons ALTER COLUMN identity SET STATISTICS 0;
ALTER TABLE persons ALTER COLUMN full_name SET STATISTICS 0;
ALTER TABLE persons ALTER COLUMN phone_hash SET STATISTICS 0;
ALTER TABLE events ALTER COLUMN body SET STATISTICS 0;
ALTER TABLE otp_challenges ALTER COLUMN phone_hash SET STATISTICS 0;
ALTER TABLE sessions ALTER COLUMN subject_phone SET STATISTICS 0;
ALTER TABLE officials ALTER COLUMN display_name SET STATISTICS 0;
ALTER TABLE outbox ALTER COLUMN to_masked SET STATISTICS 0;
ALTER TABLE outbox ALTER COLUMN body SET STATISTICS 0;
ALTER TABLE audit_log ALTER COLUMN details SET STATISTICS 0;
