//! From a verification result to a checkpoint verdict: what the verifier
//! established becomes a [`Scan`] for [`healthcode_core::checkpoint::judge`],
//! and the answer a scanner shows (or `POST /api/verify` returns) is a
//! [`CheckpointResult`]. `healthcode verify --policy` and the server use
//! exactly these functions.

use healthcode_core::checkpoint::{judge, Outcome, Policy, Scan, VerdictReason};
use healthcode_core::Bilingual;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cbor::Value;
use crate::dcc::DccType;
use crate::report::rfc3339;
use crate::verify::{Authentic, Content, Rejection};

/// SNOMED CT "Not detected": the DCC value set's negative test result.
pub const TEST_RESULT_NEGATIVE: &str = "260415000";
/// SNOMED CT "Detected".
pub const TEST_RESULT_POSITIVE: &str = "260373001";

/// What the verifier established about one code, for the verdict.
pub fn scan_of(result: &Result<Authentic, Rejection>) -> Scan {
    match result {
        Err(r) => Scan::Refused {
            reason: r.reason.as_str().to_owned(),
            message: Bilingual::new(r.reason.message_zh(), r.reason.message_en()),
        },
        Ok(code) => match &code.content {
            Content::HealthCode(c) => Scan::HealthCode {
                colour: c.colour,
                kind: c.kind,
                demo: code.demo,
            },
            Content::Dcc(p) if p.cert_type == Some(DccType::Test) => match test_entry(&p.hcert) {
                Some((negative, sampled_at)) => Scan::Test {
                    negative,
                    sampled_at,
                },
                None => Scan::OtherCertificate,
            },
            Content::Dcc(_) => Scan::OtherCertificate,
        },
    }
}

/// The result and sample time of a DCC's single test entry; `None` when
/// the result is neither of the two value-set codes.
fn test_entry(hcert: &Value) -> Option<(bool, Option<i64>)> {
    let tests = text_key(hcert, "t")?;
    let Value::Array(entries) = tests.untagged() else {
        return None;
    };
    let [entry] = entries.as_slice() else {
        return None;
    };
    let negative = match text_key(entry, "tr").map(Value::untagged) {
        Some(Value::Text(s)) if s == TEST_RESULT_NEGATIVE => true,
        Some(Value::Text(s)) if s == TEST_RESULT_POSITIVE => false,
        _ => return None,
    };
    let sampled_at = match text_key(entry, "sc").map(Value::untagged) {
        Some(Value::Text(s)) => OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .map(OffsetDateTime::unix_timestamp),
        _ => None,
    };
    Some((negative, sampled_at))
}

fn text_key<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    match map.untagged() {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| matches!(k, Value::Text(s) if s == key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// What a scanner shows: the verdict under a policy, and what the code
/// says (only from an authentic code).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckpointResult {
    /// `pass`, `restrict` or `deny`.
    pub verdict: Outcome,
    /// The policy applied (its id).
    pub policy: String,
    pub colour: Option<&'static str>,
    pub kind: Option<&'static str>,
    pub masked_name: Option<String>,
    pub masked_id: Option<String>,
    pub issuer: Option<String>,
    pub expires_at: Option<String>,
    /// Signed with a demonstration key: not a real health code.
    pub demo: bool,
    /// Every reason, most important first: stable codes and both languages.
    pub reasons: Vec<VerdictReason>,
}

/// Judges a verified code (and the extra codes shown with it) under
/// `policy` at `now` (Unix seconds).
pub fn checkpoint_result(
    policy: &Policy,
    primary: &Result<Authentic, Rejection>,
    extras: &[Result<Authentic, Rejection>],
    now: i64,
    skew: i64,
) -> CheckpointResult {
    let extra_scans: Vec<Scan> = extras.iter().map(scan_of).collect();
    let verdict = judge(policy, &scan_of(primary), &extra_scans, now, skew);
    // What the code says is shown only when it verified: a refused code's
    // content is never displayed as if it were true.
    let shown = primary.as_ref().ok().and_then(|a| match &a.content {
        Content::HealthCode(c) => Some((a, c)),
        Content::Dcc(_) => None,
    });
    CheckpointResult {
        verdict: verdict.verdict,
        policy: policy.id.clone(),
        colour: shown.map(|(_, c)| c.colour.as_str()),
        kind: shown.map(|(_, c)| c.kind.as_str()),
        masked_name: shown.map(|(_, c)| c.masked_name.clone()),
        masked_id: shown.map(|(_, c)| c.masked_id.clone()),
        issuer: primary.as_ref().ok().map(|a| a.issuer.clone()),
        expires_at: primary.as_ref().ok().and_then(|a| rfc3339(a.expires_at)),
        demo: primary.as_ref().is_ok_and(|a| a.demo),
        reasons: verdict.reasons,
    }
}
