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
    /// Venue check-ins whose stay ended before this go, with the client
    /// ids of batch items whose stay ended before it; sealed check-ins of
    /// hour slots that ended by it go, with those hours' revealed secrets
    /// (a sealed check-in's end is inside its ciphertext, so its hour of
    /// arrival stands for it: see [`sealed_hour_cutoff`]).
    pub checkins_before: OffsetDateTime,
    /// Approval requests decided (approved, rejected or expired) before
    /// this go; pending ones never do.
    pub decided_requests_before: OffsetDateTime,
}

/// The first hour slot (Unix seconds / 3600) the purge keeps for a
/// check-in cutoff: slots that ended at or before the cutoff go
/// (`hour < sealed_hour_cutoff(cutoff)`).
pub fn sealed_hour_cutoff(cutoff: OffsetDateTime) -> i64 {
    cutoff.unix_timestamp().div_euclid(3600)
}

/// One step of the retention purge: the rows of `table` for which
/// `predicate` holds, counted as `category`. The predicate's one
/// parameter is written `$1` (PostgreSQL's syntax; the SQLite backend
/// rewrites it to `?1`) and may appear more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeStep {
    pub category: &'static str,
    pub table: &'static str,
    pub predicate: &'static str,
    pub bound: i64,
}

/// The steps of a purge at `cutoffs`, in the order of the counts
/// [`LifecycleStore::purge_retention`] returns. Shared by the backends so
/// that both delete exactly the same rows.
pub fn purge_steps(cutoffs: &RetentionCutoffs) -> Result<Vec<PurgeStep>> {
    use crate::columns::instant;
    let step = |category, table, predicate, bound| PurgeStep {
        category,
        table,
        predicate,
        bound,
    };
    let now = instant(cutoffs.now)?;
    let checkins = instant(cutoffs.checkins_before)?;
    let hour = sealed_hour_cutoff(cutoffs.checkins_before);
    Ok(vec![
        step("sessions", "sessions", "expires_ns <= $1", now),
        step("one_time_codes", "otp_challenges", "expires_ns <= $1", now),
        step(
            "sms_outbox_messages",
            "outbox",
            "created_ns < $1",
            instant(cutoffs.outbox_before)?,
        ),
        step(
            "carrier_stays",
            "carrier_stays",
            crate::itinerary::STAYS_ENDED_BEFORE,
            instant(cutoffs.carrier_stays_before)?,
        ),
        // A stay that ended before the cutoff arrived before it too: the
        // arrival bound lets PostgreSQL's BRIN index on arrivals narrow
        // the scan to old block ranges.
        step(
            "checkins",
            "checkins",
            "arrived_ns < $1 AND left_ns < $1",
            checkins,
        ),
        step(
            "checkin_client_ids",
            "checkin_client_ids",
            "left_ns < $1",
            checkins,
        ),
        step("sealed_checkins", "sealed_checkins", "hour < $1", hour),
        step("hour_reveals", "hour_reveals", "hour < $1", hour),
        step(
            "decided_approval_requests",
            "approval_requests",
            "state <> 'pending' AND decided_ns < $1",
            instant(cutoffs.decided_requests_before)?,
        ),
    ])
}

/// The tables a shutdown of the venue check-in service empties, in the
/// order it deletes them, with the category each counts as. Venues stay.
pub const CHECKIN_TABLES: [(&str, &str); 5] = [
    ("checkins", "checkins"),
    ("checkin_client_ids", "checkin_client_ids"),
    ("sealed_checkins", "sealed_checkins"),
    ("hour_reveals", "hour_reveals"),
    ("dependents", "dependents"),
];

/// The tables the health-code shutdown empties, in the order it deletes
/// them (rows that refer to `persons` first), with the category each
/// counts as: every table holding personal data tied to the people of
/// the health code — their facts, their dependents and check-ins, the
/// oversight records about them, sign-in data and officials' accounts.
/// The itinerary card's tables (keyed by phone, not by person) go with
/// its own shutdown.
pub const HEALTH_CODE_TABLES: [(&str, &str); 14] = [
    ("events", "events"),
    ("checkins", "checkins"),
    ("checkin_client_ids", "checkin_client_ids"),
    ("sealed_checkins", "sealed_checkins"),
    ("hour_reveals", "hour_reveals"),
    ("dependents", "dependents"),
    ("approval_requests", "approval_requests"),
    ("correction_requests", "correction_requests"),
    ("access_log", "access_log_entries"),
    ("persons", "people"),
    ("otp_challenges", "one_time_codes"),
    ("sessions", "sessions"),
    ("outbox", "sms_outbox_messages"),
    ("officials", "official_accounts"),
];

/// What becomes of a table of the schema when services end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFate {
    /// Emptied by the shutdown of each of these services.
    Erased(&'static [Service]),
    /// Kept after every shutdown, for this reason (docs/lifecycle.md).
    Kept(&'static str),
}

/// Every table of the schema (both engines) and its fate: the decision,
/// table by table, of whose personal data it holds. The backends' tests
/// fail when a migration adds a table missing here.
pub const SCHEMA_TABLES: [(&str, TableFate); 28] = {
    use Service::{Checkins, HealthCode, Itinerary};
    use TableFate::{Erased, Kept};
    [
        ("persons", Erased(&[HealthCode])),
        ("events", Erased(&[HealthCode])),
        ("otp_challenges", Erased(&[HealthCode])),
        ("sessions", Erased(&[HealthCode])),
        ("officials", Erased(&[HealthCode])),
        ("outbox", Erased(&[HealthCode])),
        ("approval_requests", Erased(&[HealthCode])),
        ("correction_requests", Erased(&[HealthCode])),
        ("access_log", Erased(&[HealthCode])),
        ("dependents", Erased(&[HealthCode, Checkins])),
        ("checkins", Erased(&[HealthCode, Checkins])),
        ("checkin_client_ids", Erased(&[HealthCode, Checkins])),
        ("sealed_checkins", Erased(&[HealthCode, Checkins])),
        ("hour_reveals", Erased(&[HealthCode, Checkins])),
        ("carrier_stays", Erased(&[Itinerary])),
        ("card_queries", Erased(&[Itinerary])),
        (
            "audit_log",
            Kept("the audit chain: pseudonymous ids, never names, numbers or phones"),
        ),
        ("audit_head", Kept("the audit chain's head (PostgreSQL)")),
        ("counters", Kept("id counters (PostgreSQL)")),
        (
            "revocations",
            Kept("revoked code ids: random per code, linked to no person"),
        ),
        (
            "venues",
            Kept("venue registrations: businesses and places, not citizens"),
        ),
        ("risk_areas", Kept("published risk areas")),
        ("carrier_accounts", Kept("carriers' API accounts")),
        (
            "channels",
            Kept("registered API clients (apps, not people)"),
        ),
        (
            "trust_imports",
            Kept("other deployments' public trust lists"),
        ),
        ("service_shutdowns", Kept("the decisions, as published")),
        (
            "deletion_statements",
            Kept("the signed statements, as published"),
        ),
        (
            "kept_code_faces",
            Kept("the code faces a decision keeps: masked, found by a keyed hash"),
        ),
    ]
};

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
    /// Deletes (or with `dry_run` only counts), in one transaction, what
    /// has outlived its retention: sessions and one-time codes expired at
    /// `cutoffs.now` (`expires_at <= now`), outbox messages created before
    /// `cutoffs.outbox_before`, carrier stays that ended before
    /// `cutoffs.carrier_stays_before`, check-ins (open and sealed, with
    /// their client ids and revealed hour secrets) before
    /// `cutoffs.checkins_before`, approval requests decided before
    /// `cutoffs.decided_requests_before`. Returns the counts by category
    /// in the order of [`purge_steps`], zeros included.
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
    /// Deletes, in one transaction, every row of [`HEALTH_CODE_TABLES`]
    /// (people, their events, dependents and check-ins, oversight's
    /// requests and access log, one-time codes, sessions, outbox messages,
    /// officials' accounts); returns the counts by category in that order.
    /// Kept faces and the audit chain stay (the chain holds pseudonymous
    /// ids, never names, numbers or phones: docs/lifecycle.md).
    fn erase_health_code_data(&self) -> impl Future<Output = Result<Vec<ErasedCategory>>> + Send;
    /// Deletes, in one transaction, every row of [`CHECKIN_TABLES`]
    /// (check-ins open and sealed, client ids, revealed hour secrets,
    /// dependents); returns the counts by category in that order. Venues
    /// stay.
    fn erase_checkin_data(&self) -> impl Future<Output = Result<Vec<ErasedCategory>>> + Send;
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn erased_by(service: Service) -> BTreeSet<&'static str> {
        SCHEMA_TABLES
            .iter()
            .filter(|(_, fate)| matches!(fate, TableFate::Erased(s) if s.contains(&service)))
            .map(|(t, _)| *t)
            .collect()
    }

    #[test]
    fn the_erasure_lists_match_the_decisions() {
        let health: BTreeSet<_> = HEALTH_CODE_TABLES.iter().map(|(t, _)| *t).collect();
        assert_eq!(health, erased_by(Service::HealthCode));
        assert_eq!(health.len(), HEALTH_CODE_TABLES.len(), "no table twice");
        let checkins: BTreeSet<_> = CHECKIN_TABLES.iter().map(|(t, _)| *t).collect();
        assert_eq!(checkins, erased_by(Service::Checkins));
        // The check-in data is tied to people: it goes with them too.
        assert!(checkins.is_subset(&health));
        // Each table once in the schema.
        let all: BTreeSet<_> = SCHEMA_TABLES.iter().map(|(t, _)| *t).collect();
        assert_eq!(all.len(), SCHEMA_TABLES.len());
        // The same table counts as the same category in both erasures.
        for (table, category) in CHECKIN_TABLES {
            assert!(HEALTH_CODE_TABLES.contains(&(table, category)), "{table}");
        }
    }

    #[test]
    fn rows_referring_to_people_go_before_people() {
        let at = |table: &str| {
            HEALTH_CODE_TABLES
                .iter()
                .position(|(t, _)| *t == table)
                .unwrap()
        };
        // Foreign keys to persons (both engines' migrations).
        for table in ["events", "dependents"] {
            assert!(at(table) < at("persons"), "{table}");
        }
    }

    #[test]
    fn purge_steps_bound_each_category() {
        let t = time::macros::datetime!(2022-05-01 10:30 UTC);
        let steps = purge_steps(&RetentionCutoffs {
            now: t,
            outbox_before: t,
            carrier_stays_before: t,
            checkins_before: t,
            decided_requests_before: t,
        })
        .unwrap();
        let categories: Vec<_> = steps.iter().map(|s| s.category).collect();
        assert_eq!(
            categories,
            [
                "sessions",
                "one_time_codes",
                "sms_outbox_messages",
                "carrier_stays",
                "checkins",
                "checkin_client_ids",
                "sealed_checkins",
                "hour_reveals",
                "decided_approval_requests",
            ]
        );
        // Sealed hours: the slot 10:00-11:00 holds the cutoff and stays.
        let sealed = steps.iter().find(|s| s.table == "sealed_checkins").unwrap();
        assert_eq!(sealed.bound, t.unix_timestamp() / 3600);
        assert_eq!(sealed_hour_cutoff(t) * 3600, t.unix_timestamp() - 1800);
        for step in &steps {
            assert!(step.predicate.contains("$1"), "{step:?}");
            assert!(step.predicate.contains("pending") == (step.table == "approval_requests"));
        }
    }
}
