//! Identity documents: the mainland resident identity number (GB 11643), and
//! for the traveller version, passports and the Hong Kong / Macao / Taiwan
//! travel permits.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

use crate::colour::CodeKind;

/// Why an identity number was refused. Messages are in English and Chinese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("a resident ID has 18 characters (17 digits and a check character), got {0} / 居民身份证号码应为 18 位，实际为 {0} 位")]
    ResidentIdLength(usize),
    #[error("a resident ID has digits in its first 17 places and a digit or X last / 居民身份证号码前 17 位应为数字，末位为数字或 X")]
    ResidentIdCharacters,
    #[error("unknown province code {0:?} at the start of the resident ID / 身份证号码开头的省级行政区划代码 {0:?} 无效")]
    UnknownProvince(String),
    #[error("the birth date {0:?} in the resident ID is not a real date / 身份证号码中的出生日期 {0:?} 不是有效日期")]
    InvalidBirthDate(String),
    #[error("the birth date {0} in the resident ID is not plausible (before 1900 or in the future) / 身份证号码中的出生日期 {0} 不合理（早于 1900 年或晚于今天）")]
    ImplausibleBirthDate(Date),
    #[error("wrong check character: expected {expected}, found {found} / 校验码错误：应为 {expected}，实际为 {found}")]
    CheckDigit { expected: char, found: char },
    #[error("a passport needs an issuing country (3 letters, as in its machine-readable zone), got {0:?} / 护照签发国应为 3 个字母的代码，实际为 {0:?}")]
    PassportCountry(String),
    #[error("a passport number has 5 to 9 letters or digits, got {0:?} / 护照号码应为 5 至 9 位字母或数字，实际为 {0:?}")]
    PassportNumber(String),
    #[error("a Home Return Permit number is H or M and 8 or 10 digits, got {0:?} / 港澳居民来往内地通行证号码应为 H 或 M 加 8 或 10 位数字，实际为 {0:?}")]
    HomeReturnPermit(String),
    #[error("a Taiwan Compatriot Permit number has 8 or 10 digits, got {0:?} / 台湾居民来往大陆通行证号码应为 8 或 10 位数字，实际为 {0:?}")]
    TaiwanPermit(String),
}

/// Weights of the first 17 digits in the GB 11643 check (2^(17-i) mod 11).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each weighted sum mod 11.
const CHECK_CHARACTERS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Province-level codes (GB/T 2260) that start a resident ID: the 31
/// mainland provinces, Taiwan (71), Hong Kong (81), Macao (82), and 83, which
/// starts the residence permits issued since 2018 to Taiwan residents.
fn is_province_code(code: u32) -> bool {
    matches!(code, 11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81..=83)
}

/// Computes the GB 11643 check character of the first 17 digits.
pub fn resident_id_check_character(first17: &[u8; 17]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit.saturating_sub(b'0')) * weight)
        .sum();
    CHECK_CHARACTERS
        .get((sum % 11) as usize)
        .copied()
        .unwrap_or('?')
}

/// A mainland resident identity number (居民身份证号码), checked: length,
/// province, birth date and check character. Stored upper-case.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResidentId(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

impl ResidentId {
    /// Parses and checks a resident ID. The birth date must be a real date
    /// no earlier than 1900; use [`ResidentId::parse_as_of`] to also refuse
    /// birth dates after today.
    pub fn parse(input: &str) -> Result<ResidentId, IdentityError> {
        let text = input.trim().to_ascii_uppercase();
        let chars = text.chars().count();
        if chars != 18 {
            return Err(IdentityError::ResidentIdLength(chars));
        }
        let bytes = text.as_bytes();
        let (first17, last) = bytes.split_at(17);
        let first17: &[u8; 17] = first17
            .try_into()
            .map_err(|_| IdentityError::ResidentIdCharacters)?;
        let found = match last {
            [b] if b.is_ascii_digit() || *b == b'X' => char::from(*b),
            _ => return Err(IdentityError::ResidentIdCharacters),
        };
        if !first17.iter().all(u8::is_ascii_digit) {
            return Err(IdentityError::ResidentIdCharacters);
        }
        let province = digits(first17.get(0..2));
        if !is_province_code(province) {
            return Err(IdentityError::UnknownProvince(
                text.get(0..2).unwrap_or("").to_owned(),
            ));
        }
        let birth = birth_date(first17).ok_or_else(|| {
            IdentityError::InvalidBirthDate(text.get(6..14).unwrap_or("").to_owned())
        })?;
        if birth.year() < 1900 {
            return Err(IdentityError::ImplausibleBirthDate(birth));
        }
        let expected = resident_id_check_character(first17);
        if expected != found {
            return Err(IdentityError::CheckDigit { expected, found });
        }
        Ok(ResidentId(text))
    }

    /// As [`ResidentId::parse`], and the holder must already be born on `today`.
    pub fn parse_as_of(input: &str, today: Date) -> Result<ResidentId, IdentityError> {
        let id = ResidentId::parse(input)?;
        let birth = id.birth_date();
        if birth > today {
            return Err(IdentityError::ImplausibleBirthDate(birth));
        }
        Ok(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 6-digit administrative division code where the ID was issued.
    pub fn region_code(&self) -> &str {
        self.0.get(0..6).unwrap_or("")
    }

    /// The 2-digit province-level code.
    pub fn province_code(&self) -> &str {
        self.0.get(0..2).unwrap_or("")
    }

    pub fn birth_date(&self) -> Date {
        // Checked at construction; the fallback is never reached.
        self.0
            .as_bytes()
            .get(0..17)
            .and_then(|b| <&[u8; 17]>::try_from(b).ok())
            .and_then(birth_date)
            .unwrap_or(Date::MIN)
    }

    /// The 17th digit is odd for men and even for women.
    pub fn sex(&self) -> Sex {
        match self.0.as_bytes().get(16) {
            // An ASCII digit has the parity of its value.
            Some(d) if d % 2 == 1 => Sex::Male,
            _ => Sex::Female,
        }
    }
}

fn digits(bytes: Option<&[u8]>) -> u32 {
    bytes
        .unwrap_or(&[])
        .iter()
        .fold(0, |acc, d| acc * 10 + u32::from(d.saturating_sub(b'0')))
}

fn birth_date(first17: &[u8; 17]) -> Option<Date> {
    let year = i32::try_from(digits(first17.get(6..10))).ok()?;
    let month = Month::try_from(u8::try_from(digits(first17.get(10..12))).ok()?).ok()?;
    let day = u8::try_from(digits(first17.get(12..14))).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

impl fmt::Debug for ResidentId {
    /// Masked, so identity numbers do not end up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", crate::mask::mask_id(&self.0))
    }
}

impl TryFrom<String> for ResidentId {
    type Error = IdentityError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ResidentId::parse(&s)
    }
}

impl From<ResidentId> for String {
    fn from(id: ResidentId) -> String {
        id.0
    }
}

/// A passport: issuing country (ICAO 3-letter code, as in the MRZ) and number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PassportFields")]
pub struct Passport {
    country: String,
    number: String,
}

#[derive(Deserialize)]
struct PassportFields {
    country: String,
    number: String,
}

impl TryFrom<PassportFields> for Passport {
    type Error = IdentityError;
    fn try_from(f: PassportFields) -> Result<Self, Self::Error> {
        Passport::new(&f.country, &f.number)
    }
}

impl Passport {
    pub fn new(country: &str, number: &str) -> Result<Passport, IdentityError> {
        let country = country.trim().to_ascii_uppercase();
        if country.len() != 3 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(IdentityError::PassportCountry(country));
        }
        let number = number.trim().to_ascii_uppercase();
        if !(5..=9).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IdentityError::PassportNumber(number));
        }
        Ok(Passport { country, number })
    }

    pub fn country(&self) -> &str {
        &self.country
    }

    pub fn number(&self) -> &str {
        &self.number
    }
}

/// The travel permits that Hong Kong, Macao and Taiwan residents use on the mainland.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermitKind {
    /// 港澳居民来往内地通行证 (Home Return Permit): H (Hong Kong) or M (Macao) and digits.
    HongKongMacaoHomeReturn,
    /// 台湾居民来往大陆通行证 (Taiwan Compatriot Permit).
    TaiwanCompatriot,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PermitFields")]
pub struct TravelPermit {
    kind: PermitKind,
    number: String,
}

#[derive(Deserialize)]
struct PermitFields {
    kind: PermitKind,
    number: String,
}

impl TryFrom<PermitFields> for TravelPermit {
    type Error = IdentityError;
    fn try_from(f: PermitFields) -> Result<Self, Self::Error> {
        TravelPermit::new(f.kind, &f.number)
    }
}

impl TravelPermit {
    pub fn new(kind: PermitKind, number: &str) -> Result<TravelPermit, IdentityError> {
        let number = number.trim().to_ascii_uppercase();
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let ok = match kind {
            PermitKind::HongKongMacaoHomeReturn => match number.strip_prefix(['H', 'M']) {
                Some(rest) => all_digits(rest) && matches!(rest.len(), 8 | 10),
                None => false,
            },
            PermitKind::TaiwanCompatriot => all_digits(&number) && matches!(number.len(), 8 | 10),
        };
        if !ok {
            return Err(match kind {
                PermitKind::HongKongMacaoHomeReturn => IdentityError::HomeReturnPermit(number),
                PermitKind::TaiwanCompatriot => IdentityError::TaiwanPermit(number),
            });
        }
        Ok(TravelPermit { kind, number })
    }

    pub fn kind(&self) -> PermitKind {
        self.kind
    }

    pub fn number(&self) -> &str {
        &self.number
    }
}

/// The document a person applies with. Residents get the resident code;
/// everyone else the traveller version on the national platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Identity {
    Resident { id: ResidentId },
    Passport(Passport),
    Permit(TravelPermit),
}

impl Identity {
    pub fn code_kind(&self) -> CodeKind {
        match self {
            Identity::Resident { .. } => CodeKind::Resident,
            Identity::Passport(_) | Identity::Permit(_) => CodeKind::Traveller,
        }
    }

    /// The document number, as printed on the document.
    pub fn number(&self) -> &str {
        match self {
            Identity::Resident { id } => id.as_str(),
            Identity::Passport(p) => p.number(),
            Identity::Permit(p) => p.number(),
        }
    }

    /// The number masked for a code face (see [`crate::mask::mask_id`]).
    pub fn masked(&self) -> String {
        crate::mask::mask_id(self.number())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn standard_example_checks() {
        // The worked example of GB 11643-1999.
        let id = ResidentId::parse("11010519491231002x").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.region_code(), "110105");
        assert_eq!(id.birth_date(), time::macros::date!(1949 - 12 - 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(format!("{id:?}"), "ResidentId(1101**********002X)");
    }
}
