//! Revoked codes in SQLite.

use healthcode_store::columns::{instant, utc_instant};
use healthcode_store::revocations::CODE_ID_LEN;
use healthcode_store::{Result, Revocation, RevocationStore, StoreError};
use sqlx::sqlite::SqliteRow;

use crate::{error, get, SqliteStore};

fn revocation_from_row(row: &SqliteRow) -> Result<Revocation> {
    let code_id: Vec<u8> = get(row, "code_id")?;
    let code_id: [u8; CODE_ID_LEN] = code_id.try_into().map_err(|_| StoreError::Corrupt {
        what: "revocation",
        why: format!("code id is not {CODE_ID_LEN} bytes"),
    })?;
    Ok(Revocation {
        code_id,
        reason: get(row, "reason")?,
        revoked_by: get(row, "revoked_by")?,
        revoked_at: utc_instant("revocation", get(row, "revoked_ns")?)?,
    })
}

impl RevocationStore for SqliteStore {
    async fn revoke_code(&self, r: &Revocation) -> Result<()> {
        let at = instant(r.revoked_at)?;
        sqlx::query(
            "INSERT INTO revocations (code_id, reason, revoked_by, revoked_ns) VALUES (?, ?, ?, ?)",
        )
        .bind(&r.code_id[..])
        .bind(&r.reason)
        .bind(&r.revoked_by)
        .bind(at)
        .execute(self.pool())
        .await
        .map_err(|e| error(e, "a revocation of this code"))?;
        Ok(())
    }

    async fn revocations(&self) -> Result<Vec<Revocation>> {
        let rows = sqlx::query(
            "SELECT code_id, reason, revoked_by, revoked_ns FROM revocations \
             ORDER BY revoked_ns, code_id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(|e| error(e, "revocation"))?;
        rows.iter().map(revocation_from_row).collect()
    }
}
