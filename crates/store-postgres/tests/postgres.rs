//! The PostgreSQL backend against the conformance suite, on a throwaway
//! cluster (healthcode-testkit), twice: at the server's default isolation
//! (READ COMMITTED) and with every transaction SERIALIZABLE, as on
//! CockroachDB, which exercises the retries on SQLSTATE 40001. One test
//! binary: link time dominates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use healthcode_store::Store;
use healthcode_store_postgres::{PgStore, PgStoreOptions};

async fn connect(url: &str, test: &str) -> PgStore {
    let options = PgStoreOptions {
        max_connections: 10,
        ..PgStoreOptions::default()
    };
    PgStore::connect_with(url, options)
        .await
        .unwrap_or_else(|e| panic!("[postgres] {test}: connect: {e}"))
}

async fn fresh() -> Option<(PgStore, ())> {
    let url = healthcode_testkit::fresh_database("PostgreSQL store").await?;
    Some((connect(&url, "fresh").await, ()))
}

/// A database whose transactions are all SERIALIZABLE.
async fn fresh_serializable() -> Option<(PgStore, ())> {
    let url = healthcode_testkit::fresh_database("PostgreSQL store, SERIALIZABLE").await?;
    let store = connect(&url, "fresh serializable").await;
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(store.pool())
        .await
        .unwrap();
    sqlx::query(&format!(
        "ALTER DATABASE {database} SET default_transaction_isolation = 'serializable'"
    ))
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;
    let store = connect(&url, "fresh serializable").await;
    let level: String = sqlx::query_scalar("SHOW transaction_isolation")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(level, "serializable");
    Some((store, ()))
}

mod itinerary_conformance {
    use super::fresh;
    healthcode_store::itinerary_conformance_tests!("postgres", fresh);
}

mod conformance {
    use super::fresh;
    healthcode_store::conformance_tests!("postgres", fresh);
}

mod oversight {
    use super::fresh;
    healthcode_store::oversight_conformance_tests!("postgres", fresh);
}

mod serializable {
    use super::fresh_serializable;
    healthcode_store::conformance_tests!("postgres serializable", fresh_serializable);
}

#[tokio::test]
async fn migrations_are_idempotent_and_data_survives_reconnects() {
    let Some(url) = healthcode_testkit::fresh_database("reconnect").await else {
        return;
    };
    let store = connect(&url, "reconnect").await;
    let p = healthcode_store::conformance::person(1);
    store.create_person(&p).await.unwrap();
    store.close().await;
    let again = connect(&url, "reconnect").await;
    assert_eq!(again.person(&p.id).await.unwrap(), Some(p));
}

#[tokio::test]
async fn a_tampered_row_is_found_by_verify_audit() {
    let Some((store, ())) = fresh().await else {
        return;
    };
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
    sqlx::query("UPDATE audit_log SET actor = 'official:off-9' WHERE seq = 1")
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
    let Some((store, ())) = fresh().await else {
        return;
    };
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
}

#[tokio::test]
async fn a_bad_url_is_a_backend_error_without_the_password() {
    let options = PgStoreOptions {
        acquire_timeout: std::time::Duration::from_millis(300),
        ..PgStoreOptions::default()
    };
    // Nothing listens on port 1; a port that is no number.
    for url in [
        "postgres://someone:hunter2@127.0.0.1:1/nowhere",
        "postgres://someone:hunter2@127.0.0.1:port/nowhere",
    ] {
        let err = PgStore::connect_with(url, options).await.unwrap_err();
        assert!(
            matches!(err, healthcode_store::StoreError::Backend(_)),
            "{err:?}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

#[tokio::test]
async fn every_table_has_a_decided_fate_at_shutdown() {
    let Some((store, ())) = fresh().await else {
        return;
    };
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() \
         AND tablename NOT LIKE '\\_sqlx\\_%'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert!(tables.iter().any(|t| t == "persons"), "{tables:?}");
    healthcode_store::conformance::schema_tables_are_classified("postgres", &tables);
    // Columns holding names, identity numbers or people's words keep no
    // samples in pg_statistic.
    for (table, column) in [
        ("persons", "full_name"),
        ("dependents", "full_name"),
        ("dependents", "identity_number"),
        ("approval_requests", "body"),
        ("correction_requests", "body"),
        ("access_log", "purpose"),
    ] {
        let target: i32 = sqlx::query_scalar(
            "SELECT attstattarget::int FROM pg_attribute \
             WHERE attrelid = $1::regclass AND attname = $2",
        )
        .bind(table)
        .bind(column)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(target, 0, "{table}.{column}");
    }
}

#[tokio::test]
async fn the_carrier_stay_purge_can_use_the_day_index() {
    let Some((store, ())) = fresh().await else {
        return;
    };
    // An empty table is cheapest to scan; forbid that to see that the
    // predicate matches the index's expression at all.
    let mut conn = store.pool().acquire().await.unwrap();
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(&format!(
        "EXPLAIN DELETE FROM carrier_stays WHERE {}",
        healthcode_store::itinerary::STAYS_ENDED_BEFORE
    ))
    .bind(1_800_000_000_000_000_000i64)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert!(
        plan.iter().any(|l| l.contains("carrier_stays_by_last_day")),
        "{plan:?}"
    );
}
