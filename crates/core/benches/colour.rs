//! Colour evaluation: one person with 100 events under a 20-rule set.
//!
//! Run with `cargo bench -p healthcode-core --bench colour`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use divan::{black_box, Bencher};
use healthcode_core::certlogic;
use healthcode_core::facts::{
    DiagnosisStatus, Event, EventId, Fact, OfficialId, QuarantinePlace, RiskLevel, Source,
    Temperature, TestKind, TestOutcome,
};
use healthcode_core::{DataView, RuleSet, ShippedRuleSet};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

fn main() {
    divan::main();
}

fn start() -> OffsetDateTime {
    time::macros::datetime!(2022-07-01 08:00 +08:00)
}

/// The Jilin set (10 rules) plus a variant of each rule with a lower
/// priority: 20 rules, all in force in July 2022.
fn twenty_rules() -> RuleSet {
    let mut set = ShippedRuleSet::Jilin.load().unwrap().to_json();
    let rules = set["rules"].as_array_mut().unwrap();
    let variants: Vec<Value> = rules
        .iter()
        .map(|r| {
            let mut v = r.clone();
            v["id"] = Value::String(format!("{}-VARIANT", r["id"].as_str().unwrap()));
            v["priority"] = Value::from(r["priority"].as_i64().unwrap() - 1);
            v.as_object_mut().unwrap().remove("valid_until");
            v
        })
        .collect();
    rules.extend(variants);
    let set = RuleSet::from_json_value(set).unwrap();
    assert_eq!(set.rules.len(), 20);
    set
}

/// 100 events over three weeks: daily declarations and checkpoint
/// temperatures, PCR tests, a risk-area stay, contact tracing and quarantine.
fn hundred_events() -> Vec<Event> {
    let official = Source::HealthAuthority {
        official: OfficialId::new("tracer-7").unwrap(),
    };
    let mut events = Vec::new();
    let mut push = |i: usize, hours: i64, source: Source, fact: Fact| {
        let id = EventId::new(&format!("e{i:03}")).unwrap();
        events.push(Event::new(id, start() + Duration::hours(hours), source, fact).unwrap());
    };
    let checkpoint = || Source::Checkpoint {
        site: "Changchun Railway Station".into(),
    };
    let lab = || Source::Laboratory {
        lab: "JL-CDC-Lab-1".into(),
    };
    let mut i = 0;
    for day in 0..21 {
        push(
            i,
            day * 24,
            Source::SelfDeclared,
            Fact::SelfDeclaration {
                fever: false,
                symptoms: false,
                temperature: None,
                travel: Vec::new(),
                contact_with_case: false,
            },
        );
        i += 1;
        let reading = Temperature::from_tenths(if day == 3 { 378 } else { 365 }).unwrap();
        push(i, day * 24 + 2, checkpoint(), Fact::Temperature { reading });
        i += 1;
        push(
            i,
            day * 24 + 5,
            checkpoint(),
            Fact::Temperature {
                reading: Temperature::from_tenths(366).unwrap(),
            },
        );
        i += 1;
        push(
            i,
            day * 24 + 9,
            lab(),
            Fact::TestResult {
                test: TestKind::Pcr,
                outcome: TestOutcome::Negative,
            },
        );
        i += 1;
    }
    let carrier = Source::Carrier {
        carrier: "China Mobile".into(),
    };
    push(
        i,
        30,
        carrier,
        Fact::ItineraryRisk {
            level: RiskLevel::High,
            area: "Changchun, Nanguan".into(),
        },
    );
    push(
        i + 1,
        40,
        official.clone(),
        Fact::CloseContact {
            case_reference: None,
        },
    );
    push(
        i + 2,
        44,
        official.clone(),
        Fact::QuarantineStarted {
            place: QuarantinePlace::Home,
        },
    );
    push(
        i + 3,
        200,
        official.clone(),
        Fact::QuarantineEnded { symptoms: false },
    );
    let clinic = Source::Clinic {
        facility: "First Hospital".into(),
    };
    let mut j = i + 4;
    while j < 100 {
        push(
            j,
            100 + j as i64,
            clinic.clone(),
            Fact::Diagnosis {
                status: DiagnosisStatus::Excluded,
            },
        );
        j += 1;
    }
    assert_eq!(events.len(), 100);
    events
}

/// A close contact under quarantine, with a fever reading earlier that day:
/// six rules fire (contact, quarantine and temperature, each with its variant)
/// and evidence is gathered for each; the risk-stay rules are evaluated and
/// cleared by two negative tests 24 hours apart.
fn busy_instant() -> OffsetDateTime {
    start() + Duration::hours(3 * 24 + 3)
}

#[divan::bench]
fn evaluate_100_events_20_rules(bencher: Bencher) {
    let rules = twenty_rules();
    let events = hundred_events();
    let decision = rules.evaluate(&events, busy_instant());
    assert_eq!(decision.fired.len(), 6);
    bencher.bench_local(|| rules.evaluate(black_box(&events), black_box(busy_instant())));
}

#[divan::bench]
fn build_data_view_100_events(bencher: Bencher) {
    let events = hundred_events();
    bencher.bench_local(|| {
        DataView::build(black_box(&events), black_box(busy_instant())).has_health_information()
    });
}

/// Baseline: the same 20 rules evaluated by re-validating and re-compiling each
/// expression from its JSON on every evaluation, as a naive interpreter would.
#[divan::bench]
fn baseline_uncompiled_20_rules(bencher: Bencher) {
    let rules = twenty_rules();
    let events = hundred_events();
    let view = DataView::build(&events, busy_instant());
    let logic: Vec<&Value> = rules.rules.iter().map(|r| &r.logic_json).collect();
    bencher.bench_local(|| {
        logic
            .iter()
            .filter(|l| matches!(certlogic::evaluate(l, view.data()), Ok(Value::Bool(true))))
            .count()
    });
}

/// The compiled counterpart of the baseline: same view, same rules, truthiness only.
#[divan::bench]
fn compiled_20_rules(bencher: Bencher) {
    let rules = twenty_rules();
    let events = hundred_events();
    let view = DataView::build(&events, busy_instant());
    bencher.bench_local(|| {
        rules
            .rules
            .iter()
            .filter(|r| {
                matches!(
                    r.logic().truthiness(view.data()),
                    Ok(certlogic::Truthiness::Truthy)
                )
            })
            .count()
    });
}
