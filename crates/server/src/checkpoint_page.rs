//! The checkpoint page (`/checkpoint`): scan a code with the camera (the
//! browser's BarcodeDetector, else the vendored jsQR), paste it or upload a
//! picture, and see pass / restrict / deny at a glance. Verification runs
//! in the page (`assets/checkpoint.js`) from cached lists, so it keeps
//! working with the network cut; a service worker caches the page itself.
//!
//! Also the officials' revocation page (`/official/revocations`).

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use healthcode_store::Store;

use crate::auth;
use crate::checkpoint::RevocationView;
use crate::error::ApiError;
use crate::i18n::{ui, Lang, Ui};
use crate::pages::{esc, PageForm};
use crate::state::AppState;

mod t {
    use super::ui;
    ui! {
        TITLE => "卡口核验", "Checkpoint";
        POLICY => "卡口策略", "Checkpoint policy";
        SCAN => "扫码", "Scan";
        CAMERA_START => "打开摄像头扫码", "Scan with the camera";
        CAMERA_STOP => "关闭摄像头", "Stop the camera";
        PASTE => "或粘贴码内容", "Or paste the code text";
        EXTRA => "附加的码（核酸证明、行程卡），每行一个", "Additional codes (test certificate, itinerary card), one per line";
        VERIFY => "核验", "Verify";
        UPLOAD => "或上传二维码图片", "Or upload a picture of the QR code";
        OFFLINE_NOTE => "核验在本机离线完成：信任列表与撤销列表缓存在本设备上，断网时仍可使用。", "Verification runs offline on this device: the trust and revocation lists are cached here, so it keeps working without a network.";
        ONLINE => "在线", "Online";
        OFFLINE => "离线", "Offline";
        TRUST_AGE => "列表更新于", "Lists updated";
        MINUTES => "分钟前", "min ago";
        HOURS => "小时前", "h ago";
        KEYS => "密钥", "keys";
        REVOKED_COUNT => "已撤销", "revoked";
        NO_LISTS => "尚未下载信任列表：请联网打开本页一次。", "No trust list yet: open this page once while online.";
        CACHE_BAD => "缓存的列表无法使用：", "The cached lists cannot be used:";
        VERDICT_PASS => "通行", "PASS";
        VERDICT_RESTRICT => "限制通行", "RESTRICT";
        VERDICT_DENY => "禁止通行", "DENY";
        NAME => "姓名", "Name";
        ID => "证件", "ID";
        ISSUER => "签发机构", "Issuer";
        KIND => "类型", "Kind";
        KIND_RESIDENT => "居民", "Resident";
        KIND_TRAVELLER => "外籍人员版", "Traveller version";
        KIND_ITINERARY => "行程卡", "Itinerary card";
        EXPIRES => "有效至", "Valid until";
        CODE_ID => "码标识", "Code id";
        DEMO => "演示 DEMO：演示密钥签发，并非真实健康码", "DEMO: signed with a demonstration key, not a real health code";
        CAMERA_FAILED => "无法打开摄像头：", "The camera could not be opened:";
        NO_QR => "图片中没有可识别的二维码。", "No readable QR code in the picture.";
        BAD_IMAGE => "图片无法读取：", "The picture could not be read:";
        OFFLINE_UNAVAILABLE => "本浏览器无法离线缓存本页：", "This browser cannot cache the page for offline use:";
        REVOCATIONS => "撤销健康码", "Revoke codes";
        REVOKE_CODE_ID => "码标识（32 位十六进制，见核验结果）", "Code id (32 hex digits, shown by a verification)";
        REVOKE_REASON => "撤销原因（仅工作人员可见）", "Reason (seen by officials only)";
        REVOKE => "撤销", "Revoke";
        REVOKED_OK => "已撤销，撤销列表已重新签发，并写入审计链。", "Revoked; the revocation list was re-signed and the action audited.";
        PUBLISHED => "公开的撤销列表", "The published revocation list";
        NONE_REVOKED => "尚无撤销记录。", "Nothing revoked yet.";
        WHEN => "时间", "When";
        BY => "操作人", "By";
        HOME => "首页", "Home";
        SWITCH => "English", "中文";
    }
}

/// The strings the page's script shows, by key.
const SCRIPT_TEXT: &[(&str, Ui)] = &[
    ("online", t::ONLINE),
    ("offline", t::OFFLINE),
    ("trust_age", t::TRUST_AGE),
    ("minutes", t::MINUTES),
    ("hours", t::HOURS),
    ("keys", t::KEYS),
    ("revoked_count", t::REVOKED_COUNT),
    ("no_lists", t::NO_LISTS),
    ("cache_bad", t::CACHE_BAD),
    ("verdict_pass", t::VERDICT_PASS),
    ("verdict_restrict", t::VERDICT_RESTRICT),
    ("verdict_deny", t::VERDICT_DENY),
    ("name", t::NAME),
    ("id", t::ID),
    ("issuer", t::ISSUER),
    ("kind", t::KIND),
    ("kind_resident", t::KIND_RESIDENT),
    ("kind_traveller", t::KIND_TRAVELLER),
    ("kind_itinerary_card", t::KIND_ITINERARY),
    ("expires", t::EXPIRES),
    ("code_id", t::CODE_ID),
    ("camera_start", t::CAMERA_START),
    ("camera_stop", t::CAMERA_STOP),
    ("camera_failed", t::CAMERA_FAILED),
    ("no_qr", t::NO_QR),
    ("bad_image", t::BAD_IMAGE),
    ("offline_unavailable", t::OFFLINE_UNAVAILABLE),
];

const STYLE: &str = r#"
#checkpoint .bar{display:flex;flex-wrap:wrap;gap:.4em;margin:.4em 0}
.pill{display:inline-block;border-radius:999px;padding:.15em .7em;font-size:.85em;background:#e5e7eb}
.pill.online,.pill.fresh{background:#dcfce7;color:#166534}.pill.offline,.pill.stale{background:#fee2e2;color:#991b1b}
.verdict{border-radius:16px;padding:1em;margin:1em 0;color:#fff;text-align:center;box-shadow:0 2px 8px #0003}
.verdict.pass{background:#15803d}.verdict.restrict{background:#b45309}.verdict.deny{background:#b91c1c}
.verdict .word{font-size:3.2em;font-weight:800;letter-spacing:.05em;line-height:1.1}
.colour-chip{display:inline-block;margin:.4em 0;padding:.2em .9em;border-radius:999px;border:3px solid #fff;font-size:1.3em;font-weight:700;color:#fff}
.c-green{background:#1a9641}.c-yellow{background:#d4a600}.c-orange{background:#f07d00}.c-red{background:#d7191c}.c-pending{background:#222}
.verdict .demo-tag{background:#fff;color:#b00020;font-weight:700;border-radius:8px;padding:.3em;margin:.4em 0}
.verdict dl{display:grid;grid-template-columns:auto 1fr;gap:.2em .8em;text-align:left;background:#0002;border-radius:8px;padding:.5em;margin:.6em 0;font-size:1.05em}
.verdict dd{margin:0;word-break:break-all;font-weight:600}
.verdict ul{text-align:left;margin:.4em 0;padding-left:1.2em;font-size:1.05em}
#video{width:100%;border-radius:12px;background:#000;margin-top:.6em}
textarea{width:100%;min-height:4.5em;padding:.6em;font-size:.9em;border:1px solid #d1d5db;border-radius:8px;font-family:ui-monospace,monospace}
"#;

pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/checkpoint", get(checkpoint_page::<S>))
        .route(
            "/official/revocations",
            get(revocations_page::<S>).post(revocations_post::<S>),
        )
        .route(
            "/checkpoint-sw.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    include_str!("assets/checkpoint-sw.js"),
                )
            }),
        )
        .route(
            "/assets/checkpoint.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    include_str!("assets/checkpoint.js"),
                )
            }),
        )
        .route(
            "/assets/jsqr.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript")],
                    include_str!("assets/jsqr.js"),
                )
            }),
        )
}

type Params = Query<HashMap<String, String>>;

fn lang_of(q: &Params, headers: &HeaderMap) -> Lang {
    Lang::negotiate(q.get("lang").map(String::as_str), headers)
}

/// A page of this module: the same look as the others, with a language
/// switch that stays on the page (so both languages are cached offline).
fn shell<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    switch_href: &str,
    title: &str,
    body: &str,
) -> Html<String> {
    let demo = if state.settings.demo || state.demo_issuer {
        format!("<div class=\"demo\">{}</div>", t::DEMO.get(lang))
    } else {
        String::new()
    };
    Html(format!(
        r#"<!doctype html><html lang="{html_lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title} · {code_name}</title><link rel="stylesheet" href="/assets/app.css"><style>{STYLE}</style></head><body>
{demo}<header class="top"><a href="/">{code_name}</a><a class="lang" href="{switch_href}">{switch}</a></header>
<main>{body}</main></body></html>"#,
        html_lang = lang.html_lang(),
        title = esc(title),
        code_name = esc(state.settings.code_name.get(lang)),
        switch_href = esc(switch_href),
        switch = t::SWITCH.get(lang),
    ))
}

async fn checkpoint_page<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    let script_text: serde_json::Map<String, serde_json::Value> = SCRIPT_TEXT
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(v.get(lang))))
        .collect();
    // JSON inside <script>: "<" escaped so no text can close the element.
    let script_text = serde_json::Value::Object(script_text)
        .to_string()
        .replace('<', "\\u003c");
    let pins = serde_json::to_string(&state.checkpoint.pins()).unwrap_or_else(|_| "[]".into());
    let body = format!(
        r#"<div id="checkpoint" data-lang="{lang}" data-pins="{pins}" data-bundle="/api/v1/checkpoint/bundle">
<h1>{title}</h1>
<div class="bar"><span id="net" class="pill"></span><span id="trust-age" class="pill"></span></div>
<p id="status" class="note" role="status"></p>
<label for="policy">{policy_l}</label><select id="policy"></select>
<section id="result" class="verdict" hidden aria-live="assertive">
<div id="verdict-word" class="word"></div>
<div id="verdict-colour" class="colour-chip" hidden></div>
<div id="verdict-demo" class="demo-tag" hidden>{demo}</div>
<dl id="verdict-details"></dl><ul id="verdict-reasons"></ul>
</section>
<div class="card"><h2>{scan}</h2>
<button id="camera-btn" type="button">{camera}</button>
<video id="video" playsinline muted hidden></video><canvas id="frame" hidden></canvas>
<label for="code-input">{paste}</label><textarea id="code-input" spellcheck="false" autocomplete="off"></textarea>
<label for="extra-input">{extra}</label><textarea id="extra-input" spellcheck="false" autocomplete="off"></textarea>
<button id="verify-btn" type="button">{verify}</button>
<label for="image-input">{upload}</label><input id="image-input" type="file" accept="image/*">
</div>
<p class="note">{offline_note}</p>
</div>
<script type="application/json" id="checkpoint-ui">{script_text}</script>
<script src="/assets/jsqr.js"></script><script src="/assets/checkpoint.js"></script>"#,
        lang = lang.code(),
        pins = esc(&pins),
        title = t::TITLE.get(lang),
        policy_l = t::POLICY.get(lang),
        demo = t::DEMO.get(lang),
        scan = t::SCAN.get(lang),
        camera = t::CAMERA_START.get(lang),
        paste = t::PASTE.get(lang),
        extra = t::EXTRA.get(lang),
        verify = t::VERIFY.get(lang),
        upload = t::UPLOAD.get(lang),
        offline_note = t::OFFLINE_NOTE.get(lang),
    );
    let switch = format!("/checkpoint?lang={}", lang.other().code());
    (
        [(header::CACHE_CONTROL, "no-cache")],
        shell(&state, lang, &switch, t::TITLE.get(lang), &body),
    )
        .into_response()
}

async fn revocations_view<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    notice: &str,
    error: Option<&ApiError>,
    f: &HashMap<String, String>,
) -> Result<String, ApiError> {
    let all = state.store.revocations().await?;
    let mut rows = String::new();
    for r in all.iter().rev().take(200) {
        let v = RevocationView::from(r);
        let _ = write!(
            rows,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&v.code_id),
            esc(&v.reason),
            esc(&v.revoked_by),
            esc(v.revoked_at.as_deref().unwrap_or(""))
        );
    }
    let table = if rows.is_empty() {
        format!("<p class=\"note\">{}</p>", t::NONE_REVOKED.get(lang))
    } else {
        format!(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{rows}</table>",
            t::CODE_ID.get(lang),
            t::REVOKE_REASON.get(lang),
            t::BY.get(lang),
            t::WHEN.get(lang)
        )
    };
    let err = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\">{}</p>",
                esc(e.message.get(lang))
            )
        })
        .unwrap_or_default();
    let value = |k: &str| esc(f.get(k).map(String::as_str).unwrap_or(""));
    Ok(format!(
        r#"<h1>{title}</h1>{notice}<div class="card">{err}<form method="post" action="/official/revocations">
<label for="code_id">{id_l}</label><input id="code_id" name="code_id" type="text" required pattern="[0-9a-fA-F]{{32}}" maxlength="32" value="{code_id}">
<label for="reason">{reason_l}</label><input id="reason" name="reason" type="text" required maxlength="200" value="{reason}">
<button type="submit">{revoke}</button></form>
<p class="note"><a href="/.well-known/healthcode/revocations.json">{published}</a></p></div>
<div class="card">{table}</div>"#,
        title = t::REVOCATIONS.get(lang),
        id_l = t::REVOKE_CODE_ID.get(lang),
        code_id = value("code_id"),
        reason_l = t::REVOKE_REASON.get(lang),
        reason = value("reason"),
        revoke = t::REVOKE.get(lang),
        published = t::PUBLISHED.get(lang),
    ))
}

fn error_page<S: Store>(state: &AppState<S>, lang: Lang, e: &ApiError) -> Response {
    let body = format!(
        "<p class=\"error\" role=\"alert\">{}</p><p><a href=\"/\">{}</a></p>",
        esc(e.message.get(lang)),
        t::HOME.get(lang)
    );
    let switch = format!(
        "/lang?to={}&next=/official/revocations",
        lang.other().code()
    );
    (e.status, shell(state, lang, &switch, "Error", &body)).into_response()
}

async fn revocations_page<S: Store>(
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
    let switch = format!(
        "/lang?to={}&next=/official/revocations",
        lang.other().code()
    );
    match revocations_view(&state, lang, "", None, &HashMap::new()).await {
        Ok(body) => shell(&state, lang, &switch, t::REVOCATIONS.get(lang), &body).into_response(),
        Err(e) => error_page(&state, lang, &e),
    }
}

async fn revocations_post<S: Store>(
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
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let switch = format!(
        "/lang?to={}&next=/official/revocations",
        lang.other().code()
    );
    let (status, body) = match state
        .revoke_code(&official.account, get("code_id"), get("reason"))
        .await
    {
        Ok(_) => {
            let notice = format!(
                "<p class=\"note\" role=\"status\">{}</p>",
                t::REVOKED_OK.get(lang)
            );
            (
                StatusCode::OK,
                revocations_view(&state, lang, &notice, None, &HashMap::new()).await,
            )
        }
        Err(e) => (
            e.status,
            revocations_view(&state, lang, "", Some(&e), &f).await,
        ),
    };
    match body {
        Ok(body) => (
            status,
            shell(&state, lang, &switch, t::REVOCATIONS.get(lang), &body),
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
