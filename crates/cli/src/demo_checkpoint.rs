//! The checkpoint part of the demo: printed DEMO codes to scan or paste on
//! the checkpoint page (green, yellow, red, an itinerary card, and one that
//! the demo revokes), written to `DATA/checkpoint-samples.txt`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use healthcode_codec::claims::CODE_ID_LEN;
use healthcode_codec::{CodeIssuer, CodeRequest, IssuerKey, SigningKey};
use healthcode_core::{AuditRecord, CodeKind, Colour};
use healthcode_store::{Revocation, Store, StoreError};
use ring::rand::SystemRandom;
use time::OffsetDateTime;

use crate::args::write_file;

/// The code id of the sample the demo revokes (DEMO, fictional).
pub const REVOKED_SAMPLE_ID: [u8; CODE_ID_LEN] = [
    0xde, 0x30, 0xc0, 0xde, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
];

pub fn samples_file(dir: &Path) -> PathBuf {
    dir.join("checkpoint-samples.txt")
}

/// Issues the sample codes (valid for a day) and writes them, one per
/// line with a comment above each.
pub fn write_samples(dir: &Path, key: &IssuerKey) -> Result<()> {
    let rng = SystemRandom::new();
    let signing = SigningKey::from_pkcs8(
        key.signing_key.algorithm(),
        key.signing_key.pkcs8_der(),
        &rng,
    )?;
    let mut issuer = CodeIssuer::new(IssuerKey {
        issuer: key.issuer.clone(),
        signing_key: signing,
        valid_from: key.valid_from,
        valid_to: key.valid_to,
        demo: key.demo,
    });
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let samples: [(&str, Colour, CodeKind, &str, [u8; CODE_ID_LEN]); 5] = [
        (
            "green 绿码",
            Colour::Green,
            CodeKind::Resident,
            "张三",
            id(1),
        ),
        (
            "yellow 黄码",
            Colour::Yellow,
            CodeKind::Resident,
            "李四",
            id(2),
        ),
        ("red 红码", Colour::Red, CodeKind::Resident, "赵六", id(3)),
        (
            "green itinerary card 绿色行程卡 (paste as an additional code for the airport policy)",
            Colour::Green,
            CodeKind::ItineraryCard,
            "13800000001",
            id(4),
        ),
        (
            "green but REVOKED by the demo 已被撤销",
            Colour::Green,
            CodeKind::Resident,
            "张三",
            REVOKED_SAMPLE_ID,
        ),
    ];
    let mut text = String::from(
        "# DEMO printed codes for the checkpoint page, valid for 24 h; not real health codes.\n# 演示用印刷码（24 小时内有效），并非真实健康码。\n",
    );
    for (label, colour, kind, name, code_id) in samples {
        let request = CodeRequest {
            colour,
            full_name: name.to_owned(),
            document_id: "220102199003071235".to_owned(),
            kind,
            ttl_seconds: 86_400,
            status_as_of: now,
        };
        let code = issuer
            .issue(&request, now, code_id, &rng)
            .map_err(|e| anyhow!("issuing the checkpoint samples: {e}"))?;
        text.push_str(&format!("\n# {label}\n{}\n", code.text));
    }
    write_file(&samples_file(dir), text.as_bytes(), false)
}

fn id(n: u8) -> [u8; CODE_ID_LEN] {
    let mut id = [0u8; CODE_ID_LEN];
    id[0] = 0xde;
    id[1] = 0x30;
    id[15] = n;
    id
}

/// Revokes the revoked sample (once), as a demo official would, audited.
pub async fn seed_checkpoint<S: Store>(store: &S, now: OffsetDateTime) -> Result<()> {
    let revocation = Revocation {
        code_id: REVOKED_SAMPLE_ID,
        reason: "DEMO: printed code reported lost / 演示：印刷码挂失".into(),
        revoked_by: "demo-official".into(),
        revoked_at: now,
    };
    match store.revoke_code(&revocation).await {
        Ok(()) => {
            store
                .append_audit(AuditRecord {
                    at: now,
                    actor: "official:demo-official".into(),
                    action: "code.revoked".into(),
                    subject: format!("code:{}", hex::encode(REVOKED_SAMPLE_ID)),
                    details: serde_json::json!({ "reason": revocation.reason }).to_string(),
                })
                .await?;
            Ok(())
        }
        Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
