//! The data lifecycle on SQLite: purges, shutdowns, erasure, compaction.
//!
//! Every connection runs with `secure_delete = ON` (set on connect), so the
//! bytes of deleted rows are overwritten in the pages that held them.
//! After an erasure `VACUUM` rewrites the whole file (tables and indexes
//! rebuilt, free pages gone) and `wal_checkpoint(TRUNCATE)` copies the WAL
//! back and truncates it to zero bytes, so no old page image stays in the
//! `-wal` file.

use std::time::Duration;

use healthcode_store::columns::{self, instant};
use healthcode_store::lifecycle::{
    self, keep_text, DeletionStatementRecord, ErasedCategory, KeptCodeFace, LifecycleStore,
    RetentionCutoffs, Service, ServiceShutdown, StorageStep,
};
use healthcode_store::{PersonId, PersonRecord, Result, StoreError};
use sqlx::Row;
use time::OffsetDateTime;

use crate::{error, get, Cols, SqliteStore};

const SHUTDOWN_COLUMNS: &str = "service, at_ns, decision, keep, scheduled_ns, scheduled_by, \
     COALESCE(executed_ns, 0) AS executed_ns, statement_id";

impl SqliteStore {
    /// Empties `tables` in one write transaction, in order; the counts by
    /// category.
    async fn erase_tables(&self, tables: &[(&str, &str)]) -> Result<Vec<ErasedCategory>> {
        const WHAT: &str = "erasure";
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| error(e, WHAT))?;
        let mut counts = Vec::with_capacity(tables.len());
        for (table, category) in tables {
            let done = sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await
                .map_err(|e| error(e, WHAT))?;
            counts.push(ErasedCategory::new(category, done.rows_affected()));
        }
        tx.commit().await.map_err(|e| error(e, WHAT))?;
        Ok(counts)
    }
}

impl LifecycleStore for SqliteStore {
    async fn purge_retention(
        &self,
        cutoffs: &RetentionCutoffs,
        dry_run: bool,
    ) -> Result<Vec<ErasedCategory>> {
        const WHAT: &str = "purge";
        let steps = lifecycle::purge_steps(cutoffs)?;
        let mut tx = self
            .pool()
            .begin_with(if dry_run { "BEGIN" } else { "BEGIN IMMEDIATE" })
            .await
            .map_err(|e| error(e, WHAT))?;
        let mut counts = Vec::with_capacity(steps.len());
        for step in steps {
            // `?1`: one parameter, however often the predicate names it.
            let predicate = step.predicate.replace("$1", "?1");
            let table = step.table;
            let n = if dry_run {
                let n: i64 =
                    sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE {predicate}"))
                        .bind(step.bound)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(|e| error(e, WHAT))?;
                u64::try_from(n).unwrap_or(0)
            } else {
                sqlx::query(&format!("DELETE FROM {table} WHERE {predicate}"))
                    .bind(step.bound)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| error(e, WHAT))?
                    .rows_affected()
            };
            counts.push(ErasedCategory::new(step.category, n));
        }
        tx.commit().await.map_err(|e| error(e, WHAT))?;
        Ok(counts)
    }

    async fn schedule_shutdown(&self, s: &ServiceShutdown) -> Result<()> {
        sqlx::query(
            "INSERT INTO service_shutdowns \
             (service, at_ns, decision, keep, scheduled_ns, scheduled_by, executed_ns, statement_id) \
             VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
        )
        .bind(s.service.as_str())
        .bind(instant(s.at)?)
        .bind(&s.decision)
        .bind(keep_text(&s.keep))
        .bind(instant(s.scheduled_at)?)
        .bind(&s.scheduled_by)
        .execute(self.pool())
        .await
        .map_err(|e| error(e, "a shutdown of this service"))?;
        Ok(())
    }

    async fn shutdowns(&self) -> Result<Vec<ServiceShutdown>> {
        let sql = format!("SELECT {SHUTDOWN_COLUMNS} FROM service_shutdowns ORDER BY service");
        let rows = sqlx::query(&sql)
            .fetch_all(self.pool())
            .await
            .map_err(|e| error(e, "service shutdown"))?;
        rows.iter()
            .map(|row| lifecycle::shutdown_from(&Cols(row)))
            .collect()
    }

    async fn finish_shutdown(
        &self,
        service: Service,
        executed_at: OffsetDateTime,
        statement: &DeletionStatementRecord,
    ) -> Result<()> {
        const WHAT: &str = "deletion statement";
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| error(e, WHAT))?;
        let row = sqlx::query("SELECT statement_id FROM service_shutdowns WHERE service = ?")
            .bind(service.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| error(e, WHAT))?;
        let Some(row) = row else {
            return Err(StoreError::NotFound("service shutdown"));
        };
        if get::<Option<String>>(&row, "statement_id")?.is_some() {
            return Err(StoreError::Conflict("an executed shutdown of this service"));
        }
        sqlx::query(
            "INSERT INTO deletion_statements (id, service, published_ns, signed_json) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(&statement.id)
        .bind(statement.service.as_str())
        .bind(instant(statement.published_at)?)
        .bind(&statement.signed_json)
        .execute(&mut *tx)
        .await
        .map_err(|e| error(e, "a deletion statement with this id"))?;
        sqlx::query(
            "UPDATE service_shutdowns SET executed_ns = ?, statement_id = ? WHERE service = ?",
        )
        .bind(instant(executed_at)?)
        .bind(&statement.id)
        .bind(service.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| error(e, WHAT))?;
        tx.commit().await.map_err(|e| error(e, WHAT))?;
        Ok(())
    }

    async fn deletion_statement(&self, id: &str) -> Result<Option<DeletionStatementRecord>> {
        let row = sqlx::query(
            "SELECT id, service, published_ns, signed_json FROM deletion_statements WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| error(e, "deletion statement"))?;
        row.as_ref()
            .map(|row| lifecycle::statement_from(&Cols(row)))
            .transpose()
    }

    async fn deletion_statements(&self) -> Result<Vec<DeletionStatementRecord>> {
        let rows = sqlx::query(
            "SELECT id, service, published_ns, signed_json FROM deletion_statements \
             ORDER BY published_ns, id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(|e| error(e, "deletion statement"))?;
        rows.iter()
            .map(|row| lifecycle::statement_from(&Cols(row)))
            .collect()
    }

    async fn persons_after(
        &self,
        after: Option<&PersonId>,
        limit: u32,
    ) -> Result<Vec<PersonRecord>> {
        let rows = sqlx::query(
            "SELECT id, region, identity, full_name, phone_hash, channel, created_ns \
             FROM persons WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after.map_or("", PersonId::as_str))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(|e| error(e, "person"))?;
        rows.iter()
            .map(|row| columns::person_from(&Cols(row)))
            .collect()
    }

    async fn put_kept_code_faces(&self, faces: &[KeptCodeFace]) -> Result<()> {
        const WHAT: &str = "kept code face";
        let mut tx = self.pool().begin().await.map_err(|e| error(e, WHAT))?;
        for face in faces {
            sqlx::query(
                "INSERT OR REPLACE INTO kept_code_faces \
                 (lookup, colour, masked_name, masked_id, kind, status_as_of_ns) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(&face.lookup[..])
            .bind(&face.colour)
            .bind(&face.masked_name)
            .bind(&face.masked_id)
            .bind(&face.kind)
            .bind(instant(face.status_as_of)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| error(e, WHAT))?;
        }
        tx.commit().await.map_err(|e| error(e, WHAT))?;
        Ok(())
    }

    async fn erase_health_code_data(&self) -> Result<Vec<ErasedCategory>> {
        self.erase_tables(&lifecycle::HEALTH_CODE_TABLES).await
    }

    async fn erase_checkin_data(&self) -> Result<Vec<ErasedCategory>> {
        self.erase_tables(&lifecycle::CHECKIN_TABLES).await
    }

    async fn kept_code_face(&self, lookup: &[u8; 32]) -> Result<Option<KeptCodeFace>> {
        let row = sqlx::query(
            "SELECT lookup, colour, masked_name, masked_id, kind, status_as_of_ns \
             FROM kept_code_faces WHERE lookup = ?",
        )
        .bind(&lookup[..])
        .fetch_optional(self.pool())
        .await
        .map_err(|e| error(e, "kept code face"))?;
        row.as_ref()
            .map(|row| lifecycle::face_from(&Cols(row)))
            .transpose()
    }

    async fn compact_after_erasure(&self) -> Result<Vec<StorageStep>> {
        const WHAT: &str = "compaction";
        let mut steps = vec![StorageStep::done("PRAGMA secure_delete = ON")];
        sqlx::query("VACUUM")
            .execute(self.pool())
            .await
            .map_err(|e| error(e, WHAT))?;
        steps.push(StorageStep::done("VACUUM"));
        // A reader still on an old snapshot keeps the checkpoint from
        // finishing (busy = 1); readers finish quickly, so try again.
        let mut last = (1, -1, -1);
        for attempt in 0..50 {
            let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(self.pool())
                .await
                .map_err(|e| error(e, WHAT))?;
            last = (
                row.try_get::<i64, _>(0).map_err(|e| error(e, WHAT))?,
                row.try_get::<i64, _>(1).map_err(|e| error(e, WHAT))?,
                row.try_get::<i64, _>(2).map_err(|e| error(e, WHAT))?,
            );
            // In-memory databases have no WAL: log = -1.
            if last.0 == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20 * (attempt + 1))).await;
        }
        if last.0 == 0 {
            steps.push(StorageStep::done("PRAGMA wal_checkpoint(TRUNCATE)"));
        } else {
            steps.push(StorageStep::not_done(
                "PRAGMA wal_checkpoint(TRUNCATE)",
                "other connections kept reading old pages; stop every process using the \
                 database and run `sqlite3 healthcode.db 'PRAGMA wal_checkpoint(TRUNCATE)'`",
            ));
        }
        Ok(steps)
    }
}
