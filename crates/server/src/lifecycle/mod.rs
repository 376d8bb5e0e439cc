//! The data lifecycle: the retention purge, service shutdowns (offline
//! switch, irreversible erasure, kept code faces) and signed deletion
//! statements. The server's background job and the `healthcode purge` and
//! `healthcode service` commands run the same functions here.
//!
//! **The offline switch** is keyed by service name. Every route of a
//! service passes through its guard, pages and API alike, whatever channel
//! calls it:
//!
//! ```ignore
//! Router::new()
//!     .route("/itinerary", get(card_page::<S>))
//!     .route("/api/v1/itinerary", post(card::<S>))
//!     .route_layer(axum::middleware::from_fn(crate::lifecycle::guard_itinerary))
//! ```
//!
//! From the shutdown's time such a route answers 410 Gone with a bilingual
//! notice (JSON error for the API, a page for browsers). The schedule is
//! read from the store on start and every [`SCHEDULE_REFRESH`], so a
//! shutdown recorded by the command line reaches a running server within
//! that time; the erasure waits [`OFFLINE_PROPAGATION`] past the shutdown's
//! time so no server still accepts data when it starts.

pub mod routes;

use std::sync::{Arc, RwLock};

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use healthcode_codec::deletion::{
    AuditAnchor, DeletedRecords, DeletionStatement, StorageStepTaken, DELETION_STATEMENT_KIND,
};
use healthcode_core::mask::{mask_id, mask_name};
use healthcode_core::{AuditRecord, Bilingual};
use healthcode_store::lifecycle::{
    DeletionStatementRecord, ErasedCategory, KeptCodeFace, RetentionCutoffs, Service,
    ServiceShutdown,
};
use healthcode_store::{PhoneHash, Store, StoreError};
use ring::hmac;
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::clock::Clock;
use crate::config::ConfigError;
use crate::error::ApiError;
use crate::i18n::Text;
use crate::pages::esc;
use crate::state::AppState;

/// How often a server re-reads the shutdown schedule.
pub const SCHEDULE_REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// How long after a shutdown's time its erasure starts: longer than
/// [`SCHEDULE_REFRESH`], so every running server has gone offline by then.
pub const OFFLINE_PROPAGATION: Duration = Duration::seconds(6);

/// What the decision may let stay: the code face (as Guangdong kept
/// 粤康码's). Only the health-code service has one.
pub const KEEP_CODE_FACE: &str = "code-face";

/// People read per page when the code faces are kept.
const FACE_PAGE: u32 = 500;

/// Retention periods (`[retention]` in the settings file).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// How often the server's background job purges (minutes, default 10).
    pub purge_interval_minutes: i64,
    /// Development SMS outbox messages are kept this long (hours, default
    /// 24): long enough to read a code, no longer.
    pub outbox_hours: i64,
    /// Carrier stays are kept for the itinerary card's window and its lag
    /// (`[itinerary] window_days`, `lag_hours`) plus this margin (days,
    /// default 1), then deleted.
    pub carrier_stays_margin_days: i64,
    /// Venue check-ins are kept this long after the stay ended (days,
    /// default 28): tracing looks back 14 days from a case, and a case is
    /// confirmed, reported and traced in the fortnight after
    /// (docs/lifecycle.md). Sealed check-ins count from the end of the hour
    /// slot they were sealed in. At least the tracing look-back (14).
    pub checkins_days: i64,
    /// Approval requests (overrides, bulk actions) are kept this long after
    /// their decision or expiry (days, default 180: the six months within
    /// which a decision can be taken to court); pending ones stay. Bulk
    /// requests list identity numbers in clear; the audit chain keeps
    /// every request and decision without them.
    pub decided_requests_days: i64,
}

/// The default of `[retention] checkins_days`.
pub const DEFAULT_CHECKINS_DAYS: i64 = 28;

/// The default of `[retention] decided_requests_days`.
pub const DEFAULT_DECIDED_REQUESTS_DAYS: i64 = 180;

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            purge_interval_minutes: 10,
            outbox_hours: 24,
            carrier_stays_margin_days: 1,
            checkins_days: DEFAULT_CHECKINS_DAYS,
            decided_requests_days: DEFAULT_DECIDED_REQUESTS_DAYS,
        }
    }
}

impl Retention {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=24 * 60).contains(&self.purge_interval_minutes) {
            return Err(ConfigError::Invalid {
                name: "retention.purge_interval_minutes",
                why: "must be between 1 minute and 1 day (1440)".into(),
            });
        }
        if !(1..=24 * 366).contains(&self.outbox_hours) {
            return Err(ConfigError::Invalid {
                name: "retention.outbox_hours",
                why: "must be between 1 hour and a year (8784)".into(),
            });
        }
        if !(0..=366).contains(&self.carrier_stays_margin_days) {
            return Err(ConfigError::Invalid {
                name: "retention.carrier_stays_margin_days",
                why: "must be between 0 and 366 days".into(),
            });
        }
        let lookback = i64::from(healthcode_core::tracing::TracingParams::default().lookback_days);
        if !(lookback..=366).contains(&self.checkins_days) {
            return Err(ConfigError::Invalid {
                name: "retention.checkins_days",
                why: format!(
                    "must be between {lookback} days (tracing looks back that far) and 366 days"
                ),
            });
        }
        if !(1..=3660).contains(&self.decided_requests_days) {
            return Err(ConfigError::Invalid {
                name: "retention.decided_requests_days",
                why: "must be between 1 day and ten years (3660 days)".into(),
            });
        }
        Ok(())
    }

    /// Check-ins whose stay ended before this instant are past their
    /// retention at `now`.
    pub fn checkins_before(&self, now: OffsetDateTime) -> OffsetDateTime {
        now - Duration::days(self.checkins_days)
    }

    /// The cutoffs of a purge at `now`.
    pub fn cutoffs(
        &self,
        now: OffsetDateTime,
        itinerary: &crate::itinerary::ItinerarySettings,
    ) -> RetentionCutoffs {
        RetentionCutoffs {
            now,
            outbox_before: now - Duration::hours(self.outbox_hours),
            carrier_stays_before: now
                - Duration::days(i64::from(itinerary.window_days) + self.carrier_stays_margin_days)
                - Duration::hours(i64::from(itinerary.lag_hours)),
            checkins_before: self.checkins_before(now),
            decided_requests_before: now - Duration::days(self.decided_requests_days),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{field}: {} / {}", message.en, message.zh)]
    Invalid { field: &'static str, message: Text },
    #[error("signing the deletion statement failed: {0}")]
    Sign(String),
}

impl LifecycleError {
    fn invalid(field: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        LifecycleError::Invalid {
            field,
            message: Text::new(zh, en),
        }
    }
}

impl From<LifecycleError> for ApiError {
    fn from(e: LifecycleError) -> ApiError {
        match e {
            LifecycleError::Store(e) => e.into(),
            LifecycleError::Invalid { field, message } => {
                ApiError::invalid(field, message.zh, message.en)
            }
            other => ApiError::internal(other),
        }
    }
}

// ----------------------------------------------------------------------------
// Retention

/// What one purge did (or, dry, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeRun {
    pub at: OffsetDateTime,
    pub dry_run: bool,
    pub counts: Vec<ErasedCategory>,
}

impl PurgeRun {
    pub fn total(&self) -> u64 {
        self.counts
            .iter()
            .fold(0u64, |sum, c| sum.saturating_add(c.records))
    }

    /// `sessions=2 one_time_codes=0 ...`, for logs and the command line.
    pub fn summary(&self) -> String {
        self.counts
            .iter()
            .map(|c| format!("{}={}", c.category, c.records))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Deletes what has outlived its retention, logs the counts and, when
/// anything was deleted, appends one `retention.purged` entry with the
/// counts to the audit chain. A run that deletes nothing leaves no entry:
/// the job runs every few minutes, and empty entries would bury the chain.
pub async fn purge<S: Store>(
    store: &S,
    settings: &crate::config::Settings,
    now: OffsetDateTime,
    actor: &str,
    dry_run: bool,
) -> Result<PurgeRun, LifecycleError> {
    let cutoffs = settings.retention.cutoffs(now, &settings.itinerary);
    let counts = store.purge_retention(&cutoffs, dry_run).await?;
    let run = PurgeRun {
        at: now,
        dry_run,
        counts,
    };
    if dry_run {
        tracing::info!(counts = %run.summary(), "retention purge (dry run): nothing deleted");
        return Ok(run);
    }
    tracing::info!(counts = %run.summary(), total = run.total(), "retention purge");
    if run.total() > 0 {
        let counts: serde_json::Map<String, serde_json::Value> = run
            .counts
            .iter()
            .map(|c| (c.category.clone(), c.records.into()))
            .collect();
        store
            .append_audit(AuditRecord {
                at: now,
                actor: actor.to_owned(),
                action: "retention.purged".into(),
                subject: "retention".into(),
                details: serde_json::json!({
                    "deleted": counts,
                    "outbox_before": rfc3339(cutoffs.outbox_before),
                    "carrier_stays_before": rfc3339(cutoffs.carrier_stays_before),
                    "checkins_before": rfc3339(cutoffs.checkins_before),
                    "decided_requests_before": rfc3339(cutoffs.decided_requests_before),
                    "expired_at": rfc3339(cutoffs.now),
                })
                .to_string(),
            })
            .await?;
    }
    Ok(run)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `2022-12-13 00:00 UTC`: how pages and notices show an instant.
pub fn shown(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

// ----------------------------------------------------------------------------
// The offline switch

/// The shutdown schedule as this server last read it.
#[derive(Clone)]
pub struct OfflineBoard {
    shutdowns: Arc<RwLock<Vec<ServiceShutdown>>>,
    clock: Arc<dyn Clock>,
}

impl OfflineBoard {
    pub fn new(clock: Arc<dyn Clock>) -> OfflineBoard {
        OfflineBoard {
            shutdowns: Arc::new(RwLock::new(Vec::new())),
            clock,
        }
    }

    fn set(&self, shutdowns: Vec<ServiceShutdown>) {
        if let Ok(mut s) = self.shutdowns.write() {
            *s = shutdowns;
        }
    }

    /// Every recorded shutdown.
    pub fn all(&self) -> Vec<ServiceShutdown> {
        self.shutdowns.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// The service's shutdown, if its time has come.
    pub fn offline(&self, service: Service) -> Option<ServiceShutdown> {
        let now = self.clock.now();
        self.all()
            .into_iter()
            .find(|s| s.service == service && s.at <= now)
    }
}

/// Re-reads the schedule from the store.
pub async fn refresh<S: Store>(state: &AppState<S>) -> Result<(), StoreError> {
    let shutdowns = state.store.shutdowns().await?;
    state.offline.set(shutdowns);
    Ok(())
}

/// The guard of the health-code service's routes.
pub async fn guard_health_code(req: Request, next: Next) -> Response {
    guard(Service::HealthCode, req, next).await
}

/// The guard of the itinerary card's routes.
pub async fn guard_itinerary(req: Request, next: Next) -> Response {
    guard(Service::Itinerary, req, next).await
}

/// The guard of the venue check-in routes.
pub async fn guard_checkins(req: Request, next: Next) -> Response {
    guard(Service::Checkins, req, next).await
}

/// The guard of SMS sign-in (one-time codes, sessions), which both the
/// health code and the itinerary card use: offline once both are.
pub async fn guard_sms_sign_in(req: Request, next: Next) -> Response {
    guard_all(&[Service::HealthCode, Service::Itinerary], req, next).await
}

async fn guard(service: Service, req: Request, next: Next) -> Response {
    guard_all(&[service], req, next).await
}

/// Passes the request on unless every one of `services` is offline.
async fn guard_all(services: &[Service], req: Request, next: Next) -> Response {
    let board = req.extensions().get::<OfflineBoard>().cloned();
    let Some(board) = board else {
        // The router always installs the board; without it, refuse rather
        // than serve a service that may have ended.
        tracing::error!(?services, "no offline board on the request");
        return ApiError::internal("offline board missing").into_response();
    };
    let mut ended = services.iter().map(|&s| board.offline(s));
    let first = ended.next().flatten();
    let all_ended = first.is_some() && ended.all(|s| s.is_some());
    match first.filter(|_| all_ended) {
        None => next.run(req).await,
        Some(shutdown) => {
            let wants_json = req.uri().path().starts_with("/api/")
                || req
                    .headers()
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|a| a.contains("json") && !a.contains("text/html"));
            gone(&shutdown, wants_json)
        }
    }
}

/// The notice of an ended service, in both languages.
pub fn ended_notice(s: &ServiceShutdown) -> Text {
    let (zh_name, en_name) = service_names(s.service);
    Text::new(
        format!(
            "{zh_name}已于 {} 依据“{}”停止服务。",
            shown(s.at),
            s.decision
        ),
        format!(
            "The {en_name} ended on {} under decision “{}”.",
            shown(s.at),
            s.decision
        ),
    )
}

pub fn service_names(service: Service) -> (&'static str, &'static str) {
    match service {
        Service::HealthCode => ("健康码服务", "health-code service"),
        Service::Itinerary => ("通信行程卡服务", "itinerary card service"),
        Service::Checkins => ("场所扫码登记服务", "venue check-in service"),
    }
}

fn gone(s: &ServiceShutdown, json: bool) -> Response {
    let notice = ended_notice(s);
    if json {
        return ApiError::new(StatusCode::GONE, "service_ended", notice).into_response();
    }
    let mut links = String::new();
    if let Some(id) = &s.statement_id {
        links.push_str(&format!(
            "<li><a href=\"/deletion-statements/{id}\">删除声明 / Deletion statement</a></li>",
            id = esc(id)
        ));
    } else {
        links.push_str(
            "<li>个人数据删除后将在此公布删除声明。 / A deletion statement will be published here once the personal data is deleted: <a href=\"/deletion-statements\">/deletion-statements</a></li>",
        );
    }
    if s.service == Service::HealthCode && s.keep.iter().any(|k| k == KEEP_CODE_FACE) {
        links.push_str(
            "<li><a href=\"/code-face\">查看保留的码面 / See your kept code face</a></li>",
        );
    }
    let body = format!(
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>本服务已停止 · This service has ended</title><link rel="stylesheet" href="/assets/app.css"></head><body><main>
<h1>本服务已停止 · This service has ended</h1>
<p lang="zh-CN">{zh}</p><p lang="en">{en}</p><ul>{links}</ul></main></body></html>"#,
        zh = esc(&notice.zh),
        en = esc(&notice.en),
    );
    (StatusCode::GONE, Html(body)).into_response()
}

// ----------------------------------------------------------------------------
// Shutdowns

/// A shutdown as the operator asks for it.
#[derive(Debug, Clone)]
pub struct ShutdownRequest {
    pub service: Service,
    pub at: OffsetDateTime,
    pub decision: String,
    pub keep: Vec<String>,
    pub scheduled_by: String,
}

/// Checks and records a shutdown. It may lie in the past (then it is due
/// at once).
pub async fn schedule<S: Store>(
    store: &S,
    request: ShutdownRequest,
    now: OffsetDateTime,
) -> Result<ServiceShutdown, LifecycleError> {
    let decision = request.decision.trim();
    if decision.chars().count() < 4 || decision.chars().count() > 500 {
        return Err(LifecycleError::invalid(
            "decision",
            "须写明决定的文号与内容（4 至 500 个字）。",
            "Give the decision's id and text (4 to 500 characters).",
        ));
    }
    if decision.chars().any(char::is_control) {
        return Err(LifecycleError::invalid(
            "decision",
            "决定中不能有控制字符。",
            "The decision must not contain control characters.",
        ));
    }
    let mut keep = request.keep.clone();
    keep.sort();
    keep.dedup();
    for k in &keep {
        if k != KEEP_CODE_FACE {
            return Err(LifecycleError::invalid(
                "keep",
                format!("无法保留 {k:?}：只能保留 code-face（码面）。"),
                format!("Cannot keep {k:?}: only code-face can be kept."),
            ));
        }
        if request.service != Service::HealthCode {
            return Err(LifecycleError::invalid(
                "keep",
                "只有健康码服务有码面可保留。",
                "Only the health-code service has a code face to keep.",
            ));
        }
    }
    let shutdown = ServiceShutdown {
        service: request.service,
        at: request.at,
        decision: decision.to_owned(),
        keep,
        scheduled_at: now,
        scheduled_by: request.scheduled_by.clone(),
        executed_at: None,
        statement_id: None,
    };
    match store.schedule_shutdown(&shutdown).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(LifecycleError::invalid(
                "service",
                format!("{} 已有停止服务的决定。", request.service),
                format!("{} already has a shutdown.", request.service),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    store
        .append_audit(AuditRecord {
            at: now,
            actor: request.scheduled_by,
            action: "service.shutdown_scheduled".into(),
            subject: format!("service:{}", request.service),
            details: serde_json::json!({
                "at": rfc3339(shutdown.at),
                "decision": shutdown.decision,
                "keep": shutdown.keep,
            })
            .to_string(),
        })
        .await?;
    Ok(shutdown)
}

/// The statement id of a service's shutdown: `health-code-20230216T030000Z`.
pub fn statement_id(service: Service, at: OffsetDateTime) -> String {
    let t = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{service}-{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The key a kept code face is found by: a keyed hash (the phone-hash
/// secret, its own domain tag) of the phone's keyed hash and the identity
/// number together. Neither is stored, nor the phone's own hash.
pub fn face_lookup(secret: &[u8], phone: &PhoneHash, identity_number: &str) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(b"healthcode/kept-code-face/v1\0");
    ctx.update(&phone.0);
    ctx.update(identity_number.trim().to_ascii_uppercase().as_bytes());
    let tag = ctx.sign();
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Executes every shutdown whose time (plus [`OFFLINE_PROPAGATION`]) has
/// come and that has not run yet; returns their statements.
pub async fn execute_due<S: Store>(
    state: &AppState<S>,
    actor: &str,
) -> Result<Vec<DeletionStatementRecord>, LifecycleError> {
    let now = state.now();
    let due: Vec<_> = state
        .store
        .shutdowns()
        .await?
        .into_iter()
        .filter(|s| s.executed_at.is_none() && s.at + OFFLINE_PROPAGATION <= now)
        .collect();
    let mut done = Vec::new();
    for shutdown in due {
        match execute(state, &shutdown, actor).await {
            Ok(statement) => done.push(statement),
            // Another server (or the command line) finished it first.
            Err(LifecycleError::Store(StoreError::Conflict(_))) => {
                tracing::info!(service = %shutdown.service, "shutdown already executed elsewhere");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Executes one shutdown: keeps the code faces if the decision says so,
/// deletes the service's personal data, appends the counts to the audit
/// chain, compacts the database, and publishes the signed statement.
pub async fn execute<S: Store>(
    state: &AppState<S>,
    shutdown: &ServiceShutdown,
    actor: &str,
) -> Result<DeletionStatementRecord, LifecycleError> {
    let service = shutdown.service;
    let subject = format!("service:{service}");
    let id = statement_id(service, shutdown.at);
    tracing::warn!(%service, statement = %id, "executing the shutdown: deleting personal data");
    let keep_face = shutdown.keep.iter().any(|k| k == KEEP_CODE_FACE);
    let mut faces_kept = 0u64;
    if keep_face {
        faces_kept = keep_code_faces(state, shutdown.at).await?;
    }
    // A run cut short after the erasure finds its counts in the chain.
    let earlier = state
        .store
        .audit_about(&subject)
        .await?
        .into_iter()
        .rev()
        .find(|e| e.record.action == "service.data_erased");
    let counts = match earlier {
        Some(entry) => serde_json::from_str::<serde_json::Value>(&entry.record.details)
            .ok()
            .and_then(|v| serde_json::from_value::<Vec<ErasedCategory>>(v["deleted"].clone()).ok())
            .unwrap_or_default(),
        None => {
            let counts = match service {
                Service::HealthCode => state.store.erase_health_code_data().await?,
                Service::Itinerary => {
                    let erased = state.store.erase_itinerary_data().await?;
                    vec![
                        ErasedCategory::new("carrier_stays", erased.carrier_stays),
                        ErasedCategory::new("itinerary_card_queries", erased.card_queries),
                    ]
                }
                Service::Checkins => state.store.erase_checkin_data().await?,
            };
            state
                .store
                .append_audit(AuditRecord {
                    at: state.now(),
                    actor: actor.to_owned(),
                    action: "service.data_erased".into(),
                    subject: subject.clone(),
                    details: serde_json::json!({
                        "statement": id,
                        "decision": shutdown.decision,
                        "deleted": counts,
                        "code_faces_kept": faces_kept,
                    })
                    .to_string(),
                })
                .await?;
            counts
        }
    };
    let steps = state.store.compact_after_erasure().await?;
    for step in steps.iter().filter(|s| !s.done) {
        tracing::warn!(step = %step.step, note = ?step.note, "storage step not done");
    }
    let audit = match state.store.verify_audit(None).await? {
        Ok(summary) => Some(AuditAnchor {
            entries: summary.entries,
            head: summary.head.to_hex(),
        }),
        Err(chain_break) => {
            tracing::error!(%chain_break, "the audit chain does not verify");
            None
        }
    };
    let deleted_at = state.now();
    let others_ended: Vec<Service> = state
        .store
        .shutdowns()
        .await?
        .into_iter()
        .filter(|s| s.service != service && s.executed_at.is_some())
        .map(|s| s.service)
        .collect();
    let kept = kept_after(service, keep_face.then_some(faces_kept), &others_ended);
    let statement = DeletionStatement {
        kind: DELETION_STATEMENT_KIND.into(),
        id: id.clone(),
        publisher: state.publisher.description(),
        region: state.settings.region_id.clone(),
        service: service.as_str().into(),
        decision: shutdown.decision.clone(),
        offline_at: shutdown.at,
        deleted_at,
        deleted: counts
            .iter()
            .map(|c| DeletedRecords {
                category: c.category.clone(),
                records: c.records,
            })
            .collect(),
        kept,
        storage: steps
            .into_iter()
            .map(|s| StorageStepTaken {
                step: s.step,
                done: s.done,
                note: s.note,
            })
            .collect(),
        audit,
        not_reached: not_reached(),
        demo: state.publisher.demo || state.settings.demo,
    };
    let signed = statement
        .sign(&state.publisher.signing_key, &state.rng)
        .map_err(|e| LifecycleError::Sign(e.to_string()))?
        .to_json();
    let record = DeletionStatementRecord {
        id,
        service,
        published_at: deleted_at,
        signed_json: signed,
    };
    state
        .store
        .finish_shutdown(service, deleted_at, &record)
        .await?;
    refresh(state).await?;
    tracing::warn!(%service, statement = %record.id, records = statement.total_records(), "shutdown executed; deletion statement published");
    Ok(record)
}

/// What stays after a service's shutdown, said in its statement: what
/// the decision kept (`faces_kept`), the audit chain, the records that are
/// not personal data about citizens, and the personal data that belongs
/// to a service still running (`others_ended` lists those that are not).
pub fn kept_after(
    service: Service,
    faces_kept: Option<u64>,
    others_ended: &[Service],
) -> Vec<Bilingual> {
    let mut kept = Vec::new();
    if let Some(n) = faces_kept {
        kept.push(Bilingual::new(
            format!("码面（{n} 份）：每人停止服务时的颜色、脱敏姓名与脱敏证件号；不含证件号码全文、手机号或其哈希。凭手机号与证件号查看：/code-face"),
            format!("The code face ({n}): each person's colour at the shutdown with masked name and masked ID; no full identity number, phone number or phone hash. Shown for phone number and ID number: /code-face"),
        ));
    }
    kept.push(match service {
        Service::HealthCode => Bilingual::new(
            "审计链：完整保留以便核验；其中只有随机的匿名编号、操作类型与健康事实，没有姓名、证件号码或手机号；与个人的对应关系已随人员记录删除。",
            "The audit chain, kept whole so it still verifies: it holds random pseudonymous ids, actions and health facts, never names, identity numbers or phone numbers; the link to people was deleted with their records.",
        ),
        Service::Itinerary => Bilingual::new(
            "审计链：完整保留以便核验；其中没有行程卡的个人数据（手机号、行程与查询记录从不写入审计链），只有中高风险地区的发布与结束。",
            "The audit chain, kept whole so it still verifies: it holds none of the card's personal data (phones, stays and queries are never written to it), only risk areas published and ended.",
        ),
        Service::Checkins => Bilingual::new(
            "审计链：完整保留以便核验。其中与扫码有关的只有场所登记、添加随行人员（仅脱敏姓名与证件号）、公开时段，以及追踪判定的依据（场所与共处时间，人员以匿名编号表示）；不含姓名、证件号码或手机号。",
            "The audit chain, kept whole so it still verifies. What it holds of check-ins: venue registrations, dependents added (masked name and ID only), hours revealed, and the evidence of tracing designations (venue and times together, people by pseudonymous id); never names, identity numbers or phone numbers.",
        ),
    });
    let venues = Bilingual::new(
        "场所登记：场所名称、地址、行政区划、类别、位置网格、模式、登记人（工作人员用户名或“自助”）、场所凭证的哈希、加密场所已公开的每小时公钥。这些是经营场所的信息，不是公民的个人数据；已印出的场所码扫码后显示本服务已停止。",
        "Venue registrations: name, address, region, category, location cell, mode, who registered it (an official's username or self-service), the hash of the venue's credential, a sealed venue's published hourly public keys. These describe businesses and places, not citizens; a printed venue code now opens the notice that the service ended.",
    );
    match service {
        Service::HealthCode => {
            kept.push(Bilingual::new(
                "已撤销的码标识（撤销清单）：每次出示的码各有随机标识，不与任何人关联；保留以免已撤销的码重新生效。",
                "Revoked code ids (the revocation list): each code shown had its own random id, linked to no person; kept so that revoked codes do not become valid again.",
            ));
            kept.push(venues);
            kept.push(Bilingual::new(
                "已发布的中高风险地区、运营商与接入渠道的账户、其他地区的信任列表：均不是公民的个人数据。",
                "Published risk areas, carriers' and channels' accounts, other regions' trust lists: none of them is personal data about citizens.",
            ));
            if !others_ended.contains(&Service::Itinerary) {
                kept.push(Bilingual::new(
                    "运营商行程记录与行程卡查询记录：属于仍在运行的通信行程卡服务（按手机号的带密钥哈希保存），随其保存期限或其停止服务而删除。",
                    "Carrier stays and itinerary-card queries: they belong to the itinerary card, still running (kept by the phone's keyed hash), and go with its retention or its own shutdown.",
                ));
            }
        }
        Service::Checkins => {
            kept.push(venues);
            if !others_ended.contains(&Service::HealthCode) {
                kept.push(Bilingual::new(
                    "健康码服务的人员记录及相关数据（仍在运行）：随其停止服务而删除，届时一并删除之后可能产生的扫码数据。",
                    "The health-code service's records of people (still running): deleted at its own shutdown, with any check-in data there is by then.",
                ));
            }
        }
        Service::Itinerary => {
            kept.push(Bilingual::new(
                "已发布的中高风险地区与运营商账户：不是公民的个人数据。",
                "Published risk areas and carriers' accounts: not personal data about citizens.",
            ));
        }
    }
    kept
}

/// What the software cannot reach, said in every statement.
fn not_reached() -> Vec<Bilingual> {
    vec![
        Bilingual::new(
            "数据库备份与快照：运维方须按 docs/lifecycle.md 删除停服前的备份。",
            "Database backups and snapshots: the operator deletes those from before the shutdown (docs/lifecycle.md).",
        ),
        Bilingual::new(
            "数据库副本与 WAL 归档：须在各副本重放本次删除并清理归档。",
            "Replicas and WAL archives: each replica replays this deletion; archives are purged by the operator.",
        ),
        Bilingual::new(
            "服务器日志、短信网关与反向代理的记录：本软件不记录手机号或证件号，其他系统须自行清理。",
            "Server, SMS gateway and reverse-proxy logs: this software logs no phone or identity numbers; other systems are cleaned by their operators.",
        ),
    ]
}

/// Stores every person's code face as it stands at `at`; returns how many.
async fn keep_code_faces<S: Store>(
    state: &AppState<S>,
    at: OffsetDateTime,
) -> Result<u64, LifecycleError> {
    let secret = state.settings.phone_hash_secret.expose().as_bytes();
    let mut after = None;
    let mut kept = 0u64;
    loop {
        let people = state.store.persons_after(after.as_ref(), FACE_PAGE).await?;
        let mut faces = Vec::with_capacity(people.len());
        for person in &people {
            let events = state.store.events(&person.id).await?;
            let decision = state.rules.evaluate(&events, at);
            let number = person.identity.number();
            faces.push(KeptCodeFace {
                lookup: face_lookup(secret, &person.phone, number),
                colour: decision.colour.as_str().to_owned(),
                masked_name: mask_name(&person.full_name),
                masked_id: mask_id(number),
                kind: person.identity.code_kind().as_str().to_owned(),
                status_as_of: at,
            });
        }
        state.store.put_kept_code_faces(&faces).await?;
        kept = kept.saturating_add(faces.len() as u64);
        match people.last() {
            Some(last) if people.len() == FACE_PAGE as usize => after = Some(last.id.clone()),
            _ => return Ok(kept),
        }
    }
}

// ----------------------------------------------------------------------------
// The background job

/// Re-reads the schedule every [`SCHEDULE_REFRESH`], executes shutdowns
/// when due, and purges every `retention.purge_interval_minutes`.
pub async fn background<S: Store>(state: AppState<S>) {
    let mut every = tokio::time::interval(SCHEDULE_REFRESH);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let purge_every = u64::try_from(state.settings.retention.purge_interval_minutes)
        .unwrap_or(10)
        .saturating_mul(60)
        / SCHEDULE_REFRESH.as_secs().max(1);
    let mut tick: u64 = 0;
    loop {
        every.tick().await;
        if let Err(e) = refresh(&state).await {
            tracing::warn!(error = %e, "reading the shutdown schedule failed");
        }
        let pending = state.offline.all().iter().any(|s| s.executed_at.is_none());
        if pending {
            if let Err(e) = execute_due(&state, "system:lifecycle").await {
                tracing::error!(error = %e, "executing a due shutdown failed; retrying");
            }
        }
        if tick.is_multiple_of(purge_every.max(1)) {
            if let Err(e) = purge(
                &state.store,
                &state.settings,
                state.now(),
                "system:retention",
                false,
            )
            .await
            {
                tracing::warn!(error = %e, "retention purge failed");
            }
            if let Err(e) = state.expire_requests().await {
                tracing::warn!(error = %e.message.en, "expiring undecided approval requests failed");
            }
        }
        tick = tick.wrapping_add(1);
    }
}
