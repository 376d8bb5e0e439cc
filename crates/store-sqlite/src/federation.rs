//! Channels and imported trust lists on SQLite.

use healthcode_store::columns::{instant, to_i64};
use healthcode_store::federation::{ChannelRow, TrustImportRow};
use healthcode_store::{
    Channel, ChannelStore, ImportedTrustList, Result, StoreError, TrustImportStore,
};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use time::OffsetDateTime;

use crate::{error, SqliteStore};

const CHANNEL_COLUMNS: &str =
    "client_id, name, kind, secret_hash, created_ns, created_by, disabled_ns";
const IMPORT_COLUMNS: &str =
    "fingerprint, publisher, source, body, sequence, imported_ns, checked_ns, last_error";

fn channel_from(row: &SqliteRow) -> Result<Channel> {
    let e = |e| error(e, "channel");
    ChannelRow {
        client_id: row.try_get("client_id").map_err(e)?,
        name: row.try_get("name").map_err(e)?,
        kind: row.try_get("kind").map_err(e)?,
        secret_hash: row.try_get("secret_hash").map_err(e)?,
        created_ns: row.try_get("created_ns").map_err(e)?,
        created_by: row.try_get("created_by").map_err(e)?,
        disabled_ns: row.try_get("disabled_ns").map_err(e)?,
    }
    .decode()
}

fn import_from(row: &SqliteRow) -> Result<ImportedTrustList> {
    let e = |e| error(e, "imported trust list");
    TrustImportRow {
        fingerprint: row.try_get("fingerprint").map_err(e)?,
        publisher: row.try_get("publisher").map_err(e)?,
        source: row.try_get("source").map_err(e)?,
        body: row.try_get("body").map_err(e)?,
        sequence: row.try_get("sequence").map_err(e)?,
        imported_ns: row.try_get("imported_ns").map_err(e)?,
        checked_ns: row.try_get("checked_ns").map_err(e)?,
        last_error: row.try_get("last_error").map_err(e)?,
    }
    .decode()
}

impl ChannelStore for SqliteStore {
    async fn create_channel(&self, c: &Channel) -> Result<()> {
        sqlx::query(
            "INSERT INTO channels (client_id, name, kind, secret_hash, created_ns, created_by, disabled_ns) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.client_id)
        .bind(&c.name)
        .bind(c.kind.as_str())
        .bind(&c.secret_hash[..])
        .bind(instant(c.created_at)?)
        .bind(&c.created_by)
        .bind(c.disabled_at.map(instant).transpose()?)
        .execute(self.pool())
        .await
        .map_err(|e| error(e, "a channel with this client id"))?;
        Ok(())
    }

    async fn channel(&self, client_id: &str) -> Result<Option<Channel>> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE client_id = ?");
        let row = sqlx::query(&sql)
            .bind(client_id)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| error(e, "channel"))?;
        row.as_ref().map(channel_from).transpose()
    }

    async fn channels(&self) -> Result<Vec<Channel>> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels ORDER BY client_id");
        let rows = sqlx::query(&sql)
            .fetch_all(self.pool())
            .await
            .map_err(|e| error(e, "channel"))?;
        rows.iter().map(channel_from).collect()
    }

    async fn disable_channel(&self, client_id: &str, at: OffsetDateTime) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE channels SET disabled_ns = ? WHERE client_id = ? AND disabled_ns IS NULL",
        )
        .bind(instant(at)?)
        .bind(client_id)
        .execute(self.pool())
        .await
        .map_err(|e| error(e, "channel"))?;
        if done.rows_affected() == 1 {
            return Ok(true);
        }
        match self.channel(client_id).await? {
            Some(_) => Ok(false),
            None => Err(StoreError::NotFound("channel")),
        }
    }
}

impl TrustImportStore for SqliteStore {
    async fn put_trust_import(&self, l: &ImportedTrustList) -> Result<()> {
        // The WHERE of the upsert keeps a stored list with a higher sequence:
        // no row changes, and that is the rollback.
        let done = sqlx::query(
            "INSERT INTO trust_imports (fingerprint, publisher, source, body, sequence, imported_ns, checked_ns, last_error) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (fingerprint) DO UPDATE SET publisher = excluded.publisher, source = excluded.source, \
             body = excluded.body, sequence = excluded.sequence, imported_ns = excluded.imported_ns, \
             checked_ns = excluded.checked_ns, last_error = excluded.last_error \
             WHERE trust_imports.sequence <= excluded.sequence",
        )
        .bind(&l.fingerprint)
        .bind(&l.publisher)
        .bind(&l.source)
        .bind(&l.text)
        .bind(to_i64("trust list sequence", l.sequence)?)
        .bind(instant(l.imported_at)?)
        .bind(instant(l.checked_at)?)
        .bind(&l.last_error)
        .execute(self.pool())
        .await
        .map_err(|e| error(e, "imported trust list"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "a trust list with a higher sequence from this publisher",
            ));
        }
        Ok(())
    }

    async fn trust_imports(&self) -> Result<Vec<ImportedTrustList>> {
        let sql = format!("SELECT {IMPORT_COLUMNS} FROM trust_imports ORDER BY fingerprint");
        let rows = sqlx::query(&sql)
            .fetch_all(self.pool())
            .await
            .map_err(|e| error(e, "imported trust list"))?;
        rows.iter().map(import_from).collect()
    }

    async fn note_trust_check(
        &self,
        fingerprint: &str,
        at: OffsetDateTime,
        err: Option<&str>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE trust_imports SET checked_ns = ?, last_error = ? WHERE fingerprint = ?",
        )
        .bind(instant(at)?)
        .bind(err)
        .bind(fingerprint)
        .execute(self.pool())
        .await
        .map_err(|e| error(e, "imported trust list"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("imported trust list"));
        }
        Ok(())
    }

    async fn delete_trust_import(&self, fingerprint: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM trust_imports WHERE fingerprint = ?")
            .bind(fingerprint)
            .execute(self.pool())
            .await
            .map_err(|e| error(e, "imported trust list"))?;
        Ok(done.rows_affected() == 1)
    }
}
