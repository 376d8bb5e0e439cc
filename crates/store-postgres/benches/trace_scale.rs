//! Tracing one case over 14 days among N check-ins on PostgreSQL: generates
//! N rows in a throwaway cluster (healthcode-testkit, under /tmp; removed
//! at exit), builds the store's own indexes, then times the tracing path:
//! `VenueStore::colocated_checkins` (one query) plus the core's
//! `venue_contacts`, for 25 different cases, and prints the median.
//!
//! ```sh
//! HEALTHCODE_TRACE_ROWS=1000000 cargo bench -p healthcode-store-postgres --bench trace_scale
//! ```
//!
//! Data shape (scaled with N so each case's work stays alike): N/50 people
//! (≈ 50 check-ins each over 30 days, ≈ 23 within 14 days), N/2000
//! venues, arrivals uniform over 30 days, stays of 30 to 180 minutes.
//! Rows are 16-byte person ids, as the store writes them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use healthcode_core::tracing::{venue_contacts, Subject, TracingParams, Visit, Window};
use healthcode_store::{PersonId, VenueStore};
use healthcode_store_postgres::{PgStore, PgStoreOptions};
use time::macros::datetime;
use time::Duration;

const DAY_NS: i64 = 86_400_000_000_000;

fn main() {
    let rows: i64 = std::env::var("HEALTHCODE_TRACE_ROWS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return; // `cargo test --benches` and `cargo bench -- --list`: nothing to do
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut cluster = healthcode_testkit::PgCluster::start().expect("a PostgreSQL cluster");
    rt.block_on(run(&mut cluster, rows));
}

async fn exec(store: &PgStore, sql: &str) {
    let started = Instant::now();
    sqlx::query(sql)
        .execute(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    eprintln!(
        "  {:>7.1} s  {}",
        started.elapsed().as_secs_f64(),
        sql.lines().next().unwrap_or("")
    );
}

async fn connect(url: &str) -> PgStore {
    PgStore::connect_with(
        url,
        PgStoreOptions {
            max_connections: 4,
            ..PgStoreOptions::default()
        },
    )
    .await
    .unwrap()
}

/// Empties the kernel's page cache (root only; says so otherwise).
fn drop_os_caches() -> bool {
    let synced = std::process::Command::new("sync")
        .status()
        .is_ok_and(|s| s.success());
    synced && std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

async fn run(cluster: &mut healthcode_testkit::PgCluster, rows: i64) {
    let url = cluster.create_database().await.unwrap();
    let mut store = connect(&url).await;
    let people = (rows / 50).max(10);
    let venues = (rows / 2000).max(5);
    let start = datetime!(2026-10-01 00:00 UTC);
    let start_ns = (start.unix_timestamp_nanos()) as i64;
    eprintln!("generating {rows} check-ins ({people} people, {venues} venues, 30 days)");
    // Load without indexes, then build them (as a bulk import would).
    exec(&store, "SET maintenance_work_mem = '1GB'").await;
    exec(&store, "ALTER TABLE checkins DROP CONSTRAINT checkins_pkey").await;
    exec(&store, "DROP INDEX checkins_by_venue").await;
    exec(&store, "DROP INDEX checkins_by_arrival").await;
    exec(&store, "SELECT setseed(0.42)").await;
    let chunk = 10_000_000i64;
    let mut done = 0;
    while done < rows {
        let n = chunk.min(rows - done);
        exec(
            &store,
            &format!(
                "INSERT INTO checkins (arrived_ns, left_ns, venue_id, dependent, person)
                 SELECT a, a + (30 + floor(random() * 150))::bigint * 60000000000, v, 0,
                        decode(lpad(to_hex(g % {people}), 32, '0'), 'hex')
                 FROM (SELECT g, {start_ns} + floor(random() * 30 * {DAY_NS})::bigint AS a,
                              1 + floor(random() * {venues})::bigint AS v
                       FROM generate_series({from}::bigint, {to}::bigint) AS g) s
                 -- rows {from}..{to}",
                from = done,
                to = done + n - 1,
            ),
        )
        .await;
        done += n;
    }
    // As the migrations define them (20261202110000_checkins_covering.sql).
    exec(&store, "ALTER TABLE checkins ADD CONSTRAINT checkins_pkey PRIMARY KEY (person, arrived_ns, venue_id, dependent) INCLUDE (left_ns)").await;
    exec(
        &store,
        "CREATE INDEX checkins_by_venue ON checkins (venue_id, arrived_ns) INCLUDE (left_ns, person, dependent)",
    )
    .await;
    exec(
        &store,
        "CREATE INDEX checkins_by_arrival ON checkins USING brin (arrived_ns)",
    )
    .await;
    exec(&store, "VACUUM ANALYZE checkins").await;
    let size: String = sqlx::query_scalar(
        "SELECT pg_size_pretty(pg_total_relation_size('checkins')) || ' (heap ' || pg_size_pretty(pg_relation_size('checkins')) || ')'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    eprintln!("checkins: {size}");
    // An autovacuum ANALYZE running beside our VACUUM can hold back the
    // horizon, leaving pages not marked all-visible (then index-only scans
    // visit the heap): vacuum again until they are, as autovacuum would.
    for attempt in 0..3 {
        let (pages, visible): (i32, i32) = sqlx::query_as(
            "SELECT relpages, relallvisible FROM pg_class WHERE relname = 'checkins'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        eprintln!("heap pages {pages}, all-visible {visible} (index-only scans skip those)");
        if visible >= pages || attempt == 2 {
            break;
        }
        exec(&store, "VACUUM checkins").await;
    }

    let window = Window::new(start + Duration::days(14), start + Duration::days(28)).unwrap();
    // Cold first: the server restarted (empty shared buffers) and, when
    // allowed, the kernel's page cache dropped, so every page a case needs
    // comes from disk. Then the same cases again, warm.
    store.close().await;
    cluster.restart().unwrap();
    let dropped = drop_os_caches();
    store = connect(&url).await;
    let cache = if dropped {
        "cold (server restarted, OS page cache dropped)"
    } else {
        "server restarted; OS page cache NOT dropped (not root?)"
    };
    time_cases(&store, rows, people, window, &size, cache).await;
    time_cases(
        &store,
        rows,
        people,
        window,
        &size,
        "warm (the same cases again)",
    )
    .await;
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT DISTINCT c.venue_id, c.person, c.dependent, c.arrived_ns, c.left_ns \
         FROM checkins k JOIN checkins c ON c.venue_id = k.venue_id AND c.arrived_ns < k.left_ns \
         AND c.arrived_ns > k.arrived_ns - 86400000000000 AND c.left_ns > k.arrived_ns \
         WHERE k.person = decode(lpad(to_hex(13), 32, '0'), 'hex') AND k.arrived_ns < $1 AND k.arrived_ns > $2 AND k.left_ns > $3",
    )
    .bind((window.to.unix_timestamp_nanos()) as i64)
    .bind((window.from.unix_timestamp_nanos()) as i64 - DAY_NS)
    .bind((window.from.unix_timestamp_nanos()) as i64)
    .fetch_all(store.pool())
    .await
    .unwrap();
    eprintln!("{}", plan.join("\n"));
}

/// Times the tracing path for 25 cases and prints one line of figures.
async fn time_cases(
    store: &PgStore,
    rows: i64,
    people: i64,
    window: Window,
    size: &str,
    cache: &str,
) {
    let params = TracingParams::default();
    let mut times = Vec::new();
    let mut found = Vec::new();
    for i in 0..25i64 {
        let p = (i * 7919 + 13) % people;
        let mut bytes = [0u8; 16];
        bytes[8..].copy_from_slice(&(p as u64).to_be_bytes());
        let person = PersonId::from_bytes(bytes);
        let started = Instant::now();
        let rows = store
            .colocated_checkins(&person, window.from, window.to)
            .await
            .unwrap();
        let visits: Vec<Visit> = rows
            .iter()
            .map(|c| Visit {
                subject: Subject {
                    person: c.person.to_string(),
                    dependent: c.dependent,
                },
                venue: c.venue.to_string(),
                arrived: c.arrived,
                left: c.left,
            })
            .collect();
        let key = person.to_string();
        let own: Vec<Visit> = visits
            .iter()
            .filter(|v| v.subject.person == key)
            .cloned()
            .collect();
        let candidates = venue_contacts(&key, &own, &visits, window, &params);
        times.push(started.elapsed());
        found.push((own.len(), rows.len(), candidates.len()));
    }
    let mut sorted = times.clone();
    sorted.sort();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let first = ms(times[0]);
    let median = ms(sorted[sorted.len() / 2]);
    let max = ms(sorted[sorted.len() - 1]);
    let avg_own = found.iter().map(|f| f.0).sum::<usize>() as f64 / found.len() as f64;
    let avg_rows = found.iter().map(|f| f.1).sum::<usize>() as f64 / found.len() as f64;
    let avg_cands = found.iter().map(|f| f.2).sum::<usize>() as f64 / found.len() as f64;
    println!(
        "trace_scale rows={rows} size=\"{size}\" cache=\"{cache}\" cases=25 first_ms={first:.2} median_ms={median:.2} max_ms={max:.2} \
         case_stays={avg_own:.1} colocated_rows={avg_rows:.1} candidates={avg_cands:.1}"
    );
}
