//! Channels and imported trust lists on PostgreSQL.

use healthcode_store::columns::{instant, to_i64};
use healthcode_store::federation::{ChannelRow, TrustImportRow};
use healthcode_store::{
    Channel, ChannelStore, ImportedTrustList, Result, StoreError, TrustImportStore,
};
use sqlx::postgres::PgRow;
use sqlx::Row;
use time::OffsetDateTime;

use crate::{error, retrying, Failure, PgStore};

const CHANNEL_COLUMNS: &str =
    "client_id, name, kind, secret_hash, created_ns, created_by, disabled_ns";
const IMPORT_COLUMNS: &str =
    "fingerprint, publisher, source, body, sequence, imported_ns, checked_ns, last_error";

fn channel_from(row: &PgRow) -> Result<Channel> {
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

fn import_from(row: &PgRow) -> Result<ImportedTrustList> {
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

fn sql(what: &'static str) -> impl Fn(sqlx::Error) -> Failure {
    move |e| Failure::Sql(e, what)
}

impl ChannelStore for PgStore {
    async fn create_channel(&self, c: &Channel) -> Result<()> {
        let created_ns = instant(c.created_at)?;
        let disabled_ns = c.disabled_at.map(instant).transpose()?;
        retrying(|| async {
            sqlx::query(
                "INSERT INTO channels (client_id, name, kind, secret_hash, created_ns, created_by, disabled_ns) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&c.client_id)
            .bind(&c.name)
            .bind(c.kind.as_str())
            .bind(&c.secret_hash[..])
            .bind(created_ns)
            .bind(&c.created_by)
            .bind(disabled_ns)
            .execute(self.pool())
            .await
            .map_err(sql("a channel with this client id"))?;
            Ok(())
        })
        .await
    }

    async fn channel(&self, client_id: &str) -> Result<Option<Channel>> {
        let q = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE client_id = $1");
        let row = retrying(|| async {
            sqlx::query(&q)
                .bind(client_id)
                .fetch_optional(self.pool())
                .await
                .map_err(sql("channel"))
        })
        .await?;
        row.as_ref().map(channel_from).transpose()
    }

    async fn channels(&self) -> Result<Vec<Channel>> {
        let q = format!("SELECT {CHANNEL_COLUMNS} FROM channels ORDER BY client_id");
        let rows = retrying(|| async {
            sqlx::query(&q)
                .fetch_all(self.pool())
                .await
                .map_err(sql("channel"))
        })
        .await?;
        rows.iter().map(channel_from).collect()
    }

    async fn disable_channel(&self, client_id: &str, at: OffsetDateTime) -> Result<bool> {
        let at_ns = instant(at)?;
        let changed = retrying(|| async {
            let done = sqlx::query(
                "UPDATE channels SET disabled_ns = $1 WHERE client_id = $2 AND disabled_ns IS NULL",
            )
            .bind(at_ns)
            .bind(client_id)
            .execute(self.pool())
            .await
            .map_err(sql("channel"))?;
            Ok(done.rows_affected() == 1)
        })
        .await?;
        if changed {
            return Ok(true);
        }
        match self.channel(client_id).await? {
            Some(_) => Ok(false),
            None => Err(StoreError::NotFound("channel")),
        }
    }
}

impl TrustImportStore for PgStore {
    async fn put_trust_import(&self, l: &ImportedTrustList) -> Result<()> {
        let sequence = to_i64("trust list sequence", l.sequence)?;
        let imported_ns = instant(l.imported_at)?;
        let checked_ns = instant(l.checked_at)?;
        let changed = retrying(|| async {
            // The WHERE of the upsert keeps a stored list with a higher
            // sequence: no row changes, and that is the rollback.
            let done = sqlx::query(
                "INSERT INTO trust_imports (fingerprint, publisher, source, body, sequence, imported_ns, checked_ns, last_error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (fingerprint) DO UPDATE SET publisher = excluded.publisher, source = excluded.source, \
                 body = excluded.body, sequence = excluded.sequence, imported_ns = excluded.imported_ns, \
                 checked_ns = excluded.checked_ns, last_error = excluded.last_error \
                 WHERE trust_imports.sequence <= excluded.sequence",
            )
            .bind(&l.fingerprint)
            .bind(&l.publisher)
            .bind(&l.source)
            .bind(&l.text)
            .bind(sequence)
            .bind(imported_ns)
            .bind(checked_ns)
            .bind(&l.last_error)
            .execute(self.pool())
            .await
            .map_err(sql("imported trust list"))?;
            Ok(done.rows_affected())
        })
        .await?;
        if changed == 0 {
            return Err(StoreError::Conflict(
                "a trust list with a higher sequence from this publisher",
            ));
        }
        Ok(())
    }

    async fn trust_imports(&self) -> Result<Vec<ImportedTrustList>> {
        let q = format!("SELECT {IMPORT_COLUMNS} FROM trust_imports ORDER BY fingerprint");
        let rows = retrying(|| async {
            sqlx::query(&q)
                .fetch_all(self.pool())
                .await
                .map_err(sql("imported trust list"))
        })
        .await?;
        rows.iter().map(import_from).collect()
    }

    async fn note_trust_check(
        &self,
        fingerprint: &str,
        at: OffsetDateTime,
        err: Option<&str>,
    ) -> Result<()> {
        let at_ns = instant(at)?;
        let changed = retrying(|| async {
            let done = sqlx::query(
                "UPDATE trust_imports SET checked_ns = $1, last_error = $2 WHERE fingerprint = $3",
            )
            .bind(at_ns)
            .bind(err)
            .bind(fingerprint)
            .execute(self.pool())
            .await
            .map_err(sql("imported trust list"))?;
            Ok(done.rows_affected())
        })
        .await?;
        if changed == 0 {
            return Err(StoreError::NotFound("imported trust list"));
        }
        Ok(())
    }

    async fn delete_trust_import(&self, fingerprint: &str) -> Result<bool> {
        retrying(|| async {
            let done = sqlx::query("DELETE FROM trust_imports WHERE fingerprint = $1")
                .bind(fingerprint)
                .execute(self.pool())
                .await
                .map_err(sql("imported trust list"))?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }
}
