//! The embedded SQLite backend of the store (the default: one file, no
//! server).
//!
//! ```no_run
//! # async fn demo() -> healthcode_store::Result<()> {
//! use healthcode_store_sqlite::SqliteStore;
//! let store = SqliteStore::open_dir("/var/lib/healthcode").await?; // …/healthcode.db
//! let same = SqliteStore::connect("sqlite:///var/lib/healthcode/healthcode.db").await?;
//! let scratch = SqliteStore::connect("sqlite::memory:").await?;
//! # Ok(()) }
//! ```
//!
//! The file is created if missing and opened in WAL mode (readers never
//! block the writer), with foreign keys on, a 5 s busy timeout and
//! `synchronous = NORMAL` (durable across crashes of the process; a power
//! cut may lose the last commits, never corrupt the file) and
//! `secure_delete = ON` (deleted rows are overwritten), a page cache of up
//! to 64 MiB per connection and WAL checkpoints every 64 MiB. Migrations in
//! `migrations/` are embedded and run on connect.
#![forbid(unsafe_code)]

mod federation;
mod itinerary;
mod oversight;
mod revocations;
mod venues;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

mod lifecycle;

use healthcode_core::{AuditEntry, AuditRecord, Event};
use healthcode_store::columns::{
    self, from_i64, instant, offset_seconds, roles_text, to_i64, to_json, ColumnReader,
};
use healthcode_store::{
    OfficialAccount, OtpChallenge, OutboxMessage, PersonId, PersonRecord, PhoneHash, Result,
    Session, SessionSubject, Store, StoreError,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::Row;
use time::OffsetDateTime;

/// The file [`SqliteStore::open_dir`] keeps the database in.
pub const DATABASE_FILE: &str = "healthcode.db";

/// Connections in the pool of a file database: WAL lets readers run beside
/// the one writer; more than a few buys nothing on a small machine.
const POOL_SIZE: u32 = 4;

/// How long a writer waits for another to finish before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// A [`Store`] in an SQLite database. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection for batch writes (check-in and carrier-stay batches).
    /// Batches take turns for it rather than in SQLite's busy handler, whose
    /// back-off sleeps of up to 100 ms made the tail of concurrent batches;
    /// and its page cache stays warm, where a pool connection's is dropped
    /// whenever another connection has written since its last use.
    writer: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite:` URL
    /// (`sqlite:///abs/path.db`, `sqlite://rel/path.db`, `sqlite::memory:`)
    /// or a plain file path, and brings its schema up to date.
    ///
    /// An in-memory database lives as long as the store and uses a single
    /// connection (for tests and throwaway demos).
    pub async fn connect(url_or_path: &str) -> Result<SqliteStore> {
        let in_memory = url_or_path == ":memory:"
            || url_or_path.starts_with("sqlite::memory:")
            || url_or_path.starts_with("sqlite://:memory:")
            || (url_or_path.starts_with("sqlite:") && url_or_path.contains("mode=memory"));
        let options = if url_or_path == ":memory:" {
            SqliteConnectOptions::from_str("sqlite::memory:")
        } else if url_or_path.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url_or_path)
        } else {
            Ok(SqliteConnectOptions::new().filename(url_or_path))
        }
        .map_err(|e| error(e, "database"))?;
        let options = options
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Normal)
            // Deleted rows are overwritten, not just unlinked (docs/lifecycle.md).
            .pragma("secure_delete", "on")
            // A page cache of up to 64 MiB per connection (the default is
            // 2 MiB): batch inserts into random-key indexes (client ids,
            // phone hashes) otherwise re-read most pages from the OS on
            // every transaction.
            .pragma("cache_size", "-65536")
            // Checkpoint the WAL into the database at 64 MiB rather than
            // 4 MiB: fewer, larger checkpoints while batches stream in.
            .pragma("wal_autocheckpoint", "16384")
            .journal_mode(if in_memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            });
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(POOL_SIZE)
        };
        let pool = pool
            .connect_with(options.clone())
            .await
            .map_err(|e| error(e, "database"))?;
        let mut store = SqliteStore::from_pool(pool).await?;
        if !in_memory {
            store.writer = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_lazy_with(options);
        }
        Ok(store)
    }

    /// Opens (creating if missing) `dir/healthcode.db`, creating `dir` too.
    pub async fn open_dir(dir: impl AsRef<Path>) -> Result<SqliteStore> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Backend(format!(
                "cannot create the data directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(DATABASE_FILE);
        let path = path.to_str().ok_or_else(|| {
            StoreError::Backend(format!(
                "the data directory path {} is not UTF-8",
                dir.display()
            ))
        })?;
        SqliteStore::connect(path).await
    }

    /// Uses a pool configured elsewhere (foreign keys must be on), bringing
    /// its schema up to date.
    pub async fn from_pool(pool: SqlitePool) -> Result<SqliteStore> {
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| error(sqlx::Error::from(e), "schema"))?;
        Ok(SqliteStore {
            writer: pool.clone(),
            pool,
        })
    }

    /// The connection pool, for maintenance (backups, `VACUUM`).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection (checkpointing the WAL); later calls fail.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// A multi-row INSERT: `head` ("INSERT … VALUES "), `rows` times the
/// placeholder tuple `row` ("(?,?)"), comma-separated, then `ending`.
fn multi_row_insert(head: &str, row: &str, rows: usize, ending: &str) -> String {
    let mut sql = String::with_capacity(head.len() + rows * (row.len() + 1) + ending.len());
    sql.push_str(head);
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(row);
    }
    sql.push_str(ending);
    sql
}

/// Maps a sqlx error: unique violations become Conflict(`conflict`),
/// foreign-key violations NotFound("person"), undecodable rows Corrupt, and
/// the rest Backend, without quoting bound values.
fn error(e: sqlx::Error, conflict: &'static str) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(conflict),
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::NotFound("person")
        }
        sqlx::Error::Database(db) => StoreError::Backend(format!(
            "sqlite: {} (code {})",
            db.message(),
            db.code().unwrap_or_default()
        )),
        e @ (sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. }) => StoreError::Corrupt {
            what: "row",
            why: e.to_string(),
        },
        sqlx::Error::RowNotFound => StoreError::NotFound("row"),
        e => StoreError::Backend(format!("sqlite: {e}")),
    }
}

/// What a unique violation on `persons` means, from SQLite's message
/// ("UNIQUE constraint failed: persons.region, persons.phone_hash").
fn person_conflict(e: sqlx::Error) -> StoreError {
    let what = match &e {
        sqlx::Error::Database(db) if db.message().contains("identity_number") => {
            "a person with this identity number in this region"
        }
        sqlx::Error::Database(db) if db.message().contains("phone_hash") => {
            "a person with this phone number in this region"
        }
        _ => "a person with this id",
    };
    error(e, what)
}

fn get<'r, T>(row: &'r SqliteRow, column: &'static str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column).map_err(|e| error(e, "row"))
}

/// A row as the shared decoders in `healthcode_store::columns` read it.
struct Cols<'r>(&'r SqliteRow);

impl ColumnReader for Cols<'_> {
    fn text(&self, column: &'static str) -> Result<String> {
        get(self.0, column)
    }
    fn opt_text(&self, column: &'static str) -> Result<Option<String>> {
        get(self.0, column)
    }
    fn bytes(&self, column: &'static str) -> Result<Vec<u8>> {
        get(self.0, column)
    }
    fn opt_bytes(&self, column: &'static str) -> Result<Option<Vec<u8>>> {
        get(self.0, column)
    }
    fn int(&self, column: &'static str) -> Result<i64> {
        get(self.0, column)
    }
    fn small_int(&self, column: &'static str) -> Result<i64> {
        // SQLite integers are all 64-bit.
        get(self.0, column)
    }
}

fn person_from_row(row: &SqliteRow) -> Result<PersonRecord> {
    columns::person_from(&Cols(row))
}

fn otp_from_row(row: &SqliteRow) -> Result<OtpChallenge> {
    columns::otp_from(&Cols(row))
}

fn session_from_row(row: &SqliteRow) -> Result<Session> {
    columns::session_from(&Cols(row))
}

fn outbox_from_row(row: &SqliteRow) -> Result<OutboxMessage> {
    columns::outbox_from(&Cols(row))
}

fn audit_from_row(row: &SqliteRow) -> Result<AuditEntry> {
    columns::audit_from(&Cols(row))
}

const PERSON_COLUMNS: &str = "id, region, identity, full_name, phone_hash, channel, created_ns";

const AUDIT_COLUMNS: &str = "seq, prev, at_ns, at_offset, actor, action, subject, details, hash";

impl SqliteStore {
    async fn try_append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        let at_ns = instant(record.at)?;
        // BEGIN IMMEDIATE takes the write lock before reading the head, so
        // no other append can seal onto the same head.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| error(e, "audit entry"))?;
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1");
        let head = sqlx::query(&sql)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| error(e, "audit entry"))?;
        let head = head.as_ref().map(audit_from_row).transpose()?;
        let entry = AuditEntry::seal(head.as_ref(), record);
        sqlx::query(
            "INSERT INTO audit_log (seq, prev, at_ns, at_offset, actor, action, subject, details, hash) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(to_i64("audit sequence number", entry.seq)?)
        .bind(&entry.prev.0[..])
        .bind(at_ns)
        .bind(offset_seconds(entry.record.at))
        .bind(&entry.record.actor)
        .bind(&entry.record.action)
        .bind(&entry.record.subject)
        .bind(&entry.record.details)
        .bind(&entry.hash.0[..])
        .execute(&mut *tx)
        .await
        .map_err(|e| error(e, "audit entry with this sequence number"))?;
        tx.commit().await.map_err(|e| error(e, "audit entry"))?;
        Ok(entry)
    }
}

impl Store for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| error(e, "ping"))?;
        Ok(())
    }

    async fn create_person(&self, person: &PersonRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO persons (id, region, identity_number, identity, full_name, phone_hash, channel, created_ns) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(person.id.as_str())
        .bind(&person.region)
        .bind(person.identity.number())
        .bind(to_json("identity", &person.identity)?)
        .bind(&person.full_name)
        .bind(&person.phone.0[..])
        .bind(&person.channel)
        .bind(instant(person.created_at)?)
        .execute(&self.pool)
        .await
        .map_err(person_conflict)?;
        Ok(())
    }

    async fn person(&self, id: &PersonId) -> Result<Option<PersonRecord>> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM persons WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| error(e, "person"))?;
        row.as_ref().map(person_from_row).transpose()
    }

    async fn person_by_identity(
        &self,
        region: &str,
        identity_number: &str,
    ) -> Result<Option<PersonRecord>> {
        let sql = format!(
            "SELECT {PERSON_COLUMNS} FROM persons WHERE region = ? AND identity_number = ?"
        );
        let row = sqlx::query(&sql)
            .bind(region)
            .bind(identity_number)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| error(e, "person"))?;
        row.as_ref().map(person_from_row).transpose()
    }

    async fn person_by_phone(
        &self,
        region: &str,
        phone: &PhoneHash,
    ) -> Result<Option<PersonRecord>> {
        let sql =
            format!("SELECT {PERSON_COLUMNS} FROM persons WHERE region = ? AND phone_hash = ?");
        let row = sqlx::query(&sql)
            .bind(region)
            .bind(&phone.0[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| error(e, "person"))?;
        row.as_ref().map(person_from_row).transpose()
    }

    async fn append_event(&self, person: &PersonId, event: &Event) -> Result<()> {
        sqlx::query("INSERT INTO events (person_id, event_id, at_ns, body) VALUES (?, ?, ?, ?)")
            .bind(person.as_str())
            .bind(event.id().as_str())
            .bind(instant(event.at())?)
            .bind(to_json("event", event)?)
            .execute(&self.pool)
            .await
            .map_err(|e| error(e, "an event with this id for this person"))?;
        Ok(())
    }

    async fn events(&self, person: &PersonId) -> Result<Vec<Event>> {
        let rows =
            sqlx::query("SELECT body FROM events WHERE person_id = ? ORDER BY at_ns, event_id")
                .bind(person.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(|e| error(e, "event"))?;
        rows.iter()
            .map(|row| columns::from_json("event", &get::<String>(row, "body")?))
            .collect()
    }

    async fn put_otp(&self, challenge: &OtpChallenge) -> Result<()> {
        sqlx::query(
            "INSERT INTO otp_challenges (phone_hash, code_hash, created_ns, expires_ns, failed_attempts) \
             VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (phone_hash) DO UPDATE SET code_hash = excluded.code_hash, \
             created_ns = excluded.created_ns, expires_ns = excluded.expires_ns, \
             failed_attempts = excluded.failed_attempts",
        )
        .bind(&challenge.phone.0[..])
        .bind(&challenge.code_hash[..])
        .bind(instant(challenge.created_at)?)
        .bind(instant(challenge.expires_at)?)
        .bind(i64::from(challenge.failed_attempts))
        .execute(&self.pool)
        .await
        .map_err(|e| error(e, "OTP challenge"))?;
        Ok(())
    }

    async fn otp(&self, phone: &PhoneHash) -> Result<Option<OtpChallenge>> {
        let row = sqlx::query(
            "SELECT phone_hash, code_hash, created_ns, expires_ns, failed_attempts \
             FROM otp_challenges WHERE phone_hash = ?",
        )
        .bind(&phone.0[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| error(e, "OTP challenge"))?;
        row.as_ref().map(otp_from_row).transpose()
    }

    async fn fail_otp(&self, phone: &PhoneHash) -> Result<u32> {
        let row = sqlx::query(
            "UPDATE otp_challenges SET failed_attempts = MIN(failed_attempts + 1, 4294967295) \
             WHERE phone_hash = ? RETURNING failed_attempts",
        )
        .bind(&phone.0[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| error(e, "OTP challenge"))?;
        match row {
            Some(row) => from_i64("OTP challenge", get(&row, "failed_attempts")?),
            None => Err(StoreError::NotFound("OTP challenge")),
        }
    }

    async fn delete_otp(&self, phone: &PhoneHash) -> Result<()> {
        sqlx::query("DELETE FROM otp_challenges WHERE phone_hash = ?")
            .bind(&phone.0[..])
            .execute(&self.pool)
            .await
            .map_err(|e| error(e, "OTP challenge"))?;
        Ok(())
    }

    async fn create_session(&self, session: &Session) -> Result<()> {
        let (phone, official) = match &session.subject {
            SessionSubject::Phone(phone) => (Some(&phone.0[..]), None),
            SessionSubject::Official(username) => (None, Some(username.as_str())),
        };
        sqlx::query(
            "INSERT INTO sessions (token_hash, subject_phone, subject_official, created_ns, expires_ns) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&session.token_hash[..])
        .bind(phone)
        .bind(official)
        .bind(instant(session.created_at)?)
        .bind(instant(session.expires_at)?)
        .execute(&self.pool)
        .await
        .map_err(|e| error(e, "session"))?;
        Ok(())
    }

    async fn session(&self, token_hash: &[u8; 32], now: OffsetDateTime) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT token_hash, subject_phone, subject_official, created_ns, expires_ns \
             FROM sessions WHERE token_hash = ? AND expires_ns > ?",
        )
        .bind(&token_hash[..])
        .bind(instant(now)?)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| error(e, "session"))?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn delete_session(&self, token_hash: &[u8; 32]) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(&token_hash[..])
            .execute(&self.pool)
            .await
            .map_err(|e| error(e, "session"))?;
        Ok(())
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64> {
        let now = instant(now)?;
        let mut tx = self.pool.begin().await.map_err(|e| error(e, "purge"))?;
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_ns <= ?")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| error(e, "purge"))?;
        let challenges = sqlx::query("DELETE FROM otp_challenges WHERE expires_ns <= ?")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| error(e, "purge"))?;
        tx.commit().await.map_err(|e| error(e, "purge"))?;
        Ok(sessions.rows_affected() + challenges.rows_affected())
    }

    async fn create_official(&self, account: &OfficialAccount) -> Result<()> {
        sqlx::query(
            "INSERT INTO officials (username, display_name, password_hash, roles, created_ns) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&account.username)
        .bind(&account.display_name)
        .bind(&account.password_hash)
        .bind(roles_text(&account.roles))
        .bind(instant(account.created_at)?)
        .execute(&self.pool)
        .await
        .map_err(|e| error(e, "official account"))?;
        Ok(())
    }

    async fn official(&self, username: &str) -> Result<Option<OfficialAccount>> {
        const WHAT: &str = "official account";
        let row = sqlx::query(
            "SELECT username, display_name, password_hash, roles, created_ns \
             FROM officials WHERE username = ?",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| error(e, WHAT))?;
        let Some(row) = row else { return Ok(None) };
        columns::official_from(&Cols(&row)).map(Some)
    }

    async fn push_outbox(
        &self,
        to_masked: &str,
        body: &str,
        at: OffsetDateTime,
    ) -> Result<OutboxMessage> {
        let row = sqlx::query(
            "INSERT INTO outbox (to_masked, body, created_ns) VALUES (?, ?, ?) \
             RETURNING id, to_masked, body, created_ns",
        )
        .bind(to_masked)
        .bind(body)
        .bind(instant(at)?)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| error(e, "outbox message"))?;
        outbox_from_row(&row)
    }

    async fn outbox(&self, limit: u32) -> Result<Vec<OutboxMessage>> {
        let rows = sqlx::query(
            "SELECT id, to_masked, body, created_ns FROM outbox ORDER BY id DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| error(e, "outbox message"))?;
        rows.iter().map(outbox_from_row).collect()
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        self.try_append_audit(record).await
    }

    async fn audit_entries(&self, after: u64, limit: u32) -> Result<Vec<AuditEntry>> {
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        let sql =
            format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?");
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error(e, "audit entry"))?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn audit_about(&self, subject: &str) -> Result<Vec<AuditEntry>> {
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE subject = ? ORDER BY seq");
        let rows = sqlx::query(&sql)
            .bind(subject)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error(e, "audit entry"))?;
        rows.iter().map(audit_from_row).collect()
    }
}
