//! Conformance of [`crate::VenueStore`]: venues, dependents, check-ins,
//! sealed check-ins, retention and erasure.

use healthcode_core::Identity;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::{assert_conflict, person, person_id, resident_id, Must};
use crate::lifecycle::{ErasedCategory, RetentionCutoffs};
use crate::venues::{
    CheckIn, Dependent, HourKeys, HourReveal, SealedCheckIn, VenueId, VenueMode, VenueRecord,
    MAX_STAY,
};
use crate::{Store, StoreError};

fn t0() -> OffsetDateTime {
    datetime!(2022-05-01 10:00:00.123456789 UTC)
}

/// A venue distinguishable by `n`; sealed venues carry three hour keys.
pub fn venue(n: u8, mode: VenueMode) -> VenueRecord {
    VenueRecord {
        id: VenueId(0xf000_0000_0000_0000 | u64::from(n)),
        name: format!("演示商场 DEMO Mall {n}"),
        address: format!("西安市雁塔区演示路 {n} 号"),
        region_code: "610113".to_owned(),
        category: "mall".to_owned(),
        cell: (n & 1 == 1).then(|| format!("g800:4281:{n}")),
        mode,
        operator_token_hash: [n; 32],
        demo: n & 1 == 0,
        registered_by: "official:zhang".to_owned(),
        created_at: t0() + Duration::minutes(i64::from(n)),
        hour_keys: (mode == VenueMode::Sealed).then(|| HourKeys {
            first_hour: 458_000,
            publics: (0..96u8).collect(),
        }),
    }
}

fn checkin(venue: u8, person: u8, dependent: u16, from_min: i64, to_min: i64) -> CheckIn {
    CheckIn {
        venue: VenueId(0xf000_0000_0000_0000 | u64::from(venue)),
        person: person_id(person),
        dependent,
        arrived: t0() + Duration::minutes(from_min),
        left: t0() + Duration::minutes(to_min),
    }
}

/// Venues come back as stored, by id and by operator token; ids and
/// operator tokens are unique; the list is newest first.
pub async fn venues_round_trip<S: Store>(backend: &str, store: S) {
    let open = venue(1, VenueMode::Open);
    let sealed = venue(2, VenueMode::Sealed);
    store.create_venue(&open).await.must(backend);
    store.create_venue(&sealed).await.must(backend);
    assert_eq!(
        store.venue(open.id).await.must(backend),
        Some(open.clone()),
        "[{backend}]"
    );
    let back = store.venue(sealed.id).await.must(backend).unwrap();
    assert_eq!(back, sealed, "[{backend}]");
    let keys = back.hour_keys.unwrap();
    assert_eq!(keys.key(458_001).unwrap()[0], 32, "[{backend}]");
    assert_eq!(keys.key(458_003), None, "[{backend}]");
    assert_eq!(keys.key(457_999), None, "[{backend}]");
    assert_eq!(keys.last_hour(), 458_002, "[{backend}]");
    assert_eq!(
        store.venue_by_operator(&[2; 32]).await.must(backend),
        Some(sealed.clone()),
        "[{backend}]"
    );
    assert_eq!(store.venue_by_operator(&[9; 32]).await.must(backend), None);
    assert_eq!(store.venue(VenueId(7)).await.must(backend), None);
    let listed = store.venues(10).await.must(backend);
    assert_eq!(listed, vec![sealed.clone(), open.clone()], "[{backend}]");
    assert_eq!(store.venues(1).await.must(backend).len(), 1);

    let mut same_id = venue(3, VenueMode::Open);
    same_id.id = open.id;
    assert_conflict(backend, "same venue id", store.create_venue(&same_id).await);
    let mut same_token = venue(3, VenueMode::Open);
    same_token.operator_token_hash = open.operator_token_hash;
    assert_conflict(
        backend,
        "same operator token",
        store.create_venue(&same_token).await,
    );
    // The top bit set: the id survives the signed column.
    assert_eq!(VenueId::from_i64(open.id.to_i64()), open.id);
    assert_eq!(VenueId::parse(&open.id.to_string()), Some(open.id));
    assert_eq!(VenueId::parse("xyz"), None);
}

/// Dependents are listed under their guardian by number; a document is
/// listed once per guardian; a guardian must exist.
pub async fn dependents<S: Store>(backend: &str, store: S) {
    store.create_person(&person(1)).await.must(backend);
    store.create_person(&person(2)).await.must(backend);
    let dep = |guardian: u8, number: u16, serial: u32| Dependent {
        guardian: person_id(guardian),
        number,
        full_name: format!("李小{number}"),
        identity: Identity::Resident {
            id: resident_id(serial),
        },
        created_at: t0(),
    };
    store.add_dependent(&dep(1, 2, 502)).await.must(backend);
    store.add_dependent(&dep(1, 1, 501)).await.must(backend);
    // Another guardian may list the same child (two parents).
    store.add_dependent(&dep(2, 1, 501)).await.must(backend);
    assert_eq!(
        store.dependents(&person_id(1)).await.must(backend),
        vec![dep(1, 1, 501), dep(1, 2, 502)],
        "[{backend}]"
    );
    assert_conflict(
        backend,
        "same number",
        store.add_dependent(&dep(1, 1, 503)).await,
    );
    assert_conflict(
        backend,
        "same document",
        store.add_dependent(&dep(1, 3, 501)).await,
    );
    match store.add_dependent(&dep(9, 1, 504)).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("[{backend}] dependent of nobody: {other:?}"),
    }
    assert!(store
        .dependents(&person_id(3))
        .await
        .must(backend)
        .is_empty());
}

/// Check-ins: duplicates are skipped, reads by venue and by person, the
/// co-located query of tracing, check-out; large batches in one call.
pub async fn checkins_and_overlaps<S: Store>(backend: &str, store: S) {
    let case = vec![checkin(1, 1, 0, 0, 60), checkin(2, 1, 0, 120, 150)];
    let others = vec![
        checkin(1, 2, 0, 30, 90),           // overlaps the case at venue 1
        checkin(1, 2, 1, 30, 90),           // their child
        checkin(1, 3, 0, -60, 0),           // left when the case arrived
        checkin(2, 3, 0, 140, 200),         // overlaps at venue 2
        checkin(3, 4, 0, 0, 60),            // another venue
        checkin(1, 5, 0, 60 * 30, 60 * 31), // venue 1, the next day
    ];
    let all: Vec<CheckIn> = case.iter().chain(&others).cloned().collect();
    assert_eq!(
        store.insert_checkins(&all).await.must(backend),
        8,
        "[{backend}]"
    );
    assert_eq!(
        store.insert_checkins(&all[..3]).await.must(backend),
        0,
        "[{backend}] dupes"
    );
    assert_eq!(store.insert_checkins(&[]).await.must(backend), 0);

    let venue1 = store
        .venue_checkins(
            case[0].venue,
            t0() - Duration::hours(2),
            t0() + Duration::days(2),
            10,
        )
        .await
        .must(backend);
    let arrivals: Vec<i64> = venue1
        .iter()
        .map(|c| (c.arrived - t0()).whole_minutes())
        .collect();
    assert_eq!(
        arrivals,
        vec![1800, 30, 30, 0, -60],
        "[{backend}] newest first"
    );
    assert_eq!(venue1[3], case[0], "[{backend}] exact instants");
    let limited = store
        .venue_checkins(case[0].venue, t0(), t0() + Duration::days(2), 2)
        .await
        .must(backend);
    assert_eq!(limited.len(), 2);

    let mine = store
        .person_checkins(
            &person_id(1),
            t0() + Duration::minutes(59),
            t0() + Duration::hours(3),
        )
        .await
        .must(backend);
    assert_eq!(mine, case, "[{backend}] stays overlapping the window");
    let mine = store
        .person_checkins(
            &person_id(1),
            t0() + Duration::minutes(60),
            t0() + Duration::hours(3),
        )
        .await
        .must(backend);
    assert_eq!(
        mine,
        vec![case[1].clone()],
        "[{backend}] ended at the window's start"
    );

    let mut near = store
        .colocated_checkins(
            &person_id(1),
            t0() - Duration::hours(1),
            t0() + Duration::hours(5),
        )
        .await
        .must(backend);
    near.sort_by_key(|c| (c.arrived, c.venue, c.person.clone(), c.dependent));
    let mut expected = vec![
        case[0].clone(),
        case[1].clone(),
        others[0].clone(),
        others[1].clone(),
        others[3].clone(),
    ];
    expected.sort_by_key(|c| (c.arrived, c.venue, c.person.clone(), c.dependent));
    assert_eq!(near, expected, "[{backend}] co-located");

    // Check-out shortens a stay; unknown check-ins are reported.
    let out_at = t0() + Duration::minutes(20);
    assert!(store.check_out(&case[0], out_at).await.must(backend));
    assert!(!store
        .check_out(&checkin(9, 9, 0, 0, 1), out_at)
        .await
        .must(backend));
    let mine = store
        .person_checkins(&person_id(1), t0(), t0() + Duration::minutes(30))
        .await
        .must(backend);
    assert_eq!(mine[0].left, out_at, "[{backend}]");

    // A batch larger than one statement's parameters.
    let many: Vec<CheckIn> = (0..5000)
        .map(|i| checkin(7, (i % 200) as u8, 0, i64::from(i), i64::from(i) + 30))
        .collect();
    assert_eq!(
        store.insert_checkins(&many).await.must(backend),
        5000,
        "[{backend}]"
    );
    let at7 = store
        .venue_checkins(many[0].venue, t0(), t0() + Duration::days(10), 10_000)
        .await
        .must(backend);
    assert_eq!(at7.len(), 5000, "[{backend}]");
    assert!(MAX_STAY >= Duration::hours(24));
}

/// Client-supplied ids make batch ingestion idempotent within a scope.
pub async fn checkins_once<S: Store>(backend: &str, store: S) {
    let items: Vec<(String, CheckIn)> = vec![
        ("a".into(), checkin(1, 1, 0, 0, 30)),
        ("b".into(), checkin(1, 2, 0, 0, 30)),
        ("a".into(), checkin(1, 3, 0, 0, 30)), // the same id again in the batch
    ];
    assert_eq!(
        store
            .insert_checkins_once("scanner-1", &items)
            .await
            .must(backend),
        vec![true, true, false],
        "[{backend}]"
    );
    // Retried: nothing new, nothing stored twice.
    store.create_person(&person(1)).await.must(backend);
    store.create_person(&person(3)).await.must(backend);
    let known = store
        .known_people(&[person_id(1), person_id(2), person_id(3), person_id(1)])
        .await
        .must(backend);
    assert_eq!(
        known,
        [person_id(1), person_id(3)].into_iter().collect(),
        "[{backend}] known people"
    );
    assert!(store.known_people(&[]).await.must(backend).is_empty());
    assert_eq!(
        store
            .insert_checkins_once("scanner-1", &items)
            .await
            .must(backend),
        vec![false, false, false],
        "[{backend}]"
    );
    let stored = store
        .venue_checkins(
            items[0].1.venue,
            t0() - Duration::hours(1),
            t0() + Duration::hours(1),
            100,
        )
        .await
        .must(backend);
    assert_eq!(stored.len(), 2, "[{backend}] {stored:?}");
    // Another caller's ids are its own.
    let other = vec![("a".to_owned(), checkin(1, 4, 0, 0, 30))];
    assert_eq!(
        store
            .insert_checkins_once("scanner-2", &other)
            .await
            .must(backend),
        vec![true]
    );
    assert!(store
        .insert_checkins_once("scanner-2", &[])
        .await
        .must(backend)
        .is_empty());
}

/// Sealed check-ins are kept per venue and hour; reveals replace.
pub async fn sealed_checkins<S: Store>(backend: &str, store: S) {
    let v = VenueId(0xf000_0000_0000_0002);
    let sealed = |hour: i64, n: u8| SealedCheckIn {
        venue: v,
        hour,
        ephemeral: [n; 32],
        ciphertext: vec![n; 40 + usize::from(n)],
    };
    for (hour, n) in [(458_000, 1), (458_000, 2), (458_001, 3), (458_005, 4)] {
        store.insert_sealed(&sealed(hour, n)).await.must(backend);
    }
    assert_conflict(
        backend,
        "same ephemeral key",
        store.insert_sealed(&sealed(458_000, 1)).await,
    );
    assert_eq!(
        store.sealed_checkins(v, 458_000).await.must(backend),
        vec![sealed(458_000, 1), sealed(458_000, 2)],
        "[{backend}]"
    );
    assert_eq!(
        store.sealed_counts(v, 458_000, 458_004).await.must(backend),
        vec![(458_000, 2), (458_001, 1)],
        "[{backend}]"
    );
    let reveal = |hour: i64, n: u8| HourReveal {
        venue: v,
        hour,
        secret: [n; 32],
        revealed_at: t0(),
    };
    store.put_reveal(&reveal(458_001, 1)).await.must(backend);
    store.put_reveal(&reveal(458_000, 2)).await.must(backend);
    store.put_reveal(&reveal(458_001, 3)).await.must(backend);
    assert_eq!(
        store.reveals(v).await.must(backend),
        vec![reveal(458_000, 2), reveal(458_001, 3)],
        "[{backend}]"
    );
    assert!(store.reveals(VenueId(1)).await.must(backend).is_empty());
}

/// Cutoffs that reach only check-ins: everything else's bound lies in 1970.
pub fn checkin_cutoffs(checkins_before: OffsetDateTime) -> RetentionCutoffs {
    let epoch = OffsetDateTime::UNIX_EPOCH;
    RetentionCutoffs {
        now: epoch,
        outbox_before: epoch,
        carrier_stays_before: epoch,
        checkins_before,
        decided_requests_before: epoch,
    }
}

fn sealed(venue: u8, hour: i64, n: u8) -> SealedCheckIn {
    SealedCheckIn {
        venue: VenueId(0xf000_0000_0000_0000 | u64::from(venue)),
        hour,
        ephemeral: [n; 32],
        ciphertext: vec![n; 48],
    }
}

/// Retention deletes stays that ended before the cutoff with their client
/// ids, sealed hour slots that ended by it with their revealed secrets,
/// counting each apart (a dry run counts the same and deletes nothing);
/// shutdown erases every check-in and dependent, keeping venues.
pub async fn checkin_retention_and_erasure<S: Store>(backend: &str, store: S) {
    store.create_person(&person(1)).await.must(backend);
    store
        .create_venue(&venue(1, VenueMode::Open))
        .await
        .must(backend);
    let cutoff = t0() - Duration::days(28);
    let minutes = |t: OffsetDateTime| (t - t0()).whole_minutes();
    let old = checkin(1, 1, 0, -60 * 24 * 30, -60 * 24 * 30 + 60);
    // Ends a nanosecond before the cutoff: goes; ends at it: stays.
    let mut just_before = checkin(1, 1, 1, minutes(cutoff) - 90, 0);
    just_before.left = cutoff - Duration::nanoseconds(1);
    let mut at_cutoff = checkin(1, 1, 2, minutes(cutoff) - 90, 0);
    at_cutoff.left = cutoff;
    let recent = checkin(1, 1, 0, 0, 60);
    store
        .insert_checkins(&[old, just_before, at_cutoff.clone(), recent.clone()])
        .await
        .must(backend);
    store
        .insert_checkins_once(
            "s",
            &[
                ("x".into(), checkin(1, 2, 0, -60 * 24 * 30, -60 * 24 * 29)),
                ("y".into(), checkin(1, 2, 0, -60, -30)),
            ],
        )
        .await
        .must(backend);
    // Hour slots: a month old and the one ending at the cutoff's hour go;
    // the slot the cutoff falls in and the current one stay.
    let hour_now = t0().unix_timestamp() / 3600;
    let cut_hour = cutoff.unix_timestamp() / 3600;
    assert_eq!(crate::lifecycle::sealed_hour_cutoff(cutoff), cut_hour);
    for (n, hour) in [
        (1u8, hour_now - 24 * 30),
        (2, cut_hour - 1),
        (3, cut_hour),
        (4, hour_now),
    ] {
        store.insert_sealed(&sealed(1, hour, n)).await.must(backend);
    }
    for hour in [hour_now - 24 * 30, cut_hour] {
        store
            .put_reveal(&HourReveal {
                venue: VenueId(0xf000_0000_0000_0001),
                hour,
                secret: [7; 32],
                revealed_at: t0(),
            })
            .await
            .must(backend);
    }
    let cutoffs = checkin_cutoffs(cutoff);
    let count = |counts: &[ErasedCategory], c: &str| {
        counts.iter().find(|e| e.category == c).map(|e| e.records)
    };
    let dry = store.purge_retention(&cutoffs, true).await.must(backend);
    for (category, n) in [
        ("checkins", 3),
        ("checkin_client_ids", 1),
        ("sealed_checkins", 2),
        ("hour_reveals", 1),
        ("sessions", 0),
        ("carrier_stays", 0),
        ("decided_approval_requests", 0),
    ] {
        assert_eq!(
            count(&dry, category),
            Some(n),
            "[{backend}] {category}: {dry:?}"
        );
    }
    assert_eq!(
        store
            .person_checkins(
                &person_id(1),
                t0() - Duration::days(60),
                t0() + Duration::days(1)
            )
            .await
            .must(backend)
            .len(),
        4,
        "[{backend}] a dry run deletes nothing"
    );
    let purged = store.purge_retention(&cutoffs, false).await.must(backend);
    assert_eq!(
        purged, dry,
        "[{backend}] the purge deletes what the dry run counted"
    );
    let left = store
        .person_checkins(
            &person_id(1),
            t0() - Duration::days(60),
            t0() + Duration::days(1),
        )
        .await
        .must(backend);
    assert_eq!(left, vec![at_cutoff, recent], "[{backend}]");
    // The client id went with its check-in: the same id is new again; the
    // recent one is still known.
    assert_eq!(
        store
            .insert_checkins_once(
                "s",
                &[
                    ("x".into(), checkin(1, 2, 0, 0, 30)),
                    ("y".into(), checkin(1, 2, 0, 5, 30)),
                ]
            )
            .await
            .must(backend),
        vec![true, false]
    );
    let v = VenueId(0xf000_0000_0000_0001);
    for (hour, n) in [
        (hour_now - 24 * 30, 0),
        (cut_hour - 1, 0),
        (cut_hour, 1),
        (hour_now, 1),
    ] {
        assert_eq!(
            store.sealed_checkins(v, hour).await.must(backend).len(),
            n,
            "[{backend}] sealed hour {hour}"
        );
    }
    let reveals: Vec<i64> = store
        .reveals(v)
        .await
        .must(backend)
        .iter()
        .map(|r| r.hour)
        .collect();
    assert_eq!(reveals, vec![cut_hour], "[{backend}]");
    assert!(
        store
            .purge_retention(&cutoffs, false)
            .await
            .must(backend)
            .iter()
            .all(|c| c.records == 0),
        "[{backend}] nothing left to purge"
    );

    store
        .add_dependent(&Dependent {
            guardian: person_id(1),
            number: 1,
            full_name: "李小一".into(),
            identity: Identity::Resident {
                id: resident_id(601),
            },
            created_at: t0(),
        })
        .await
        .must(backend);
    let erased = store.erase_checkin_data().await.must(backend);
    assert_eq!(
        erased,
        vec![
            ErasedCategory::new("checkins", 4),
            ErasedCategory::new("checkin_client_ids", 2),
            ErasedCategory::new("sealed_checkins", 2),
            ErasedCategory::new("hour_reveals", 1),
            ErasedCategory::new("dependents", 1),
        ],
        "[{backend}]"
    );
    assert!(store
        .dependents(&person_id(1))
        .await
        .must(backend)
        .is_empty());
    assert!(store
        .erase_checkin_data()
        .await
        .must(backend)
        .iter()
        .all(|c| c.records == 0));
    assert!(
        store.venue(v).await.must(backend).is_some(),
        "[{backend}] venues stay"
    );
    assert!(
        store.person(&person_id(1)).await.must(backend).is_some(),
        "[{backend}] people are the health code's"
    );
}

/// Carrier stays are found by cell and time for spatiotemporal companions.
pub async fn cell_stays<S: Store>(backend: &str, store: S) {
    use crate::itinerary::CarrierStay;
    use healthcode_core::itinerary::CityCode;
    let stay = |phone: u8, cell: Option<&str>, from_h: i64, to_h: i64| CarrierStay {
        phone: super::phone(phone),
        city: CityCode::parse("610100").unwrap(),
        first_seen: t0() + Duration::hours(from_h),
        last_seen: t0() + Duration::hours(to_h),
        cell: cell.map(str::to_owned),
        carrier: None,
    };
    let stays = vec![
        stay(1, Some("A"), 0, 5),
        stay(2, Some("A"), 4, 8),
        stay(3, Some("B"), 1, 2),
        stay(4, None, 0, 10),
        stay(5, Some("A"), 20, 30),
        stay(6, Some("C"), 0, 3),
    ];
    store.insert_carrier_stays(&stays).await.must(backend);
    let found = store
        .cell_stays(
            &["A".to_owned(), "B".to_owned()],
            t0() + Duration::hours(1),
            t0() + Duration::hours(10),
        )
        .await
        .must(backend);
    let phones: Vec<u8> = found.iter().map(|s| s.phone.0[0]).collect();
    assert_eq!(phones, vec![1, 3, 2], "[{backend}] {found:?}");
    assert_eq!(found[0].cell.as_deref(), Some("A"));
    assert!(store
        .cell_stays(&[], t0(), t0() + Duration::hours(1))
        .await
        .must(backend)
        .is_empty());
}
