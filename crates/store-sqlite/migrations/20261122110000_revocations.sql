-- Revoked codes (issue 5): an official revokes a code id with a reason; the
-- ids are published in the signed revocation list. One row per code id.
CREATE TABLE revocations (
    code_id    BLOB    NOT NULL PRIMARY KEY,   -- the code's 16-byte cti
    reason     TEXT    NOT NULL,
    revoked_by TEXT    NOT NULL,               -- official's username
    revoked_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX revocations_by_time ON revocations (revoked_ns, code_id);
