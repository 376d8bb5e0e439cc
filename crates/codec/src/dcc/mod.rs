//! EU Digital COVID Certificates (`HC1:`): the payload, its JSON view and
//! its schema. Verification shares the pipeline in [`crate::verify`].

pub mod cert;
pub mod schema;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{Map, Number, Value as Json};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cbor::Value;
use crate::claims::ClaimsError;
pub use cert::{DccType, DccUsage, DscCertificate};

pub const DCC_PREFIX: &str = "HC1:";
/// CWT claim holding the health certificate container.
pub const CLAIM_HCERT: i64 = -260;

/// The decoded CWT of an EU DCC.
#[derive(Debug, Clone, PartialEq)]
pub struct DccPayload {
    /// `iss`: the issuing country, when present.
    pub issuer_country: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    /// The certificate (`-260` → `1`), as CBOR.
    pub hcert: Value,
    /// Which kind of certificate: `None` unless exactly one of v, t, r.
    pub cert_type: Option<DccType>,
}

impl DccPayload {
    pub fn decode(data: &[u8]) -> Result<DccPayload, ClaimsError> {
        let cwt = Value::decode(data)?;
        let cwt = cwt.untagged();
        if !matches!(cwt, Value::Map(_)) {
            return Err(ClaimsError::Invalid {
                name: "cwt",
                why: "payload is not a CBOR map".into(),
            });
        }
        let time_claim = |key: i64, name: &'static str| -> Result<i64, ClaimsError> {
            match cwt.map_get_int(key).map(Value::untagged) {
                None => Err(ClaimsError::Missing(name)),
                Some(Value::Float(x)) if x.is_finite() => Ok(*x as i64),
                Some(v) => v.as_i64().ok_or_else(|| ClaimsError::Invalid {
                    name,
                    why: format!("not a timestamp: {v}"),
                }),
            }
        };
        let issued_at = time_claim(6, "iat")?;
        let expires_at = time_claim(4, "exp")?;
        let issuer_country = match cwt.map_get_int(1) {
            Some(Value::Text(s)) => Some(s.clone()),
            _ => None,
        };
        let hcert = cwt
            .map_get_int(CLAIM_HCERT)
            .and_then(|c| c.map_get_int(1))
            .ok_or(ClaimsError::Missing("hcert (-260/1)"))?
            .clone();
        let cert_type = certificate_type(&hcert);
        Ok(DccPayload {
            issuer_country,
            issued_at,
            expires_at,
            hcert,
            cert_type,
        })
    }

    /// The certificate as JSON, as a verifier app shows it.
    pub fn hcert_json(&self) -> Json {
        to_json(&self.hcert)
    }
}

fn certificate_type(hcert: &Value) -> Option<DccType> {
    let Value::Map(entries) = hcert else {
        return None;
    };
    let mut found = None;
    for (k, _) in entries {
        let t = match k {
            Value::Text(s) if s == "v" => DccType::Vaccination,
            Value::Text(s) if s == "t" => DccType::Test,
            Value::Text(s) if s == "r" => DccType::Recovery,
            _ => continue,
        };
        if found.is_some() {
            return None;
        }
        found = Some(t);
    }
    found
}

/// Converts CBOR to JSON: byte strings become base64, integer map keys
/// become strings, epoch-time tags become RFC 3339 text.
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::Unsigned(n) => Json::Number((*n).into()),
        Value::Negative(n) => match i64::try_from(*n) {
            Ok(n) => Json::Number((-1 - n).into()),
            Err(_) => Number::from_f64(-1.0 - *n as f64).map_or(Json::Null, Json::Number),
        },
        Value::Bytes(b) => Json::String(B64.encode(b)),
        Value::Text(s) => Json::String(s.clone()),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let key = match k {
                    Value::Text(s) => s.clone(),
                    other => other.to_string(),
                };
                map.insert(key, to_json(v));
            }
            Json::Object(map)
        }
        Value::Tag(1, inner) => {
            let secs = match inner.as_ref() {
                Value::Float(x) if x.is_finite() => Some(*x as i64),
                other => other.as_i64(),
            };
            secs.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                .and_then(|t| t.format(&Rfc3339).ok())
                .map_or_else(|| to_json(inner), Json::String)
        }
        Value::Tag(_, inner) => to_json(inner),
        Value::Bool(b) => Json::Bool(*b),
        Value::Null | Value::Undefined => Json::Null,
        Value::Float(x) => Number::from_f64(*x).map_or(Json::Null, Json::Number),
        Value::Simple(n) => Json::Number((*n).into()),
    }
}
