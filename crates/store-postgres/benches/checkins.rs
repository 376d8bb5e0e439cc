//! Check-in ingestion in batches, on SQLite (a WAL file) and PostgreSQL (a
//! throwaway cluster from healthcode-testkit): `VenueStore::insert_checkins`
//! (multi-row INSERT / UNNEST arrays) and `insert_checkins_once` (with the
//! client-id table of the batch API). Throughput is divan's items/s.
//!
//! ```sh
//! cargo bench -p healthcode-store-postgres --bench checkins
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;

use divan::counter::ItemsCount;
use divan::Bencher;
use healthcode_store::venues::{CheckIn, VenueId};
use healthcode_store::{PersonId, VenueStore};
use healthcode_store_postgres::PgStore;
use healthcode_store_sqlite::SqliteStore;
use time::macros::datetime;
use time::Duration;

fn main() {
    divan::main();
    // A static is never dropped: stop the cluster (and remove its
    // directory) here, or every run leaves a PostgreSQL server behind.
    if let Some(cluster) = CLUSTER.lock().unwrap().take() {
        drop(cluster);
    }
}

/// The benches' PostgreSQL cluster, taken and dropped when they end.
static CLUSTER: std::sync::Mutex<Option<healthcode_testkit::PgCluster>> =
    std::sync::Mutex::new(None);

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

struct Pg {
    store: PgStore,
}

fn pg() -> &'static Pg {
    static PG: OnceLock<Pg> = OnceLock::new();
    PG.get_or_init(|| {
        let cluster = healthcode_testkit::PgCluster::start().expect("a PostgreSQL cluster");
        let store = runtime().block_on(async {
            let url = cluster.create_database().await.unwrap();
            PgStore::connect(&url).await.unwrap()
        });
        *CLUSTER.lock().unwrap() = Some(cluster);
        Pg { store }
    })
}

fn sqlite() -> &'static (SqliteStore, tempfile::TempDir) {
    static DB: OnceLock<(SqliteStore, tempfile::TempDir)> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = runtime()
            .block_on(SqliteStore::open_dir(dir.path()))
            .unwrap();
        (store, dir)
    })
}

/// A batch of distinct check-ins (arrival times never repeat across calls):
/// 100,000 people, 2,000 venues, stays of 30 to 180 minutes.
fn batch(n: usize) -> Vec<CheckIn> {
    static NEXT: AtomicI64 = AtomicI64::new(0);
    let first = NEXT.fetch_add(n as i64, Ordering::Relaxed);
    let t0 = datetime!(2026-11-01 00:00 UTC);
    (0..n as i64)
        .map(|i| {
            let k = first + i;
            let mix = (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let mut person = [0u8; 16];
            person[8..].copy_from_slice(&(mix % 100_000).to_be_bytes());
            let arrived = t0 + Duration::milliseconds(k * 37);
            CheckIn {
                venue: VenueId((mix >> 20) % 2_000 + 1),
                person: PersonId::from_bytes(person),
                dependent: 0,
                arrived,
                left: arrived + Duration::minutes(30 + (mix >> 40) as i64 % 150),
            }
        })
        .collect()
}

const SIZES: [usize; 2] = [1_000, 10_000];

#[divan::bench(args = SIZES, sample_count = 20, sample_size = 1)]
fn sqlite_insert(bencher: Bencher, n: usize) {
    let store = &sqlite().0;
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(|| batch(n))
        .bench_values(|rows| runtime().block_on(store.insert_checkins(&rows)).unwrap());
}

#[divan::bench(args = SIZES, sample_count = 20, sample_size = 1)]
fn postgres_insert(bencher: Bencher, n: usize) {
    let store = &pg().store;
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(|| batch(n))
        .bench_values(|rows| runtime().block_on(store.insert_checkins(&rows)).unwrap());
}

fn with_ids(rows: Vec<CheckIn>) -> Vec<(String, CheckIn)> {
    rows.into_iter()
        .map(|c| {
            (
                format!("{}-{}", c.person, c.arrived.unix_timestamp_nanos()),
                c,
            )
        })
        .collect()
}

#[divan::bench(args = SIZES, sample_count = 20, sample_size = 1)]
fn sqlite_insert_once(bencher: Bencher, n: usize) {
    let store = &sqlite().0;
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(|| with_ids(batch(n)))
        .bench_values(|items| {
            runtime()
                .block_on(store.insert_checkins_once("bench", &items))
                .unwrap()
        });
}

#[divan::bench(args = SIZES, sample_count = 20, sample_size = 1)]
fn postgres_insert_once(bencher: Bencher, n: usize) {
    let store = &pg().store;
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(|| with_ids(batch(n)))
        .bench_values(|items| {
            runtime()
                .block_on(store.insert_checkins_once("bench", &items))
                .unwrap()
        });
}
