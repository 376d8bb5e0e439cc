//! The data lifecycle: retention purges, service shutdowns, irreversible
//! erasure of a service's personal data, the kept code faces and the signed
//! deletion statements.
//!
//! A supertrait of [`crate::Store`], so server code keeps its `S: Store`
//! bound.

use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{PersonId, PersonRecord, Result};

/// A service of this deployment that can be shut down on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Service {
    /// The whole health-code service: applications, codes, declarations,
    /// officials' records, SMS, sessions.
    #[serde(rename = "health-code")]
    HealthCode,
    /// The itinerary card (carriers' stay records).
    #[serde(rename = "itinerary")]
    Itinerary,
    /// Venue check-ins.
    #[serde(rename = "checkins")]
    Checkins,
}

impl Service {
    pub const ALL: [Service; 3] = [Service::HealthCode, Service::Itinerary, Service::Checkins];

    pub const fn as_str(self) -> &'static str {
        match self {
            Service::HealthCode => "health-code",
            Service::Itinerary => "itinerary",
            Service::Checkins => "checkins",
        }
    }

    pub fn parse(s: &str) -> Option<Service> {
        match s.trim() {
            "health-code" => Some(Service::HealthCode),
            "itinerary" => Some(Service::Itinerary),
            "checkins" => Some(Service::Checkins),
            _ => None,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decided shutdown of a service: offline from `at`, personal data
/// erased once `at` has passed (then `executed_at` and `statement_id` are set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceShutdown {
    pub service: Service,
    /// From this instant every route of the service answers 410 Gone.
    pub at: OffsetDateTime,
    /// The decision's id and text, as published.
    pub decision: String,
    /// What the decision lets stay (e.g. `code-face`).
    pub keep: Vec<String>,
    pub scheduled_at: OffsetDateTime,
    /// Who scheduled it (`cli`, an operator name...).
    pub scheduled_by: String,
    pub executed_at: Option<OffsetDateTime>,
    pub statement_id: Option<String>,
}

/// What stays of a person after the health-code service is shut down with
/// `--keep code-face`: the last colour with the masked name and ID, found by
/// a keyed hash of phone number and identity number together (neither is
/// stored, nor the phone's own keyed hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptCodeFace {
    pub lookup: [u8; 32],
    pub colour: String,
    pub masked_name: String,
    pub masked_id: String,
    /// `resident`, `traveller`...
    pub kind: String,
    /// The colour as it stood at this instant (the shutdown).
    pub status_as_of: OffsetDateTime,
}

/// How many records of one category were deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasedCategory {
    /// Stable, snake_case (`people`, `events`, `one_time_codes`...).
    pub category: String,
    pub records: u64,
}

impl ErasedCategory {
    pub fn new(category: &str, records: u64) -> ErasedCategory {
        ErasedCategory {
            category: category.to_owned(),
            records,
        }
    }
}

/// A storage step taken after erasure so the deleted bytes leave the
/// database files, and whether it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageStep {
    /// E.g. `VACUUM`, `PRAGMA wal_checkpoint(TRUNCATE)`, `CHECKPOINT`.
    pub step: String,
    pub done: bool,
    /// Why it did not run, or what the operator should know.
    pub note: Option<String>,
}

impl StorageStep {
    pub fn done(step: impl Into<String>) -> StorageStep {
        StorageStep {
            step: step.into(),
            done: true,
            note: None,
        }
    }

    pub fn not_done(step: impl Into<String>, note: impl Into<String>) -> StorageStep {
        StorageStep {
            step: step.into(),
            done: false,
            note: Some(note.into()),
        }
    }
}

/// The instants before which the retention purge deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionCutoffs {
    /// Sessions and one-time codes expired at this instant go.
    pub now: OffsetDateTime,
    /// Development outbox messages created before this go.
    pub outbox_before: OffsetDateTime,
    /// Carrier stays that ended before this go (`last_seen < cutoff`).
    pub carrier_stays_before: OffsetDateTime,
}

/// A published, signed deletion statement (the signed JSON document as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionStatementRecord {
    pub id: String,
    pub service: Service,
    pub published_at: OffsetDateTime,
    pub signed_json: String,
}

/// Storage of the data lifecycle.
pub trait LifecycleStore: Send + Sync {
    /// Deletes (or with `dry_run` only counts) what has outlived its
    /// retention: sessions and one-time codes expired at `cutoffs.now`
    /// (`expires_at <= now`), outbox messages created before
    /// `cutoffs.outbox_before`, carrier stays that ended before
    /// `cutoffs.carrier_stays_before`. Returns the counts by category, in a fixed
    /// order, zeros included.
    fn purge_retention(
        &self,
        cutoffs: &RetentionCutoffs,
        dry_run: bool,
    ) -> impl Future<Output = Result<Vec<ErasedCategory>>> + Send;

    /// Records a shutdown; `Conflict` when the service already has one.
    fn schedule_shutdown(
        &self,
        shutdown: &ServiceShutdown,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Every recorded shutdown, by service.
    fn shutdowns(&self) -> impl Future<Output = Result<Vec<ServiceShutdown>>> + Send;
    /// Marks the service's shutdown executed and stores its statement, in
    /// one transaction. `NotFound` without a scheduled shutdown, `Conflict`
    /// when it was executed already.
    fn finish_shutdown(
        &self,
        service: Service,
        executed_at: OffsetDateTime,
        statement: &DeletionStatementRecord,
    ) -> impl Future<Output = Result<()>> + Send;
    fn deletion_statement(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<DeletionStatementRecord>>> + Send;
    /// Every published statement, oldest first.
    fn deletion_statements(
        &self,
    ) -> impl Future<Output = Result<Vec<DeletionStatementRecord>>> + Send;

    /// People in id order after `after` (from the start with `None`), at
    /// most `limit`: the shutdown pages through them to keep their faces.
    fn persons_after(
        &self,
        after: Option<&PersonId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<PersonRecord>>> + Send;
    /// Stores kept code faces (a face with the same lookup key is replaced).
    fn put_kept_code_faces(
        &self,
        faces: &[KeptCodeFace],
    ) -> impl Future<Output = Result<()>> + Send;
    /// Deletes, in one transaction, every person, event, one-time code,
    /// session, outbox message and official account; returns the counts by
    /// category. Kept faces and the audit chain stay (the chain holds
    /// pseudonymous ids, never names, numbers or phones: docs/lifecycle.md).
    fn erase_health_code_data(&self) -> impl Future<Output = Result<Vec<ErasedCategory>>> + Send;
    fn kept_code_face(
        &self,
        lookup: &[u8; 32],
    ) -> impl Future<Output = Result<Option<KeptCodeFace>>> + Send;
    /// After an erasure: rebuilds tables and indexes and pushes the deleted
    /// bytes out of the database files as far as the engine allows (SQLite:
    /// VACUUM and a truncating WAL checkpoint; PostgreSQL: VACUUM FULL,
    /// a WAL switch and CHECKPOINT). Says what it did.
    fn compact_after_erasure(&self) -> impl Future<Output = Result<Vec<StorageStep>>> + Send;
}

// ----------------------------------------------------------------------------
// Row decoders shared by the backends (columns as in their migrations).

use crate::columns::{hash32, utc_instant, ColumnReader};
use crate::StoreError;

fn service_from(what: &'static str, text: &str) -> Result<Service> {
    Service::parse(text).ok_or_else(|| StoreError::Corrupt {
        what,
        why: format!("unknown service {text:?}"),
    })
}

/// `keep` is stored as comma-separated words.
pub fn keep_text(keep: &[String]) -> String {
    keep.join(",")
}

/// Columns: service, at_ns, decision, keep, scheduled_ns, scheduled_by,
/// executed_ns, statement_id. A shutdown was executed when it has a
/// statement; select `COALESCE(executed_ns, 0) AS executed_ns`.
pub fn shutdown_from(row: &impl ColumnReader) -> Result<ServiceShutdown> {
    const WHAT: &str = "service shutdown";
    let statement_id = row.opt_text("statement_id")?;
    let keep = row.text("keep")?;
    Ok(ServiceShutdown {
        service: service_from(WHAT, &row.text("service")?)?,
        at: utc_instant(WHAT, row.int("at_ns")?)?,
        decision: row.text("decision")?,
        keep: keep
            .split(',')
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect(),
        scheduled_at: utc_instant(WHAT, row.int("scheduled_ns")?)?,
        scheduled_by: row.text("scheduled_by")?,
        executed_at: match &statement_id {
            Some(_) => Some(utc_instant(WHAT, row.int("executed_ns")?)?),
            None => None,
        },
        statement_id,
    })
}

/// Columns: lookup, colour, masked_name, masked_id, kind, status_as_of_ns.
pub fn face_from(row: &impl ColumnReader) -> Result<KeptCodeFace> {
    const WHAT: &str = "kept code face";
    Ok(KeptCodeFace {
        lookup: hash32(WHAT, &row.bytes("lookup")?)?,
        colour: row.text("colour")?,
        masked_name: row.text("masked_name")?,
        masked_id: row.text("masked_id")?,
        kind: row.text("kind")?,
        status_as_of: utc_instant(WHAT, row.int("status_as_of_ns")?)?,
    })
}

/// Columns: id, service, published_ns, signed_json.
pub fn statement_from(row: &impl ColumnReader) -> Result<DeletionStatementRecord> {
    const WHAT: &str = "deletion statement";
    Ok(DeletionStatementRecord {
        id: row.text("id")?,
        service: service_from(WHAT, &row.text("service")?)?,
        published_at: utc_instant(WHAT, row.int("published_ns")?)?,
        signed_json: row.text("signed_json")?,
    })
}
