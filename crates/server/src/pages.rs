//! The web pages: bilingual (a visible switch; Chinese first for Chinese
//! browsers), usable on a phone, no framework and nothing fetched from
//! elsewhere. Forms post back here; the code page refreshes its code itself.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use healthcode_store::{PersonId, Store};
use std::collections::HashMap;
use std::fmt::Write as _;

use crate::api::{code_view, qr_svg, PersonView};
use crate::auth::{self, session_cookie, ClientIp};
use crate::error::ApiError;
use crate::i18n::{ui, Lang};
use crate::service::{ApplicationInput, DeclarationInput, FactInput, IdentityInput};
use crate::state::AppState;

mod t {
    use super::ui;
    ui! {
        HOME => "首页", "Home";
        SWITCH => "English", "中文";
        TAGLINE => "签名防伪的健康码：卡口离线核验，颜色由公开规则和证据决定。", "Signed health codes: checkpoints verify them offline; colours come from published rules and evidence.";
        MY_CODE => "申领 / 出示我的健康码", "Get / show my health code";
        OFFICIALS => "工作人员入口", "Officials";
        OUTBOX => "短信发件箱（演示）", "SMS outbox (demo)";
        API_DOCS => "API 文档", "API documentation";
        DEMO_BANNER => "演示 DEMO：演示密钥签发，并非真实健康码", "DEMO: signed with demonstration keys, not a real health code";
        PHONE => "手机号码", "Phone number";
        SEND_CODE => "获取短信验证码", "Send me a code";
        SMS_CODE => "短信验证码", "SMS code";
        SENT_TO => "验证码已发送至", "Code sent to";
        CONFIRM => "确认", "Confirm";
        APPLY => "申领健康码", "Apply for a health code";
        NAME => "姓名", "Full name";
        DOC_KIND => "证件类型", "Document";
        RESIDENT_ID => "居民身份证", "Resident ID card";
        PASSPORT => "护照（外籍人员版）", "Passport (traveller version)";
        HOME_RETURN => "港澳居民来往内地通行证", "Home Return Permit";
        TAIWAN => "台湾居民来往大陆通行证", "Taiwan Compatriot Permit";
        DOC_NUMBER => "证件号码", "Document number";
        COUNTRY => "护照签发国（3 个字母，如 GBR）", "Passport country (3 letters, e.g. GBR)";
        DECLARATION => "健康申报", "Health declaration";
        FEVER => "近 14 天有发热", "Fever in the last 14 days";
        SYMPTOMS => "有咳嗽、乏力等症状", "Cough, fatigue or other symptoms";
        TEMPERATURE => "自测体温（℃，可不填）", "Own temperature (℃, optional)";
        TRAVEL => "近 14 天去过的地方（逗号分隔，可不填）", "Places visited in the last 14 days (comma separated, optional)";
        CONTACT => "接触过确诊或疑似病例", "Contact with a confirmed or suspected case";
        SUBMIT => "提交", "Submit";
        CODE_TITLE => "我的健康码", "My health code";
        NOW => "当前时间", "Current time";
        VALID_UNTIL => "本码有效至", "This code is valid until";
        WHY => "为什么是这个颜色？", "Why is my code this colour?";
        RULE_SET => "规则集", "Rule set";
        EVIDENCE => "依据记录", "Evidence";
        NO_RULE => "没有规则触发。", "No rule fired.";
        DECLARE_AGAIN => "再次健康申报", "Declare again";
        SIGN_OUT => "退出", "Sign out";
        KIND => "类型", "Kind";
        USERNAME => "用户名", "Username";
        PASSWORD => "密码", "Password";
        SIGN_IN => "登录", "Sign in";
        FIND => "按证件号码查找", "Find by document number";
        PURPOSE => "查询目的（如流调编号；本人可见）", "Purpose (e.g. tracing case number; the person sees it)";
        MY_RECORD => "我的记录、纠错与数据", "My record, corrections and data";
        OVERSIGHT => "审批与纠错队列", "Approvals and corrections";
        REQUEST_OVERRIDE => "申请人工改码（须另一名审核人员批准）", "Request an override (a reviewer must approve)";
        RECORD => "登记", "Record";
        FACT => "事项", "Fact";
        SITE => "地点 / 实验室 / 医疗机构", "Site / laboratory / facility";
        VALUE => "体温（℃）或结果", "Temperature (℃) or result";
        RECORDED => "已登记并写入审计链。", "Recorded, and appended to the audit chain.";
        NOT_FOUND => "页面不存在。", "Page not found.";
        VENUES => "场所码", "Venue codes";
        TRACE => "密接追踪", "Contact tracing";
        VENUE_OPERATORS => "场所管理（场所码）", "Venues (venue codes)";
        CHECKPOINT => "卡口核验（离线扫码）", "Checkpoint (offline scanning)";
        REVOCATIONS => "撤销健康码", "Revoke codes";
        CHANNEL => "申领渠道", "Applied through";
        GUIDE => "在哪里、如何申领健康码", "Where and how do I get my code";
    }
}

pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/", get(home::<S>))
        .route("/apply", get(apply_phone::<S>).post(apply_phone_post::<S>))
        .route(
            "/apply/verify",
            get(apply_verify::<S>).post(apply_verify_post::<S>),
        )
        .route(
            "/apply/details",
            get(apply_details::<S>).post(apply_details_post::<S>),
        )
        .route("/code", get(code_page::<S>))
        .route("/code/live", get(code_fragment::<S>))
        .route("/declare", get(declare_page::<S>).post(declare_post::<S>))
        .route("/sign-out", axum::routing::post(sign_out::<S>))
        .route(
            "/official",
            get(official_page::<S>).post(official_post::<S>),
        )
        .route(
            "/official/sign-in",
            axum::routing::post(official_sign_in::<S>),
        )
        .route("/outbox", get(outbox_page::<S>))
        // Every route above is the health-code service's (lifecycle).
        .route_layer(axum::middleware::from_fn(
            crate::lifecycle::guard_health_code,
        ))
        .route("/lang", get(switch_lang))
        .route(
            "/assets/app.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css")],
                    include_str!("assets/app.css"),
                )
            }),
        )
        .route(
            "/assets/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript")],
                    include_str!("assets/app.js"),
                )
            }),
        )
}

pub(crate) type Params = Query<HashMap<String, String>>;

pub(crate) fn lang_of(q: &Params, headers: &HeaderMap) -> Lang {
    Lang::negotiate(q.get("lang").map(String::as_str), headers)
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub(crate) fn page<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    path: &str,
    title: &str,
    body: &str,
) -> Html<String> {
    let demo = if state.settings.demo || state.demo_issuer {
        format!("<div class=\"demo\">{}</div>", t::DEMO_BANNER.get(lang))
    } else {
        String::new()
    };
    let other = lang.other();
    Html(format!(
        r#"<!doctype html><html lang="{html_lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title} · {code_name}</title><link rel="stylesheet" href="/assets/app.css"></head><body>
{demo}<header class="top"><a href="/">{code_name}</a><a class="lang" href="/lang?to={other}&amp;next={next}">{switch}</a></header>
<main>{body}</main><script src="/assets/app.js"></script></body></html>"#,
        html_lang = lang.html_lang(),
        title = esc(title),
        code_name = esc(state.settings.code_name.get(lang)),
        other = other.code(),
        next = esc(&urlencode(path)),
        switch = t::SWITCH.get(lang),
    ))
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn error_box(lang: Lang, e: &ApiError) -> String {
    format!(
        "<p class=\"error\" role=\"alert\">{}</p>",
        esc(e.message.get(lang))
    )
}

/// Renders an error as a page, with the API error's status.
pub(crate) fn error_page<S: Store>(state: &AppState<S>, lang: Lang, e: &ApiError) -> Response {
    let body = format!(
        "{}<p><a href=\"/\">{}</a></p>",
        error_box(lang, e),
        t::HOME.get(lang)
    );
    (e.status, page(state, lang, "/", "Error", &body)).into_response()
}

async fn switch_lang(q: Params) -> Response {
    let lang = q.get("to").and_then(|l| Lang::parse(l)).unwrap_or_default();
    // Only local paths: never an open redirect.
    let next = q
        .get("next")
        .filter(|n| n.starts_with('/') && !n.starts_with("//"))
        .cloned()
        .unwrap_or_else(|| "/".into());
    (
        [(
            header::SET_COOKIE,
            format!(
                "hc_lang={}; Path=/; SameSite=Lax; Max-Age=31536000",
                lang.code()
            ),
        )],
        Redirect::to(&next),
    )
        .into_response()
}

async fn home<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Html<String> {
    let lang = lang_of(&q, &headers);
    let outbox = if state.settings.demo {
        format!(
            "<a class=\"button secondary\" href=\"/outbox\">{}</a>",
            t::OUTBOX.get(lang)
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"<h1>{name}</h1><p>{tagline}</p><a class="button" href="/code">{my}</a>
<a class="button secondary" href="/checkpoint">{checkpoint}</a>
<a class="button secondary" href="/guide">{guide}</a>
<a class="button secondary" href="/official">{off}</a><a class="button secondary" href="/venue">{venue}</a>{outbox}<a class="button secondary" href="/docs/">{api}</a>"#,
        name = esc(state.settings.code_name.get(lang)),
        tagline = t::TAGLINE.get(lang),
        my = t::MY_CODE.get(lang),
        off = t::OFFICIALS.get(lang),
        venue = t::VENUE_OPERATORS.get(lang),
        checkpoint = t::CHECKPOINT.get(lang),
        guide = t::GUIDE.get(lang),
        api = t::API_DOCS.get(lang),
    );
    page(&state, lang, "/", state.settings.code_name.get(lang), &body)
}

fn phone_form(lang: Lang, error: Option<&ApiError>, phone: &str) -> String {
    format!(
        r#"<h1>{title}</h1><div class="card">{err}<form method="post" action="/apply">
<label for="phone">{label}</label><input id="phone" name="phone" type="tel" inputmode="tel" autocomplete="tel" required value="{phone}">
<button type="submit">{send}</button></form></div>"#,
        title = t::APPLY.get(lang),
        err = error.map(|e| error_box(lang, e)).unwrap_or_default(),
        label = t::PHONE.get(lang),
        phone = esc(phone),
        send = t::SEND_CODE.get(lang),
    )
}

async fn apply_phone<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Html<String> {
    let lang = lang_of(&q, &headers);
    page(
        &state,
        lang,
        "/apply",
        t::APPLY.get(lang),
        &phone_form(lang, None, ""),
    )
}

/// A posted form's fields. A body that is not a form is answered with an
/// error page in the visitor's language.
pub struct PageForm(pub HashMap<String, String>);

impl<S: Store> axum::extract::FromRequest<AppState<S>> for PageForm {
    type Rejection = Response;

    async fn from_request(
        req: axum::extract::Request,
        state: &AppState<S>,
    ) -> Result<Self, Response> {
        let lang = Lang::negotiate(
            req.uri()
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("lang="))),
            req.headers(),
        );
        match Form::<HashMap<String, String>>::from_request(req, state).await {
            Ok(Form(fields)) => Ok(PageForm(fields)),
            Err(e) => {
                let e = bad_form(&e);
                Err(error_page(state, lang, &e))
            }
        }
    }
}

fn bad_form(e: &FormRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_form",
        crate::i18n::Text::new(
            format!("表单无法读取：{}", e.body_text()),
            format!("The form could not be read: {}", e.body_text()),
        ),
    )
}

pub(crate) fn field<'a>(f: &'a HashMap<String, String>, name: &str) -> &'a str {
    f.get(name).map(String::as_str).unwrap_or("")
}

async fn apply_phone_post<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    let phone = field(&f, "phone");
    match state.request_otp(phone, ip).await {
        Ok(_) => Redirect::to(&format!("/apply/verify?phone={}", urlencode(phone))).into_response(),
        Err(e) => (
            e.status,
            page(
                &state,
                lang,
                "/apply",
                t::APPLY.get(lang),
                &phone_form(lang, Some(&e), phone),
            ),
        )
            .into_response(),
    }
}

fn verify_form<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    phone: &str,
    error: Option<&ApiError>,
) -> String {
    let masked = crate::security::Phone::parse(phone)
        .map(|p| p.masked())
        .unwrap_or_default();
    let outbox = if state.settings.demo {
        format!(
            "<p class=\"note\"><a href=\"/outbox\" target=\"_blank\">{}</a></p>",
            t::OUTBOX.get(lang)
        )
    } else {
        String::new()
    };
    format!(
        r#"<h1>{title}</h1><div class="card">{err}<p>{sent} {masked}</p><form method="post" action="/apply/verify">
<input type="hidden" name="phone" value="{phone}"><label for="code">{label}</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{{6}}" maxlength="6" required>
<button type="submit">{confirm}</button></form>{outbox}</div>"#,
        title = t::APPLY.get(lang),
        err = error.map(|e| error_box(lang, e)).unwrap_or_default(),
        sent = t::SENT_TO.get(lang),
        masked = esc(&masked),
        phone = esc(phone),
        label = t::SMS_CODE.get(lang),
        confirm = t::CONFIRM.get(lang),
    )
}

async fn apply_verify<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Html<String> {
    let lang = lang_of(&q, &headers);
    let phone = q.get("phone").cloned().unwrap_or_default();
    page(
        &state,
        lang,
        "/apply/verify",
        t::APPLY.get(lang),
        &verify_form(&state, lang, &phone, None),
    )
}

async fn apply_verify_post<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    let phone = field(&f, "phone");
    match state.verify_otp(phone, field(&f, "code")).await {
        Ok(token) => {
            let cookie = session_cookie(&token, state.settings.citizen_session_hours * 3600);
            ([(header::SET_COOKIE, cookie)], Redirect::to("/code")).into_response()
        }
        Err(e) => (
            e.status,
            page(
                &state,
                lang,
                "/apply/verify",
                t::APPLY.get(lang),
                &verify_form(&state, lang, phone, Some(&e)),
            ),
        )
            .into_response(),
    }
}

/// The health-declaration inputs, shared by the application and the later
/// declaration forms; `f` refills them after an error.
fn declaration_fields(lang: Lang, f: &HashMap<String, String>) -> String {
    let checked = |name: &str| {
        if f.get(name).is_some() {
            " checked"
        } else {
            ""
        }
    };
    format!(
        r#"<label class="check"><input type="checkbox" name="fever"{fever}> {fever_l}</label>
<label class="check"><input type="checkbox" name="symptoms"{symptoms}> {symptoms_l}</label>
<label class="check"><input type="checkbox" name="contact"{contact}> {contact_l}</label>
<label for="temperature">{temp_l}</label><input id="temperature" name="temperature" type="number" step="0.1" min="30" max="45" value="{temp}">
<label for="travel">{travel_l}</label><input id="travel" name="travel" type="text" value="{travel}">
"#,
        fever = checked("fever"),
        fever_l = t::FEVER.get(lang),
        symptoms = checked("symptoms"),
        symptoms_l = t::SYMPTOMS.get(lang),
        contact = checked("contact"),
        contact_l = t::CONTACT.get(lang),
        temp_l = t::TEMPERATURE.get(lang),
        temp = esc(field(f, "temperature")),
        travel_l = t::TRAVEL.get(lang),
        travel = esc(field(f, "travel")),
    )
}

fn details_form(lang: Lang, f: &HashMap<String, String>, error: Option<&ApiError>) -> String {
    let selected = |v: &str| {
        if field(f, "kind") == v {
            " selected"
        } else {
            ""
        }
    };
    format!(
        r#"<h1>{title}</h1><div class="card">{err}<form method="post" action="/apply/details">
<label for="name">{name_l}</label><input id="name" name="name" type="text" autocomplete="name" required maxlength="64" value="{name}">
<label for="kind">{kind_l}</label><select id="kind" name="kind">
<option value="resident_id"{s1}>{resident}</option><option value="passport"{s2}>{passport}</option>
<option value="home_return_permit"{s3}>{home}</option><option value="taiwan_permit"{s4}>{taiwan}</option></select>
<label for="number">{number_l}</label><input id="number" name="number" type="text" required maxlength="32" value="{number}">
<label for="country">{country_l}</label><input id="country" name="country" type="text" maxlength="3" value="{country}">
<h2>{decl}</h2>
{declaration}<button type="submit">{submit}</button></form></div>"#,
        title = t::APPLY.get(lang),
        err = error.map(|e| error_box(lang, e)).unwrap_or_default(),
        name_l = t::NAME.get(lang),
        name = esc(field(f, "name")),
        kind_l = t::DOC_KIND.get(lang),
        s1 = selected("resident_id"),
        s2 = selected("passport"),
        s3 = selected("home_return_permit"),
        s4 = selected("taiwan_permit"),
        resident = t::RESIDENT_ID.get(lang),
        passport = t::PASSPORT.get(lang),
        home = t::HOME_RETURN.get(lang),
        taiwan = t::TAIWAN.get(lang),
        number_l = t::DOC_NUMBER.get(lang),
        number = esc(field(f, "number")),
        country_l = t::COUNTRY.get(lang),
        country = esc(field(f, "country")),
        decl = t::DECLARATION.get(lang),
        declaration = declaration_fields(lang, f),
        submit = t::SUBMIT.get(lang),
    )
}

async fn apply_details<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    match auth::citizen(&state, &headers).await {
        Ok(Some(_)) => page(
            &state,
            lang,
            "/apply/details",
            t::APPLY.get(lang),
            &details_form(lang, &HashMap::new(), None),
        )
        .into_response(),
        Ok(None) => Redirect::to("/apply").into_response(),
        Err(e) => error_page(&state, lang, &e),
    }
}

fn declaration_from(f: &HashMap<String, String>) -> Result<DeclarationInput, ApiError> {
    let temperature = match field(f, "temperature").trim() {
        "" => None,
        t => Some(t.parse::<f64>().map_err(|_| {
            ApiError::invalid(
                "declaration.temperature",
                "体温须为数字，如 36.5。",
                "The temperature must be a number such as 36.5.",
            )
        })?),
    };
    Ok(DeclarationInput {
        fever: f.contains_key("fever"),
        symptoms: f.contains_key("symptoms"),
        temperature,
        travel: field(f, "travel")
            .split([',', '，', '、'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        contact_with_case: f.contains_key("contact"),
    })
}

async fn apply_details_post<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    let citizen = match auth::citizen(&state, &headers).await {
        Ok(Some(c)) => c,
        Ok(None) => return Redirect::to("/apply").into_response(),
        Err(e) => return error_page(&state, lang, &e),
    };
    let result = async {
        let input = ApplicationInput {
            name: field(&f, "name").to_owned(),
            identity: IdentityInput {
                kind: field(&f, "kind").to_owned(),
                number: field(&f, "number").to_owned(),
                country: Some(field(&f, "country").to_owned()).filter(|c| !c.trim().is_empty()),
            },
            declaration: declaration_from(&f)?,
            channel: Some("web".into()),
        };
        state.apply(citizen.phone, input).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/code").into_response(),
        Err(e) => (
            e.status,
            page(
                &state,
                lang,
                "/apply/details",
                t::APPLY.get(lang),
                &details_form(lang, &f, Some(&e)),
            ),
        )
            .into_response(),
    }
}

/// The part of the code page that is fetched again before the code expires.
pub(crate) async fn code_html<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    headers: &HeaderMap,
) -> Result<Option<String>, ApiError> {
    let Some(citizen) = auth::citizen(state, headers).await? else {
        return Ok(None);
    };
    let Some(person) = state.person_for_phone(&citizen.phone).await? else {
        return Ok(None);
    };
    let live = state.live_code(person).await?;
    let view = code_view(state, &live);
    let svg = qr_svg(&view.code, view.demo)?;
    let mut why = String::new();
    for f in &view.fired {
        let _ = write!(
            why,
            "<li><b>{}</b> <code>{}</code><br><span class=\"note\">{}: {}</span></li>",
            esc(f.description.get(lang)),
            esc(&f.rule_id),
            t::EVIDENCE.get(lang),
            esc(&f.evidence.join(", "))
        );
    }
    if why.is_empty() {
        why = format!("<li>{}</li>", t::NO_RULE.get(lang));
    }
    let PersonView {
        name,
        document,
        kind,
        channel,
        ..
    } = &view.person;
    let channel = crate::channels::channel_label(state, channel, lang).await;
    Ok(Some(format!(
        r#"<section class="card code" style="--c:{css}" id="code-data" data-refresh="{refresh}" data-code="{code}" data-colour="{colour}">
<div class="colour">{label}</div><div class="qr">{svg}</div>
<div class="note">{now_l}</div><div class="clock" id="clock"></div>
<dl><dt>{name_l}</dt><dd>{name}</dd><dt>{doc_l}</dt><dd>{document}</dd><dt>{kind_l}</dt><dd>{kind}</dd>
<dt>{channel_l}</dt><dd>{channel}</dd><dt>{valid_l}</dt><dd>{expires}</dd></dl></section>
<section class="card why"><h2>{why_l}</h2><p>{explanation}</p><ul>{why}</ul><p class="note">{rules_l}: {rule_set}</p></section>"#,
        css = css_colour(&view.colour),
        refresh = view.refresh_in_seconds,
        code = esc(&view.code),
        colour = esc(&view.colour),
        label = esc(view.colour_label.get(lang)),
        name_l = t::NAME.get(lang),
        name = esc(name),
        doc_l = t::DOC_NUMBER.get(lang),
        document = esc(document),
        kind_l = t::KIND.get(lang),
        kind = kind_label(kind, lang),
        channel_l = t::CHANNEL.get(lang),
        channel = esc(&channel),
        valid_l = t::VALID_UNTIL.get(lang),
        now_l = t::NOW.get(lang),
        expires = esc(view.expires_at.as_deref().unwrap_or("")),
        why_l = t::WHY.get(lang),
        explanation = esc(view.explanation.get(lang)),
        rules_l = t::RULE_SET.get(lang),
        rule_set = esc(&view.rule_set),
    )))
}

fn kind_label(kind: &str, lang: Lang) -> &'static str {
    match (kind, lang) {
        ("traveller", Lang::Zh) => "外籍人员版",
        ("traveller", Lang::En) => "traveller version",
        (_, Lang::Zh) => "居民",
        (_, Lang::En) => "resident",
    }
}

pub(crate) fn css_colour(colour: &str) -> &'static str {
    match colour {
        "green" => "#1a9641",
        "yellow" => "#d4a600",
        "orange" => "#f07d00",
        "red" => "#d7191c",
        _ => "#222",
    }
}

async fn code_page<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    match auth::citizen(&state, &headers).await {
        Ok(None) => return Redirect::to("/apply").into_response(),
        Ok(Some(c)) => match state.person_for_phone(&c.phone).await {
            Ok(None) => return Redirect::to("/apply/details").into_response(),
            Ok(Some(_)) => {}
            Err(e) => return error_page(&state, lang, &e),
        },
        Err(e) => return error_page(&state, lang, &e),
    }
    match code_html(&state, lang, &headers).await {
        Ok(Some(html)) => {
            let body = format!(
                r#"<h1>{title}</h1><div id="live-code" data-src="/code/live?lang={lang}">{html}</div>
<a class="button secondary" href="/declare">{declare}</a>
<a class="button secondary" href="/me/record">{record}</a>
<form method="post" action="/sign-out"><button class="secondary" type="submit">{out}</button></form>"#,
                title = t::CODE_TITLE.get(lang),
                lang = lang.code(),
                declare = t::DECLARE_AGAIN.get(lang),
                record = t::MY_RECORD.get(lang),
                out = t::SIGN_OUT.get(lang),
            );
            (
                [(header::CACHE_CONTROL, "no-store")],
                page(&state, lang, "/code", t::CODE_TITLE.get(lang), &body),
            )
                .into_response()
        }
        Ok(None) => Redirect::to("/apply").into_response(),
        Err(e) => error_page(&state, lang, &e),
    }
}

async fn code_fragment<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    match code_html(&state, lang, &headers).await {
        Ok(Some(html)) => ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Ok(None) => ApiError::unauthorized().into_response(),
        Err(e) => e.into_response(),
    }
}

fn declare_form(lang: Lang, f: &HashMap<String, String>, error: Option<&ApiError>) -> String {
    format!(
        r#"<h1>{title}</h1><div class="card">{err}<form method="post" action="/declare">
{declaration}<button type="submit">{submit}</button></form></div>"#,
        title = t::DECLARATION.get(lang),
        err = error.map(|e| error_box(lang, e)).unwrap_or_default(),
        declaration = declaration_fields(lang, f),
        submit = t::SUBMIT.get(lang),
    )
}

async fn declare_page<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    match auth::citizen(&state, &headers).await {
        Ok(Some(_)) => page(
            &state,
            lang,
            "/declare",
            t::DECLARATION.get(lang),
            &declare_form(lang, &HashMap::new(), None),
        )
        .into_response(),
        Ok(None) => Redirect::to("/apply").into_response(),
        Err(e) => error_page(&state, lang, &e),
    }
}

async fn declare_post<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    let result = async {
        let citizen = auth::citizen(&state, &headers)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let person = state
            .person_for_phone(&citizen.phone)
            .await?
            .ok_or_else(|| ApiError::not_found("申领记录", "Application"))?;
        state.declare(&person.id, &declaration_from(&f)?).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/code").into_response(),
        Err(e) => (
            e.status,
            page(
                &state,
                lang,
                "/declare",
                t::DECLARATION.get(lang),
                &declare_form(lang, &f, Some(&e)),
            ),
        )
            .into_response(),
    }
}

async fn sign_out<S: Store>(State(state): State<AppState<S>>, headers: HeaderMap) -> Response {
    if let Some(token) = auth::token_of(&headers) {
        if let Err(e) = state.sign_out(&token).await {
            return e.into_response();
        }
    }
    (
        [(header::SET_COOKIE, auth::clear_session_cookie())],
        Redirect::to("/"),
    )
        .into_response()
}

pub(crate) fn sign_in_form(lang: Lang, error: Option<&ApiError>) -> String {
    format!(
        r#"<h1>{title}</h1><div class="card">{err}<form method="post" action="/official/sign-in">
<label for="username">{user_l}</label><input id="username" name="username" type="text" autocomplete="username" required>
<label for="password">{pass_l}</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{submit}</button></form></div>"#,
        title = t::OFFICIALS.get(lang),
        err = error.map(|e| error_box(lang, e)).unwrap_or_default(),
        user_l = t::USERNAME.get(lang),
        pass_l = t::PASSWORD.get(lang),
        submit = t::SIGN_IN.get(lang),
    )
}

async fn official_sign_in<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    match state
        .official_sign_in(field(&f, "username"), field(&f, "password"), ip)
        .await
    {
        Ok(token) => {
            let cookie = session_cookie(&token, state.settings.official_session_hours * 3600);
            ([(header::SET_COOKIE, cookie)], Redirect::to("/official")).into_response()
        }
        Err(e) => (
            e.status,
            page(
                &state,
                lang,
                "/official",
                t::OFFICIALS.get(lang),
                &sign_in_form(lang, Some(&e)),
            ),
        )
            .into_response(),
    }
}

async fn official_view<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    username: &str,
    person: Option<&healthcode_store::PersonRecord>,
    notice: &str,
) -> Result<String, ApiError> {
    let mut body = format!(
        r#"<h1>{title}</h1><p class="note">{username} · <a href="/official/revocations">{revocations}</a></p>{notice}<div class="card"><form method="get" action="/official">
<label for="identity">{find_l}</label><input id="identity" name="identity" type="text" required>
<label for="purpose">{purpose_l}</label><input id="purpose" name="purpose" type="text" required minlength="2" maxlength="200"><button type="submit">{find_l}</button></form></div>
<p><a class="button secondary" href="/official/oversight">{oversight_l}</a><a class="button secondary" href="/official/venues">{venues_l}</a><a class="button secondary" href="/official/trace">{trace_l}</a></p>"#,
        venues_l = t::VENUES.get(lang),
        trace_l = t::TRACE.get(lang),
        title = t::OFFICIALS.get(lang),
        username = esc(username),
        revocations = t::REVOCATIONS.get(lang),
        find_l = t::FIND.get(lang),
        purpose_l = t::PURPOSE.get(lang),
        oversight_l = t::OVERSIGHT.get(lang),
    );
    if let Some(p) = person {
        let events = state.store.events(&p.id).await?;
        let decision = state.rules.evaluate(&events, state.now());
        let view = PersonView::from(p);
        let _ = write!(
            body,
            r#"<div class="card code" style="--c:{css}"><div class="colour">{label}</div><p>{name} · {doc} · {kind}</p><p>{explanation}</p></div>
<div class="card"><h2>{record_l}</h2><form method="post" action="/official"><input type="hidden" name="person" value="{id}">
<label for="fact">{fact_l}</label><select id="fact" name="fact">
<option value="temperature">体温 temperature</option><option value="pcr_negative">核酸阴性 PCR negative</option>
<option value="pcr_positive">核酸阳性 PCR positive</option><option value="confirmed">确诊 confirmed</option>
<option value="suspected">疑似 suspected</option><option value="excluded">排除 excluded</option>
<option value="close_contact">密接 close contact</option><option value="quarantine_started">开始隔离 quarantine started</option>
<option value="quarantine_ended">解除隔离（无症状）quarantine ended, no symptoms</option></select>
<label for="value">{value_l}</label><input id="value" name="value" type="text">
<label for="site">{site_l}</label><input id="site" name="site" type="text">
<button type="submit">{record_l}</button></form>
<a class="button secondary" href="/official/override/new?person={id}">{override_l}</a></div>"#,
            override_l = t::REQUEST_OVERRIDE.get(lang),
            css = css_colour(decision.colour.as_str()),
            label = esc(if lang == Lang::Zh {
                decision.colour.label_zh()
            } else {
                decision.colour.label_en()
            }),
            name = esc(&view.name),
            doc = esc(&view.document),
            kind = kind_label(&view.kind, lang),
            explanation = esc(if lang == Lang::Zh {
                &decision.explanation.zh
            } else {
                &decision.explanation.en
            }),
            record_l = t::RECORD.get(lang),
            id = esc(p.id.as_str()),
            fact_l = t::FACT.get(lang),
            value_l = t::VALUE.get(lang),
            site_l = t::SITE.get(lang),
        );
    }
    Ok(body)
}

async fn official_page<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    let official = match auth::official(&state, &headers).await {
        Ok(Some(o)) => o,
        Ok(None) => {
            return page(
                &state,
                lang,
                "/official",
                t::OFFICIALS.get(lang),
                &sign_in_form(lang, None),
            )
            .into_response()
        }
        Err(e) => return error_page(&state, lang, &e),
    };
    let result = async {
        let person = match q.get("identity") {
            Some(number) => {
                let purpose = q.get("purpose").map(String::as_str).unwrap_or("");
                crate::oversight::service::check_purpose(purpose)?;
                let p = state.find_person(number).await?.ok_or_else(|| {
                    ApiError::not_found("此证件的申领记录", "Person with this document")
                })?;
                state
                    .note_access(&official.account, &p.id, "lookup", purpose)
                    .await?;
                Some(p)
            }
            None => None,
        };
        official_view(
            &state,
            lang,
            &official.account.username,
            person.as_ref(),
            "",
        )
        .await
    }
    .await;
    match result {
        Ok(body) => page(&state, lang, "/official", t::OFFICIALS.get(lang), &body).into_response(),
        Err(e) => error_page(&state, lang, &e),
    }
}

fn fact_from_form(f: &HashMap<String, String>) -> Result<FactInput, ApiError> {
    use healthcode_core::facts::{DiagnosisStatus, QuarantinePlace, TestKind, TestOutcome};
    let site = field(f, "site").to_owned();
    Ok(match field(f, "fact") {
        "temperature" => FactInput::Temperature {
            celsius: field(f, "value").trim().parse().map_err(|_| {
                ApiError::invalid(
                    "value",
                    "体温须为数字，如 37.8。",
                    "The temperature must be a number such as 37.8.",
                )
            })?,
            site,
        },
        "pcr_negative" | "pcr_positive" => FactInput::TestResult {
            test: TestKind::Pcr,
            outcome: if field(f, "fact") == "pcr_negative" {
                TestOutcome::Negative
            } else {
                TestOutcome::Positive
            },
            lab: site,
            sampled_at: None,
        },
        "confirmed" => FactInput::Diagnosis {
            status: DiagnosisStatus::Confirmed,
            facility: site,
        },
        "suspected" => FactInput::Diagnosis {
            status: DiagnosisStatus::Suspected,
            facility: site,
        },
        "excluded" => FactInput::Diagnosis {
            status: DiagnosisStatus::Excluded,
            facility: site,
        },
        "close_contact" => FactInput::CloseContact {
            case_reference: None,
        },
        "quarantine_started" => FactInput::QuarantineStarted {
            place: QuarantinePlace::Centralised,
        },
        "quarantine_ended" => FactInput::QuarantineEnded { symptoms: false },
        other => {
            return Err(ApiError::invalid(
                "fact",
                format!("未知事项 {other:?}。"),
                format!("Unknown fact {other:?}."),
            ))
        }
    })
}

async fn official_post<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    let official = match auth::official(&state, &headers).await {
        Ok(Some(o)) => o,
        Ok(None) => return Redirect::to("/official").into_response(),
        Err(e) => return error_page(&state, lang, &e),
    };
    let result = async {
        let id = PersonId::parse(field(&f, "person"))
            .ok_or_else(|| ApiError::invalid("person", "人员标识有误。", "Invalid person id."))?;
        state
            .record_fact(&official.account, &id, fact_from_form(&f)?)
            .await?;
        let person = state
            .store
            .person(&id)
            .await?
            .ok_or_else(|| ApiError::not_found("此人", "Person"))?;
        let notice = format!(
            "<p class=\"note\" role=\"status\">{}</p>",
            t::RECORDED.get(lang)
        );
        official_view(
            &state,
            lang,
            &official.account.username,
            Some(&person),
            &notice,
        )
        .await
    }
    .await;
    match result {
        Ok(body) => page(&state, lang, "/official", t::OFFICIALS.get(lang), &body).into_response(),
        Err(e) => error_page(&state, lang, &e),
    }
}

async fn outbox_page<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    if !state.settings.demo {
        return (
            StatusCode::NOT_FOUND,
            page(&state, lang, "/", "404", t::NOT_FOUND.get(lang)),
        )
            .into_response();
    }
    match state.store.outbox(50).await {
        Ok(messages) => {
            let mut rows = String::new();
            for m in messages {
                let _ = write!(
                    rows,
                    "<tr><td>{}</td><td>{}</td><td class=\"sms\">{}</td></tr>",
                    esc(
                        &healthcode_codec::report::rfc3339(m.created_at.unix_timestamp())
                            .unwrap_or_default()
                    ),
                    esc(&m.to_masked),
                    esc(&m.body)
                );
            }
            let body = format!(
                "<h1>{}</h1><div class=\"card\"><table>{rows}</table></div>",
                t::OUTBOX.get(lang)
            );
            page(&state, lang, "/outbox", t::OUTBOX.get(lang), &body).into_response()
        }
        Err(e) => error_page(&state, lang, &ApiError::from(e)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_ui_string_has_both_languages() {
        for ui in super::t::ALL {
            assert!(!ui.zh.is_empty() && !ui.en.is_empty());
            assert_ne!(ui.zh, ui.en, "{} is not translated", ui.en);
        }
    }
}
