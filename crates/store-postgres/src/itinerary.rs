//! [`ItineraryStore`] on PostgreSQL: a batch of stays is copied (binary
//! `COPY`) into a staging table and inserted from there in key order; the
//! API's batches, which report each stay, go in as `INSERT … SELECT FROM
//! UNNEST(arrays)` per [`ROWS_PER_STATEMENT`] rows. One transaction per
//! batch, retried whole on a serialization failure.

use healthcode_core::itinerary::{CityCode, RiskArea};
use healthcode_store::columns::instant;
use healthcode_store::itinerary::{
    self as it, CardQueryRecord, CarrierAccount, CarrierStay, InsertCounts, ItineraryErasure,
    ItineraryStore, RiskAreaRecord,
};
use healthcode_store::{PhoneHash, Result, StoreError};
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use crate::{get, retrying, sql, unique_violation, Cols, Failure, PgStore};

/// Stays per statement (arrays make the statement's size independent of
/// the row count; this bounds the memory of one statement).
pub const ROWS_PER_STATEMENT: usize = 10_000;

const SELECT_AREA: &str = "SELECT id, city_code, area_zh, area_en, level, starts_ns, ends_ns, \
     published_by, published_ns, ended_by, supersedes FROM risk_areas ";

fn area_from_row(row: &PgRow) -> Result<RiskAreaRecord> {
    let ends: Option<i64> = get(row, "ends_ns")?;
    it::risk_area_from(&Cols(row), ends)
}

/// The stays as column arrays.
struct Columns {
    phones: Vec<Vec<u8>>,
    cities: Vec<String>,
    firsts: Vec<i64>,
    lasts: Vec<i64>,
    cells: Vec<Option<String>>,
    carriers: Vec<Option<String>>,
}

fn columns(stays: &[CarrierStay]) -> Result<Columns> {
    let mut c = Columns {
        phones: Vec::with_capacity(stays.len()),
        cities: Vec::with_capacity(stays.len()),
        firsts: Vec::with_capacity(stays.len()),
        lasts: Vec::with_capacity(stays.len()),
        cells: Vec::with_capacity(stays.len()),
        carriers: Vec::with_capacity(stays.len()),
    };
    for s in stays {
        c.phones.push(s.phone.0.to_vec());
        c.cities.push(s.city.as_str().to_owned());
        c.firsts.push(instant(s.first_seen)?);
        c.lasts.push(instant(s.last_seen)?);
        c.cells.push(s.cell.clone());
        c.carriers.push(s.carrier.clone());
    }
    Ok(c)
}

/// The per-connection staging table of [`ItineraryStore::insert_carrier_stays`]:
/// rows are copied in, then inserted into `carrier_stays` in key order, with
/// the duplicates skipped. Emptied at every commit.
const CREATE_LOAD_TABLE: &str = "CREATE TEMP TABLE IF NOT EXISTS carrier_stays_load (\
     phone_hash BYTEA NOT NULL, city_code TEXT COLLATE \"C\" NOT NULL, first_seen BIGINT NOT NULL, \
     last_seen BIGINT NOT NULL, cell TEXT, carrier TEXT) ON COMMIT DELETE ROWS";

/// The stays in PostgreSQL's binary COPY format: the signature, then per
/// row the field count and each field as a length (-1 for NULL) and bytes.
fn copy_binary(stays: &[&CarrierStay]) -> Result<Vec<u8>> {
    fn text(out: &mut Vec<u8>, value: Option<&str>) -> Result<()> {
        match value {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(v) => {
                let len = i32::try_from(v.len()).map_err(|_| {
                    StoreError::Backend("carrier stay: a text field over 2 GiB".into())
                })?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(v.as_bytes());
            }
        }
        Ok(())
    }
    let mut out = Vec::with_capacity(21 + stays.len() * 96);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes()); // flags
    out.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    for s in stays {
        out.extend_from_slice(&6i16.to_be_bytes());
        out.extend_from_slice(&32i32.to_be_bytes());
        out.extend_from_slice(&s.phone.0);
        text(&mut out, Some(s.city.as_str()))?;
        for t in [instant(s.first_seen)?, instant(s.last_seen)?] {
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&t.to_be_bytes());
        }
        text(&mut out, s.cell.as_deref())?;
        text(&mut out, s.carrier.as_deref())?;
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    Ok(out)
}

/// Inserts the staged stays that are not stored yet. They were copied in key
/// order into a table emptied at every commit, so a scan of it returns them
/// in that order and they are inserted in it (each B-tree page visited once
/// per batch, not once per row: the keys are HMACs, so arrival order is
/// random); an ORDER BY here spilled a sort to disk. A plain insert behind an
/// anti-join measured about a third cheaper than `ON CONFLICT DO NOTHING`'s
/// speculative insertion; it fails on a key twice in the batch or written
/// meanwhile. Run after [`PROBE_BY_INDEX`].
const INSERT_NEW_STAYS: &str = "INSERT INTO carrier_stays \
     (phone_hash, city_code, first_seen, last_seen, cell, carrier) \
     SELECT l.phone_hash, l.city_code, l.first_seen, l.last_seen, l.cell, l.carrier \
     FROM carrier_stays_load l WHERE NOT EXISTS (SELECT 1 FROM carrier_stays s \
     WHERE s.phone_hash = l.phone_hash AND s.city_code = l.city_code AND s.first_seen = l.first_seen)";

/// The same, for any batch: duplicates are skipped.
const INSERT_STAYS_ON_CONFLICT: &str = "INSERT INTO carrier_stays \
     (phone_hash, city_code, first_seen, last_seen, cell, carrier) \
     SELECT phone_hash, city_code, first_seen, last_seen, cell, carrier FROM carrier_stays_load \
     ON CONFLICT DO NOTHING";

/// For the anti-join above, in this transaction: probe the primary key per
/// staged row. The planner otherwise picks a hash anti-join that reads the
/// whole of `carrier_stays` for every batch (it never sees the staging
/// table's statistics): twice as slow at 1M rows, hopeless at 100M.
const PROBE_BY_INDEX: [&str; 2] = [
    "SET LOCAL enable_hashjoin = off",
    "SET LOCAL enable_mergejoin = off",
];

/// Batches at least this large are loaded as two halves in parallel.
const PARALLEL_FROM: usize = 20_000;

impl PgStore {
    /// Loads stays in one transaction: the fast statement first; on a
    /// unique violation (a stay twice in the batch, or one stored
    /// concurrently) rolled back and loaded again with ON CONFLICT.
    async fn load_new_stays(&self, copy: &[u8]) -> Result<u64> {
        retrying(|| async {
            match self.load_stays(copy, INSERT_NEW_STAYS).await {
                Err(Failure::Sql(e, _)) if unique_violation(&e) => {
                    self.load_stays(copy, INSERT_STAYS_ON_CONFLICT).await
                }
                done => done,
            }
        })
        .await
    }

    /// One transaction: the stays (binary COPY data) into the staging
    /// table, then `insert` from there. Returns the rows inserted.
    async fn load_stays(&self, copy: &[u8], insert: &str) -> std::result::Result<u64, Failure> {
        const WHAT: &str = "carrier stay";
        let mut tx = self.pool.begin().await.map_err(sql(WHAT))?;
        sqlx::query(CREATE_LOAD_TABLE)
            .execute(&mut *tx)
            .await
            .map_err(sql(WHAT))?;
        let mut load = tx
            .copy_in_raw(
                "COPY carrier_stays_load (phone_hash, city_code, first_seen, last_seen, cell, carrier) \
                 FROM STDIN (FORMAT binary)",
            )
            .await
            .map_err(sql(WHAT))?;
        load.send(copy).await.map_err(sql(WHAT))?;
        load.finish().await.map_err(sql(WHAT))?;
        for setting in PROBE_BY_INDEX {
            sqlx::query(setting)
                .execute(&mut *tx)
                .await
                .map_err(sql(WHAT))?;
        }
        let inserted = sqlx::query(insert)
            .execute(&mut *tx)
            .await
            .map_err(sql(WHAT))?
            .rows_affected();
        tx.commit().await.map_err(sql(WHAT))?;
        Ok(inserted)
    }
}

impl ItineraryStore for PgStore {
    async fn insert_carrier_stays(&self, stays: &[CarrierStay]) -> Result<InsertCounts> {
        if stays.is_empty() {
            return Ok(InsertCounts::default());
        }
        // A large batch goes in as two transactions on two connections, one
        // per half of the key range, so that both of the server's cores
        // insert (one backend was the bottleneck of an import). The halves
        // share no key; each is loaded like a whole batch.
        let mut sorted: Vec<&CarrierStay> = stays.iter().collect();
        // (Almost free when the caller sorted them, as the importer does.)
        sorted.sort_unstable_by(|a, b| it::key_order(a, b));
        let inserted = if sorted.len() >= PARALLEL_FROM {
            let (low, high) = sorted.split_at(sorted.len() / 2);
            let (low, high) = (copy_binary(low)?, copy_binary(high)?);
            let (a, b) = tokio::try_join!(self.load_new_stays(&low), self.load_new_stays(&high))?;
            a + b
        } else {
            self.load_new_stays(&copy_binary(&sorted)?).await?
        };
        Ok(InsertCounts {
            inserted,
            already_present: (stays.len() as u64).saturating_sub(inserted),
        })
    }

    async fn insert_carrier_stays_each(&self, stays: &[CarrierStay]) -> Result<Vec<bool>> {
        const WHAT: &str = "carrier stay";
        if stays.is_empty() {
            return Ok(Vec::new());
        }
        let chunks = stays
            .chunks(ROWS_PER_STATEMENT)
            .map(columns)
            .collect::<Result<Vec<_>>>()?;
        let rows = retrying(|| async {
            let mut tx = self.pool.begin().await.map_err(sql(WHAT))?;
            let mut rows = Vec::new();
            for c in &chunks {
                rows.extend(
                    sqlx::query(
                        "INSERT INTO carrier_stays (phone_hash, city_code, first_seen, last_seen, cell, carrier) \
                         SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::int8[], $4::int8[], $5::text[], $6::text[]) \
                         ON CONFLICT DO NOTHING RETURNING phone_hash, city_code, first_seen",
                    )
                    .bind(&c.phones)
                    .bind(&c.cities)
                    .bind(&c.firsts)
                    .bind(&c.lasts)
                    .bind(&c.cells)
                    .bind(&c.carriers)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(sql(WHAT))?,
                );
            }
            tx.commit().await.map_err(sql(WHAT))?;
            Ok(rows)
        })
        .await?;
        let mut returned = Vec::with_capacity(rows.len());
        for r in &rows {
            returned.push((
                get::<Vec<u8>>(r, "phone_hash")?,
                get::<String>(r, "city_code")?,
                get::<i64>(r, "first_seen")?,
            ));
        }
        it::mark_inserted(stays, returned)
    }

    async fn carrier_stays(
        &self,
        phone: &PhoneHash,
        from: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<CarrierStay>> {
        let (from, until) = (instant(from)?, instant(until)?);
        let rows = retrying(|| async {
            sqlx::query(
                "SELECT phone_hash, city_code, first_seen, last_seen, cell, carrier FROM carrier_stays \
                 WHERE phone_hash = $1 AND first_seen <= $2 AND last_seen >= $3 ORDER BY first_seen, city_code",
            )
            .bind(&phone.0[..])
            .bind(until)
            .bind(from)
            .fetch_all(&self.pool)
            .await
            .map_err(sql("carrier stay"))
        })
        .await?;
        rows.iter().map(|r| it::stay_from(&Cols(r))).collect()
    }

    async fn purge_carrier_stays_before(&self, cutoff: OffsetDateTime) -> Result<u64> {
        let cutoff = instant(cutoff)?;
        retrying(|| async {
            Ok(sqlx::query(&format!(
                "DELETE FROM carrier_stays WHERE {}",
                it::STAYS_ENDED_BEFORE
            ))
            .bind(cutoff)
            .execute(&self.pool)
            .await
            .map_err(sql("carrier stay"))?
            .rows_affected())
        })
        .await
    }

    async fn erase_itinerary_data(&self) -> Result<ItineraryErasure> {
        retrying(|| async {
            let mut tx = self.pool.begin().await.map_err(sql("erase"))?;
            let stays = sqlx::query("DELETE FROM carrier_stays")
                .execute(&mut *tx)
                .await
                .map_err(sql("erase"))?;
            let queries = sqlx::query("DELETE FROM card_queries")
                .execute(&mut *tx)
                .await
                .map_err(sql("erase"))?;
            tx.commit().await.map_err(sql("erase"))?;
            Ok(ItineraryErasure {
                carrier_stays: stays.rows_affected(),
                card_queries: queries.rows_affected(),
            })
        })
        .await
    }

    async fn create_risk_area(&self, r: &RiskAreaRecord) -> Result<()> {
        let starts = instant(r.area.starts_at)?;
        let ends = r.area.ends_at.map(instant).transpose()?;
        let published = instant(r.published_at)?;
        retrying(|| async {
            sqlx::query(
                "INSERT INTO risk_areas (id, city_code, area_zh, area_en, level, starts_ns, ends_ns, \
                 published_by, published_ns, ended_by, supersedes) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
            )
            .bind(&r.area.id)
            .bind(r.area.city.as_str())
            .bind(&r.area.area.zh)
            .bind(&r.area.area.en)
            .bind(r.area.level.as_str())
            .bind(starts)
            .bind(ends)
            .bind(&r.published_by)
            .bind(published)
            .bind(r.ended_by.as_deref())
            .bind(r.supersedes.as_deref())
            .execute(&self.pool)
            .await
            .map_err(sql("a risk area with this id"))?;
            Ok(())
        })
        .await
    }

    async fn end_risk_area(
        &self,
        id: &str,
        ends_at: OffsetDateTime,
        ended_by: &str,
    ) -> Result<RiskAreaRecord> {
        let ends = instant(ends_at)?;
        let row = retrying(|| async {
            sqlx::query(
                "UPDATE risk_areas SET ends_ns = $1, ended_by = $2 WHERE id = $3 AND ends_ns IS NULL \
                 RETURNING id, city_code, area_zh, area_en, level, starts_ns, ends_ns, \
                 published_by, published_ns, ended_by, supersedes",
            )
            .bind(ends)
            .bind(ended_by)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(sql("risk area"))
        })
        .await?;
        match row {
            Some(row) => area_from_row(&row),
            None => match self.risk_area(id).await? {
                Some(_) => Err(StoreError::Conflict("an end for this risk area")),
                None => Err(StoreError::NotFound("risk area")),
            },
        }
    }

    async fn risk_area(&self, id: &str) -> Result<Option<RiskAreaRecord>> {
        let sql_text = format!("{SELECT_AREA} WHERE id = $1");
        let row = retrying(|| async {
            sqlx::query(&sql_text)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(sql("risk area"))
        })
        .await?;
        row.as_ref().map(area_from_row).transpose()
    }

    async fn risk_areas(&self) -> Result<Vec<RiskAreaRecord>> {
        let sql_text = format!("{SELECT_AREA} ORDER BY starts_ns DESC, id");
        let rows = retrying(|| async {
            sqlx::query(&sql_text)
                .fetch_all(&self.pool)
                .await
                .map_err(sql("risk area"))
        })
        .await?;
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
        let codes: Vec<String> = cities.iter().map(|c| c.as_str().to_owned()).collect();
        let (from, until) = (instant(from)?, instant(until)?);
        let sql_text = format!(
            "{SELECT_AREA} WHERE city_code = ANY($1) AND starts_ns <= $2 \
             AND (ends_ns IS NULL OR ends_ns > $3) ORDER BY starts_ns, id"
        );
        let rows = retrying(|| async {
            sqlx::query(&sql_text)
                .bind(&codes)
                .bind(until)
                .bind(from)
                .fetch_all(&self.pool)
                .await
                .map_err(sql("risk area"))
        })
        .await?;
        rows.iter()
            .map(|r| area_from_row(r).map(|a| a.area))
            .collect()
    }

    async fn record_card_query(&self, q: &CardQueryRecord) -> Result<()> {
        let at = instant(q.at)?;
        let window = i32::try_from(q.window_days)
            .map_err(|_| StoreError::Backend("window too large to store".into()))?;
        let cities = i32::try_from(q.cities)
            .map_err(|_| StoreError::Backend("city count too large to store".into()))?;
        retrying(|| async {
            sqlx::query(
                "INSERT INTO card_queries (phone_hash, at_ns, consent, window_days, channel, colour, cities) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7)",
            )
            .bind(&q.phone.0[..])
            .bind(at)
            .bind(i32::from(q.consent))
            .bind(window)
            .bind(&q.channel)
            .bind(q.colour.as_str())
            .bind(cities)
            .execute(&self.pool)
            .await
            .map_err(sql("card query"))?;
            Ok(())
        })
        .await
    }

    async fn card_queries(&self, phone: &PhoneHash) -> Result<Vec<CardQueryRecord>> {
        let rows = retrying(|| async {
            sqlx::query(
                "SELECT phone_hash, at_ns, consent, window_days, channel, colour, cities \
                 FROM card_queries WHERE phone_hash = $1 ORDER BY at_ns",
            )
            .bind(&phone.0[..])
            .fetch_all(&self.pool)
            .await
            .map_err(sql("card query"))
        })
        .await?;
        rows.iter().map(|r| it::card_query_from(&Cols(r))).collect()
    }

    async fn create_carrier_account(&self, a: &CarrierAccount) -> Result<()> {
        let created = instant(a.created_at)?;
        retrying(|| async {
            sqlx::query(
                "INSERT INTO carrier_accounts (name, display_name, key_hash, created_ns) VALUES ($1,$2,$3,$4)",
            )
            .bind(&a.name)
            .bind(&a.display_name)
            .bind(&a.key_hash[..])
            .bind(created)
            .execute(&self.pool)
            .await
            .map_err(sql("a carrier account with this name"))?;
            Ok(())
        })
        .await
    }

    async fn carrier_account_by_key(&self, key_hash: &[u8; 32]) -> Result<Option<CarrierAccount>> {
        let row = retrying(|| async {
            sqlx::query(
                "SELECT name, display_name, key_hash, created_ns FROM carrier_accounts WHERE key_hash = $1",
            )
            .bind(&key_hash[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(sql("carrier account"))
        })
        .await?;
        row.as_ref()
            .map(|r| it::carrier_account_from(&Cols(r)))
            .transpose()
    }
}
