//! Venue pages: the check-in page a venue QR opens, dependents, the venue
//! operator's page, registration (officials and self-service) and the
//! officials' tracing page. Bilingual, phone first, no scripts of our own
//! beyond the code page's refresher.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use healthcode_core::mask::{mask_id, mask_name};
use healthcode_core::tracing::Subject;
use healthcode_store::venues::{VenueMode, VenueRecord};
use healthcode_store::{PersonRecord, Store};
use time::{Duration, OffsetDateTime};

use super::api::{
    candidate_views, companion_views, masked_checkins, operator_token, poster_response,
    resolve_case, sealed_visits,
};
use super::logic::{Registered, Registrar, VenueInput};
use super::{base_url, hm};
use crate::auth::{self, ClientIp};
use crate::error::ApiError;
use crate::i18n::{ui, Lang};
use crate::pages::{code_html, error_box, error_page, esc, field, lang_of, page, PageForm, Params};
use crate::state::AppState;

mod t {
    use super::ui;
    ui! {
        CHECK_IN => "场所扫码登记", "Venue check-in";
        CHECK_IN_BUTTON => "登记到访", "Check in";
        CHECKED_IN => "已登记到访。请向工作人员出示下方健康码。", "Checked in. Show the health code below to the staff.";
        CHECK_OUT => "离开时点此登记离开", "Leaving? Check out";
        CHECKED_OUT => "已登记离开。", "Checked out.";
        UNTIL => "默认停留至", "Stay recorded until";
        WITH => "同行人员（老人、儿童）", "With me (elderly, children)";
        ADD_DEPENDENT => "添加同行人员", "Add someone who comes with me";
        DEPENDENTS => "同行人员", "People who come with me";
        NONE => "暂无。", "None yet.";
        SIGN_IN_FIRST => "请先申领或登录健康码，然后再次扫描场所码。", "Please get or sign in to your health code first, then scan the venue code again.";
        GET_CODE => "申领 / 登录健康码", "Get / sign in to my health code";
        NAME => "姓名", "Full name";
        ID_NUMBER => "居民身份证号码", "Resident ID number";
        ADD => "添加", "Add";
        SEALED_NOTE => "本场所采用加密登记：您的到访记录加密保存，只有场所和卫生健康部门共同才能查看。", "This venue seals check-ins: your visit is stored encrypted; only the venue and the health authority together can read it.";
        VENUE => "场所", "Venue";
        ADDRESS => "地址", "Address";
        REGION => "地区代码（GB/T 2260，6 位）", "Region code (GB/T 2260, 6 digits)";
        CATEGORY => "类别（如 mall、restaurant、hospital）", "Category (e.g. mall, restaurant, hospital)";
        CELL => "位置网格编号（可不填）", "Location cell id (optional)";
        MODE => "登记方式", "Check-in mode";
        MODE_OPEN => "普通（卫生健康部门可查询）", "Open (the health authority can query)";
        MODE_SEALED => "加密（场所与卫生健康部门共同才能查看）", "Sealed (readable only by venue and authority together)";
        REGISTER => "登记场所", "Register a venue";
        REGISTERED => "场所已登记。以下凭证只显示这一次，请妥善保存。", "Venue registered. The credentials below are shown only once: keep them safe.";
        OPERATOR_TOKEN => "场所管理凭证", "Venue operator credential";
        VENUE_KEY => "场所密钥（加密登记用，公开时段时需要）", "Venue key (sealed mode; needed to reveal hours)";
        POSTER => "打印场所码海报（A4）", "Print the venue poster (A4)";
        VENUES => "场所", "Venues";
        OPERATOR => "场所管理", "Venue operator";
        OPERATOR_SIGN_IN => "输入场所管理凭证", "Enter your venue operator credential";
        SIGN_IN => "进入", "Enter";
        SIGN_OUT => "退出", "Sign out";
        RECENT => "近 14 天扫码登记（姓名、证件已脱敏）", "Check-ins of the last 14 days (names and documents masked)";
        ARRIVED => "到达", "Arrived";
        LEFT => "离开", "Left";
        DOCUMENT => "证件", "Document";
        SEALED_COUNTS => "加密登记数量（按小时）", "Sealed check-ins per hour";
        REVEAL => "向卫生健康部门公开时段", "Reveal hours to the health authority";
        REVEAL_FROM => "自（如 2026-11-22T08:00:00+08:00）", "From (e.g. 2026-11-22T08:00:00+08:00)";
        REVEAL_TO => "至", "To";
        REVEALED => "已公开时段数", "Hours revealed";
        TRACE => "病例密接追踪", "Contact tracing";
        CASE => "确诊病例证件号码", "Confirmed case's document number";
        FROM => "自（RFC 3339，默认 14 天前）", "From (RFC 3339, default 14 days ago)";
        TO => "至（默认现在）", "To (default now)";
        SEALED_VENUES => "打开加密场所已公开时段（场所编号，逗号分隔，可不填）", "Open revealed hours of sealed venues (venue ids, comma separated, optional)";
        FIND => "查找候选密接", "Find candidates";
        CANDIDATES => "候选密接（须逐一确认，确认前不改变任何人的健康码）", "Candidate contacts (each needs confirming; nobody's code changes before that)";
        CASE_VISITS => "病例到访记录数", "Case's stays found";
        TOGETHER => "共同停留", "Together";
        CONFIRM => "确认判定为密接", "Confirm as close contact";
        DESIGNATED => "已判定为密接，已写入事件与审计链。", "Designated a close contact; recorded as an event and in the audit chain.";
        DEPENDENT_NOTE => "（随行人员，无独立健康码：请通知其监护人）", "(a dependent without a code of their own: inform their guardian)";
        NO_CANDIDATES => "没有候选密接。", "No candidates.";
        IMPLAUSIBLE => "存疑：扫码时运营商记录显示手机在其他城市", "Implausible: at check-in the carrier saw this phone in city";
        COMPANIONS => "时空伴随候选（同一 800 米网格共同停留超过 10 分钟，且 14 天内累计超过 30 小时）", "Spatiotemporal companions (same 800 m cell together > 10 min, > 30 h in the cell over 14 days)";
        CUMULATIVE => "网格内累计（病例 / 本人）", "In the cell (case / this person)";
        NO_PERSON => "（此号码未申领健康码）", "(no health code for this phone)";
        SELF_SERVICE => "场所自助登记", "Register your venue";
    }
}

pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/v/{token}", get(scan::<S>).post(scan_post::<S>))
        .route("/v/{token}/out", post(check_out_post::<S>))
        .route(
            "/me/dependents",
            get(dependents_page::<S>).post(dependents_post::<S>),
        )
        .route("/venue", get(operator_page::<S>))
        .route("/venue/sign-in", post(operator_sign_in::<S>))
        .route("/venue/sign-out", post(operator_sign_out))
        .route("/venue/poster.svg", get(operator_poster::<S>))
        .route("/venue/reveal", post(operator_reveal::<S>))
        .route(
            "/venues/register",
            get(self_register_page::<S>).post(self_register_post::<S>),
        )
        .route(
            "/official/venues",
            get(official_venues::<S>).post(official_venues_post::<S>),
        )
        // Every route above is the venue check-in service's (lifecycle).
        .route_layer(axum::middleware::from_fn(crate::lifecycle::guard_checkins))
        // Tracing is the health authority's: it designates close contacts
        // in the health code.
        .route(
            "/official/trace",
            get(trace_page::<S>).post(trace_post::<S>),
        )
        .route("/official/trace/confirm", post(trace_confirm::<S>))
        .route_layer(axum::middleware::from_fn(
            crate::lifecycle::guard_health_code,
        ))
}

fn html_page<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    path: &str,
    title: &str,
    body: &str,
) -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        page(state, lang, path, title, body),
    )
        .into_response()
}

fn venue_card(lang: Lang, v: &VenueRecord) -> String {
    let sealed = if v.mode == VenueMode::Sealed {
        format!("<p class=\"note\">{}</p>", t::SEALED_NOTE.get(lang))
    } else {
        String::new()
    };
    format!(
        "<section class=\"card\"><h2>{name}</h2><p>{addr_l}: {addr}</p>{sealed}</section>",
        name = esc(&v.name),
        addr_l = t::ADDRESS.get(lang),
        addr = esc(&v.address),
    )
}

async fn citizen_person<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<Option<PersonRecord>, ApiError> {
    match auth::citizen(state, headers).await? {
        Some(c) => state.person_for_phone(&c.phone).await,
        None => Ok(None),
    }
}

// ----- check-in -----

async fn scan<S: Store>(
    State(state): State<AppState<S>>,
    Path(token): Path<String>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    let venue = match state.venue_for_token(&token).await {
        Ok(v) => v,
        Err(e) => return error_page(&state, lang, &e),
    };
    let person = match citizen_person(&state, &headers).await {
        Ok(p) => p,
        Err(e) => return error_page(&state, lang, &e),
    };
    let path = format!("/v/{token}");
    let Some(person) = person else {
        let body = format!(
            "<h1>{title}</h1>{card}<p>{first}</p><a class=\"button\" href=\"/apply\">{get}</a>",
            title = t::CHECK_IN.get(lang),
            card = venue_card(lang, &venue),
            first = t::SIGN_IN_FIRST.get(lang),
            get = t::GET_CODE.get(lang),
        );
        return html_page(&state, lang, &path, t::CHECK_IN.get(lang), &body);
    };
    let deps = match state.store.dependents(&person.id).await {
        Ok(d) => d,
        Err(e) => return error_page(&state, lang, &e.into()),
    };
    let mut boxes = String::new();
    for d in &deps {
        let _ = write!(
            boxes,
            "<label><input type=\"checkbox\" name=\"dep_{n}\" value=\"on\"> {name} <span class=\"note\">{doc}</span></label>",
            n = d.number,
            name = esc(&mask_name(&d.full_name)),
            doc = esc(&mask_id(d.identity.number())),
        );
    }
    let body = format!(
        r#"<h1>{title}</h1>{card}<div class="card"><form method="post" action="{path}?lang={lc}">
<p>{me}: <b>{name}</b></p><fieldset><legend>{with}</legend>{boxes}<p><a href="/me/dependents?back={path_enc}">{add}</a></p></fieldset>
<button type="submit">{go}</button></form></div>"#,
        title = t::CHECK_IN.get(lang),
        card = venue_card(lang, &venue),
        path = esc(&path),
        path_enc = esc(&path),
        lc = lang.code(),
        me = t::NAME.get(lang),
        name = esc(&mask_name(&person.full_name)),
        with = t::WITH.get(lang),
        add = t::ADD_DEPENDENT.get(lang),
        go = t::CHECK_IN_BUTTON.get(lang),
    );
    html_page(&state, lang, &path, t::CHECK_IN.get(lang), &body)
}

async fn scan_post<S: Store>(
    State(state): State<AppState<S>>,
    Path(token): Path<String>,
    q: Params,
    headers: HeaderMap,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    let result = async {
        let venue = state.venue_for_token(&token).await?;
        let person = citizen_person(&state, &headers)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let mut deps = Vec::new();
        for (k, v) in &f {
            if let Some(n) = k.strip_prefix("dep_") {
                let n: u16 = n.parse().map_err(|_| {
                    ApiError::invalid(
                        "dependents",
                        "同行人员编号无效。",
                        "Invalid dependent number.",
                    )
                })?;
                if v == "on" {
                    deps.push(n);
                }
            }
        }
        deps.sort_unstable();
        let done = state.check_in(&person, &venue, &deps).await?;
        let code = code_html(&state, lang, &headers).await?.unwrap_or_default();
        Ok::<_, ApiError>((venue, done, code))
    }
    .await;
    match result {
        Ok((venue, done, code)) => {
            let until = done.first().map(|c| hm(c.left)).unwrap_or_default();
            let out = if venue.mode == VenueMode::Open {
                format!(
                    "<form method=\"post\" action=\"/v/{token}/out?lang={lc}\"><button class=\"secondary\" type=\"submit\">{out}</button></form>",
                    token = esc(&token),
                    lc = lang.code(),
                    out = t::CHECK_OUT.get(lang),
                )
            } else {
                String::new()
            };
            let body = format!(
                r#"<h1>{title}</h1><p class="ok" role="status">✔ {ok} ({n})</p>{card}<p class="note">{until_l}: {until}</p>
<div id="live-code" data-src="/code/live?lang={lc}">{code}</div>{out}"#,
                title = t::CHECK_IN.get(lang),
                ok = t::CHECKED_IN.get(lang),
                n = done.len(),
                card = venue_card(lang, &venue),
                until_l = t::UNTIL.get(lang),
                lc = lang.code(),
            );
            html_page(&state, lang, "/code", t::CHECK_IN.get(lang), &body)
        }
        Err(e) if e.status == StatusCode::UNAUTHORIZED => Redirect::to("/apply").into_response(),
        Err(e) => error_page(&state, lang, &e),
    }
}

async fn check_out_post<S: Store>(
    State(state): State<AppState<S>>,
    Path(token): Path<String>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    let result = async {
        let venue = state.venue_for_token(&token).await?;
        let person = citizen_person(&state, &headers)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let n = state.check_out(&person, &venue).await?;
        Ok::<_, ApiError>((venue, n))
    }
    .await;
    match result {
        Ok((venue, n)) => {
            let body = format!(
                "<h1>{title}</h1><p class=\"ok\">✔ {ok} ({n})</p>{card}<a class=\"button\" href=\"/code\">{code}</a>",
                title = t::CHECK_IN.get(lang),
                ok = t::CHECKED_OUT.get(lang),
                card = venue_card(lang, &venue),
                code = t::GET_CODE.get(lang),
            );
            html_page(&state, lang, "/code", t::CHECK_IN.get(lang), &body)
        }
        Err(e) => error_page(&state, lang, &e),
    }
}

// ----- dependents -----

fn safe_back(q: &Params) -> Option<String> {
    q.get("back")
        .filter(|b| b.starts_with("/v/") && b.len() < 1024 && !b.contains(['"', '<', '>', '\'']))
        .cloned()
}

async fn dependents_view<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    person: &PersonRecord,
    back: Option<&str>,
    error: Option<&ApiError>,
    f: &HashMap<String, String>,
) -> Result<String, ApiError> {
    let deps = state.store.dependents(&person.id).await?;
    let mut list = String::new();
    for d in &deps {
        let _ = write!(
            list,
            "<li>{} <span class=\"note\">{}</span></li>",
            esc(&mask_name(&d.full_name)),
            esc(&mask_id(d.identity.number()))
        );
    }
    if list.is_empty() {
        list = format!("<li>{}</li>", t::NONE.get(lang));
    }
    let back_q = back
        .map(|b| format!("&amp;back={}", esc(b)))
        .unwrap_or_default();
    let back_link = back
        .map(|b| {
            format!(
                "<a class=\"button secondary\" href=\"{}\">{}</a>",
                esc(b),
                t::CHECK_IN.get(lang)
            )
        })
        .unwrap_or_default();
    Ok(format!(
        r#"<h1>{title}</h1><ul>{list}</ul><div class="card">{err}<form method="post" action="/me/dependents?lang={lc}{back_q}">
<label for="name">{name_l}</label><input id="name" name="name" required maxlength="64" value="{name}">
<label for="identity_number">{id_l}</label><input id="identity_number" name="identity_number" required maxlength="18" value="{id}">
<button type="submit">{add}</button></form></div>{back_link}"#,
        title = t::DEPENDENTS.get(lang),
        err = error.map(|e| error_box(lang, e)).unwrap_or_default(),
        lc = lang.code(),
        name_l = t::NAME.get(lang),
        name = esc(field(f, "name")),
        id_l = t::ID_NUMBER.get(lang),
        id = esc(field(f, "identity_number")),
        add = t::ADD.get(lang),
    ))
}

async fn dependents_page<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    let person = match citizen_person(&state, &headers).await {
        Ok(Some(p)) => p,
        Ok(None) => return Redirect::to("/apply").into_response(),
        Err(e) => return error_page(&state, lang, &e),
    };
    match dependents_view(
        &state,
        lang,
        &person,
        safe_back(&q).as_deref(),
        None,
        &HashMap::new(),
    )
    .await
    {
        Ok(body) => html_page(
            &state,
            lang,
            "/me/dependents",
            t::DEPENDENTS.get(lang),
            &body,
        ),
        Err(e) => error_page(&state, lang, &e),
    }
}

async fn dependents_post<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    let person = match citizen_person(&state, &headers).await {
        Ok(Some(p)) => p,
        Ok(None) => return Redirect::to("/apply").into_response(),
        Err(e) => return error_page(&state, lang, &e),
    };
    let back = safe_back(&q);
    match state
        .add_dependent(&person, field(&f, "name"), field(&f, "identity_number"))
        .await
    {
        Ok(_) => {
            let to = match &back {
                Some(b) => format!("/me/dependents?back={b}"),
                None => "/me/dependents".into(),
            };
            Redirect::to(&to).into_response()
        }
        Err(e) => match dependents_view(&state, lang, &person, back.as_deref(), Some(&e), &f).await
        {
            Ok(body) => (
                e.status,
                page(
                    &state,
                    lang,
                    "/me/dependents",
                    t::DEPENDENTS.get(lang),
                    &body,
                ),
            )
                .into_response(),
            Err(e2) => error_page(&state, lang, &e2),
        },
    }
}

// ----- venue operators -----

async fn operator_page<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    let venue = match operator_token(&headers) {
        Some(token) => match state.operator_venue(&token).await {
            Ok(v) => v,
            Err(e) => return error_page(&state, lang, &e),
        },
        None => None,
    };
    let Some(venue) = venue else {
        return html_page(
            &state,
            lang,
            "/venue",
            t::OPERATOR.get(lang),
            &operator_sign_in_form(lang, None),
        );
    };
    match operator_view(&state, lang, &venue, None).await {
        Ok(body) => html_page(&state, lang, "/venue", t::OPERATOR.get(lang), &body),
        Err(e) => error_page(&state, lang, &e),
    }
}

fn operator_sign_in_form(lang: Lang, error: Option<&ApiError>) -> String {
    format!(
        r#"<h1>{title}</h1><div class="card">{err}<form method="post" action="/venue/sign-in?lang={lc}">
<label for="token">{label}</label><input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">{go}</button></form></div><a class="button secondary" href="/venues/register">{reg}</a>"#,
        title = t::OPERATOR.get(lang),
        err = error.map(|e| error_box(lang, e)).unwrap_or_default(),
        lc = lang.code(),
        label = t::OPERATOR_SIGN_IN.get(lang),
        go = t::SIGN_IN.get(lang),
        reg = t::SELF_SERVICE.get(lang),
    )
}

async fn operator_view<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    venue: &VenueRecord,
    notice: Option<String>,
) -> Result<String, ApiError> {
    let now = state.now();
    let mut rows = String::new();
    let section = match venue.mode {
        VenueMode::Open => {
            for c in masked_checkins(
                state,
                venue,
                now - Duration::days(14),
                now + Duration::minutes(1),
            )
            .await?
            {
                let _ = write!(
                    rows,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&c.name),
                    esc(&c.document),
                    esc(&short(&c.arrived)),
                    esc(&short(&c.left)),
                );
            }
            format!(
                "<h2>{recent}</h2><table><tr><th>{name}</th><th>{doc}</th><th>{arr}</th><th>{left}</th></tr>{rows}</table>",
                recent = t::RECENT.get(lang),
                name = t::NAME.get(lang),
                doc = t::DOCUMENT.get(lang),
                arr = t::ARRIVED.get(lang),
                left = t::LEFT.get(lang),
            )
        }
        VenueMode::Sealed => {
            let hour = now.unix_timestamp() / 3600;
            for (h, n) in state
                .store
                .sealed_counts(venue.id, hour - 14 * 24, hour)
                .await?
            {
                let at =
                    OffsetDateTime::from_unix_timestamp(h * 3600).map_err(ApiError::internal)?;
                let _ = write!(rows, "<tr><td>{}</td><td>{n}</td></tr>", hm(at));
            }
            let revealed = state.store.reveals(venue.id).await?.len();
            format!(
                r#"<h2>{counts}</h2><table>{rows}</table><p class="note">{rev_l}: {revealed}</p>
<div class="card"><h2>{reveal}</h2><form method="post" action="/venue/reveal?lang={lc}">
<label for="key">{key_l}</label><input id="key" name="venue_key" type="password" autocomplete="off" required>
<label for="from">{from_l}</label><input id="from" name="from" required>
<label for="to">{to_l}</label><input id="to" name="to" required>
<button type="submit">{reveal}</button></form></div>"#,
                counts = t::SEALED_COUNTS.get(lang),
                rev_l = t::REVEALED.get(lang),
                reveal = t::REVEAL.get(lang),
                lc = lang.code(),
                key_l = t::VENUE_KEY.get(lang),
                from_l = t::REVEAL_FROM.get(lang),
                to_l = t::REVEAL_TO.get(lang),
            )
        }
    };
    Ok(format!(
        r#"<h1>{title}</h1>{notice}{card}<a class="button" href="/venue/poster.svg" target="_blank">{poster}</a>{section}
<form method="post" action="/venue/sign-out"><button class="secondary" type="submit">{out}</button></form>"#,
        title = t::OPERATOR.get(lang),
        notice = notice
            .map(|n| format!("<p class=\"ok\">{}</p>", esc(&n)))
            .unwrap_or_default(),
        card = venue_card(lang, venue),
        poster = t::POSTER.get(lang),
        out = t::SIGN_OUT.get(lang),
    ))
}

/// `2026-11-22T08:00:00Z` → the page's local form.
fn short(rfc: &str) -> String {
    OffsetDateTime::parse(rfc, &time::format_description::well_known::Rfc3339)
        .map(hm)
        .unwrap_or_else(|_| rfc.to_owned())
}

async fn operator_sign_in<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    if let Err(secs) = state.limiter.check(
        &format!("venue-sign-in:{ip}"),
        30,
        Duration::minutes(15),
        state.now(),
    ) {
        return error_page(&state, lang, &ApiError::too_many(secs));
    }
    let token = field(&f, "token").trim().to_owned();
    match state.operator_venue(&token).await {
        Ok(Some(_)) => (
            [(
                header::SET_COOKIE,
                format!("hc_venue={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200"),
            )],
            Redirect::to("/venue"),
        )
            .into_response(),
        Ok(None) => {
            let e = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "wrong_credentials",
                crate::i18n::Text::new("场所管理凭证不正确。", "Wrong venue operator credential."),
            );
            (
                e.status,
                page(
                    &state,
                    lang,
                    "/venue",
                    t::OPERATOR.get(lang),
                    &operator_sign_in_form(lang, Some(&e)),
                ),
            )
                .into_response()
        }
        Err(e) => error_page(&state, lang, &e),
    }
}

async fn operator_sign_out() -> Response {
    (
        [(
            header::SET_COOKIE,
            "hc_venue=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
        )],
        Redirect::to("/venue"),
    )
        .into_response()
}

async fn operator_poster<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    let venue = match operator_token(&headers) {
        Some(token) => state.operator_venue(&token).await,
        None => Ok(None),
    };
    match venue {
        Ok(Some(v)) => {
            poster_response(&state, &headers, &v).unwrap_or_else(|e| error_page(&state, lang, &e))
        }
        Ok(None) => Redirect::to("/venue").into_response(),
        Err(e) => error_page(&state, lang, &e),
    }
}

fn parse_time(f: &HashMap<String, String>, name: &str) -> Result<Option<OffsetDateTime>, ApiError> {
    let v = field(f, name).trim();
    if v.is_empty() {
        return Ok(None);
    }
    OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .map(Some)
        .map_err(|_| {
            ApiError::invalid(
                name,
                "时间格式应为 RFC 3339，如 2026-11-22T08:00:00+08:00。",
                "Times are RFC 3339, e.g. 2026-11-22T08:00:00+08:00.",
            )
        })
}

async fn operator_reveal<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    let result = async {
        let token = operator_token(&headers).ok_or_else(ApiError::unauthorized)?;
        let venue = state
            .operator_venue(&token)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let from = parse_time(&f, "from")?
            .ok_or_else(|| ApiError::invalid("from", "请填写开始时间。", "Give a start time."))?;
        let to = parse_time(&f, "to")?
            .ok_or_else(|| ApiError::invalid("to", "请填写结束时间。", "Give an end time."))?;
        let n = state
            .reveal_hours(
                &venue,
                field(&f, "venue_key"),
                from.unix_timestamp().div_euclid(3600),
                to.unix_timestamp().div_euclid(3600),
            )
            .await?;
        Ok::<_, ApiError>((venue, n))
    }
    .await;
    match result {
        Ok((venue, n)) => match operator_view(
            &state,
            lang,
            &venue,
            Some(format!("✔ {}: {n}", t::REVEALED.get(lang))),
        )
        .await
        {
            Ok(body) => html_page(&state, lang, "/venue", t::OPERATOR.get(lang), &body),
            Err(e) => error_page(&state, lang, &e),
        },
        Err(e) => error_page(&state, lang, &e),
    }
}

// ----- registration -----

fn register_form(
    lang: Lang,
    action: &str,
    f: &HashMap<String, String>,
    error: Option<&ApiError>,
) -> String {
    let sealed = field(f, "mode") == "sealed";
    format!(
        r#"<div class="card">{err}<form method="post" action="{action}?lang={lc}">
<label for="name">{name_l}</label><input id="name" name="name" required maxlength="60" value="{name}">
<label for="address">{addr_l}</label><input id="address" name="address" required maxlength="120" value="{addr}">
<label for="region_code">{region_l}</label><input id="region_code" name="region_code" required pattern="[0-9]{{6}}" inputmode="numeric" value="{region}">
<label for="category">{cat_l}</label><input id="category" name="category" required maxlength="32" value="{cat}">
<label for="cell">{cell_l}</label><input id="cell" name="cell" maxlength="64" value="{cell}">
<fieldset><legend>{mode_l}</legend><label><input type="radio" name="mode" value="open"{open_c}> {open}</label>
<label><input type="radio" name="mode" value="sealed"{sealed_c}> {sealed_l}</label></fieldset>
<button type="submit">{go}</button></form></div>"#,
        err = error.map(|e| error_box(lang, e)).unwrap_or_default(),
        lc = lang.code(),
        name_l = t::VENUE.get(lang),
        name = esc(field(f, "name")),
        addr_l = t::ADDRESS.get(lang),
        addr = esc(field(f, "address")),
        region_l = t::REGION.get(lang),
        region = esc(field(f, "region_code")),
        cat_l = t::CATEGORY.get(lang),
        cat = esc(field(f, "category")),
        cell_l = t::CELL.get(lang),
        cell = esc(field(f, "cell")),
        mode_l = t::MODE.get(lang),
        open_c = if sealed { "" } else { " checked" },
        sealed_c = if sealed { " checked" } else { "" },
        open = t::MODE_OPEN.get(lang),
        sealed_l = t::MODE_SEALED.get(lang),
        go = t::REGISTER.get(lang),
    )
}

fn venue_input(f: &HashMap<String, String>) -> Result<VenueInput, ApiError> {
    let mode = match field(f, "mode") {
        "" | "open" => VenueMode::Open,
        "sealed" => VenueMode::Sealed,
        _ => {
            return Err(ApiError::invalid(
                "mode",
                "登记方式须为 open 或 sealed。",
                "The mode must be open or sealed.",
            ))
        }
    };
    Ok(VenueInput {
        name: field(f, "name").to_owned(),
        address: field(f, "address").to_owned(),
        region_code: field(f, "region_code").to_owned(),
        category: field(f, "category").to_owned(),
        cell: Some(field(f, "cell").to_owned()),
        mode: Some(mode),
    })
}

fn registered_view<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    headers: &HeaderMap,
    r: &Registered,
) -> Result<String, ApiError> {
    let url = format!("{}/v/{}", base_url(headers), state.venue_token(&r.venue)?);
    let key = r
        .venue_seed
        .as_ref()
        .map(|k| {
            format!(
                "<dt>{}</dt><dd><code>{}</code></dd>",
                t::VENUE_KEY.get(lang),
                esc(k)
            )
        })
        .unwrap_or_default();
    Ok(format!(
        r#"<p class="ok" role="status">✔ {ok}</p>{card}<dl><dt>{tok_l}</dt><dd><code>{tok}</code></dd>{key}</dl>
<p><a href="{url}">{url}</a></p><a class="button" href="/venue">{op}</a>"#,
        ok = t::REGISTERED.get(lang),
        card = venue_card(lang, &r.venue),
        tok_l = t::OPERATOR_TOKEN.get(lang),
        tok = esc(&r.operator_token),
        url = esc(&url),
        op = t::OPERATOR.get(lang),
    ))
}

async fn self_register_page<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    let body = format!(
        "<h1>{}</h1>{}",
        t::SELF_SERVICE.get(lang),
        register_form(lang, "/venues/register", &HashMap::new(), None)
    );
    html_page(
        &state,
        lang,
        "/venues/register",
        t::SELF_SERVICE.get(lang),
        &body,
    )
}

async fn self_register_post<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    let result = async {
        state
            .limiter
            .check(
                &format!("venue-register:{ip}"),
                10,
                Duration::hours(1),
                state.now(),
            )
            .map_err(ApiError::too_many)?;
        let input = venue_input(&f)?;
        let r = state.register_venue(&input, Registrar::SelfService).await?;
        registered_view(&state, lang, &headers, &r)
    }
    .await;
    match result {
        Ok(body) => html_page(
            &state,
            lang,
            "/venues/register",
            t::SELF_SERVICE.get(lang),
            &body,
        ),
        Err(e) => {
            let body = format!(
                "<h1>{}</h1>{}",
                t::SELF_SERVICE.get(lang),
                register_form(lang, "/venues/register", &f, Some(&e))
            );
            (
                e.status,
                page(
                    &state,
                    lang,
                    "/venues/register",
                    t::SELF_SERVICE.get(lang),
                    &body,
                ),
            )
                .into_response()
        }
    }
}

async fn official_venues_body<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    f: &HashMap<String, String>,
    error: Option<&ApiError>,
    done: Option<String>,
) -> Result<String, ApiError> {
    let mut rows = String::new();
    for v in state.store.venues(200).await? {
        let _ = write!(
            rows,
            "<tr><td>{name}</td><td>{region}</td><td>{mode}</td><td><code>{id}</code></td><td><a href=\"/api/v1/venues/{id}/poster.svg\" target=\"_blank\">SVG</a></td></tr>",
            name = esc(&v.name),
            region = esc(&v.region_code),
            mode = v.mode.as_str(),
            id = v.id,
        );
    }
    Ok(format!(
        r#"<h1>{title}</h1>{done}<h2>{reg}</h2>{form}<h2>{title}</h2><table>{rows}</table><a class="button secondary" href="/official/trace">{trace}</a>"#,
        title = t::VENUES.get(lang),
        done = done.unwrap_or_default(),
        reg = t::REGISTER.get(lang),
        form = register_form(lang, "/official/venues", f, error),
        trace = t::TRACE.get(lang),
    ))
}

async fn official_venues<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    match auth::official(&state, &headers).await {
        Ok(Some(_)) => {}
        Ok(None) => return Redirect::to("/official").into_response(),
        Err(e) => return error_page(&state, lang, &e),
    }
    match official_venues_body(&state, lang, &HashMap::new(), None, None).await {
        Ok(body) => html_page(&state, lang, "/official/venues", t::VENUES.get(lang), &body),
        Err(e) => error_page(&state, lang, &e),
    }
}

async fn official_venues_post<S: Store>(
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
        let input = venue_input(&f)?;
        let r = state
            .register_venue(&input, Registrar::Official(&official.account))
            .await?;
        registered_view(&state, lang, &headers, &r)
    }
    .await;
    let (status, body) = match result {
        Ok(done) => (
            StatusCode::OK,
            official_venues_body(&state, lang, &HashMap::new(), None, Some(done)).await,
        ),
        Err(e) => (
            e.status,
            official_venues_body(&state, lang, &f, Some(&e), None).await,
        ),
    };
    match body {
        Ok(body) => (
            status,
            [(header::CACHE_CONTROL, "no-store")],
            page(&state, lang, "/official/venues", t::VENUES.get(lang), &body),
        )
            .into_response(),
        Err(e) => error_page(&state, lang, &e),
    }
}

// ----- tracing -----

fn trace_form(lang: Lang, f: &HashMap<String, String>, error: Option<&ApiError>) -> String {
    format!(
        r#"<h1>{title}</h1><div class="card">{err}<form method="post" action="/official/trace?lang={lc}">
<label for="case">{case_l}</label><input id="case" name="case" required value="{case}">
<label for="from">{from_l}</label><input id="from" name="from" value="{from}">
<label for="to">{to_l}</label><input id="to" name="to" value="{to}">
<label for="sealed">{sealed_l}</label><input id="sealed" name="sealed_venues" value="{sealed}">
<button type="submit">{go}</button></form></div>"#,
        title = t::TRACE.get(lang),
        err = error.map(|e| error_box(lang, e)).unwrap_or_default(),
        lc = lang.code(),
        case_l = t::CASE.get(lang),
        case = esc(field(f, "case")),
        from_l = t::FROM.get(lang),
        from = esc(field(f, "from")),
        to_l = t::TO.get(lang),
        to = esc(field(f, "to")),
        sealed_l = t::SEALED_VENUES.get(lang),
        sealed = esc(field(f, "sealed_venues")),
        go = t::FIND.get(lang),
    )
}

async fn trace_page<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    match auth::official(&state, &headers).await {
        Ok(Some(_)) => html_page(
            &state,
            lang,
            "/official/trace",
            t::TRACE.get(lang),
            &trace_form(lang, &HashMap::new(), None),
        ),
        Ok(None) => Redirect::to("/official").into_response(),
        Err(e) => error_page(&state, lang, &e),
    }
}

fn sealed_list(f: &HashMap<String, String>) -> Vec<String> {
    field(f, "sealed_venues")
        .split([',', ' ', '，'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn trace_results<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    official: &auth::Official,
    f: &HashMap<String, String>,
    notice: Option<String>,
) -> Result<String, ApiError> {
    super::logic::health_official(&official.account)?;
    let (case, window) = resolve_case(
        state,
        field(f, "case"),
        parse_time(f, "from")?,
        parse_time(f, "to")?,
    )
    .await?;
    let sealed = sealed_visits(state, official, &sealed_list(f)).await?;
    let report = state
        .trace(&official.account, &case, window, &sealed)
        .await?;
    let views = candidate_views(state, &report.candidates, &report.implausible).await?;
    let companions = companion_views(state, &report.companions).await?;
    let mut rows = String::new();
    for c in &views {
        let mut overlaps = String::new();
        for o in &c.overlaps {
            let _ = write!(
                overlaps,
                "<li>{} · {}–{}</li>",
                esc(&o.venue_name),
                esc(&short(&o.together_from)),
                esc(&short(&o.together_to))
            );
        }
        let dep_note = if c.dependent > 0 {
            t::DEPENDENT_NOTE.get(lang).to_owned()
        } else {
            String::new()
        };
        let dep_note = match &c.implausible_city {
            Some(city) => format!(
                "{dep_note}<br><b class=\"error\">⚠ {} {}</b>",
                t::IMPLAUSIBLE.get(lang),
                esc(city)
            ),
            None => dep_note,
        };
        let _ = write!(
            rows,
            r#"<tr><td>{name} <span class="note">{doc}</span>{dep_note}</td><td><ul>{overlaps}</ul>{mins} min</td><td><form method="post" action="/official/trace/confirm?lang={lc}">
<input type="hidden" name="case" value="{case}"><input type="hidden" name="from" value="{from}"><input type="hidden" name="to" value="{to}">
<input type="hidden" name="sealed_venues" value="{sealed}"><input type="hidden" name="person" value="{person}"><input type="hidden" name="dependent" value="{dep}">
<button type="submit">{confirm}</button></form></td></tr>"#,
            name = esc(&c.name),
            doc = esc(&c.document),
            mins = c.together_seconds / 60,
            lc = lang.code(),
            case = esc(field(f, "case")),
            from = esc(&super::rfc3339(window.from)),
            to = esc(&super::rfc3339(window.to)),
            sealed = esc(field(f, "sealed_venues")),
            person = esc(&c.person),
            dep = c.dependent,
            confirm = t::CONFIRM.get(lang),
        );
    }
    if rows.is_empty() {
        rows = format!(
            "<tr><td colspan=\"3\">{}</td></tr>",
            t::NO_CANDIDATES.get(lang)
        );
    }
    let mut companion_rows = String::new();
    for c in &companions {
        let confirm = match &c.person {
            Some(person) => format!(
                r#"<form method="post" action="/official/trace/confirm?lang={lc}">
<input type="hidden" name="case" value="{case}"><input type="hidden" name="from" value="{from}"><input type="hidden" name="to" value="{to}">
<input type="hidden" name="person" value="{person}"><input type="hidden" name="kind" value="companion">
<button type="submit">{confirm}</button></form>"#,
                lc = lang.code(),
                case = esc(field(f, "case")),
                from = esc(&super::rfc3339(window.from)),
                to = esc(&super::rfc3339(window.to)),
                person = esc(person),
                confirm = t::CONFIRM.get(lang),
            ),
            None => t::NO_PERSON.get(lang).to_owned(),
        };
        let _ = write!(
            companion_rows,
            "<tr><td>{name} <span class=\"note\">{doc}</span></td><td>{cell} · {from}–{to}<br><span class=\"note\">{cum}: {case_h:.1} h / {their_h:.1} h</span></td><td>{confirm}</td></tr>",
            name = esc(&c.name),
            doc = esc(&c.document),
            cell = esc(&c.cell),
            from = esc(&short(&c.together_from)),
            to = esc(&short(&c.together_to)),
            cum = t::CUMULATIVE.get(lang),
            case_h = c.case_cumulative_seconds as f64 / 3600.0,
            their_h = c.cumulative_seconds as f64 / 3600.0,
        );
    }
    if companion_rows.is_empty() {
        companion_rows = format!(
            "<tr><td colspan=\"3\">{}</td></tr>",
            t::NO_CANDIDATES.get(lang)
        );
    }
    Ok(format!(
        r#"{notice}<section class="card"><h2>{cands}</h2><p class="note">{case_l}: {case_doc} · {from}–{to} · {visits_l}: {visits}</p>
<table><tr><th>{name_l}</th><th>{together}</th><th></th></tr>{rows}</table></section>
<section class="card"><h2>{comp_l}</h2><table><tr><th>{name_l}</th><th>{together}</th><th></th></tr>{companion_rows}</table></section>"#,
        comp_l = t::COMPANIONS.get(lang),
        notice = notice
            .map(|n| format!("<p class=\"ok\" role=\"status\">{}</p>", esc(&n)))
            .unwrap_or_default(),
        cands = t::CANDIDATES.get(lang),
        case_l = t::CASE.get(lang),
        case_doc = esc(&mask_id(case.identity.number())),
        from = hm(window.from),
        to = hm(window.to),
        visits_l = t::CASE_VISITS.get(lang),
        visits = report.case_visits.len(),
        name_l = t::NAME.get(lang),
        together = t::TOGETHER.get(lang),
    ))
}

async fn trace_post<S: Store>(
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
    match trace_results(&state, lang, &official, &f, None).await {
        Ok(results) => {
            let body = format!("{}{}", trace_form(lang, &f, None), results);
            html_page(&state, lang, "/official/trace", t::TRACE.get(lang), &body)
        }
        Err(e) => (
            e.status,
            page(
                &state,
                lang,
                "/official/trace",
                t::TRACE.get(lang),
                &trace_form(lang, &f, Some(&e)),
            ),
        )
            .into_response(),
    }
}

async fn trace_confirm<S: Store>(
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
        let (case, window) = resolve_case(
            &state,
            field(&f, "case"),
            parse_time(&f, "from")?,
            parse_time(&f, "to")?,
        )
        .await?;
        let dependent: u16 = field(&f, "dependent").parse().unwrap_or(0);
        let subject = Subject {
            person: field(&f, "person").trim().to_owned(),
            dependent,
        };
        if field(&f, "kind") == "companion" {
            return state
                .designate_companion(&official.account, &case, window, &subject.person)
                .await;
        }
        let sealed = sealed_visits(&state, &official, &sealed_list(&f)).await?;
        state
            .designate(&official.account, &case, window, &subject, &sealed)
            .await
    }
    .await;
    match result {
        Ok(d) => {
            let notice = format!("✔ {} {}", t::DESIGNATED.get(lang), d.case_reference);
            match trace_results(&state, lang, &official, &f, Some(notice)).await {
                Ok(results) => {
                    let body = format!("{}{}", trace_form(lang, &f, None), results);
                    html_page(&state, lang, "/official/trace", t::TRACE.get(lang), &body)
                }
                Err(e) => error_page(&state, lang, &e),
            }
        }
        Err(e) => error_page(&state, lang, &e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_text_has_both_languages() {
        for text in super::t::ALL {
            assert!(!text.zh.is_empty() && !text.en.is_empty());
        }
    }
}
