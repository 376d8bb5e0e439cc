//! Storage of the itinerary card: carriers' stay records, risk areas, card
//! queries and carrier accounts.
//!
//! Carrier stays are keyed by the phone's keyed hash (the same
//! [`PhoneHash`] the people table uses) and are idempotent on
//! `(phone, city, first seen)`: importing a record twice stores it once.
//! Risk areas are never edited: ending one sets its end once, and a change is
//! a new area. Only the stays and the card queries are personal data.

use std::future::Future;

use healthcode_core::itinerary::{AreaLevel, CityCode, RiskArea};
use healthcode_core::{Bilingual, Colour};
use serde::Serialize;
use time::OffsetDateTime;

use crate::columns::{self, ColumnReader};
use crate::{PhoneHash, Result, StoreError};

/// One stay as a carrier reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierStay {
    pub phone: PhoneHash,
    pub city: CityCode,
    pub first_seen: OffsetDateTime,
    pub last_seen: OffsetDateTime,
    /// The carrier's location cell id, if given.
    pub cell: Option<String>,
    /// Which carrier account (or import) supplied it, if known.
    pub carrier: Option<String>,
}

/// Stays that ended before `$1` (Unix ns). The first term is implied by the
/// second; it names the expression of both engines' purge index
/// (`carrier_stays_by_last_day`, by the day a stay ended), so that the purge
/// finds old stays by that index, not by a full scan.
pub const STAYS_ENDED_BEFORE: &str =
    "last_seen / 86400000000000 <= $1 / 86400000000000 AND last_seen < $1";

/// The stays' key order, `(phone, city, first seen)`, as both engines'
/// B-trees sort them (bytes, then text bytes, then time). Stays inserted in
/// this order touch each index page once per batch.
pub fn key_order(a: &CarrierStay, b: &CarrierStay) -> std::cmp::Ordering {
    (&a.phone.0, a.city.as_str(), a.first_seen).cmp(&(&b.phone.0, b.city.as_str(), b.first_seen))
}

/// What a batch insert did: each record is either new or was already there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InsertCounts {
    pub inserted: u64,
    pub already_present: u64,
}

/// A published risk area, with who published and who ended it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskAreaRecord {
    pub area: RiskArea,
    pub published_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
    pub ended_by: Option<String>,
    /// The area this one replaces (a change is a new record).
    pub supersedes: Option<String>,
}

/// One query of a person's card, kept for their own data (what was looked
/// up about them, when, with which consent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardQueryRecord {
    #[serde(skip)]
    pub phone: PhoneHash,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub consent: bool,
    pub window_days: u32,
    /// `web` or the API client.
    pub channel: String,
    pub colour: Colour,
    pub cities: u32,
}

/// A carrier allowed to post stays through the API. Only the key's hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierAccount {
    pub name: String,
    pub display_name: String,
    pub key_hash: [u8; 32],
    pub created_at: OffsetDateTime,
}

/// What [`ItineraryStore::erase_itinerary_data`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ItineraryErasure {
    pub carrier_stays: u64,
    pub card_queries: u64,
}

/// Persistence of the itinerary card. Part of [`crate::Store`].
pub trait ItineraryStore: Send + Sync {
    /// Inserts the stays in one transaction; a stay with the same phone,
    /// city and first-seen time as a stored one is left as it is.
    fn insert_carrier_stays(
        &self,
        stays: &[CarrierStay],
    ) -> impl Future<Output = Result<InsertCounts>> + Send;

    /// As [`ItineraryStore::insert_carrier_stays`], telling for each stay
    /// whether it was new (`true`) or already present. A stay repeated
    /// within the batch is new at most once.
    fn insert_carrier_stays_each(
        &self,
        stays: &[CarrierStay],
    ) -> impl Future<Output = Result<Vec<bool>>> + Send;

    /// The phone's stays that overlap `[from, until]`
    /// (`first_seen <= until` and `last_seen >= from`), by first seen.
    fn carrier_stays(
        &self,
        phone: &PhoneHash,
        from: OffsetDateTime,
        until: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<CarrierStay>>> + Send;

    /// Deletes stays that ended before `cutoff` (`last_seen < cutoff`);
    /// returns how many.
    fn purge_carrier_stays_before(
        &self,
        cutoff: OffsetDateTime,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Deletes every carrier stay and card query (the personal data of the
    /// itinerary service). Risk areas and carrier accounts stay.
    fn erase_itinerary_data(&self) -> impl Future<Output = Result<ItineraryErasure>> + Send;

    /// Publishes an area (Conflict if the id exists).
    fn create_risk_area(&self, record: &RiskAreaRecord) -> impl Future<Output = Result<()>> + Send;

    /// Ends an area in force: sets its end once. NotFound for an unknown id,
    /// Conflict if it already has an end.
    fn end_risk_area(
        &self,
        id: &str,
        ends_at: OffsetDateTime,
        ended_by: &str,
    ) -> impl Future<Output = Result<RiskAreaRecord>> + Send;

    fn risk_area(&self, id: &str) -> impl Future<Output = Result<Option<RiskAreaRecord>>> + Send;

    /// Every area ever published, newest start first.
    fn risk_areas(&self) -> impl Future<Output = Result<Vec<RiskAreaRecord>>> + Send;

    /// Areas of these cities in force at some instant of `[from, until]`.
    fn risk_areas_in(
        &self,
        cities: &[CityCode],
        from: OffsetDateTime,
        until: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<RiskArea>>> + Send;

    fn record_card_query(&self, query: &CardQueryRecord)
        -> impl Future<Output = Result<()>> + Send;

    /// The phone's card queries, oldest first.
    fn card_queries(
        &self,
        phone: &PhoneHash,
    ) -> impl Future<Output = Result<Vec<CardQueryRecord>>> + Send;

    /// Conflict if the name exists.
    fn create_carrier_account(
        &self,
        account: &CarrierAccount,
    ) -> impl Future<Output = Result<()>> + Send;

    fn carrier_account_by_key(
        &self,
        key_hash: &[u8; 32],
    ) -> impl Future<Output = Result<Option<CarrierAccount>>> + Send;
}

// ----------------------------------------------------------------------------
// Shared row decoders

/// The key of a stay as the backends return it from `RETURNING`.
pub type StayKey = (Vec<u8>, String, i64);

/// Which stays were inserted, given the keys the database returned: each
/// returned key marks its first occurrence in `stays`.
pub fn mark_inserted(stays: &[CarrierStay], mut returned: Vec<StayKey>) -> Result<Vec<bool>> {
    returned.sort();
    let mut claimed = vec![false; returned.len()];
    let mut out = Vec::with_capacity(stays.len());
    for s in stays {
        let key = (
            s.phone.0.to_vec(),
            s.city.as_str().to_owned(),
            columns::instant(s.first_seen)?,
        );
        let hit = match returned.binary_search(&key) {
            Ok(i) if !claimed.get(i).copied().unwrap_or(true) => {
                if let Some(c) = claimed.get_mut(i) {
                    *c = true;
                }
                true
            }
            _ => false,
        };
        out.push(hit);
    }
    Ok(out)
}

pub fn stay_from(row: &impl ColumnReader) -> Result<CarrierStay> {
    const WHAT: &str = "carrier stay";
    Ok(CarrierStay {
        phone: PhoneHash(columns::hash32(WHAT, &row.bytes("phone_hash")?)?),
        city: city_from(WHAT, &row.text("city_code")?)?,
        first_seen: columns::utc_instant(WHAT, row.int("first_seen")?)?,
        last_seen: columns::utc_instant(WHAT, row.int("last_seen")?)?,
        cell: row.opt_text("cell")?,
        carrier: row.opt_text("carrier")?,
    })
}

fn city_from(what: &'static str, text: &str) -> Result<CityCode> {
    CityCode::parse(text).map_err(|_| StoreError::Corrupt {
        what,
        why: "not a GB/T 2260 city code".to_owned(),
    })
}

/// The columns [`risk_area_from`] reads.
pub const RISK_AREA_COLUMNS: &str = "id, city_code, area_zh, area_en, level, starts_ns, ends_ns, published_by, published_ns, ended_by, supersedes";

/// A risk area row; `ends_ns` (nullable) is read by the backend, since the
/// shared [`ColumnReader`] has no nullable integers.
pub fn risk_area_from(row: &impl ColumnReader, ends_ns: Option<i64>) -> Result<RiskAreaRecord> {
    const WHAT: &str = "risk area";
    Ok(RiskAreaRecord {
        area: RiskArea {
            id: row.text("id")?,
            city: city_from(WHAT, &row.text("city_code")?)?,
            area: Bilingual::new(row.text("area_zh")?, row.text("area_en")?),
            level: AreaLevel::parse(&row.text("level")?).map_err(|_| StoreError::Corrupt {
                what: WHAT,
                why: "unknown risk level".to_owned(),
            })?,
            starts_at: columns::utc_instant(WHAT, row.int("starts_ns")?)?,
            ends_at: match ends_ns {
                Some(n) => Some(columns::utc_instant(WHAT, n)?),
                None => None,
            },
        },
        published_by: row.text("published_by")?,
        published_at: columns::utc_instant(WHAT, row.int("published_ns")?)?,
        ended_by: row.opt_text("ended_by")?,
        supersedes: row.opt_text("supersedes")?,
    })
}

pub fn card_query_from(row: &impl ColumnReader) -> Result<CardQueryRecord> {
    const WHAT: &str = "card query";
    Ok(CardQueryRecord {
        phone: PhoneHash(columns::hash32(WHAT, &row.bytes("phone_hash")?)?),
        at: columns::utc_instant(WHAT, row.int("at_ns")?)?,
        consent: row.small_int("consent")? != 0,
        window_days: columns::from_i64(WHAT, row.small_int("window_days")?)?,
        channel: row.text("channel")?,
        colour: row
            .text("colour")?
            .parse()
            .map_err(|_| StoreError::Corrupt {
                what: WHAT,
                why: "unknown colour".to_owned(),
            })?,
        cities: columns::from_i64(WHAT, row.small_int("cities")?)?,
    })
}

pub fn carrier_account_from(row: &impl ColumnReader) -> Result<CarrierAccount> {
    const WHAT: &str = "carrier account";
    Ok(CarrierAccount {
        name: row.text("name")?,
        display_name: row.text("display_name")?,
        key_hash: columns::hash32(WHAT, &row.bytes("key_hash")?)?,
        created_at: columns::utc_instant(WHAT, row.int("created_ns")?)?,
    })
}
