//! Builders for events in tests.

use healthcode_core::facts::{
    DiagnosisStatus, Event, EventId, Fact, OfficialId, Override, OverrideRequest, QuarantinePlace,
    RiskLevel, Source, Temperature, TestKind, TestOutcome,
};
use healthcode_core::{Bilingual, Colour};
use time::OffsetDateTime;

pub fn t(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
}

fn event(id: &str, at: &str, source: Source, fact: Fact) -> Event {
    Event::new(EventId::new(id).unwrap(), t(at), source, fact).unwrap()
}

pub fn official(id: &str) -> Source {
    Source::HealthAuthority {
        official: OfficialId::new(id).unwrap(),
    }
}

pub fn declaration(id: &str, at: &str, fever: bool, symptoms: bool) -> Event {
    event(
        id,
        at,
        Source::SelfDeclared,
        Fact::SelfDeclaration {
            fever,
            symptoms,
            temperature: None,
            travel: Vec::new(),
            contact_with_case: false,
        },
    )
}

pub fn temperature(id: &str, at: &str, celsius: f64) -> Event {
    let source = Source::Checkpoint {
        site: "Changchun Railway Station".into(),
    };
    let reading = Temperature::from_celsius(celsius).unwrap();
    event(id, at, source, Fact::Temperature { reading })
}

pub fn pcr(id: &str, at: &str, outcome: TestOutcome) -> Event {
    let source = Source::Laboratory {
        lab: "JL-CDC-Lab-1".into(),
    };
    event(
        id,
        at,
        source,
        Fact::TestResult {
            test: TestKind::Pcr,
            outcome,
        },
    )
}

pub fn diagnosis(id: &str, at: &str, status: DiagnosisStatus) -> Event {
    let source = Source::Clinic {
        facility: "First Hospital of Jilin University".into(),
    };
    event(id, at, source, Fact::Diagnosis { status })
}

pub fn close_contact(id: &str, at: &str) -> Event {
    event(
        id,
        at,
        official("tracer-7"),
        Fact::CloseContact {
            case_reference: None,
        },
    )
}

pub fn quarantine_start(id: &str, at: &str) -> Event {
    event(
        id,
        at,
        official("tracer-7"),
        Fact::QuarantineStarted {
            place: QuarantinePlace::Centralised,
        },
    )
}

pub fn quarantine_end(id: &str, at: &str, symptoms: bool) -> Event {
    event(
        id,
        at,
        official("tracer-7"),
        Fact::QuarantineEnded { symptoms },
    )
}

pub fn risk_stay(id: &str, at: &str, level: RiskLevel) -> Event {
    let source = Source::Carrier {
        carrier: "China Mobile".into(),
    };
    event(
        id,
        at,
        source,
        Fact::ItineraryRisk {
            level,
            area: "Changchun, Nanguan District".into(),
        },
    )
}

pub fn override_request(colour: Colour, requester: &str, until: Option<&str>) -> OverrideRequest {
    OverrideRequest {
        colour,
        reason: Bilingual::new(
            "检测结果录入错误，已更正",
            "Test result entered in error, corrected",
        ),
        legal_basis: Bilingual::new(
            "《中华人民共和国传染病防治法》第三十九条",
            "Law of the PRC on the Prevention and Treatment of Infectious Diseases, art. 39",
        ),
        requested_by: OfficialId::new(requester).unwrap(),
        until: until.map(t),
    }
}

pub fn override_event(id: &str, at: &str, colour: Colour, until: Option<&str>) -> Event {
    let approved = Override::approve(
        override_request(colour, "official-1", until),
        OfficialId::new("official-2").unwrap(),
    )
    .unwrap();
    event(id, at, official("official-1"), Fact::Override(approved))
}
