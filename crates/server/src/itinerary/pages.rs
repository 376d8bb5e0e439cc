//! The itinerary pages: the card (phone, SMS code, consent), the public
//! list of risk areas, and the officials' page to publish and end them.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use healthcode_store::itinerary::RiskAreaRecord;
use healthcode_store::Store;
use time::OffsetDateTime;

use super::api::{area_view, card_title, card_view, RiskAreaView};
use super::records::RiskAreaInput;
use crate::auth::{self, session_cookie, ClientIp};
use crate::error::ApiError;
use crate::i18n::{ui, Lang};
use crate::pages::{
    css_colour, error_box, error_page, esc, field, lang_of, page, sign_in_form, urlencode,
    PageForm, Params,
};
use crate::security::Phone;
use crate::state::AppState;

mod t {
    use super::ui;
    ui! {
        QUERY => "查询行程卡", "Query my itinerary card";
        PHONE => "手机号码", "Phone number";
        SEND_CODE => "获取短信验证码", "Send me a code";
        SMS_CODE => "短信验证码", "SMS code";
        SENT_TO => "验证码已发送至", "Code sent to";
        SHOW => "查询", "Show my card";
        OUTBOX => "短信发件箱（演示）", "SMS outbox (demo)";
        PHONE_L => "手机号", "Phone";
        QUERIED => "查询时间", "Queried at";
        VISITED => "您于前 {d} 天内到达或途经", "In the last {d} days you arrived in or passed through";
        NONE => "查询范围内没有停留满 4 小时的城市。", "No city with a stay of 4 hours or more in this period.";
        COVERS => "数据范围（北京时间）", "Data covers (Beijing time)";
        WHY => "为什么是这个颜色？", "Why is my card this colour?";
        RULE_SET => "规则集", "Rule set";
        VALID_UNTIL => "二维码有效至", "QR code valid until";
        AGAIN => "重新查询", "Query again";
        AREAS => "中高风险地区", "Medium- and high-risk areas";
        IN_FORCE => "当前中高风险地区", "Areas in force now";
        HISTORY => "已结束（历史记录保留）", "Ended (history is kept)";
        NO_AREAS => "当前没有中高风险地区。", "No medium- or high-risk area is in force now.";
        CITY => "城市", "City";
        AREA => "地区", "Area";
        LEVEL => "风险等级", "Level";
        FROM => "开始", "From";
        UNTIL => "结束", "Until";
        MANAGE => "管理中高风险地区", "Manage risk areas";
        PUBLISH => "发布风险地区", "Publish a risk area";
        CITY_CODE => "城市代码（GB/T 2260，6 位，如 220100）", "City code (GB/T 2260, 6 digits, e.g. 220100)";
        AREA_ZH => "地区名称（中文，区县或更小范围）", "Area name in Chinese (district or finer)";
        AREA_EN => "地区名称（英文）", "Area name in English";
        STARTS => "开始时间（RFC 3339，留空为现在）", "Start (RFC 3339; empty for now)";
        MEDIUM => "中风险", "medium risk";
        HIGH => "高风险", "high risk";
        END => "结束", "End";
        PUBLISHED => "已发布并写入审计链。", "Published, and appended to the audit chain.";
        ENDED => "已结束并写入审计链。", "Ended, and appended to the audit chain.";
        PUBLIC_LIST => "公开列表", "Public list";
        NOT_OURS => "本平台行程卡，并非“通信大数据行程卡”", "This platform's card, not the MIIT itinerary card";
    }
}

pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/itinerary", get(start::<S>).post(send_code::<S>))
        .route("/itinerary/card", post(show_card::<S>))
        .route("/risk-areas", get(public_areas::<S>))
        .route(
            "/official/risk-areas",
            get(official_areas::<S>).post(official_publish::<S>),
        )
        .route("/official/risk-areas/{id}/end", post(official_end::<S>))
}

/// The consent sentence, with the configured window.
fn consent_text(lang: Lang, days: u32) -> String {
    match lang {
        Lang::Zh => format!("同意并授权运营商查询本人在疫情期间{days}天内到访地信息"),
        Lang::En => format!(
            "I agree and authorise the carrier to look up the places I visited in the last {days} days"
        ),
    }
}

fn consent_box(lang: Lang, days: u32) -> String {
    format!(
        r#"<label class="check"><input type="checkbox" name="consent" value="on" required> {}</label>"#,
        esc(&consent_text(lang, days))
    )
}

fn start_form<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    phone: &str,
    error: Option<&ApiError>,
) -> String {
    format!(
        r#"<h1>{title}</h1><p class="note">{not_ours}</p><div class="card">{err}<form method="post" action="/itinerary?lang={lc}">
<label for="phone">{phone_l}</label><input id="phone" name="phone" type="tel" inputmode="tel" autocomplete="tel" required value="{phone}">
{consent}<button type="submit">{send}</button></form></div>
<p><a href="/risk-areas?lang={lc}">{areas}</a></p>"#,
        title = esc(card_title(state).get(lang)),
        not_ours = t::NOT_OURS.get(lang),
        err = error.map(|e| error_box(lang, e)).unwrap_or_default(),
        lc = lang.code(),
        phone_l = t::PHONE.get(lang),
        phone = esc(phone),
        consent = consent_box(lang, state.itinerary.window.days),
        send = t::SEND_CODE.get(lang),
        areas = t::AREAS.get(lang),
    )
}

fn code_form<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    phone: &str,
    error: Option<&ApiError>,
) -> String {
    let masked = Phone::parse(phone).map(|p| p.masked()).unwrap_or_default();
    let outbox = if state.settings.demo {
        format!(
            "<p class=\"note\"><a href=\"/outbox\" target=\"_blank\">{}</a></p>",
            t::OUTBOX.get(lang)
        )
    } else {
        String::new()
    };
    format!(
        r#"<h1>{title}</h1><div class="card">{err}<p>{sent} {masked}</p><form method="post" action="/itinerary/card?lang={lc}">
<input type="hidden" name="phone" value="{phone}"><label for="code">{code_l}</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{{6}}" maxlength="6" required>
{consent}<button type="submit">{show}</button></form>{outbox}</div>"#,
        title = esc(card_title(state).get(lang)),
        err = error.map(|e| error_box(lang, e)).unwrap_or_default(),
        sent = t::SENT_TO.get(lang),
        masked = esc(&masked),
        lc = lang.code(),
        phone = esc(phone),
        code_l = t::SMS_CODE.get(lang),
        consent = consent_box(lang, state.itinerary.window.days),
        show = t::SHOW.get(lang),
    )
}

fn consented(f: &std::collections::HashMap<String, String>) -> bool {
    matches!(field(f, "consent"), "on" | "true" | "1" | "yes")
}

async fn start<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Html<String> {
    let lang = lang_of(&q, &headers);
    let title = card_title(&state);
    page(
        &state,
        lang,
        "/itinerary",
        title.get(lang),
        &start_form(&state, lang, "", None),
    )
}

/// Step 1: phone and consent; sends the SMS code.
async fn send_code<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    let title = card_title(&state);
    let phone = field(&f, "phone");
    let result = if consented(&f) {
        state.request_otp(phone, ip).await.map(|_| ())
    } else {
        Err(consent_error())
    };
    match result {
        Ok(()) => page(
            &state,
            lang,
            "/itinerary",
            title.get(lang),
            &code_form(&state, lang, phone, None),
        )
        .into_response(),
        Err(e) => (
            e.status,
            page(
                &state,
                lang,
                "/itinerary",
                title.get(lang),
                &start_form(&state, lang, phone, Some(&e)),
            ),
        )
            .into_response(),
    }
}

fn consent_error() -> ApiError {
    ApiError::invalid(
        "consent",
        "未勾选同意：须同意并授权运营商查询本人到访地信息，才能查询行程卡。",
        "Consent not given: you must agree and authorise the carrier to look up the places you visited before the card can be shown.",
    )
}

/// Step 2: the SMS code (and consent again); shows the card.
async fn show_card<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    let title = card_title(&state);
    let phone_text = field(&f, "phone");
    let result = async {
        if !consented(&f) {
            return Err(consent_error());
        }
        let token = state.verify_otp(phone_text, field(&f, "code")).await?;
        let phone = Phone::parse(phone_text)?;
        let issued = state.itinerary_card(&phone, true, "web").await?;
        Ok((token, card_view(&state, &issued)?))
    }
    .await;
    match result {
        Ok((token, view)) => {
            let body = card_html(lang, &view);
            let cookie = session_cookie(&token, state.settings.citizen_session_hours * 3600);
            (
                [
                    (header::SET_COOKIE, cookie),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                ],
                page(&state, lang, "/itinerary", title.get(lang), &body),
            )
                .into_response()
        }
        Err(e) => (
            e.status,
            page(
                &state,
                lang,
                "/itinerary",
                title.get(lang),
                &code_form(&state, lang, phone_text, Some(&e)),
            ),
        )
            .into_response(),
    }
}

fn card_html(lang: Lang, v: &super::api::CardView) -> String {
    let mut evidence = String::new();
    for e in &v.evidence {
        let _ = write!(evidence, "<li>{}</li>", esc(e.get(lang)));
    }
    let cities = if v.cities.is_empty() {
        format!("<p>{}</p>", t::NONE.get(lang))
    } else {
        format!(
            "<p class=\"cities\"><b>{}</b></p>",
            esc(v.cities_line.get(lang))
        )
    };
    let beijing = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| {
                OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })
            .map(|t| {
                let t =
                    t.to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC));
                format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second()
                )
            })
            .unwrap_or_default()
    };
    format!(
        r#"<h1>{title}</h1><section class="card code" style="--c:{css}" id="itinerary-card" data-code="{code}" data-colour="{colour}">
<div class="colour">{label}</div><div class="qr">{svg}</div>
<dl><dt>{phone_l}</dt><dd>{phone}</dd><dt>{queried_l}</dt><dd>{queried}</dd><dt>{valid_l}</dt><dd>{expires}</dd></dl>
<p>{visited}：</p>{cities}<p class="note">{covers_l}: {from} – {until}</p><p class="note">{note}</p></section>
<section class="card why"><h2>{why_l}</h2><p>{explanation}</p><ul>{evidence}</ul><p class="note">{rules_l}: {rule_set}</p></section>
<a class="button secondary" href="/itinerary?lang={lc}">{again}</a>"#,
        title = esc(v.title.get(lang)),
        css = css_colour(&v.colour),
        code = esc(&v.code),
        colour = esc(&v.colour),
        label = esc(v.colour_label.get(lang)),
        svg = v.qr_svg,
        phone_l = t::PHONE_L.get(lang),
        phone = esc(&v.phone),
        queried_l = t::QUERIED.get(lang),
        queried = esc(&beijing(&v.queried_at)),
        valid_l = t::VALID_UNTIL.get(lang),
        expires = esc(&beijing(&v.code_expires_at)),
        visited = esc(&t::VISITED
            .get(lang)
            .replace("{d}", &v.window_days.to_string())),
        covers_l = t::COVERS.get(lang),
        from = esc(&beijing(&v.data_from)),
        until = esc(&beijing(&v.data_until)),
        note = esc(v.note.get(lang)),
        why_l = t::WHY.get(lang),
        explanation = esc(v.explanation.get(lang)),
        rules_l = t::RULE_SET.get(lang),
        rule_set = esc(&v.rule_set),
        lc = lang.code(),
        again = t::AGAIN.get(lang),
    )
}

fn level_label(level: &str, lang: Lang) -> &'static str {
    if level == "high" {
        t::HIGH.get(lang)
    } else {
        t::MEDIUM.get(lang)
    }
}

fn areas_table(lang: Lang, areas: &[RiskAreaView], end_buttons: bool) -> String {
    let mut rows = String::new();
    for a in areas {
        let end = if end_buttons && a.ends_at.is_none() {
            format!(
                r#"<td><form method="post" action="/official/risk-areas/{id}/end?lang={lc}"><button class="secondary" type="submit">{end}</button></form></td>"#,
                id = esc(&urlencode(&a.id)),
                lc = lang.code(),
                end = t::END.get(lang),
            )
        } else if end_buttons {
            "<td></td>".to_owned()
        } else {
            String::new()
        };
        let _ = write!(
            rows,
            "<tr><td>{city}</td><td>{area}</td><td>{level}</td><td>{from}</td><td>{until}</td>{end}</tr>",
            city = esc(a.city.get(lang)),
            area = esc(a.area.get(lang)),
            level = level_label(&a.level, lang),
            from = esc(a.starts_at.as_deref().unwrap_or("")),
            until = esc(a.ends_at.as_deref().unwrap_or("—")),
        );
    }
    format!(
        "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>{}</tr>{rows}</table>",
        t::CITY.get(lang),
        t::AREA.get(lang),
        t::LEVEL.get(lang),
        t::FROM.get(lang),
        t::UNTIL.get(lang),
        if end_buttons { "<th></th>" } else { "" },
    )
}

fn split_areas(
    records: &[RiskAreaRecord],
    now: OffsetDateTime,
) -> (Vec<RiskAreaView>, Vec<RiskAreaView>) {
    records
        .iter()
        .map(|r| area_view(r, now))
        .partition(|v| v.in_force || v.ends_at.is_none())
}

async fn public_areas<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    match state.store.risk_areas().await {
        Ok(records) => {
            let (current, ended) = split_areas(&records, state.now());
            let current_html = if current.is_empty() {
                format!("<p>{}</p>", t::NO_AREAS.get(lang))
            } else {
                areas_table(lang, &current, false)
            };
            let body = format!(
                r#"<h1>{title}</h1><div class="card"><h2>{now_l}</h2>{current_html}</div><div class="card"><h2>{hist_l}</h2>{hist}</div>
<p><a class="button" href="/itinerary?lang={lc}">{query}</a></p>"#,
                title = t::AREAS.get(lang),
                now_l = t::IN_FORCE.get(lang),
                hist_l = t::HISTORY.get(lang),
                hist = areas_table(lang, &ended, false),
                lc = lang.code(),
                query = t::QUERY.get(lang),
            );
            page(&state, lang, "/risk-areas", t::AREAS.get(lang), &body).into_response()
        }
        Err(e) => error_page(&state, lang, &ApiError::from(e)),
    }
}

async fn official_view<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    username: &str,
    notice: &str,
    error: Option<&ApiError>,
) -> Result<String, ApiError> {
    let records = state.store.risk_areas().await?;
    let now = state.now();
    let views: Vec<RiskAreaView> = records.iter().map(|r| area_view(r, now)).collect();
    Ok(format!(
        r#"<h1>{title}</h1><p class="note">{username} · <a href="/risk-areas?lang={lc}">{public}</a></p>{notice}
<div class="card"><h2>{publish}</h2>{err}<form method="post" action="/official/risk-areas?lang={lc}">
<label for="city_code">{city_l}</label><input id="city_code" name="city_code" type="text" inputmode="numeric" pattern="[0-9]{{6}}" required>
<label for="area_zh">{zh_l}</label><input id="area_zh" name="area_zh" type="text" required maxlength="64">
<label for="area_en">{en_l}</label><input id="area_en" name="area_en" type="text" required maxlength="64">
<label for="level">{level_l}</label><select id="level" name="level"><option value="medium">{medium}</option><option value="high">{high}</option></select>
<label for="starts_at">{starts_l}</label><input id="starts_at" name="starts_at" type="text" placeholder="2022-05-01T00:00:00+08:00">
<button type="submit">{publish}</button></form></div><div class="card">{table}</div>"#,
        title = t::MANAGE.get(lang),
        username = esc(username),
        lc = lang.code(),
        public = t::PUBLIC_LIST.get(lang),
        publish = t::PUBLISH.get(lang),
        err = error.map(|e| error_box(lang, e)).unwrap_or_default(),
        city_l = t::CITY_CODE.get(lang),
        zh_l = t::AREA_ZH.get(lang),
        en_l = t::AREA_EN.get(lang),
        level_l = t::LEVEL.get(lang),
        medium = t::MEDIUM.get(lang),
        high = t::HIGH.get(lang),
        starts_l = t::STARTS.get(lang),
        table = areas_table(lang, &views, true),
    ))
}

async fn official_areas<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    match auth::official(&state, &headers).await {
        Ok(Some(o)) => match official_view(&state, lang, &o.account.username, "", None).await {
            Ok(body) => page(
                &state,
                lang,
                "/official/risk-areas",
                t::MANAGE.get(lang),
                &body,
            )
            .into_response(),
            Err(e) => error_page(&state, lang, &e),
        },
        Ok(None) => page(
            &state,
            lang,
            "/official",
            t::MANAGE.get(lang),
            &sign_in_form(lang, None),
        )
        .into_response(),
        Err(e) => error_page(&state, lang, &e),
    }
}

async fn official_publish<S: Store>(
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
    let starts = field(&f, "starts_at").trim();
    let now_text =
        healthcode_codec::report::rfc3339(state.now().unix_timestamp()).unwrap_or_default();
    let input = RiskAreaInput {
        city_code: field(&f, "city_code").to_owned(),
        area_zh: field(&f, "area_zh").to_owned(),
        area_en: field(&f, "area_en").to_owned(),
        level: field(&f, "level").to_owned(),
        starts_at: if starts.is_empty() {
            now_text
        } else {
            starts.to_owned()
        },
        ends_at: None,
    };
    let (notice, error) = match state.publish_risk_area(&official.account, &input).await {
        Ok(_) => (
            format!(
                "<p class=\"note\" role=\"status\">{}</p>",
                t::PUBLISHED.get(lang)
            ),
            None,
        ),
        Err(e) => (String::new(), Some(e)),
    };
    let status = error
        .as_ref()
        .map_or(axum::http::StatusCode::OK, |e| e.status);
    match official_view(
        &state,
        lang,
        &official.account.username,
        &notice,
        error.as_ref(),
    )
    .await
    {
        Ok(body) => (
            status,
            page(
                &state,
                lang,
                "/official/risk-areas",
                t::MANAGE.get(lang),
                &body,
            ),
        )
            .into_response(),
        Err(e) => error_page(&state, lang, &e),
    }
}

async fn official_end<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lang = lang_of(&q, &headers);
    let official = match auth::official(&state, &headers).await {
        Ok(Some(o)) => o,
        Ok(None) => return Redirect::to("/official").into_response(),
        Err(e) => return error_page(&state, lang, &e),
    };
    let (notice, error) = match state.end_risk_area(&official.account, &id, None).await {
        Ok(_) => (
            format!(
                "<p class=\"note\" role=\"status\">{}</p>",
                t::ENDED.get(lang)
            ),
            None,
        ),
        Err(e) => (String::new(), Some(e)),
    };
    let status = error
        .as_ref()
        .map_or(axum::http::StatusCode::OK, |e| e.status);
    match official_view(
        &state,
        lang,
        &official.account.username,
        &notice,
        error.as_ref(),
    )
    .await
    {
        Ok(body) => (
            status,
            page(
                &state,
                lang,
                "/official/risk-areas",
                t::MANAGE.get(lang),
                &body,
            ),
        )
            .into_response(),
        Err(e) => error_page(&state, lang, &e),
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
