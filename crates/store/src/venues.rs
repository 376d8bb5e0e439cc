//! Venues (场所码), check-ins, dependents and sealed check-ins: the storage
//! of venue codes and of the data contact tracing reads.
//!
//! Check-ins are the largest table of a deployment (hundreds of millions
//! of rows), so they are compact: a person is 16 raw bytes, a venue a
//! 64-bit number, times Unix nanoseconds, a dependent a small number under
//! the person. A stay is at most [`MAX_STAY`] long, which bounds the range
//! scans that find overlapping stays.
//!
//! Their retention purge and erasure are the data lifecycle's
//! ([`crate::lifecycle::LifecycleStore::purge_retention`],
//! [`crate::lifecycle::LifecycleStore::erase_checkin_data`]).

use std::fmt;
use std::future::Future;

use healthcode_core::Identity;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::{PersonId, Result};

/// The longest stay a check-in may record (check-out or default end).
pub const MAX_STAY: Duration = Duration::hours(24);

/// A venue's id: 64 random bits, shown as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VenueId(pub u64);

impl VenueId {
    pub fn parse(s: &str) -> Option<VenueId> {
        (s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u64::from_str_radix(s, 16).ok())
            .flatten()
            .map(VenueId)
    }

    /// The id as stored (the same 64 bits, signed).
    pub fn to_i64(self) -> i64 {
        i64::from_ne_bytes(self.0.to_ne_bytes())
    }

    pub fn from_i64(v: i64) -> VenueId {
        VenueId(u64::from_ne_bytes(v.to_ne_bytes()))
    }
}

impl fmt::Display for VenueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for VenueId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for VenueId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<VenueId, D::Error> {
        let s = String::deserialize(d)?;
        VenueId::parse(&s).ok_or_else(|| serde::de::Error::custom("not a venue id (16 hex digits)"))
    }
}

/// How a venue keeps its check-ins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VenueMode {
    /// Check-ins stored as rows the health authority can query.
    Open,
    /// Check-ins sealed so that only the venue and the authority together
    /// can open them, hour by hour (see `healthcode_codec::sealed`).
    Sealed,
}

impl VenueMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            VenueMode::Open => "open",
            VenueMode::Sealed => "sealed",
        }
    }

    pub fn parse(s: &str) -> Option<VenueMode> {
        match s {
            "open" => Some(VenueMode::Open),
            "sealed" => Some(VenueMode::Sealed),
            _ => None,
        }
    }
}

/// A sealed venue's published per-hour public keys: 32 bytes per hour
/// slot, from `first_hour` (Unix seconds / 3600).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourKeys {
    pub first_hour: i64,
    pub publics: Vec<u8>,
}

impl HourKeys {
    /// The public key of hour slot `hour`, if published.
    pub fn key(&self, hour: i64) -> Option<[u8; 32]> {
        let i = usize::try_from(hour.checked_sub(self.first_hour)?).ok()?;
        let start = i.checked_mul(32)?;
        self.publics.get(start..start + 32)?.try_into().ok()
    }

    pub fn last_hour(&self) -> i64 {
        self.first_hour + (self.publics.len() / 32) as i64 - 1
    }
}

/// A registered venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueRecord {
    pub id: VenueId,
    pub name: String,
    pub address: String,
    /// GB/T 2260 code of the district or city.
    pub region_code: String,
    pub category: String,
    /// The location cell the venue lies in, when known.
    pub cell: Option<String>,
    pub mode: VenueMode,
    /// The hash of the venue operator's token; the token is shown once.
    pub operator_token_hash: [u8; 32],
    /// Demonstration data: posters carry a DEMO band.
    pub demo: bool,
    /// `official:<username>` or `self` (self-service registration).
    pub registered_by: String,
    pub created_at: OffsetDateTime,
    /// Sealed venues only.
    pub hour_keys: Option<HourKeys>,
}

/// Someone a citizen checks in with (an elderly parent, a child): no phone
/// of their own, listed under the citizen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependent {
    pub guardian: PersonId,
    /// 1, 2, … under the guardian (0 is the guardian themself).
    pub number: u16,
    pub full_name: String,
    pub identity: Identity,
    pub created_at: OffsetDateTime,
}

/// One check-in: who, where, from when to when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckIn {
    pub venue: VenueId,
    pub person: PersonId,
    /// 0: the person; otherwise one of their dependents.
    pub dependent: u16,
    pub arrived: OffsetDateTime,
    /// Check-out, or arrival plus the default stay; at most [`MAX_STAY`]
    /// after arrival.
    pub left: OffsetDateTime,
}

/// A check-in sealed for a venue's hour slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedCheckIn {
    pub venue: VenueId,
    pub hour: i64,
    pub ephemeral: [u8; 32],
    pub ciphertext: Vec<u8>,
}

/// A venue's secret for one hour slot, revealed to the authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourReveal {
    pub venue: VenueId,
    pub hour: i64,
    pub secret: [u8; 32],
    pub revealed_at: OffsetDateTime,
}

/// Storage of venues and check-ins. A supertrait of [`crate::Store`].
pub trait VenueStore: Clone + Send + Sync + 'static {
    /// Conflict if the id or the operator token hash is taken.
    fn create_venue(&self, venue: &VenueRecord) -> impl Future<Output = Result<()>> + Send;
    fn venue(&self, id: VenueId) -> impl Future<Output = Result<Option<VenueRecord>>> + Send;
    fn venue_by_operator(
        &self,
        token_hash: &[u8; 32],
    ) -> impl Future<Output = Result<Option<VenueRecord>>> + Send;
    /// The newest `limit` venues, newest first.
    fn venues(&self, limit: u32) -> impl Future<Output = Result<Vec<VenueRecord>>> + Send;

    /// Conflict if the guardian already has this identity number listed or
    /// the number is taken.
    fn add_dependent(&self, dependent: &Dependent) -> impl Future<Output = Result<()>> + Send;
    /// A person's dependents, by number.
    fn dependents(
        &self,
        guardian: &PersonId,
    ) -> impl Future<Output = Result<Vec<Dependent>>> + Send;

    /// Which of `ids` are people of this deployment (one query).
    fn known_people(
        &self,
        ids: &[PersonId],
    ) -> impl Future<Output = Result<std::collections::HashSet<PersonId>>> + Send;

    /// Stores check-ins in one statement per few thousand rows. A check-in
    /// already stored (same person, dependent, venue and arrival) is
    /// skipped; returns how many were new.
    fn insert_checkins(&self, checkins: &[CheckIn]) -> impl Future<Output = Result<u64>> + Send;
    /// As [`VenueStore::insert_checkins`], idempotent on a client-supplied
    /// id within `scope` (the caller): an id seen before is not stored
    /// again. Returns, per item, whether it was new.
    fn insert_checkins_once(
        &self,
        scope: &str,
        items: &[(String, CheckIn)],
    ) -> impl Future<Output = Result<Vec<bool>>> + Send;
    /// Sets the end of a stay (check-out); false if there is no such check-in.
    fn check_out(
        &self,
        checkin: &CheckIn,
        left: OffsetDateTime,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Check-ins at a venue that arrived in `[from, to)`, newest first, at
    /// most `limit`.
    fn venue_checkins(
        &self,
        venue: VenueId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<CheckIn>>> + Send;
    /// A person's own check-ins (and their dependents') whose stays overlap
    /// `[from, to)`, in arrival order.
    fn person_checkins(
        &self,
        person: &PersonId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<CheckIn>>> + Send;
    /// Every check-in at the venues `person` checked in at within
    /// `[from, to)` whose stay overlaps one of the person's stays there
    /// (the person's own included), in arrival order: the input of venue
    /// tracing, in one query.
    fn colocated_checkins(
        &self,
        person: &PersonId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<CheckIn>>> + Send;

    /// Carrier stays (the itinerary's `carrier_stays`) in any of `cells`
    /// that overlap `[from, until]`, by first seen: the input of
    /// spatiotemporal companions.
    fn cell_stays(
        &self,
        cells: &[String],
        from: OffsetDateTime,
        until: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<crate::itinerary::CarrierStay>>> + Send;

    fn insert_sealed(&self, sealed: &SealedCheckIn) -> impl Future<Output = Result<()>> + Send;
    /// Sealed check-ins of a venue's hour slot.
    fn sealed_checkins(
        &self,
        venue: VenueId,
        hour: i64,
    ) -> impl Future<Output = Result<Vec<SealedCheckIn>>> + Send;
    /// How many sealed check-ins each hour slot in `[from_hour, to_hour]` holds.
    fn sealed_counts(
        &self,
        venue: VenueId,
        from_hour: i64,
        to_hour: i64,
    ) -> impl Future<Output = Result<Vec<(i64, u64)>>> + Send;
    /// Records a revealed hour secret (a second reveal of the same hour
    /// replaces the first).
    fn put_reveal(&self, reveal: &HourReveal) -> impl Future<Output = Result<()>> + Send;
    /// A venue's revealed hours, in order.
    fn reveals(&self, venue: VenueId) -> impl Future<Output = Result<Vec<HourReveal>>> + Send;
}

/// A person id as the 16 bytes check-in rows hold.
pub fn person_bytes(person: &PersonId) -> Result<[u8; 16]> {
    let mut out = [0u8; 16];
    hex::decode_to_slice(person.as_str(), &mut out)
        .map_err(|_| crate::StoreError::Backend("person id is not 32 hex digits".to_owned()))?;
    Ok(out)
}

/// The person id back from a check-in row.
pub fn person_from_bytes(what: &'static str, bytes: &[u8]) -> Result<PersonId> {
    let bytes: [u8; 16] = bytes.try_into().map_err(|_| crate::StoreError::Corrupt {
        what,
        why: format!("expected a 16-byte person id, found {} bytes", bytes.len()),
    })?;
    Ok(PersonId::from_bytes(bytes))
}

// ----------------------------------------------------------------------------
// Rows, shared by the SQL backends (see `crate::columns`).

use crate::columns::{hash32, utc_instant, ColumnReader};
use crate::StoreError;

/// The columns [`venue_from`] reads.
pub const VENUE_COLUMNS: &str = "id, name, address, region_code, category, cell, mode, \
     operator_token_hash, demo, registered_by, created_ns, hour_keys";

/// A sealed venue's hour keys as stored: the first hour (8 bytes, big
/// endian), then 32 bytes per hour.
pub fn hour_keys_bytes(keys: &HourKeys) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + keys.publics.len());
    out.extend_from_slice(&keys.first_hour.to_be_bytes());
    out.extend_from_slice(&keys.publics);
    out
}

pub fn venue_from(row: &impl ColumnReader) -> Result<VenueRecord> {
    const WHAT: &str = "venue";
    let corrupt = |why: &str| StoreError::Corrupt {
        what: WHAT,
        why: why.to_owned(),
    };
    let hour_keys = match row.opt_bytes("hour_keys")? {
        None => None,
        Some(bytes) => {
            if bytes.len() < 8 || (bytes.len() - 8) % 32 != 0 {
                return Err(corrupt("hour keys are not 8 + 32·n bytes"));
            }
            let mut first = [0u8; 8];
            first.copy_from_slice(&bytes[..8]);
            Some(HourKeys {
                first_hour: i64::from_be_bytes(first),
                publics: bytes[8..].to_vec(),
            })
        }
    };
    Ok(VenueRecord {
        id: VenueId::from_i64(row.int("id")?),
        name: row.text("name")?,
        address: row.text("address")?,
        region_code: row.text("region_code")?,
        category: row.text("category")?,
        cell: row.opt_text("cell")?,
        mode: VenueMode::parse(&row.text("mode")?).ok_or_else(|| corrupt("unknown mode"))?,
        operator_token_hash: hash32(WHAT, &row.bytes("operator_token_hash")?)?,
        demo: row.int("demo")? != 0,
        registered_by: row.text("registered_by")?,
        created_at: utc_instant(WHAT, row.int("created_ns")?)?,
        hour_keys,
    })
}

/// The columns [`checkin_from`] reads.
pub const CHECKIN_COLUMNS: &str = "venue_id, person, dependent, arrived_ns, left_ns";

pub fn checkin_from(row: &impl ColumnReader) -> Result<CheckIn> {
    const WHAT: &str = "check-in";
    Ok(CheckIn {
        venue: VenueId::from_i64(row.int("venue_id")?),
        person: person_from_bytes(WHAT, &row.bytes("person")?)?,
        dependent: crate::columns::from_i64(WHAT, row.small_int("dependent")?)?,
        arrived: utc_instant(WHAT, row.int("arrived_ns")?)?,
        left: utc_instant(WHAT, row.int("left_ns")?)?,
    })
}

/// The columns [`dependent_from`] reads.
pub const DEPENDENT_COLUMNS: &str = "guardian, number, full_name, identity, created_ns";

pub fn dependent_from(row: &impl ColumnReader) -> Result<Dependent> {
    const WHAT: &str = "dependent";
    Ok(Dependent {
        guardian: crate::columns::person_id(WHAT, &row.text("guardian")?)?,
        number: crate::columns::from_i64(WHAT, row.small_int("number")?)?,
        full_name: row.text("full_name")?,
        identity: crate::columns::from_json(WHAT, &row.text("identity")?)?,
        created_at: utc_instant(WHAT, row.int("created_ns")?)?,
    })
}

pub fn sealed_from(row: &impl ColumnReader) -> Result<SealedCheckIn> {
    const WHAT: &str = "sealed check-in";
    Ok(SealedCheckIn {
        venue: VenueId::from_i64(row.int("venue_id")?),
        hour: row.int("hour")?,
        ephemeral: hash32(WHAT, &row.bytes("ephemeral")?)?,
        ciphertext: row.bytes("ciphertext")?,
    })
}

pub fn reveal_from(row: &impl ColumnReader) -> Result<HourReveal> {
    const WHAT: &str = "hour reveal";
    Ok(HourReveal {
        venue: VenueId::from_i64(row.int("venue_id")?),
        hour: row.int("hour")?,
        secret: hash32(WHAT, &row.bytes("secret")?)?,
        revealed_at: utc_instant(WHAT, row.int("revealed_ns")?)?,
    })
}

/// The key under which a client-supplied id is remembered: SHA-256 of the
/// scope and the id, 16 bytes (ids of any length, one fixed-size column).
pub fn client_key(scope: &str, client_id: &str) -> [u8; 16] {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    h.update(scope.as_bytes());
    h.update([0]);
    h.update(client_id.as_bytes());
    let full = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}
