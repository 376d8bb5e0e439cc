//! Colour evaluation under the shipped rule sets: the seeds' Jilin colours,
//! time-based transitions, overrides and honest evidence.

use healthcode_core::facts::{
    DiagnosisStatus, OfficialId, Override, OverrideError, RiskLevel, TestOutcome,
};
use healthcode_core::status::DecisionBasis;
use healthcode_core::view::{is_known_path, DataView, VIEW_FIELDS};
use healthcode_core::{Colour, ColourDecision, Event, RuleSet, RuleSetError, ShippedRuleSet};
use serde_json::json;

use crate::support::*;

fn jilin() -> RuleSet {
    ShippedRuleSet::Jilin.load().unwrap()
}

fn national() -> RuleSet {
    ShippedRuleSet::NationalDefault.load().unwrap()
}

fn colour_at(rules: &RuleSet, events: &[Event], at: &str) -> Colour {
    rules.evaluate(events, t(at)).colour
}

fn deciding_rule(d: &ColourDecision) -> &str {
    match &d.basis {
        DecisionBasis::Rule { rule_id } => rule_id,
        other => panic!("expected a rule to decide, got {other:?}"),
    }
}

fn evidence(d: &ColourDecision) -> Vec<&str> {
    d.fired
        .first()
        .unwrap()
        .evidence
        .iter()
        .map(|e| e.as_str())
        .collect()
}

#[test]
fn shipped_rule_sets_load_from_the_crate_and_from_their_files() {
    for shipped in ShippedRuleSet::ALL {
        let embedded = shipped.load().unwrap();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
        let mut found = false;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            // Health-code rule sets are `cn-*.json`; the itinerary card's own
            // rule set lives beside them and is checked by its module.
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("cn-") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let from_file = RuleSet::from_json_str(&text).unwrap();
            if from_file.id == embedded.id {
                found = true;
                assert_eq!(from_file.to_json(), embedded.to_json());
            }
        }
        assert!(found, "{} has no file", shipped.name());
        for rule in &embedded.rules {
            assert!(rule.description.is_complete(), "{}", rule.id);
        }
        // Round trip: what we serialise loads back the same.
        let again = RuleSet::from_json_value(embedded.to_json()).unwrap();
        assert_eq!(again.to_json(), embedded.to_json());
    }
    assert_eq!(
        jilin().colours,
        [Colour::Green, Colour::Yellow, Colour::Orange, Colour::Red]
    );
    assert_eq!(
        national().colours,
        [Colour::Green, Colour::Yellow, Colour::Red]
    );
}

#[test]
fn pending_without_health_information() {
    let rules = jilin();
    let d = rules.evaluate(&[], t("2022-04-01T08:00:00+08:00"));
    assert_eq!(d.colour, Colour::Pending);
    assert_eq!(d.basis, DecisionBasis::NoHealthInformation);
    assert!(d.explanation.zh.contains("待定") && d.explanation.en.contains("pending"));
    // Facts recorded later do not exist yet at an earlier instant.
    let events = [declaration("d1", "2022-04-02T09:00:00+08:00", false, false)];
    assert_eq!(
        colour_at(&rules, &events, "2022-04-01T08:00:00+08:00"),
        Colour::Pending
    );
    let d = rules.evaluate(&events, t("2022-04-02T09:00:00+08:00"));
    assert_eq!(
        (d.colour, &d.basis),
        (Colour::Green, &DecisionBasis::Default)
    );
    assert!(d.explanation.en.contains("No rule fired"));
}

#[test]
fn yellow_for_fever_until_a_normal_reading() {
    let rules = jilin();
    let events = [
        declaration("d1", "2022-04-01T07:00:00+08:00", false, false),
        temperature("temp-1", "2022-04-01T08:00:00+08:00", 37.8),
        temperature("temp-2", "2022-04-01T12:00:00+08:00", 36.6),
    ];
    let d = rules.evaluate(&events, t("2022-04-01T09:00:00+08:00"));
    assert_eq!(d.colour, Colour::Yellow);
    assert_eq!(deciding_rule(&d), "JL-YELLOW-TEMPERATURE");
    assert_eq!(evidence(&d), ["temp-1"]);
    let input = &d.fired[0].inputs[0];
    assert_eq!(
        (input.path.as_str(), &input.value),
        ("temperature.tenths", &json!(378))
    );
    assert!(d.explanation.zh.contains("37.3") && d.explanation.zh.contains("temp-1"));
    assert!(d.explanation.en.starts_with("Yellow: On-site temperature"));
    // Exactly at the threshold it is yellow too.
    let at_threshold = [temperature("temp-3", "2022-04-01T08:00:00+08:00", 37.3)];
    assert_eq!(
        colour_at(&rules, &at_threshold, "2022-04-01T08:00:00+08:00"),
        Colour::Yellow
    );
    // After the normal reading: green, with nothing stored in between.
    assert_eq!(
        colour_at(&rules, &events, "2022-04-01T12:00:00+08:00"),
        Colour::Green
    );
    // Evaluating the earlier instant again still gives yellow.
    assert_eq!(
        colour_at(&rules, &events, "2022-04-01T11:59:59+08:00"),
        Colour::Yellow
    );
}

#[test]
fn orange_for_close_contacts_until_quarantine_ends_without_symptoms() {
    let rules = jilin();
    let events = vec![
        close_contact("contact-1", "2022-04-01T10:00:00+08:00"),
        quarantine_start("q-start", "2022-04-01T18:00:00+08:00"),
        quarantine_end("q-end", "2022-04-15T18:00:00+08:00", false),
    ];
    let d = rules.evaluate(&events, t("2022-04-01T12:00:00+08:00"));
    assert_eq!(d.colour, Colour::Orange);
    assert_eq!(deciding_rule(&d), "JL-ORANGE-CLOSE-CONTACT");
    assert_eq!(evidence(&d), ["contact-1"]);

    let d = rules.evaluate(&events, t("2022-04-10T12:00:00+08:00"));
    assert_eq!(d.colour, Colour::Orange);
    let fired: Vec<&str> = d.fired.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(fired, ["JL-ORANGE-CLOSE-CONTACT", "JL-ORANGE-QUARANTINE"]);
    assert_eq!(
        d.fired[1]
            .evidence
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>(),
        ["q-start"]
    );

    assert_eq!(
        colour_at(&rules, &events, "2022-04-15T18:00:00+08:00"),
        Colour::Green
    );

    // Ending with symptoms keeps the code orange.
    let mut with_symptoms = events.clone();
    with_symptoms[2] = quarantine_end("q-end", "2022-04-15T18:00:00+08:00", true);
    let d = rules.evaluate(&with_symptoms, t("2022-04-16T00:00:00+08:00"));
    assert_eq!(d.colour, Colour::Orange);
    assert!(d
        .fired
        .iter()
        .all(|f| f.evidence.iter().any(|e| e.as_str() == "q-end")));

    // A quarantine that ended before the designation does not release the contact.
    let earlier_release = [
        quarantine_start("q-old-start", "2022-03-01T00:00:00+08:00"),
        quarantine_end("q-old-end", "2022-03-14T00:00:00+08:00", false),
        close_contact("contact-2", "2022-04-01T10:00:00+08:00"),
    ];
    let d = rules.evaluate(&earlier_release, t("2022-04-02T00:00:00+08:00"));
    assert_eq!(d.colour, Colour::Orange);
    assert_eq!(d.fired.len(), 1);
    assert_eq!(evidence(&d), ["contact-2", "q-old-end"]);
}

#[test]
fn red_for_confirmed_or_suspected_and_it_outranks_the_rest() {
    let rules = jilin();
    let events = [
        temperature("temp-1", "2022-04-01T08:00:00+08:00", 38.2),
        close_contact("contact-1", "2022-04-01T09:00:00+08:00"),
        diagnosis(
            "dx-1",
            "2022-04-02T09:00:00+08:00",
            DiagnosisStatus::Suspected,
        ),
        diagnosis(
            "dx-2",
            "2022-04-03T09:00:00+08:00",
            DiagnosisStatus::Excluded,
        ),
    ];
    let d = rules.evaluate(&events, t("2022-04-02T10:00:00+08:00"));
    assert_eq!(d.colour, Colour::Red);
    assert_eq!(deciding_rule(&d), "JL-RED-CASE");
    let colours: Vec<Colour> = d.fired.iter().map(|f| f.colour).collect();
    assert_eq!(colours, [Colour::Red, Colour::Orange, Colour::Yellow]);
    // The red rule's evidence is the diagnosis alone, not the fever or the contact.
    assert_eq!(evidence(&d), ["dx-1"]);
    // Excluded the next day: back to the contact's orange.
    assert_eq!(
        colour_at(&rules, &events, "2022-04-03T10:00:00+08:00"),
        Colour::Orange
    );
    let confirmed = [diagnosis(
        "dx-3",
        "2022-04-02T09:00:00+08:00",
        DiagnosisStatus::Confirmed,
    )];
    assert_eq!(
        colour_at(&rules, &confirmed, "2022-04-02T09:00:00+08:00"),
        Colour::Red
    );
    let recovered = [
        diagnosis(
            "dx-3",
            "2022-04-02T09:00:00+08:00",
            DiagnosisStatus::Confirmed,
        ),
        diagnosis(
            "dx-4",
            "2022-04-20T09:00:00+08:00",
            DiagnosisStatus::Recovered,
        ),
    ];
    assert_eq!(
        colour_at(&rules, &recovered, "2022-04-21T09:00:00+08:00"),
        Colour::Green
    );
}

#[test]
fn yellow_after_a_risk_area_until_two_negative_tests_24_hours_apart() {
    let rules = jilin();
    let stay = risk_stay("stay-1", "2022-07-01T10:00:00+08:00", RiskLevel::High);
    let first = pcr("pcr-1", "2022-07-02T09:00:00+08:00", TestOutcome::Negative);
    let too_soon = pcr("pcr-2", "2022-07-03T08:59:59+08:00", TestOutcome::Negative);
    let enough = pcr("pcr-3", "2022-07-03T09:00:00+08:00", TestOutcome::Negative);
    let events = [
        stay.clone(),
        first.clone(),
        too_soon.clone(),
        enough.clone(),
    ];

    let d = rules.evaluate(&events, t("2022-07-01T12:00:00+08:00"));
    assert_eq!(
        (d.colour, deciding_rule(&d)),
        (Colour::Yellow, "JL-YELLOW-RISK-AREA-7D")
    );
    assert_eq!(evidence(&d), ["stay-1"]);
    let d = rules.evaluate(&events, t("2022-07-03T08:59:59+08:00"));
    assert_eq!(d.colour, Colour::Yellow);
    // Two tests, but less than 24 hours apart: both are cited.
    assert_eq!(evidence(&d), ["stay-1", "pcr-1", "pcr-2"]);
    assert_eq!(
        colour_at(&rules, &events, "2022-07-03T09:00:00+08:00"),
        Colour::Green
    );

    // A positive test starts the count again.
    let positive = pcr(
        "pcr-pos",
        "2022-07-02T20:00:00+08:00",
        TestOutcome::Positive,
    );
    let with_positive = [stay.clone(), first, positive, too_soon, enough];
    assert_eq!(
        colour_at(&rules, &with_positive, "2022-07-03T10:00:00+08:00"),
        Colour::Yellow
    );

    // Without tests the stay ages out: 7 days under the rules from 2022-06-29...
    let untested = [stay];
    assert_eq!(
        colour_at(&rules, &untested, "2022-07-08T09:59:59+08:00"),
        Colour::Yellow
    );
    assert_eq!(
        colour_at(&rules, &untested, "2022-07-08T10:00:00+08:00"),
        Colour::Green
    );
    // ...and 14 days under the rule in force before then.
    let earlier = [risk_stay(
        "stay-0",
        "2022-05-01T10:00:00+08:00",
        RiskLevel::Medium,
    )];
    let d = rules.evaluate(&earlier, t("2022-05-10T10:00:00+08:00"));
    assert_eq!(
        (d.colour, deciding_rule(&d)),
        (Colour::Yellow, "JL-YELLOW-RISK-AREA-14D")
    );
    assert_eq!(
        colour_at(&rules, &earlier, "2022-05-15T10:00:00+08:00"),
        Colour::Green
    );
    // A low-risk stay is information, but no reason for yellow.
    let low = [risk_stay(
        "stay-low",
        "2022-07-01T10:00:00+08:00",
        RiskLevel::Low,
    )];
    assert_eq!(
        colour_at(&rules, &low, "2022-07-01T12:00:00+08:00"),
        Colour::Green
    );
}

#[test]
fn overrides_need_a_second_official_and_lapse_on_time() {
    let same = Override::approve(
        override_request(Colour::Red, "official-1", None),
        OfficialId::new("official-1").unwrap(),
    );
    assert!(matches!(same, Err(OverrideError::SelfApproval(_))));
    let mut no_basis = override_request(Colour::Red, "official-1", None);
    no_basis.legal_basis.en.clear();
    let err = Override::approve(no_basis, OfficialId::new("official-2").unwrap()).unwrap_err();
    assert_eq!(err, OverrideError::MissingLegalBasis);
    let pending = Override::approve(
        override_request(Colour::Pending, "official-1", None),
        OfficialId::new("official-2").unwrap(),
    );
    assert_eq!(pending.unwrap_err(), OverrideError::PendingColour);

    // Deserialising runs the same checks: a self-approved override cannot be smuggled in.
    let forged = json!({
        "id": "ov-forged", "at": "2022-04-01T00:00:00+08:00",
        "source": {"type": "health_authority", "official": "official-1"},
        "fact": {"kind": "override", "colour": "red",
                 "reason": {"zh": "理由", "en": "reason"}, "legal_basis": {"zh": "依据", "en": "basis"},
                 "requested_by": "official-1", "approved_by": "official-1"}
    });
    let err = serde_json::from_value::<Event>(forged)
        .unwrap_err()
        .to_string();
    assert!(err.contains("second official"), "{err}");

    let rules = jilin();
    let events = [
        diagnosis(
            "dx-1",
            "2022-04-01T09:00:00+08:00",
            DiagnosisStatus::Confirmed,
        ),
        override_event(
            "ov-1",
            "2022-04-01T12:00:00+08:00",
            Colour::Green,
            Some("2022-04-02T12:00:00+08:00"),
        ),
    ];
    let d = rules.evaluate(&events, t("2022-04-01T13:00:00+08:00"));
    assert_eq!(
        (d.colour, deciding_rule(&d)),
        (Colour::Green, "JL-OVERRIDE-GREEN")
    );
    assert_eq!(evidence(&d), ["ov-1"]);
    // The rules below it still show, so the page can say what was overridden.
    assert_eq!(d.fired[1].rule_id, "JL-RED-CASE");
    let d = rules.evaluate(&events, t("2022-04-02T12:00:00+08:00"));
    assert_eq!((d.colour, deciding_rule(&d)), (Colour::Red, "JL-RED-CASE"));
}

#[test]
fn the_national_default_has_three_colours() {
    let rules = national();
    let contact = [close_contact("contact-1", "2022-04-01T10:00:00+08:00")];
    let d = rules.evaluate(&contact, t("2022-04-01T11:00:00+08:00"));
    assert_eq!(
        (d.colour, deciding_rule(&d)),
        (Colour::Yellow, "CN-YELLOW-CLOSE-CONTACT")
    );
    let unwell = [declaration("d1", "2022-04-01T10:00:00+08:00", false, true)];
    let d = rules.evaluate(&unwell, t("2022-04-01T11:00:00+08:00"));
    assert_eq!(
        (d.colour, deciding_rule(&d)),
        (Colour::Yellow, "CN-YELLOW-DECLARATION")
    );
    assert_eq!(evidence(&d), ["d1"]);
    let well = [declaration("d1", "2022-04-01T10:00:00+08:00", false, false)];
    assert_eq!(
        colour_at(&rules, &well, "2022-04-01T11:00:00+08:00"),
        Colour::Green
    );
    let case = [diagnosis(
        "dx-1",
        "2022-04-01T09:00:00+08:00",
        DiagnosisStatus::Confirmed,
    )];
    assert_eq!(
        colour_at(&rules, &case, "2022-04-01T09:00:00+08:00"),
        Colour::Red
    );
}

#[test]
fn a_rule_that_cannot_be_evaluated_makes_the_code_pending_not_green() {
    let mut set = jilin().to_json();
    set["rules"].as_array_mut().unwrap().push(json!({
        "id": "BROKEN-RED", "colour": "red", "priority": 300,
        "description": {"zh": "错误的规则", "en": "A broken rule"},
        "valid_from": "2020-01-01T00:00:00Z",
        "logic": {"and": [true, {"after": [{"var": "temperature.tenths"}, {"plusTime": [{"var": "now"}, 0, "day"]}]}]}
    }));
    let rules = RuleSet::from_json_value(set).unwrap();
    let events = [temperature("temp-1", "2022-04-01T08:00:00+08:00", 36.5)];
    let d = rules.evaluate(&events, t("2022-04-01T09:00:00+08:00"));
    assert_eq!(d.colour, Colour::Pending);
    assert_eq!(
        d.basis,
        DecisionBasis::RuleFailed {
            rule_id: "BROKEN-RED".into()
        }
    );
    assert!(
        d.failures[0].error.contains("#/and/1"),
        "{}",
        d.failures[0].error
    );
    // A higher-priority rule that fired still decides.
    let events = [
        temperature("temp-1", "2022-04-01T08:00:00+08:00", 36.5),
        override_event("ov-1", "2022-04-01T08:30:00+08:00", Colour::Yellow, None),
    ];
    let d = rules.evaluate(&events, t("2022-04-01T09:00:00+08:00"));
    assert_eq!(d.colour, Colour::Yellow);
    assert_eq!(d.failures.len(), 1);
}

#[test]
fn invalid_rule_sets_list_every_problem_with_its_place() {
    let mut set = jilin().to_json();
    let rules = set["rules"].as_array_mut().unwrap();
    rules[1]["id"] = rules[0]["id"].clone();
    rules[2]["description"]["en"] = json!("");
    rules[3]["colour"] = json!("pending");
    rules[4]["logic"] = json!({"and": [{"var": "temprature.tenths"}, {"var": "x."}]});
    rules[5]["valid_until"] = json!("2000-01-01T00:00:00Z");
    let err = RuleSet::from_json_value(set).unwrap_err();
    let problems = err.problems();
    let expected_places = [
        "#/rules/1/id:",
        "#/rules/2/description:",
        "#/rules/3/colour:",
        "#/rules/4/logic/and/1:",
        "#/rules/5/valid_until:",
    ];
    assert_eq!(problems.len(), expected_places.len(), "{problems:#?}");
    for (problem, place) in problems.iter().zip(expected_places) {
        assert!(
            problem.starts_with(place),
            "{problem} should start with {place}"
        );
        assert!(
            problem
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "no Chinese in {problem}"
        );
    }
    // A misspelt field is caught even when the expression is otherwise valid.
    let mut set = jilin().to_json();
    set["rules"][0]["logic"] = json!({"var": "temprature.tenths"});
    let problems = RuleSet::from_json_value(set).unwrap_err().problems();
    assert!(
        problems[0].contains("not a field of the data view"),
        "{problems:?}"
    );
    assert!(matches!(
        RuleSet::from_json_str("{\"id\": 1}"),
        Err(RuleSetError::Format(_))
    ));
    assert!(matches!(
        RuleSet::from_json_str("not json"),
        Err(RuleSetError::Format(_))
    ));
}

#[test]
fn the_view_documents_every_field_it_fills() {
    let events = [
        declaration("d1", "2022-07-01T07:00:00+08:00", true, false),
        temperature("temp-1", "2022-07-01T08:00:00+08:00", 36.9),
        close_contact("c1", "2022-07-01T09:00:00+08:00"),
        quarantine_start("q1", "2022-07-01T10:00:00+08:00"),
        quarantine_end("q2", "2022-07-08T10:00:00+08:00", false),
        risk_stay("s1", "2022-07-01T11:00:00+08:00", RiskLevel::Medium),
        pcr("p1", "2022-07-02T11:00:00+08:00", TestOutcome::Negative),
        diagnosis("dx", "2022-07-03T11:00:00+08:00", DiagnosisStatus::Excluded),
        override_event(
            "ov",
            "2022-07-04T11:00:00+08:00",
            Colour::Green,
            Some("2022-07-05T11:00:00+08:00"),
        ),
    ];
    let view = DataView::build(&events, t("2022-07-09T00:00:00+08:00"));
    let mut filled = Vec::new();
    for (section, value) in view.data().as_object().unwrap() {
        match value.as_object() {
            Some(fields) => filled.extend(fields.keys().map(|k| format!("{section}.{k}"))),
            None => filled.push(section.clone()),
        }
    }
    let documented: Vec<String> = VIEW_FIELDS.iter().map(|f| f.path.to_owned()).collect();
    filled.sort();
    let mut documented_sorted = documented.clone();
    documented_sorted.sort();
    assert_eq!(filled, documented_sorted);
    assert_eq!(view.data()["temperature"]["tenths"], json!(369));
    assert_eq!(view.data()["now"], json!("2022-07-08T16:00:00.000Z"));
    // Every field but the clock names the event it came from.
    for field in VIEW_FIELDS.iter().filter(|f| f.path != "now") {
        assert_eq!(view.event_ids_behind(field.path).len(), 1, "{}", field.path);
        assert!(is_known_path(field.path));
    }
    assert!(view.event_ids_behind("now").is_empty());
    assert_eq!(view.event_ids_behind("").len(), events.len());
    assert!(
        is_known_path("quarantine")
            && !is_known_path("quarantine.start")
            && !is_known_path("now.x")
    );
}
