//! A verification result as one JSON object: what `healthcode verify
//! --json` prints and what a checkpoint API returns.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value as Json};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::verify::{Authentic, Content, Rejection};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Message {
    pub en: String,
    pub zh: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VerificationReport {
    /// `valid` or `invalid`.
    pub verdict: &'static str,
    /// `ok`, or the stable reason code of the refusal.
    pub reason: &'static str,
    pub message: Message,
    /// Technical detail for operators (English).
    pub detail: String,
    /// `healthcode`, `hc1`, or null when the format was not recognised.
    pub format: Option<&'static str>,
    pub issuer: Option<String>,
    pub kid: Option<String>,
    pub alg: Option<&'static str>,
    pub colour: Option<&'static str>,
    pub kind: Option<&'static str>,
    pub demo: bool,
    pub issued_at: Option<String>,
    pub expires_at: Option<String>,
    /// The signed content. Present only when the signature verified.
    pub claims: Option<Json>,
}

pub fn rfc3339(unix: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
}

impl VerificationReport {
    pub fn from_result(result: &Result<Authentic, Rejection>) -> VerificationReport {
        match result {
            Ok(code) => Self::build(code, "valid", "ok", valid_message(), String::new()),
            Err(rejection) => {
                let message = Message {
                    en: rejection.reason.message_en().to_owned(),
                    zh: rejection.reason.message_zh().to_owned(),
                };
                match &rejection.authentic {
                    Some(code) => Self::build(
                        code,
                        "invalid",
                        rejection.reason.as_str(),
                        message,
                        rejection.detail.clone(),
                    ),
                    None => VerificationReport {
                        verdict: "invalid",
                        reason: rejection.reason.as_str(),
                        message,
                        detail: rejection.detail.clone(),
                        format: rejection.format.map(|f| f.as_str()),
                        issuer: None,
                        kid: None,
                        alg: None,
                        colour: None,
                        kind: None,
                        demo: false,
                        issued_at: None,
                        expires_at: None,
                        claims: None,
                    },
                }
            }
        }
    }

    fn build(
        code: &Authentic,
        verdict: &'static str,
        reason: &'static str,
        message: Message,
        detail: String,
    ) -> VerificationReport {
        let (colour, kind, claims) = match &code.content {
            Content::HealthCode(c) => (
                Some(c.colour.as_str()),
                Some(c.kind.as_str()),
                json!({
                    "iss": c.issuer,
                    "iat": rfc3339(c.issued_at),
                    "exp": rfc3339(c.expires_at),
                    "code_id": c.code_id_hex(),
                    "colour": c.colour.as_str(),
                    "name": c.masked_name,
                    "id": c.masked_id,
                    "kind": c.kind.as_str(),
                    "status_as_of": rfc3339(c.status_as_of),
                    "demo": c.demo,
                }),
            ),
            Content::Dcc(p) => (
                None,
                None,
                json!({
                    "iss": p.issuer_country,
                    "iat": rfc3339(p.issued_at),
                    "exp": rfc3339(p.expires_at),
                    "type": p.cert_type.map(|t| t.as_str()),
                    "hcert": p.hcert_json(),
                }),
            ),
        };
        VerificationReport {
            verdict,
            reason,
            message,
            detail,
            format: Some(code.format.as_str()),
            issuer: Some(code.issuer.clone()),
            kid: Some(B64.encode(&code.kid)),
            alg: Some(code.alg.name()),
            colour,
            kind,
            demo: code.demo,
            issued_at: rfc3339(code.issued_at),
            expires_at: rfc3339(code.expires_at),
            claims: Some(claims),
        }
    }

    pub fn is_valid(&self) -> bool {
        self.verdict == "valid"
    }
}

fn valid_message() -> Message {
    Message {
        en: "Valid code: signature, issuer and validity check out.".into(),
        zh: "有效码：签名、签发机构和有效期均通过校验。".into(),
    }
}
