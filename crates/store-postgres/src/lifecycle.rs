//! The data lifecycle on PostgreSQL: purges, shutdowns, erasure, compaction.
//!
//! PostgreSQL never overwrites a deleted row in place: the old tuple stays
//! in its page until the table is rewritten, and the WAL keeps the insert
//! that wrote it until its segment is removed. After an erasure
//! `VACUUM FULL` rewrites every table and index of the database into new
//! files (the old ones are truncated, then unlinked at the next
//! checkpoint), `pg_switch_wal()` closes the WAL segment in use and
//! `CHECKPOINT` (twice) moves the redo point past every segment that held
//! the deleted rows, so the server removes or recycles them. What the
//! software cannot reach (recycled segments with `wal_recycle = on`, WAL
//! archives, replicas, backups) is in docs/lifecycle.md.

use healthcode_store::columns::{self, instant};
use healthcode_store::lifecycle::{
    self, keep_text, DeletionStatementRecord, ErasedCategory, KeptCodeFace, LifecycleStore,
    RetentionCutoffs, Service, ServiceShutdown, StorageStep,
};
use healthcode_store::{PersonId, PersonRecord, Result, StoreError};
use time::OffsetDateTime;

use crate::{error, get, retrying, sql, Cols, PgStore};

const SHUTDOWNS: &str = "SELECT service, at_ns, decision, keep, scheduled_ns, scheduled_by, \
     COALESCE(executed_ns, 0) AS executed_ns, statement_id FROM service_shutdowns ORDER BY service";

impl PgStore {
    /// Empties `tables` in one transaction, in order; the counts by
    /// category.
    async fn erase_tables(&self, tables: &[(&str, &str)]) -> Result<Vec<ErasedCategory>> {
        const WHAT: &str = "erasure";
        retrying(|| async {
            let mut tx = self.pool().begin().await.map_err(sql(WHAT))?;
            let mut counts = Vec::with_capacity(tables.len());
            for (table, category) in tables {
                let done = sqlx::query(&format!("DELETE FROM {table}"))
                    .execute(&mut *tx)
                    .await
                    .map_err(sql(WHAT))?;
                counts.push(ErasedCategory::new(category, done.rows_affected()));
            }
            tx.commit().await.map_err(sql(WHAT))?;
            Ok(counts)
        })
        .await
    }

    /// ANALYZE copies sample values (most common values, histogram
    /// bounds) into pg_statistic, and deleting every row of a table leaves
    /// them there (ANALYZE of an empty table keeps the old ones). Removes
    /// the statistics of every table of this schema that is now empty.
    async fn drop_stale_statistics(&self) -> StorageStep {
        const STEP: &str = "DELETE FROM pg_statistic (emptied tables)";
        let tables: Vec<String> = match sqlx::query_scalar(
            "SELECT DISTINCT tablename::text FROM pg_stats WHERE schemaname = current_schema()",
        )
        .fetch_all(self.pool())
        .await
        {
            Ok(t) => t,
            Err(e) => return StorageStep::not_done(STEP, error(e, "maintenance").to_string()),
        };
        let mut emptied = Vec::new();
        for table in tables {
            let quoted = format!("\"{}\"", table.replace('"', "\"\""));
            let empty: std::result::Result<bool, _> =
                sqlx::query_scalar(&format!("SELECT NOT EXISTS (SELECT 1 FROM {quoted})"))
                    .fetch_one(self.pool())
                    .await;
            if matches!(empty, Ok(true)) {
                emptied.push(quoted);
            }
        }
        if emptied.is_empty() {
            return StorageStep::done(STEP);
        }
        let regclasses = emptied
            .iter()
            .map(|t| format!("'{}'::regclass", t.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("DELETE FROM pg_catalog.pg_statistic WHERE starelid IN ({regclasses})");
        match sqlx::raw_sql(&sql).execute(self.pool()).await {
            Ok(_) => StorageStep::done(STEP),
            Err(e) => StorageStep::not_done(
                STEP,
                format!(
                    "{}; as a superuser run: {sql}; then VACUUM FULL pg_catalog.pg_statistic",
                    error(e, "maintenance")
                ),
            ),
        }
    }

    /// Runs a maintenance statement (simple protocol, outside any
    /// transaction); a refusal (permissions, a read-only replica) becomes a
    /// step not done, with PostgreSQL's reason.
    async fn maintenance(&self, statement: &'static str, shown: &str) -> StorageStep {
        match sqlx::raw_sql(statement).execute(self.pool()).await {
            Ok(_) => StorageStep::done(shown),
            Err(e) => StorageStep::not_done(
                shown,
                format!(
                    "{}; run it as a superuser (docs/lifecycle.md)",
                    error(e, "maintenance")
                ),
            ),
        }
    }
}

impl LifecycleStore for PgStore {
    async fn purge_retention(
        &self,
        cutoffs: &RetentionCutoffs,
        dry_run: bool,
    ) -> Result<Vec<ErasedCategory>> {
        const WHAT: &str = "purge";
        let steps = lifecycle::purge_steps(cutoffs)?;
        retrying(|| async {
            let mut tx = self.pool().begin().await.map_err(sql(WHAT))?;
            let mut counts = Vec::with_capacity(steps.len());
            for step in &steps {
                let (table, predicate) = (step.table, step.predicate);
                let n = if dry_run {
                    let n: i64 = sqlx::query_scalar(&format!(
                        "SELECT count(*) FROM {table} WHERE {predicate}"
                    ))
                    .bind(step.bound)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(sql(WHAT))?;
                    u64::try_from(n).unwrap_or(0)
                } else {
                    sqlx::query(&format!("DELETE FROM {table} WHERE {predicate}"))
                        .bind(step.bound)
                        .execute(&mut *tx)
                        .await
                        .map_err(sql(WHAT))?
                        .rows_affected()
                };
                counts.push(ErasedCategory::new(step.category, n));
            }
            tx.commit().await.map_err(sql(WHAT))?;
            Ok(counts)
        })
        .await
    }

    async fn schedule_shutdown(&self, s: &ServiceShutdown) -> Result<()> {
        let (at, scheduled) = (instant(s.at)?, instant(s.scheduled_at)?);
        let keep = keep_text(&s.keep);
        retrying(|| async {
            sqlx::query(
                "INSERT INTO service_shutdowns \
                 (service, at_ns, decision, keep, scheduled_ns, scheduled_by, executed_ns, statement_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)",
            )
            .bind(s.service.as_str())
            .bind(at)
            .bind(&s.decision)
            .bind(&keep)
            .bind(scheduled)
            .bind(&s.scheduled_by)
            .execute(self.pool())
            .await
            .map_err(sql("a shutdown of this service"))?;
            Ok(())
        })
        .await
    }

    async fn shutdowns(&self) -> Result<Vec<ServiceShutdown>> {
        retrying(|| async {
            let rows = sqlx::query(SHUTDOWNS)
                .fetch_all(self.pool())
                .await
                .map_err(sql("service shutdown"))?;
            Ok(rows
                .iter()
                .map(|row| lifecycle::shutdown_from(&Cols(row)))
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn finish_shutdown(
        &self,
        service: Service,
        executed_at: OffsetDateTime,
        statement: &DeletionStatementRecord,
    ) -> Result<()> {
        const WHAT: &str = "deletion statement";
        let (executed, published) = (instant(executed_at)?, instant(statement.published_at)?);
        retrying(|| async {
            let mut tx = self.pool().begin().await.map_err(sql(WHAT))?;
            let row = sqlx::query(
                "SELECT statement_id FROM service_shutdowns WHERE service = $1 FOR UPDATE",
            )
            .bind(service.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(sql(WHAT))?;
            let Some(row) = row else {
                return Err(StoreError::NotFound("service shutdown").into());
            };
            if get::<Option<String>>(&row, "statement_id")?.is_some() {
                return Err(StoreError::Conflict("an executed shutdown of this service").into());
            }
            sqlx::query(
                "INSERT INTO deletion_statements (id, service, published_ns, signed_json) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&statement.id)
            .bind(statement.service.as_str())
            .bind(published)
            .bind(&statement.signed_json)
            .execute(&mut *tx)
            .await
            .map_err(sql("a deletion statement with this id"))?;
            sqlx::query(
                "UPDATE service_shutdowns SET executed_ns = $1, statement_id = $2 WHERE service = $3",
            )
            .bind(executed)
            .bind(&statement.id)
            .bind(service.as_str())
            .execute(&mut *tx)
            .await
            .map_err(sql(WHAT))?;
            tx.commit().await.map_err(sql(WHAT))?;
            Ok(())
        })
        .await
    }

    async fn deletion_statement(&self, id: &str) -> Result<Option<DeletionStatementRecord>> {
        retrying(|| async {
            let row = sqlx::query(
                "SELECT id, service, published_ns, signed_json FROM deletion_statements WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(sql("deletion statement"))?;
            Ok(row
                .as_ref()
                .map(|row| lifecycle::statement_from(&Cols(row)))
                .transpose()?)
        })
        .await
    }

    async fn deletion_statements(&self) -> Result<Vec<DeletionStatementRecord>> {
        retrying(|| async {
            let rows = sqlx::query(
                "SELECT id, service, published_ns, signed_json FROM deletion_statements \
                 ORDER BY published_ns, id COLLATE \"C\"",
            )
            .fetch_all(self.pool())
            .await
            .map_err(sql("deletion statement"))?;
            Ok(rows
                .iter()
                .map(|row| lifecycle::statement_from(&Cols(row)))
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn persons_after(
        &self,
        after: Option<&PersonId>,
        limit: u32,
    ) -> Result<Vec<PersonRecord>> {
        let after = after.map_or("", PersonId::as_str);
        retrying(|| async {
            let rows = sqlx::query(
                "SELECT id, region, identity, full_name, phone_hash, channel, created_ns \
                 FROM persons WHERE id COLLATE \"C\" > $1 ORDER BY id COLLATE \"C\" LIMIT $2",
            )
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(sql("person"))?;
            Ok(rows
                .iter()
                .map(|row| columns::person_from(&Cols(row)))
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn put_kept_code_faces(&self, faces: &[KeptCodeFace]) -> Result<()> {
        const WHAT: &str = "kept code face";
        let faces = faces
            .iter()
            .map(|f| Ok((f, instant(f.status_as_of)?)))
            .collect::<Result<Vec<_>>>()?;
        retrying(|| async {
            let mut tx = self.pool().begin().await.map_err(sql(WHAT))?;
            for (face, status_as_of) in &faces {
                sqlx::query(
                    "INSERT INTO kept_code_faces \
                     (lookup, colour, masked_name, masked_id, kind, status_as_of_ns) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (lookup) DO UPDATE SET colour = excluded.colour, \
                     masked_name = excluded.masked_name, masked_id = excluded.masked_id, \
                     kind = excluded.kind, status_as_of_ns = excluded.status_as_of_ns",
                )
                .bind(&face.lookup[..])
                .bind(&face.colour)
                .bind(&face.masked_name)
                .bind(&face.masked_id)
                .bind(&face.kind)
                .bind(status_as_of)
                .execute(&mut *tx)
                .await
                .map_err(sql(WHAT))?;
            }
            tx.commit().await.map_err(sql(WHAT))?;
            Ok(())
        })
        .await
    }

    async fn erase_health_code_data(&self) -> Result<Vec<ErasedCategory>> {
        self.erase_tables(&lifecycle::HEALTH_CODE_TABLES).await
    }

    async fn erase_checkin_data(&self) -> Result<Vec<ErasedCategory>> {
        self.erase_tables(&lifecycle::CHECKIN_TABLES).await
    }

    async fn kept_code_face(&self, lookup: &[u8; 32]) -> Result<Option<KeptCodeFace>> {
        retrying(|| async {
            let row = sqlx::query(
                "SELECT lookup, colour, masked_name, masked_id, kind, status_as_of_ns \
                 FROM kept_code_faces WHERE lookup = $1",
            )
            .bind(&lookup[..])
            .fetch_optional(self.pool())
            .await
            .map_err(sql("kept code face"))?;
            Ok(row
                .as_ref()
                .map(|row| lifecycle::face_from(&Cols(row)))
                .transpose()?)
        })
        .await
    }

    async fn compact_after_erasure(&self) -> Result<Vec<StorageStep>> {
        let mut steps = vec![self.drop_stale_statistics().await];
        // Every table of the database: other services' tables too (and,
        // for a superuser, the catalogs, pg_statistic's dead rows included).
        steps.push(self.maintenance("VACUUM FULL", "VACUUM FULL").await);
        for _ in 0..2 {
            steps.push(
                self.maintenance("SELECT pg_switch_wal()", "SELECT pg_switch_wal()")
                    .await,
            );
            steps.push(self.maintenance("CHECKPOINT", "CHECKPOINT").await);
        }
        let recycle: std::result::Result<String, _> = sqlx::query_scalar("SHOW wal_recycle")
            .fetch_one(self.pool())
            .await;
        match recycle {
            Ok(v) if v == "off" => steps.push(StorageStep::done("wal_recycle = off")),
            Ok(_) => steps.push(StorageStep::not_done(
                "wal_recycle = off",
                "wal_recycle is on: removed WAL segments are renamed for reuse and keep their \
                 old bytes until overwritten; set wal_recycle = off before a shutdown \
                 (docs/lifecycle.md)",
            )),
            Err(e) => steps.push(StorageStep::not_done(
                "wal_recycle = off",
                error(e, "maintenance").to_string(),
            )),
        }
        let archive: std::result::Result<String, _> = sqlx::query_scalar("SHOW archive_mode")
            .fetch_one(self.pool())
            .await;
        if let Ok(mode) = archive {
            if mode != "off" {
                steps.push(StorageStep::not_done(
                    "WAL archive",
                    format!(
                        "archive_mode is {mode}: archived WAL segments still hold the deleted \
                         rows; delete them as docs/lifecycle.md says"
                    ),
                ));
            }
        }
        Ok(steps)
    }
}
