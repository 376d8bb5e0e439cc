//! How domain values become column values, shared by the SQL backends so
//! that SQLite and PostgreSQL hold the same thing in the same shape (and a
//! deployment can move from one to the other by copying rows).
//!
//! - Instants: Unix nanoseconds in UTC as a 64-bit integer (exact, ordered,
//!   the same in every engine); where the offset is data (the audit
//!   record's time), its whole seconds in a second column.
//! - Hashes: 32 raw bytes.
//! - Identities and events: their serde JSON, which keeps every field and
//!   offset; the columns used for lookups and ordering are copied out.
//! - Roles: their names, comma-separated, in the order given.
//!
//! Nothing here panics: data that does not decode is [`StoreError::Corrupt`],
//! and the reason never quotes the stored value (it may be personal data).

use serde::de::DeserializeOwned;
use serde::Serialize;
use time::{OffsetDateTime, UtcOffset};

use healthcode_core::{AuditEntry, AuditRecord, Digest};

use crate::{
    OfficialAccount, OtpChallenge, OutboxMessage, PersonId, PersonRecord, PhoneHash, Result, Role,
    Session, SessionSubject, StoreError,
};

/// One row of a query, as the shared decoders read it. Each backend wraps
/// its row type in this (the decoders below are then the same for all).
pub trait ColumnReader {
    fn text(&self, column: &'static str) -> Result<String>;
    fn opt_text(&self, column: &'static str) -> Result<Option<String>>;
    fn bytes(&self, column: &'static str) -> Result<Vec<u8>>;
    fn opt_bytes(&self, column: &'static str) -> Result<Option<Vec<u8>>>;
    /// A 64-bit integer column.
    fn int(&self, column: &'static str) -> Result<i64>;
    /// A 32-bit integer column (the audit record's UTC offset), widened.
    fn small_int(&self, column: &'static str) -> Result<i64>;
}

pub fn person_from(row: &impl ColumnReader) -> Result<PersonRecord> {
    const WHAT: &str = "person";
    Ok(PersonRecord {
        id: person_id(WHAT, &row.text("id")?)?,
        region: row.text("region")?,
        identity: from_json(WHAT, &row.text("identity")?)?,
        full_name: row.text("full_name")?,
        phone: PhoneHash(hash32(WHAT, &row.bytes("phone_hash")?)?),
        channel: row.text("channel")?,
        created_at: utc_instant(WHAT, row.int("created_ns")?)?,
    })
}

pub fn otp_from(row: &impl ColumnReader) -> Result<OtpChallenge> {
    const WHAT: &str = "OTP challenge";
    Ok(OtpChallenge {
        phone: PhoneHash(hash32(WHAT, &row.bytes("phone_hash")?)?),
        code_hash: hash32(WHAT, &row.bytes("code_hash")?)?,
        created_at: utc_instant(WHAT, row.int("created_ns")?)?,
        expires_at: utc_instant(WHAT, row.int("expires_ns")?)?,
        failed_attempts: from_i64(WHAT, row.int("failed_attempts")?)?,
    })
}

pub fn session_from(row: &impl ColumnReader) -> Result<Session> {
    const WHAT: &str = "session";
    let subject = match (
        row.opt_bytes("subject_phone")?,
        row.opt_text("subject_official")?,
    ) {
        (Some(phone), None) => SessionSubject::Phone(PhoneHash(hash32(WHAT, &phone)?)),
        (None, Some(username)) => SessionSubject::Official(username),
        _ => {
            return Err(StoreError::Corrupt {
                what: WHAT,
                why: "a session needs exactly one subject".to_owned(),
            })
        }
    };
    Ok(Session {
        token_hash: hash32(WHAT, &row.bytes("token_hash")?)?,
        subject,
        created_at: utc_instant(WHAT, row.int("created_ns")?)?,
        expires_at: utc_instant(WHAT, row.int("expires_ns")?)?,
    })
}

pub fn official_from(row: &impl ColumnReader) -> Result<OfficialAccount> {
    const WHAT: &str = "official";
    Ok(OfficialAccount {
        username: row.text("username")?,
        display_name: row.text("display_name")?,
        password_hash: row.text("password_hash")?,
        roles: roles_from_text(WHAT, &row.text("roles")?)?,
        created_at: utc_instant(WHAT, row.int("created_ns")?)?,
    })
}

pub fn outbox_from(row: &impl ColumnReader) -> Result<OutboxMessage> {
    const WHAT: &str = "outbox message";
    Ok(OutboxMessage {
        id: row.int("id")?,
        to_masked: row.text("to_masked")?,
        body: row.text("body")?,
        created_at: utc_instant(WHAT, row.int("created_ns")?)?,
    })
}

pub fn audit_from(row: &impl ColumnReader) -> Result<AuditEntry> {
    const WHAT: &str = "audit entry";
    Ok(AuditEntry {
        seq: from_i64(WHAT, row.int("seq")?)?,
        prev: Digest(hash32(WHAT, &row.bytes("prev")?)?),
        record: AuditRecord {
            at: offset_instant(WHAT, row.int("at_ns")?, row.small_int("at_offset")?)?,
            actor: row.text("actor")?,
            action: row.text("action")?,
            subject: row.text("subject")?,
            details: row.text("details")?,
        },
        hash: Digest(hash32(WHAT, &row.bytes("hash")?)?),
    })
}

/// An instant as Unix nanoseconds (UTC).
pub fn instant(at: OffsetDateTime) -> Result<i64> {
    i64::try_from(at.unix_timestamp_nanos()).map_err(|_| {
        StoreError::Backend(
            "a time outside the years 1677 to 2262 cannot be stored / 无法存储 1677 至 2262 年以外的时间"
                .to_owned(),
        )
    })
}

/// The instant back from Unix nanoseconds, in UTC.
pub fn utc_instant(what: &'static str, nanos: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).map_err(|e| StoreError::Corrupt {
        what,
        why: format!("time out of range: {e}"),
    })
}

/// The UTC offset of an instant, in whole seconds.
pub fn offset_seconds(at: OffsetDateTime) -> i32 {
    at.offset().whole_seconds()
}

/// The instant back from Unix nanoseconds and its UTC offset in seconds.
pub fn offset_instant(what: &'static str, nanos: i64, offset: i64) -> Result<OffsetDateTime> {
    let offset = i32::try_from(offset)
        .ok()
        .and_then(|s| UtcOffset::from_whole_seconds(s).ok())
        .ok_or_else(|| StoreError::Corrupt {
            what,
            why: "UTC offset out of range".to_owned(),
        })?;
    utc_instant(what, nanos)?
        .checked_to_offset(offset)
        .ok_or_else(|| StoreError::Corrupt {
            what,
            why: "time out of range in its UTC offset".to_owned(),
        })
}

/// A 32-byte hash read back from a column.
pub fn hash32(what: &'static str, bytes: &[u8]) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(bytes).map_err(|_| StoreError::Corrupt {
        what,
        why: format!("expected a 32-byte hash, found {} bytes", bytes.len()),
    })
}

/// A person id read back from a column.
pub fn person_id(what: &'static str, text: &str) -> Result<PersonId> {
    PersonId::parse(text).ok_or_else(|| StoreError::Corrupt {
        what,
        why: "not a person id (32 lowercase hex digits)".to_owned(),
    })
}

/// Roles as stored: names joined by commas.
pub fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Roles read back; the empty text is no roles.
pub fn roles_from_text(what: &'static str, text: &str) -> Result<Vec<Role>> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|name| {
            Role::parse(name).ok_or_else(|| StoreError::Corrupt {
                what,
                why: format!("unknown role ({} characters)", name.len()),
            })
        })
        .collect()
}

/// A value as JSON text.
pub fn to_json<T: Serialize>(what: &'static str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| {
        StoreError::Backend(format!(
            "{what} could not be encoded as JSON ({:?})",
            e.classify()
        ))
    })
}

/// A value read back from JSON text. The reason names the error's class
/// and position, never the text (serde's messages can quote values).
pub fn from_json<T: DeserializeOwned>(what: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what,
        why: format!(
            "{:?} error in JSON at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}

/// A count or sequence number for a 64-bit signed column.
pub fn to_i64(what: &'static str, value: u64) -> Result<i64> {
    i64::try_from(value)
        .map_err(|_| StoreError::Backend(format!("{what} {value} is too large to store")))
}

/// A count or sequence number read back from a 64-bit signed column.
pub fn from_i64<T: TryFrom<i64>>(what: &'static str, value: i64) -> Result<T> {
    T::try_from(value).map_err(|_| StoreError::Corrupt {
        what,
        why: format!("{value} is out of range"),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn instants_keep_nanoseconds_and_offsets() {
        let at = datetime!(2022-04-01 08:30:00.123456789 +08:00);
        let nanos = instant(at).unwrap();
        let back = offset_instant("t", nanos, i64::from(offset_seconds(at))).unwrap();
        assert_eq!(back, at);
        assert_eq!(back.offset(), at.offset());
        let utc = utc_instant("t", nanos).unwrap();
        assert_eq!(utc, at);
        assert!(utc.offset().is_utc());
    }

    #[test]
    fn out_of_range_is_an_error_not_a_panic() {
        assert!(instant(datetime!(2300-01-01 0:00 UTC)).is_err());
        assert!(offset_instant("t", 0, 1_000_000).is_err());
        assert!(hash32("h", &[0; 31]).is_err());
        assert!(roles_from_text("r", "reviewer,boss").is_err());
        assert_eq!(
            roles_from_text("r", "reviewer,administrator").unwrap(),
            vec![Role::Reviewer, Role::Administrator]
        );
        assert_eq!(
            roles_text(&[Role::HealthOfficial, Role::Reviewer]),
            "health_official,reviewer"
        );
        assert!(roles_from_text("r", "").unwrap().is_empty());
        assert!(from_i64::<u32>("n", -1).is_err());
    }

    #[test]
    fn json_errors_do_not_quote_the_data() {
        let err = from_json::<u32>("x", "\"secret-value\"").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
