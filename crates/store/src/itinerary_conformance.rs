//! The itinerary part of the conformance suite ([`crate::itinerary::ItineraryStore`]),
//! expanded by [`itinerary_conformance_tests!`](crate::itinerary_conformance_tests)
//! beside [`conformance_tests!`](crate::conformance_tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use healthcode_core::itinerary::{AreaLevel, CityCode, RiskArea};
use healthcode_core::{Bilingual, Colour};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::conformance::phone;
use crate::itinerary::{
    CardQueryRecord, CarrierAccount, CarrierStay, InsertCounts, ItineraryErasure, RiskAreaRecord,
};
use crate::{Store, StoreError};

#[macro_export]
macro_rules! itinerary_conformance_tests {
    ($backend:expr, $fresh:path) => {
        $crate::__itinerary_each!(
            $backend,
            $fresh,
            [
                stays_insert_idempotently_and_read_by_window,
                stays_large_batches_and_purge,
                erase_itinerary_data_leaves_areas,
                risk_areas_history,
                card_queries_and_carrier_accounts,
            ]
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __itinerary_each {
    ($backend:expr, $fresh:path, [$($test:ident),* $(,)?]) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                if let Some((store, _guard)) = $fresh().await {
                    $crate::itinerary_conformance::$test($backend, store).await;
                }
            }
        )*
    };
}

const T: OffsetDateTime = datetime!(2022-05-01 08:00:00.123456789 +08:00);

fn city(s: &str) -> CityCode {
    CityCode::parse(s).unwrap()
}

fn stay(n: u8, c: &str, start_h: i64, hours: i64) -> CarrierStay {
    CarrierStay {
        phone: phone(n),
        city: city(c),
        first_seen: T + Duration::hours(start_h),
        last_seen: T + Duration::hours(start_h + hours),
        cell: (start_h % 2 == 0).then(|| format!("cell-{start_h}")),
        carrier: Some("demo-carrier".into()),
    }
}

fn utc(s: &CarrierStay) -> CarrierStay {
    CarrierStay {
        first_seen: s.first_seen.to_offset(time::UtcOffset::UTC),
        last_seen: s.last_seen.to_offset(time::UtcOffset::UTC),
        ..s.clone()
    }
}

pub async fn stays_insert_idempotently_and_read_by_window<S: Store>(backend: &str, store: S) {
    let a = stay(1, "110100", 0, 10);
    let b = stay(1, "220100", 24, 30);
    let c = stay(1, "220100", 100, 5);
    let other = stay(2, "110100", 0, 10);
    let n = store
        .insert_carrier_stays(&[a.clone(), b.clone(), c.clone(), other.clone()])
        .await
        .unwrap();
    assert_eq!(
        n,
        InsertCounts {
            inserted: 4,
            already_present: 0
        },
        "[{backend}]"
    );
    // Re-import, with a duplicate inside the batch and a changed last_seen:
    // the first stored record stays as it was.
    let mut changed = b.clone();
    changed.last_seen += Duration::hours(1);
    let n = store
        .insert_carrier_stays(&[a.clone(), a.clone(), changed, stay(1, "310100", 200, 4)])
        .await
        .unwrap();
    assert_eq!(
        n,
        InsertCounts {
            inserted: 1,
            already_present: 3
        },
        "[{backend}]"
    );
    // A new stay twice in one batch is stored once.
    let e = stay(3, "110100", 50, 2);
    let n = store
        .insert_carrier_stays(&[e.clone(), stay(3, "110100", 60, 2), e.clone()])
        .await
        .unwrap();
    assert_eq!(
        n,
        InsertCounts {
            inserted: 2,
            already_present: 1
        },
        "[{backend}]"
    );
    assert_eq!(
        store.insert_carrier_stays(&[]).await.unwrap(),
        InsertCounts::default()
    );
    // Item by item: present, new, new repeated in the batch.
    let d = stay(1, "440300", 300, 6);
    let each = store
        .insert_carrier_stays_each(&[a.clone(), d.clone(), d.clone()])
        .await
        .unwrap();
    assert_eq!(each, vec![false, true, false], "[{backend}]");
    assert!(store
        .insert_carrier_stays_each(&[])
        .await
        .unwrap()
        .is_empty());

    // Overlap with [T+30h, T+102h]: b (24..54) and c (100..105), not a (0..10).
    let got = store
        .carrier_stays(&phone(1), T + Duration::hours(30), T + Duration::hours(102))
        .await
        .unwrap();
    assert_eq!(got, vec![utc(&b), utc(&c)], "[{backend}]");
    // Inclusive bounds: a stay ending exactly at `from` counts.
    let got = store
        .carrier_stays(&phone(1), T + Duration::hours(10), T + Duration::hours(10))
        .await
        .unwrap();
    assert_eq!(got, vec![utc(&a)], "[{backend}]");
    assert!(store
        .carrier_stays(&phone(9), T, T + Duration::days(30))
        .await
        .unwrap()
        .is_empty());
}

pub async fn stays_large_batches_and_purge<S: Store>(backend: &str, store: S) {
    // More rows than one statement holds in either backend.
    let stays: Vec<CarrierStay> = (0..12_345i64)
        .map(|i| CarrierStay {
            phone: phone((i % 200) as u8),
            city: city(["110100", "220100", "440300"][(i % 3) as usize]),
            first_seen: T + Duration::minutes(i),
            last_seen: T + Duration::minutes(i + 300),
            cell: None,
            carrier: None,
        })
        .collect();
    let n = store.insert_carrier_stays(&stays).await.unwrap();
    assert_eq!(n.inserted, 12_345, "[{backend}]");
    let n = store.insert_carrier_stays(&stays).await.unwrap();
    assert_eq!(
        n,
        InsertCounts {
            inserted: 0,
            already_present: 12_345
        },
        "[{backend}]"
    );
    // last_seen < cutoff: minutes 0..=99 + 300 end before T+400min.
    let purged = store
        .purge_carrier_stays_before(T + Duration::minutes(400))
        .await
        .unwrap();
    assert_eq!(purged, 100, "[{backend}]");
    let left = store
        .carrier_stays(&phone(0), T, T + Duration::days(30))
        .await
        .unwrap();
    assert!(left
        .iter()
        .all(|s| s.last_seen >= T + Duration::minutes(400)));
    // Phone 0 had i = 0, 200, …, 12,200; i = 0 was purged.
    assert_eq!(left.len(), 61, "[{backend}]");
}

fn area(id: &str, c: &str, level: AreaLevel, start_h: i64) -> RiskAreaRecord {
    RiskAreaRecord {
        area: RiskArea {
            id: id.into(),
            city: city(c),
            area: Bilingual::new("南关区", "Nanguan District"),
            level,
            starts_at: T + Duration::hours(start_h),
            ends_at: None,
        },
        published_by: "official:alice".into(),
        published_at: T,
        ended_by: None,
        supersedes: None,
    }
}

fn utc_area(mut r: RiskAreaRecord) -> RiskAreaRecord {
    r.area.starts_at = r.area.starts_at.to_offset(time::UtcOffset::UTC);
    r.area.ends_at = r.area.ends_at.map(|e| e.to_offset(time::UtcOffset::UTC));
    r.published_at = r.published_at.to_offset(time::UtcOffset::UTC);
    r
}

pub async fn erase_itinerary_data_leaves_areas<S: Store>(backend: &str, store: S) {
    store
        .insert_carrier_stays(&[stay(1, "110100", 0, 10), stay(2, "110100", 0, 10)])
        .await
        .unwrap();
    store.record_card_query(&query(1, 0)).await.unwrap();
    store
        .create_risk_area(&area("ra-1", "110100", AreaLevel::High, 0))
        .await
        .unwrap();
    let erased = store.erase_itinerary_data().await.unwrap();
    assert_eq!(
        erased,
        ItineraryErasure {
            carrier_stays: 2,
            card_queries: 1
        },
        "[{backend}]"
    );
    assert!(store
        .carrier_stays(&phone(1), T - Duration::days(1), T + Duration::days(1))
        .await
        .unwrap()
        .is_empty());
    assert!(store.card_queries(&phone(1)).await.unwrap().is_empty());
    assert_eq!(store.risk_areas().await.unwrap().len(), 1, "[{backend}]");
    assert_eq!(
        store.erase_itinerary_data().await.unwrap(),
        ItineraryErasure::default()
    );
}

pub async fn risk_areas_history<S: Store>(backend: &str, store: S) {
    let a = area("ra-1", "220100", AreaLevel::High, 0);
    let b = area("ra-2", "220100", AreaLevel::Medium, 48);
    let c = area("ra-3", "110100", AreaLevel::Medium, 10);
    for r in [&a, &b, &c] {
        store.create_risk_area(r).await.unwrap();
    }
    assert!(matches!(
        store.create_risk_area(&a).await,
        Err(StoreError::Conflict(_))
    ));
    let ended = store
        .end_risk_area("ra-1", T + Duration::hours(24), "official:bob")
        .await
        .unwrap();
    assert_eq!(
        ended.area.ends_at,
        Some(T + Duration::hours(24)),
        "[{backend}]"
    );
    assert_eq!(ended.ended_by.as_deref(), Some("official:bob"));
    // Ending twice is refused; an unknown id is not found.
    assert!(
        matches!(
            store
                .end_risk_area("ra-1", T + Duration::hours(30), "official:bob")
                .await,
            Err(StoreError::Conflict(_))
        ),
        "[{backend}]"
    );
    assert!(matches!(
        store.end_risk_area("ra-9", T, "official:bob").await,
        Err(StoreError::NotFound(_))
    ));
    let mut ended_a = a.clone();
    ended_a.area.ends_at = Some(T + Duration::hours(24));
    ended_a.ended_by = Some("official:bob".into());
    assert_eq!(
        store.risk_area("ra-1").await.unwrap(),
        Some(utc_area(ended_a.clone()))
    );
    let all = store.risk_areas().await.unwrap();
    let ids: Vec<_> = all.iter().map(|r| r.area.id.as_str()).collect();
    assert_eq!(ids, ["ra-2", "ra-3", "ra-1"], "[{backend}]");

    // In force at some instant of [T+24h, T+30h] in Changchun: ra-1 ended
    // exactly at T+24h (exclusive end), ra-2 starts later: none.
    let changchun = [city("220100")];
    let none = store
        .risk_areas_in(&changchun, T + Duration::hours(24), T + Duration::hours(30))
        .await
        .unwrap();
    assert!(none.is_empty(), "[{backend}] {none:?}");
    let some = store
        .risk_areas_in(
            &[city("220100"), city("110100")],
            T + Duration::hours(20),
            T + Duration::hours(50),
        )
        .await
        .unwrap();
    let ids: Vec<_> = some.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["ra-1", "ra-3", "ra-2"], "[{backend}]");
    assert!(store.risk_areas_in(&[], T, T).await.unwrap().is_empty());
}

fn query(n: u8, minutes: i64) -> CardQueryRecord {
    CardQueryRecord {
        phone: phone(n),
        at: (T + Duration::minutes(minutes)).to_offset(time::UtcOffset::UTC),
        consent: true,
        window_days: 14,
        channel: "web".into(),
        colour: Colour::Yellow,
        cities: 3,
    }
}

pub async fn card_queries_and_carrier_accounts<S: Store>(backend: &str, store: S) {
    let q2 = query(1, 5);
    let q1 = CardQueryRecord {
        window_days: 7,
        channel: "alipay".into(),
        colour: Colour::Green,
        ..query(1, 1)
    };
    store.record_card_query(&q2).await.unwrap();
    store.record_card_query(&q1).await.unwrap();
    store.record_card_query(&query(2, 0)).await.unwrap();
    assert_eq!(
        store.card_queries(&phone(1)).await.unwrap(),
        vec![q1, q2],
        "[{backend}]"
    );

    let account = CarrierAccount {
        name: "demo-mobile".into(),
        display_name: "DEMO 移动 Mobile".into(),
        key_hash: [7; 32],
        created_at: T.to_offset(time::UtcOffset::UTC),
    };
    store.create_carrier_account(&account).await.unwrap();
    assert!(matches!(
        store.create_carrier_account(&account).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.carrier_account_by_key(&[7; 32]).await.unwrap(),
        Some(account),
        "[{backend}]"
    );
    assert_eq!(store.carrier_account_by_key(&[8; 32]).await.unwrap(), None);
}
