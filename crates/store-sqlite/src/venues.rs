//! [`VenueStore`] on SQLite: multi-row inserts in one transaction per
//! batch (one fsync per batch, not per row).

use healthcode_store::columns::{instant, to_json};
use healthcode_store::venues::{
    self, client_key, person_bytes, CheckIn, Dependent, HourReveal, SealedCheckIn, VenueId,
    VenueRecord, CHECKIN_COLUMNS, DEPENDENT_COLUMNS, MAX_STAY, VENUE_COLUMNS,
};
use healthcode_store::{PersonId, Result, VenueStore};
use std::collections::HashSet;

use time::OffsetDateTime;

use super::{error, get, multi_row_insert, Cols, SqliteStore};

/// Rows per INSERT statement (5 parameters each, under SQLite's 32,766).
const ROWS_PER_STATEMENT: usize = 1000;

fn max_stay_ns() -> i64 {
    MAX_STAY.whole_nanoseconds() as i64
}

fn venue_row(row: &sqlx::sqlite::SqliteRow) -> Result<VenueRecord> {
    venues::venue_from(&Cols(row))
}

fn checkin_row(row: &sqlx::sqlite::SqliteRow) -> Result<CheckIn> {
    venues::checkin_from(&Cols(row))
}

struct Row5 {
    person: [u8; 16],
    arrived: i64,
    venue: i64,
    dependent: i64,
    left: i64,
}

fn encode(c: &CheckIn) -> Result<Row5> {
    Ok(Row5 {
        person: person_bytes(&c.person)?,
        arrived: instant(c.arrived)?,
        venue: c.venue.to_i64(),
        dependent: i64::from(c.dependent),
        left: instant(c.left)?,
    })
}

async fn insert_rows(
    tx: &mut sqlx::SqliteConnection,
    rows: &[Row5],
) -> std::result::Result<u64, sqlx::Error> {
    let mut stored = 0;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = multi_row_insert(
            "INSERT OR IGNORE INTO checkins (person, arrived_ns, venue_id, dependent, left_ns) VALUES ",
            "(?,?,?,?,?)",
            chunk.len(),
            "",
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(&r.person[..])
                .bind(r.arrived)
                .bind(r.venue)
                .bind(r.dependent)
                .bind(r.left);
        }
        stored += q.execute(&mut *tx).await?.rows_affected();
    }
    Ok(stored)
}

impl VenueStore for SqliteStore {
    async fn create_venue(&self, v: &VenueRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO venues (id, name, address, region_code, category, cell, mode, \
             operator_token_hash, demo, registered_by, created_ns, hour_keys) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(v.id.to_i64())
        .bind(&v.name)
        .bind(&v.address)
        .bind(&v.region_code)
        .bind(&v.category)
        .bind(v.cell.as_deref())
        .bind(v.mode.as_str())
        .bind(&v.operator_token_hash[..])
        .bind(i64::from(v.demo))
        .bind(&v.registered_by)
        .bind(instant(v.created_at)?)
        .bind(v.hour_keys.as_ref().map(venues::hour_keys_bytes))
        .execute(&self.pool)
        .await
        .map_err(|e| error(e, "venue"))?;
        Ok(())
    }

    async fn venue(&self, id: VenueId) -> Result<Option<VenueRecord>> {
        let sql = format!("SELECT {VENUE_COLUMNS} FROM venues WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(id.to_i64())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| error(e, "venue"))?;
        row.as_ref().map(venue_row).transpose()
    }

    async fn venue_by_operator(&self, token_hash: &[u8; 32]) -> Result<Option<VenueRecord>> {
        let sql = format!("SELECT {VENUE_COLUMNS} FROM venues WHERE operator_token_hash = ?");
        let row = sqlx::query(&sql)
            .bind(&token_hash[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| error(e, "venue"))?;
        row.as_ref().map(venue_row).transpose()
    }

    async fn venues(&self, limit: u32) -> Result<Vec<VenueRecord>> {
        let sql =
            format!("SELECT {VENUE_COLUMNS} FROM venues ORDER BY created_ns DESC, id LIMIT ?");
        let rows = sqlx::query(&sql)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error(e, "venue"))?;
        rows.iter().map(venue_row).collect()
    }

    async fn add_dependent(&self, d: &Dependent) -> Result<()> {
        sqlx::query(
            "INSERT INTO dependents (guardian, number, identity_number, full_name, identity, created_ns) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(d.guardian.as_str())
        .bind(i64::from(d.number))
        .bind(d.identity.number())
        .bind(&d.full_name)
        .bind(to_json("identity", &d.identity)?)
        .bind(instant(d.created_at)?)
        .execute(&self.pool)
        .await
        .map_err(|e| error(e, "a dependent with this number or document"))?;
        Ok(())
    }

    async fn dependents(&self, guardian: &PersonId) -> Result<Vec<Dependent>> {
        let sql = format!(
            "SELECT {DEPENDENT_COLUMNS} FROM dependents WHERE guardian = ? ORDER BY number"
        );
        let rows = sqlx::query(&sql)
            .bind(guardian.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error(e, "dependent"))?;
        rows.iter()
            .map(|r| venues::dependent_from(&Cols(r)))
            .collect()
    }

    async fn known_people(&self, ids: &[PersonId]) -> Result<HashSet<PersonId>> {
        let mut known = HashSet::new();
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!("SELECT id FROM persons WHERE id IN ({marks})");
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            for row in q
                .fetch_all(&self.pool)
                .await
                .map_err(|e| error(e, "person"))?
            {
                known.insert(healthcode_store::columns::person_id(
                    "person",
                    &get::<String>(&row, "id")?,
                )?);
            }
        }
        Ok(known)
    }

    async fn insert_checkins(&self, checkins: &[CheckIn]) -> Result<u64> {
        let rows = checkins.iter().map(encode).collect::<Result<Vec<_>>>()?;
        let mut tx = self
            .writer
            .begin()
            .await
            .map_err(|e| error(e, "check-in"))?;
        let stored = insert_rows(&mut tx, &rows)
            .await
            .map_err(|e| error(e, "check-in"))?;
        tx.commit().await.map_err(|e| error(e, "check-in"))?;
        Ok(stored)
    }

    async fn insert_checkins_once(
        &self,
        scope: &str,
        items: &[(String, CheckIn)],
    ) -> Result<Vec<bool>> {
        let rows = items
            .iter()
            .map(|(_, c)| encode(c))
            .collect::<Result<Vec<_>>>()?;
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| error(e, "check-in"))?;
        // One multi-row INSERT per chunk; RETURNING names the keys that were
        // new (an ignored row returns nothing). A key repeated within the
        // batch is new once: for its first item.
        let keys: Vec<[u8; 16]> = items.iter().map(|(id, _)| client_key(scope, id)).collect();
        let mut new_keys: HashSet<Vec<u8>> = HashSet::with_capacity(items.len());
        for (chunk_keys, chunk_rows) in keys
            .chunks(ROWS_PER_STATEMENT)
            .zip(rows.chunks(ROWS_PER_STATEMENT))
        {
            let sql = multi_row_insert(
                "INSERT OR IGNORE INTO checkin_client_ids (key, left_ns) VALUES ",
                "(?,?)",
                chunk_keys.len(),
                " RETURNING key",
            );
            let mut q = sqlx::query_scalar::<_, Vec<u8>>(&sql);
            for (key, row) in chunk_keys.iter().zip(chunk_rows) {
                q = q.bind(&key[..]).bind(row.left);
            }
            new_keys.extend(
                q.fetch_all(&mut *tx)
                    .await
                    .map_err(|e| error(e, "check-in"))?,
            );
        }
        let mut fresh = Vec::with_capacity(items.len());
        let mut new_rows = Vec::with_capacity(new_keys.len());
        for (key, row) in keys.iter().zip(rows) {
            let is_new = new_keys.remove(&key[..]);
            fresh.push(is_new);
            if is_new {
                new_rows.push(row);
            }
        }
        insert_rows(&mut tx, &new_rows)
            .await
            .map_err(|e| error(e, "check-in"))?;
        tx.commit().await.map_err(|e| error(e, "check-in"))?;
        Ok(fresh)
    }

    async fn check_out(&self, c: &CheckIn, left: OffsetDateTime) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE checkins SET left_ns = ? WHERE person = ? AND arrived_ns = ? \
             AND venue_id = ? AND dependent = ?",
        )
        .bind(instant(left)?)
        .bind(&person_bytes(&c.person)?[..])
        .bind(instant(c.arrived)?)
        .bind(c.venue.to_i64())
        .bind(i64::from(c.dependent))
        .execute(&self.pool)
        .await
        .map_err(|e| error(e, "check-in"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn venue_checkins(
        &self,
        venue: VenueId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<CheckIn>> {
        let sql = format!(
            "SELECT {CHECKIN_COLUMNS} FROM checkins WHERE venue_id = ? AND arrived_ns >= ? \
             AND arrived_ns < ? ORDER BY arrived_ns DESC, person, dependent LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(venue.to_i64())
            .bind(instant(from)?)
            .bind(instant(to)?)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error(e, "check-in"))?;
        rows.iter().map(checkin_row).collect()
    }

    async fn person_checkins(
        &self,
        person: &PersonId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<CheckIn>> {
        let sql = format!(
            "SELECT {CHECKIN_COLUMNS} FROM checkins WHERE person = ? AND arrived_ns < ? \
             AND arrived_ns > ? AND left_ns > ? ORDER BY arrived_ns, venue_id, dependent"
        );
        let from = instant(from)?;
        let rows = sqlx::query(&sql)
            .bind(&person_bytes(person)?[..])
            .bind(instant(to)?)
            .bind(from.saturating_sub(max_stay_ns()))
            .bind(from)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error(e, "check-in"))?;
        rows.iter().map(checkin_row).collect()
    }

    async fn colocated_checkins(
        &self,
        person: &PersonId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<CheckIn>> {
        let from = instant(from)?;
        let rows = sqlx::query(
            "SELECT DISTINCT c.venue_id, c.person, c.dependent, c.arrived_ns, c.left_ns \
             FROM checkins k JOIN checkins c ON c.venue_id = k.venue_id \
               AND c.arrived_ns < k.left_ns AND c.arrived_ns > k.arrived_ns - ?1 \
               AND c.left_ns > k.arrived_ns \
             WHERE k.person = ?2 AND k.arrived_ns < ?3 AND k.arrived_ns > ?4 AND k.left_ns > ?5 \
             ORDER BY c.arrived_ns, c.venue_id, c.person, c.dependent",
        )
        .bind(max_stay_ns())
        .bind(&person_bytes(person)?[..])
        .bind(instant(to)?)
        .bind(from.saturating_sub(max_stay_ns()))
        .bind(from)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| error(e, "check-in"))?;
        rows.iter().map(checkin_row).collect()
    }

    async fn cell_stays(
        &self,
        cells: &[String],
        from: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<healthcode_store::itinerary::CarrierStay>> {
        let (from, until) = (instant(from)?, instant(until)?);
        let mut out = Vec::new();
        for chunk in cells.chunks(ROWS_PER_STATEMENT) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT phone_hash, city_code, first_seen, last_seen, cell, carrier FROM carrier_stays \
                 WHERE cell IN ({marks}) AND first_seen <= ? AND last_seen >= ?"
            );
            let mut q = sqlx::query(&sql);
            for c in chunk {
                q = q.bind(c.as_str());
            }
            let rows = q
                .bind(until)
                .bind(from)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| error(e, "carrier stay"))?;
            for row in &rows {
                out.push(healthcode_store::itinerary::stay_from(&Cols(row))?);
            }
        }
        out.sort_by_key(|s| s.first_seen);
        Ok(out)
    }

    async fn insert_sealed(&self, s: &SealedCheckIn) -> Result<()> {
        sqlx::query(
            "INSERT INTO sealed_checkins (venue_id, hour, ephemeral, ciphertext) VALUES (?, ?, ?, ?)",
        )
        .bind(s.venue.to_i64())
        .bind(s.hour)
        .bind(&s.ephemeral[..])
        .bind(&s.ciphertext)
        .execute(&self.pool)
        .await
        .map_err(|e| error(e, "sealed check-in"))?;
        Ok(())
    }

    async fn sealed_checkins(&self, venue: VenueId, hour: i64) -> Result<Vec<SealedCheckIn>> {
        let rows = sqlx::query(
            "SELECT venue_id, hour, ephemeral, ciphertext FROM sealed_checkins \
             WHERE venue_id = ? AND hour = ? ORDER BY ephemeral",
        )
        .bind(venue.to_i64())
        .bind(hour)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| error(e, "sealed check-in"))?;
        rows.iter().map(|r| venues::sealed_from(&Cols(r))).collect()
    }

    async fn sealed_counts(
        &self,
        venue: VenueId,
        from_hour: i64,
        to_hour: i64,
    ) -> Result<Vec<(i64, u64)>> {
        let rows = sqlx::query(
            "SELECT hour, COUNT(*) AS n FROM sealed_checkins WHERE venue_id = ? \
             AND hour >= ? AND hour <= ? GROUP BY hour ORDER BY hour",
        )
        .bind(venue.to_i64())
        .bind(from_hour)
        .bind(to_hour)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| error(e, "sealed check-in"))?;
        rows.iter()
            .map(|r| {
                let n: i64 = get(r, "n")?;
                Ok((get(r, "hour")?, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }

    async fn put_reveal(&self, r: &HourReveal) -> Result<()> {
        sqlx::query(
            "INSERT INTO hour_reveals (venue_id, hour, secret, revealed_ns) VALUES (?, ?, ?, ?) \
             ON CONFLICT (venue_id, hour) DO UPDATE SET secret = excluded.secret, \
             revealed_ns = excluded.revealed_ns",
        )
        .bind(r.venue.to_i64())
        .bind(r.hour)
        .bind(&r.secret[..])
        .bind(instant(r.revealed_at)?)
        .execute(&self.pool)
        .await
        .map_err(|e| error(e, "hour reveal"))?;
        Ok(())
    }

    async fn reveals(&self, venue: VenueId) -> Result<Vec<HourReveal>> {
        let rows = sqlx::query(
            "SELECT venue_id, hour, secret, revealed_ns FROM hour_reveals WHERE venue_id = ? ORDER BY hour",
        )
        .bind(venue.to_i64())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| error(e, "hour reveal"))?;
        rows.iter().map(|r| venues::reveal_from(&Cols(r))).collect()
    }
}
