//! Bilingual pages of oversight: a person's record ("我的记录 / My
//! record") with corrections, reads and the export; officials' queues of
//! requests and corrections, and the forms to request overrides and bulk
//! actions.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use healthcode_store::oversight::{CorrectionTopic, RequestKind, RequestState};
use healthcode_store::{PersonId, Store};

use crate::auth::{self, Official};
use crate::error::ApiError;
use crate::i18n::{ui, Lang, Text};
use crate::oversight::api::{correction_queue, my_person, queue, record_of, MyRecordView};
use crate::oversight::plain::{CorrectionView, RequestView};
use crate::oversight::service::{
    AnswerInput, BulkInput, CorrectionInput, DecisionInput, OverrideInput,
};
use crate::pages::{
    css_colour, error_box, error_page, esc, field, lang_of, page, PageForm, Params,
};
use crate::state::AppState;

mod t {
    use super::ui;
    ui! {
        RECORD => "我的记录", "My record";
        COLOUR_NOW => "当前健康码", "Your code now";
        CHAIN => "审计链核验", "Audit chain check";
        EXPORT => "下载我的全部数据（JSON）", "Download all my data (JSON)";
        EXPORT_NOTE => "包括身份信息、健康记录、审计记录、纠错与改码申请、查阅记录和登录会话（不含令牌）。", "Identity, health records, audit entries, correction and override requests, reads of your data and sign-in sessions (never their tokens).";
        ACCESSES => "谁查阅了我的信息", "Who accessed my data";
        NO_ACCESSES => "尚无工作人员查阅您的信息。", "No official has read your data.";
        WHEN => "时间", "When";
        WHO => "人员", "Who";
        WHAT => "内容", "What";
        PURPOSE => "目的", "Purpose";
        CORRECTIONS => "我的纠错申请", "My correction requests";
        NO_CORRECTIONS => "您还没有提交纠错申请。", "You have not filed a correction request.";
        FILE => "提交纠错申请（纠错）", "File a correction request";
        ABOUT => "关于", "About";
        ABOUT_COLOUR => "我的健康码颜色", "The colour of my code";
        ABOUT_ENTRY => "记录", "Entry";
        YOUR_TEXT => "哪里有误？请说明", "What is wrong? Tell us";
        SUBMIT => "提交", "Submit";
        DUE => "答复期限", "Answer due by";
        OPEN => "待答复", "Awaiting an answer";
        ACCEPTED => "已采纳", "Accepted";
        REJECTED => "已驳回", "Rejected";
        APPROVED => "已批准", "Approved";
        EXPIRED => "已过期（未生效）", "Expired (never took effect)";
        OVERDUE => "已逾期", "Overdue";
        ANSWER => "答复", "Answer";
        OVERRIDES => "关于我的人工改码申请", "Override requests about me";
        NO_OVERRIDES => "没有关于您的人工改码申请。", "No override requests about you.";
        ENTRIES => "关于我的全部审计记录", "Every audit entry about me";
        EVIDENCE => "依据记录", "Evidence";
        LEGAL => "法律依据", "Legal basis";
        CITED => "当前颜色引用此记录，规则", "Your current colour cites this, rule";
        INTACT => "完整", "intact";
        BROKEN => "与哈希链不符", "does not match the chain";
        QUEUES => "审批与纠错队列", "Approvals and corrections";
        PENDING_OVERRIDES => "待审批的人工改码", "Override requests awaiting approval";
        PENDING_BULK => "待审批的批量操作", "Bulk actions awaiting approval";
        OPEN_CORRECTIONS => "待答复的纠错申请（最早的在前）", "Open correction requests (oldest first)";
        DECIDED => "最近的审批结果", "Recent decisions";
        NONE => "无。", "None.";
        REQUESTED_BY => "申请人", "Requested by";
        REASON => "理由", "Reason";
        ASKS => "申请内容", "Asks for";
        EXPIRES => "审批期限", "Decide by";
        NOTE_ZH => "审批意见（中文）", "Note (Chinese)";
        NOTE_EN => "审批意见（英文）", "Note (English)";
        APPROVE => "批准", "Approve";
        REJECT => "驳回", "Reject";
        REVIEWER_ONLY => "仅审核人员可审批，且不能审批本人的申请。", "Only reviewers may decide, and never their own requests.";
        DECISION => "答复", "Decision";
        ACCEPT_ACTION => "采纳：已采取的措施", "Accept: action taken";
        FACT_RECORDED => "已登记新的记录（填写记录编号）", "Recorded a fact (give its event id)";
        OVERRIDE_REQUESTED => "已申请人工改码（填写申请编号）", "Requested an override (give the request id)";
        OTHER => "其他（在答复中说明）", "Other (say in the answer)";
        REFERENCE => "编号", "Reference";
        MESSAGE_ZH => "答复（中文）", "Answer (Chinese)";
        MESSAGE_EN => "答复（英文）", "Answer (English)";
        NEW_OVERRIDE => "申请人工改码", "Request an override";
        NEW_BULK => "申请批量判定密接", "Request a bulk close-contact designation";
        COLOUR => "改为", "Set to";
        HOURS => "时长（小时）", "Duration (hours)";
        REASON_ZH => "理由（中文）", "Reason (Chinese)";
        REASON_EN => "理由（英文）", "Reason (English)";
        LEGAL_ZH => "防疫法律依据（中文，如法律条款或指挥部决定文号）", "Legal basis (Chinese: law and article, or headquarters' decision number)";
        LEGAL_EN => "防疫法律依据（英文）", "Legal basis (English)";
        CASE => "关联病例编号", "Case reference";
        IDENTITIES => "证件号码（每行一个）", "Identity numbers (one per line)";
        TWO_OFFICIALS => "提交后须由另一名审核人员批准才生效；每一步都写入审计链，当事人可见。", "Takes effect only once another official, a reviewer, approves it; every step goes into the audit chain, which the person can read.";
        SENT => "已提交，等待审批。", "Submitted; awaiting approval.";
        DONE => "已完成并写入审计链。", "Done, and appended to the audit chain.";
        RESULTS => "逐项结果", "Per-item results";
        BACK => "返回", "Back";
    }
}

const STYLE: &str = "<style>.overdue{border-left:6px solid #d7191c;background:#fff5f5}.ok{color:#1a9641;font-weight:600}.bad{color:#d7191c;font-weight:600}textarea{width:100%;min-height:5em;padding:.6em;font-size:1em;border:1px solid #d1d5db;border-radius:8px}.entry{border-bottom:1px solid #e5e7eb;padding:.5em 0}.entry p{margin:.2em 0}main{max-width:720px}</style>";

pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/me/record", get(record_page::<S>))
        .route("/me/corrections", post(file_correction_post::<S>))
        .route("/official/oversight", get(queues_page::<S>))
        .route("/official/override/new", get(override_form_page::<S>))
        .route("/official/override", post(override_post::<S>))
        .route("/official/bulk/new", get(bulk_form_page::<S>))
        .route("/official/bulk", post(bulk_post::<S>))
        .route("/official/requests/{id}/decision", post(decision_post::<S>))
        .route("/official/corrections/{id}/answer", post(answer_post::<S>))
}

fn tx(t: &Text, lang: Lang) -> String {
    esc(t.get(lang))
}

fn state_label(state: &str, lang: Lang) -> &'static str {
    match state {
        "open" | "pending" => t::OPEN.get(lang),
        "accepted" => t::ACCEPTED.get(lang),
        "approved" => t::APPROVED.get(lang),
        "expired" => t::EXPIRED.get(lang),
        _ => t::REJECTED.get(lang),
    }
}

fn topic_label(topic: &CorrectionTopic, lang: Lang) -> String {
    match topic {
        CorrectionTopic::Colour => t::ABOUT_COLOUR.get(lang).to_owned(),
        CorrectionTopic::AuditEntry { seq } => format!("{} #{seq}", t::ABOUT_ENTRY.get(lang)),
    }
}

fn correction_html(c: &CorrectionView, lang: Lang, official: bool) -> String {
    let class = if c.overdue { " overdue" } else { "" };
    let mut html = format!(
        "<div class=\"entry{class}\"><p><b>{id}</b> · {about} · {state}{overdue}</p>",
        id = esc(&c.id),
        about = esc(&topic_label(&c.about, lang)),
        state = state_label(&c.state, lang),
        overdue = if c.overdue {
            format!(" · <span class=\"bad\">{}</span>", t::OVERDUE.get(lang))
        } else {
            String::new()
        },
    );
    if let Some(p) = &c.person {
        let _ = write!(html, "<p>{}</p>", esc(p));
    }
    let _ = write!(
        html,
        "<p>“{text}”</p><p class=\"note\">{filed} · {due_l} {due}</p>",
        text = esc(&c.text),
        filed = esc(&c.filed_at),
        due_l = t::DUE.get(lang),
        due = esc(&c.due_at),
    );
    if let Some(a) = &c.answer {
        let _ = write!(
            html,
            "<p><b>{answer_l}</b> ({role}, {at}): {msg}{reference}</p>",
            answer_l = t::ANSWER.get(lang),
            role = tx(&a.by_role, lang),
            at = esc(&a.at),
            msg = tx(&a.message, lang),
            reference = a
                .reference
                .as_deref()
                .map(|r| format!(" <code>{}</code>", esc(r)))
                .unwrap_or_default(),
        );
    } else if official {
        let _ = write!(
            html,
            r#"<form method="post" action="/official/corrections/{id}/answer">
<label>{decision_l}</label><select name="decision"><option value="accept">{accept}</option><option value="reject">{reject}</option></select>
<label>{action_l}</label><select name="action"><option value="fact_recorded">{fact}</option><option value="override_requested">{ovr}</option><option value="other">{other}</option></select>
<label>{ref_l}</label><input type="text" name="reference">
<label>{mzh}</label><textarea name="message_zh" required></textarea>
<label>{men}</label><textarea name="message_en" required></textarea>
<button type="submit">{answer_l}</button></form>"#,
            id = esc(&c.id),
            decision_l = t::DECISION.get(lang),
            accept = t::ACCEPTED.get(lang),
            reject = t::REJECT.get(lang),
            action_l = t::ACCEPT_ACTION.get(lang),
            fact = t::FACT_RECORDED.get(lang),
            ovr = t::OVERRIDE_REQUESTED.get(lang),
            other = t::OTHER.get(lang),
            ref_l = t::REFERENCE.get(lang),
            mzh = t::MESSAGE_ZH.get(lang),
            men = t::MESSAGE_EN.get(lang),
            answer_l = t::ANSWER.get(lang),
        );
    }
    html.push_str("</div>");
    html
}

fn request_html(r: &RequestView, lang: Lang, decide: bool) -> String {
    let asks = if r.kind == "override" {
        let colour = r.asks.get("colour").and_then(|c| c.as_str()).unwrap_or("");
        let end = r
            .asks
            .get("until")
            .and_then(|u| u.as_str())
            .map(str::to_owned)
            .or_else(|| {
                r.asks
                    .get("hours")
                    .and_then(serde_json::Value::as_i64)
                    .map(|h| format!("{h} h"))
            })
            .unwrap_or_default();
        format!(
            "<span style=\"color:{}\">■</span> {} · {}",
            css_colour(colour),
            esc(colour),
            esc(&end)
        )
    } else {
        let n = r
            .asks
            .get("identities")
            .and_then(|i| i.as_array())
            .map_or(0, Vec::len);
        let case = r
            .asks
            .get("case_reference")
            .and_then(|c| c.as_str())
            .unwrap_or("");
        format!("close_contact × {n} · {}", esc(case))
    };
    let mut html = format!(
        r#"<div class="entry"><p><b>{id}</b> · {state}{person}</p><p>{asks_l}: {asks}</p>
<p>{by_l}: {by} · {at} · {exp_l} {exp}</p><p>{reason_l}: {reason}</p><p>{legal_l}: {legal}</p>"#,
        id = esc(&r.id),
        state = state_label(&r.state, lang),
        person = r
            .person_name
            .as_deref()
            .map(|p| format!(" · {}", esc(p)))
            .unwrap_or_default(),
        asks_l = t::ASKS.get(lang),
        by_l = t::REQUESTED_BY.get(lang),
        by = esc(&r.requested_by),
        at = esc(&r.requested_at),
        exp_l = t::EXPIRES.get(lang),
        exp = esc(&r.expires_at),
        reason_l = t::REASON.get(lang),
        reason = tx(&r.reason, lang),
        legal_l = t::LEGAL.get(lang),
        legal = tx(&r.legal_basis, lang),
    );
    if let (Some(by), Some(note)) = (&r.decided_by, &r.note) {
        let _ = write!(
            html,
            "<p>{} · {} · {}</p>",
            esc(by),
            esc(r.decided_at.as_deref().unwrap_or("")),
            tx(note, lang)
        );
    }
    if let Some(results) = r
        .outcome
        .as_ref()
        .and_then(|o| o.get("results"))
        .and_then(|x| x.as_array())
    {
        let _ = write!(html, "<p><b>{}</b></p><table>", t::RESULTS.get(lang));
        for item in results {
            let reason = item
                .get("reason")
                .and_then(|x| x.get(lang.code()))
                .and_then(|x| x.as_str())
                .unwrap_or("");
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                item.get("index")
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                esc(item.get("identity").and_then(|x| x.as_str()).unwrap_or("")),
                esc(item.get("status").and_then(|x| x.as_str()).unwrap_or("")),
                esc(reason)
            );
        }
        html.push_str("</table>");
    }
    if decide {
        let _ = write!(
            html,
            r#"<form method="post" action="/official/requests/{id}/decision">
<label>{nzh}</label><textarea name="note_zh" required></textarea><label>{nen}</label><textarea name="note_en" required></textarea>
<button type="submit" name="approve" value="yes">{approve}</button><button type="submit" name="approve" value="no" class="secondary" style="background:#6b7280">{reject}</button></form>"#,
            id = esc(&r.id),
            nzh = t::NOTE_ZH.get(lang),
            nen = t::NOTE_EN.get(lang),
            approve = t::APPROVE.get(lang),
            reject = t::REJECT.get(lang),
        );
    }
    html.push_str("</div>");
    html
}

fn record_html(v: &MyRecordView, lang: Lang, notice: &str, error: Option<&ApiError>) -> String {
    let mut body = format!(
        r#"{STYLE}<h1>{title}</h1>{notice}{err}<div class="card code" style="--c:{css}"><h2>{now_l}</h2><p>{name} · {doc}</p><p>{explanation}</p></div>
<div class="card"><h2>{chain_l}</h2><p class="{cls}">{chain}</p>
<a class="button" href="/api/v1/me/export" download>{export}</a><p class="note">{export_note}</p></div>"#,
        title = t::RECORD.get(lang),
        err = error.map(|e| error_box(lang, e)).unwrap_or_default(),
        css = css_colour(&v.colour),
        now_l = t::COLOUR_NOW.get(lang),
        name = esc(&v.person.name),
        doc = esc(&v.person.document),
        explanation = tx(&v.explanation, lang),
        chain_l = t::CHAIN.get(lang),
        cls = if v.chain.intact { "ok" } else { "bad" },
        chain = tx(&v.chain.message, lang),
        export = t::EXPORT.get(lang),
        export_note = t::EXPORT_NOTE.get(lang),
    );
    // Who read my data.
    let _ = write!(
        body,
        "<div class=\"card\" id=\"accesses\"><h2>{}</h2>",
        t::ACCESSES.get(lang)
    );
    if v.accesses.is_empty() {
        let _ = write!(body, "<p>{}</p>", t::NO_ACCESSES.get(lang));
    } else {
        let _ = write!(
            body,
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            t::WHEN.get(lang),
            t::WHO.get(lang),
            t::WHAT.get(lang),
            t::PURPOSE.get(lang)
        );
        for a in &v.accesses {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td></tr>",
                esc(&a.at),
                tx(&a.role, lang),
                esc(&a.official),
                tx(&a.what_text, lang),
                esc(&a.purpose)
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</div>");
    // Corrections, and the form to file one.
    let _ = write!(
        body,
        "<div class=\"card\" id=\"corrections\"><h2>{}</h2>",
        t::CORRECTIONS.get(lang)
    );
    if v.corrections.is_empty() {
        let _ = write!(body, "<p>{}</p>", t::NO_CORRECTIONS.get(lang));
    }
    for c in &v.corrections {
        body.push_str(&correction_html(c, lang, false));
    }
    let mut options = format!(
        "<option value=\"colour\">{}</option>",
        t::ABOUT_COLOUR.get(lang)
    );
    for e in v.entries.iter().rev() {
        let _ = write!(
            options,
            "<option value=\"{seq}\">{entry} #{seq}: {what}</option>",
            seq = e.seq,
            entry = t::ABOUT_ENTRY.get(lang),
            what = tx(&e.what, lang)
        );
    }
    let _ = write!(
        body,
        r#"<h2>{file}</h2><form method="post" action="/me/corrections"><label for="about">{about_l}</label><select id="about" name="about">{options}</select>
<label for="text">{text_l}</label><textarea id="text" name="text" required maxlength="2000"></textarea><button type="submit">{submit}</button></form></div>"#,
        file = t::FILE.get(lang),
        about_l = t::ABOUT.get(lang),
        text_l = t::YOUR_TEXT.get(lang),
        submit = t::SUBMIT.get(lang),
    );
    // Overrides about me.
    let _ = write!(
        body,
        "<div class=\"card\"><h2>{}</h2>",
        t::OVERRIDES.get(lang)
    );
    if v.override_requests.is_empty() {
        let _ = write!(body, "<p>{}</p>", t::NO_OVERRIDES.get(lang));
    }
    for r in &v.override_requests {
        body.push_str(&request_html(r, lang, false));
    }
    body.push_str("</div>");
    // Every entry.
    let _ = write!(
        body,
        "<div class=\"card\" id=\"entries\"><h2>{}</h2>",
        t::ENTRIES.get(lang)
    );
    for e in v.entries.iter().rev() {
        let _ = write!(
            body,
            "<div class=\"entry\"><p><b>#{seq}</b> {at} · {who}</p><p>{what}</p>",
            seq = e.seq,
            at = esc(&e.at),
            who = tx(&e.who, lang),
            what = tx(&e.what, lang),
        );
        if !e.evidence.is_empty() {
            let _ = write!(
                body,
                "<p class=\"note\">{}: <code>{}</code></p>",
                t::EVIDENCE.get(lang),
                esc(&e.evidence.join(", "))
            );
        }
        if let Some(l) = &e.legal_basis {
            let _ = write!(
                body,
                "<p class=\"note\">{}: {}</p>",
                t::LEGAL.get(lang),
                tx(l, lang)
            );
        }
        if !e.cited_by_rules.is_empty() {
            let _ = write!(
                body,
                "<p class=\"note\">{} <code>{}</code></p>",
                t::CITED.get(lang),
                esc(&e.cited_by_rules.join(", "))
            );
        }
        let _ =
            write!(
            body,
            "<p class=\"note\"><span class=\"{cls}\">{state}</span> <code>{hash}</code></p></div>",
            cls = if e.intact { "ok" } else { "bad" },
            state = if e.intact { t::INTACT.get(lang) } else { t::BROKEN.get(lang) },
            hash = esc(e.hash.get(..16).unwrap_or(&e.hash)),
        );
    }
    body.push_str("</div>");
    body
}

async fn record_body<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    headers: &HeaderMap,
    notice: &str,
    error: Option<&ApiError>,
) -> Result<Result<String, Response>, ApiError> {
    let Some(citizen) = auth::citizen(state, headers).await? else {
        return Ok(Err(Redirect::to("/apply").into_response()));
    };
    if state.person_for_phone(&citizen.phone).await?.is_none() {
        return Ok(Err(Redirect::to("/apply/details").into_response()));
    }
    let person = my_person(state, &citizen).await?;
    let view = record_of(state, &person).await?;
    Ok(Ok(record_html(&view, lang, notice, error)))
}

async fn record_page<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    let notice = match q.get("done").map(String::as_str) {
        Some("correction") => format!(
            "<p class=\"note\" role=\"status\">{}</p>",
            t::DONE.get(lang)
        ),
        _ => String::new(),
    };
    match record_body(&state, lang, &headers, &notice, None).await {
        Ok(Ok(body)) => (
            [(header::CACHE_CONTROL, "no-store")],
            page(&state, lang, "/me/record", t::RECORD.get(lang), &body),
        )
            .into_response(),
        Ok(Err(redirect)) => redirect,
        Err(e) => error_page(&state, lang, &e),
    }
}

async fn file_correction_post<S: Store>(
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
        let person = my_person(&state, &citizen).await?;
        let about = match field(&f, "about") {
            "colour" => CorrectionTopic::Colour,
            n => CorrectionTopic::AuditEntry {
                seq: n.parse().map_err(|_| {
                    ApiError::invalid(
                        "about",
                        "请选择要纠错的记录。",
                        "Choose the entry to correct.",
                    )
                })?,
            },
        };
        state
            .file_correction(
                &person,
                &CorrectionInput {
                    about,
                    text: field(&f, "text").to_owned(),
                },
            )
            .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/me/record?done=correction#corrections").into_response(),
        Err(e) => match record_body(&state, lang, &headers, "", Some(&e)).await {
            Ok(Ok(body)) => (
                e.status,
                page(&state, lang, "/me/record", t::RECORD.get(lang), &body),
            )
                .into_response(),
            Ok(Err(redirect)) => redirect,
            Err(e2) => error_page(&state, lang, &e2),
        },
    }
}

async fn signed_in_official<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<Option<Official>, ApiError> {
    auth::official(state, headers).await
}

async fn queues_body<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    official: &Official,
    notice: &str,
) -> Result<String, ApiError> {
    let overrides = queue(state, RequestKind::Override, RequestState::Pending).await?;
    let bulk = queue(state, RequestKind::Bulk, RequestState::Pending).await?;
    let corrections = correction_queue(state).await?;
    let mut decided = queue(state, RequestKind::Override, RequestState::Approved).await?;
    decided.extend(queue(state, RequestKind::Override, RequestState::Rejected).await?);
    decided.extend(queue(state, RequestKind::Bulk, RequestState::Approved).await?);
    decided.extend(queue(state, RequestKind::Bulk, RequestState::Rejected).await?);
    decided.extend(queue(state, RequestKind::Override, RequestState::Expired).await?);
    decided.sort_by(|a, b| b.decided_at.cmp(&a.decided_at));
    decided.truncate(20);
    let reviewer = official
        .account
        .roles
        .contains(&healthcode_store::Role::Reviewer);
    let mut body = format!(
        r#"{STYLE}<h1>{title}</h1><p class="note">{user}</p>{notice}<p class="note">{rule}</p>
<a class="button secondary" href="/official">{back}</a><a class="button secondary" href="/official/bulk/new">{bulk_l}</a>"#,
        title = t::QUEUES.get(lang),
        user = esc(&official.account.username),
        rule = t::REVIEWER_ONLY.get(lang),
        back = t::BACK.get(lang),
        bulk_l = t::NEW_BULK.get(lang),
    );
    let mut section = |title: &str, items: Vec<String>| {
        let _ = write!(body, "<div class=\"card\"><h2>{title}</h2>");
        if items.is_empty() {
            let _ = write!(body, "<p>{}</p>", t::NONE.get(lang));
        }
        for i in items {
            body.push_str(&i);
        }
        body.push_str("</div>");
    };
    let mine = |r: &RequestView| r.requested_by == official.account.username;
    section(
        t::PENDING_OVERRIDES.get(lang),
        overrides
            .iter()
            .map(|r| request_html(r, lang, reviewer && !mine(r)))
            .collect(),
    );
    section(
        t::PENDING_BULK.get(lang),
        bulk.iter()
            .map(|r| request_html(r, lang, reviewer && !mine(r)))
            .collect(),
    );
    section(
        t::OPEN_CORRECTIONS.get(lang),
        corrections
            .iter()
            .map(|c| correction_html(c, lang, true))
            .collect(),
    );
    section(
        t::DECIDED.get(lang),
        decided
            .iter()
            .map(|r| request_html(r, lang, false))
            .collect(),
    );
    Ok(body)
}

async fn queues_page<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    let official = match signed_in_official(&state, &headers).await {
        Ok(Some(o)) => o,
        Ok(None) => return Redirect::to("/official").into_response(),
        Err(e) => return error_page(&state, lang, &e),
    };
    let notice = match q.get("done").map(String::as_str) {
        Some("sent") => format!(
            "<p class=\"note\" role=\"status\">{}</p>",
            t::SENT.get(lang)
        ),
        Some(_) => format!(
            "<p class=\"note\" role=\"status\">{}</p>",
            t::DONE.get(lang)
        ),
        None => String::new(),
    };
    match queues_body(&state, lang, &official, &notice).await {
        Ok(body) => page(
            &state,
            lang,
            "/official/oversight",
            t::QUEUES.get(lang),
            &body,
        )
        .into_response(),
        Err(e) => error_page(&state, lang, &e),
    }
}

fn texts(f: &HashMap<String, String>, name: &str) -> Text {
    Text::new(
        field(f, &format!("{name}_zh")),
        field(f, &format!("{name}_en")),
    )
}

fn override_form(
    lang: Lang,
    person: &str,
    f: &HashMap<String, String>,
    error: Option<&ApiError>,
) -> String {
    let colour = |c: &str| {
        if field(f, "colour") == c {
            " selected"
        } else {
            ""
        }
    };
    format!(
        r#"{STYLE}<h1>{title}</h1><div class="card">{err}<p class="note">{two}</p><form method="post" action="/official/override">
<input type="hidden" name="person" value="{person}">
<label for="colour">{colour_l}</label><select id="colour" name="colour"><option value="green"{g}>绿码 green</option><option value="yellow"{y}>黄码 yellow</option><option value="orange"{o}>橙码 orange</option><option value="red"{r}>红码 red</option></select>
<label for="hours">{hours_l}</label><input id="hours" name="hours" type="number" min="1" required value="{hours}">
<label>{rzh}</label><textarea name="reason_zh" required>{reason_zh}</textarea><label>{ren}</label><textarea name="reason_en" required>{reason_en}</textarea>
<label>{lzh}</label><textarea name="legal_basis_zh" required>{legal_zh}</textarea><label>{len}</label><textarea name="legal_basis_en" required>{legal_en}</textarea>
<button type="submit">{submit}</button></form></div>"#,
        title = t::NEW_OVERRIDE.get(lang),
        err = error.map(|e| error_box(lang, e)).unwrap_or_default(),
        two = t::TWO_OFFICIALS.get(lang),
        person = esc(person),
        colour_l = t::COLOUR.get(lang),
        g = colour("green"),
        y = colour("yellow"),
        o = colour("orange"),
        r = colour("red"),
        hours_l = t::HOURS.get(lang),
        hours = esc(field(f, "hours")),
        rzh = t::REASON_ZH.get(lang),
        ren = t::REASON_EN.get(lang),
        reason_zh = esc(field(f, "reason_zh")),
        reason_en = esc(field(f, "reason_en")),
        lzh = t::LEGAL_ZH.get(lang),
        len = t::LEGAL_EN.get(lang),
        legal_zh = esc(field(f, "legal_basis_zh")),
        legal_en = esc(field(f, "legal_basis_en")),
        submit = t::SUBMIT.get(lang),
    )
}

async fn override_form_page<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    match signed_in_official(&state, &headers).await {
        Ok(Some(_)) => {}
        Ok(None) => return Redirect::to("/official").into_response(),
        Err(e) => return error_page(&state, lang, &e),
    }
    let person = q.get("person").cloned().unwrap_or_default();
    if PersonId::parse(&person).is_none() {
        let e = ApiError::invalid("person", "人员标识有误。", "Invalid person id.");
        return error_page(&state, lang, &e);
    }
    page(
        &state,
        lang,
        "/official/override/new",
        t::NEW_OVERRIDE.get(lang),
        &override_form(lang, &person, &HashMap::new(), None),
    )
    .into_response()
}

async fn override_post<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    let official = match signed_in_official(&state, &headers).await {
        Ok(Some(o)) => o,
        Ok(None) => return Redirect::to("/official").into_response(),
        Err(e) => return error_page(&state, lang, &e),
    };
    let result = async {
        let hours = field(&f, "hours").trim().parse::<i64>().map_err(|_| {
            ApiError::invalid(
                "hours",
                "时长须为整数小时。",
                "The duration must be a whole number of hours.",
            )
        })?;
        let input = OverrideInput {
            person: field(&f, "person").to_owned(),
            colour: field(&f, "colour").to_owned(),
            reason: texts(&f, "reason"),
            legal_basis: texts(&f, "legal_basis"),
            until: None,
            hours: Some(hours),
        };
        state.request_override(&official.account, &input).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/official/oversight?done=sent").into_response(),
        Err(e) => (
            e.status,
            page(
                &state,
                lang,
                "/official/override/new",
                t::NEW_OVERRIDE.get(lang),
                &override_form(lang, field(&f, "person"), &f, Some(&e)),
            ),
        )
            .into_response(),
    }
}

fn bulk_form(lang: Lang, f: &HashMap<String, String>, error: Option<&ApiError>) -> String {
    format!(
        r#"{STYLE}<h1>{title}</h1><div class="card">{err}<p class="note">{two}</p><form method="post" action="/official/bulk">
<label for="case">{case_l}</label><input id="case" name="case_reference" type="text" required maxlength="64" value="{case}">
<label for="identities">{ids_l}</label><textarea id="identities" name="identities" required>{ids}</textarea>
<label>{rzh}</label><textarea name="reason_zh" required>{reason_zh}</textarea><label>{ren}</label><textarea name="reason_en" required>{reason_en}</textarea>
<label>{lzh}</label><textarea name="legal_basis_zh" required>{legal_zh}</textarea><label>{len}</label><textarea name="legal_basis_en" required>{legal_en}</textarea>
<button type="submit">{submit}</button></form></div>"#,
        title = t::NEW_BULK.get(lang),
        err = error.map(|e| error_box(lang, e)).unwrap_or_default(),
        two = t::TWO_OFFICIALS.get(lang),
        case_l = t::CASE.get(lang),
        case = esc(field(f, "case_reference")),
        ids_l = t::IDENTITIES.get(lang),
        ids = esc(field(f, "identities")),
        rzh = t::REASON_ZH.get(lang),
        ren = t::REASON_EN.get(lang),
        reason_zh = esc(field(f, "reason_zh")),
        reason_en = esc(field(f, "reason_en")),
        lzh = t::LEGAL_ZH.get(lang),
        len = t::LEGAL_EN.get(lang),
        legal_zh = esc(field(f, "legal_basis_zh")),
        legal_en = esc(field(f, "legal_basis_en")),
        submit = t::SUBMIT.get(lang),
    )
}

async fn bulk_form_page<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    match signed_in_official(&state, &headers).await {
        Ok(Some(_)) => page(
            &state,
            lang,
            "/official/bulk/new",
            t::NEW_BULK.get(lang),
            &bulk_form(lang, &HashMap::new(), None),
        )
        .into_response(),
        Ok(None) => Redirect::to("/official").into_response(),
        Err(e) => error_page(&state, lang, &e),
    }
}

async fn bulk_post<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    let official = match signed_in_official(&state, &headers).await {
        Ok(Some(o)) => o,
        Ok(None) => return Redirect::to("/official").into_response(),
        Err(e) => return error_page(&state, lang, &e),
    };
    let input = BulkInput {
        action: "close_contact".into(),
        case_reference: Some(field(&f, "case_reference").to_owned()),
        identities: field(&f, "identities")
            .split(['\n', ',', '，', ' ', '\r', '\t'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        reason: texts(&f, "reason"),
        legal_basis: texts(&f, "legal_basis"),
    };
    match state.request_bulk(&official.account, &input).await {
        Ok(_) => Redirect::to("/official/oversight?done=sent").into_response(),
        Err(e) => (
            e.status,
            page(
                &state,
                lang,
                "/official/bulk/new",
                t::NEW_BULK.get(lang),
                &bulk_form(lang, &f, Some(&e)),
            ),
        )
            .into_response(),
    }
}

async fn decision_post<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    let official = match signed_in_official(&state, &headers).await {
        Ok(Some(o)) => o,
        Ok(None) => return Redirect::to("/official").into_response(),
        Err(e) => return error_page(&state, lang, &e),
    };
    let input = DecisionInput {
        approve: field(&f, "approve") == "yes",
        note: texts(&f, "note"),
    };
    match state.decide_request(&official.account, &id, &input).await {
        Ok(_) => Redirect::to("/official/oversight?done=decided").into_response(),
        Err(e) => error_page(&state, lang, &e),
    }
}

async fn answer_post<S: Store>(
    State(state): State<AppState<S>>,
    q: Params,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(f): PageForm,
) -> Response {
    let lang = lang_of(&q, &headers);
    let official = match signed_in_official(&state, &headers).await {
        Ok(Some(o)) => o,
        Ok(None) => return Redirect::to("/official").into_response(),
        Err(e) => return error_page(&state, lang, &e),
    };
    let decision = field(&f, "decision").to_owned();
    let input = AnswerInput {
        action: (decision == "accept").then(|| field(&f, "action").to_owned()),
        decision,
        reference: Some(field(&f, "reference").to_owned()).filter(|r| !r.trim().is_empty()),
        message: texts(&f, "message"),
    };
    match state
        .answer_correction(&official.account, &id, &input)
        .await
    {
        Ok(_) => Redirect::to("/official/oversight?done=answered").into_response(),
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
