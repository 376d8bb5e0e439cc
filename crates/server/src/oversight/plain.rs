//! A person's record in plain words: every audit entry about them, who
//! acted (and in which role), what it was, the evidence and legal basis it
//! carries, whether the current colour cites it, and whether the chain
//! around it is intact. Also the views of requests, corrections and reads.

use std::collections::{HashMap, HashSet};

use healthcode_core::mask::mask_id;
use healthcode_core::{AuditEntry, Colour, ColourDecision};
use healthcode_store::oversight::{
    AccessRecord, ApprovalRequest, CorrectionRequest, CorrectionTopic, RequestKind,
};
use healthcode_store::{PersonRecord, Role, Store};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::api::PersonView;
use crate::error::ApiError;
use crate::i18n::Text;
use crate::oversight::service::{fmt_time, text_of};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordEntryView {
    /// The entry's sequence number in the audit chain.
    pub seq: u64,
    pub at: String,
    /// Who acted, in plain words (an official with their role).
    pub who: Text,
    /// `self`, `official`, `system`, `lab`, `clinic`, `checkpoint`, `carrier`.
    pub actor_kind: String,
    /// The stable action name, e.g. `event.recorded`.
    pub action: String,
    /// What happened, in plain words.
    pub what: Text,
    /// Ids of the events this entry recorded: the evidence rules cite.
    pub evidence: Vec<String>,
    /// The epidemic-control legal basis, for overrides and bulk actions.
    pub legal_basis: Option<Text>,
    /// Rules of the current colour decision that cite this entry's evidence.
    pub cited_by_rules: Vec<String>,
    /// The entry's content matches its hash and the next entry commits to it.
    pub intact: bool,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChainStatusView {
    pub intact: bool,
    pub entries_checked: usize,
    pub message: Text,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CorrectionView {
    pub id: String,
    /// `{"type": "colour"}` or `{"type": "audit_entry", "seq": N}`.
    #[schema(value_type = Object)]
    pub about: CorrectionTopic,
    pub text: String,
    pub filed_at: String,
    pub due_at: String,
    /// `open`, `accepted` or `rejected`.
    pub state: String,
    /// Open after its deadline.
    pub overdue: bool,
    /// The person it is about, masked (for officials).
    pub person: Option<String>,
    pub answer: Option<AnswerView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnswerView {
    pub accepted: bool,
    pub action: String,
    pub reference: Option<String>,
    pub message: Text,
    /// The answering official's role.
    pub by_role: Text,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessView {
    pub at: String,
    pub official: String,
    pub role: Text,
    /// `lookup`, `view`, …
    pub what: String,
    pub what_text: Text,
    pub purpose: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    /// `override` or `bulk`.
    pub kind: String,
    /// `pending`, `approved`, `rejected` or `expired`.
    pub state: String,
    /// The person of an override, masked (shown to officials), with their id.
    pub person: Option<String>,
    pub person_name: Option<String>,
    pub requested_by: String,
    pub requested_at: String,
    /// A pending request expires at this time.
    pub expires_at: String,
    pub reason: Text,
    pub legal_basis: Text,
    /// What is asked: an override's colour and end, a bulk action's kind,
    /// case and identity numbers (masked).
    #[schema(value_type = Object)]
    pub asks: Value,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub note: Option<Text>,
    /// What applying it produced: the override's event id, a bulk action's
    /// per-item results.
    #[schema(value_type = Option<Object>)]
    pub outcome: Option<Value>,
}

impl RequestView {
    pub fn new(r: &ApprovalRequest, person: Option<&PersonRecord>) -> RequestView {
        let mut asks: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        if let Some(ids) = asks.get_mut("identities").and_then(Value::as_array_mut) {
            for id in ids.iter_mut() {
                if let Some(s) = id.as_str() {
                    *id = Value::String(mask_id(s));
                }
            }
        }
        RequestView {
            id: r.id.clone(),
            kind: r.kind.as_str().to_owned(),
            state: r.state.as_str().to_owned(),
            person: r.person.as_ref().map(ToString::to_string),
            person_name: person.map(|p| {
                let v = PersonView::from(p);
                format!("{} · {}", v.name, v.document)
            }),
            requested_by: r.requested_by.clone(),
            requested_at: fmt_time(r.requested_at),
            expires_at: fmt_time(r.expires_at),
            reason: text_of(&r.reason),
            legal_basis: text_of(&r.legal_basis),
            asks,
            decided_by: r.decision.as_ref().map(|d| d.by.clone()),
            decided_at: r.decision.as_ref().map(|d| fmt_time(d.at)),
            note: r.decision.as_ref().map(|d| text_of(&d.note)),
            outcome: r
                .outcome
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok()),
        }
    }
}

pub fn role_text(roles: &[Role]) -> Text {
    let name = |r: &Role| match r {
        Role::HealthOfficial => ("卫生健康工作人员", "health official"),
        Role::Reviewer => ("审核人员", "reviewer"),
        Role::Administrator => ("管理员", "administrator"),
    };
    if roles.is_empty() {
        return Text::new("工作人员", "official");
    }
    Text::new(
        roles
            .iter()
            .map(|r| name(r).0)
            .collect::<Vec<_>>()
            .join("、"),
        roles
            .iter()
            .map(|r| name(r).1)
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn roles_from(text: &str) -> Vec<Role> {
    text.split(',').filter_map(Role::parse).collect()
}

pub fn access_view(a: &AccessRecord) -> AccessView {
    AccessView {
        at: fmt_time(a.at),
        official: a.official.clone(),
        role: role_text(&roles_from(&a.roles)),
        what: a.what.clone(),
        what_text: access_words(&a.what),
        purpose: a.purpose.clone(),
    }
}

fn access_words(what: &str) -> Text {
    match what {
        "lookup" => Text::new("按证件号码查找", "looked up by document number"),
        "view" => Text::new("查看健康状态与记录", "viewed status and records"),
        "export" => Text::new("导出个人数据", "exported personal data"),
        "trace" => Text::new("流行病学调查", "contact tracing"),
        "itinerary" => Text::new("查询行程", "queried the itinerary"),
        other => Text::new(other, other),
    }
}

pub fn correction_view(
    c: &CorrectionRequest,
    now: OffsetDateTime,
    person: Option<&PersonRecord>,
    answer_roles: Option<&[Role]>,
) -> CorrectionView {
    CorrectionView {
        id: c.id.clone(),
        about: c.topic,
        text: c.text.clone(),
        filed_at: fmt_time(c.filed_at),
        due_at: fmt_time(c.due_at),
        state: match &c.answer {
            None => "open",
            Some(a) if a.accepted => "accepted",
            Some(_) => "rejected",
        }
        .to_owned(),
        overdue: c.answer.is_none() && now > c.due_at,
        person: person.map(|p| {
            let v = PersonView::from(p);
            format!("{} · {}", v.name, v.document)
        }),
        answer: c.answer.as_ref().map(|a| AnswerView {
            accepted: a.accepted,
            action: a.action.clone(),
            reference: a.reference.clone(),
            message: text_of(&a.message),
            by_role: role_text(answer_roles.unwrap_or(&[])),
            at: fmt_time(a.at),
        }),
    }
}

fn colour_text(v: &Value) -> Text {
    match v.as_str().and_then(|c| c.parse::<Colour>().ok()) {
        Some(c) => Text::new(c.label_zh(), c.label_en()),
        None => Text::new("?", "?"),
    }
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn bi(v: &Value) -> Option<Text> {
    Some(Text::new(v.get("zh")?.as_str()?, v.get("en")?.as_str()?))
}

/// A fact in plain words, from its JSON (`Fact` serialised).
pub fn fact_words(fact: &Value) -> Text {
    let yes = |b: bool| if b { ("是", "yes") } else { ("否", "no") };
    match s(fact, "kind") {
        "self_declaration" => {
            let fever = yes(fact.get("fever").and_then(Value::as_bool).unwrap_or(false));
            let symptoms = yes(fact
                .get("symptoms")
                .and_then(Value::as_bool)
                .unwrap_or(false));
            Text::new(
                format!("健康申报（发热：{}，症状：{}）", fever.0, symptoms.0),
                format!(
                    "Health declaration (fever: {}, symptoms: {})",
                    fever.1, symptoms.1
                ),
            )
        }
        "temperature" => {
            let r = fact
                .get("reading")
                .map(ToString::to_string)
                .unwrap_or_default();
            Text::new(
                format!("体温测量 {r} ℃"),
                format!("Temperature measured: {r} ℃"),
            )
        }
        "test_result" => {
            let test = match s(fact, "test") {
                "pcr" => ("核酸", "PCR"),
                _ => ("抗原", "antigen"),
            };
            let outcome = match s(fact, "outcome") {
                "positive" => ("阳性", "positive"),
                _ => ("阴性", "negative"),
            };
            Text::new(
                format!("{}检测结果：{}", test.0, outcome.0),
                format!("{} test result: {}", test.1, outcome.1),
            )
        }
        "diagnosis" => {
            let st = match s(fact, "status") {
                "confirmed" => ("确诊", "confirmed case"),
                "suspected" => ("疑似", "suspected case"),
                "excluded" => ("排除", "excluded"),
                _ => ("治愈", "recovered"),
            };
            Text::new(format!("诊断：{}", st.0), format!("Diagnosis: {}", st.1))
        }
        "close_contact" => {
            let case = s(fact, "case_reference");
            Text::new(
                format!(
                    "判定为密切接触者（关联病例：{}）",
                    if case.is_empty() { "未注明" } else { case }
                ),
                format!(
                    "Designated a close contact (case: {})",
                    if case.is_empty() { "not given" } else { case }
                ),
            )
        }
        "quarantine_started" => {
            let place = if s(fact, "place") == "home" {
                ("居家", "at home")
            } else {
                ("集中", "centralised")
            };
            Text::new(
                format!("开始{}隔离", place.0),
                format!("Quarantine started ({})", place.1),
            )
        }
        "quarantine_ended" => Text::new("解除隔离", "Quarantine ended"),
        "itinerary_risk" => Text::new(
            format!("行程风险：到过 {}（{}）", s(fact, "area"), s(fact, "level")),
            format!(
                "Itinerary risk: stayed in {} ({} risk)",
                s(fact, "area"),
                s(fact, "level")
            ),
        ),
        "override" => {
            let c = colour_text(fact.get("colour").unwrap_or(&Value::Null));
            Text::new(
                format!("人工改码为{}", c.zh),
                format!("Official override to {}", c.en),
            )
        }
        other => Text::new(other, other),
    }
}

/// Who acted, in plain words.
fn who(actor: &str, roles: &HashMap<String, Vec<Role>>) -> (String, Text) {
    if actor == "self" {
        return ("self".into(), Text::new("本人", "You"));
    }
    if actor == "system" {
        return (
            "system".into(),
            Text::new("系统（自动）", "The system (automatic)"),
        );
    }
    let Some((kind, name)) = actor.split_once(':') else {
        return ("other".into(), Text::new(actor, actor));
    };
    let t = match kind {
        "official" => {
            let role = role_text(roles.get(name).map(Vec::as_slice).unwrap_or(&[]));
            Text::new(format!("{} {name}", role.zh), format!("{} {name}", role.en))
        }
        "lab" => Text::new(format!("检测机构 {name}"), format!("laboratory {name}")),
        "clinic" => Text::new(format!("医疗机构 {name}"), format!("clinic {name}")),
        "checkpoint" => Text::new(format!("查验点 {name}"), format!("checkpoint {name}")),
        "carrier" => Text::new(format!("运营商 {name}"), format!("carrier {name}")),
        _ => Text::new(actor, actor),
    };
    (kind.to_owned(), t)
}

/// One entry in plain words: (what, evidence, legal basis).
fn what(action: &str, d: &Value) -> (Text, Vec<String>, Option<Text>) {
    let request = s(d, "request");
    match action {
        "person.applied" => (
            Text::new(
                format!("申领健康码（渠道：{}）", s(d, "channel")),
                format!("Applied for a health code (channel: {})", s(d, "channel")),
            ),
            vec![],
            None,
        ),
        "event.recorded" => (
            fact_words(d.get("fact").unwrap_or(&Value::Null)),
            vec![s(d, "id").to_owned()],
            None,
        ),
        "override.requested" => {
            let c = colour_text(d.get("colour").unwrap_or(&Value::Null));
            (
                Text::new(
                    format!("申请将您的健康码人工改为{}，须另一名审核人员批准（申请 {request}）", c.zh),
                    format!("Asked for an override of your code to {}, pending a second official's approval (request {request})", c.en),
                ),
                vec![],
                d.get("legal_basis").and_then(bi),
            )
        }
        "override.approved" => {
            let event = d.get("event").unwrap_or(&Value::Null);
            let fact = event.get("fact").unwrap_or(&Value::Null);
            let c = colour_text(fact.get("colour").unwrap_or(&Value::Null));
            let until = s(fact, "until");
            (
                Text::new(
                    format!("批准人工改码为{}，有效至 {until}（申请 {request}，申请人 {}）", c.zh, s(d, "requested_by")),
                    format!("Approved the override to {} until {until} (request {request}, requested by {})", c.en, s(d, "requested_by")),
                ),
                vec![s(d, "event_id").to_owned()],
                fact.get("legal_basis").and_then(bi),
            )
        }
        "override.rejected" | "bulk.rejected" => {
            let note = d
                .get("note")
                .and_then(bi)
                .unwrap_or_else(|| Text::new("", ""));
            (
                Text::new(
                    format!("驳回申请 {request}：{}", note.zh),
                    format!("Rejected request {request}: {}", note.en),
                ),
                vec![],
                None,
            )
        }
        "override.expired" | "bulk.expired" => (
            Text::new(
                format!("申请 {request} 未在期限内获批，已失效，未生效"),
                format!(
                    "Request {request} was not approved in time: it expired and never took effect"
                ),
            ),
            vec![],
            None,
        ),
        "bulk.item_applied" => {
            let fact = d
                .get("event")
                .and_then(|e| e.get("fact"))
                .unwrap_or(&Value::Null);
            let f = fact_words(fact);
            (
                Text::new(
                    format!(
                        "批量操作（申请 {request}，经 {} 批准）：{}",
                        s(d, "approved_by"),
                        f.zh
                    ),
                    format!(
                        "Bulk action (request {request}, approved by {}): {}",
                        s(d, "approved_by"),
                        f.en
                    ),
                ),
                vec![s(d, "event_id").to_owned()],
                d.get("legal_basis").and_then(bi),
            )
        }
        "correction.filed" => (
            Text::new(
                format!("您提交了纠错申请 {}", s(d, "correction")),
                format!("You filed correction request {}", s(d, "correction")),
            ),
            vec![],
            None,
        ),
        "correction.answered" => {
            let m = d
                .get("message")
                .and_then(bi)
                .unwrap_or_else(|| Text::new("", ""));
            let accepted = d.get("accepted").and_then(Value::as_bool).unwrap_or(false);
            let c = s(d, "correction");
            (
                if accepted {
                    Text::new(
                        format!("纠错申请 {c} 已采纳：{}", m.zh),
                        format!("Correction request {c} accepted: {}", m.en),
                    )
                } else {
                    Text::new(
                        format!("纠错申请 {c} 被驳回：{}", m.zh),
                        format!("Correction request {c} rejected: {}", m.en),
                    )
                },
                d.get("reference")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .into_iter()
                    .collect(),
                None,
            )
        }
        "person.accessed" => {
            let w = access_words(s(d, "what"));
            (
                Text::new(
                    format!("查阅了您的信息（{}），目的：{}", w.zh, s(d, "purpose")),
                    format!("Read your data ({}); purpose: {}", w.en, s(d, "purpose")),
                ),
                vec![],
                None,
            )
        }
        "export.downloaded" => (
            Text::new("您下载了个人数据副本", "You downloaded a copy of your data"),
            vec![],
            None,
        ),
        other => (Text::new(other, other), vec![], None),
    }
}

/// The rules of a decision that cite each event id.
fn citations(decision: &ColourDecision) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for f in &decision.fired {
        for e in &f.evidence {
            map.entry(e.as_str().to_owned())
                .or_default()
                .push(f.rule_id.clone());
        }
    }
    map
}

impl<S: Store> AppState<S> {
    /// Every audit entry about a person in plain words, with the chain's
    /// integrity around each: its content matches its hash, and the next
    /// entry of the chain commits to it (so an edit would have to rewrite
    /// the rest of the chain, which a published head reveals).
    pub async fn record_entries(
        &self,
        person: &PersonRecord,
        decision: &ColourDecision,
    ) -> Result<(Vec<RecordEntryView>, ChainStatusView), ApiError> {
        let entries: Vec<AuditEntry> = self.store.audit_about(person.id.as_str()).await?;
        let mut roles: HashMap<String, Vec<Role>> = HashMap::new();
        let mut broken = Vec::new();
        let cited = citations(decision);
        let mut views = Vec::with_capacity(entries.len());
        for e in &entries {
            if let Some(name) = e.record.actor.strip_prefix("official:") {
                if !roles.contains_key(name) {
                    let r = self
                        .store
                        .official(name)
                        .await?
                        .map(|a| a.roles)
                        .unwrap_or_default();
                    roles.insert(name.to_owned(), r);
                }
            }
            let next = self.store.audit_entries(e.seq.saturating_add(1), 1).await?;
            let linked = match next.first() {
                Some(n) if n.seq == e.seq.saturating_add(1) => n.prev == e.hash,
                Some(_) => false,
                None => true,
            };
            let intact = e.computed_hash() == e.hash && linked;
            if !intact {
                broken.push(e.seq);
            }
            let details: Value = serde_json::from_str(&e.record.details).unwrap_or(Value::Null);
            let (actor_kind, who) = who(&e.record.actor, &roles);
            let (what, evidence, legal_basis) = what(&e.record.action, &details);
            let evidence: Vec<String> = evidence.into_iter().filter(|x| !x.is_empty()).collect();
            let mut cited_by_rules: Vec<String> = evidence
                .iter()
                .flat_map(|id| cited.get(id).cloned().unwrap_or_default())
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            cited_by_rules.sort();
            views.push(RecordEntryView {
                seq: e.seq,
                at: fmt_time(e.record.at),
                who,
                actor_kind,
                action: e.record.action.clone(),
                what,
                evidence,
                legal_basis,
                cited_by_rules,
                intact,
                hash: e.hash.to_hex(),
            });
        }
        let n = entries.len();
        let status = if broken.is_empty() {
            ChainStatusView {
                intact: true,
                entries_checked: n,
                message: Text::new(
                    format!("关于您的 {n} 条记录均完整：每条内容与其哈希相符，且审计链中的下一条记录承接其哈希。"),
                    format!("All {n} entries about you are intact: each one's content matches its hash, and the next entry of the audit chain commits to it."),
                ),
            }
        } else {
            let list = broken
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            ChainStatusView {
                intact: false,
                entries_checked: n,
                message: Text::new(
                    format!("第 {list} 条记录与审计哈希链不符，可能已被篡改。请提交纠错申请，运维人员可用 healthcode audit verify 核查。"),
                    format!("Entries #{list} do not match the audit hash chain and may have been altered. File a correction request; operators can check with healthcode audit verify."),
                ),
            }
        };
        Ok((views, status))
    }

    /// Officials' roles by username, for showing who answered.
    pub async fn roles_of(&self, username: &str) -> Result<Vec<Role>, ApiError> {
        Ok(self
            .store
            .official(username)
            .await?
            .map(|a| a.roles)
            .unwrap_or_default())
    }

    /// The requests about a person, as the person sees them.
    pub async fn request_views_about(
        &self,
        person: &PersonRecord,
    ) -> Result<Vec<RequestView>, ApiError> {
        Ok(self
            .store
            .requests_about(&person.id)
            .await?
            .iter()
            .filter(|r| r.kind == RequestKind::Override)
            .map(|r| RequestView::new(r, Some(person)))
            .collect())
    }
}
