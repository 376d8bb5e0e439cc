//! Signed JSON documents (trust lists, revocation lists).
//!
//! The signed bytes are the JSON text itself, carried verbatim as a string so
//! that no canonicalisation is needed; the signature is a COSE_Sign1
//! signature (same `Sig_structure`, same keys) over those bytes:
//!
//! ```json
//! { "protected": "<base64 COSE protected header: alg, kid>",
//!   "payload":   "{\"kind\":\"healthcode-trust-list\", ...}",
//!   "signature": "<base64>" }
//! ```

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::cbor::Reader;
use crate::cose;
use crate::keys::{Algorithm, KeyError, PublicKey, SigningKey};

#[derive(Debug, Error)]
pub enum DocumentError {
    #[error("not a signed document (expected JSON with protected, payload and signature): {0}")]
    Envelope(serde_json::Error),
    #[error("signed document field {0} is not valid base64")]
    Base64(&'static str),
    #[error("signed document's protected header is malformed")]
    Header,
    #[error("signed document uses an unknown signature algorithm {0}")]
    Algorithm(i64),
    #[error("signed document's signature does not verify")]
    BadSignature,
    #[error("signing failed: {0}")]
    Sign(#[from] KeyError),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedDocument {
    pub protected: String,
    pub payload: String,
    pub signature: String,
}

/// The parts of a signed document, decoded but not yet verified.
#[derive(Debug, Clone)]
pub struct OpenedDocument {
    protected: Vec<u8>,
    pub alg: Algorithm,
    pub kid: Vec<u8>,
    pub payload: String,
    signature: Vec<u8>,
}

impl SignedDocument {
    /// Signs `payload` (JSON text) with `key`.
    pub fn sign(
        payload: String,
        key: &SigningKey,
        rng: &dyn SecureRandom,
    ) -> Result<SignedDocument, DocumentError> {
        let protected = cose::protected_header(key.algorithm().cose_id(), &key.public_key().kid());
        let mut to_sign = Vec::new();
        cose::sig_structure(&protected, payload.as_bytes(), &mut to_sign);
        let signature = key.sign(&to_sign, rng)?;
        Ok(SignedDocument {
            protected: B64.encode(&protected),
            payload,
            signature: B64.encode(signature),
        })
    }

    pub fn from_json(text: &str) -> Result<SignedDocument, DocumentError> {
        serde_json::from_str(text).map_err(DocumentError::Envelope)
    }

    pub fn to_json(&self) -> String {
        // A struct of three strings always serializes.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn open(&self) -> Result<OpenedDocument, DocumentError> {
        let protected = B64
            .decode(&self.protected)
            .map_err(|_| DocumentError::Base64("protected"))?;
        let signature = B64
            .decode(&self.signature)
            .map_err(|_| DocumentError::Base64("signature"))?;
        let (alg, kid) = read_protected(&protected).ok_or(DocumentError::Header)?;
        let alg = Algorithm::from_cose_id(alg).ok_or(DocumentError::Algorithm(alg))?;
        let kid = kid.to_vec();
        Ok(OpenedDocument {
            protected,
            alg,
            kid,
            payload: self.payload.clone(),
            signature,
        })
    }
}

fn read_protected(bytes: &[u8]) -> Option<(i64, &[u8])> {
    let mut r = Reader::new(bytes);
    let n = r.map_len().ok()?;
    let (mut alg, mut kid) = (None, None);
    for _ in 0..n {
        match r.integer().ok()? {
            1 => alg = Some(r.integer().ok()?),
            4 => kid = Some(r.bytes().ok()?),
            _ => r.skip().ok()?,
        }
    }
    r.finish().ok()?;
    Some((alg?, kid?))
}

impl OpenedDocument {
    /// Checks the signature with `key`, which must match the header's kid
    /// and algorithm.
    pub fn verify(&self, key: &PublicKey) -> Result<(), DocumentError> {
        if key.algorithm() != self.alg || key.kid()[..] != self.kid[..] {
            return Err(DocumentError::BadSignature);
        }
        let mut signed = Vec::new();
        cose::sig_structure(&self.protected, self.payload.as_bytes(), &mut signed);
        if key.verify(&signed, &self.signature) {
            Ok(())
        } else {
            Err(DocumentError::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn sign_open_verify_and_tamper() {
        let rng = SystemRandom::new();
        let key = SigningKey::generate(Algorithm::EdDsa, &rng).unwrap();
        let other = SigningKey::generate(Algorithm::EdDsa, &rng).unwrap();
        let doc = SignedDocument::sign(r#"{"a":1}"#.into(), &key, &rng).unwrap();
        let text = doc.to_json();
        let opened = SignedDocument::from_json(&text).unwrap().open().unwrap();
        assert_eq!(opened.payload, r#"{"a":1}"#);
        opened.verify(key.public_key()).unwrap();
        assert!(opened.verify(other.public_key()).is_err());

        let mut tampered = SignedDocument::from_json(&text).unwrap();
        tampered.payload = r#"{"a":2}"#.into();
        assert!(tampered.open().unwrap().verify(key.public_key()).is_err());
        assert!(SignedDocument::from_json("[]").is_err());
    }
}
