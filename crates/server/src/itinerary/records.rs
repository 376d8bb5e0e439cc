//! Validating carrier stay records and risk areas as they arrive (a file
//! line, an API item). One record is either valid as a whole or refused
//! with the field and the reason: nothing is half imported.

use healthcode_core::itinerary::{AreaLevel, CityCode, ItineraryError, RiskArea};
use healthcode_core::Bilingual;
use healthcode_store::itinerary::CarrierStay;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use crate::i18n::Text;
use crate::security::{Phone, PhoneHasher};

/// How far in the future a record's time may lie (clock skew between the
/// carrier and us).
const SKEW: Duration = Duration::minutes(5);

/// One stay as a carrier sends it. Times are RFC 3339.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StayInput {
    /// Mainland mobile (11 digits, `+86` optional) or international (`+` and 7–15 digits).
    pub phone: String,
    /// GB/T 2260 city code, 6 digits (e.g. `220100`).
    pub city_code: String,
    /// RFC 3339, e.g. `2022-05-01T08:00:00+08:00`.
    pub first_seen: String,
    pub last_seen: String,
    /// The carrier's location cell id (optional, up to 64 characters).
    #[serde(default)]
    pub cell: Option<String>,
}

/// Why a record was refused: the field and a reason in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Rejection {
    pub field: String,
    pub message: Text,
}

impl Rejection {
    pub fn new(field: &str, zh: impl Into<String>, en: impl Into<String>) -> Rejection {
        Rejection {
            field: field.to_owned(),
            message: Text::new(zh, en),
        }
    }

    fn core(field: &str, e: &ItineraryError) -> Rejection {
        let text = e.to_string();
        let (en, zh) = text.split_once(" / ").unwrap_or((&text, &text));
        Rejection::new(field, zh, en)
    }

    /// `field: English / 中文`, one line for a terminal.
    pub fn line(&self) -> String {
        format!("{}: {} / {}", self.field, self.message.en, self.message.zh)
    }
}

fn time_field(field: &str, value: &str) -> Result<OffsetDateTime, Rejection> {
    OffsetDateTime::parse(value.trim(), &Rfc3339).map_err(|_| {
        let shown: String = value.chars().take(40).collect();
        Rejection::new(
            field,
            format!("{shown:?} 不是 RFC 3339 时间（如 2022-05-01T08:00:00+08:00）"),
            format!("{shown:?} is not an RFC 3339 time (such as 2022-05-01T08:00:00+08:00)"),
        )
    })
}

/// A stay's fields as borrowed text: a CSV row or a JSON object, before
/// validation. The importer fills it without copying.
#[derive(Debug, Clone, Copy)]
pub struct StayFields<'a> {
    pub phone: &'a str,
    pub city_code: &'a str,
    pub first_seen: &'a str,
    pub last_seen: &'a str,
    pub cell: Option<&'a str>,
}

impl<'a> From<&'a StayInput> for StayFields<'a> {
    fn from(input: &'a StayInput) -> StayFields<'a> {
        StayFields {
            phone: &input.phone,
            city_code: &input.city_code,
            first_seen: &input.first_seen,
            last_seen: &input.last_seen,
            cell: input.cell.as_deref(),
        }
    }
}

/// Validates a stay and hashes its phone. `now` bounds the times: a carrier
/// cannot have seen a phone in the future.
pub fn stay(
    input: &StayInput,
    phones: &PhoneHasher,
    now: OffsetDateTime,
    carrier: Option<&str>,
) -> Result<CarrierStay, Rejection> {
    stay_fields(StayFields::from(input), phones, now, carrier)
}

/// [`stay`] over borrowed fields.
pub fn stay_fields(
    input: StayFields<'_>,
    phones: &PhoneHasher,
    now: OffsetDateTime,
    carrier: Option<&str>,
) -> Result<CarrierStay, Rejection> {
    let phone = Phone::parse(input.phone).map_err(|e| Rejection {
        field: "phone".into(),
        message: e.message,
    })?;
    let city = CityCode::parse(input.city_code).map_err(|e| Rejection::core("city_code", &e))?;
    let first_seen = time_field("first_seen", input.first_seen)?;
    let last_seen = time_field("last_seen", input.last_seen)?;
    if first_seen > last_seen {
        return Err(Rejection::new(
            "last_seen",
            "最后出现时间早于首次出现时间。",
            "last_seen is before first_seen.",
        ));
    }
    if last_seen > now + SKEW {
        return Err(Rejection::new(
            "last_seen",
            "最后出现时间晚于现在。",
            "last_seen is in the future.",
        ));
    }
    if first_seen.year() < 2000 {
        return Err(Rejection::new(
            "first_seen",
            "首次出现时间早于 2000 年。",
            "first_seen is before the year 2000.",
        ));
    }
    let cell = match input.cell.map(str::trim) {
        None | Some("") => None,
        Some(c) if c.chars().count() <= 64 && !c.chars().any(char::is_control) => {
            Some(c.to_owned())
        }
        Some(_) => {
            return Err(Rejection::new(
                "cell",
                "基站标识须为 1 至 64 个可见字符。",
                "The cell id must be 1 to 64 visible characters.",
            ))
        }
    };
    Ok(CarrierStay {
        phone: phones.hash(&phone),
        city,
        first_seen,
        last_seen,
        cell,
        carrier: carrier.map(str::to_owned),
    })
}

/// A risk area as an official or an import file gives it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskAreaInput {
    /// GB/T 2260 city code, 6 digits.
    pub city_code: String,
    /// The district or finer area, in Chinese.
    pub area_zh: String,
    /// The same, in English.
    pub area_en: String,
    /// `medium` or `high`.
    pub level: String,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339; absent while in force.
    #[serde(default)]
    pub ends_at: Option<String>,
}

/// Validates a risk area. Its id is derived from its content, so importing
/// the same area twice finds the first.
pub fn risk_area(input: &RiskAreaInput) -> Result<RiskArea, Rejection> {
    let city = CityCode::parse(&input.city_code).map_err(|e| Rejection::core("city_code", &e))?;
    let level = AreaLevel::parse(&input.level).map_err(|e| Rejection::core("level", &e))?;
    let starts_at = time_field("starts_at", &input.starts_at)?;
    let ends_at = match input.ends_at.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(t) => Some(time_field("ends_at", t)?),
    };
    let area = RiskArea {
        id: String::new(),
        city,
        area: Bilingual::new(input.area_zh.trim(), input.area_en.trim()),
        level,
        starts_at,
        ends_at,
    };
    area.validate().map_err(|e| {
        let field = if matches!(e, ItineraryError::AreaOrder) {
            "ends_at"
        } else {
            "area_zh"
        };
        Rejection::core(field, &e)
    })?;
    let mut h = Sha256::new();
    for part in [
        area.city.as_str(),
        &area.area.zh,
        &area.area.en,
        area.level.as_str(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(area.starts_at.unix_timestamp().to_be_bytes());
    let digest = h.finalize();
    Ok(RiskArea {
        id: format!("ra-{}", hex::encode(&digest[..8])),
        ..area
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2022-05-20 12:00 +08:00);

    fn input(phone: &str, city: &str, a: &str, b: &str) -> StayInput {
        StayInput {
            phone: phone.into(),
            city_code: city.into(),
            first_seen: a.into(),
            last_seen: b.into(),
            cell: None,
        }
    }

    #[test]
    fn stays_are_validated_field_by_field() {
        let h = PhoneHasher::new(b"a-secret-of-some-length");
        let ok = stay(
            &input(
                "138 0013 8000",
                "220100",
                "2022-05-01T08:00:00+08:00",
                "2022-05-01T20:00:00+08:00",
            ),
            &h,
            NOW,
            Some("demo"),
        )
        .unwrap();
        assert_eq!(ok.phone, h.hash(&Phone::parse("+8613800138000").unwrap()));
        assert_eq!(ok.carrier.as_deref(), Some("demo"));
        let field = |i: StayInput| stay(&i, &h, NOW, None).unwrap_err().field;
        assert_eq!(
            field(input(
                "123",
                "220100",
                "2022-05-01T08:00:00Z",
                "2022-05-01T09:00:00Z"
            )),
            "phone"
        );
        assert_eq!(
            field(input(
                "13800138000",
                "220101",
                "2022-05-01T08:00:00Z",
                "2022-05-01T09:00:00Z"
            )),
            "city_code"
        );
        assert_eq!(
            field(input(
                "13800138000",
                "220100",
                "yesterday",
                "2022-05-01T09:00:00Z"
            )),
            "first_seen"
        );
        assert_eq!(
            field(input(
                "13800138000",
                "220100",
                "2022-05-01T10:00:00Z",
                "2022-05-01T09:00:00Z"
            )),
            "last_seen"
        );
        assert_eq!(
            field(input(
                "13800138000",
                "220100",
                "2022-05-01T10:00:00Z",
                "2022-06-01T09:00:00Z"
            )),
            "last_seen"
        );
        let mut long_cell = input(
            "13800138000",
            "220100",
            "2022-05-01T08:00:00Z",
            "2022-05-01T09:00:00Z",
        );
        long_cell.cell = Some("x".repeat(65));
        assert_eq!(field(long_cell), "cell");
        let r = stay(
            &input(
                "13800138000",
                "2201",
                "2022-05-01T08:00:00Z",
                "2022-05-01T09:00:00Z",
            ),
            &h,
            NOW,
            None,
        )
        .unwrap_err();
        assert!(
            r.message.zh.contains("城市代码") && r.message.en.contains("city code"),
            "{r:?}"
        );
    }

    #[test]
    fn risk_area_ids_follow_content() {
        let i = RiskAreaInput {
            city_code: "220100".into(),
            area_zh: "南关区".into(),
            area_en: "Nanguan District".into(),
            level: "high".into(),
            starts_at: "2022-05-01T00:00:00+08:00".into(),
            ends_at: None,
        };
        let a = risk_area(&i).unwrap();
        assert_eq!(a.id, risk_area(&i).unwrap().id);
        assert!(a.id.starts_with("ra-") && a.id.len() == 19);
        let mut j = i.clone();
        j.level = "medium".into();
        assert_ne!(risk_area(&j).unwrap().id, a.id);
        j.ends_at = Some("2022-04-01T00:00:00+08:00".into());
        assert_eq!(risk_area(&j).unwrap_err().field, "ends_at");
        j.level = "low".into();
        assert_eq!(risk_area(&j).unwrap_err().field, "level");
    }
}
