//! The venue and tracing JSON API, documented in OpenAPI ([`VenueApi`]).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use healthcode_core::mask::{mask_id, mask_name};
use std::collections::HashMap;

use healthcode_core::tracing::{Implausibility, Subject, VenueCandidate, Visit, Window};
use healthcode_store::venues::{VenueId, VenueRecord};
use healthcode_store::{PersonId, PersonRecord, Store};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::{OpenApi, ToSchema};

use super::logic::{
    health_official, Batch, BatchItem, BatchResult, CompanionCandidate, Designation, ItemError,
    Registrar, VenueInput, OPERATOR_PREFIX,
};
use super::{base_url, poster, rfc3339};
use crate::auth::{self, Citizen, ClientIp, Official};
use crate::error::{ApiError, ApiJson, ApiQuery, ErrorBody};
use crate::state::AppState;

pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/venues", post(register::<S>).get(list::<S>))
        .route("/api/v1/venues/self-service", post(self_register::<S>))
        .route("/api/v1/venues/{id}", get(venue::<S>))
        .route("/api/v1/venues/{id}/checkins", get(venue_checkins::<S>))
        .route("/api/v1/venues/{id}/poster.svg", get(poster_svg::<S>))
        .route("/api/v1/venues/{id}/reveal", post(reveal::<S>))
        .route("/api/v1/checkins", post(check_in::<S>))
        .route("/api/v1/checkins/batch", post(batch::<S>))
        .route(
            "/api/v1/me/dependents",
            get(dependents::<S>).post(add_dependent::<S>),
        )
        // Every route above is the venue check-in service's (lifecycle).
        .route_layer(axum::middleware::from_fn(crate::lifecycle::guard_checkins))
        // Tracing is the health authority's: it designates close contacts
        // in the health code.
        .route("/api/v1/tracing/candidates", post(candidates::<S>))
        .route("/api/v1/tracing/designations", post(designate::<S>))
        .route_layer(axum::middleware::from_fn(
            crate::lifecycle::guard_health_code,
        ))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        register,
        self_register,
        list,
        venue,
        venue_checkins,
        poster_svg,
        reveal,
        check_in,
        batch,
        dependents,
        add_dependent,
        candidates,
        designate
    ),
    components(schemas(
        VenueInput,
        VenueView,
        RegisteredView,
        CheckinView,
        CheckInRequest,
        CheckedIn,
        Batch,
        BatchItem,
        BatchResult,
        ItemError,
        DependentInput,
        DependentView,
        RevealRequest,
        Revealed,
        TraceRequest,
        TraceView,
        CandidateView,
        CompanionView,
        OverlapView,
        DesignationRequest,
        Designation
    ))
)]
pub struct VenueApi;

/// A venue as shown to its operator and to officials.
#[derive(Debug, Serialize, ToSchema)]
pub struct VenueView {
    pub id: String,
    pub name: String,
    pub address: String,
    pub region_code: String,
    pub category: String,
    pub cell: Option<String>,
    /// `open` or `sealed`.
    pub mode: String,
    pub demo: bool,
    pub registered_by: String,
    pub created_at: String,
    /// The URL the venue QR encodes (`/v/<signed token>`).
    pub check_in_url: String,
    pub poster_url: String,
}

pub(crate) fn venue_view<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    v: &VenueRecord,
) -> Result<VenueView, ApiError> {
    Ok(VenueView {
        id: v.id.to_string(),
        name: v.name.clone(),
        address: v.address.clone(),
        region_code: v.region_code.clone(),
        category: v.category.clone(),
        cell: v.cell.clone(),
        mode: v.mode.as_str().into(),
        demo: v.demo,
        registered_by: v.registered_by.clone(),
        created_at: rfc3339(v.created_at),
        check_in_url: format!("{}/v/{}", base_url(headers), state.venue_token(v)?),
        poster_url: format!("/api/v1/venues/{}/poster.svg", v.id),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredView {
    pub venue: VenueView,
    /// The operator's credential, shown once: send as
    /// `Authorization: Bearer <token>` or sign in at `/venue`.
    pub operator_token: String,
    /// Sealed venues: the venue key (64 hex digits), shown once and never
    /// stored. Needed to reveal hours to the health authority.
    pub venue_key: Option<String>,
}

fn registered<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    r: super::logic::Registered,
) -> Result<Response, ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(RegisteredView {
            venue: venue_view(state, headers, &r.venue)?,
            operator_token: r.operator_token,
            venue_key: r.venue_seed,
        }),
    )
        .into_response())
}

#[utoipa::path(post, path = "/api/v1/venues", request_body = VenueInput,
    responses((status = 201, body = RegisteredView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn register<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    headers: HeaderMap,
    ApiJson(input): ApiJson<VenueInput>,
) -> Result<Response, ApiError> {
    let r = state
        .register_venue(&input, Registrar::Official(&official.account))
        .await?;
    registered(&state, &headers, r)
}

#[utoipa::path(post, path = "/api/v1/venues/self-service", request_body = VenueInput,
    responses((status = 201, body = RegisteredView), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn self_register<S: Store>(
    State(state): State<AppState<S>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(input): ApiJson<VenueInput>,
) -> Result<Response, ApiError> {
    state
        .limiter
        .check(
            &format!("venue-register:{ip}"),
            10,
            Duration::hours(1),
            state.now(),
        )
        .map_err(ApiError::too_many)?;
    let r = state.register_venue(&input, Registrar::SelfService).await?;
    registered(&state, &headers, r)
}

#[utoipa::path(get, path = "/api/v1/venues",
    responses((status = 200, body = [VenueView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    headers: HeaderMap,
) -> Result<Json<Vec<VenueView>>, ApiError> {
    health_official(&official.account)?;
    let venues = state.store.venues(500).await?;
    Ok(Json(
        venues
            .iter()
            .map(|v| venue_view(&state, &headers, v))
            .collect::<Result<_, _>>()?,
    ))
}

/// The operator token a request carries (`Authorization: Bearer hcv_…` or
/// the `hc_venue` cookie).
pub(crate) fn operator_token(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = auth::token_of(headers).filter(|t| t.starts_with(OPERATOR_PREFIX)) {
        return Some(t);
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("hc_venue=").map(str::to_owned))
}

/// The venue `id` if the caller is its operator or a health official.
async fn venue_for_caller<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    id: &str,
) -> Result<VenueRecord, ApiError> {
    let id = VenueId::parse(id).ok_or_else(|| {
        ApiError::invalid(
            "id",
            "场所编号须为 16 位十六进制数字。",
            "The venue id must be 16 hex digits.",
        )
    })?;
    if let Some(token) = operator_token(headers) {
        return match state.operator_venue(&token).await? {
            Some(v) if v.id == id => Ok(v),
            Some(_) => Err(ApiError::forbidden(
                "场所只能查看本场所的信息。",
                "A venue may only see its own records.",
            )),
            None => Err(ApiError::unauthorized()),
        };
    }
    let official = auth::official(state, headers)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    health_official(&official.account)?;
    state
        .store
        .venue(id)
        .await?
        .ok_or_else(|| ApiError::not_found("此场所", "Venue"))
}

#[utoipa::path(get, path = "/api/v1/venues/{id}", params(("id" = String, Path)),
    responses((status = 200, body = VenueView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn venue<S: Store>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<VenueView>, ApiError> {
    let v = venue_for_caller(&state, &headers, &id).await?;
    Ok(Json(venue_view(&state, &headers, &v)?))
}

/// A check-in as a venue sees it: masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinView {
    pub name: String,
    pub document: String,
    /// 0: the person who scanned; n: their n-th dependent.
    pub dependent: u16,
    pub arrived: String,
    pub left: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Range {
    #[serde(default, with = "time::serde::rfc3339::option")]
    from: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    to: Option<OffsetDateTime>,
}

/// Masked check-ins of a venue (newest first, at most 500).
pub(crate) async fn masked_checkins<S: Store>(
    state: &AppState<S>,
    venue: &VenueRecord,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<Vec<CheckinView>, ApiError> {
    let rows = state.store.venue_checkins(venue.id, from, to, 500).await?;
    let mut people: std::collections::HashMap<PersonId, (Option<PersonRecord>, Vec<_>)> =
        std::collections::HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for c in rows {
        if !people.contains_key(&c.person) {
            let p = state.store.person(&c.person).await?;
            let deps = state.store.dependents(&c.person).await?;
            people.insert(c.person.clone(), (p, deps));
        }
        let (name, document) = match people.get(&c.person) {
            Some((Some(p), deps)) if c.dependent > 0 => deps
                .iter()
                .find(|d| d.number == c.dependent)
                .map(|d| (mask_name(&d.full_name), mask_id(d.identity.number())))
                .unwrap_or_else(|| (mask_name(&p.full_name), "—".into())),
            Some((Some(p), _)) => (mask_name(&p.full_name), mask_id(p.identity.number())),
            _ => ("—".into(), "—".into()),
        };
        out.push(CheckinView {
            name,
            document,
            dependent: c.dependent,
            arrived: rfc3339(c.arrived),
            left: rfc3339(c.left),
        });
    }
    Ok(out)
}

#[utoipa::path(get, path = "/api/v1/venues/{id}/checkins",
    params(("id" = String, Path), ("from" = Option<String>, Query, description = "RFC 3339; default 14 days ago"), ("to" = Option<String>, Query, description = "RFC 3339; default now")),
    responses((status = 200, body = [CheckinView]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn venue_checkins<S: Store>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(range): ApiQuery<Range>,
) -> Result<Json<Vec<CheckinView>>, ApiError> {
    let v = venue_for_caller(&state, &headers, &id).await?;
    let to = range
        .to
        .unwrap_or_else(|| state.now() + Duration::minutes(1));
    let from = range.from.unwrap_or(to - Duration::days(14));
    Ok(Json(masked_checkins(&state, &v, from, to).await?))
}

#[utoipa::path(get, path = "/api/v1/venues/{id}/poster.svg", params(("id" = String, Path)),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn poster_svg<S: Store>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let v = venue_for_caller(&state, &headers, &id).await?;
    poster_response(&state, &headers, &v)
}

pub(crate) fn poster_response<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    v: &VenueRecord,
) -> Result<Response, ApiError> {
    let url = format!("{}/v/{}", base_url(headers), state.venue_token(v)?);
    let code_name = format!(
        "{} {}",
        state.settings.code_name.zh, state.settings.code_name.en
    );
    let svg = poster::poster_svg(v, &url, &code_name, &state.issuer_id)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "image/svg+xml; charset=utf-8".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"venue-{}.svg\"", v.id),
            ),
        ],
        svg,
    )
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    /// The venue key given at registration (64 hex digits).
    pub venue_key: String,
    /// The hours to reveal, RFC 3339 (at most 14 days).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub to: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revealed {
    pub hours_revealed: usize,
}

#[utoipa::path(post, path = "/api/v1/venues/{id}/reveal", params(("id" = String, Path)), request_body = RevealRequest,
    responses((status = 200, body = Revealed), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reveal<S: Store>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RevealRequest>,
) -> Result<Json<Revealed>, ApiError> {
    let Some(token) = operator_token(&headers) else {
        return Err(ApiError::unauthorized());
    };
    let v = match state.operator_venue(&token).await? {
        Some(v) if v.id.to_string() == id => v,
        Some(_) => {
            return Err(ApiError::forbidden(
                "只能公开本场所的时段。",
                "A venue may only reveal its own hours.",
            ))
        }
        None => return Err(ApiError::unauthorized()),
    };
    let from = healthcode_codec::sealed::hour_of(req.from.unix_timestamp());
    let to = healthcode_codec::sealed::hour_of(req.to.unix_timestamp());
    let n = state.reveal_hours(&v, &req.venue_key, from, to).await?;
    Ok(Json(Revealed { hours_revealed: n }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    /// The token of the venue QR (the part after `/v/`).
    pub venue_token: String,
    /// Dependents checked in too (their numbers).
    #[serde(default)]
    pub dependents: Vec<u16>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckedIn {
    pub venue: String,
    pub venue_name: String,
    pub arrived: String,
    pub until: String,
    pub people: usize,
    /// Where the live health code is: show it to the guard.
    pub code_url: String,
}

#[utoipa::path(post, path = "/api/v1/checkins", request_body = CheckInRequest,
    responses((status = 201, body = CheckedIn), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn check_in<S: Store>(
    State(state): State<AppState<S>>,
    citizen: Citizen,
    ApiJson(req): ApiJson<CheckInRequest>,
) -> Result<(StatusCode, Json<CheckedIn>), ApiError> {
    let person = state
        .person_for_phone(&citizen.phone)
        .await?
        .ok_or_else(|| ApiError::not_found("健康码", "Health code"))?;
    let venue = state.venue_for_token(&req.venue_token).await?;
    let done = state.check_in(&person, &venue, &req.dependents).await?;
    let first = done
        .first()
        .ok_or_else(|| ApiError::internal("no check-in"))?;
    Ok((
        StatusCode::CREATED,
        Json(CheckedIn {
            venue: venue.id.to_string(),
            venue_name: venue.name.clone(),
            arrived: rfc3339(first.arrived),
            until: rfc3339(first.left),
            people: done.len(),
            code_url: "/api/v1/me/code".into(),
        }),
    ))
}

#[utoipa::path(post, path = "/api/v1/checkins/batch", request_body = Batch,
    description = "Check-ins in bulk (a venue's scanner, a channel app, an official importing registers). Each item is checked on its own: a bad item is reported with its index and reason and skipped. Idempotent on each item's client_id (per venue operator or official). Bodies are limited to 64 KiB (about 400 items).",
    responses((status = 200, body = BatchResult), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, description = "The body is over 64 KiB"), (status = 422, body = ErrorBody)))]
async fn batch<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    ApiJson(batch): ApiJson<Batch>,
) -> Result<Json<BatchResult>, ApiError> {
    if let Some(token) = operator_token(&headers) {
        let venue = state
            .operator_venue(&token)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let scope = format!("venue:{}", venue.id);
        return Ok(Json(state.ingest_batch(&scope, Some(&venue), batch).await?));
    }
    let official = auth::official(&state, &headers)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    health_official(&official.account)?;
    let scope = format!("official:{}", official.account.username);
    Ok(Json(state.ingest_batch(&scope, None, batch).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DependentInput {
    pub name: String,
    /// Resident ID number (GB 11643, 18 characters).
    pub identity_number: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DependentView {
    pub number: u16,
    pub name: String,
    pub document: String,
}

async fn me<S: Store>(state: &AppState<S>, citizen: &Citizen) -> Result<PersonRecord, ApiError> {
    state
        .person_for_phone(&citizen.phone)
        .await?
        .ok_or_else(|| ApiError::not_found("健康码", "Health code"))
}

#[utoipa::path(get, path = "/api/v1/me/dependents",
    responses((status = 200, body = [DependentView]), (status = 401, body = ErrorBody)))]
async fn dependents<S: Store>(
    State(state): State<AppState<S>>,
    citizen: Citizen,
) -> Result<Json<Vec<DependentView>>, ApiError> {
    let person = me(&state, &citizen).await?;
    let list = state.store.dependents(&person.id).await?;
    Ok(Json(
        list.iter()
            .map(|d| DependentView {
                number: d.number,
                name: mask_name(&d.full_name),
                document: mask_id(d.identity.number()),
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/me/dependents", request_body = DependentInput,
    responses((status = 201, body = DependentView), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_dependent<S: Store>(
    State(state): State<AppState<S>>,
    citizen: Citizen,
    ApiJson(input): ApiJson<DependentInput>,
) -> Result<(StatusCode, Json<DependentView>), ApiError> {
    let person = me(&state, &citizen).await?;
    let d = state
        .add_dependent(&person, &input.name, &input.identity_number)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(DependentView {
            number: d.number,
            name: mask_name(&d.full_name),
            document: mask_id(d.identity.number()),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceRequest {
    /// The confirmed case's document number.
    pub case_identity_number: String,
    /// Default: 14 days before `to`.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub from: Option<OffsetDateTime>,
    /// Default: now.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub to: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverlapView {
    pub venue: String,
    pub venue_name: String,
    pub together_from: String,
    pub together_to: String,
    pub stay_from: String,
    pub stay_to: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CandidateView {
    pub person: String,
    pub dependent: u16,
    pub name: String,
    pub document: String,
    pub together_seconds: i64,
    pub overlaps: Vec<OverlapView>,
    /// Set when the carrier saw this phone in another city (this GB/T 2260
    /// code) at check-in: a check-in that may be a scanned photo.
    pub implausible_city: Option<String>,
}

/// A spatiotemporal companion (时空伴随) from carrier stays.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanionView {
    /// The person with this phone here, if any (masked below).
    pub person: Option<String>,
    pub name: String,
    pub document: String,
    pub cell: String,
    pub city_code: String,
    pub together_from: String,
    pub together_to: String,
    pub together_seconds: i64,
    pub case_cumulative_seconds: i64,
    pub cumulative_seconds: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TraceView {
    pub case: String,
    pub from: String,
    pub to: String,
    /// The case's own stays found.
    pub case_visits: usize,
    /// Candidates only: nobody's colour changes until an official confirms.
    pub candidates: Vec<CandidateView>,
    /// Spatiotemporal companions from the carriers' location cells.
    pub companions: Vec<CompanionView>,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

pub(crate) async fn resolve_case<S: Store>(
    state: &AppState<S>,
    number: &str,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
) -> Result<(PersonRecord, Window), ApiError> {
    let case = state
        .find_person(number)
        .await?
        .ok_or_else(|| ApiError::not_found("此病例", "Case").with_field("case_identity_number"))?;
    let to = to.unwrap_or_else(|| state.now());
    let from = from.unwrap_or(to - Duration::days(14));
    if to - from > Duration::days(30) {
        return Err(ApiError::invalid(
            "from",
            "追踪时间窗口至多 30 天。",
            "The tracing window is at most 30 days.",
        ));
    }
    let window = Window::new(from, to).map_err(|_| {
        ApiError::invalid(
            "to",
            "结束时间须晚于开始时间。",
            "The window must end after it starts.",
        )
    })?;
    Ok((case, window))
}

pub(crate) async fn companion_views<S: Store>(
    state: &AppState<S>,
    found: &[CompanionCandidate],
) -> Result<Vec<CompanionView>, ApiError> {
    let mut out = Vec::with_capacity(found.len());
    for f in found {
        let person = match f.person.as_deref().and_then(PersonId::parse) {
            Some(id) => state.store.person(&id).await?,
            None => None,
        };
        let c = &f.companion;
        out.push(CompanionView {
            person: f.person.clone(),
            name: person
                .as_ref()
                .map_or("—".into(), |p| mask_name(&p.full_name)),
            document: person
                .as_ref()
                .map_or("—".into(), |p| mask_id(p.identity.number())),
            cell: c.cell.clone(),
            city_code: c.city_code.clone(),
            together_from: rfc3339(c.together.start),
            together_to: rfc3339(c.together.end),
            together_seconds: c.together_seconds,
            case_cumulative_seconds: c.case_cumulative_seconds,
            cumulative_seconds: c.cumulative_seconds,
        });
    }
    Ok(out)
}

pub(crate) async fn candidate_views<S: Store>(
    state: &AppState<S>,
    candidates: &[VenueCandidate],
    implausible: &HashMap<Subject, Implausibility>,
) -> Result<Vec<CandidateView>, ApiError> {
    let mut names = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(candidates.len());
    for c in candidates {
        let (name, document) = match PersonId::parse(&c.subject.person) {
            Some(id) => match state.store.person(&id).await? {
                Some(p) if c.subject.dependent == 0 => {
                    (mask_name(&p.full_name), mask_id(p.identity.number()))
                }
                Some(p) => state
                    .store
                    .dependents(&id)
                    .await?
                    .iter()
                    .find(|d| d.number == c.subject.dependent)
                    .map(|d| (mask_name(&d.full_name), mask_id(d.identity.number())))
                    .unwrap_or_else(|| (mask_name(&p.full_name), "—".into())),
                None => ("—".into(), "—".into()),
            },
            None => ("—".into(), "—".into()),
        };
        let mut overlaps = Vec::new();
        for o in &c.overlaps {
            if !names.contains_key(&o.venue) {
                let n = match VenueId::parse(&o.venue) {
                    Some(id) => state.store.venue(id).await?.map(|v| v.name),
                    None => None,
                };
                names.insert(o.venue.clone(), n.unwrap_or_else(|| "—".into()));
            }
            overlaps.push(OverlapView {
                venue: o.venue.clone(),
                venue_name: names.get(&o.venue).cloned().unwrap_or_default(),
                together_from: rfc3339(o.together.start),
                together_to: rfc3339(o.together.end),
                stay_from: rfc3339(o.stay.start),
                stay_to: rfc3339(o.stay.end),
            });
        }
        out.push(CandidateView {
            person: c.subject.person.clone(),
            dependent: c.subject.dependent,
            name,
            document,
            together_seconds: c.together_seconds,
            overlaps,
            implausible_city: implausible
                .get(&c.subject)
                .map(|i| i.seen_in.city_code.clone()),
        });
    }
    Ok(out)
}

/// Sealed check-ins opened for tracing: the revealed hours of every sealed
/// venue the official names (none by default).
pub(crate) async fn sealed_visits<S: Store>(
    state: &AppState<S>,
    official: &Official,
    venues: &[String],
) -> Result<Vec<Visit>, ApiError> {
    let mut out = Vec::new();
    for id in venues {
        let id = VenueId::parse(id).ok_or_else(|| {
            ApiError::invalid("sealed_venues", "场所编号无效。", "Invalid venue id.")
        })?;
        let v = state
            .store
            .venue(id)
            .await?
            .ok_or_else(|| ApiError::not_found("此场所", "Venue"))?;
        out.extend(state.open_revealed(&official.account, &v).await?);
    }
    Ok(out)
}

#[utoipa::path(post, path = "/api/v1/tracing/candidates", request_body = TraceRequest,
    description = "Candidates for close-contact designation: people whose venue stays overlapped the case's. Nothing is designated here.",
    responses((status = 200, body = TraceView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn candidates<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    ApiJson(req): ApiJson<TraceRequest>,
) -> Result<Json<TraceView>, ApiError> {
    health_official(&official.account)?;
    let (case, window) = resolve_case(&state, &req.case_identity_number, req.from, req.to).await?;
    let report = state.trace(&official.account, &case, window, &[]).await?;
    Ok(Json(TraceView {
        case: case.id.to_string(),
        from: rfc3339(window.from),
        to: rfc3339(window.to),
        case_visits: report.case_visits.len(),
        candidates: candidate_views(&state, &report.candidates, &report.implausible).await?,
        companions: companion_views(&state, &report.companions).await?,
        params: serde_json::to_value(&report.params).map_err(ApiError::internal)?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DesignationRequest {
    pub case_identity_number: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub from: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub to: Option<OffsetDateTime>,
    /// The candidate's person id (from the candidates list).
    pub person: String,
    #[serde(default)]
    pub dependent: u16,
    /// `venue` (default) or `companion` (a spatiotemporal companion).
    #[serde(default)]
    pub kind: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/tracing/designations", request_body = DesignationRequest,
    description = "An official confirms one candidate: a close-contact event with the evidence attached, and an audit entry.",
    responses((status = 201, body = Designation), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn designate<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    ApiJson(req): ApiJson<DesignationRequest>,
) -> Result<(StatusCode, Json<Designation>), ApiError> {
    health_official(&official.account)?;
    let (case, window) = resolve_case(&state, &req.case_identity_number, req.from, req.to).await?;
    let subject = Subject {
        person: req.person.trim().to_owned(),
        dependent: req.dependent,
    };
    let d = match req.kind.as_deref() {
        None | Some("venue") => {
            state
                .designate(&official.account, &case, window, &subject, &[])
                .await?
        }
        Some("companion") => {
            state
                .designate_companion(&official.account, &case, window, &subject.person)
                .await?
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "kind",
                "kind 须为 venue 或 companion。",
                "kind must be venue or companion.",
            ))
        }
    };
    Ok((StatusCode::CREATED, Json(d)))
}
