//! The itinerary card's computation (window, merge, 4-hour rule, asterisks,
//! exposures, CertLogic colour) for one phone, as its stays and the risk
//! areas of its cities grow. The store query and HTTP around it are
//! measured end to end by `bench/itinerary.sh card`.
//!
//! Run with `cargo bench -p healthcode-core --bench itinerary`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use divan::{black_box, Bencher};
use healthcode_core::itinerary::{
    compute_card, AreaLevel, CardRuleSet, CardWindow, CityCode, RiskArea, Stay,
};
use healthcode_core::Bilingual;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2022-05-20 12:00 +08:00);
const CITIES: [&str; 8] = [
    "110100", "220100", "310100", "440300", "330100", "510100", "420100", "610100",
];

fn main() {
    divan::main();
}

fn stays(n: usize) -> Vec<Stay> {
    (0..n)
        .map(|i| {
            let start =
                NOW - Duration::hours(400) + Duration::hours(i as i64 * 377 / n.max(1) as i64);
            Stay::new(
                CityCode::parse(CITIES[i % CITIES.len()]).unwrap(),
                start,
                start + Duration::hours(1 + (i as i64 % 9)),
            )
            .unwrap()
        })
        .collect()
}

fn areas(n: usize) -> Vec<RiskArea> {
    (0..n)
        .map(|i| RiskArea {
            id: format!("ra-{i}"),
            city: CityCode::parse(CITIES[i % CITIES.len()]).unwrap(),
            area: Bilingual::new("某区", "A district"),
            level: if i % 3 == 0 {
                AreaLevel::High
            } else {
                AreaLevel::Medium
            },
            starts_at: NOW - Duration::hours(300 + i as i64),
            ends_at: (i % 2 == 0).then(|| NOW - Duration::hours(100)),
        })
        .collect()
}

/// Stays of one phone in the window (a typical fortnight is 10 to 50).
#[divan::bench(args = [10, 50, 200, 1000])]
fn card_by_stays(bencher: Bencher, n: usize) {
    let rules = CardRuleSet::shipped().unwrap();
    let s = stays(n);
    let a = areas(8);
    bencher.bench(|| {
        black_box(compute_card(
            black_box(&s),
            black_box(&a),
            NOW,
            CardWindow::default(),
            &rules,
        ))
    });
}

/// Risk areas in the phone's cities.
#[divan::bench(args = [0, 8, 64, 512])]
fn card_by_areas(bencher: Bencher, n: usize) {
    let rules = CardRuleSet::shipped().unwrap();
    let s = stays(20);
    let a = areas(n);
    bencher.bench(|| {
        black_box(compute_card(
            black_box(&s),
            black_box(&a),
            NOW,
            CardWindow::default(),
            &rules,
        ))
    });
}
