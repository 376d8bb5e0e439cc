//! The JSON API of oversight, merged into the OpenAPI document by
//! [`MergeOversight`].

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use healthcode_core::AuditRecord;
use healthcode_store::oversight::{RequestKind, RequestState};
use healthcode_store::{PersonRecord, Store};
use serde::{Deserialize, Serialize};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi, ToSchema};

use crate::api::PersonView;
use crate::auth::{Citizen, Official};
use crate::error::{ApiError, ApiJson, ApiQuery, ErrorBody};
use crate::i18n::Text;
use crate::oversight::export::ExportSubject;
use crate::oversight::plain::{
    access_view, correction_view, AccessView, AnswerView, ChainStatusView, CorrectionView,
    RecordEntryView, RequestView,
};
use crate::oversight::service::{
    fmt_time, AnswerInput, BulkInput, CorrectionInput, DecisionInput, ItemResult, OverrideInput,
};
use crate::state::AppState;

pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route(
            "/api/v1/override-requests",
            post(request_override::<S>).get(list_overrides::<S>),
        )
        .route(
            "/api/v1/bulk-actions",
            post(request_bulk::<S>).get(list_bulk::<S>),
        )
        .route("/api/v1/approval-requests/{id}", get(show_request::<S>))
        .route("/api/v1/approval-requests/{id}/decision", post(decide::<S>))
        .route("/api/v1/corrections", get(open_corrections::<S>))
        .route("/api/v1/corrections/{id}/answer", post(answer::<S>))
        .route("/api/v1/me/record", get(my_record::<S>))
        .route("/api/v1/me/corrections", post(file_correction::<S>))
        .route("/api/v1/me/access-log", get(my_access_log::<S>))
        .route("/api/v1/me/export", get(my_export::<S>))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        request_override,
        list_overrides,
        request_bulk,
        list_bulk,
        show_request,
        decide,
        open_corrections,
        answer,
        my_record,
        file_correction,
        my_access_log,
        my_export
    ),
    components(schemas(
        OverrideInput,
        BulkInput,
        DecisionInput,
        CorrectionInput,
        AnswerInput,
        RequestView,
        ItemResult,
        CorrectionView,
        AnswerView,
        AccessView,
        RecordEntryView,
        ChainStatusView,
        MyRecordView
    ))
)]
pub struct OversightApi;

/// Adds the oversight paths to the main API document.
pub struct MergeOversight;

impl Modify for MergeOversight {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        openapi.merge(OversightApi::openapi());
    }
}

#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// `pending` (default, oldest first), `approved`, `rejected` or `expired`
    /// (latest decision first).
    #[serde(default)]
    pub state: Option<String>,
}

fn state_of(q: &QueueQuery) -> Result<RequestState, ApiError> {
    match q.state.as_deref() {
        None => Ok(RequestState::Pending),
        Some(s) => RequestState::parse(s).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                Text::new(
                    "state 应为 pending、approved、rejected 或 expired。",
                    "state must be pending, approved, rejected or expired.",
                ),
            )
            .with_field("state")
        }),
    }
}

/// Queues show at most this many requests.
const QUEUE_LIMIT: u32 = 200;

async fn request_view<S: Store>(
    state: &AppState<S>,
    r: &healthcode_store::oversight::ApprovalRequest,
) -> Result<RequestView, ApiError> {
    let person = match &r.person {
        Some(p) => state.store.person(p).await?,
        None => None,
    };
    Ok(RequestView::new(r, person.as_ref()))
}

pub async fn queue<S: Store>(
    state: &AppState<S>,
    kind: RequestKind,
    which: RequestState,
) -> Result<Vec<RequestView>, ApiError> {
    state.expire_requests().await?;
    let mut out = Vec::new();
    for r in state.store.requests(kind, which, QUEUE_LIMIT).await? {
        out.push(request_view(state, &r).await?);
    }
    Ok(out)
}

#[utoipa::path(post, path = "/api/v1/override-requests", request_body = OverrideInput,
    responses((status = 201, body = RequestView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn request_override<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    ApiJson(input): ApiJson<OverrideInput>,
) -> Result<(StatusCode, Json<RequestView>), ApiError> {
    let r = state.request_override(&official.account, &input).await?;
    Ok((StatusCode::CREATED, Json(request_view(&state, &r).await?)))
}

#[utoipa::path(get, path = "/api/v1/override-requests", params(QueueQuery),
    responses((status = 200, body = [RequestView]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_overrides<S: Store>(
    State(state): State<AppState<S>>,
    _official: Official,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> Result<Json<Vec<RequestView>>, ApiError> {
    Ok(Json(
        queue(&state, RequestKind::Override, state_of(&q)?).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/bulk-actions", request_body = BulkInput,
    responses((status = 201, body = RequestView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn request_bulk<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    ApiJson(input): ApiJson<BulkInput>,
) -> Result<(StatusCode, Json<RequestView>), ApiError> {
    let r = state.request_bulk(&official.account, &input).await?;
    Ok((StatusCode::CREATED, Json(RequestView::new(&r, None))))
}

#[utoipa::path(get, path = "/api/v1/bulk-actions", params(QueueQuery),
    responses((status = 200, body = [RequestView]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_bulk<S: Store>(
    State(state): State<AppState<S>>,
    _official: Official,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> Result<Json<Vec<RequestView>>, ApiError> {
    Ok(Json(queue(&state, RequestKind::Bulk, state_of(&q)?).await?))
}

#[utoipa::path(get, path = "/api/v1/approval-requests/{id}",
    params(("id" = String, Path, description = "Request id")),
    responses((status = 200, body = RequestView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn show_request<S: Store>(
    State(state): State<AppState<S>>,
    _official: Official,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, ApiError> {
    state.expire_requests().await?;
    let r = state
        .store
        .request(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("此申请", "Request"))?;
    Ok(Json(request_view(&state, &r).await?))
}

#[utoipa::path(post, path = "/api/v1/approval-requests/{id}/decision", request_body = DecisionInput,
    params(("id" = String, Path, description = "Request id")),
    responses((status = 200, body = RequestView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn decide<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<DecisionInput>,
) -> Result<Json<RequestView>, ApiError> {
    let r = state.decide_request(&official.account, &id, &input).await?;
    Ok(Json(request_view(&state, &r).await?))
}

pub async fn correction_queue<S: Store>(
    state: &AppState<S>,
) -> Result<Vec<CorrectionView>, ApiError> {
    let now = state.now();
    let mut out = Vec::new();
    for c in state.store.open_corrections(QUEUE_LIMIT).await? {
        let person = state.store.person(&c.person).await?;
        out.push(correction_view(&c, now, person.as_ref(), None));
    }
    Ok(out)
}

#[utoipa::path(get, path = "/api/v1/corrections",
    responses((status = 200, body = [CorrectionView], description = "Open correction requests, oldest first; `overdue` past their deadline"), (status = 401, body = ErrorBody)))]
async fn open_corrections<S: Store>(
    State(state): State<AppState<S>>,
    _official: Official,
) -> Result<Json<Vec<CorrectionView>>, ApiError> {
    Ok(Json(correction_queue(&state).await?))
}

#[utoipa::path(post, path = "/api/v1/corrections/{id}/answer", request_body = AnswerInput,
    params(("id" = String, Path, description = "Correction request id")),
    responses((status = 200, body = CorrectionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn answer<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<AnswerInput>,
) -> Result<Json<CorrectionView>, ApiError> {
    let c = state
        .answer_correction(&official.account, &id, &input)
        .await?;
    let person = state.store.person(&c.person).await?;
    let roles = official.account.roles.clone();
    Ok(Json(correction_view(
        &c,
        state.now(),
        person.as_ref(),
        Some(&roles),
    )))
}

/// Everything a person may see about their own record.
#[derive(Serialize, ToSchema)]
pub struct MyRecordView {
    pub person: PersonView,
    /// The current colour and why.
    pub colour: String,
    pub explanation: Text,
    /// Integrity of the audit chain around the entries about you.
    pub chain: ChainStatusView,
    /// Every audit entry about you, oldest first, in plain words.
    pub entries: Vec<RecordEntryView>,
    /// Your correction requests, newest first, with answers.
    pub corrections: Vec<CorrectionView>,
    /// Override requests about you, in any state.
    pub override_requests: Vec<RequestView>,
    /// Officials' reads of your data, newest first.
    pub accesses: Vec<AccessView>,
}

/// Reads shown on the record page and in the API.
const ACCESS_LIMIT: u32 = 500;

pub async fn my_person<S: Store>(
    state: &AppState<S>,
    citizen: &Citizen,
) -> Result<PersonRecord, ApiError> {
    state
        .person_for_phone(&citizen.phone)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("健康码申领记录（请先申领）", "Application (apply first)")
        })
}

pub async fn record_of<S: Store>(
    state: &AppState<S>,
    person: &PersonRecord,
) -> Result<MyRecordView, ApiError> {
    state.expire_requests().await?;
    let events = state.store.events(&person.id).await?;
    let decision = state.rules.evaluate(&events, state.now());
    let (entries, chain) = state.record_entries(person, &decision).await?;
    let now = state.now();
    let mut corrections = Vec::new();
    for c in state.store.corrections_about(&person.id).await? {
        let roles = match &c.answer {
            Some(a) => Some(state.roles_of(&a.by).await?),
            None => None,
        };
        corrections.push(correction_view(&c, now, None, roles.as_deref()));
    }
    Ok(MyRecordView {
        person: PersonView::from(person),
        colour: decision.colour.as_str().to_owned(),
        explanation: Text::new(
            decision.explanation.zh.clone(),
            decision.explanation.en.clone(),
        ),
        chain,
        entries,
        corrections,
        override_requests: state.request_views_about(person).await?,
        accesses: state
            .store
            .accesses_about(&person.id, ACCESS_LIMIT)
            .await?
            .iter()
            .map(access_view)
            .collect(),
    })
}

#[utoipa::path(get, path = "/api/v1/me/record",
    responses((status = 200, body = MyRecordView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn my_record<S: Store>(
    State(state): State<AppState<S>>,
    citizen: Citizen,
) -> Result<Response, ApiError> {
    let person = my_person(&state, &citizen).await?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(record_of(&state, &person).await?),
    )
        .into_response())
}

#[utoipa::path(post, path = "/api/v1/me/corrections", request_body = CorrectionInput,
    responses((status = 201, body = CorrectionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn file_correction<S: Store>(
    State(state): State<AppState<S>>,
    citizen: Citizen,
    ApiJson(input): ApiJson<CorrectionInput>,
) -> Result<(StatusCode, Json<CorrectionView>), ApiError> {
    let person = my_person(&state, &citizen).await?;
    let c = state.file_correction(&person, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(correction_view(&c, state.now(), None, None)),
    ))
}

#[utoipa::path(get, path = "/api/v1/me/access-log",
    responses((status = 200, body = [AccessView], description = "Officials' reads of your data, newest first"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn my_access_log<S: Store>(
    State(state): State<AppState<S>>,
    citizen: Citizen,
) -> Result<Json<Vec<AccessView>>, ApiError> {
    let person = my_person(&state, &citizen).await?;
    Ok(Json(
        state
            .store
            .accesses_about(&person.id, ACCESS_LIMIT)
            .await?
            .iter()
            .map(access_view)
            .collect(),
    ))
}

/// The export as a download, rate-limited and audited.
pub async fn export_response<S: Store>(
    state: &AppState<S>,
    citizen: &Citizen,
) -> Result<Response, ApiError> {
    let person = my_person(state, citizen).await?;
    let now = state.now();
    state
        .limiter
        .check(
            &format!("export:{}", person.id),
            state.settings.oversight.exports_per_hour as usize,
            time::Duration::hours(1),
            now,
        )
        .map_err(ApiError::too_many)?;
    let doc = state
        .export_for(&ExportSubject {
            person: &person,
            phone: &citizen.phone,
        })
        .await?;
    state
        .store
        .append_audit(AuditRecord {
            at: now,
            actor: "self".into(),
            action: "export.downloaded".into(),
            subject: person.id.to_string(),
            details: serde_json::json!({"format": crate::oversight::export::EXPORT_FORMAT})
                .to_string(),
        })
        .await?;
    let body = serde_json::to_string_pretty(&doc).map_err(ApiError::internal)?;
    let date = fmt_time(now).get(..10).unwrap_or("export").to_owned();
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"healthcode-my-data-{date}.json\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/me/export",
    responses((status = 200, description = "Everything held about you, as one JSON file (format healthcode-export/1)", content_type = "application/json"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn my_export<S: Store>(
    State(state): State<AppState<S>>,
    citizen: Citizen,
) -> Result<Response, ApiError> {
    export_response(&state, &citizen).await
}
