//! Demo data for oversight: a pending override request (for the demo
//! reviewer to approve or reject) and an open correction request, both
//! marked DEMO, each with its audit entry as the real flows write them.

use anyhow::Result;
use healthcode_core::{AuditRecord, Bilingual};
use healthcode_server::Settings;
use healthcode_store::oversight::{
    ApprovalRequest, CorrectionRequest, CorrectionTopic, RequestKind, RequestState,
};
use healthcode_store::Store;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// Adds the demo override request and correction request unless present.
pub async fn seed_oversight<S: Store>(store: &S, settings: &Settings) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    // 张三 (green): a pending request to turn the code yellow.
    if let Some(person) = store
        .person_by_identity(&settings.region_id, "220102199003071235")
        .await?
    {
        if store.requests_about(&person.id).await?.is_empty() {
            let request = ApprovalRequest {
                id: "ovr-demo0000000001".into(),
                kind: RequestKind::Override,
                person: Some(person.id.clone()),
                requested_by: "demo-official".into(),
                requested_at: now,
                expires_at: now + Duration::hours(settings.oversight.approval_deadline_hours),
                reason: Bilingual::new(
                    "【DEMO 演示】现场复测体温 37.6 ℃，待复核",
                    "[DEMO] Re-measured 37.6 ℃ on site, pending review",
                ),
                legal_basis: Bilingual::new(
                    "【DEMO 演示】《中华人民共和国传染病防治法》第三十九条",
                    "[DEMO] Law on the Prevention and Treatment of Infectious Diseases, art. 39",
                ),
                body: r#"{"colour":"yellow","hours":24}"#.into(),
                state: RequestState::Pending,
                decision: None,
                outcome: None,
            };
            store.create_request(&request).await?;
            store
                .append_audit(AuditRecord {
                    at: now,
                    actor: "official:demo-official".into(),
                    action: "override.requested".into(),
                    subject: person.id.to_string(),
                    details: serde_json::json!({
                        "request": request.id,
                        "colour": "yellow",
                        "hours": 24,
                        "reason": request.reason,
                        "legal_basis": request.legal_basis,
                        "deadline": request.expires_at.format(&Rfc3339)?,
                    })
                    .to_string(),
                })
                .await?;
        }
    }
    // 李四 (yellow): disputes the colour.
    if let Some(person) = store
        .person_by_identity(&settings.region_id, "220104198506120025")
        .await?
    {
        if store.corrections_about(&person.id).await?.is_empty() {
            let correction = CorrectionRequest {
                id: "cor-demo0000000001".into(),
                person: person.id.clone(),
                topic: CorrectionTopic::Colour,
                text: "【DEMO 演示】我在家复测体温正常，为何仍是黄码？ / [DEMO] My temperature is normal again at home; why is my code still yellow?".into(),
                filed_at: now,
                due_at: now + Duration::hours(settings.oversight.correction_response_hours),
                answer: None,
            };
            store.create_correction(&correction).await?;
            store
                .append_audit(AuditRecord {
                    at: now,
                    actor: "self".into(),
                    action: "correction.filed".into(),
                    subject: person.id.to_string(),
                    details: serde_json::json!({
                        "correction": correction.id,
                        "about": correction.topic,
                        "due": correction.due_at.format(&Rfc3339)?,
                    })
                    .to_string(),
                })
                .await?;
        }
    }
    Ok(())
}
