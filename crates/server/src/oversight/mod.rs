//! Oversight of officials' power, and a person's view of their own data.
//!
//! - Override requests: a health official asks for a colour override with a
//!   bilingual reason, an epidemic-control legal basis and an end; a
//!   reviewer (never the requester) approves or rejects it with a note;
//!   approval builds the core [`healthcode_core::Override`] and records it
//!   as an event, so the colour decision cites it as evidence.
//! - Bulk actions (close-contact designations of a list of people): the
//!   same two-official rule, applied item by item with a result for each.
//! - Correction requests (纠错): a person disputes an entry or their colour;
//!   officials answer, oldest first, within a deadline.
//! - A person's record (every audit entry about them, in plain words, with
//!   the chain's integrity), their data export, and the access log of
//!   officials' reads of their data.
//!
//! Every step lands in the audit chain. Requests are rate-limited per
//! official from the stored requests, so limits survive restarts.

pub mod api;
pub mod export;
pub mod pages;
pub mod plain;
pub mod service;

use axum::Router;
use healthcode_store::Store;
use serde::Deserialize;

use crate::config::ConfigError;
use crate::state::AppState;

/// Settings of oversight (`[oversight]` in the settings file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OversightSettings {
    /// Override requests one official may make in an hour.
    pub override_requests_per_hour: u32,
    /// Bulk-action requests one official may make in an hour.
    pub bulk_requests_per_hour: u32,
    /// Most people in one bulk action.
    pub bulk_max_items: usize,
    /// A request not decided within this many hours expires.
    pub approval_deadline_hours: i64,
    /// The longest an override may last, in days.
    pub override_max_days: i64,
    /// Officials must answer a correction request within this many hours.
    pub correction_response_hours: i64,
    /// Correction requests one person may file in a day.
    pub corrections_per_day: u32,
    /// Data exports one person may download in an hour.
    pub exports_per_hour: u32,
}

impl Default for OversightSettings {
    fn default() -> Self {
        OversightSettings {
            override_requests_per_hour: 5,
            bulk_requests_per_hour: 2,
            bulk_max_items: 1000,
            approval_deadline_hours: 24,
            override_max_days: 30,
            correction_response_hours: 72,
            corrections_per_day: 5,
            exports_per_hour: 10,
        }
    }
}

impl OversightSettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |name: &'static str, why: &str| ConfigError::Invalid {
            name,
            why: why.to_owned(),
        };
        if self.override_requests_per_hour == 0 || self.bulk_requests_per_hour == 0 {
            return Err(invalid(
                "oversight.*_requests_per_hour",
                "must be at least 1",
            ));
        }
        if !(1..=100_000).contains(&self.bulk_max_items) {
            return Err(invalid("oversight.bulk_max_items", "must be 1 to 100000"));
        }
        if !(1..=24 * 30).contains(&self.approval_deadline_hours) {
            return Err(invalid(
                "oversight.approval_deadline_hours",
                "must be 1 hour to 30 days",
            ));
        }
        if !(1..=366).contains(&self.override_max_days) {
            return Err(invalid("oversight.override_max_days", "must be 1 to 366"));
        }
        if !(1..=24 * 60).contains(&self.correction_response_hours) {
            return Err(invalid(
                "oversight.correction_response_hours",
                "must be 1 hour to 60 days",
            ));
        }
        if self.corrections_per_day == 0 || self.exports_per_hour == 0 {
            return Err(invalid(
                "oversight.corrections_per_day / exports_per_hour",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// The routes of oversight: JSON API and pages. Oversight is the health
/// code's (its data goes with the health-code shutdown), so every route
/// goes offline with it.
pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .merge(api::routes::<S>())
        .merge(pages::routes::<S>())
        .route_layer(axum::middleware::from_fn(
            crate::lifecycle::guard_health_code,
        ))
}
