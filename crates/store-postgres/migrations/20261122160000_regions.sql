-- Channels (registered API clients) and imported trust lists (issue 7).
-- Same columns and encodings as the SQLite edition.

CREATE TABLE channels (
    client_id   TEXT COLLATE "C"   NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,                  -- alipay|wechat|unionpay|government|web
    secret_hash BYTEA   NOT NULL,                  -- SHA-256 of the secret, never the secret
    created_ns  BIGINT NOT NULL,
    created_by  TEXT    NOT NULL,
    disabled_ns BIGINT
);

-- Other deployments' signed trust lists, one per publisher key.
CREATE TABLE trust_imports (
    fingerprint TEXT COLLATE "C"   NOT NULL PRIMARY KEY,      -- SHA-256 of the publisher key, hex
    publisher   TEXT    NOT NULL,
    source      TEXT    NOT NULL,                  -- https://... or file:<path>
    body        TEXT    NOT NULL,                  -- the signed list as received
    sequence    BIGINT NOT NULL,
    imported_ns BIGINT NOT NULL,
    checked_ns  BIGINT NOT NULL,
    last_error  TEXT
);
