//! Public routes of the lifecycle: service status, deletion statements
//! (signed JSON at `/.well-known/healthcode/deletion-statements/<id>.json`
//! and a bilingual page), and the kept code face. None of them belongs to a
//! service that can be shut down: they must stay up after every shutdown.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use healthcode_codec::deletion::DeletionStatement;
use healthcode_store::lifecycle::{KeptCodeFace, Service};
use healthcode_store::Store;
use serde::{Deserialize, Serialize};
use time::Duration;
use utoipa::ToSchema;

use super::{ended_notice, face_lookup, rfc3339, service_names, shown, KEEP_CODE_FACE};
use crate::auth::ClientIp;
use crate::error::{ApiError, ApiJson};
use crate::i18n::{ui, Lang, Text};
use crate::pages::{esc, page};
use crate::security::Phone;
use crate::state::AppState;

mod t {
    use super::ui;
    ui! {
        STATEMENTS => "删除声明", "Deletion statements";
        SERVICES => "服务状态", "Services";
        ONLINE => "正常服务", "Online";
        SCHEDULED => "已决定停止，时间", "Shutdown decided, at";
        ENDED => "已停止", "Ended";
        NONE_YET => "尚无删除声明。", "No deletion statement yet.";
        DECISION => "依据的决定", "Decision";
        OFFLINE_AT => "停止服务时间", "Offline from";
        DELETED_AT => "删除时间", "Deleted at";
        DELETED => "已删除（不可恢复）", "Deleted (irreversibly)";
        CATEGORY => "类别", "Category";
        RECORDS => "记录数", "Records";
        KEPT => "保留", "Kept";
        STORAGE => "存储处理", "Storage steps";
        NOT_DONE => "未完成", "not done";
        NOT_REACHED => "本软件无法触及、须由运维方处理", "Beyond this software's reach, for the operator";
        AUDIT => "审计链（停服后）", "Audit chain (after the shutdown)";
        VERIFY => "离线核验：下载签名 JSON，用发布者公钥指纹核对", "Verify offline: download the signed JSON and check it against the publisher fingerprint";
        FINGERPRINT => "发布者公钥指纹", "Publisher fingerprint";
        FACE_TITLE => "保留的码面", "Kept code face";
        FACE_INTRO => "健康码服务已停止，个人数据已删除。依据停服决定，保留每人停服时的码面（颜色与脱敏信息）。请输入手机号与证件号码查看。", "The health-code service has ended and its personal data was deleted. As the decision allows, each person's code face at the shutdown (colour and masked details) is kept. Enter your phone number and document number to see it.";
        PHONE => "手机号码", "Phone number";
        DOC_NUMBER => "证件号码", "Document number";
        SHOW => "查看", "Show";
        FACE_NONE => "没有与此手机号和证件号对应的码面。", "No code face for this phone number and document number.";
        FACE_STATUS => "停服时的状态", "Status at the shutdown";
        FACE_NOTE => "此为停服时的存档码面，不是实时健康码，不含二维码。", "An archived face from the shutdown, not a live health code; it carries no QR code.";
        NAME => "姓名", "Name";
        COLOUR => "颜色", "Colour";
    }
}

pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/services", get(services::<S>))
        .route("/api/v1/deletion-statements", get(statements::<S>))
        .route("/api/v1/code-face", axum::routing::post(code_face_api::<S>))
        .route(
            "/.well-known/healthcode/deletion-statements/{file}",
            get(statement_json::<S>),
        )
        .route("/deletion-statements", get(statements_page::<S>))
        .route("/deletion-statements/{id}", get(statement_page::<S>))
        .route(
            "/code-face",
            get(code_face_page::<S>).post(code_face_post::<S>),
        )
}

/// A service's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    /// `health-code`, `itinerary` or `checkins`.
    pub service: String,
    /// `online`, `scheduled` (offline from `offline_at`), `offline` (erasure
    /// pending) or `ended` (data deleted, statement published).
    pub state: String,
    pub offline_at: Option<String>,
    pub decision: Option<String>,
    pub keep: Vec<String>,
    pub notice: Option<Text>,
    /// Where the signed deletion statement is, once published.
    pub statement_url: Option<String>,
}

fn statement_url(id: &str) -> String {
    format!("/.well-known/healthcode/deletion-statements/{id}.json")
}

fn service_views<S: Store>(state: &AppState<S>) -> Vec<ServiceView> {
    let all = state.offline.all();
    let now = state.now();
    Service::ALL
        .iter()
        .map(|&service| match all.iter().find(|s| s.service == service) {
            None => ServiceView {
                service: service.as_str().into(),
                state: "online".into(),
                offline_at: None,
                decision: None,
                keep: Vec::new(),
                notice: None,
                statement_url: None,
            },
            Some(s) => ServiceView {
                service: service.as_str().into(),
                state: if s.statement_id.is_some() {
                    "ended"
                } else if s.at <= now {
                    "offline"
                } else {
                    "scheduled"
                }
                .into(),
                offline_at: Some(rfc3339(s.at)),
                decision: Some(s.decision.clone()),
                keep: s.keep.clone(),
                notice: (s.at <= now).then(|| ended_notice(s)),
                statement_url: s.statement_id.as_deref().map(statement_url),
            },
        })
        .collect()
}

#[utoipa::path(get, path = "/api/v1/services",
    responses((status = 200, description = "Each service: online, scheduled for shutdown, offline or ended", body = [ServiceView])))]
pub async fn services<S: Store>(State(state): State<AppState<S>>) -> Json<Vec<ServiceView>> {
    Json(service_views(&state))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatementView {
    pub id: String,
    pub service: String,
    pub published_at: String,
    /// The signed JSON document.
    pub url: String,
}

#[utoipa::path(get, path = "/api/v1/deletion-statements",
    responses((status = 200, description = "Published deletion statements, oldest first", body = [StatementView])))]
pub async fn statements<S: Store>(
    State(state): State<AppState<S>>,
) -> Result<Json<Vec<StatementView>>, ApiError> {
    let all = state.store.deletion_statements().await?;
    Ok(Json(
        all.into_iter()
            .map(|s| StatementView {
                url: statement_url(&s.id),
                id: s.id,
                service: s.service.as_str().into(),
                published_at: rfc3339(s.published_at),
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/.well-known/healthcode/deletion-statements/{file}",
    params(("file" = String, Path, description = "`<statement id>.json`")),
    responses((status = 200, description = "The signed deletion statement (a signed JSON document: protected, payload, signature), verifiable offline with the publisher fingerprint", content_type = "application/json"),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn statement_json<S: Store>(
    State(state): State<AppState<S>>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("删除声明", "Deletion statement");
    let id = file.strip_suffix(".json").ok_or_else(not_found)?;
    let record = state
        .store
        .deletion_statement(id)
        .await?
        .ok_or_else(not_found)?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        record.signed_json,
    )
        .into_response())
}

/// A phone number and document number, to find a kept code face.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaceQuery {
    pub phone: String,
    pub identity_number: String,
}

/// A kept code face: the colour at the shutdown and masked details.
#[derive(Debug, Serialize, ToSchema)]
pub struct FaceView {
    pub colour: String,
    pub masked_name: String,
    pub masked_id: String,
    pub kind: String,
    pub status_as_of: String,
    pub note: Text,
}

impl From<&KeptCodeFace> for FaceView {
    fn from(f: &KeptCodeFace) -> FaceView {
        FaceView {
            colour: f.colour.clone(),
            masked_name: f.masked_name.clone(),
            masked_id: f.masked_id.clone(),
            kind: f.kind.clone(),
            status_as_of: rfc3339(f.status_as_of),
            note: Text::new(t::FACE_NOTE.zh, t::FACE_NOTE.en),
        }
    }
}

/// Finds a kept face. Only after the health-code service ended keeping
/// the code face; limited per client address (20 an hour) so the faces
/// cannot be enumerated.
async fn find_face<S: Store>(
    state: &AppState<S>,
    ip: std::net::IpAddr,
    phone: &str,
    number: &str,
) -> Result<KeptCodeFace, ApiError> {
    let keeps_face = state.offline.all().iter().any(|s| {
        s.service == Service::HealthCode
            && s.statement_id.is_some()
            && s.keep.iter().any(|k| k == KEEP_CODE_FACE)
    });
    if !keeps_face {
        return Err(ApiError::not_found("保留的码面", "Kept code face"));
    }
    state
        .limiter
        .check(
            &format!("face-ip:{ip}"),
            20,
            Duration::hours(1),
            state.now(),
        )
        .map_err(ApiError::too_many)?;
    let phone = Phone::parse(phone)?;
    let number = number.trim();
    if number.is_empty() || number.chars().count() > 32 {
        return Err(ApiError::invalid(
            "identity_number",
            "请填写证件号码。",
            "Enter the document number.",
        ));
    }
    let lookup = face_lookup(
        state.settings.phone_hash_secret.expose().as_bytes(),
        &state.phones.hash(&phone),
        number,
    );
    state.store.kept_code_face(&lookup).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            Text::new(t::FACE_NONE.zh, t::FACE_NONE.en),
        )
    })
}

#[utoipa::path(post, path = "/api/v1/code-face", request_body = FaceQuery,
    responses((status = 200, body = FaceView), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn code_face_api<S: Store>(
    State(state): State<AppState<S>>,
    ClientIp(ip): ClientIp,
    ApiJson(q): ApiJson<FaceQuery>,
) -> Result<Json<FaceView>, ApiError> {
    let face = find_face(&state, ip, &q.phone, &q.identity_number).await?;
    Ok(Json(FaceView::from(&face)))
}

// ----- pages -----

type Params = Query<HashMap<String, String>>;

fn lang_of(q: &Params, headers: &HeaderMap) -> Lang {
    Lang::negotiate(q.get("lang").map(String::as_str), headers)
}

fn service_label(service: Service, lang: Lang) -> &'static str {
    let (zh, en) = service_names(service);
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

async fn statements_page<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    let all = match state.store.deletion_statements().await {
        Ok(all) => all,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut body = format!(
        "<h1>{}</h1><h2>{}</h2><ul>",
        t::STATEMENTS.get(lang),
        t::SERVICES.get(lang)
    );
    for view in service_views(&state) {
        let service = Service::parse(&view.service).unwrap_or(Service::HealthCode);
        let status = match (view.state.as_str(), &view.offline_at) {
            ("online", _) => t::ONLINE.get(lang).to_owned(),
            ("scheduled", Some(at)) => format!("{} {}", t::SCHEDULED.get(lang), esc(at)),
            _ => view
                .notice
                .as_ref()
                .map(|n| esc(n.get(lang)))
                .unwrap_or_else(|| t::ENDED.get(lang).to_owned()),
        };
        let _ = write!(
            body,
            "<li><strong>{}</strong>: {status}</li>",
            service_label(service, lang)
        );
    }
    body.push_str("</ul>");
    if all.is_empty() {
        let _ = write!(body, "<p>{}</p>", t::NONE_YET.get(lang));
    } else {
        body.push_str("<ul>");
        for s in &all {
            let _ = write!(
                body,
                "<li><a href=\"/deletion-statements/{id}\">{id}</a> — {service}, {at}</li>",
                id = esc(&s.id),
                service = service_label(s.service, lang),
                at = esc(&shown(s.published_at)),
            );
        }
        body.push_str("</ul>");
    }
    page(
        &state,
        lang,
        "/deletion-statements",
        t::STATEMENTS.get(lang),
        &body,
    )
    .into_response()
}

async fn statement_page<S: Store>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    let path = format!("/deletion-statements/{id}");
    let error = |e: ApiError| {
        let body = format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            esc(e.message.get(lang))
        );
        (
            e.status,
            page(&state, lang, &path, t::STATEMENTS.get(lang), &body),
        )
            .into_response()
    };
    let record = match state.store.deletion_statement(&id).await {
        Ok(Some(r)) => r,
        Ok(None) => return error(ApiError::not_found("删除声明", "Deletion statement")),
        Err(e) => return error(e.into()),
    };
    let statement =
        match DeletionStatement::open(&record.signed_json, Some(&state.publisher_fingerprint)) {
            Ok(v) => v.statement,
            Err(e) => return error(ApiError::internal(e)),
        };
    let text = |b: &healthcode_core::Bilingual| match lang {
        Lang::Zh => esc(&b.zh),
        Lang::En => esc(&b.en),
    };
    let service = Service::parse(&statement.service).unwrap_or(Service::HealthCode);
    let mut body = format!(
        "<h1>{title}: {service}</h1><dl><dt>{decision_l}</dt><dd>{decision}</dd><dt>{offline_l}</dt><dd>{offline}</dd><dt>{deleted_l}</dt><dd>{deleted_at}</dd></dl>\
         <h2>{deleted_h}</h2><table><tr><th>{cat}</th><th>{rec}</th></tr>",
        title = t::STATEMENTS.get(lang),
        service = service_label(service, lang),
        decision_l = t::DECISION.get(lang),
        decision = esc(&statement.decision),
        offline_l = t::OFFLINE_AT.get(lang),
        offline = esc(&shown(statement.offline_at)),
        deleted_l = t::DELETED_AT.get(lang),
        deleted_at = esc(&shown(statement.deleted_at)),
        deleted_h = t::DELETED.get(lang),
        cat = t::CATEGORY.get(lang),
        rec = t::RECORDS.get(lang),
    );
    for d in &statement.deleted {
        let label = category_label(&d.category)
            .map(|t| format!("{} ", esc(t.get(lang))))
            .unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td>{label}<code>{}</code></td><td>{}</td></tr>",
            esc(&d.category),
            d.records
        );
    }
    let _ = write!(body, "</table><h2>{}</h2><ul>", t::KEPT.get(lang));
    for k in &statement.kept {
        let _ = write!(body, "<li>{}</li>", text(k));
    }
    let _ = write!(body, "</ul><h2>{}</h2><ul>", t::STORAGE.get(lang));
    for s in &statement.storage {
        let _ = write!(
            body,
            "<li><code>{}</code>{}</li>",
            esc(&s.step),
            if s.done {
                String::from(" ✓")
            } else {
                format!(
                    " — {}: {}",
                    t::NOT_DONE.get(lang),
                    esc(s.note.as_deref().unwrap_or(""))
                )
            }
        );
    }
    let _ = write!(body, "</ul><h2>{}</h2><ul>", t::NOT_REACHED.get(lang));
    for n in &statement.not_reached {
        let _ = write!(body, "<li>{}</li>", text(n));
    }
    body.push_str("</ul>");
    if let Some(audit) = &statement.audit {
        let _ = write!(
            body,
            "<p>{}: {} · <code>{}</code></p>",
            t::AUDIT.get(lang),
            audit.entries,
            esc(&audit.head)
        );
    }
    let _ = write!(
        body,
        "<p>{verify}: <a href=\"{url}\">{url}</a><br>{fp_l}: <code>{fp}</code><br><code>healthcode service verify-statement {id}.json --pin {fp}</code></p>",
        verify = t::VERIFY.get(lang),
        url = esc(&statement_url(&record.id)),
        fp_l = t::FINGERPRINT.get(lang),
        fp = esc(&state.publisher_fingerprint),
        id = esc(&record.id),
    );
    page(&state, lang, &path, t::STATEMENTS.get(lang), &body).into_response()
}

/// What a category of deleted records is, in both languages (the
/// statement itself carries the stable snake_case name).
pub fn category_label(category: &str) -> Option<Text> {
    let (zh, en) = match category {
        "people" => (
            "人员记录（姓名、证件、手机号哈希）",
            "People (names, documents, phone hashes)",
        ),
        "events" => (
            "健康事实（申报、检测、诊断、隔离）",
            "Health facts (declarations, tests, diagnoses, quarantine)",
        ),
        "one_time_codes" => ("短信验证码", "One-time SMS codes"),
        "sessions" => ("登录会话", "Sign-in sessions"),
        "sms_outbox_messages" => ("开发用短信发件箱", "Development SMS outbox"),
        "official_accounts" => ("工作人员账户", "Officials' accounts"),
        "dependents" => (
            "随行人员（姓名、证件号码）",
            "Dependents (names, identity numbers)",
        ),
        "checkins" => ("场所扫码记录", "Venue check-ins"),
        "checkin_client_ids" => ("批量扫码记录的去重标识", "Batch check-in idempotency ids"),
        "sealed_checkins" => ("加密场所的扫码记录", "Sealed venue check-ins"),
        "hour_reveals" => ("场所公开的时段密钥", "Hour secrets revealed by venues"),
        "approval_requests" => (
            "待二次审批的申请（改码、批量操作）",
            "Requests for a second official's approval (overrides, bulk actions)",
        ),
        "correction_requests" => ("纠错申请", "Correction requests"),
        "access_log_entries" => ("工作人员查阅记录", "Officials' reads of people's data"),
        "carrier_stays" => ("运营商行程记录", "Carrier stay records"),
        "itinerary_card_queries" => ("行程卡查询记录", "Itinerary card queries"),
        _ => return None,
    };
    Some(Text::new(zh, en))
}

fn face_form(lang: Lang, error: Option<&ApiError>) -> String {
    let error = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\">{}</p>",
                esc(e.message.get(lang))
            )
        })
        .unwrap_or_default();
    format!(
        "<h1>{title}</h1><p>{intro}</p>{error}<form method=\"post\" action=\"/code-face?lang={code}\">\
         <label>{phone}<input name=\"phone\" inputmode=\"tel\" autocomplete=\"tel\" required></label>\
         <label>{doc}<input name=\"identity_number\" required></label>\
         <button>{show}</button></form>",
        title = t::FACE_TITLE.get(lang),
        intro = t::FACE_INTRO.get(lang),
        code = lang.code(),
        phone = t::PHONE.get(lang),
        doc = t::DOC_NUMBER.get(lang),
        show = t::SHOW.get(lang),
    )
}

async fn code_face_page<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    page(
        &state,
        lang,
        "/code-face",
        t::FACE_TITLE.get(lang),
        &face_form(lang, None),
    )
    .into_response()
}

async fn code_face_post<S: Store>(
    State(state): State<AppState<S>>,
    ClientIp(ip): ClientIp,
    q: Params,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let lang = lang_of(&q, &headers);
    let title = t::FACE_TITLE.get(lang);
    let Ok(Form(f)) = form else {
        let e = ApiError::invalid("form", "无法读取表单。", "The form could not be read.");
        return (
            e.status,
            page(
                &state,
                lang,
                "/code-face",
                title,
                &face_form(lang, Some(&e)),
            ),
        )
            .into_response();
    };
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    match find_face(&state, ip, get("phone"), get("identity_number")).await {
        Ok(face) => {
            let body = format!(
                "<h1>{title}</h1><div class=\"code {colour}\"><p><strong>{colour_l}: {colour}</strong></p>\
                 <p>{name_l}: {name}</p><p>{doc_l}: {id}</p><p>{status_l}: {at}</p></div><p>{note}</p>",
                colour = esc(&face.colour),
                colour_l = t::COLOUR.get(lang),
                name_l = t::NAME.get(lang),
                name = esc(&face.masked_name),
                doc_l = t::DOC_NUMBER.get(lang),
                id = esc(&face.masked_id),
                status_l = t::FACE_STATUS.get(lang),
                at = esc(&shown(face.status_as_of)),
                note = t::FACE_NOTE.get(lang),
            );
            page(&state, lang, "/code-face", title, &body).into_response()
        }
        Err(e) => (
            e.status,
            page(
                &state,
                lang,
                "/code-face",
                title,
                &face_form(lang, Some(&e)),
            ),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_ui_string_has_both_languages() {
        for s in super::t::ALL {
            assert!(!s.zh.trim().is_empty() && !s.en.trim().is_empty(), "{s:?}");
        }
    }
}
