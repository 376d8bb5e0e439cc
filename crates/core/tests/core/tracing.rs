//! Tracing: venue contacts, spatiotemporal companions and implausible
//! check-ins, on data built here to sit just inside and just outside every
//! threshold.

use healthcode_core::tracing::{
    companions, is_region_code, same_city, venue_contacts, venue_implausibility, CellStay,
    CumulativeBy, Subject, TracingError, TracingParams, Visit, Window,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

fn at(day: i64, h: i64, m: i64) -> OffsetDateTime {
    datetime!(2022-05-01 00:00 +08:00)
        + Duration::days(day)
        + Duration::hours(h)
        + Duration::minutes(m)
}

fn subject(p: &str, dependent: u16) -> Subject {
    Subject {
        person: p.to_owned(),
        dependent,
    }
}

fn visit(p: &str, dependent: u16, venue: &str, from: OffsetDateTime, to: OffsetDateTime) -> Visit {
    Visit {
        subject: subject(p, dependent),
        venue: venue.to_owned(),
        arrived: from,
        left: to,
    }
}

fn window() -> Window {
    Window::new(at(0, 0, 0), at(14, 0, 0)).unwrap()
}

#[test]
fn venue_contacts_are_overlapping_stays_at_the_same_venue() {
    let case = vec![
        visit("case", 0, "mall", at(1, 10, 0), at(1, 11, 0)),
        visit("case", 0, "cafe", at(2, 9, 0), at(2, 9, 30)),
    ];
    let others = vec![
        // 30 minutes together at the mall.
        visit("amy", 0, "mall", at(1, 10, 30), at(1, 12, 0)),
        // Amy's child, the same stay: a separate candidate.
        visit("amy", 1, "mall", at(1, 10, 30), at(1, 12, 0)),
        // Left the mall exactly when the case arrived: no overlap.
        visit("bob", 0, "mall", at(1, 9, 0), at(1, 10, 0)),
        // At the cafe, the right hour, a different day.
        visit("cai", 0, "cafe", at(3, 9, 0), at(3, 9, 30)),
        // A different venue at the same time.
        visit("dan", 0, "park", at(1, 10, 0), at(1, 11, 0)),
        // Ten minutes at the cafe, and 5 at the mall.
        visit("eve", 0, "cafe", at(2, 9, 20), at(2, 10, 0)),
        visit("eve", 0, "mall", at(1, 10, 55), at(1, 11, 30)),
        // The case's own other check-ins are not candidates.
        visit("case", 0, "mall", at(1, 10, 0), at(1, 11, 0)),
    ];
    let found = venue_contacts("case", &case, &others, window(), &TracingParams::default());
    let names: Vec<(&str, u16, i64)> = found
        .iter()
        .map(|c| {
            (
                c.subject.person.as_str(),
                c.subject.dependent,
                c.together_seconds,
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![("amy", 0, 1800), ("amy", 1, 1800), ("eve", 0, 900)]
    );
    let eve = &found[2];
    assert_eq!(eve.overlaps.len(), 2);
    assert_eq!(eve.overlaps[0].venue, "mall");
    assert_eq!(eve.overlaps[0].together.start, at(1, 10, 55));
    assert_eq!(eve.overlaps[1].venue, "cafe");
    assert_eq!(eve.overlaps[1].case_stay.end, at(2, 9, 30));

    // A minimum overlap of 10 minutes drops Eve's 5 and 10 minutes.
    let strict = TracingParams {
        min_venue_overlap_minutes: 10,
        ..TracingParams::default()
    };
    let found = venue_contacts("case", &case, &others, window(), &strict);
    assert!(found.iter().all(|c| c.subject.person == "amy"), "{found:?}");

    // Only case visits inside the window count, clipped to it.
    let narrow = Window::new(at(1, 10, 45), at(1, 20, 0)).unwrap();
    let found = venue_contacts("case", &case, &others, narrow, &TracingParams::default());
    assert_eq!(found[0].together_seconds, 15 * 60);
    assert!(found
        .iter()
        .all(|c| c.overlaps.iter().all(|o| o.venue == "mall")));
}

fn stay(
    phone: &str,
    city: &str,
    cell: Option<&str>,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> CellStay {
    CellStay {
        phone: phone.to_owned(),
        city_code: city.to_owned(),
        cell: cell.map(str::to_owned),
        first_seen: from,
        last_seen: to,
    }
}

#[test]
fn companions_need_ten_minutes_together_and_thirty_hours_in_the_cell() {
    // The case lives in cell A (3 nights of 11 hours = 33 h) and passed
    // through cell B for an hour.
    let mut case = Vec::new();
    for d in 1..4 {
        case.push(stay(
            "case",
            "610100",
            Some("A"),
            at(d, 20, 0),
            at(d + 1, 7, 0),
        ));
    }
    case.push(stay(
        "case",
        "610100",
        Some("B"),
        at(5, 12, 0),
        at(5, 13, 0),
    ));
    case.push(stay("case", "610100", None, at(6, 12, 0), at(6, 13, 0)));
    let others = vec![
        // 11 minutes together in A: the case's 33 h make it count.
        stay("p1", "610100", Some("A"), at(2, 6, 49), at(2, 9, 0)),
        // Exactly 10 minutes: not more than 10.
        stay("p2", "610100", Some("A"), at(2, 6, 50), at(2, 9, 0)),
        // 20 minutes in B, where nobody spent 30 h.
        stay("p3", "610100", Some("B"), at(5, 12, 40), at(5, 14, 0)),
        // A worker in B for 31 h over the period, 30 min with the case.
        stay("p4", "610100", Some("B"), at(5, 12, 30), at(5, 20, 0)),
        stay("p4", "610100", Some("B"), at(6, 0, 0), at(7, 0, 0)),
        // Two short stays in A, 6 minutes each: no stretch above 10.
        stay("p5", "610100", Some("A"), at(1, 21, 0), at(1, 21, 6)),
        stay("p5", "610100", Some("A"), at(1, 22, 0), at(1, 22, 6)),
        // In A at another time.
        stay("p6", "610100", Some("A"), at(8, 12, 0), at(8, 18, 0)),
        // No cell.
        stay("p7", "610100", None, at(2, 0, 0), at(2, 5, 0)),
        // Two overlapping records of the same phone merge into one stretch.
        stay("p8", "610100", Some("A"), at(3, 6, 50), at(3, 6, 55)),
        stay("p8", "610100", Some("A"), at(3, 6, 54), at(3, 7, 30)),
    ];
    let found = companions(&case, &others, window(), &TracingParams::default());
    let phones: Vec<(&str, &str)> = found
        .iter()
        .map(|c| (c.phone.as_str(), c.cell.as_str()))
        .collect();
    assert_eq!(phones, vec![("p4", "B"), ("p1", "A")], "{found:#?}");
    assert_eq!(found[0].together_seconds, 30 * 60);
    assert_eq!(found[0].cumulative_seconds, 31 * 3600 + 30 * 60);
    assert_eq!(found[0].case_cumulative_seconds, 3600);
    assert_eq!(found[1].together.start, at(2, 6, 49));
    assert_eq!(found[1].together.end, at(2, 7, 0));
    assert_eq!(found[1].case_cumulative_seconds, 33 * 3600);

    // p8's merged stretch is 10 minutes exactly: not enough; at 9 it is.
    let loose = TracingParams {
        min_copresence_minutes: 9,
        ..TracingParams::default()
    };
    let found = companions(&case, &others, window(), &loose);
    assert!(found.iter().any(|c| c.phone == "p8"));
    assert!(found.iter().any(|c| c.phone == "p2"));

    // Only the candidate's own cumulative time: p1 drops out (2 h in A).
    let candidate_only = TracingParams {
        cumulative_by: CumulativeBy::Candidate,
        ..TracingParams::default()
    };
    let found = companions(&case, &others, window(), &candidate_only);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].phone, "p4");
    let both = TracingParams {
        cumulative_by: CumulativeBy::Both,
        ..TracingParams::default()
    };
    assert!(companions(&case, &others, window(), &both).is_empty());

    // No case records: nobody.
    assert!(companions(&[], &others, window(), &TracingParams::default()).is_empty());
}

#[test]
fn a_check_in_from_another_city_is_implausible() {
    let stays = vec![
        stay("p", "310101", Some("S1"), at(1, 8, 0), at(1, 18, 0)),
        stay("p", "610113", Some("X1"), at(2, 8, 0), at(2, 18, 0)),
        stay("p", "610100", None, at(2, 17, 0), at(2, 23, 0)),
    ];
    // A Xi'an venue while the phone was in Shanghai: implausible.
    let why = venue_implausibility("610104", at(1, 12, 0), &stays).unwrap();
    assert_eq!(why.seen_in.city_code, "310101");
    // In Xi'an (another district, same city): plausible.
    assert!(venue_implausibility("610104", at(2, 12, 0), &stays).is_none());
    // No carrier record at that time: nothing is claimed.
    assert!(venue_implausibility("610104", at(5, 12, 0), &stays).is_none());
    // Shanghai's districts are one city.
    assert!(venue_implausibility("310115", at(1, 12, 0), &stays).is_none());
    assert!(same_city("110105", "110000"));
    assert!(!same_city("610113", "620100"));
    assert!(is_region_code("610113"));
    assert!(!is_region_code("991234"));
    assert!(!is_region_code("61011"));
    assert!(!is_region_code("61011x"));
}

#[test]
fn parameters_are_data_with_defaults_and_bounds() {
    let p = TracingParams::from_json_str(r#"{"min_copresence_minutes": 15}"#).unwrap();
    assert_eq!(p.min_copresence_minutes, 15);
    assert_eq!(p.cell_size_m, 800);
    assert_eq!(p.min_cumulative_hours, 30);
    assert_eq!(p.lookback_days, 14);
    assert!(matches!(
        TracingParams::from_json_str(r#"{"lookback_days": 0}"#),
        Err(TracingError::OutOfRange {
            field: "lookback_days",
            ..
        })
    ));
    assert!(matches!(
        TracingParams::from_json_str(r#"{"cell": 1}"#),
        Err(TracingError::Json(_))
    ));
    assert_eq!(
        Window::new(at(1, 0, 0), at(1, 0, 0)),
        Err(TracingError::EmptyWindow)
    );
}
