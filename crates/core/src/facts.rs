//! Facts about a person's health and the events that record them: what
//! happened, when, and who says so (the source).
//!
//! Events are immutable records. A colour is never stored: it is evaluated
//! from the events as of an instant (see [`crate::status`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::bilingual::Bilingual;
use crate::colour::Colour;

/// Why an event, identifier or override was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactError {
    #[error("identifier {0:?} must be 1 to 64 letters, digits or . _ : - / 标识符 {0:?} 应为 1 至 64 位字母、数字或 . _ : -")]
    Identifier(String),
    #[error("a body temperature must be between 30.0 and 45.0 ℃, got {0} / 体温应在 30.0 至 45.0 ℃ 之间，实际为 {0}")]
    Temperature(String),
    #[error("a {fact} cannot come from {from}: expected {expected} / {fact}不能来自{from}，应来自{expected}")]
    WrongSource {
        fact: &'static str,
        from: &'static str,
        expected: &'static str,
    },
    #[error("a {0} needs a non-empty {1} / {0}需要填写{1}")]
    Missing(&'static str, &'static str),
    #[error(transparent)]
    Override(#[from] OverrideError),
}

/// Why an override cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    #[error("an override must be approved by a second official, not by its requester {0} / 人工改码须由申请人 {0} 以外的另一名工作人员审批")]
    SelfApproval(String),
    #[error("an override needs a reason in both Chinese and English / 人工改码须以中英文说明理由")]
    MissingReason,
    #[error("an override needs its epidemic-control legal basis in both Chinese and English / 人工改码须以中英文注明防疫法律依据")]
    MissingLegalBasis,
    #[error("an override must set a colour (green, yellow, orange or red), not pending / 人工改码须指定绿、黄、橙、红之一，不能为待定")]
    PendingColour,
    #[error("an override must end after it starts / 人工改码的结束时间须晚于开始时间")]
    EndsBeforeStart,
    #[error("the override event must be recorded by its requester {requester}, not {recorder} / 人工改码事件须由申请人 {requester} 记录，而非 {recorder}")]
    RecordedByOther { requester: String, recorder: String },
}

fn is_identifier(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(id: &str) -> Result<$name, FactError> {
                if is_identifier(id) {
                    Ok($name(id.to_owned()))
                } else {
                    Err(FactError::Identifier(id.to_owned()))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = FactError;
            fn try_from(s: String) -> Result<Self, FactError> {
                $name::new(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

identifier!(
    /// The stable identifier of an event, cited as evidence.
    EventId
);
identifier!(
    /// A health official's staff identifier.
    OfficialId
);

/// Who reports a fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// The person, through an application channel.
    SelfDeclared,
    /// A checkpoint (metro, airport, mall, hospital entrance).
    Checkpoint {
        site: String,
    },
    Laboratory {
        lab: String,
    },
    /// A hospital or clinic.
    Clinic {
        facility: String,
    },
    /// A health official acting for the authority.
    HealthAuthority {
        official: OfficialId,
    },
    /// A mobile carrier's signalling records (itinerary).
    Carrier {
        carrier: String,
    },
}

impl Source {
    fn name(&self) -> &'static str {
        match self {
            Source::SelfDeclared => "self-declaration / 本人申报",
            Source::Checkpoint { .. } => "a checkpoint / 查验点",
            Source::Laboratory { .. } => "a laboratory / 检测机构",
            Source::Clinic { .. } => "a clinic / 医疗机构",
            Source::HealthAuthority { .. } => "the health authority / 卫生健康部门",
            Source::Carrier { .. } => "a carrier / 运营商",
        }
    }

    fn detail_is_blank(&self) -> bool {
        match self {
            Source::Checkpoint { site: s }
            | Source::Laboratory { lab: s }
            | Source::Clinic { facility: s }
            | Source::Carrier { carrier: s } => s.trim().is_empty(),
            Source::SelfDeclared | Source::HealthAuthority { .. } => false,
        }
    }
}

/// A body temperature in tenths of a degree Celsius (37.3 ℃ is 373), so
/// thresholds compare exactly and CertLogic (integers only) can read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Temperature {
    tenths: u16,
}

impl Temperature {
    pub fn from_tenths(tenths: u16) -> Result<Temperature, FactError> {
        if (300..=450).contains(&tenths) {
            Ok(Temperature { tenths })
        } else {
            Err(FactError::Temperature(format!(
                "{}.{}",
                tenths / 10,
                tenths % 10
            )))
        }
    }

    /// From degrees Celsius, rounded to the nearest tenth.
    pub fn from_celsius(celsius: f64) -> Result<Temperature, FactError> {
        let tenths = (celsius * 10.0).round();
        if tenths.is_finite() && (300.0..=450.0).contains(&tenths) {
            Ok(Temperature {
                tenths: tenths as u16,
            })
        } else {
            Err(FactError::Temperature(celsius.to_string()))
        }
    }

    pub fn tenths(self) -> u16 {
        self.tenths
    }

    pub fn celsius(self) -> f64 {
        f64::from(self.tenths) / 10.0
    }
}

impl TryFrom<f64> for Temperature {
    type Error = FactError;
    fn try_from(c: f64) -> Result<Self, FactError> {
        Temperature::from_celsius(c)
    }
}

impl From<Temperature> for f64 {
    fn from(t: Temperature) -> f64 {
        t.celsius()
    }
}

impl fmt::Display for Temperature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{} ℃", self.tenths / 10, self.tenths % 10)
    }
}

macro_rules! snake_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// The name used in JSON and in the CertLogic data view.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
    };
}

snake_enum!(
    /// 核酸 (PCR) or 抗原 (rapid antigen).
    TestKind { Pcr => "pcr", Antigen => "antigen" }
);
snake_enum!(TestOutcome { Negative => "negative", Positive => "positive" });
snake_enum!(
    /// 确诊 / 疑似 / 排除 / 治愈.
    DiagnosisStatus { Confirmed => "confirmed", Suspected => "suspected", Excluded => "excluded", Recovered => "recovered" }
);
snake_enum!(
    /// Home quarantine or a centralised quarantine site.
    QuarantinePlace { Home => "home", Centralised => "centralised" }
);
snake_enum!(
    /// The risk level of an area the person stayed in.
    RiskLevel { Low => "low", Medium => "medium", High => "high" }
);

/// What an official asks for, before a second official approves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideRequest {
    pub colour: Colour,
    pub reason: Bilingual,
    /// The epidemic-control law and article the override rests on.
    pub legal_basis: Bilingual,
    pub requested_by: OfficialId,
    /// When the override lapses; `None` until revoked by a later override.
    pub until: Option<OffsetDateTime>,
}

/// A manual colour decision by officials. It can only be built with a
/// reason, a legal basis and the approval of a second official: there is no
/// other constructor, and deserialising runs the same checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "OverrideFields")]
pub struct Override {
    colour: Colour,
    reason: Bilingual,
    legal_basis: Bilingual,
    requested_by: OfficialId,
    approved_by: OfficialId,
    #[serde(with = "time::serde::rfc3339::option")]
    until: Option<OffsetDateTime>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideFields {
    colour: Colour,
    reason: Bilingual,
    legal_basis: Bilingual,
    requested_by: OfficialId,
    approved_by: OfficialId,
    #[serde(default, with = "time::serde::rfc3339::option")]
    until: Option<OffsetDateTime>,
}

impl TryFrom<OverrideFields> for Override {
    type Error = OverrideError;
    fn try_from(f: OverrideFields) -> Result<Self, OverrideError> {
        let request = OverrideRequest {
            colour: f.colour,
            reason: f.reason,
            legal_basis: f.legal_basis,
            requested_by: f.requested_by,
            until: f.until,
        };
        Override::approve(request, f.approved_by)
    }
}

impl Override {
    /// The only way to make an override: a complete request, approved by a
    /// different official.
    pub fn approve(
        request: OverrideRequest,
        approver: OfficialId,
    ) -> Result<Override, OverrideError> {
        if approver == request.requested_by {
            return Err(OverrideError::SelfApproval(approver.0));
        }
        if !request.reason.is_complete() {
            return Err(OverrideError::MissingReason);
        }
        if !request.legal_basis.is_complete() {
            return Err(OverrideError::MissingLegalBasis);
        }
        if request.colour == Colour::Pending {
            return Err(OverrideError::PendingColour);
        }
        Ok(Override {
            colour: request.colour,
            reason: request.reason,
            legal_basis: request.legal_basis,
            requested_by: request.requested_by,
            approved_by: approver,
            until: request.until,
        })
    }

    pub fn colour(&self) -> Colour {
        self.colour
    }

    pub fn reason(&self) -> &Bilingual {
        &self.reason
    }

    pub fn legal_basis(&self) -> &Bilingual {
        &self.legal_basis
    }

    pub fn requested_by(&self) -> &OfficialId {
        &self.requested_by
    }

    pub fn approved_by(&self) -> &OfficialId {
        &self.approved_by
    }

    pub fn until(&self) -> Option<OffsetDateTime> {
        self.until
    }
}

/// A fact about a person's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fact {
    /// The person's own health declaration. Travel and contacts are kept as
    /// declared, for officials to review; rules read fever and symptoms.
    SelfDeclaration {
        fever: bool,
        symptoms: bool,
        /// A temperature the person measured themselves, if given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        temperature: Option<Temperature>,
        /// Places visited in the last 14 days, as declared.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        travel: Vec<String>,
        /// Declared contact with a confirmed or suspected case.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        contact_with_case: bool,
    },
    /// A body temperature measured on site.
    Temperature {
        reading: Temperature,
    },
    /// A test result; the event time is the sampling time.
    TestResult {
        test: TestKind,
        outcome: TestOutcome,
    },
    Diagnosis {
        status: DiagnosisStatus,
    },
    /// Designated a close contact of a confirmed or suspected case.
    CloseContact {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        case_reference: Option<String>,
    },
    QuarantineStarted {
        place: QuarantinePlace,
    },
    /// Quarantine over; `symptoms` records whether any were present at its end.
    QuarantineEnded {
        symptoms: bool,
    },
    /// A stay in an area of the given risk level (from carrier records or tracing).
    ItineraryRisk {
        level: RiskLevel,
        area: String,
    },
    Override(Override),
}

impl Fact {
    pub const fn name(&self) -> &'static str {
        match self {
            Fact::SelfDeclaration { .. } => "self-declaration / 健康申报",
            Fact::Temperature { .. } => "temperature measurement / 体温测量",
            Fact::TestResult { .. } => "test result / 检测结果",
            Fact::Diagnosis { .. } => "diagnosis / 诊断",
            Fact::CloseContact { .. } => "close-contact designation / 密接判定",
            Fact::QuarantineStarted { .. } => "quarantine start / 开始隔离",
            Fact::QuarantineEnded { .. } => "quarantine end / 解除隔离",
            Fact::ItineraryRisk { .. } => "itinerary risk / 行程风险",
            Fact::Override(_) => "official override / 人工改码",
        }
    }

    /// Which sources may report this fact, so evidence is only ever what a
    /// competent party said: a person cannot self-declare a negative test.
    fn accepts(&self, source: &Source) -> Result<(), &'static str> {
        let ok = match self {
            Fact::SelfDeclaration { .. } => matches!(source, Source::SelfDeclared),
            Fact::Temperature { .. } => {
                matches!(source, Source::Checkpoint { .. } | Source::Clinic { .. })
            }
            Fact::TestResult { .. } => {
                matches!(source, Source::Laboratory { .. } | Source::Clinic { .. })
            }
            Fact::Diagnosis { .. } => matches!(
                source,
                Source::Clinic { .. } | Source::HealthAuthority { .. }
            ),
            Fact::CloseContact { .. }
            | Fact::QuarantineStarted { .. }
            | Fact::QuarantineEnded { .. }
            | Fact::Override(_) => {
                matches!(source, Source::HealthAuthority { .. })
            }
            Fact::ItineraryRisk { .. } => matches!(
                source,
                Source::Carrier { .. } | Source::HealthAuthority { .. }
            ),
        };
        if ok {
            return Ok(());
        }
        Err(match self {
            Fact::SelfDeclaration { .. } => "self-declaration / 本人申报",
            Fact::Temperature { .. } => "a checkpoint or clinic / 查验点或医疗机构",
            Fact::TestResult { .. } => "a laboratory or clinic / 检测机构或医疗机构",
            Fact::Diagnosis { .. } => "a clinic or the health authority / 医疗机构或卫生健康部门",
            Fact::ItineraryRisk { .. } => {
                "a carrier or the health authority / 运营商或卫生健康部门"
            }
            _ => "the health authority / 卫生健康部门",
        })
    }
}

/// One recorded fact: what, when it happened (not when it was typed in),
/// and who reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EventFields")]
pub struct Event {
    id: EventId,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    source: Source,
    fact: Fact,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventFields {
    id: EventId,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    source: Source,
    fact: Fact,
}

impl TryFrom<EventFields> for Event {
    type Error = FactError;
    fn try_from(f: EventFields) -> Result<Self, FactError> {
        Event::new(f.id, f.at, f.source, f.fact)
    }
}

impl Event {
    /// Records a fact, checking that the source may report it and that the
    /// fact is complete.
    pub fn new(
        id: EventId,
        at: OffsetDateTime,
        source: Source,
        fact: Fact,
    ) -> Result<Event, FactError> {
        if let Err(expected) = fact.accepts(&source) {
            return Err(FactError::WrongSource {
                fact: fact.name(),
                from: source.name(),
                expected,
            });
        }
        if source.detail_is_blank() {
            return Err(FactError::Missing("source / 来源", "name / 名称"));
        }
        match &fact {
            Fact::ItineraryRisk { area, .. } if area.trim().is_empty() => {
                return Err(FactError::Missing(
                    "itinerary risk / 行程风险",
                    "area / 地区",
                ));
            }
            Fact::Override(o) => {
                if o.until.is_some_and(|until| until <= at) {
                    return Err(OverrideError::EndsBeforeStart.into());
                }
                if let Source::HealthAuthority { official } = &source {
                    if official != &o.requested_by {
                        return Err(OverrideError::RecordedByOther {
                            requester: o.requested_by.0.clone(),
                            recorder: official.0.clone(),
                        }
                        .into());
                    }
                }
            }
            _ => {}
        }
        Ok(Event {
            id,
            at,
            source,
            fact,
        })
    }

    pub fn id(&self) -> &EventId {
        &self.id
    }

    pub fn at(&self) -> OffsetDateTime {
        self.at
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    pub fn fact(&self) -> &Fact {
        &self.fact
    }
}
