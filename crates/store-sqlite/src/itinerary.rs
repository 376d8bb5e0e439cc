//! [`ItineraryStore`] on SQLite: stays go in by multi-row prepared
//! statements (rows of [`ROWS_PER_STATEMENT`]) inside one transaction.

use healthcode_core::itinerary::{CityCode, RiskArea};
use healthcode_store::columns::instant;
use healthcode_store::itinerary::{
    self as it, CardQueryRecord, CarrierAccount, CarrierStay, InsertCounts, ItineraryErasure,
    ItineraryStore, RiskAreaRecord, RISK_AREA_COLUMNS,
};
use healthcode_store::{PhoneHash, Result, StoreError};
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use crate::{error, get, multi_row_insert, Cols, SqliteStore};

/// Stays per INSERT statement: 6 parameters each, well under SQLite's
/// 32,766, and the same SQL text (one cached prepared statement) for every
/// full chunk.
pub const ROWS_PER_STATEMENT: usize = 500;

/// The page cache of a connection that imports stays: 256 MiB.
const IMPORT_CACHE: &str = "PRAGMA cache_size = -262144";

/// `INSERT OR IGNORE`, not `ON CONFLICT DO NOTHING`: with every constraint
/// on IGNORE the statement cannot abort half-way, so SQLite keeps no
/// statement journal (a copy of every page the statement changes, two
/// system calls per row when measured). The columns are validated NOT NULL
/// values, so IGNORE skips exactly the stays already stored.
fn insert_sql(rows: usize) -> String {
    insert_sql_ending(rows, "")
}

fn insert_sql_ending(rows: usize, ending: &str) -> String {
    multi_row_insert(
        "INSERT OR IGNORE INTO carrier_stays (phone_hash, city_code, first_seen, last_seen, cell, carrier) VALUES ",
        "(?,?,?,?,?,?)",
        rows,
        ending,
    )
}

fn area_from_row(row: &SqliteRow) -> Result<RiskAreaRecord> {
    let ends: Option<i64> = get(row, "ends_ns")?;
    it::risk_area_from(&Cols(row), ends)
}

impl ItineraryStore for SqliteStore {
    async fn insert_carrier_stays(&self, stays: &[CarrierStay]) -> Result<InsertCounts> {
        const WHAT: &str = "carrier stay";
        if stays.is_empty() {
            return Ok(InsertCounts::default());
        }
        let full_sql = insert_sql(ROWS_PER_STATEMENT);
        let mut conn = self.writer.acquire().await.map_err(|e| error(e, WHAT))?;
        // Stays arrive in phone-hash order, which is random: with SQLite's
        // default 2 MB page cache almost every row reads a page back from
        // the OS. A bigger cache on this connection keeps the key's upper
        // levels in memory (it is only filled as needed).
        sqlx::query(IMPORT_CACHE)
            .execute(&mut *conn)
            .await
            .map_err(|e| error(e, WHAT))?;
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(|e| error(e, WHAT))?;
        // In key order: each B-tree page is then visited once per batch,
        // not once per row (the keys are HMACs, so arrival order is random).
        let mut sorted: Vec<&CarrierStay> = stays.iter().collect();
        // (Almost free when the caller sorted them, as the importer does.)
        sorted.sort_unstable_by(|a, b| it::key_order(a, b));
        let mut inserted = 0u64;
        for chunk in sorted.chunks(ROWS_PER_STATEMENT) {
            let partial;
            let sql = if chunk.len() == ROWS_PER_STATEMENT {
                &full_sql
            } else {
                partial = insert_sql(chunk.len());
                &partial
            };
            let mut q = sqlx::query(sql);
            for s in chunk {
                q = q
                    .bind(&s.phone.0[..])
                    .bind(s.city.as_str())
                    .bind(instant(s.first_seen)?)
                    .bind(instant(s.last_seen)?)
                    .bind(s.cell.as_deref())
                    .bind(s.carrier.as_deref());
            }
            inserted += q
                .execute(&mut *tx)
                .await
                .map_err(|e| error(e, WHAT))?
                .rows_affected();
        }
        tx.commit().await.map_err(|e| error(e, WHAT))?;
        let total = stays.len() as u64;
        Ok(InsertCounts {
            inserted,
            already_present: total.saturating_sub(inserted),
        })
    }

    async fn insert_carrier_stays_each(&self, stays: &[CarrierStay]) -> Result<Vec<bool>> {
        const WHAT: &str = "carrier stay";
        const ENDING: &str = " RETURNING phone_hash, city_code, first_seen";
        if stays.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.writer.begin().await.map_err(|e| error(e, WHAT))?;
        let mut returned = Vec::new();
        for chunk in stays.chunks(ROWS_PER_STATEMENT) {
            let sql = insert_sql_ending(chunk.len(), ENDING);
            let mut q = sqlx::query(&sql);
            for s in chunk {
                q = q
                    .bind(&s.phone.0[..])
                    .bind(s.city.as_str())
                    .bind(instant(s.first_seen)?)
                    .bind(instant(s.last_seen)?)
                    .bind(s.cell.as_deref())
                    .bind(s.carrier.as_deref());
            }
            let rows = q.fetch_all(&mut *tx).await.map_err(|e| error(e, WHAT))?;
            for r in &rows {
                returned.push((
                    get::<Vec<u8>>(r, "phone_hash")?,
                    get::<String>(r, "city_code")?,
                    get::<i64>(r, "first_seen")?,
                ));
            }
        }
        tx.commit().await.map_err(|e| error(e, WHAT))?;
        it::mark_inserted(stays, returned)
    }

    async fn carrier_stays(
        &self,
        phone: &PhoneHash,
        from: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<CarrierStay>> {
        let rows = sqlx::query(
            "SELECT phone_hash, city_code, first_seen, last_seen, cell, carrier FROM carrier_stays \
             WHERE phone_hash = ? AND first_seen <= ? AND last_seen >= ? ORDER BY first_seen, city_code",
        )
        .bind(&phone.0[..])
        .bind(instant(until)?)
        .bind(instant(from)?)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| error(e, "carrier stay"))?;
        rows.iter().map(|r| it::stay_from(&Cols(r))).collect()
    }

    async fn purge_carrier_stays_before(&self, cutoff: OffsetDateTime) -> Result<u64> {
        let predicate = it::STAYS_ENDED_BEFORE.replace("$1", "?1");
        let done = sqlx::query(&format!("DELETE FROM carrier_stays WHERE {predicate}"))
            .bind(instant(cutoff)?)
            .execute(&self.pool)
            .await
            .map_err(|e| error(e, "carrier stay"))?;
        Ok(done.rows_affected())
    }

    async fn erase_itinerary_data(&self) -> Result<ItineraryErasure> {
        let mut tx = self.pool.begin().await.map_err(|e| error(e, "erase"))?;
        let stays = sqlx::query("DELETE FROM carrier_stays")
            .execute(&mut *tx)
            .await
            .map_err(|e| error(e, "erase"))?;
        let queries = sqlx::query("DELETE FROM card_queries")
            .execute(&mut *tx)
            .await
            .map_err(|e| error(e, "erase"))?;
        tx.commit().await.map_err(|e| error(e, "erase"))?;
        Ok(ItineraryErasure {
            carrier_stays: stays.rows_affected(),
            card_queries: queries.rows_affected(),
        })
    }

    async fn create_risk_area(&self, r: &RiskAreaRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO risk_areas (id, city_code, area_zh, area_en, level, starts_ns, ends_ns, \
             published_by, published_ns, ended_by, supersedes) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        )
        .bind(&r.area.id)
        .bind(r.area.city.as_str())
        .bind(&r.area.area.zh)
        .bind(&r.area.area.en)
        .bind(r.area.level.as_str())
        .bind(instant(r.area.starts_at)?)
        .bind(r.area.ends_at.map(instant).transpose()?)
        .bind(&r.published_by)
        .bind(instant(r.published_at)?)
        .bind(r.ended_by.as_deref())
        .bind(r.supersedes.as_deref())
        .execute(&self.pool)
        .await
        .map_err(|e| error(e, "a risk area with this id"))?;
        Ok(())
    }

    async fn end_risk_area(
        &self,
        id: &str,
        ends_at: OffsetDateTime,
        ended_by: &str,
    ) -> Result<RiskAreaRecord> {
        let sql = format!(
            "UPDATE risk_areas SET ends_ns = ?, ended_by = ? WHERE id = ? AND ends_ns IS NULL \
             RETURNING {RISK_AREA_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(instant(ends_at)?)
            .bind(ended_by)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| error(e, "risk area"))?;
        match row {
            Some(row) => area_from_row(&row),
            None => match self.risk_area(id).await? {
                Some(_) => Err(StoreError::Conflict("an end for this risk area")),
                None => Err(StoreError::NotFound("risk area")),
            },
        }
    }

    async fn risk_area(&self, id: &str) -> Result<Option<RiskAreaRecord>> {
        let sql = format!("SELECT {RISK_AREA_COLUMNS} FROM risk_areas WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| error(e, "risk area"))?;
        row.as_ref().map(area_from_row).transpose()
    }

    async fn risk_areas(&self) -> Result<Vec<RiskAreaRecord>> {
        let sql = format!("SELECT {RISK_AREA_COLUMNS} FROM risk_areas ORDER BY starts_ns DESC, id");
        let rows = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error(e, "risk area"))?;
        rows.iter().map(area_from_row).collect()
    }

    async fn risk_areas_in(
        &self,
        cities: &[CityCode],
        from: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<RiskArea>> {
        if cities.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; cities.len()].join(",");
        let sql = format!(
            "SELECT {RISK_AREA_COLUMNS} FROM risk_areas WHERE city_code IN ({marks}) \
             AND starts_ns <= ? AND (ends_ns IS NULL OR ends_ns > ?) ORDER BY starts_ns, id"
        );
        let mut q = sqlx::query(&sql);
        for c in cities {
            q = q.bind(c.as_str());
        }
        let rows = q
            .bind(instant(until)?)
            .bind(instant(from)?)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error(e, "risk area"))?;
        rows.iter()
            .map(|r| area_from_row(r).map(|a| a.area))
            .collect()
    }

    async fn record_card_query(&self, q: &CardQueryRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO card_queries (phone_hash, at_ns, consent, window_days, channel, colour, cities) \
             VALUES (?,?,?,?,?,?,?)",
        )
        .bind(&q.phone.0[..])
        .bind(instant(q.at)?)
        .bind(i64::from(q.consent))
        .bind(i64::from(q.window_days))
        .bind(&q.channel)
        .bind(q.colour.as_str())
        .bind(i64::from(q.cities))
        .execute(&self.pool)
        .await
        .map_err(|e| error(e, "card query"))?;
        Ok(())
    }

    async fn card_queries(&self, phone: &PhoneHash) -> Result<Vec<CardQueryRecord>> {
        let rows = sqlx::query(
            "SELECT phone_hash, at_ns, consent, window_days, channel, colour, cities \
             FROM card_queries WHERE phone_hash = ? ORDER BY at_ns",
        )
        .bind(&phone.0[..])
        .fetch_all(&self.pool)
        .await
        .map_err(|e| error(e, "card query"))?;
        rows.iter().map(|r| it::card_query_from(&Cols(r))).collect()
    }

    async fn create_carrier_account(&self, a: &CarrierAccount) -> Result<()> {
        sqlx::query(
            "INSERT INTO carrier_accounts (name, display_name, key_hash, created_ns) VALUES (?,?,?,?)",
        )
        .bind(&a.name)
        .bind(&a.display_name)
        .bind(&a.key_hash[..])
        .bind(instant(a.created_at)?)
        .execute(&self.pool)
        .await
        .map_err(|e| error(e, "a carrier account with this name"))?;
        Ok(())
    }

    async fn carrier_account_by_key(&self, key_hash: &[u8; 32]) -> Result<Option<CarrierAccount>> {
        let row = sqlx::query(
            "SELECT name, display_name, key_hash, created_ns FROM carrier_accounts WHERE key_hash = ?",
        )
        .bind(&key_hash[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| error(e, "carrier account"))?;
        row.as_ref()
            .map(|r| it::carrier_account_from(&Cols(r)))
            .transpose()
    }
}
