//! The JSON API (`/api/v1`), documented by OpenAPI at `/openapi.json`.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use healthcode_codec::qr::QrMatrix;
use healthcode_codec::report::rfc3339;
use healthcode_core::mask::{mask_id, mask_name};
use healthcode_core::ColourDecision;
use healthcode_store::{PersonId, PersonRecord, Store};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::auth::{session_cookie, Citizen, ClientIp, Official};
use crate::error::{ApiError, ApiJson, ApiQuery, ErrorBody};
use crate::i18n::Text;
use crate::itinerary::api::MergeItinerary;
use crate::openapi_regions::RegionsDoc;
use crate::oversight::api::MergeOversight;
use crate::service::{ApplicationInput, DeclarationInput, FactInput, LiveCode, OtpSent};
use crate::state::AppState;

pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/applications", post(apply::<S>))
        .route("/api/v1/me", get(me::<S>))
        .route("/api/v1/me/declarations", post(declare::<S>))
        .route("/api/v1/me/code", get(my_code::<S>))
        .route("/api/v1/me/code.svg", get(my_code_svg::<S>))
        .route("/api/v1/officials/sign-in", post(official_sign_in::<S>))
        .route("/api/v1/people", get(find_person::<S>))
        .route("/api/v1/people/{id}/events", post(record_fact::<S>))
        .route("/api/v1/people/{id}/status", get(person_status::<S>))
        .route("/api/v1/outbox", get(outbox::<S>))
        // Every route above is the health-code service's (lifecycle).
        .route_layer(axum::middleware::from_fn(
            crate::lifecycle::guard_health_code,
        ))
        // SMS sign-in serves the health code and the itinerary card: it
        // ends when both have.
        .route("/api/v1/otp", post(request_otp::<S>))
        .route("/api/v1/otp/verify", post(verify_otp::<S>))
        .route("/api/v1/sign-out", post(sign_out::<S>))
        .route_layer(axum::middleware::from_fn(
            crate::lifecycle::guard_sms_sign_in,
        ))
        .route(
            "/.well-known/healthcode/trust-list.json",
            get(trust_list::<S>),
        )
        .route("/healthz", get(healthz::<S>))
        .route("/openapi.json", get(openapi_json))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "healthcode API",
        description = "Health codes: SMS check, application, declarations, live signed codes, officials' records. Errors are `{\"error\": {\"code\", \"field\", \"message\": {\"zh\", \"en\"}}}`.",
        version = "1"
    ),
    paths(
        request_otp,
        verify_otp,
        sign_out,
        apply,
        me,
        declare,
        my_code,
        my_code_svg,
        official_sign_in,
        find_person,
        record_fact,
        person_status,
        outbox,
        trust_list,
        healthz,
        crate::lifecycle::routes::services,
        crate::lifecycle::routes::statements,
        crate::lifecycle::routes::statement_json,
        crate::lifecycle::routes::code_face_api
    ),
    components(schemas(
        ErrorBody,
        OtpRequest,
        OtpSent,
        OtpVerify,
        SessionView,
        ApplicationInput,
        DeclarationInput,
        crate::service::IdentityInput,
        PersonView,
        CodeView,
        FiredView,
        EventView,
        FactInput,
        SignIn,
        StatusView,
        OutboxView,
        Health,
        Text,
        crate::lifecycle::routes::ServiceView,
        crate::lifecycle::routes::StatementView,
        crate::lifecycle::routes::FaceQuery,
        crate::lifecycle::routes::FaceView
    )),
    modifiers(&MergeItinerary, &RegionsDoc, &MergeOversight)
)]
pub struct ApiDoc;

/// The whole API document: this module's paths and the other modules'.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::venues::VenueApi::openapi());
    doc.merge(crate::checkpoint::CheckpointApiDoc::openapi());
    doc
}

async fn openapi_json() -> Response {
    match openapi().to_pretty_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpRequest {
    /// Mainland mobile (11 digits) or international (+ and 7–15 digits);
    /// spaces, dashes and brackets are also accepted.
    #[schema(pattern = r"^(\+86)?1[3-9][0-9]{9}$|^\+(?!86)[0-9]{7,15}$")]
    pub phone: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpVerify {
    #[schema(pattern = r"^(\+86)?1[3-9][0-9]{9}$|^\+(?!86)[0-9]{7,15}$")]
    pub phone: String,
    /// The six digits sent by SMS.
    #[schema(pattern = r"^[0-9]{6}$")]
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// Send as `Authorization: Bearer <token>`; browsers also get a cookie.
    pub token: String,
    pub expires_in_seconds: i64,
}

#[utoipa::path(post, path = "/api/v1/otp", request_body = OtpRequest,
    responses((status = 202, body = OtpSent), (status = 400, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn request_otp<S: Store>(
    State(state): State<AppState<S>>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<OtpRequest>,
) -> Result<(StatusCode, Json<OtpSent>), ApiError> {
    let sent = state.request_otp(&req.phone, ip).await?;
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

#[utoipa::path(post, path = "/api/v1/otp/verify", request_body = OtpVerify,
    responses((status = 200, body = SessionView), (status = 400, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn verify_otp<S: Store>(
    State(state): State<AppState<S>>,
    ApiJson(req): ApiJson<OtpVerify>,
) -> Result<Response, ApiError> {
    let token = state.verify_otp(&req.phone, &req.code).await?;
    let ttl = state.settings.citizen_session_hours * 3600;
    Ok(with_session(&token, ttl))
}

fn with_session(token: &str, ttl: i64) -> Response {
    (
        [(header::SET_COOKIE, session_cookie(token, ttl))],
        Json(SessionView {
            token: token.to_owned(),
            expires_in_seconds: ttl,
        }),
    )
        .into_response()
}

#[utoipa::path(post, path = "/api/v1/sign-out", responses((status = 204), (status = 401, body = ErrorBody)))]
async fn sign_out<S: Store>(
    State(state): State<AppState<S>>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let token = crate::auth::token_of(&headers).ok_or_else(ApiError::unauthorized)?;
    state.sign_out(&token).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, crate::auth::clear_session_cookie())],
    )
        .into_response())
}

/// A person as shown to themselves or an official: masked.
#[derive(Serialize, ToSchema)]
pub struct PersonView {
    pub id: String,
    pub name: String,
    pub document: String,
    /// `resident` or `traveller`.
    pub kind: String,
    pub region: String,
    pub channel: String,
    pub created_at: Option<String>,
}

impl From<&PersonRecord> for PersonView {
    fn from(p: &PersonRecord) -> Self {
        PersonView {
            id: p.id.to_string(),
            name: mask_name(&p.full_name),
            document: mask_id(p.identity.number()),
            kind: p.identity.code_kind().as_str().to_owned(),
            region: p.region.clone(),
            channel: p.channel.clone(),
            created_at: rfc3339(p.created_at.unix_timestamp()),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/applications", request_body = ApplicationInput,
    responses((status = 201, body = PersonView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn apply<S: Store>(
    State(state): State<AppState<S>>,
    citizen: Citizen,
    ApiJson(input): ApiJson<ApplicationInput>,
) -> Result<(StatusCode, Json<PersonView>), ApiError> {
    let person = state.apply(citizen.phone, input).await?;
    Ok((StatusCode::CREATED, Json(PersonView::from(&person))))
}

async fn my_person<S: Store>(
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

#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = PersonView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn me<S: Store>(
    State(state): State<AppState<S>>,
    citizen: Citizen,
) -> Result<Json<PersonView>, ApiError> {
    Ok(Json(PersonView::from(&my_person(&state, &citizen).await?)))
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub id: String,
    pub at: Option<String>,
    /// The event as stored (fact and source).
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
}

impl From<&healthcode_core::Event> for EventView {
    fn from(e: &healthcode_core::Event) -> Self {
        EventView {
            id: e.id().as_str().to_owned(),
            at: rfc3339(e.at().unix_timestamp()),
            event: serde_json::to_value(e).unwrap_or_default(),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/me/declarations", request_body = DeclarationInput,
    responses((status = 201, body = EventView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn declare<S: Store>(
    State(state): State<AppState<S>>,
    citizen: Citizen,
    ApiJson(input): ApiJson<DeclarationInput>,
) -> Result<(StatusCode, Json<EventView>), ApiError> {
    let person = my_person(&state, &citizen).await?;
    let event = state.declare(&person.id, &input).await?;
    Ok((StatusCode::CREATED, Json(EventView::from(&event))))
}

#[derive(Serialize, ToSchema)]
pub struct FiredView {
    pub rule_id: String,
    pub colour: String,
    pub description: Text,
    /// Ids of the events that made the rule fire.
    pub evidence: Vec<String>,
}

/// A live code: show it until `refresh_at`, then fetch a new one.
#[derive(Serialize, ToSchema)]
pub struct CodeView {
    pub code: String,
    pub colour: String,
    pub colour_label: Text,
    pub code_name: Text,
    pub region: String,
    pub person: PersonView,
    pub issued_at: Option<String>,
    pub expires_at: Option<String>,
    /// Seconds until the page should fetch a fresh code (before expiry).
    pub refresh_in_seconds: i64,
    /// Why the code has its colour, one sentence per language.
    pub explanation: Text,
    pub fired: Vec<FiredView>,
    pub rule_set: String,
    pub demo: bool,
}

pub fn fired_views(d: &ColourDecision) -> Vec<FiredView> {
    d.fired
        .iter()
        .map(|f| FiredView {
            rule_id: f.rule_id.clone(),
            colour: f.colour.as_str().to_owned(),
            description: Text::new(f.description.zh.clone(), f.description.en.clone()),
            evidence: f.evidence.iter().map(|e| e.as_str().to_owned()).collect(),
        })
        .collect()
}

pub fn code_view<S: Store>(state: &AppState<S>, live: &LiveCode) -> CodeView {
    let c = &live.code.claims;
    let ttl = c.expires_at - c.issued_at;
    CodeView {
        code: live.code.text.clone(),
        colour: c.colour.as_str().to_owned(),
        colour_label: Text::new(c.colour.label_zh(), c.colour.label_en()),
        code_name: state.settings.code_name.clone(),
        region: state.issuer_id.clone(),
        person: PersonView::from(&live.person),
        issued_at: rfc3339(c.issued_at),
        expires_at: rfc3339(c.expires_at),
        refresh_in_seconds: (ttl - (ttl / 4).clamp(10, 60)).max(5),
        explanation: Text::new(
            live.decision.explanation.zh.clone(),
            live.decision.explanation.en.clone(),
        ),
        fired: fired_views(&live.decision),
        rule_set: format!(
            "{} v{}",
            live.decision.rule_set_id, live.decision.rule_set_version
        ),
        demo: c.demo,
    }
}

#[utoipa::path(get, path = "/api/v1/me/code",
    responses((status = 200, body = CodeView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn my_code<S: Store>(
    State(state): State<AppState<S>>,
    citizen: Citizen,
) -> Result<Response, ApiError> {
    let person = my_person(&state, &citizen).await?;
    let live = state.live_code(person).await?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(code_view(&state, &live)),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/me/code.svg",
    responses((status = 200, content_type = "image/svg+xml", description = "The QR code of a fresh code"), (status = 401, body = ErrorBody)))]
async fn my_code_svg<S: Store>(
    State(state): State<AppState<S>>,
    citizen: Citizen,
) -> Result<Response, ApiError> {
    let person = my_person(&state, &citizen).await?;
    let live = state.live_code(person).await?;
    let svg = qr_svg(&live.code.text, live.code.claims.demo)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response())
}

pub fn qr_svg(text: &str, demo: bool) -> Result<String, ApiError> {
    let matrix = QrMatrix::encode(text).map_err(ApiError::internal)?;
    Ok(matrix.to_svg(demo.then_some("DEMO 演示")))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

#[utoipa::path(post, path = "/api/v1/officials/sign-in", request_body = SignIn,
    responses((status = 200, body = SessionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn official_sign_in<S: Store>(
    State(state): State<AppState<S>>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    let token = state
        .official_sign_in(&req.username, &req.password, ip)
        .await?;
    Ok(with_session(
        &token,
        state.settings.official_session_hours * 3600,
    ))
}

#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FindPerson {
    /// Resident ID, passport or permit number.
    pub identity: String,
    /// Why you look this person up (2 to 200 characters, e.g. the tracing
    /// case number): the person sees it in their access log.
    #[serde(default)]
    pub purpose: String,
}

/// Why an official reads a person's data.
#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    /// 2 to 200 characters; the person sees it in their access log.
    #[serde(default)]
    pub purpose: String,
}

#[utoipa::path(get, path = "/api/v1/people", params(FindPerson),
    responses((status = 200, body = PersonView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn find_person<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    ApiQuery(q): ApiQuery<FindPerson>,
) -> Result<Json<PersonView>, ApiError> {
    crate::oversight::service::check_purpose(&q.purpose)?;
    let person = state
        .find_person(&q.identity)
        .await?
        .ok_or_else(|| ApiError::not_found("此证件的申领记录", "Person with this document"))?;
    state
        .note_access(&official.account, &person.id, "lookup", &q.purpose)
        .await?;
    Ok(Json(PersonView::from(&person)))
}

fn person_id(raw: &str) -> Result<PersonId, ApiError> {
    PersonId::parse(raw).ok_or_else(|| {
        ApiError::invalid(
            "id",
            "人员标识应为 32 位十六进制数。",
            "A person id is 32 hex digits.",
        )
    })
}

#[utoipa::path(post, path = "/api/v1/people/{id}/events", request_body = FactInput,
    params(("id" = String, Path, description = "Person id (32 hex digits)", pattern = r"^[0-9a-f]{32}$")),
    responses((status = 201, body = EventView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn record_fact<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    Path(id): Path<String>,
    ApiJson(fact): ApiJson<FactInput>,
) -> Result<(StatusCode, Json<EventView>), ApiError> {
    let id = person_id(&id)?;
    let event = state.record_fact(&official.account, &id, fact).await?;
    Ok((StatusCode::CREATED, Json(EventView::from(&event))))
}

#[derive(Serialize, ToSchema)]
pub struct StatusView {
    pub person: PersonView,
    pub colour: String,
    pub explanation: Text,
    pub fired: Vec<FiredView>,
    pub events: Vec<EventView>,
}

#[utoipa::path(get, path = "/api/v1/people/{id}/status",
    params(("id" = String, Path, description = "Person id (32 hex digits)", pattern = r"^[0-9a-f]{32}$"), Purpose),
    responses((status = 200, body = StatusView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn person_status<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<Purpose>,
) -> Result<Json<StatusView>, ApiError> {
    let id = person_id(&id)?;
    crate::oversight::service::check_purpose(&q.purpose)?;
    let person = state
        .store
        .person(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("此人", "Person"))?;
    state
        .note_access(&official.account, &person.id, "view", &q.purpose)
        .await?;
    let events = state.store.events(&id).await?;
    let decision = state.rules.evaluate(&events, state.now());
    Ok(Json(StatusView {
        person: PersonView::from(&person),
        colour: decision.colour.as_str().to_owned(),
        explanation: Text::new(
            decision.explanation.zh.clone(),
            decision.explanation.en.clone(),
        ),
        fired: fired_views(&decision),
        events: events.iter().map(EventView::from).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct OutboxView {
    pub to: String,
    pub body: String,
    pub at: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/outbox",
    responses((status = 200, body = [OutboxView]), (status = 404, body = ErrorBody)))]
async fn outbox<S: Store>(
    State(state): State<AppState<S>>,
) -> Result<Json<Vec<OutboxView>>, ApiError> {
    if !state.settings.demo {
        return Err(ApiError::not_found(
            "短信发件箱（仅演示部署）",
            "SMS outbox (demo deployments only)",
        ));
    }
    let messages = state.store.outbox(50).await?;
    Ok(Json(
        messages
            .into_iter()
            .map(|m| OutboxView {
                to: m.to_masked,
                body: m.body,
                at: rfc3339(m.created_at.unix_timestamp()),
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/.well-known/healthcode/trust-list.json",
    responses((status = 200, description = "This deployment's signed trust list", content_type = "application/json")))]
async fn trust_list<S: Store>(State(state): State<AppState<S>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.federation.published(),
    )
        .into_response()
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub database: String,
    pub region: String,
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
async fn healthz<S: Store>(State(state): State<AppState<S>>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await.map_err(|e| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        ..ApiError::internal(e)
    })?;
    Ok(Json(Health {
        status: "ok".into(),
        database: state.store.engine().into(),
        region: state.settings.region_id.clone(),
    }))
}
