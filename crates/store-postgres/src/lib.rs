//! The PostgreSQL backend of the store, for a region that has outgrown one
//! SQLite file.
//!
//! ```no_run
//! # async fn demo() -> healthcode_store::Result<()> {
//! use healthcode_store_postgres::PgStore;
//! let store = PgStore::connect("postgres://healthcode@127.0.0.1:5432/healthcode").await?;
//! # Ok(()) }
//! ```
//!
//! Migrations in `migrations/` are embedded and run on connect. The schema
//! and the queries keep the door open to PostgreSQL-compatible distributed
//! engines (CockroachDB): no sequences (the store assigns ids, in the same
//! statement or transaction that uses them), migration locking switched off
//! when the server says it is CockroachDB, and every operation retried on
//! SQLSTATE 40001 (serialization failure) and 40P01 (deadlock).
//!
//! Audit appends lock the single `audit_head` row `FOR UPDATE` and update
//! it, so concurrent appends queue up (READ COMMITTED) or conflict and are
//! retried (SERIALIZABLE) instead of forking the chain.
#![forbid(unsafe_code)]

mod federation;
mod itinerary;
mod lifecycle;
mod oversight;
mod revocations;
mod venues;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use healthcode_core::{AuditEntry, AuditRecord, Event};
use healthcode_store::columns::{
    self, from_i64, instant, offset_seconds, roles_text, to_i64, to_json, ColumnReader,
};
use healthcode_store::{
    OfficialAccount, OtpChallenge, OutboxMessage, PersonId, PersonRecord, PhoneHash, Result,
    Session, SessionSubject, Store, StoreError,
};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::Row;
use time::OffsetDateTime;

/// How the pool is set up; `PgStoreOptions::default()` suits a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgStoreOptions {
    /// Connections in the pool (default 16).
    pub max_connections: u32,
    /// How long an operation (and connecting) waits for a connection
    /// before failing (default 10 s).
    pub acquire_timeout: Duration,
}

impl Default for PgStoreOptions {
    fn default() -> PgStoreOptions {
        PgStoreOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// Attempts of one operation when the database asks for a retry.
const MAX_ATTEMPTS: u32 = 50;

/// A [`Store`] in a PostgreSQL (or compatible) database. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `postgres://user[:password]@host[:port]/database[?options]`
    /// (`postgresql://` too) with [`PgStoreOptions::default`] and brings the
    /// schema up to date.
    pub async fn connect(url: &str) -> Result<PgStore> {
        PgStore::connect_with(url, PgStoreOptions::default()).await
    }

    /// As [`PgStore::connect`], with the pool set up as `options` say.
    pub async fn connect_with(url: &str, options: PgStoreOptions) -> Result<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect(url)
            .await
            .map_err(|e| error(e, "database"))?;
        PgStore::from_pool(pool).await
    }

    /// Uses a pool configured elsewhere, bringing its schema up to date.
    pub async fn from_pool(pool: PgPool) -> Result<PgStore> {
        let version: String = sqlx::query_scalar("SELECT version()")
            .fetch_one(&pool)
            .await
            .map_err(|e| error(e, "database"))?;
        let mut migrator = sqlx::migrate!();
        // CockroachDB has no advisory locks, which sqlx's migration lock uses.
        if version.contains("CockroachDB") {
            migrator.set_locking(false);
        }
        migrator
            .run(&pool)
            .await
            .map_err(|e| error(sqlx::Error::from(e), "schema"))?;
        Ok(PgStore { pool })
    }

    /// The connection pool, for maintenance.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

// ----------------------------------------------------------------------------
// Errors and retries

/// An operation's failure before it is mapped: database errors keep their
/// SQLSTATE so that serialization failures can be retried.
enum Failure {
    Sql(sqlx::Error, &'static str),
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::Store(e)
    }
}

/// `map_err` for sqlx calls: a unique violation here means `conflict`.
fn sql(conflict: &'static str) -> impl FnOnce(sqlx::Error) -> Failure {
    move |e| Failure::Sql(e, conflict)
}

fn sqlstate(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|db| db.code())
        .map(|code| code.into_owned())
}

/// A unique violation: the fast plain-insert forms fall back to ON CONFLICT
/// on it.
fn unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// Serialization failure or deadlock: the transaction may simply be run again.
fn retryable(e: &sqlx::Error) -> bool {
    matches!(sqlstate(e).as_deref(), Some("40001" | "40P01"))
}

/// Maps a sqlx error: unique violations become Conflict(`conflict`),
/// foreign-key violations NotFound("person"), undecodable rows Corrupt, and
/// the rest Backend, without quoting bound values (PostgreSQL puts those in
/// the error's detail, which is left out).
fn error(e: sqlx::Error, conflict: &'static str) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(conflict),
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::NotFound("person")
        }
        sqlx::Error::Database(db) => StoreError::Backend(format!(
            "postgres: {} (SQLSTATE {})",
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
        e => StoreError::Backend(format!("postgres: {e}")),
    }
}

impl Failure {
    fn into_store(self) -> StoreError {
        match self {
            Failure::Sql(e, conflict) => error(e, conflict),
            Failure::Store(e) => e,
        }
    }
}

/// A cheap, deterministic spread for back-off delays, so that transactions
/// that failed together do not all retry at the same instant.
fn jitter() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let mut z = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Runs `attempt` until it succeeds, fails for good, or has been asked to
/// retry [`MAX_ATTEMPTS`] times.
async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, Failure>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(Failure::Sql(e, _)) if retryable(&e) && tries < MAX_ATTEMPTS => {
                // 1, 2, 4 … 32 ms, times 0.5 to 1.5.
                let base = 1000u64 << tries.min(6).saturating_sub(1);
                let micros = base / 2 + jitter() % base.max(1);
                tokio::time::sleep(Duration::from_micros(micros)).await;
            }
            Err(failure) => return Err(failure.into_store()),
        }
    }
}

/// What a unique violation on `persons` means, from the constraint's name.
fn person_conflict(e: sqlx::Error) -> Failure {
    let what = match e.as_database_error() {
        Some(db)
            if db
                .constraint()
                .is_some_and(|c| c.contains("identity_number")) =>
        {
            "a person with this identity number in this region"
        }
        Some(db) if db.constraint().is_some_and(|c| c.contains("phone_hash")) => {
            "a person with this phone number in this region"
        }
        _ => "a person with this id",
    };
    Failure::Sql(e, what)
}

// ----------------------------------------------------------------------------
// Rows

fn get<'r, T>(row: &'r PgRow, column: &'static str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column).map_err(|e| error(e, "row"))
}

/// A row as the shared decoders in `healthcode_store::columns` read it.
struct Cols<'r>(&'r PgRow);

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
        get::<i32>(self.0, column).map(i64::from)
    }
}

fn person_from_row(row: &PgRow) -> Result<PersonRecord> {
    columns::person_from(&Cols(row))
}

fn otp_from_row(row: &PgRow) -> Result<OtpChallenge> {
    columns::otp_from(&Cols(row))
}

fn session_from_row(row: &PgRow) -> Result<Session> {
    columns::session_from(&Cols(row))
}

fn outbox_from_row(row: &PgRow) -> Result<OutboxMessage> {
    columns::outbox_from(&Cols(row))
}

fn audit_from_row(row: &PgRow) -> Result<AuditEntry> {
    columns::audit_from(&Cols(row))
}

/// `SELECT` of a person's columns, then the rest of the query.
macro_rules! select_person {
    ($rest:literal) => {
        concat!(
            "SELECT id, region, identity, full_name, phone_hash, channel, created_ns FROM persons ",
            $rest
        )
    };
}

/// `SELECT` of an audit entry's columns, then the rest of the query.
macro_rules! select_audit {
    ($rest:literal) => {
        concat!(
            "SELECT seq, prev, at_ns, at_offset, actor, action, subject, details, hash FROM audit_log ",
            $rest
        )
    };
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

// ----------------------------------------------------------------------------
// Operations, one attempt each

impl PgStore {
    async fn one_person(
        &self,
        query: PgQuery<'_>,
    ) -> std::result::Result<Option<PersonRecord>, Failure> {
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(sql("person"))?;
        Ok(row.as_ref().map(person_from_row).transpose()?)
    }

    async fn try_append_audit(
        &self,
        record: AuditRecord,
    ) -> std::result::Result<AuditEntry, Failure> {
        const WHAT: &str = "audit entry";
        let at_ns = instant(record.at)?;
        let mut tx = self.pool.begin().await.map_err(sql(WHAT))?;
        let head =
            sqlx::query("SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE")
                .fetch_optional(&mut *tx)
                .await
                .map_err(sql(WHAT))?
                .ok_or(StoreError::Corrupt {
                    what: "audit head",
                    why: "the audit_head row is missing".to_owned(),
                })?;
        let last_seq: Option<i64> = get(&head, "last_seq")?;
        let last_hash: Option<Vec<u8>> = get(&head, "last_hash")?;
        let previous = match last_seq {
            None => None,
            Some(seq) => {
                let row = sqlx::query(select_audit!("WHERE seq = $1"))
                    .bind(seq)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(sql(WHAT))?;
                let entry = row.as_ref().map(audit_from_row).transpose()?;
                match entry {
                    Some(entry) if last_hash.as_deref() == Some(&entry.hash.0[..]) => Some(entry),
                    _ => {
                        return Err(StoreError::Corrupt {
                            what: "audit head",
                            why: format!(
                                "the head names entry #{seq}, which is missing or has another hash"
                            ),
                        }
                        .into())
                    }
                }
            }
        };
        let entry = AuditEntry::seal(previous.as_ref(), record);
        let seq = to_i64("audit sequence number", entry.seq)?;
        sqlx::query(
            "WITH appended AS ( \
                 INSERT INTO audit_log (seq, prev, at_ns, at_offset, actor, action, subject, details, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ) \
             UPDATE audit_head SET last_seq = $1, last_hash = $9 WHERE id = 1",
        )
        .bind(seq)
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
        .map_err(sql("audit entry with this sequence number"))?;
        tx.commit().await.map_err(sql(WHAT))?;
        Ok(entry)
    }
}

impl Store for PgStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        retrying(|| async {
            sqlx::query("SELECT 1")
                .execute(&self.pool)
                .await
                .map_err(sql("ping"))?;
            Ok(())
        })
        .await
    }

    async fn create_person(&self, person: &PersonRecord) -> Result<()> {
        let identity = to_json("identity", &person.identity)?;
        let created_ns = instant(person.created_at)?;
        retrying(|| async {
            sqlx::query(
                "INSERT INTO persons (id, region, identity_number, identity, full_name, phone_hash, channel, created_ns) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(person.id.as_str())
            .bind(&person.region)
            .bind(person.identity.number())
            .bind(&identity)
            .bind(&person.full_name)
            .bind(&person.phone.0[..])
            .bind(&person.channel)
            .bind(created_ns)
            .execute(&self.pool)
            .await
            .map_err(person_conflict)?;
            Ok(())
        })
        .await
    }

    async fn person(&self, id: &PersonId) -> Result<Option<PersonRecord>> {
        retrying(|| self.one_person(sqlx::query(select_person!("WHERE id = $1")).bind(id.as_str())))
            .await
    }

    async fn person_by_identity(
        &self,
        region: &str,
        identity_number: &str,
    ) -> Result<Option<PersonRecord>> {
        retrying(|| {
            self.one_person(
                sqlx::query(select_person!("WHERE region = $1 AND identity_number = $2"))
                    .bind(region)
                    .bind(identity_number),
            )
        })
        .await
    }

    async fn person_by_phone(
        &self,
        region: &str,
        phone: &PhoneHash,
    ) -> Result<Option<PersonRecord>> {
        retrying(|| {
            self.one_person(
                sqlx::query(select_person!("WHERE region = $1 AND phone_hash = $2"))
                    .bind(region)
                    .bind(&phone.0[..]),
            )
        })
        .await
    }

    async fn append_event(&self, person: &PersonId, event: &Event) -> Result<()> {
        let body = to_json("event", event)?;
        let at_ns = instant(event.at())?;
        retrying(|| async {
            sqlx::query(
                "INSERT INTO events (person_id, event_id, at_ns, body) VALUES ($1, $2, $3, $4)",
            )
            .bind(person.as_str())
            .bind(event.id().as_str())
            .bind(at_ns)
            .bind(&body)
            .execute(&self.pool)
            .await
            .map_err(sql("an event with this id for this person"))?;
            Ok(())
        })
        .await
    }

    async fn events(&self, person: &PersonId) -> Result<Vec<Event>> {
        retrying(|| async {
            let rows = sqlx::query(
                "SELECT body FROM events WHERE person_id = $1 ORDER BY at_ns, event_id",
            )
            .bind(person.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(sql("event"))?;
            Ok(rows
                .iter()
                .map(|row| columns::from_json("event", &get::<String>(row, "body")?))
                .collect::<Result<Vec<Event>>>()?)
        })
        .await
    }

    async fn put_otp(&self, challenge: &OtpChallenge) -> Result<()> {
        let created_ns = instant(challenge.created_at)?;
        let expires_ns = instant(challenge.expires_at)?;
        retrying(|| async {
            sqlx::query(
                "INSERT INTO otp_challenges (phone_hash, code_hash, created_ns, expires_ns, failed_attempts) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (phone_hash) DO UPDATE SET code_hash = EXCLUDED.code_hash, \
                 created_ns = EXCLUDED.created_ns, expires_ns = EXCLUDED.expires_ns, \
                 failed_attempts = EXCLUDED.failed_attempts",
            )
            .bind(&challenge.phone.0[..])
            .bind(&challenge.code_hash[..])
            .bind(created_ns)
            .bind(expires_ns)
            .bind(i64::from(challenge.failed_attempts))
            .execute(&self.pool)
            .await
            .map_err(sql("OTP challenge"))?;
            Ok(())
        })
        .await
    }

    async fn otp(&self, phone: &PhoneHash) -> Result<Option<OtpChallenge>> {
        retrying(|| async {
            let row = sqlx::query(
                "SELECT phone_hash, code_hash, created_ns, expires_ns, failed_attempts \
                 FROM otp_challenges WHERE phone_hash = $1",
            )
            .bind(&phone.0[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(sql("OTP challenge"))?;
            Ok(row.as_ref().map(otp_from_row).transpose()?)
        })
        .await
    }

    async fn fail_otp(&self, phone: &PhoneHash) -> Result<u32> {
        retrying(|| async {
            let row = sqlx::query(
                "UPDATE otp_challenges SET failed_attempts = LEAST(failed_attempts + 1, 4294967295) \
                 WHERE phone_hash = $1 RETURNING failed_attempts",
            )
            .bind(&phone.0[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(sql("OTP challenge"))?;
            match row {
                Some(row) => Ok(from_i64("OTP challenge", get(&row, "failed_attempts")?)?),
                None => Err(StoreError::NotFound("OTP challenge").into()),
            }
        })
        .await
    }

    async fn delete_otp(&self, phone: &PhoneHash) -> Result<()> {
        retrying(|| async {
            sqlx::query("DELETE FROM otp_challenges WHERE phone_hash = $1")
                .bind(&phone.0[..])
                .execute(&self.pool)
                .await
                .map_err(sql("OTP challenge"))?;
            Ok(())
        })
        .await
    }

    async fn create_session(&self, session: &Session) -> Result<()> {
        let (phone, official) = match &session.subject {
            SessionSubject::Phone(phone) => (Some(&phone.0[..]), None),
            SessionSubject::Official(username) => (None, Some(username.as_str())),
        };
        let created_ns = instant(session.created_at)?;
        let expires_ns = instant(session.expires_at)?;
        retrying(|| async {
            sqlx::query(
                "INSERT INTO sessions (token_hash, subject_phone, subject_official, created_ns, expires_ns) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&session.token_hash[..])
            .bind(phone)
            .bind(official)
            .bind(created_ns)
            .bind(expires_ns)
            .execute(&self.pool)
            .await
            .map_err(sql("session"))?;
            Ok(())
        })
        .await
    }

    async fn session(&self, token_hash: &[u8; 32], now: OffsetDateTime) -> Result<Option<Session>> {
        let now = instant(now)?;
        retrying(|| async {
            let row = sqlx::query(
                "SELECT token_hash, subject_phone, subject_official, created_ns, expires_ns \
                 FROM sessions WHERE token_hash = $1 AND expires_ns > $2",
            )
            .bind(&token_hash[..])
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(sql("session"))?;
            Ok(row.as_ref().map(session_from_row).transpose()?)
        })
        .await
    }

    async fn delete_session(&self, token_hash: &[u8; 32]) -> Result<()> {
        retrying(|| async {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(&token_hash[..])
                .execute(&self.pool)
                .await
                .map_err(sql("session"))?;
            Ok(())
        })
        .await
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64> {
        let now = instant(now)?;
        retrying(|| async {
            let mut tx = self.pool.begin().await.map_err(sql("purge"))?;
            let sessions = sqlx::query("DELETE FROM sessions WHERE expires_ns <= $1")
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(sql("purge"))?;
            let challenges = sqlx::query("DELETE FROM otp_challenges WHERE expires_ns <= $1")
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(sql("purge"))?;
            tx.commit().await.map_err(sql("purge"))?;
            Ok(sessions.rows_affected() + challenges.rows_affected())
        })
        .await
    }

    async fn create_official(&self, account: &OfficialAccount) -> Result<()> {
        let created_ns = instant(account.created_at)?;
        let roles = roles_text(&account.roles);
        retrying(|| async {
            sqlx::query(
                "INSERT INTO officials (username, display_name, password_hash, roles, created_ns) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&account.username)
            .bind(&account.display_name)
            .bind(&account.password_hash)
            .bind(&roles)
            .bind(created_ns)
            .execute(&self.pool)
            .await
            .map_err(sql("official account"))?;
            Ok(())
        })
        .await
    }

    async fn official(&self, username: &str) -> Result<Option<OfficialAccount>> {
        const WHAT: &str = "official account";
        retrying(|| async {
            let row = sqlx::query(
                "SELECT username, display_name, password_hash, roles, created_ns \
                 FROM officials WHERE username = $1",
            )
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(sql(WHAT))?;
            let Some(row) = row else { return Ok(None) };
            Ok(Some(columns::official_from(&Cols(&row))?))
        })
        .await
    }

    async fn push_outbox(
        &self,
        to_masked: &str,
        body: &str,
        at: OffsetDateTime,
    ) -> Result<OutboxMessage> {
        let created_ns = instant(at)?;
        retrying(|| async {
            // The counter row's lock orders concurrent pushes: ids increase
            // in commit order, with no sequence.
            let row = sqlx::query(
                "WITH next AS ( \
                     UPDATE counters SET value = value + 1 WHERE name = 'outbox' RETURNING value \
                 ) \
                 INSERT INTO outbox (id, to_masked, body, created_ns) \
                 SELECT value, $1, $2, $3 FROM next \
                 RETURNING id, to_masked, body, created_ns",
            )
            .bind(to_masked)
            .bind(body)
            .bind(created_ns)
            .fetch_optional(&self.pool)
            .await
            .map_err(sql("outbox message"))?
            .ok_or(StoreError::Corrupt {
                what: "counters",
                why: "the outbox counter row is missing".to_owned(),
            })?;
            Ok(outbox_from_row(&row)?)
        })
        .await
    }

    async fn outbox(&self, limit: u32) -> Result<Vec<OutboxMessage>> {
        retrying(|| async {
            let rows = sqlx::query(
                "SELECT id, to_masked, body, created_ns FROM outbox ORDER BY id DESC LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(sql("outbox message"))?;
            Ok(rows
                .iter()
                .map(outbox_from_row)
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        retrying(|| self.try_append_audit(record.clone())).await
    }

    async fn audit_entries(&self, after: u64, limit: u32) -> Result<Vec<AuditEntry>> {
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        retrying(|| async {
            let rows = sqlx::query(select_audit!("WHERE seq >= $1 ORDER BY seq LIMIT $2"))
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(sql("audit entry"))?;
            Ok(rows
                .iter()
                .map(audit_from_row)
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn audit_about(&self, subject: &str) -> Result<Vec<AuditEntry>> {
        retrying(|| async {
            let rows = sqlx::query(select_audit!("WHERE subject = $1 ORDER BY seq"))
                .bind(subject)
                .fetch_all(&self.pool)
                .await
                .map_err(sql("audit entry"))?;
            Ok(rows
                .iter()
                .map(audit_from_row)
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }
}
