//! [`VenueStore`] on PostgreSQL. Batches of check-ins go in as one
//! `INSERT … SELECT FROM UNNEST(arrays)` per batch: five array parameters
//! however many rows, one round trip, one plan.

use healthcode_store::columns::{instant, to_json};
use healthcode_store::venues::{
    self, client_key, person_bytes, CheckIn, Dependent, HourReveal, SealedCheckIn, VenueId,
    VenueRecord, CHECKIN_COLUMNS, DEPENDENT_COLUMNS, MAX_STAY, VENUE_COLUMNS,
};
use healthcode_store::{PersonId, Result, VenueStore};
use sqlx::postgres::PgRow;
use std::collections::HashSet;
use std::sync::LazyLock;

use time::OffsetDateTime;

use super::{get, retrying, sql, unique_violation, Cols, Failure, PgStore};

fn max_stay_ns() -> i64 {
    MAX_STAY.whole_nanoseconds() as i64
}

fn venue_row(row: &PgRow) -> Result<VenueRecord> {
    venues::venue_from(&Cols(row))
}

fn checkin_row(row: &PgRow) -> Result<CheckIn> {
    venues::checkin_from(&Cols(row))
}

/// Check-ins as the five arrays of an UNNEST insert.
#[derive(Default)]
struct Columns {
    arrived: Vec<i64>,
    left: Vec<i64>,
    venue: Vec<i64>,
    dependent: Vec<i32>,
    person: Vec<Vec<u8>>,
}

impl Columns {
    fn push(&mut self, c: &CheckIn) -> Result<()> {
        self.arrived.push(instant(c.arrived)?);
        self.left.push(instant(c.left)?);
        self.venue.push(c.venue.to_i64());
        self.dependent.push(i32::from(c.dependent));
        self.person.push(person_bytes(&c.person)?.to_vec());
        Ok(())
    }
}

const INSERT_UNNEST: &str =
    "INSERT INTO checkins (arrived_ns, left_ns, venue_id, dependent, person) \
     SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::integer[], $5::bytea[]) \
     ON CONFLICT DO NOTHING";

/// [`VenueStore::insert_checkins_once`] in one statement: the client ids
/// not seen before (a key repeated within the batch is new once, for its
/// first item), and the check-ins of exactly those. `{NEW_KEYS}` is filled
/// by one of the two forms below, once per process.
const INSERT_ONCE: &str = "\
    WITH batch AS ( \
        SELECT DISTINCT ON (key) * FROM UNNEST($1::bytea[], $2::bigint[], $3::bigint[], \
            $4::bigint[], $5::integer[], $6::bytea[]) \
            WITH ORDINALITY AS b(key, arrived_ns, left_ns, venue_id, dependent, person, n) \
        ORDER BY key, n), \
    fresh AS ({NEW_KEYS} RETURNING key), \
    stored AS ( \
        INSERT INTO checkins (arrived_ns, left_ns, venue_id, dependent, person) \
        SELECT b.arrived_ns, b.left_ns, b.venue_id, b.dependent, b.person \
        FROM batch b JOIN fresh f ON f.key = b.key \
        ON CONFLICT DO NOTHING) \
    SELECT key FROM fresh";

/// A plain insert behind an anti-join (measured cheaper than ON CONFLICT's
/// speculative insertion); fails if another batch stores one of the keys
/// meanwhile.
const NEW_KEYS_ANTI_JOIN: &str = "INSERT INTO checkin_client_ids (key, left_ns) \
    SELECT key, left_ns FROM batch b \
    WHERE NOT EXISTS (SELECT 1 FROM checkin_client_ids c WHERE c.key = b.key)";

/// The same for any concurrency: a key stored meanwhile is skipped.
const NEW_KEYS_ON_CONFLICT: &str = "INSERT INTO checkin_client_ids (key, left_ns) \
    SELECT key, left_ns FROM batch ON CONFLICT DO NOTHING";

static INSERT_ONCE_ANTI_JOIN: LazyLock<String> =
    LazyLock::new(|| INSERT_ONCE.replace("{NEW_KEYS}", NEW_KEYS_ANTI_JOIN));
static INSERT_ONCE_ON_CONFLICT: LazyLock<String> =
    LazyLock::new(|| INSERT_ONCE.replace("{NEW_KEYS}", NEW_KEYS_ON_CONFLICT));

/// Runs a form of [`INSERT_ONCE`]; returns the new keys.
async fn insert_once(
    pool: &sqlx::PgPool,
    statement: &str,
    keys: &[Vec<u8>],
    cols: &Columns,
) -> std::result::Result<Vec<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar(statement)
        .bind(keys)
        .bind(&cols.arrived)
        .bind(&cols.left)
        .bind(&cols.venue)
        .bind(&cols.dependent)
        .bind(&cols.person)
        .fetch_all(pool)
        .await
}

async fn insert_columns<'e, E>(executor: E, cols: &Columns) -> std::result::Result<u64, Failure>
where
    E: sqlx::PgExecutor<'e>,
{
    if cols.arrived.is_empty() {
        return Ok(0);
    }
    Ok(sqlx::query(INSERT_UNNEST)
        .bind(&cols.arrived)
        .bind(&cols.left)
        .bind(&cols.venue)
        .bind(&cols.dependent)
        .bind(&cols.person)
        .execute(executor)
        .await
        .map_err(sql("check-in"))?
        .rows_affected())
}

impl VenueStore for PgStore {
    async fn create_venue(&self, v: &VenueRecord) -> Result<()> {
        let created_ns = instant(v.created_at)?;
        let keys = v.hour_keys.as_ref().map(venues::hour_keys_bytes);
        retrying(|| async {
            sqlx::query(
                "INSERT INTO venues (id, name, address, region_code, category, cell, mode, \
                 operator_token_hash, demo, registered_by, created_ns, hour_keys) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
            .bind(created_ns)
            .bind(keys.as_deref())
            .execute(&self.pool)
            .await
            .map_err(sql("venue"))?;
            Ok(())
        })
        .await
    }

    async fn venue(&self, id: VenueId) -> Result<Option<VenueRecord>> {
        let q = format!("SELECT {VENUE_COLUMNS} FROM venues WHERE id = $1");
        retrying(|| async {
            let row = sqlx::query(&q)
                .bind(id.to_i64())
                .fetch_optional(&self.pool)
                .await
                .map_err(sql("venue"))?;
            Ok(row.as_ref().map(venue_row).transpose()?)
        })
        .await
    }

    async fn venue_by_operator(&self, token_hash: &[u8; 32]) -> Result<Option<VenueRecord>> {
        let q = format!("SELECT {VENUE_COLUMNS} FROM venues WHERE operator_token_hash = $1");
        retrying(|| async {
            let row = sqlx::query(&q)
                .bind(&token_hash[..])
                .fetch_optional(&self.pool)
                .await
                .map_err(sql("venue"))?;
            Ok(row.as_ref().map(venue_row).transpose()?)
        })
        .await
    }

    async fn venues(&self, limit: u32) -> Result<Vec<VenueRecord>> {
        let q = format!("SELECT {VENUE_COLUMNS} FROM venues ORDER BY created_ns DESC, id LIMIT $1");
        retrying(|| async {
            let rows = sqlx::query(&q)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(sql("venue"))?;
            Ok(rows.iter().map(venue_row).collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn add_dependent(&self, d: &Dependent) -> Result<()> {
        let identity = to_json("identity", &d.identity)?;
        let created_ns = instant(d.created_at)?;
        retrying(|| async {
            sqlx::query(
                "INSERT INTO dependents (guardian, number, identity_number, full_name, identity, created_ns) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(d.guardian.as_str())
            .bind(i32::from(d.number))
            .bind(d.identity.number())
            .bind(&d.full_name)
            .bind(&identity)
            .bind(created_ns)
            .execute(&self.pool)
            .await
            .map_err(sql("a dependent with this number or document"))?;
            Ok(())
        })
        .await
    }

    async fn dependents(&self, guardian: &PersonId) -> Result<Vec<Dependent>> {
        let q = format!(
            "SELECT {DEPENDENT_COLUMNS} FROM dependents WHERE guardian = $1 ORDER BY number"
        );
        retrying(|| async {
            let rows = sqlx::query(&q)
                .bind(guardian.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(sql("dependent"))?;
            Ok(rows
                .iter()
                .map(|r| venues::dependent_from(&Cols(r)))
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn known_people(&self, ids: &[PersonId]) -> Result<HashSet<PersonId>> {
        let ids: Vec<&str> = ids.iter().map(PersonId::as_str).collect();
        retrying(|| async {
            let rows: Vec<String> =
                sqlx::query_scalar("SELECT id FROM persons WHERE id = ANY($1::text[])")
                    .bind(&ids)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(sql("person"))?;
            Ok(rows
                .iter()
                .map(|id| healthcode_store::columns::person_id("person", id))
                .collect::<Result<HashSet<_>>>()?)
        })
        .await
    }

    async fn insert_checkins(&self, checkins: &[CheckIn]) -> Result<u64> {
        let mut cols = Columns::default();
        for c in checkins {
            cols.push(c)?;
        }
        retrying(|| insert_columns(&self.pool, &cols)).await
    }

    async fn insert_checkins_once(
        &self,
        scope: &str,
        items: &[(String, CheckIn)],
    ) -> Result<Vec<bool>> {
        let keys: Vec<Vec<u8>> = items
            .iter()
            .map(|(id, _)| client_key(scope, id).to_vec())
            .collect();
        let mut cols = Columns::default();
        for (_, c) in items {
            cols.push(c)?;
        }
        retrying(|| async {
            let fresh = match insert_once(&self.pool, &INSERT_ONCE_ANTI_JOIN, &keys, &cols).await {
                Err(e) if unique_violation(&e) => {
                    insert_once(&self.pool, &INSERT_ONCE_ON_CONFLICT, &keys, &cols).await
                }
                done => done,
            }
            .map_err(sql("check-in"))?;
            let mut fresh: HashSet<Vec<u8>> = fresh.into_iter().collect();
            Ok(keys.iter().map(|key| fresh.remove(key)).collect())
        })
        .await
    }

    async fn check_out(&self, c: &CheckIn, left: OffsetDateTime) -> Result<bool> {
        let left = instant(left)?;
        let arrived = instant(c.arrived)?;
        let person = person_bytes(&c.person)?;
        retrying(|| async {
            let done = sqlx::query(
                "UPDATE checkins SET left_ns = $1 WHERE person = $2 AND arrived_ns = $3 \
                 AND venue_id = $4 AND dependent = $5",
            )
            .bind(left)
            .bind(&person[..])
            .bind(arrived)
            .bind(c.venue.to_i64())
            .bind(i32::from(c.dependent))
            .execute(&self.pool)
            .await
            .map_err(sql("check-in"))?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn venue_checkins(
        &self,
        venue: VenueId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<CheckIn>> {
        let q = format!(
            "SELECT {CHECKIN_COLUMNS} FROM checkins WHERE venue_id = $1 AND arrived_ns >= $2 \
             AND arrived_ns < $3 ORDER BY arrived_ns DESC, person, dependent LIMIT $4"
        );
        let (from, to) = (instant(from)?, instant(to)?);
        retrying(|| async {
            let rows = sqlx::query(&q)
                .bind(venue.to_i64())
                .bind(from)
                .bind(to)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(sql("check-in"))?;
            Ok(rows.iter().map(checkin_row).collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn person_checkins(
        &self,
        person: &PersonId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<CheckIn>> {
        let q = format!(
            "SELECT {CHECKIN_COLUMNS} FROM checkins WHERE person = $1 AND arrived_ns < $2 \
             AND arrived_ns > $3 AND left_ns > $4 ORDER BY arrived_ns, venue_id, dependent"
        );
        let (from, to) = (instant(from)?, instant(to)?);
        let person = person_bytes(person)?;
        retrying(|| async {
            let rows = sqlx::query(&q)
                .bind(&person[..])
                .bind(to)
                .bind(from.saturating_sub(max_stay_ns()))
                .bind(from)
                .fetch_all(&self.pool)
                .await
                .map_err(sql("check-in"))?;
            Ok(rows.iter().map(checkin_row).collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn colocated_checkins(
        &self,
        person: &PersonId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<CheckIn>> {
        let (from, to) = (instant(from)?, instant(to)?);
        let person = person_bytes(person)?;
        retrying(|| async {
            let rows = sqlx::query(
                "SELECT DISTINCT c.venue_id, c.person, c.dependent, c.arrived_ns, c.left_ns \
                 FROM checkins k JOIN checkins c ON c.venue_id = k.venue_id \
                   AND c.arrived_ns < k.left_ns AND c.arrived_ns > k.arrived_ns - $1 \
                   AND c.left_ns > k.arrived_ns \
                 WHERE k.person = $2 AND k.arrived_ns < $3 AND k.arrived_ns > $4 AND k.left_ns > $5 \
                 ORDER BY c.arrived_ns, c.venue_id, c.person, c.dependent",
            )
            .bind(max_stay_ns())
            .bind(&person[..])
            .bind(to)
            .bind(from.saturating_sub(max_stay_ns()))
            .bind(from)
            .fetch_all(&self.pool)
            .await
            .map_err(sql("check-in"))?;
            Ok(rows.iter().map(checkin_row).collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn cell_stays(
        &self,
        cells: &[String],
        from: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<healthcode_store::itinerary::CarrierStay>> {
        let (from, until) = (instant(from)?, instant(until)?);
        retrying(|| async {
            let rows = sqlx::query(
                "SELECT phone_hash, city_code, first_seen, last_seen, cell, carrier FROM carrier_stays \
                 WHERE cell = ANY($1::text[]) AND first_seen <= $2 AND last_seen >= $3 \
                 ORDER BY first_seen, phone_hash",
            )
            .bind(cells)
            .bind(until)
            .bind(from)
            .fetch_all(&self.pool)
            .await
            .map_err(sql("carrier stay"))?;
            Ok(rows
                .iter()
                .map(|r| healthcode_store::itinerary::stay_from(&Cols(r)))
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn insert_sealed(&self, s: &SealedCheckIn) -> Result<()> {
        retrying(|| async {
            sqlx::query(
                "INSERT INTO sealed_checkins (venue_id, hour, ephemeral, ciphertext) VALUES ($1, $2, $3, $4)",
            )
            .bind(s.venue.to_i64())
            .bind(s.hour)
            .bind(&s.ephemeral[..])
            .bind(&s.ciphertext)
            .execute(&self.pool)
            .await
            .map_err(sql("sealed check-in"))?;
            Ok(())
        })
        .await
    }

    async fn sealed_checkins(&self, venue: VenueId, hour: i64) -> Result<Vec<SealedCheckIn>> {
        retrying(|| async {
            let rows = sqlx::query(
                "SELECT venue_id, hour, ephemeral, ciphertext FROM sealed_checkins \
                 WHERE venue_id = $1 AND hour = $2 ORDER BY ephemeral",
            )
            .bind(venue.to_i64())
            .bind(hour)
            .fetch_all(&self.pool)
            .await
            .map_err(sql("sealed check-in"))?;
            Ok(rows
                .iter()
                .map(|r| venues::sealed_from(&Cols(r)))
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn sealed_counts(
        &self,
        venue: VenueId,
        from_hour: i64,
        to_hour: i64,
    ) -> Result<Vec<(i64, u64)>> {
        retrying(|| async {
            let rows = sqlx::query(
                "SELECT hour, COUNT(*) AS n FROM sealed_checkins WHERE venue_id = $1 \
                 AND hour >= $2 AND hour <= $3 GROUP BY hour ORDER BY hour",
            )
            .bind(venue.to_i64())
            .bind(from_hour)
            .bind(to_hour)
            .fetch_all(&self.pool)
            .await
            .map_err(sql("sealed check-in"))?;
            Ok(rows
                .iter()
                .map(|r| {
                    let n: i64 = get(r, "n")?;
                    Ok((get(r, "hour")?, u64::try_from(n).unwrap_or(0)))
                })
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn put_reveal(&self, r: &HourReveal) -> Result<()> {
        let revealed = instant(r.revealed_at)?;
        retrying(|| async {
            sqlx::query(
                "INSERT INTO hour_reveals (venue_id, hour, secret, revealed_ns) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (venue_id, hour) DO UPDATE SET secret = excluded.secret, \
                 revealed_ns = excluded.revealed_ns",
            )
            .bind(r.venue.to_i64())
            .bind(r.hour)
            .bind(&r.secret[..])
            .bind(revealed)
            .execute(&self.pool)
            .await
            .map_err(sql("hour reveal"))?;
            Ok(())
        })
        .await
    }

    async fn reveals(&self, venue: VenueId) -> Result<Vec<HourReveal>> {
        retrying(|| async {
            let rows = sqlx::query(
                "SELECT venue_id, hour, secret, revealed_ns FROM hour_reveals WHERE venue_id = $1 ORDER BY hour",
            )
            .bind(venue.to_i64())
            .fetch_all(&self.pool)
            .await
            .map_err(sql("hour reveal"))?;
            Ok(rows
                .iter()
                .map(|r| venues::reveal_from(&Cols(r)))
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }
}
