-- Oversight: requests that need a second official (colour overrides, bulk
-- actions), correction requests (纠错) and the log of officials' reads of a
-- person's data. Same columns and encodings as the SQLite edition.
-- No foreign keys to persons: erasing a person erases these rows first
-- (OversightStore::erase_oversight_person), and the shutdown erases all.
-- No sequences (CockroachDB): ids come from the application; the access log
-- has none and is read by person and time.

CREATE TABLE approval_requests (
    id           TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    kind         TEXT   NOT NULL,                  -- override | bulk
    person_id    TEXT,                             -- an override's person
    requested_by TEXT   NOT NULL,                  -- official's username
    requested_ns BIGINT NOT NULL,
    expires_ns   BIGINT NOT NULL,                  -- a pending request expires then
    reason       TEXT   NOT NULL,                  -- Bilingual as JSON
    legal_basis  TEXT   NOT NULL,                  -- Bilingual as JSON
    body         TEXT   NOT NULL,                  -- what is asked, JSON
    state        TEXT   NOT NULL,                  -- pending | approved | rejected | expired
    decided_ns   BIGINT NOT NULL DEFAULT 0,        -- for ordering; 0 while pending
    decision     TEXT,                             -- RequestDecision as JSON
    outcome      TEXT                              -- what applying it produced, JSON
);
CREATE INDEX approval_requests_queue ON approval_requests (kind, state, requested_ns, id);
CREATE INDEX approval_requests_by_person ON approval_requests (person_id, requested_ns);
CREATE INDEX approval_requests_by_requester ON approval_requests (requested_by, kind, requested_ns);
CREATE INDEX approval_requests_expiry ON approval_requests (state, expires_ns);

CREATE TABLE correction_requests (
    id          TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    person_id   TEXT   NOT NULL,
    topic       TEXT   NOT NULL,                   -- CorrectionTopic as JSON
    body        TEXT   NOT NULL,                   -- the person's words
    filed_ns    BIGINT NOT NULL,
    due_ns      BIGINT NOT NULL,
    answered    BIGINT NOT NULL DEFAULT 0,         -- 0 open, 1 answered
    answer      TEXT                               -- CorrectionAnswer as JSON
);
CREATE INDEX correction_requests_open ON correction_requests (answered, filed_ns, id);
CREATE INDEX correction_requests_by_person ON correction_requests (person_id, filed_ns);

CREATE TABLE access_log (
    person_id TEXT   NOT NULL,
    at_ns     BIGINT NOT NULL,
    official  TEXT   NOT NULL,
    roles     TEXT   NOT NULL,
    what      TEXT   NOT NULL,
    purpose   TEXT   NOT NULL
);
CREATE INDEX access_log_by_person ON access_log (person_id, at_ns);
