//! Checkpoint policies as data, and the one verdict function every scanner
//! uses (`healthcode verify --policy`, `POST /api/verify`, and the
//! checkpoint page's JavaScript, which mirrors it and is held to the same
//! vectors).
//!
//! A policy says which colours pass, which are let through with a
//! restriction (a separate channel, a fever clinic, a temperature re-check)
//! and which are denied, and what else must be shown: a negative test not
//! older than N hours (a verified EU DCC test certificate) and/or a green
//! itinerary card (one of our codes of kind `itinerary_card`).
//!
//! The verdict works on what the verifier established ([`Scan`]); it never
//! sees an unauthenticated claim. Time is a parameter.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::bilingual::Bilingual;
use crate::colour::{CodeKind, Colour};

/// What the guard does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Restrict,
    Deny,
}

impl Outcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Restrict => "restrict",
            Outcome::Deny => "deny",
        }
    }

    pub const fn label_zh(self) -> &'static str {
        match self {
            Outcome::Pass => "通行",
            Outcome::Restrict => "限制通行",
            Outcome::Deny => "禁止通行",
        }
    }

    pub const fn label_en(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Restrict => "RESTRICT",
            Outcome::Deny => "DENY",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a requirement that is not met leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmet {
    Restrict,
    Deny,
}

impl Unmet {
    const fn outcome(self) -> Outcome {
        match self {
            Unmet::Restrict => Outcome::Restrict,
            Unmet::Deny => Outcome::Deny,
        }
    }
}

fn default_unmet() -> Unmet {
    Unmet::Deny
}

/// What must be shown besides the health code.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// A negative test (verified EU DCC test certificate) sampled no more
    /// than this many hours ago.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_test_within_hours: Option<u32>,
    /// A verified itinerary card (行程卡) code whose colour is green.
    #[serde(default)]
    pub green_itinerary_card: bool,
}

/// A checkpoint policy, as shipped in `crates/core/policies/` or written by
/// an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Short name: lowercase letters, digits and dashes.
    pub id: String,
    pub name: Bilingual,
    pub version: u32,
    /// Colours that pass. Every colour appears in exactly one of the three.
    pub pass: Vec<Colour>,
    pub restrict: Vec<Colour>,
    pub deny: Vec<Colour>,
    /// What a restriction means here, shown to the guard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction: Option<Bilingual>,
    #[serde(default)]
    pub requires: Requirements,
    /// What an unmet requirement leads to (default deny).
    #[serde(default = "default_unmet")]
    pub unmet: Unmet,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    #[error("policy is not valid JSON for a checkpoint policy: {0}")]
    Json(String),
    #[error("policy field {field}: {why}")]
    Invalid { field: &'static str, why: String },
}

/// Longest accepted test age: 30 days.
pub const MAX_TEST_HOURS: u32 = 720;

impl Policy {
    pub fn from_json_str(text: &str) -> Result<Policy, PolicyError> {
        let policy: Policy =
            serde_json::from_str(text).map_err(|e| PolicyError::Json(e.to_string()))?;
        policy.validate()?;
        Ok(policy)
    }

    /// Checks the id, both languages, and that every colour is placed once.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let invalid = |field, why: String| Err(PolicyError::Invalid { field, why });
        if self.id.is_empty()
            || self.id.len() > 40
            || !self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return invalid(
                "id",
                format!(
                    "{:?} must be 1 to 40 lowercase letters, digits or dashes",
                    self.id
                ),
            );
        }
        if !self.name.is_complete() {
            return invalid("name", "needs both zh and en".into());
        }
        if let Some(r) = &self.restriction {
            if !r.is_complete() {
                return invalid("restriction", "needs both zh and en".into());
            }
        }
        let mut seen = BTreeSet::new();
        for (field, list) in [
            ("pass", &self.pass),
            ("restrict", &self.restrict),
            ("deny", &self.deny),
        ] {
            for c in list {
                if !seen.insert(*c) {
                    return invalid(
                        field,
                        format!(
                            "colour {c} is placed more than once across pass, restrict and deny"
                        ),
                    );
                }
            }
        }
        let missing: Vec<&str> = Colour::ALL
            .iter()
            .filter(|c| !seen.contains(c))
            .map(|c| c.as_str())
            .collect();
        if !missing.is_empty() {
            return invalid(
                "deny",
                format!(
                    "colour(s) {} are in none of pass, restrict and deny",
                    missing.join(", ")
                ),
            );
        }
        if let Some(h) = self.requires.negative_test_within_hours {
            if h == 0 || h > MAX_TEST_HOURS {
                return invalid(
                    "requires.negative_test_within_hours",
                    format!("{h} is not between 1 and {MAX_TEST_HOURS}"),
                );
            }
        }
        Ok(())
    }

    /// Where a colour is placed.
    pub fn colour_outcome(&self, colour: Colour) -> Outcome {
        if self.pass.contains(&colour) {
            Outcome::Pass
        } else if self.restrict.contains(&colour) {
            Outcome::Restrict
        } else {
            Outcome::Deny
        }
    }
}

/// The policies shipped with the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShippedPolicy {
    /// Green passes; yellow is let through after a temperature check.
    Metro,
    /// Everyone gets care: non-green codes and missing tests go to the
    /// fever clinic; a recent negative test is required for the wards.
    Hospital,
    /// Green only, with a negative test within 48 h and a green itinerary card.
    Airport,
}

impl ShippedPolicy {
    pub const ALL: [ShippedPolicy; 3] = [
        ShippedPolicy::Metro,
        ShippedPolicy::Hospital,
        ShippedPolicy::Airport,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            ShippedPolicy::Metro => "metro",
            ShippedPolicy::Hospital => "hospital",
            ShippedPolicy::Airport => "airport",
        }
    }

    pub fn from_name(name: &str) -> Option<ShippedPolicy> {
        ShippedPolicy::ALL.into_iter().find(|p| p.name() == name)
    }

    pub const fn json(self) -> &'static str {
        match self {
            ShippedPolicy::Metro => include_str!("../policies/metro.json"),
            ShippedPolicy::Hospital => include_str!("../policies/hospital.json"),
            ShippedPolicy::Airport => include_str!("../policies/airport.json"),
        }
    }

    pub fn load(self) -> Result<Policy, PolicyError> {
        Policy::from_json_str(self.json())
    }
}

/// What the verifier established about one scanned code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// Verification failed: the verifier's stable reason code and message.
    Refused { reason: String, message: Bilingual },
    /// One of our codes, authentic and current.
    HealthCode {
        colour: Colour,
        kind: CodeKind,
        demo: bool,
    },
    /// An authentic EU DCC test certificate. `sampled_at` in Unix seconds.
    Test {
        negative: bool,
        sampled_at: Option<i64>,
    },
    /// An authentic EU DCC of another type (vaccination, recovery).
    OtherCertificate,
}

/// One reason behind a verdict: a stable code and what to tell people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictReason {
    pub code: String,
    pub zh: String,
    pub en: String,
}

impl VerdictReason {
    fn new(code: &str, zh: impl Into<String>, en: impl Into<String>) -> VerdictReason {
        VerdictReason {
            code: code.to_owned(),
            zh: zh.into(),
            en: en.into(),
        }
    }
}

/// The outcome and every reason for it, most important first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub verdict: Outcome,
    pub reasons: Vec<VerdictReason>,
}

/// Seconds in an hour.
const HOUR: i64 = 3600;

/// Judges a scanned code, with the extra codes shown beside it, under
/// `policy` at `now` (Unix seconds). `skew` is the tolerated clock
/// difference in seconds (a test sampled slightly "in the future").
pub fn judge(policy: &Policy, primary: &Scan, extras: &[Scan], now: i64, skew: i64) -> Verdict {
    let mut reasons = Vec::new();
    let (colour, kind) = match primary {
        Scan::Refused { reason, message } => {
            reasons.push(VerdictReason::new(
                reason,
                message.zh.clone(),
                message.en.clone(),
            ));
            return Verdict {
                verdict: Outcome::Deny,
                reasons,
            };
        }
        Scan::HealthCode { colour, kind, .. } => (*colour, *kind),
        Scan::Test { .. } | Scan::OtherCertificate => {
            reasons.push(VerdictReason::new(
                "not_a_health_code",
                "这是核酸检测或疫苗证书，不是健康码：请出示健康码。",
                "This is a test or vaccination certificate, not a health code: ask for the health code.",
            ));
            return Verdict {
                verdict: Outcome::Deny,
                reasons,
            };
        }
    };
    if kind == CodeKind::ItineraryCard {
        reasons.push(VerdictReason::new(
            "not_a_health_code",
            "这是行程卡，不是健康码：请出示健康码。",
            "This is an itinerary card, not a health code: ask for the health code.",
        ));
        return Verdict {
            verdict: Outcome::Deny,
            reasons,
        };
    }
    let mut outcome = policy.colour_outcome(colour);
    match outcome {
        Outcome::Pass => reasons.push(VerdictReason::new(
            "colour_pass",
            format!("{}：通行。", colour.label_zh()),
            format!("{}: may pass.", colour.label_en()),
        )),
        Outcome::Restrict => {
            let (zh, en) = match &policy.restriction {
                Some(r) => (r.zh.clone(), r.en.clone()),
                None => (
                    "按限制措施通行。".to_owned(),
                    "Restricted entry.".to_owned(),
                ),
            };
            reasons.push(VerdictReason::new(
                "colour_restrict",
                format!("{}：{zh}", colour.label_zh()),
                format!("{}: {en}", colour.label_en()),
            ));
        }
        Outcome::Deny => reasons.push(VerdictReason::new(
            "colour_deny",
            format!("{}：不得通行。", colour.label_zh()),
            format!("{}: may not pass.", colour.label_en()),
        )),
    }

    // Extra codes that failed verification are named, so the guard knows
    // why a certificate shown did not count.
    for extra in extras {
        if let Scan::Refused { reason, message } = extra {
            reasons.push(VerdictReason::new(
                reason,
                format!("附加的码未通过核验：{}", message.zh),
                format!("An additional code failed verification: {}", message.en),
            ));
        }
    }

    let unmet = policy.unmet.outcome();
    if let Some(hours) = policy.requires.negative_test_within_hours {
        let oldest = now - i64::from(hours) * HOUR;
        let negative_in_window = extras.iter().any(|e| {
            matches!(e, Scan::Test { negative: true, sampled_at: Some(at) }
                if *at >= oldest && *at <= now + skew)
        });
        if !negative_in_window {
            let positive = extras.iter().any(|e| {
                matches!(
                    e,
                    Scan::Test {
                        negative: false,
                        ..
                    }
                )
            });
            let (code, zh, en, out) = if positive {
                (
                    "positive_test",
                    "附加的检测结果为阳性。".to_owned(),
                    "The test shown is positive.".to_owned(),
                    Outcome::Deny,
                )
            } else if extras
                .iter()
                .any(|e| matches!(e, Scan::Test { negative: true, .. }))
            {
                (
                    "test_too_old",
                    format!("阴性检测结果超过 {hours} 小时或采样时间不明。"),
                    format!("The negative test was sampled more than {hours} h ago, or when is unknown."),
                    unmet,
                )
            } else {
                (
                    "negative_test_required",
                    format!("须出示 {hours} 小时内的阴性检测证明。"),
                    format!("A negative test from the last {hours} h is required."),
                    unmet,
                )
            };
            reasons.push(VerdictReason::new(code, zh, en));
            outcome = outcome.max(out);
        }
    }
    if policy.requires.green_itinerary_card {
        let cards: Vec<Colour> = extras
            .iter()
            .filter_map(|e| match e {
                Scan::HealthCode {
                    colour,
                    kind: CodeKind::ItineraryCard,
                    ..
                } => Some(*colour),
                _ => None,
            })
            .collect();
        if !cards.contains(&Colour::Green) {
            let (code, zh, en) = match cards.first() {
                Some(c) => (
                    "itinerary_card_not_green",
                    format!("行程卡为{}，须为绿色。", c.label_zh()),
                    format!("The itinerary card is {}; it must be green.", c.as_str()),
                ),
                None => (
                    "itinerary_card_required",
                    "须出示绿色行程卡。".to_owned(),
                    "A green itinerary card is required.".to_owned(),
                ),
            };
            reasons.push(VerdictReason::new(code, zh, en));
            outcome = outcome.max(unmet);
        }
    }
    // Most important first: what decided the outcome leads.
    if outcome != Outcome::Pass {
        reasons.sort_by_key(|r| r.code == "colour_pass");
    }
    Verdict {
        verdict: outcome,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn code(colour: Colour) -> Scan {
        Scan::HealthCode {
            colour,
            kind: CodeKind::Resident,
            demo: false,
        }
    }

    fn card(colour: Colour) -> Scan {
        Scan::HealthCode {
            colour,
            kind: CodeKind::ItineraryCard,
            demo: false,
        }
    }

    fn test(negative: bool, hours_ago: i64) -> Scan {
        Scan::Test {
            negative,
            sampled_at: Some(NOW - hours_ago * HOUR),
        }
    }

    fn codes(v: &Verdict) -> Vec<&str> {
        v.reasons.iter().map(|r| r.code.as_str()).collect()
    }

    #[test]
    fn shipped_policies_load() {
        for p in ShippedPolicy::ALL {
            let policy = p.load().unwrap();
            assert_eq!(policy.id, p.name());
        }
        assert_eq!(
            ShippedPolicy::from_name("airport"),
            Some(ShippedPolicy::Airport)
        );
        assert_eq!(ShippedPolicy::from_name("zoo"), None);
    }

    #[test]
    fn metro_by_colour() {
        let metro = ShippedPolicy::Metro.load().unwrap();
        let j = |c| judge(&metro, &code(c), &[], NOW, 0).verdict;
        assert_eq!(j(Colour::Green), Outcome::Pass);
        assert_eq!(j(Colour::Yellow), Outcome::Restrict);
        assert_eq!(j(Colour::Orange), Outcome::Deny);
        assert_eq!(j(Colour::Red), Outcome::Deny);
        assert_eq!(j(Colour::Pending), Outcome::Deny);
    }

    #[test]
    fn refused_codes_are_denied_with_the_verifier_reason() {
        let metro = ShippedPolicy::Metro.load().unwrap();
        let v = judge(
            &metro,
            &Scan::Refused {
                reason: "bad_signature".into(),
                message: Bilingual::new("伪造", "forged"),
            },
            &[],
            NOW,
            0,
        );
        assert_eq!(v.verdict, Outcome::Deny);
        assert_eq!(codes(&v), ["bad_signature"]);
        assert_eq!(v.reasons[0].en, "forged");
        // An itinerary card or a certificate is not a health code.
        let v = judge(&metro, &card(Colour::Green), &[], NOW, 0);
        assert_eq!(
            (v.verdict, codes(&v)),
            (Outcome::Deny, vec!["not_a_health_code"])
        );
        let v = judge(&metro, &test(true, 1), &[], NOW, 0);
        assert_eq!(v.verdict, Outcome::Deny);
    }

    #[test]
    fn airport_needs_a_recent_negative_test_and_a_green_card() {
        let airport = ShippedPolicy::Airport.load().unwrap();
        let green = code(Colour::Green);
        let v = judge(&airport, &green, &[], NOW, 0);
        assert_eq!(v.verdict, Outcome::Deny);
        assert_eq!(
            codes(&v),
            [
                "negative_test_required",
                "itinerary_card_required",
                "colour_pass"
            ]
        );
        let ok = judge(
            &airport,
            &green,
            &[test(true, 47), card(Colour::Green)],
            NOW,
            0,
        );
        assert_eq!(
            (ok.verdict, codes(&ok)),
            (Outcome::Pass, vec!["colour_pass"])
        );
        let old = judge(
            &airport,
            &green,
            &[test(true, 49), card(Colour::Green)],
            NOW,
            0,
        );
        assert_eq!(codes(&old)[0], "test_too_old");
        let pos = judge(
            &airport,
            &green,
            &[test(false, 2), card(Colour::Green)],
            NOW,
            0,
        );
        assert_eq!(codes(&pos)[0], "positive_test");
        let yellow_card = judge(
            &airport,
            &green,
            &[test(true, 2), card(Colour::Yellow)],
            NOW,
            0,
        );
        assert_eq!(
            (yellow_card.verdict, codes(&yellow_card)[0]),
            (Outcome::Deny, "itinerary_card_not_green")
        );
        // A test sampled in the future beyond the skew does not count.
        let future = judge(
            &airport,
            &green,
            &[test(true, -1), card(Colour::Green)],
            NOW,
            60,
        );
        assert_eq!(future.verdict, Outcome::Deny);
        let within_skew = judge(
            &airport,
            &green,
            &[
                Scan::Test {
                    negative: true,
                    sampled_at: Some(NOW + 30),
                },
                card(Colour::Green),
            ],
            NOW,
            60,
        );
        assert_eq!(within_skew.verdict, Outcome::Pass);
        // A failed extra is named.
        let refused = judge(
            &airport,
            &green,
            &[
                Scan::Refused {
                    reason: "expired".into(),
                    message: Bilingual::new("过期", "expired"),
                },
                card(Colour::Green),
            ],
            NOW,
            0,
        );
        assert!(codes(&refused).contains(&"expired"), "{refused:?}");
    }

    #[test]
    fn hospital_restricts_rather_than_denies() {
        let hospital = ShippedPolicy::Hospital.load().unwrap();
        let v = judge(&hospital, &code(Colour::Green), &[], NOW, 0);
        assert_eq!(v.verdict, Outcome::Restrict);
        assert_eq!(codes(&v), ["negative_test_required", "colour_pass"]);
        let v = judge(&hospital, &code(Colour::Red), &[test(true, 1)], NOW, 0);
        assert_eq!(v.verdict, Outcome::Restrict);
        let v = judge(&hospital, &code(Colour::Green), &[test(true, 1)], NOW, 0);
        assert_eq!(v.verdict, Outcome::Pass);
    }

    #[test]
    fn invalid_policies_say_what_is_wrong() {
        let base = ShippedPolicy::Metro.json();
        let mut v: serde_json::Value = serde_json::from_str(base).unwrap();
        v["deny"] = serde_json::json!(["red"]);
        let e = Policy::from_json_str(&v.to_string()).unwrap_err();
        assert!(e.to_string().contains("orange"), "{e}");
        v["deny"] = serde_json::json!(["red", "orange", "pending", "green"]);
        let e = Policy::from_json_str(&v.to_string()).unwrap_err();
        assert!(e.to_string().contains("more than once"), "{e}");
        let mut v: serde_json::Value = serde_json::from_str(base).unwrap();
        v["id"] = serde_json::json!("Metro Line 1");
        assert!(Policy::from_json_str(&v.to_string())
            .unwrap_err()
            .to_string()
            .contains("id"));
        let mut v: serde_json::Value = serde_json::from_str(base).unwrap();
        v["requires"] = serde_json::json!({"negative_test_within_hours": 0});
        assert!(Policy::from_json_str(&v.to_string()).is_err());
        let mut v: serde_json::Value = serde_json::from_str(base).unwrap();
        v["colours"] = serde_json::json!(1);
        let e = Policy::from_json_str(&v.to_string()).unwrap_err();
        assert!(e.to_string().contains("colours"), "{e}");
        assert!(Policy::from_json_str("{").is_err());
        let mut v: serde_json::Value = serde_json::from_str(base).unwrap();
        v["pass"] = serde_json::json!(["purple"]);
        assert!(Policy::from_json_str(&v.to_string()).is_err());
    }
}
