//! Channels: registered API clients (a mini-program on Alipay, WeChat or
//! UnionPay, a government app, another web front end) with their own
//! credentials. A channel authenticates every call with HTTP Basic
//! (`client_id:secret`); the citizen it acts for is the session from the
//! SMS check, sent as `X-Healthcode-Session`. What a channel may do here
//! follows the regions registry for this deployment's region: apply, show
//! only, or nothing.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use healthcode_codec::report::rfc3339;
use healthcode_core::regions::{Capability, ChannelKind};
use healthcode_core::AuditRecord;
use healthcode_store::{Channel, PhoneHash, SessionSubject, Store, StoreError};
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::api::{code_view, CodeView, OtpRequest, OtpVerify, PersonView, SessionView};
use crate::auth::{ClientIp, Official};
use crate::error::{ApiError, ApiJson, ErrorBody};
use crate::federation::require_admin;
use crate::i18n::{Lang, Text};
use crate::security::constant_time_eq;
use crate::service::{ApplicationInput, OtpSent};
use crate::state::AppState;

/// The header carrying the citizen's session on channel calls.
pub const SESSION_HEADER: &str = "x-healthcode-session";

/// The web pages of this deployment: the channel of web applications.
pub const WEB: &str = "web";

/// An application naming a channel other than the web, without the
/// channel's credentials.
pub fn credentials_required() -> ApiError {
    ApiError {
        field: Some("channel".into()),
        ..ApiError::new(
            StatusCode::FORBIDDEN,
            "channel_credentials_required",
            Text::new(
                "通过渠道申领须由该渠道以其凭据调用渠道接口（/api/v1/channel/…）。",
                "Applying through a channel takes the channel's own credentials on the channel API (/api/v1/channel/…).",
            ),
        )
    }
}

/// SHA-256 of a channel secret (secrets are 256 random bits).
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn validate_client_id(id: &str) -> Result<(), ApiError> {
    let ok = (3..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && id != WEB;
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "client_id",
            "渠道标识须为 3 至 32 个小写字母、数字或 -（不能是 web）。",
            "A client id is 3 to 32 lowercase letters, digits or - (not \"web\").",
        ))
    }
}

/// Registers a channel; returns it and its secret (shown once, stored
/// hashed). Audited with `actor` (`official:<name>` or `cli:<user>`).
pub async fn register_channel<S: Store>(
    store: &S,
    now: OffsetDateTime,
    rng: &(dyn SecureRandom + Sync),
    actor: &str,
    client_id: &str,
    name: &str,
    kind: &str,
) -> Result<(Channel, String), ApiError> {
    let client_id = client_id.trim();
    validate_client_id(client_id)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            "渠道名称须为 1 至 64 个字。",
            "The channel name must be 1 to 64 characters.",
        ));
    }
    let kind = ChannelKind::parse(kind).ok_or_else(|| {
        ApiError::invalid(
            "kind",
            format!("未知渠道类型 {kind:?}：应为 alipay、wechat、unionpay、government 或 web。"),
            format!("Unknown channel kind {kind:?}: expected alipay, wechat, unionpay, government or web."),
        )
    })?;
    let mut raw = [0u8; 32];
    rng.fill(&mut raw)
        .map_err(|_| ApiError::internal("rng failed"))?;
    let secret = format!("hcs_{}", hex::encode(raw));
    let channel = Channel {
        client_id: client_id.to_owned(),
        name: name.to_owned(),
        kind,
        secret_hash: hash_secret(&secret),
        created_at: now,
        created_by: actor.to_owned(),
        disabled_at: None,
    };
    store.create_channel(&channel).await.map_err(|e| match e {
        StoreError::Conflict(_) => ApiError::conflict(
            "此渠道标识已被使用。",
            "This client id is already registered.",
        )
        .with_field("client_id"),
        other => other.into(),
    })?;
    store
        .append_audit(AuditRecord {
            at: now,
            actor: actor.to_owned(),
            action: "channel.registered".into(),
            subject: format!("channel:{client_id}"),
            details: serde_json::json!({"kind": kind.as_str(), "name": name}).to_string(),
        })
        .await?;
    Ok((channel, secret))
}

/// Disables a channel (its applications keep naming it); audited.
/// `Ok(false)` if it already was.
pub async fn disable_channel<S: Store>(
    store: &S,
    now: OffsetDateTime,
    actor: &str,
    client_id: &str,
) -> Result<bool, ApiError> {
    let changed = store
        .disable_channel(client_id.trim(), now)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => ApiError::not_found("此渠道", "Channel"),
            other => other.into(),
        })?;
    if changed {
        store
            .append_audit(AuditRecord {
                at: now,
                actor: actor.to_owned(),
                action: "channel.disabled".into(),
                subject: format!("channel:{}", client_id.trim()),
                details: "{}".into(),
            })
            .await?;
    }
    Ok(changed)
}

/// How a channel id reads on a citizen's page.
pub async fn channel_label<S: Store>(state: &AppState<S>, id: &str, lang: Lang) -> String {
    if id == WEB {
        return ChannelKind::Web.name(lang).to_owned();
    }
    match state.store.channel(id).await {
        Ok(Some(c)) => match lang {
            Lang::Zh => format!("{}（{}）", c.name, c.kind.name_zh()),
            Lang::En => format!("{} ({})", c.name, c.kind.name_en()),
        },
        _ => id.to_owned(),
    }
}

trait KindName {
    fn name(self, lang: Lang) -> &'static str;
}

impl KindName for ChannelKind {
    fn name(self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.name_zh(),
            Lang::En => self.name_en(),
        }
    }
}

impl<S: Store> AppState<S> {
    /// What a channel of `kind` may do in this deployment's region.
    pub fn channel_capability(&self, kind: ChannelKind) -> Capability {
        match self.settings.registry_region() {
            Some(region) => {
                self.registry
                    .channel_capability(&region, self.settings.city.as_deref(), kind)
            }
            // A deployment outside the registry: only its own web and apps.
            None if kind.app().is_none() => Capability::Apply,
            None => Capability::None,
        }
    }

    /// Why a channel may not do what it asked, in both languages, with
    /// the registry's footnote for its app in this region when there is one.
    pub fn channel_refusal(&self, channel: &Channel, capability: Capability) -> ApiError {
        let (mut zh, mut en) = match capability {
            Capability::ShowOnly => (
                "该渠道在本地区只能展示健康码，不能申领。".to_owned(),
                "This channel can only show codes in this region, not apply.".to_owned(),
            ),
            _ => (
                "该渠道在本地区不提供健康码服务。".to_owned(),
                "This channel offers no health code service in this region.".to_owned(),
            ),
        };
        let note = channel.kind.app().and_then(|app| {
            self.settings
                .registry_region()
                .and_then(|r| self.registry.region(&r))
                .and_then(|r| r.note(app))
        });
        if let Some(note) = note {
            zh.push_str(&format!("（{}）", note.zh));
            en.push_str(&format!(" ({})", note.en));
        }
        ApiError::new(
            StatusCode::FORBIDDEN,
            "channel_not_allowed",
            Text::new(zh, en),
        )
    }
}

/// An authenticated, enabled channel and what it may do here.
#[derive(Debug, Clone)]
pub struct ChannelCaller {
    pub channel: Channel,
    pub capability: Capability,
}

fn bad_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "bad_channel_credentials",
        Text::new(
            "渠道凭据无效：请以 HTTP Basic 发送 client_id:secret。",
            "Invalid channel credentials: send client_id:secret with HTTP Basic.",
        ),
    )
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(B64.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

impl<S: Store> FromRequestParts<AppState<S>> for ChannelCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<Self, ApiError> {
        let (id, secret) = basic_credentials(&parts.headers).ok_or_else(bad_credentials)?;
        let channel = state
            .store
            .channel(&id)
            .await?
            .ok_or_else(bad_credentials)?;
        if !constant_time_eq(&hash_secret(&secret), &channel.secret_hash) {
            return Err(bad_credentials());
        }
        if channel.disabled_at.is_some() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "channel_disabled",
                Text::new("该渠道已被停用。", "This channel has been disabled."),
            ));
        }
        let capability = state.channel_capability(channel.kind);
        Ok(ChannelCaller {
            channel,
            capability,
        })
    }
}

impl ChannelCaller {
    fn may_show<S: Store>(&self, state: &AppState<S>) -> Result<(), ApiError> {
        if self.capability.may_show() {
            Ok(())
        } else {
            Err(state.channel_refusal(&self.channel, self.capability))
        }
    }

    fn may_apply<S: Store>(&self, state: &AppState<S>) -> Result<(), ApiError> {
        if self.capability.may_apply() {
            Ok(())
        } else {
            Err(state.channel_refusal(&self.channel, self.capability))
        }
    }
}

/// The citizen a channel acts for: the session of their SMS check.
async fn citizen_of<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<PhoneHash, ApiError> {
    let token = headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized().with_field(SESSION_HEADER))?;
    match state.session(token).await?.map(|s| s.subject) {
        Some(SessionSubject::Phone(phone)) => Ok(phone),
        _ => Err(ApiError::unauthorized().with_field(SESSION_HEADER)),
    }
}

pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/channel", get(whoami::<S>))
        .route("/api/v1/channel/otp", post(channel_otp::<S>))
        .route("/api/v1/channel/otp/verify", post(channel_verify::<S>))
        .route("/api/v1/channel/applications", post(channel_apply::<S>))
        .route("/api/v1/channel/me/code", get(channel_code::<S>))
        .route(
            "/api/v1/admin/channels",
            get(admin_list::<S>).post(admin_add::<S>),
        )
        .route(
            "/api/v1/admin/channels/{id}/disable",
            post(admin_disable::<S>),
        )
}

/// A channel as the API shows it (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelView {
    pub client_id: String,
    pub name: String,
    /// `alipay`, `wechat`, `unionpay`, `government` or `web`.
    pub kind: String,
    /// What it may do in this deployment's region: `apply`, `show_only` or `none`.
    pub capability: String,
    pub created_at: Option<String>,
    pub created_by: String,
    pub disabled_at: Option<String>,
}

impl ChannelView {
    pub fn of<S: Store>(state: &AppState<S>, c: &Channel) -> ChannelView {
        ChannelView {
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            kind: c.kind.as_str().to_owned(),
            capability: state.channel_capability(c.kind).as_str().to_owned(),
            created_at: rfc3339(c.created_at.unix_timestamp()),
            created_by: c.created_by.clone(),
            disabled_at: c.disabled_at.and_then(|t| rfc3339(t.unix_timestamp())),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/channel", security(("channel" = [])),
    responses((status = 200, body = ChannelView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn whoami<S: Store>(
    State(state): State<AppState<S>>,
    caller: ChannelCaller,
) -> Json<ChannelView> {
    Json(ChannelView::of(&state, &caller.channel))
}

#[utoipa::path(post, path = "/api/v1/channel/otp", request_body = OtpRequest, security(("channel" = [])),
    responses((status = 202, body = OtpSent), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn channel_otp<S: Store>(
    State(state): State<AppState<S>>,
    caller: ChannelCaller,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<OtpRequest>,
) -> Result<(StatusCode, Json<OtpSent>), ApiError> {
    caller.may_show(&state)?;
    let sent = state.request_otp(&req.phone, ip).await?;
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

#[utoipa::path(post, path = "/api/v1/channel/otp/verify", request_body = OtpVerify, security(("channel" = [])),
    responses((status = 200, body = SessionView, description = "Send the token as X-Healthcode-Session"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn channel_verify<S: Store>(
    State(state): State<AppState<S>>,
    caller: ChannelCaller,
    ApiJson(req): ApiJson<OtpVerify>,
) -> Result<Json<SessionView>, ApiError> {
    caller.may_show(&state)?;
    let token = state.verify_otp(&req.phone, &req.code).await?;
    Ok(Json(SessionView {
        token,
        expires_in_seconds: state.settings.citizen_session_hours * 3600,
    }))
}

#[utoipa::path(post, path = "/api/v1/channel/applications", request_body = ApplicationInput, security(("channel" = [])),
    params(("X-Healthcode-Session" = String, Header, description = "The citizen's session token from /api/v1/channel/otp/verify")),
    responses((status = 201, body = PersonView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn channel_apply<S: Store>(
    State(state): State<AppState<S>>,
    caller: ChannelCaller,
    headers: HeaderMap,
    ApiJson(input): ApiJson<ApplicationInput>,
) -> Result<(StatusCode, Json<PersonView>), ApiError> {
    caller.may_apply(&state)?;
    let phone = citizen_of(&state, &headers).await?;
    if input
        .channel
        .as_deref()
        .is_some_and(|c| c != caller.channel.client_id)
    {
        return Err(ApiError::invalid(
            "channel",
            "channel 字段可省略；若填写须为本渠道的标识。",
            "Leave channel out, or give this channel's own client id.",
        ));
    }
    let person = state
        .apply_through(phone, input, &caller.channel.client_id)
        .await?;
    Ok((StatusCode::CREATED, Json(PersonView::from(&person))))
}

#[utoipa::path(get, path = "/api/v1/channel/me/code", security(("channel" = [])),
    params(("X-Healthcode-Session" = String, Header, description = "The citizen's session token")),
    responses((status = 200, body = CodeView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn channel_code<S: Store>(
    State(state): State<AppState<S>>,
    caller: ChannelCaller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.may_show(&state)?;
    let phone = citizen_of(&state, &headers).await?;
    let person = state.person_for_phone(&phone).await?.ok_or_else(|| {
        ApiError::not_found("健康码申领记录（请先申领）", "Application (apply first)")
    })?;
    let live = state.live_code(person).await?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(code_view(&state, &live)),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/admin/channels",
    responses((status = 200, body = [ChannelView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn admin_list<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
) -> Result<Json<Vec<ChannelView>>, ApiError> {
    require_admin(&official)?;
    let channels = state.store.channels().await?;
    Ok(Json(
        channels
            .iter()
            .map(|c| ChannelView::of(&state, c))
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    /// 3 to 32 lowercase letters, digits or -.
    #[schema(pattern = r"^[a-z0-9][a-z0-9-]{2,31}$")]
    pub client_id: String,
    pub name: String,
    /// `alipay`, `wechat`, `unionpay`, `government` or `web`.
    pub kind: String,
}

/// A new channel and its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewChannelView {
    pub channel: ChannelView,
    pub secret: String,
}

#[utoipa::path(post, path = "/api/v1/admin/channels", request_body = NewChannel,
    responses((status = 201, body = NewChannelView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn admin_add<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    ApiJson(req): ApiJson<NewChannel>,
) -> Result<(StatusCode, Json<NewChannelView>), ApiError> {
    require_admin(&official)?;
    let (channel, secret) = register_channel(
        &state.store,
        state.now(),
        &state.rng,
        &format!("official:{}", official.account.username),
        &req.client_id,
        &req.name,
        &req.kind,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewChannelView {
            channel: ChannelView::of(&state, &channel),
            secret,
        }),
    ))
}

#[utoipa::path(post, path = "/api/v1/admin/channels/{id}/disable",
    params(("id" = String, Path, description = "Client id")),
    responses((status = 200, body = ChannelView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn admin_disable<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    Path(id): Path<String>,
) -> Result<Json<ChannelView>, ApiError> {
    require_admin(&official)?;
    disable_channel(
        &state.store,
        state.now(),
        &format!("official:{}", official.account.username),
        &id,
    )
    .await?;
    let channel = state
        .store
        .channel(id.trim())
        .await?
        .ok_or_else(|| ApiError::not_found("此渠道", "Channel"))?;
    Ok(Json(ChannelView::of(&state, &channel)))
}
