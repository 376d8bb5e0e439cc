-- Channels (registered API clients) and imported trust lists (issue 7).
-- Same columns and encodings as the PostgreSQL edition.

CREATE TABLE channels (
    client_id   TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,                  -- alipay|wechat|unionpay|government|web
    secret_hash BLOB    NOT NULL,                  -- SHA-256 of the secret, never the secret
    created_ns  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    disabled_ns INTEGER
) WITHOUT ROWID;

-- Other deployments' signed trust lists, one per publisher key.
CREATE TABLE trust_imports (
    fingerprint TEXT    NOT NULL PRIMARY KEY,      -- SHA-256 of the publisher key, hex
    publisher   TEXT    NOT NULL,
    source      TEXT    NOT NULL,                  -- https://... or file:<path>
    body        TEXT    NOT NULL,                  -- the signed list as received
    sequence    INTEGER NOT NULL,
    imported_ns INTEGER NOT NULL,
    checked_ns  INTEGER NOT NULL,
    last_error  TEXT
) WITHOUT ROWID;
