//! The claims our codes carry: a CWT (RFC 8392) with one private claim.
//!
//! ```text
//! { 1: iss, 4: exp, 6: iat, 7: cti (code id, 16 bytes),
//!   -65537: { 1: colour, 2: masked name, 3: masked ID, 4: kind,
//!             5: status-as-of, 6: demo (present only when true) } }
//! ```
//! Keys below -65536 are reserved for private use in the CWT registry.
//! Integer keys keep the QR small. Unknown keys in the private claim are
//! ignored so that later versions can add fields.

use healthcode_core::{CodeKind, Colour};
use thiserror::Error;

use crate::cbor::{self, CborError, Major, Reader};

pub const CLAIM_ISS: i64 = 1;
pub const CLAIM_EXP: i64 = 4;
pub const CLAIM_IAT: i64 = 6;
pub const CLAIM_CTI: i64 = 7;
pub const CLAIM_HEALTH_CODE: i64 = -65537;

const HC_COLOUR: i64 = 1;
const HC_NAME: i64 = 2;
const HC_ID: i64 = 3;
const HC_KIND: i64 = 4;
const HC_STATUS_AS_OF: i64 = 5;
const HC_DEMO: i64 = 6;

/// Length of the pseudonymous code id.
pub const CODE_ID_LEN: usize = 16;

/// Bound on text claims, so a code stays a code.
const MAX_TEXT: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClaimsError {
    #[error("claims are not well-formed CBOR: {0}")]
    Cbor(#[from] CborError),
    #[error("claim {0} is missing")]
    Missing(&'static str),
    #[error("claim {0} appears twice")]
    Duplicate(&'static str),
    #[error("claim {name} is invalid: {why}")]
    Invalid { name: &'static str, why: String },
}

/// The decoded content of one of our codes. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub issuer: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub code_id: [u8; CODE_ID_LEN],
    pub colour: Colour,
    pub masked_name: String,
    pub masked_id: String,
    pub kind: CodeKind,
    /// When the colour was last determined from the holder's facts.
    pub status_as_of: i64,
    /// Issued with a demonstration key: never a real authority's code.
    pub demo: bool,
}

impl Claims {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.clear();
        cbor::write_map(out, 5);
        cbor::write_int(out, CLAIM_ISS);
        cbor::write_text(out, &self.issuer);
        cbor::write_int(out, CLAIM_EXP);
        cbor::write_int(out, self.expires_at);
        cbor::write_int(out, CLAIM_IAT);
        cbor::write_int(out, self.issued_at);
        cbor::write_int(out, CLAIM_CTI);
        cbor::write_bytes(out, &self.code_id);
        cbor::write_int(out, CLAIM_HEALTH_CODE);
        cbor::write_map(out, if self.demo { 6 } else { 5 });
        cbor::write_int(out, HC_COLOUR);
        cbor::write_int(out, i64::from(self.colour.wire()));
        cbor::write_int(out, HC_NAME);
        cbor::write_text(out, &self.masked_name);
        cbor::write_int(out, HC_ID);
        cbor::write_text(out, &self.masked_id);
        cbor::write_int(out, HC_KIND);
        cbor::write_int(out, i64::from(self.kind.wire()));
        cbor::write_int(out, HC_STATUS_AS_OF);
        cbor::write_int(out, self.status_as_of);
        if self.demo {
            cbor::write_int(out, HC_DEMO);
            cbor::write_bool(out, true);
        }
    }

    pub fn decode(data: &[u8]) -> Result<Claims, ClaimsError> {
        let mut r = Reader::new(data);
        let n = r.map_len()?;
        let mut issuer = None;
        let mut exp = None;
        let mut iat = None;
        let mut cti = None;
        let mut hc = None;
        for _ in 0..n {
            let Some(key) = integer_key(&mut r)? else {
                continue;
            };
            match key {
                CLAIM_ISS => set_once(&mut issuer, "iss", bounded_text(&mut r, "iss")?)?,
                CLAIM_EXP => set_once(&mut exp, "exp", r.integer()?)?,
                CLAIM_IAT => set_once(&mut iat, "iat", r.integer()?)?,
                CLAIM_CTI => set_once(&mut cti, "cti", r.bytes()?)?,
                CLAIM_HEALTH_CODE => set_once(&mut hc, "health code", read_health_code(&mut r)?)?,
                _ => r.skip()?,
            }
        }
        r.finish()?;
        let cti = cti.ok_or(ClaimsError::Missing("cti"))?;
        let code_id: [u8; CODE_ID_LEN] = cti.try_into().map_err(|_| ClaimsError::Invalid {
            name: "cti",
            why: format!("{} bytes where {CODE_ID_LEN} were expected", cti.len()),
        })?;
        let hc = hc.ok_or(ClaimsError::Missing("health code"))?;
        let issued_at = iat.ok_or(ClaimsError::Missing("iat"))?;
        let expires_at = exp.ok_or(ClaimsError::Missing("exp"))?;
        if expires_at < issued_at {
            return Err(ClaimsError::Invalid {
                name: "exp",
                why: "expiry precedes issuance".into(),
            });
        }
        Ok(Claims {
            issuer: issuer.ok_or(ClaimsError::Missing("iss"))?.to_owned(),
            issued_at,
            expires_at,
            code_id,
            colour: hc.colour,
            masked_name: hc.name.to_owned(),
            masked_id: hc.id.to_owned(),
            kind: hc.kind,
            status_as_of: hc.status_as_of,
            demo: hc.demo,
        })
    }

    pub fn code_id_hex(&self) -> String {
        hex::encode(self.code_id)
    }
}

struct HealthCodeClaim<'a> {
    colour: Colour,
    name: &'a str,
    id: &'a str,
    kind: CodeKind,
    status_as_of: i64,
    demo: bool,
}

fn read_health_code<'a>(r: &mut Reader<'a>) -> Result<HealthCodeClaim<'a>, ClaimsError> {
    let n = r.map_len()?;
    let (mut colour, mut name, mut id, mut kind, mut as_of, mut demo) =
        (None, None, None, None, None, None);
    for _ in 0..n {
        let Some(key) = integer_key(r)? else {
            continue;
        };
        match key {
            HC_COLOUR => {
                let v = r.unsigned()?;
                let c = Colour::from_wire(v).ok_or_else(|| ClaimsError::Invalid {
                    name: "colour",
                    why: format!("unknown colour number {v}"),
                })?;
                set_once(&mut colour, "colour", c)?;
            }
            HC_NAME => set_once(&mut name, "name", bounded_text(r, "name")?)?,
            HC_ID => set_once(&mut id, "id", bounded_text(r, "id")?)?,
            HC_KIND => {
                let v = r.unsigned()?;
                let k = CodeKind::from_wire(v).ok_or_else(|| ClaimsError::Invalid {
                    name: "kind",
                    why: format!("unknown code kind number {v}"),
                })?;
                set_once(&mut kind, "kind", k)?;
            }
            HC_STATUS_AS_OF => set_once(&mut as_of, "status_as_of", r.integer()?)?,
            HC_DEMO => set_once(&mut demo, "demo", r.boolean()?)?,
            _ => r.skip()?,
        }
    }
    Ok(HealthCodeClaim {
        colour: colour.ok_or(ClaimsError::Missing("colour"))?,
        name: name.ok_or(ClaimsError::Missing("name"))?,
        id: id.ok_or(ClaimsError::Missing("id"))?,
        kind: kind.ok_or(ClaimsError::Missing("kind"))?,
        status_as_of: as_of.ok_or(ClaimsError::Missing("status_as_of"))?,
        demo: demo.unwrap_or(false),
    })
}

/// Reads the next map key if it is an integer; otherwise skips the whole
/// entry (key and value) and returns `None`. Unknown keys are tolerated.
fn integer_key(r: &mut Reader<'_>) -> Result<Option<i64>, CborError> {
    if matches!(r.peek_major()?, Major::Unsigned | Major::Negative) {
        return Ok(Some(r.integer()?));
    }
    r.skip()?;
    r.skip()?;
    Ok(None)
}

fn bounded_text<'a>(r: &mut Reader<'a>, name: &'static str) -> Result<&'a str, ClaimsError> {
    let s = r.text()?;
    if s.len() > MAX_TEXT {
        return Err(ClaimsError::Invalid {
            name,
            why: format!("{} bytes, more than {MAX_TEXT}", s.len()),
        });
    }
    Ok(s)
}

fn set_once<T>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), ClaimsError> {
    if slot.is_some() {
        return Err(ClaimsError::Duplicate(name));
    }
    *slot = Some(value);
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    pub fn arb_claims() -> impl Strategy<Value = Claims> {
        (
            "[a-z0-9-]{1,20}",
            any::<i32>(),
            0i64..10_000_000,
            any::<[u8; CODE_ID_LEN]>(),
            0u64..5,
            ".{0,20}",
            "[0-9X*]{0,18}",
            any::<bool>(),
            any::<i32>(),
            any::<bool>(),
        )
            .prop_map(
                |(issuer, iat, ttl, code_id, colour, name, id, traveller, as_of, demo)| Claims {
                    issuer,
                    issued_at: i64::from(iat),
                    expires_at: i64::from(iat) + ttl,
                    code_id,
                    colour: Colour::from_wire(colour).unwrap(),
                    masked_name: name,
                    masked_id: id,
                    kind: if traveller {
                        CodeKind::Traveller
                    } else {
                        CodeKind::Resident
                    },
                    status_as_of: i64::from(as_of),
                    demo,
                },
            )
    }

    proptest! {
        #[test]
        fn round_trip(claims in arb_claims()) {
            let mut out = Vec::new();
            claims.encode(&mut out);
            prop_assert_eq!(Claims::decode(&out).unwrap(), claims);
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Claims::decode(&data);
        }

        #[test]
        fn corrupted_claims_never_panic(claims in arb_claims(), at in any::<usize>(), byte in any::<u8>()) {
            let mut out = Vec::new();
            claims.encode(&mut out);
            let i = at % out.len();
            out[i] = byte;
            let _ = Claims::decode(&out);
        }
    }

    #[test]
    fn missing_and_duplicate_claims() {
        let mut out = Vec::new();
        cbor::write_map(&mut out, 0);
        assert_eq!(Claims::decode(&out), Err(ClaimsError::Missing("cti")));
        let mut out = Vec::new();
        cbor::write_map(&mut out, 2);
        cbor::write_int(&mut out, CLAIM_EXP);
        cbor::write_int(&mut out, 1);
        cbor::write_int(&mut out, CLAIM_EXP);
        cbor::write_int(&mut out, 2);
        assert_eq!(Claims::decode(&out), Err(ClaimsError::Duplicate("exp")));
    }
}
