//! The SQLite backend against the conformance suite, plus what only SQLite
//! has (files, URLs, WAL). One test binary: link time dominates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use healthcode_store::Store;
use healthcode_store_sqlite::SqliteStore;
use tempfile::TempDir;

async fn fresh() -> Option<(SqliteStore, TempDir)> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open_dir(dir.path())
        .await
        .unwrap_or_else(|e| panic!("[sqlite] open_dir: {e}"));
    Some((store, dir))
}

mod itinerary_conformance {
    use super::fresh;
    healthcode_store::itinerary_conformance_tests!("sqlite", fresh);
}

mod conformance {
    use super::fresh;
    healthcode_store::conformance_tests!("sqlite", fresh);
}

mod oversight {
    use super::fresh;
    healthcode_store::oversight_conformance_tests!("sqlite", fresh);
}

#[tokio::test]
async fn open_dir_creates_the_file_in_wal_mode_and_reopens_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let store = SqliteStore::open_dir(&data).await.unwrap();
    assert!(data.join("healthcode.db").is_file());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(fk, 1);
    let p = healthcode_store::conformance::person(1);
    store.create_person(&p).await.unwrap();
    store.close().await;

    // Reopened through a URL, migrations already applied, data still there.
    let url = format!("sqlite://{}", data.join("healthcode.db").display());
    let again = SqliteStore::connect(&url).await.unwrap();
    assert_eq!(again.person(&p.id).await.unwrap(), Some(p));
}

#[tokio::test]
async fn in_memory_databases_work_and_are_separate() {
    let a = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let b = SqliteStore::connect(":memory:").await.unwrap();
    let p = healthcode_store::conformance::person(1);
    a.create_person(&p).await.unwrap();
    assert_eq!(a.person(&p.id).await.unwrap(), Some(p.clone()));
    assert_eq!(b.person(&p.id).await.unwrap(), None);
    healthcode_store::conformance::concurrent_audit_appends("sqlite in memory", a).await;
}

#[tokio::test]
async fn a_tampered_row_is_found_by_verify_audit() {
    let (store, _dir) = fresh().await.unwrap();
    let t = time::macros::datetime!(2022-04-01 08:00 +08:00);
    for n in 0..3 {
        store
            .append_audit(healthcode_core::AuditRecord {
                at: t,
                actor: "official:off-1".into(),
                action: "event.recorded".into(),
                subject: "p".into(),
                details: format!("{{\"n\":{n}}}"),
            })
            .await
            .unwrap();
    }
    assert!(store.verify_audit(None).await.unwrap().is_ok());
    sqlx::query("UPDATE audit_log SET details = '{\"n\":9}' WHERE seq = 1")
        .execute(store.pool())
        .await
        .unwrap();
    let broken = store.verify_audit(None).await.unwrap();
    assert!(
        matches!(
            broken,
            Err(healthcode_core::ChainBreak::Altered { seq: 1, .. })
        ),
        "{broken:?}"
    );
}

#[tokio::test]
async fn undecodable_rows_are_corrupt_not_panics() {
    let (store, _dir) = fresh().await.unwrap();
    let p = healthcode_store::conformance::person(1);
    store.create_person(&p).await.unwrap();
    sqlx::query("UPDATE persons SET identity = '{\"type\":\"resident\",\"id\":\"123\"}'")
        .execute(store.pool())
        .await
        .unwrap();
    match store.person(&p.id).await {
        Err(healthcode_store::StoreError::Corrupt { what, why }) => {
            assert_eq!(what, "person");
            assert!(!why.contains("123"), "the reason quotes stored data: {why}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    sqlx::query("UPDATE persons SET phone_hash = x'00'")
        .execute(store.pool())
        .await
        .unwrap();
    assert!(matches!(
        store
            .person_by_identity(&p.region, p.identity.number())
            .await,
        Err(healthcode_store::StoreError::Corrupt { .. })
    ));
}

#[tokio::test]
async fn every_table_has_a_decided_fate_at_shutdown() {
    let (store, _dir) = fresh().await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_sqlx\\_%' ESCAPE '\\'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert!(tables.iter().any(|t| t == "persons"), "{tables:?}");
    healthcode_store::conformance::schema_tables_are_classified("sqlite", &tables);
}

#[tokio::test]
async fn the_carrier_stay_purge_finds_old_stays_by_the_day_index() {
    let (store, _dir) = fresh().await.unwrap();
    let predicate = healthcode_store::itinerary::STAYS_ENDED_BEFORE.replace("$1", "?1");
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!(
        "EXPLAIN QUERY PLAN DELETE FROM carrier_stays WHERE {predicate}"
    ))
    .bind(1_800_000_000_000_000_000i64)
    .fetch_all(store.pool())
    .await
    .unwrap();
    let plan: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
    assert!(
        plan.iter().any(|p| p.contains("carrier_stays_by_last_day")),
        "{plan:?}"
    );
}
