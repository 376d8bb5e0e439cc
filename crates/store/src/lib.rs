//! Persistence behind one trait, in domain types only.
//!
//! SQL lives in the backend crates (`healthcode-store-sqlite`,
//! `healthcode-store-postgres`); the server is generic over [`Store`].
//! Every backend must pass the same conformance suite
//! (`healthcode_store::conformance`, behind the `conformance` feature; see
//! the backends' tests).
//!
//! Time: stores never read the clock; every instant comes in as an argument.
//! Instants come back as the same instant in UTC (nanosecond precision),
//! except where the offset is part of the data: an [`Event`] and an
//! [`AuditRecord`] come back with the offset they were given, because the
//! audit hash covers it. Storable instants lie between 1677 and 2262 (Unix
//! nanoseconds in 64 bits); others are refused with [`StoreError::Backend`].
#![forbid(unsafe_code)]

pub mod columns;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod federation;
pub mod itinerary;
#[cfg(feature = "conformance")]
pub mod itinerary_conformance;
pub mod lifecycle;
pub mod oversight;
#[cfg(feature = "conformance")]
pub mod oversight_conformance;
pub mod revocations;
pub mod venues;

use std::fmt;
use std::future::Future;

use healthcode_core::audit::ChainSummary;
use healthcode_core::{
    AuditEntry, AuditRecord, ChainBreak, ChainVerifier, Digest, Event, Identity,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::OffsetDateTime;

pub use federation::{Channel, ChannelStore, ImportedTrustList, TrustImportStore};
pub use revocations::{Revocation, RevocationStore};
pub use venues::VenueStore;

/// What can go wrong in storage. Backends map their errors onto these.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique constraint: the thing already exists.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A referenced row does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Stored data could not be read back into domain types.
    #[error("stored {what} is corrupt: {why}")]
    Corrupt { what: &'static str, why: String },
    /// The database failed (connection, I/O, a bug in SQL).
    #[error("database error: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A random, pseudonymous person id (32 hex digits). It appears in URLs and
/// in the audit log instead of names or identity numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonId(String);

impl PersonId {
    pub fn from_bytes(bytes: [u8; 16]) -> PersonId {
        PersonId(hex::encode(bytes))
    }

    pub fn parse(s: &str) -> Option<PersonId> {
        (s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| PersonId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PersonId {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        PersonId::parse(&s).ok_or_else(|| format!("{s:?} is not a person id"))
    }
}

impl From<PersonId> for String {
    fn from(id: PersonId) -> String {
        id.0
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number, keyed-hashed (HMAC-SHA256 with the deployment's secret):
/// the store never holds the number itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PhoneHash(pub [u8; 32]);

impl PhoneHash {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// A citizen or traveller known to this deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonRecord {
    pub id: PersonId,
    /// The region (deployment) the person applied in, e.g. `cn-22`.
    pub region: String,
    pub identity: Identity,
    pub full_name: String,
    pub phone: PhoneHash,
    /// The channel the application came through (`web`, an app id...).
    pub channel: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A one-time SMS code awaiting confirmation. Only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpChallenge {
    pub phone: PhoneHash,
    pub code_hash: [u8; 32],
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Wrong guesses so far.
    pub failed_attempts: u32,
}

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionSubject {
    /// A phone number that passed an SMS check, before or after applying.
    Phone(PhoneHash),
    Official(String),
}

/// A signed-in browser or API client. Only the token's hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: [u8; 32],
    pub subject: SessionSubject,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// What an official may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Records temperatures, test results, diagnoses, quarantine.
    HealthOfficial,
    /// Approves overrides requested by another official.
    Reviewer,
    /// Manages accounts.
    Administrator,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::HealthOfficial => "health_official",
            Role::Reviewer => "reviewer",
            Role::Administrator => "administrator",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "health_official" => Some(Role::HealthOfficial),
            "reviewer" => Some(Role::Reviewer),
            "administrator" => Some(Role::Administrator),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficialAccount {
    pub username: String,
    pub display_name: String,
    /// An argon2id PHC string.
    pub password_hash: String,
    pub roles: Vec<Role>,
    pub created_at: OffsetDateTime,
}

/// A message the development SMS sender "sent": kept so the demo can show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Assigned by the store, increasing.
    pub id: i64,
    /// The number as shown (masked, e.g. `138****5678`).
    pub to_masked: String,
    pub body: String,
    pub created_at: OffsetDateTime,
}

/// Persistence of the platform. Futures are `Send` so handlers can await
/// them on a multi-threaded runtime.
pub trait Store:
    Clone
    + Send
    + Sync
    + 'static
    + itinerary::ItineraryStore
    + ChannelStore
    + TrustImportStore
    + VenueStore
    + oversight::OversightStore
    + lifecycle::LifecycleStore
    + RevocationStore
{
    /// Which engine, for logs and `/healthz`: `sqlite` or `postgres`.
    fn engine(&self) -> &'static str;

    /// Cheap liveness check.
    fn ping(&self) -> impl Future<Output = Result<()>> + Send;

    // People. One identity number per region, one person per phone per region.
    fn create_person(&self, person: &PersonRecord) -> impl Future<Output = Result<()>> + Send;
    fn person(&self, id: &PersonId) -> impl Future<Output = Result<Option<PersonRecord>>> + Send;
    fn person_by_identity(
        &self,
        region: &str,
        identity_number: &str,
    ) -> impl Future<Output = Result<Option<PersonRecord>>> + Send;
    fn person_by_phone(
        &self,
        region: &str,
        phone: &PhoneHash,
    ) -> impl Future<Output = Result<Option<PersonRecord>>> + Send;

    // Facts and events. Event ids are unique per person (Conflict otherwise);
    // `events` returns them in time order, then by id.
    fn append_event(
        &self,
        person: &PersonId,
        event: &Event,
    ) -> impl Future<Output = Result<()>> + Send;
    fn events(&self, person: &PersonId) -> impl Future<Output = Result<Vec<Event>>> + Send;

    // One-time SMS codes: one live challenge per phone (a new one replaces it).
    fn put_otp(&self, challenge: &OtpChallenge) -> impl Future<Output = Result<()>> + Send;
    fn otp(&self, phone: &PhoneHash) -> impl Future<Output = Result<Option<OtpChallenge>>> + Send;
    /// Counts one wrong guess; returns the new count (NotFound without a challenge).
    fn fail_otp(&self, phone: &PhoneHash) -> impl Future<Output = Result<u32>> + Send;
    fn delete_otp(&self, phone: &PhoneHash) -> impl Future<Output = Result<()>> + Send;

    // Sessions.
    fn create_session(&self, session: &Session) -> impl Future<Output = Result<()>> + Send;
    /// The session with this token hash, if it exists and has not expired at `now`.
    /// A session is live while `now < expires_at`.
    fn session(
        &self,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<Session>>> + Send;
    fn delete_session(&self, token_hash: &[u8; 32]) -> impl Future<Output = Result<()>> + Send;
    /// Deletes sessions and OTP challenges expired at `now` (`expires_at <= now`);
    /// returns how many.
    fn purge_expired(&self, now: OffsetDateTime) -> impl Future<Output = Result<u64>> + Send;

    // Officials.
    fn create_official(&self, account: &OfficialAccount)
        -> impl Future<Output = Result<()>> + Send;
    fn official(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<Option<OfficialAccount>>> + Send;

    // The development SMS outbox.
    fn push_outbox(
        &self,
        to_masked: &str,
        body: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<OutboxMessage>> + Send;
    /// The newest `limit` messages, newest first.
    fn outbox(&self, limit: u32) -> impl Future<Output = Result<Vec<OutboxMessage>>> + Send;

    // The audit chain. `append_audit` seals the record onto the current head
    // atomically: concurrent appends never fork the chain.
    fn append_audit(&self, record: AuditRecord) -> impl Future<Output = Result<AuditEntry>> + Send;
    /// Entries after the first `after` ones, in order, at most `limit`.
    ///
    /// Sequence numbers count from 0 (the first entry is `seq` 0), so this
    /// is the entries with `seq >= after`: 0 = from the start, and the page
    /// after a batch starts at `last.seq + 1`. [`Store::verify_audit`] pages
    /// through the whole chain.
    fn audit_entries(
        &self,
        after: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditEntry>>> + Send;
    /// Entries whose subject is `subject`, in order.
    fn audit_about(&self, subject: &str) -> impl Future<Output = Result<Vec<AuditEntry>>> + Send;

    /// Reads the whole audit chain page by page and checks it with a
    /// [`ChainVerifier`]. The outer error is storage failing; the inner one
    /// is the first break in the chain. With `trusted_head` (a published
    /// head hash), entries removed from the end are detected too.
    fn verify_audit(
        &self,
        trusted_head: Option<Digest>,
    ) -> impl Future<Output = Result<std::result::Result<ChainSummary, ChainBreak>>> + Send {
        async move {
            const PAGE: u32 = 1000;
            let mut verifier = ChainVerifier::new();
            let mut after = 0;
            loop {
                let page = self.audit_entries(after, PAGE).await?;
                for entry in &page {
                    if let Err(chain_break) = verifier.check(entry) {
                        return Ok(Err(chain_break));
                    }
                }
                match page.last() {
                    Some(last) if page.len() == PAGE as usize => after = last.seq.saturating_add(1),
                    _ => return Ok(verifier.finish(trusted_head)),
                }
            }
        }
    }
}
