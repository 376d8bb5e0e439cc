//! Storage for channels (registered API clients such as mini-programs in
//! partner apps) and for other deployments' trust lists imported here.

use std::future::Future;

use healthcode_core::regions::ChannelKind;
use time::OffsetDateTime;

use crate::Result;

/// A registered API client. Its secret is stored only as a SHA-256 hash
/// (secrets are 256 random bits, so a fast hash is enough).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Public client id, 3 to 32 lowercase letters, digits and `-`.
    pub client_id: String,
    /// Display name (shown to citizens), e.g. "某某 on Alipay".
    pub name: String,
    pub kind: ChannelKind,
    pub secret_hash: [u8; 32],
    pub created_at: OffsetDateTime,
    /// The administrator who registered it (`official:<name>` or `cli`).
    pub created_by: String,
    pub disabled_at: Option<OffsetDateTime>,
}

/// Channels: created once (Conflict for a taken client id), listed in
/// client-id order, disabled (never deleted: applications name them).
pub trait ChannelStore {
    fn create_channel(&self, channel: &Channel) -> impl Future<Output = Result<()>> + Send;
    fn channel(&self, client_id: &str) -> impl Future<Output = Result<Option<Channel>>> + Send;
    fn channels(&self) -> impl Future<Output = Result<Vec<Channel>>> + Send;
    /// Disables a channel at `at`; `Ok(false)` if it already was
    /// (its first disabling time stays), NotFound if there is none.
    fn disable_channel(
        &self,
        client_id: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// Another deployment's signed trust list, as imported here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedTrustList {
    /// SHA-256 fingerprint (hex) of the publisher key: the pin, and the key.
    pub fingerprint: String,
    /// The publisher's id as the list names it.
    pub publisher: String,
    /// `https://…` for a list refreshed by URL, `file:<path>` otherwise.
    pub source: String,
    /// The signed list, as received.
    pub text: String,
    pub sequence: u64,
    pub imported_at: OffsetDateTime,
    /// Last time the source was fetched, successfully or not.
    pub checked_at: OffsetDateTime,
    /// Why the last refresh failed, if it did.
    pub last_error: Option<String>,
}

/// Imported trust lists, one per publisher fingerprint.
pub trait TrustImportStore {
    /// Inserts or replaces the list of `list.fingerprint`. A list whose
    /// sequence is lower than the stored one is refused with Conflict
    /// (rollback), atomically.
    fn put_trust_import(&self, list: &ImportedTrustList)
        -> impl Future<Output = Result<()>> + Send;
    fn trust_imports(&self) -> impl Future<Output = Result<Vec<ImportedTrustList>>> + Send;
    /// Notes a refresh attempt: `error` None for success without change.
    fn note_trust_check(
        &self,
        fingerprint: &str,
        at: OffsetDateTime,
        error: Option<&str>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Removes an import; `Ok(false)` if there was none.
    fn delete_trust_import(&self, fingerprint: &str) -> impl Future<Output = Result<bool>> + Send;
}

/// The columns of a `channels` row, as both backends read them.
pub struct ChannelRow {
    pub client_id: String,
    pub name: String,
    pub kind: String,
    pub secret_hash: Vec<u8>,
    pub created_ns: i64,
    pub created_by: String,
    pub disabled_ns: Option<i64>,
}

impl ChannelRow {
    pub fn decode(self) -> Result<Channel> {
        use crate::columns::{hash32, utc_instant};
        const WHAT: &str = "channel";
        Ok(Channel {
            kind: ChannelKind::parse(&self.kind).ok_or_else(|| crate::StoreError::Corrupt {
                what: WHAT,
                why: format!("unknown channel kind {:?}", self.kind),
            })?,
            client_id: self.client_id,
            name: self.name,
            secret_hash: hash32(WHAT, &self.secret_hash)?,
            created_at: utc_instant(WHAT, self.created_ns)?,
            created_by: self.created_by,
            disabled_at: self
                .disabled_ns
                .map(|ns| utc_instant(WHAT, ns))
                .transpose()?,
        })
    }
}

/// The columns of a `trust_imports` row, as both backends read them.
pub struct TrustImportRow {
    pub fingerprint: String,
    pub publisher: String,
    pub source: String,
    pub body: String,
    pub sequence: i64,
    pub imported_ns: i64,
    pub checked_ns: i64,
    pub last_error: Option<String>,
}

impl TrustImportRow {
    pub fn decode(self) -> Result<ImportedTrustList> {
        use crate::columns::{from_i64, utc_instant};
        const WHAT: &str = "imported trust list";
        Ok(ImportedTrustList {
            fingerprint: self.fingerprint,
            publisher: self.publisher,
            source: self.source,
            text: self.body,
            sequence: from_i64(WHAT, self.sequence)?,
            imported_at: utc_instant(WHAT, self.imported_ns)?,
            checked_at: utc_instant(WHAT, self.checked_ns)?,
            last_error: self.last_error,
        })
    }
}
