//! The itinerary card's JSON API: the card for channel apps, the carriers'
//! stay upload, and risk areas.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use healthcode_codec::report::rfc3339;
use healthcode_store::itinerary::{CarrierAccount, RiskAreaRecord};
use healthcode_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::records::{Rejection, RiskAreaInput, StayInput};
use super::service::{text, BatchResult, IssuedCard, ItemResult};
use crate::api::qr_svg;
use crate::auth::{token_of, Citizen, Official};
use crate::error::{ApiError, ApiJson, ErrorBody};
use crate::i18n::Text;
use crate::security::Phone;
use crate::state::AppState;

pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/itinerary", post(card::<S>))
        .route("/api/v1/me/itinerary-queries", get(my_queries::<S>))
        .route("/api/v1/carrier/stays", post(post_stays::<S>))
        .route(
            "/api/v1/risk-areas",
            get(list_areas::<S>).post(publish_area::<S>),
        )
        .route("/api/v1/risk-areas/{id}/end", post(end_area::<S>))
}

/// The itinerary part of the OpenAPI document, merged into `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    paths(card, my_queries, post_stays, list_areas, publish_area, end_area),
    components(schemas(
        CardRequest,
        CardView,
        CardCityView,
        CardQueryView,
        StayBatch,
        StayInput,
        BatchResult,
        ItemResult,
        Rejection,
        RiskAreaInput,
        RiskAreaView,
        EndArea
    )),
    modifiers(&CarrierKey)
)]
pub struct ItineraryApiDoc;

struct CarrierKey;

impl Modify for CarrierKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "carrier_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("hck_ and 64 hex digits")
                    .build(),
            ),
        );
    }
}

/// Adds the itinerary paths to the main API document (a `modifiers` entry of `ApiDoc`).
pub struct MergeItinerary;

impl Modify for MergeItinerary {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.merge(ItineraryApiDoc::openapi());
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardRequest {
    /// The phone number the session was confirmed for (the card shows it masked).
    #[schema(pattern = r"^(\+86)?1[3-9][0-9]{9}$|^\+(?!86)[0-9]{7,15}$")]
    pub phone: String,
    /// Must be true: 同意并授权运营商查询本人在疫情期间14天内到访地信息 /
    /// I agree and authorise the carrier to look up the places I visited.
    pub consent: bool,
    /// The calling app (`alipay`, `wechat`…), recorded with the query.
    #[serde(default)]
    pub channel: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CardCityView {
    pub code: String,
    pub name: Text,
    /// `*`: the city holds a medium- or high-risk area now.
    pub starred: bool,
    pub hours: i64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

/// This platform's itinerary card (not the MIIT card).
#[derive(Serialize, ToSchema)]
pub struct CardView {
    pub title: Text,
    pub phone: String,
    pub queried_at: Option<String>,
    pub window_days: u32,
    pub data_from: Option<String>,
    pub data_until: Option<String>,
    pub colour: String,
    pub colour_label: Text,
    /// `北京市，吉林省长春市*`.
    pub cities_line: Text,
    pub cities: Vec<CardCityView>,
    pub explanation: Text,
    pub rule: Option<String>,
    pub rule_set: String,
    pub evidence: Vec<Text>,
    /// The card's signed QR code (HCP1, kind itinerary_card).
    pub code: String,
    pub code_expires_at: Option<String>,
    pub qr_svg: String,
    pub note: Text,
    pub demo: bool,
}

pub fn card_title<S: Store>(state: &AppState<S>) -> Text {
    Text::new(
        format!("{} · 行程卡", state.settings.code_name.zh),
        format!("{} · itinerary card", state.settings.code_name.en),
    )
}

pub fn card_note() -> Text {
    Text::new(
        "本卡由本平台根据运营商提供的停留记录生成，并非工业和信息化部的“通信大数据行程卡”。* 表示该城市当前有中风险或高风险地区，并不表示您到访过这些地区。数据有约 1 天延迟。",
        "This card is produced by this platform from carriers' stay records; it is not the MIIT 'communication big data itinerary card'. * means the city has a medium- or high-risk area now, not that you visited it. Data lags by about a day.",
    )
}

pub fn card_view<S: Store>(state: &AppState<S>, issued: &IssuedCard) -> Result<CardView, ApiError> {
    let c = &issued.card;
    let claims = &issued.code.claims;
    let t = |at: time::OffsetDateTime| rfc3339(at.unix_timestamp());
    Ok(CardView {
        title: card_title(state),
        phone: issued.masked_phone.clone(),
        queried_at: t(c.queried_at),
        window_days: c.window_days,
        data_from: t(c.data_from),
        data_until: t(c.data_until),
        colour: c.decision.colour.as_str().to_owned(),
        colour_label: Text::new(c.decision.colour.label_zh(), c.decision.colour.label_en()),
        cities_line: text(&c.cities_line()),
        cities: c
            .cities
            .iter()
            .map(|city| CardCityView {
                code: city.code.as_str().to_owned(),
                name: text(&city.name),
                starred: city.starred,
                hours: city.hours,
                first_seen: t(city.first_seen),
                last_seen: t(city.last_seen),
            })
            .collect(),
        explanation: text(&c.decision.explanation),
        rule: c.decision.rule_id.clone(),
        rule_set: format!(
            "{} v{}",
            c.decision.rule_set_id, c.decision.rule_set_version
        ),
        evidence: c.decision.evidence.iter().map(text).collect(),
        code: issued.code.text.clone(),
        code_expires_at: rfc3339(claims.expires_at),
        qr_svg: qr_svg(&issued.code.text, claims.demo)?,
        note: card_note(),
        demo: claims.demo,
    })
}

/// The channel id of an API call: letters, digits, `-`, `_`.
fn channel(input: Option<&str>) -> Result<String, ApiError> {
    let c = input.unwrap_or("api").trim();
    if (1..=32).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(c.to_owned())
    } else {
        Err(ApiError::invalid(
            "channel",
            "渠道标识须为 1 至 32 个字母、数字、- 或 _。",
            "The channel id must be 1 to 32 letters, digits, - or _.",
        ))
    }
}

/// The phone the caller names must be the one its session confirmed.
pub fn confirmed_phone(
    citizen: &Citizen,
    phone: &str,
    hash_of: impl Fn(&Phone) -> healthcode_store::PhoneHash,
) -> Result<Phone, ApiError> {
    let phone = Phone::parse(phone)?;
    if hash_of(&phone) != citizen.phone {
        return Err(ApiError::forbidden(
            "该手机号不是本次会话短信验证的号码。",
            "This is not the phone number this session confirmed by SMS.",
        )
        .with_field("phone"));
    }
    Ok(phone)
}

#[utoipa::path(post, path = "/api/v1/itinerary", request_body = CardRequest,
    description = "The itinerary card for the phone the session confirmed by SMS, with the person's explicit consent (refused without). Each query is recorded for the person's own data.",
    responses((status = 200, body = CardView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn card<S: Store>(
    State(state): State<AppState<S>>,
    citizen: Citizen,
    ApiJson(req): ApiJson<CardRequest>,
) -> Result<Response, ApiError> {
    let channel = channel(req.channel.as_deref())?;
    let phone = confirmed_phone(&citizen, &req.phone, |p| state.phones.hash(p))?;
    let issued = state.itinerary_card(&phone, req.consent, &channel).await?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(card_view(&state, &issued)?),
    )
        .into_response())
}

#[derive(Serialize, ToSchema)]
pub struct CardQueryView {
    pub at: Option<String>,
    pub consent: bool,
    pub window_days: u32,
    pub channel: String,
    pub colour: String,
    pub cities: u32,
}

#[utoipa::path(get, path = "/api/v1/me/itinerary-queries",
    description = "Every itinerary card query made for the session's phone: when, through which channel, with what consent and window.",
    responses((status = 200, body = [CardQueryView]), (status = 401, body = ErrorBody)))]
async fn my_queries<S: Store>(
    State(state): State<AppState<S>>,
    citizen: Citizen,
) -> Result<Json<Vec<CardQueryView>>, ApiError> {
    let queries = state.my_card_queries(&citizen.phone).await?;
    Ok(Json(
        queries
            .into_iter()
            .map(|q| CardQueryView {
                at: rfc3339(q.at.unix_timestamp()),
                consent: q.consent,
                window_days: q.window_days,
                channel: q.channel,
                colour: q.colour.as_str().to_owned(),
                cities: q.cities,
            })
            .collect(),
    ))
}

/// A carrier calling with its API key.
pub struct Carrier(pub CarrierAccount);

impl<S: Store> FromRequestParts<AppState<S>> for Carrier {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<Self, ApiError> {
        let wrong = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_carrier_key",
                Text::new(
                    "缺少或无效的运营商接口密钥（Authorization: Bearer hck_…）。",
                    "Missing or unknown carrier API key (Authorization: Bearer hck_…).",
                ),
            )
        };
        let key = token_of(&parts.headers)
            .filter(|k| k.starts_with("hck_"))
            .ok_or_else(wrong)?;
        state
            .carrier_for_key(&key)
            .await?
            .map(Carrier)
            .ok_or_else(wrong)
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StayBatch {
    /// 1 to 500 stays (each checked on its own; see the per-item results).
    #[schema(value_type = Vec<StayInput>)]
    pub items: Vec<serde_json::Value>,
}

#[utoipa::path(post, path = "/api/v1/carrier/stays", request_body = StayBatch,
    description = "A carrier posts stays from its signalling records. Each item is imported, already present (idempotent on phone, city and first seen) or rejected with the field and reason; valid items are stored even when others are rejected.",
    security(("carrier_key" = [])),
    responses((status = 200, body = BatchResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 413, description = "Body over 64 KiB"), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn post_stays<S: Store>(
    State(state): State<AppState<S>>,
    Carrier(carrier): Carrier,
    ApiJson(batch): ApiJson<StayBatch>,
) -> Result<Json<BatchResult>, ApiError> {
    Ok(Json(state.import_stays(&carrier, &batch.items).await?))
}

#[derive(Serialize, ToSchema)]
pub struct RiskAreaView {
    pub id: String,
    pub city_code: String,
    pub city: Text,
    pub area: Text,
    /// `medium` or `high`.
    pub level: String,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    /// In force now.
    pub in_force: bool,
    pub published_by: String,
    pub ended_by: Option<String>,
}

pub fn area_view(r: &RiskAreaRecord, now: time::OffsetDateTime) -> RiskAreaView {
    RiskAreaView {
        id: r.area.id.clone(),
        city_code: r.area.city.as_str().to_owned(),
        city: text(&r.area.city.name()),
        area: text(&r.area.area),
        level: r.area.level.as_str().to_owned(),
        starts_at: rfc3339(r.area.starts_at.unix_timestamp()),
        ends_at: r.area.ends_at.and_then(|e| rfc3339(e.unix_timestamp())),
        in_force: r.area.in_force_at(now),
        published_by: r.published_by.clone(),
        ended_by: r.ended_by.clone(),
    }
}

#[utoipa::path(get, path = "/api/v1/risk-areas",
    description = "Every medium- and high-risk area ever published, newest first, with whether it is in force now (public).",
    responses((status = 200, body = [RiskAreaView])))]
async fn list_areas<S: Store>(
    State(state): State<AppState<S>>,
) -> Result<Json<Vec<RiskAreaView>>, ApiError> {
    let now = state.now();
    let areas = state.store.risk_areas().await?;
    Ok(Json(areas.iter().map(|r| area_view(r, now)).collect()))
}

#[utoipa::path(post, path = "/api/v1/risk-areas", request_body = RiskAreaInput,
    description = "A health official publishes a risk area (audited).",
    responses((status = 201, body = RiskAreaView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn publish_area<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    ApiJson(input): ApiJson<RiskAreaInput>,
) -> Result<(StatusCode, Json<RiskAreaView>), ApiError> {
    let r = state.publish_risk_area(&official.account, &input).await?;
    Ok((StatusCode::CREATED, Json(area_view(&r, state.now()))))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EndArea {
    /// RFC 3339; now if absent.
    #[serde(default)]
    pub ends_at: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/risk-areas/{id}/end", request_body = EndArea,
    description = "A health official ends a risk area (audited). The area is kept, with its end.",
    params(("id" = String, Path, description = "The area's id")),
    responses((status = 200, body = RiskAreaView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn end_area<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EndArea>,
) -> Result<Json<RiskAreaView>, ApiError> {
    let at = match req.ends_at.as_deref() {
        None => None,
        Some(t) => Some(
            time::OffsetDateTime::parse(t.trim(), &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                ApiError::invalid(
                    "ends_at",
                    "结束时间须为 RFC 3339 时间。",
                    "ends_at must be an RFC 3339 time.",
                )
            })?,
        ),
    };
    let r = state.end_risk_area(&official.account, &id, at).await?;
    Ok(Json(area_view(&r, state.now())))
}
