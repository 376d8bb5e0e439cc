//! Oversight of officials' power: requests that need a second official
//! (colour overrides, bulk actions), correction requests (纠错) a person
//! files and officials must answer, and the log of officials' reads of a
//! person's data (who looked, when, why).
//!
//! The audit chain records every step; these tables hold the working state
//! (queues, answers) and what the person is shown. Everything here about
//! one person can be erased with [`OversightStore::erase_oversight_person`];
//! the health-code shutdown empties every table here
//! ([`crate::lifecycle::LifecycleStore::erase_health_code_data`]), and
//! the retention purge deletes requests decided long enough ago.

use std::future::Future;

use healthcode_core::Bilingual;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{PersonId, Result};

/// What a request for a second official's approval asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// A manual colour override for one person.
    Override,
    /// One action over a list of people.
    Bulk,
}

impl RequestKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestKind::Override => "override",
            RequestKind::Bulk => "bulk",
        }
    }

    pub fn parse(s: &str) -> Option<RequestKind> {
        match s {
            "override" => Some(RequestKind::Override),
            "bulk" => Some(RequestKind::Bulk),
            _ => None,
        }
    }
}

/// Where a request stands. Only a pending request can be decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Pending,
    Approved,
    Rejected,
    /// Not decided before its deadline.
    Expired,
}

impl RequestState {
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Rejected => "rejected",
            RequestState::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<RequestState> {
        match s {
            "pending" => Some(RequestState::Pending),
            "approved" => Some(RequestState::Approved),
            "rejected" => Some(RequestState::Rejected),
            "expired" => Some(RequestState::Expired),
            _ => None,
        }
    }
}

/// A second official's decision on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestDecision {
    /// `Approved`, `Rejected` or `Expired` (never `Pending`).
    pub state: RequestState,
    /// The deciding official's username (`system` for an expiry).
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub note: Bilingual,
}

/// A request that needs a second official's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// Chosen by the server, unique (e.g. `ovr-` and 16 hex digits).
    pub id: String,
    pub kind: RequestKind,
    /// The person an override is about; `None` for bulk actions.
    pub person: Option<PersonId>,
    /// The requesting official's username.
    pub requested_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    /// A pending request expires at this instant.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub reason: Bilingual,
    /// The epidemic-control legal basis (law and article, or the
    /// headquarters' decision number).
    pub legal_basis: Bilingual,
    /// What is asked, as JSON (the override's colour and end; the bulk
    /// action's kind and items).
    pub body: String,
    pub state: RequestState,
    pub decision: Option<RequestDecision>,
    /// What applying the request produced (JSON): the override's event id,
    /// a bulk action's per-item results.
    pub outcome: Option<String>,
}

/// What a correction request (纠错) is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CorrectionTopic {
    /// The colour of the person's code.
    Colour,
    /// One audit entry about the person, by sequence number.
    AuditEntry { seq: u64 },
}

/// How an official answered a correction request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionAnswer {
    pub accepted: bool,
    /// For an accepted request: `fact_recorded`, `override_requested` or
    /// `other`; for a rejected one: `rejected`.
    pub action: String,
    /// The event or override request the action produced, if any.
    pub reference: Option<String>,
    /// The answer the person reads (for a rejection, the reason).
    pub message: Bilingual,
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A person's correction request (纠错).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionRequest {
    pub id: String,
    pub person: PersonId,
    pub topic: CorrectionTopic,
    /// What the person says is wrong, in their words.
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub filed_at: OffsetDateTime,
    /// Officials must answer by this instant.
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    pub answer: Option<CorrectionAnswer>,
}

/// One official read of a person's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    pub person: PersonId,
    /// The official's username.
    pub official: String,
    /// Their roles at the time, e.g. `health_official`.
    pub roles: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What was read: `lookup`, `view`, `export`, `trace`, `itinerary`…
    pub what: String,
    /// Why, as the official stated it.
    pub purpose: String,
}

/// A session's metadata, for a person's export: never the token's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Storage of oversight: approval requests, correction requests, the
/// access log. A supertrait of [`crate::Store`].
pub trait OversightStore: Send + Sync {
    /// Stores a new request (Conflict if the id exists).
    fn create_request(&self, request: &ApprovalRequest) -> impl Future<Output = Result<()>> + Send;
    fn request(&self, id: &str) -> impl Future<Output = Result<Option<ApprovalRequest>>> + Send;
    /// Requests of a kind in a state: pending ones oldest first, decided
    /// ones most recently decided first; at most `limit`.
    fn requests(
        &self,
        kind: RequestKind,
        state: RequestState,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ApprovalRequest>>> + Send;
    /// Requests about a person, oldest first.
    fn requests_about(
        &self,
        person: &PersonId,
    ) -> impl Future<Output = Result<Vec<ApprovalRequest>>> + Send;
    /// When `official` made requests of `kind` at or after `since`, oldest
    /// first (for per-official rate limits that survive restarts).
    fn request_times(
        &self,
        official: &str,
        kind: RequestKind,
        since: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<OffsetDateTime>>> + Send;
    /// Decides a pending request, with what applying it produced so far.
    /// NotFound without it; Conflict when it is no longer pending (someone
    /// else decided first, or it expired).
    fn decide_request(
        &self,
        id: &str,
        decision: &RequestDecision,
        outcome: Option<&str>,
    ) -> impl Future<Output = Result<ApprovalRequest>> + Send;
    /// Replaces the outcome of a decided request (a bulk action's results
    /// once every item is applied). NotFound without it.
    fn set_request_outcome(
        &self,
        id: &str,
        outcome: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Marks every request still pending with `expires_at <= now` as
    /// expired (decided by `system`); returns them.
    fn expire_requests(
        &self,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<ApprovalRequest>>> + Send;

    fn create_correction(
        &self,
        correction: &CorrectionRequest,
    ) -> impl Future<Output = Result<()>> + Send;
    fn correction(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<CorrectionRequest>>> + Send;
    /// Unanswered requests, oldest first, at most `limit`.
    fn open_corrections(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<CorrectionRequest>>> + Send;
    /// A person's requests, newest first.
    fn corrections_about(
        &self,
        person: &PersonId,
    ) -> impl Future<Output = Result<Vec<CorrectionRequest>>> + Send;
    /// Answers an open request: NotFound without it, Conflict if answered.
    fn answer_correction(
        &self,
        id: &str,
        answer: &CorrectionAnswer,
    ) -> impl Future<Output = Result<CorrectionRequest>> + Send;

    fn record_access(&self, access: &AccessRecord) -> impl Future<Output = Result<()>> + Send;
    /// Reads of a person's data, newest first, at most `limit`.
    fn accesses_about(
        &self,
        person: &PersonId,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AccessRecord>>> + Send;

    /// Live sessions of a phone (by its keyed hash) at `now`, oldest first.
    fn sessions_of_phone(
        &self,
        phone: &crate::PhoneHash,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<SessionInfo>>> + Send;

    /// Deletes every override request, correction request and access-log
    /// row about `person`; returns how many rows. Bulk requests name people
    /// by identity number inside their body and go with the health-code
    /// shutdown or, once decided, the retention purge.
    fn erase_oversight_person(&self, person: &PersonId)
        -> impl Future<Output = Result<u64>> + Send;
}

// ----------------------------------------------------------------------------
// Rows, shared by the SQL backends (see `crate::columns` for the encodings).
// Bilingual texts, decisions, answers and topics are JSON text columns.

pub mod rows {
    use super::*;
    use crate::columns::{from_json, person_id, utc_instant, ColumnReader};
    use crate::StoreError;

    pub const REQUEST_COLUMNS: &str = "id, kind, person_id, requested_by, requested_ns, expires_ns, reason, legal_basis, body, state, decision, outcome";
    pub const CORRECTION_COLUMNS: &str = "id, person_id, topic, body, filed_ns, due_ns, answer";
    pub const ACCESS_COLUMNS: &str = "person_id, at_ns, official, roles, what, purpose";

    pub fn request_from(row: &impl ColumnReader) -> Result<ApprovalRequest> {
        const WHAT: &str = "approval request";
        let kind = row.text("kind")?;
        let state = row.text("state")?;
        Ok(ApprovalRequest {
            id: row.text("id")?,
            kind: RequestKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                what: WHAT,
                why: "unknown kind".to_owned(),
            })?,
            person: row
                .opt_text("person_id")?
                .map(|p| person_id(WHAT, &p))
                .transpose()?,
            requested_by: row.text("requested_by")?,
            requested_at: utc_instant(WHAT, row.int("requested_ns")?)?,
            expires_at: utc_instant(WHAT, row.int("expires_ns")?)?,
            reason: from_json(WHAT, &row.text("reason")?)?,
            legal_basis: from_json(WHAT, &row.text("legal_basis")?)?,
            body: row.text("body")?,
            state: RequestState::parse(&state).ok_or_else(|| StoreError::Corrupt {
                what: WHAT,
                why: "unknown state".to_owned(),
            })?,
            decision: row
                .opt_text("decision")?
                .map(|d| from_json(WHAT, &d))
                .transpose()?,
            outcome: row.opt_text("outcome")?,
        })
    }

    pub fn correction_from(row: &impl ColumnReader) -> Result<CorrectionRequest> {
        const WHAT: &str = "correction request";
        Ok(CorrectionRequest {
            id: row.text("id")?,
            person: person_id(WHAT, &row.text("person_id")?)?,
            topic: from_json(WHAT, &row.text("topic")?)?,
            text: row.text("body")?,
            filed_at: utc_instant(WHAT, row.int("filed_ns")?)?,
            due_at: utc_instant(WHAT, row.int("due_ns")?)?,
            answer: row
                .opt_text("answer")?
                .map(|a| from_json(WHAT, &a))
                .transpose()?,
        })
    }

    pub fn access_from(row: &impl ColumnReader) -> Result<AccessRecord> {
        const WHAT: &str = "access record";
        Ok(AccessRecord {
            person: person_id(WHAT, &row.text("person_id")?)?,
            official: row.text("official")?,
            roles: row.text("roles")?,
            at: utc_instant(WHAT, row.int("at_ns")?)?,
            what: row.text("what")?,
            purpose: row.text("purpose")?,
        })
    }

    /// A request's state after a decision must not be pending.
    pub fn check_decision(decision: &RequestDecision) -> Result<()> {
        if decision.state == RequestState::Pending {
            return Err(StoreError::Backend(
                "a decision cannot leave a request pending".to_owned(),
            ));
        }
        Ok(())
    }
}
