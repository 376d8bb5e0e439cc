//! The logic of oversight, independent of HTTP: override requests and bulk
//! actions under the two-official rule, correction requests, the access
//! log. Handlers in `api` and `pages` are thin wrappers around these.

use std::collections::HashSet;

use axum::http::StatusCode;
use healthcode_core::facts::{Event, EventId, Fact, OverrideRequest, Source};
use healthcode_core::mask::mask_id;
use healthcode_core::{AuditRecord, Bilingual, Colour, OfficialId, Override, ResidentId};
use healthcode_store::columns::roles_text;
use healthcode_store::oversight::{
    AccessRecord, ApprovalRequest, CorrectionAnswer, CorrectionRequest, CorrectionTopic,
    RequestDecision, RequestKind, RequestState,
};
use healthcode_store::{OfficialAccount, PersonId, PersonRecord, Role, Store};
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::i18n::Text;
use crate::state::AppState;

/// The longest reason, legal basis, note or answer, per language.
const MAX_TEXT: usize = 500;
/// The longest correction request a person may write.
const MAX_CORRECTION: usize = 2000;

/// An official asks for a colour override.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideInput {
    /// The person's id (32 hex digits).
    pub person: String,
    /// `green`, `yellow`, `orange` or `red`.
    pub colour: String,
    /// Why, in Chinese and English.
    pub reason: Text,
    /// The epidemic-control legal basis: the law and article, or the
    /// headquarters' decision number, in Chinese and English.
    pub legal_basis: Text,
    /// When the override ends (RFC 3339); or give `hours`.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<OffsetDateTime>,
    /// How long the override lasts from approval, in hours.
    #[serde(default)]
    pub hours: Option<i64>,
}

/// What an override request asks for (the request's stored body).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OverrideBody {
    pub colour: Colour,
    /// A fixed end, or a duration counted from approval.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub until: Option<OffsetDateTime>,
    #[serde(default)]
    pub hours: Option<i64>,
}

/// An official asks for one action over a list of people.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkInput {
    /// `close_contact`: designate every listed person a close contact.
    pub action: String,
    /// The confirmed case they are contacts of (required for `close_contact`).
    #[serde(default)]
    pub case_reference: Option<String>,
    /// Identity numbers (resident ID, passport or permit), one per person.
    pub identities: Vec<String>,
    pub reason: Text,
    pub legal_basis: Text,
}

/// What a bulk request asks for (its stored body).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BulkBody {
    pub action: String,
    pub case_reference: Option<String>,
    pub identities: Vec<String>,
}

/// A second official's decision.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    pub approve: bool,
    /// The reviewer's note, in Chinese and English (for a rejection, the reason).
    pub note: Text,
}

/// The result of one item of a bulk action.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ItemResult {
    /// Position in the submitted list, from 0.
    pub index: usize,
    /// The identity number, masked.
    pub identity: String,
    /// `applied` or `skipped`.
    pub status: String,
    #[serde(default)]
    pub person: Option<String>,
    #[serde(default)]
    pub event_id: Option<String>,
    /// Why the item was skipped.
    #[serde(default)]
    pub reason: Option<Text>,
}

/// A person disputes an entry of their record or their colour.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionInput {
    /// `{"type": "colour"}` or `{"type": "audit_entry", "seq": N}`.
    #[schema(value_type = Object)]
    pub about: CorrectionTopic,
    /// What is wrong, in your words.
    pub text: String,
}

/// An official's answer to a correction request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    /// `accept` or `reject`.
    pub decision: String,
    /// For `accept`: `fact_recorded` (reference: the event id),
    /// `override_requested` (reference: the override request id) or `other`.
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub reference: Option<String>,
    /// What the person reads: the action taken, or the reason for rejecting.
    pub message: Text,
}

/// RFC 3339 to the second, as people read it.
pub fn fmt_time(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

fn bilingual(t: &Text) -> Bilingual {
    Bilingual::new(t.zh.trim(), t.en.trim())
}

pub fn text_of(b: &Bilingual) -> Text {
    Text::new(b.zh.clone(), b.en.clone())
}

/// A bilingual text both of whose languages are given, within limits.
fn complete(field: &str, t: &Text, what_zh: &str, what_en: &str) -> Result<Bilingual, ApiError> {
    let b = bilingual(t);
    if !b.is_complete() {
        return Err(ApiError::invalid(
            field,
            format!("须以中文和英文填写{what_zh}。"),
            format!("The {what_en} is required in both Chinese and English."),
        ));
    }
    if b.zh.chars().count() > MAX_TEXT || b.en.chars().count() > MAX_TEXT {
        return Err(ApiError::invalid(
            field,
            format!("{what_zh}每种语言最多 {MAX_TEXT} 个字。"),
            format!("The {what_en} may have at most {MAX_TEXT} characters per language."),
        ));
    }
    Ok(b)
}

/// Core messages are "English / 中文".
fn core_error(code: &'static str, status: StatusCode, message: &str) -> ApiError {
    let (en, zh) = message.split_once(" / ").unwrap_or((message, message));
    ApiError::new(status, code, Text::new(zh, en))
}

fn role_required(
    official: &OfficialAccount,
    roles: &[Role],
    zh: &str,
    en: &str,
) -> Result<(), ApiError> {
    if official.roles.iter().any(|r| roles.contains(r)) {
        Ok(())
    } else {
        Err(ApiError::forbidden(zh, en))
    }
}

/// The audit subject of a request: the person of an override, the request
/// itself for a bulk action (its people get one entry each when applied).
pub fn request_subject(r: &ApprovalRequest) -> String {
    match &r.person {
        Some(p) => p.to_string(),
        None => format!("bulk:{}", r.id),
    }
}

fn kind_words(kind: RequestKind) -> (&'static str, &'static str) {
    match kind {
        RequestKind::Override => ("人工改码申请", "override requests"),
        RequestKind::Bulk => ("批量操作申请", "bulk-action requests"),
    }
}

/// A syntactically plausible identity number, with the GB 11643 check for
/// resident IDs; the error says what is wrong.
fn check_identity(number: &str, today: time::Date) -> Result<(), Text> {
    let n = number.len();
    if n == 0 || n > 32 || !number.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Text::new(
            "证件号码应为 1 至 32 位字母或数字。",
            "An identity number is 1 to 32 letters or digits.",
        ));
    }
    if n == 18 && number.bytes().take(17).all(|b| b.is_ascii_digit()) {
        if let Err(e) = ResidentId::parse_as_of(number, today) {
            let message = e.to_string();
            let (en, zh) = message.split_once(" / ").unwrap_or((&message, &message));
            return Err(Text::new(zh, en));
        }
    }
    Ok(())
}

impl<S: Store> AppState<S> {
    fn new_id(&self, prefix: &str) -> Result<String, ApiError> {
        let mut b = [0u8; 8];
        self.rng
            .fill(&mut b)
            .map_err(|_| ApiError::internal("rng failed"))?;
        Ok(format!("{prefix}-{}", hex::encode(b)))
    }

    async fn append(&self, record: AuditRecord) -> Result<(), ApiError> {
        self.store.append_audit(record).await?;
        Ok(())
    }

    fn actor(official: &OfficialAccount) -> String {
        format!("official:{}", official.username)
    }

    /// Refuses a request beyond the official's hourly allowance, counted
    /// from the stored requests (so it survives restarts).
    async fn request_allowance(
        &self,
        official: &OfficialAccount,
        kind: RequestKind,
        per_hour: u32,
    ) -> Result<(), ApiError> {
        let now = self.now();
        let window = Duration::hours(1);
        let times = self
            .store
            .request_times(&official.username, kind, now - window)
            .await?;
        if times.len() < per_hour as usize {
            return Ok(());
        }
        let oldest = times.first().copied().unwrap_or(now);
        let wait = (oldest + window - now).whole_seconds().max(1);
        let minutes = (wait + 59) / 60;
        let (zh, en) = kind_words(kind);
        Err(ApiError {
            message: Text::new(
                format!("每名工作人员每小时最多提出 {per_hour} 项{zh}，您已达到上限，请 {minutes} 分钟后再试。此限制防止未经审查的批量赋码。"),
                format!("Each official may make at most {per_hour} {en} an hour and you have reached that limit; try again in {minutes} min. The limit guards against codes being assigned wholesale."),
            ),
            ..ApiError::too_many(u64::try_from(wait).unwrap_or(1))
        })
    }

    // ----- overrides -----

    /// A health official asks for an override; a reviewer must approve it.
    pub async fn request_override(
        &self,
        official: &OfficialAccount,
        input: &OverrideInput,
    ) -> Result<ApprovalRequest, ApiError> {
        role_required(
            official,
            &[Role::HealthOfficial],
            "只有卫生健康工作人员可以申请人工改码。",
            "Only health officials may request an override.",
        )?;
        let person = PersonId::parse(input.person.trim()).ok_or_else(|| {
            ApiError::invalid(
                "person",
                "人员标识应为 32 位十六进制数。",
                "A person id is 32 hex digits.",
            )
        })?;
        if self.store.person(&person).await?.is_none() {
            return Err(ApiError::not_found("此人", "Person").with_field("person"));
        }
        let colour = match input.colour.trim().parse::<Colour>() {
            Ok(Colour::Pending) | Err(_) => {
                return Err(ApiError::invalid(
                    "colour",
                    "改码颜色应为 green、yellow、orange 或 red。",
                    "The colour must be green, yellow, orange or red.",
                ))
            }
            Ok(c) => c,
        };
        let reason = complete("reason", &input.reason, "理由", "reason")?;
        let legal_basis = complete(
            "legal_basis",
            &input.legal_basis,
            "防疫法律依据（法律条款或指挥部决定文号）",
            "epidemic-control legal basis (law and article, or the headquarters' decision number)",
        )?;
        let now = self.now();
        let max = Duration::days(self.settings.oversight.override_max_days);
        let max_days = self.settings.oversight.override_max_days;
        let too_long = || {
            ApiError::invalid(
                "until",
                format!("人工改码最长 {max_days} 天。"),
                format!("An override may last at most {max_days} days."),
            )
        };
        let (until, hours) = match (input.until, input.hours) {
            (Some(until), None) => {
                if until <= now {
                    return Err(ApiError::invalid(
                        "until",
                        "结束时间须晚于现在。",
                        "The end must be in the future.",
                    ));
                }
                if until - now > max {
                    return Err(too_long());
                }
                (Some(until), None)
            }
            (None, Some(h)) => {
                if h < 1 {
                    return Err(ApiError::invalid("hours", "时长至少 1 小时。", "At least 1 hour."));
                }
                if Duration::hours(h) > max {
                    return Err(too_long().with_field("hours"));
                }
                (None, Some(h))
            }
            _ => {
                return Err(ApiError::invalid(
                    "until",
                    "须给出结束时间（until）或时长（hours）之一：人工改码不能无限期。",
                    "Give either an end (until) or a duration (hours): an override cannot be open-ended.",
                ))
            }
        };
        self.request_allowance(
            official,
            RequestKind::Override,
            self.settings.oversight.override_requests_per_hour,
        )
        .await?;
        let body = OverrideBody {
            colour,
            until,
            hours,
        };
        let request = ApprovalRequest {
            id: self.new_id("ovr")?,
            kind: RequestKind::Override,
            person: Some(person.clone()),
            requested_by: official.username.clone(),
            requested_at: now,
            expires_at: now + Duration::hours(self.settings.oversight.approval_deadline_hours),
            reason,
            legal_basis,
            body: serde_json::to_string(&body).map_err(ApiError::internal)?,
            state: RequestState::Pending,
            decision: None,
            outcome: None,
        };
        self.store.create_request(&request).await?;
        self.append(AuditRecord {
            at: now,
            actor: Self::actor(official),
            action: "override.requested".into(),
            subject: person.to_string(),
            details: serde_json::json!({
                "request": request.id,
                "colour": colour,
                "until": until.map(fmt_time),
                "hours": hours,
                "reason": request.reason,
                "legal_basis": request.legal_basis,
                "deadline": fmt_time(request.expires_at),
            })
            .to_string(),
        })
        .await?;
        Ok(request)
    }

    // ----- bulk actions -----

    /// A health official asks for a bulk action; a reviewer must approve it.
    pub async fn request_bulk(
        &self,
        official: &OfficialAccount,
        input: &BulkInput,
    ) -> Result<ApprovalRequest, ApiError> {
        role_required(
            official,
            &[Role::HealthOfficial],
            "只有卫生健康工作人员可以申请批量操作。",
            "Only health officials may request a bulk action.",
        )?;
        if input.action != "close_contact" {
            return Err(ApiError::invalid(
                "action",
                format!("未知批量操作 {:?}：目前支持 close_contact（批量判定密接）。", input.action),
                format!("Unknown bulk action {:?}: supported is close_contact (designate close contacts).", input.action),
            ));
        }
        let case_reference = input
            .case_reference
            .as_deref()
            .map(str::trim)
            .filter(|c| {
                !c.is_empty() && c.chars().count() <= 64 && !c.chars().any(char::is_control)
            })
            .ok_or_else(|| {
                ApiError::invalid(
                    "case_reference",
                    "批量判定密接须注明关联病例编号（1 至 64 个字）。",
                    "A close-contact designation needs the case it refers to (1 to 64 characters).",
                )
            })?
            .to_owned();
        let max = self.settings.oversight.bulk_max_items;
        if input.identities.is_empty() || input.identities.len() > max {
            return Err(ApiError::invalid(
                "identities",
                format!("名单应有 1 至 {max} 人。"),
                format!("The list must hold 1 to {max} people."),
            ));
        }
        let reason = complete("reason", &input.reason, "理由", "reason")?;
        let legal_basis = complete(
            "legal_basis",
            &input.legal_basis,
            "防疫法律依据（法律条款或指挥部决定文号）",
            "epidemic-control legal basis (law and article, or the headquarters' decision number)",
        )?;
        self.request_allowance(
            official,
            RequestKind::Bulk,
            self.settings.oversight.bulk_requests_per_hour,
        )
        .await?;
        let now = self.now();
        let body = BulkBody {
            action: input.action.clone(),
            case_reference: Some(case_reference.clone()),
            identities: input
                .identities
                .iter()
                .map(|i| i.trim().to_owned())
                .collect(),
        };
        let request = ApprovalRequest {
            id: self.new_id("blk")?,
            kind: RequestKind::Bulk,
            person: None,
            requested_by: official.username.clone(),
            requested_at: now,
            expires_at: now + Duration::hours(self.settings.oversight.approval_deadline_hours),
            reason,
            legal_basis,
            body: serde_json::to_string(&body).map_err(ApiError::internal)?,
            state: RequestState::Pending,
            decision: None,
            outcome: None,
        };
        self.store.create_request(&request).await?;
        // Never identity numbers in the chain: it is kept for ever.
        self.append(AuditRecord {
            at: now,
            actor: Self::actor(official),
            action: "bulk.requested".into(),
            subject: format!("bulk:{}", request.id),
            details: serde_json::json!({
                "request": request.id,
                "action": body.action,
                "case_reference": case_reference,
                "items": body.identities.len(),
                "reason": request.reason,
                "legal_basis": request.legal_basis,
                "deadline": fmt_time(request.expires_at),
            })
            .to_string(),
        })
        .await?;
        Ok(request)
    }

    // ----- decisions -----

    /// Expires requests not decided in time, one audit entry each.
    pub async fn expire_requests(&self) -> Result<usize, ApiError> {
        let now = self.now();
        let expired = self.store.expire_requests(now).await?;
        for r in &expired {
            self.append(AuditRecord {
                at: now,
                actor: "system".into(),
                action: format!("{}.expired", r.kind.as_str()),
                subject: request_subject(r),
                details: serde_json::json!({
                    "request": r.id,
                    "requested_by": r.requested_by,
                    "deadline": fmt_time(r.expires_at),
                })
                .to_string(),
            })
            .await?;
        }
        Ok(expired.len())
    }

    /// A reviewer other than the requester approves or rejects a request.
    /// Approving an override records it as an event; approving a bulk
    /// action applies it item by item.
    pub async fn decide_request(
        &self,
        official: &OfficialAccount,
        id: &str,
        input: &DecisionInput,
    ) -> Result<ApprovalRequest, ApiError> {
        self.expire_requests().await?;
        role_required(
            official,
            &[Role::Reviewer],
            "只有审核人员可以审批。",
            "Only reviewers may approve or reject requests.",
        )?;
        let request = self
            .store
            .request(id)
            .await?
            .ok_or_else(|| ApiError::not_found("此申请", "Request"))?;
        if request.state != RequestState::Pending {
            let (zh, en) = match request.state {
                RequestState::Approved => ("已批准", "approved"),
                RequestState::Rejected => ("已驳回", "rejected"),
                _ => ("已过期", "expired"),
            };
            return Err(ApiError::conflict(
                &format!("此申请{zh}，不能再审批。"),
                &format!("This request was already {en}; it cannot be decided again."),
            ));
        }
        if request.requested_by == official.username {
            let e = healthcode_core::facts::OverrideError::SelfApproval(official.username.clone());
            return Err(core_error(
                "self_approval",
                StatusCode::FORBIDDEN,
                &e.to_string(),
            ));
        }
        let note = complete("note", &input.note, "审批意见", "reviewer's note")?;
        let now = self.now();
        let decision = RequestDecision {
            state: if input.approve {
                RequestState::Approved
            } else {
                RequestState::Rejected
            },
            by: official.username.clone(),
            at: now,
            note,
        };
        if !input.approve {
            let decided = self.store.decide_request(id, &decision, None).await?;
            self.append(AuditRecord {
                at: now,
                actor: Self::actor(official),
                action: format!("{}.rejected", request.kind.as_str()),
                subject: request_subject(&request),
                details: serde_json::json!({
                    "request": request.id,
                    "requested_by": request.requested_by,
                    "note": decision.note,
                })
                .to_string(),
            })
            .await?;
            return Ok(decided);
        }
        match request.kind {
            RequestKind::Override => self.approve_override(official, request, decision).await,
            RequestKind::Bulk => self.approve_bulk(official, request, decision).await,
        }
    }

    async fn approve_override(
        &self,
        official: &OfficialAccount,
        request: ApprovalRequest,
        decision: RequestDecision,
    ) -> Result<ApprovalRequest, ApiError> {
        let now = decision.at;
        let person = request
            .person
            .clone()
            .ok_or_else(|| ApiError::internal("override request without a person"))?;
        let body: OverrideBody = serde_json::from_str(&request.body).map_err(ApiError::internal)?;
        let until = match (body.until, body.hours) {
            (Some(until), _) => until,
            (None, Some(h)) => now + Duration::hours(h),
            (None, None) => return Err(ApiError::internal("override request without an end")),
        };
        if until <= now {
            return Err(ApiError::conflict(
                "申请的结束时间已过，请重新申请。",
                "The requested end has already passed; make a new request.",
            ));
        }
        let id = |s: &str| OfficialId::new(s).map_err(|e| ApiError::internal(e.to_string()));
        let requester = id(&request.requested_by)?;
        let over = Override::approve(
            OverrideRequest {
                colour: body.colour,
                reason: request.reason.clone(),
                legal_basis: request.legal_basis.clone(),
                requested_by: requester.clone(),
                until: Some(until),
            },
            id(&official.username)?,
        )
        .map_err(|e| {
            core_error(
                "override_refused",
                StatusCode::UNPROCESSABLE_ENTITY,
                &e.to_string(),
            )
        })?;
        let event_id =
            EventId::new(&self.new_id("ev-ovr")?).map_err(|e| ApiError::internal(e.to_string()))?;
        let event = Event::new(
            event_id,
            now,
            Source::HealthAuthority {
                official: requester,
            },
            Fact::Override(over),
        )
        .map_err(|e| {
            core_error(
                "override_refused",
                StatusCode::UNPROCESSABLE_ENTITY,
                &e.to_string(),
            )
        })?;
        // Claim the decision first: of two reviewers, only one records the event.
        let outcome = serde_json::json!({"event_id": event.id()}).to_string();
        let decided = self
            .store
            .decide_request(&request.id, &decision, Some(&outcome))
            .await?;
        self.store.append_event(&person, &event).await?;
        self.append(AuditRecord {
            at: now,
            actor: Self::actor(official),
            action: "override.approved".into(),
            subject: person.to_string(),
            details: serde_json::json!({
                "request": request.id,
                "requested_by": request.requested_by,
                "event_id": event.id(),
                "event": event,
                "note": decision.note,
            })
            .to_string(),
        })
        .await?;
        Ok(decided)
    }

    async fn approve_bulk(
        &self,
        official: &OfficialAccount,
        request: ApprovalRequest,
        decision: RequestDecision,
    ) -> Result<ApprovalRequest, ApiError> {
        let now = decision.at;
        let body: BulkBody = serde_json::from_str(&request.body).map_err(ApiError::internal)?;
        let requester = OfficialId::new(&request.requested_by)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let applying = serde_json::json!({"status": "applying"}).to_string();
        let mut decided = self
            .store
            .decide_request(&request.id, &decision, Some(&applying))
            .await?;
        let subject = format!("bulk:{}", request.id);
        let mut seen = HashSet::new();
        let mut results = Vec::with_capacity(body.identities.len());
        for (index, raw) in body.identities.iter().enumerate() {
            let number = raw.trim();
            let skip = |reason: Text| ItemResult {
                index,
                identity: mask_id(number),
                status: "skipped".into(),
                person: None,
                event_id: None,
                reason: Some(reason),
            };
            let result = if let Err(why) = check_identity(number, now.date()) {
                skip(why)
            } else if !seen.insert(number.to_ascii_uppercase()) {
                skip(Text::new(
                    "名单中重复出现，已跳过。",
                    "Listed more than once; skipped.",
                ))
            } else {
                match self.find_person(number).await? {
                    None => skip(Text::new(
                        "本地区没有此证件的申领记录。",
                        "No one with this document in this region.",
                    )),
                    Some(person) => {
                        self.apply_bulk_item(
                            official, &request, &body, &requester, &person, index, now,
                        )
                        .await?
                    }
                }
            };
            if result.status == "skipped" {
                self.append(AuditRecord {
                    at: now,
                    actor: Self::actor(official),
                    action: "bulk.item_skipped".into(),
                    subject: subject.clone(),
                    details: serde_json::json!({"request": request.id, "index": index, "reason": result.reason})
                        .to_string(),
                })
                .await?;
            }
            results.push(result);
        }
        let applied = results.iter().filter(|r| r.status == "applied").count();
        let outcome = serde_json::json!({
            "applied": applied,
            "skipped": results.len() - applied,
            "results": results,
        })
        .to_string();
        self.store
            .set_request_outcome(&request.id, &outcome)
            .await?;
        decided.outcome = Some(outcome);
        self.append(AuditRecord {
            at: now,
            actor: Self::actor(official),
            action: "bulk.approved".into(),
            subject,
            details: serde_json::json!({
                "request": request.id,
                "requested_by": request.requested_by,
                "applied": applied,
                "skipped": results.len() - applied,
                "note": decision.note,
            })
            .to_string(),
        })
        .await?;
        Ok(decided)
    }

    /// One item: one event and its audit entry, or a skip with the reason.
    #[allow(clippy::too_many_arguments)]
    async fn apply_bulk_item(
        &self,
        official: &OfficialAccount,
        request: &ApprovalRequest,
        body: &BulkBody,
        requester: &OfficialId,
        person: &PersonRecord,
        index: usize,
        now: OffsetDateTime,
    ) -> Result<ItemResult, ApiError> {
        let event_id =
            EventId::new(&self.new_id("ev-blk")?).map_err(|e| ApiError::internal(e.to_string()))?;
        let event = Event::new(
            event_id,
            now,
            Source::HealthAuthority {
                official: requester.clone(),
            },
            Fact::CloseContact {
                case_reference: body.case_reference.clone(),
            },
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
        let identity = mask_id(person.identity.number());
        if let Err(e) = self.store.append_event(&person.id, &event).await {
            tracing::warn!(error = %e, request = %request.id, index, "bulk item not applied");
            return Ok(ItemResult {
                index,
                identity,
                status: "skipped".into(),
                person: Some(person.id.to_string()),
                event_id: None,
                reason: Some(Text::new(
                    "记录失败，未应用。",
                    "Could not be recorded; not applied.",
                )),
            });
        }
        self.append(AuditRecord {
            at: now,
            actor: Self::actor(official),
            action: "bulk.item_applied".into(),
            subject: person.id.to_string(),
            details: serde_json::json!({
                "request": request.id,
                "index": index,
                "requested_by": request.requested_by,
                "approved_by": official.username,
                "legal_basis": request.legal_basis,
                "event_id": event.id(),
                "event": event,
            })
            .to_string(),
        })
        .await?;
        Ok(ItemResult {
            index,
            identity,
            status: "applied".into(),
            person: Some(person.id.to_string()),
            event_id: Some(event.id().to_string()),
            reason: None,
        })
    }

    // ----- correction requests -----

    /// A person files a correction request about an entry of their record
    /// or their colour.
    pub async fn file_correction(
        &self,
        person: &PersonRecord,
        input: &CorrectionInput,
    ) -> Result<CorrectionRequest, ApiError> {
        let text = input.text.trim();
        let n = text.chars().count();
        if n == 0 || n > MAX_CORRECTION {
            return Err(ApiError::invalid(
                "text",
                format!("请说明哪里有误（1 至 {MAX_CORRECTION} 个字）。"),
                format!("Say what is wrong (1 to {MAX_CORRECTION} characters)."),
            ));
        }
        if let CorrectionTopic::AuditEntry { seq } = input.about {
            let mine = self.store.audit_about(person.id.as_str()).await?;
            if !mine.iter().any(|e| e.seq == seq) {
                return Err(ApiError::invalid(
                    "about.seq",
                    format!("第 {seq} 条不是关于您的记录。"),
                    format!("Entry #{seq} is not an entry of your record."),
                ));
            }
        }
        let now = self.now();
        let per_day = self.settings.oversight.corrections_per_day;
        let recent = self
            .store
            .corrections_about(&person.id)
            .await?
            .iter()
            .filter(|c| now - c.filed_at < Duration::days(1))
            .count();
        if recent >= per_day as usize {
            return Err(ApiError {
                message: Text::new(
                    format!("每人每天最多提交 {per_day} 项纠错申请，请明天再试。"),
                    format!(
                        "At most {per_day} correction requests a day; please try again tomorrow."
                    ),
                ),
                ..ApiError::too_many(3600)
            });
        }
        let correction = CorrectionRequest {
            id: self.new_id("cor")?,
            person: person.id.clone(),
            topic: input.about,
            text: text.to_owned(),
            filed_at: now,
            due_at: now + Duration::hours(self.settings.oversight.correction_response_hours),
            answer: None,
        };
        self.store.create_correction(&correction).await?;
        // The person's words stay out of the chain (it is kept for ever).
        self.append(AuditRecord {
            at: now,
            actor: "self".into(),
            action: "correction.filed".into(),
            subject: person.id.to_string(),
            details: serde_json::json!({
                "correction": correction.id,
                "about": correction.topic,
                "due": fmt_time(correction.due_at),
            })
            .to_string(),
        })
        .await?;
        Ok(correction)
    }

    /// An official answers a correction request: accepted with the action
    /// taken, or rejected with the reason.
    pub async fn answer_correction(
        &self,
        official: &OfficialAccount,
        id: &str,
        input: &AnswerInput,
    ) -> Result<CorrectionRequest, ApiError> {
        role_required(
            official,
            &[Role::HealthOfficial, Role::Reviewer],
            "只有卫生健康工作人员或审核人员可以答复纠错申请。",
            "Only health officials and reviewers may answer correction requests.",
        )?;
        let correction = self
            .store
            .correction(id)
            .await?
            .ok_or_else(|| ApiError::not_found("此纠错申请", "Correction request"))?;
        if correction.answer.is_some() {
            return Err(ApiError::conflict(
                "此纠错申请已答复。",
                "This correction request has already been answered.",
            ));
        }
        let (accepted, action, reference, message) = match input.decision.as_str() {
            "reject" => {
                let message = complete(
                    "message",
                    &input.message,
                    "驳回理由",
                    "reason for rejecting",
                )?;
                (false, "rejected".to_owned(), None::<String>, message)
            }
            "accept" => {
                let message = complete("message", &input.message, "所采取的措施", "action taken")?;
                let action = input.action.as_deref().unwrap_or("").trim().to_owned();
                let reference = input
                    .reference
                    .as_deref()
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned);
                match action.as_str() {
                    "fact_recorded" => {
                        let r = reference.clone().ok_or_else(|| {
                            ApiError::invalid("reference", "请填写所登记记录的编号。", "Give the id of the event recorded.")
                        })?;
                        let events = self.store.events(&correction.person).await?;
                        if !events.iter().any(|e| e.id().as_str() == r) {
                            return Err(ApiError::invalid(
                                "reference",
                                "此人没有这条记录。",
                                "This person has no event with that id.",
                            ));
                        }
                    }
                    "override_requested" => {
                        let r = reference.clone().ok_or_else(|| {
                            ApiError::invalid("reference", "请填写人工改码申请的编号。", "Give the id of the override request.")
                        })?;
                        let about = self.store.request(&r).await?;
                        if about.is_none_or(|q| q.person.as_ref() != Some(&correction.person)) {
                            return Err(ApiError::invalid(
                                "reference",
                                "没有关于此人的这项人工改码申请。",
                                "No override request with that id about this person.",
                            ));
                        }
                    }
                    "other" => {}
                    _ => {
                        return Err(ApiError::invalid(
                            "action",
                            "采纳时须说明措施：fact_recorded、override_requested 或 other。",
                            "Accepting needs the action taken: fact_recorded, override_requested or other.",
                        ))
                    }
                }
                (true, action, reference, message)
            }
            _ => {
                return Err(ApiError::invalid(
                    "decision",
                    "答复应为 accept（采纳）或 reject（驳回）。",
                    "The decision must be accept or reject.",
                ))
            }
        };
        let now = self.now();
        let answer = CorrectionAnswer {
            accepted,
            action: action.clone(),
            reference: reference.clone(),
            message,
            by: official.username.clone(),
            at: now,
        };
        let answered = self.store.answer_correction(id, &answer).await?;
        self.append(AuditRecord {
            at: now,
            actor: Self::actor(official),
            action: "correction.answered".into(),
            subject: correction.person.to_string(),
            details: serde_json::json!({
                "correction": correction.id,
                "accepted": accepted,
                "action": action,
                "reference": reference,
                "message": answer.message,
                "late": now > correction.due_at,
            })
            .to_string(),
        })
        .await?;
        Ok(answered)
    }

    // ----- the access log -----

    /// Records an official's read of a person's data (and audits it).
    pub async fn note_access(
        &self,
        official: &OfficialAccount,
        person: &PersonId,
        what: &str,
        purpose: &str,
    ) -> Result<(), ApiError> {
        let purpose = check_purpose(purpose)?;
        let now = self.now();
        self.store
            .record_access(&AccessRecord {
                person: person.clone(),
                official: official.username.clone(),
                roles: roles_text(&official.roles),
                at: now,
                what: what.to_owned(),
                purpose: purpose.clone(),
            })
            .await?;
        self.append(AuditRecord {
            at: now,
            actor: Self::actor(official),
            action: "person.accessed".into(),
            subject: person.to_string(),
            details: serde_json::json!({"what": what, "purpose": purpose}).to_string(),
        })
        .await
    }
}

/// The stated purpose of an official read: required, short.
pub fn check_purpose(purpose: &str) -> Result<String, ApiError> {
    let p = purpose.trim();
    let n = p.chars().count();
    if !(2..=200).contains(&n) || p.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "purpose",
            "查询个人信息须说明目的（2 至 200 个字），例如流调编号。",
            "Reading a person's data needs a stated purpose (2 to 200 characters), e.g. the tracing case number.",
        ));
    }
    Ok(p.to_owned())
}
