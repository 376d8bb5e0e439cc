//! Key files: a signing key with its issuer, validity and DEMO flag (JSON,
//! private), and the matching public description.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::OffsetDateTime;

use crate::keys::{Algorithm, KeyError, SigningKey};
use crate::trust::{KeyDescription, TrustError};

pub const SIGNING_KEY_KIND: &str = "healthcode-signing-key";
pub const PUBLIC_KEY_KIND: &str = "healthcode-public-key";

#[derive(Debug, Error)]
pub enum KeyFileError {
    #[error("not a key file: {0}")]
    Json(#[from] serde_json::Error),
    #[error("key file kind is {found:?}, expected {expected:?}")]
    Kind {
        found: String,
        expected: &'static str,
    },
    #[error("private_key_pkcs8 is not base64")]
    Base64,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error("the private key does not match the public key in the file")]
    Mismatch,
}

/// An issuer's signing key and what the trust list says about it.
#[derive(Debug)]
pub struct IssuerKey {
    pub issuer: String,
    pub signing_key: SigningKey,
    pub valid_from: OffsetDateTime,
    pub valid_to: OffsetDateTime,
    pub demo: bool,
}

#[derive(Serialize, Deserialize)]
struct SigningKeyFile {
    kind: String,
    #[serde(flatten)]
    description: KeyDescription,
    private_key_pkcs8: String,
}

#[derive(Serialize, Deserialize)]
struct PublicKeyFile {
    kind: String,
    #[serde(flatten)]
    description: KeyDescription,
}

impl IssuerKey {
    pub fn generate(
        issuer: &str,
        alg: Algorithm,
        valid_from: OffsetDateTime,
        valid_to: OffsetDateTime,
        demo: bool,
        rng: &dyn SecureRandom,
    ) -> Result<IssuerKey, KeyError> {
        Ok(IssuerKey {
            issuer: issuer.to_owned(),
            signing_key: SigningKey::generate(alg, rng)?,
            valid_from,
            valid_to,
            demo,
        })
    }

    pub fn description(&self) -> KeyDescription {
        KeyDescription::describe(
            &self.issuer,
            self.signing_key.public_key(),
            self.valid_from,
            self.valid_to,
            self.demo,
        )
    }

    /// The private key file (JSON). Keep it secret: mode 0600.
    pub fn to_private_json(&self) -> Result<String, KeyFileError> {
        Ok(serde_json::to_string_pretty(&SigningKeyFile {
            kind: SIGNING_KEY_KIND.to_owned(),
            description: self.description(),
            private_key_pkcs8: B64.encode(self.signing_key.pkcs8_der()),
        })?)
    }

    /// The public key file (JSON), for building trust lists.
    pub fn to_public_json(&self) -> Result<String, KeyFileError> {
        public_key_json(&self.description())
    }

    pub fn from_private_json(
        text: &str,
        rng: &dyn SecureRandom,
    ) -> Result<IssuerKey, KeyFileError> {
        let file: SigningKeyFile = serde_json::from_str(text)?;
        if file.kind != SIGNING_KEY_KIND {
            return Err(KeyFileError::Kind {
                found: file.kind,
                expected: SIGNING_KEY_KIND,
            });
        }
        let public = file.description.public_key()?;
        let pkcs8 = B64
            .decode(&file.private_key_pkcs8)
            .map_err(|_| KeyFileError::Base64)?;
        let signing_key = SigningKey::from_pkcs8(public.algorithm(), &pkcs8, rng)?;
        if signing_key.public_key() != &public {
            return Err(KeyFileError::Mismatch);
        }
        Ok(IssuerKey {
            issuer: file.description.issuer,
            signing_key,
            valid_from: file.description.valid_from,
            valid_to: file.description.valid_to,
            demo: file.description.demo,
        })
    }
}

pub fn public_key_json(description: &KeyDescription) -> Result<String, KeyFileError> {
    Ok(serde_json::to_string_pretty(&PublicKeyFile {
        kind: PUBLIC_KEY_KIND.to_owned(),
        description: description.clone(),
    })?)
}

/// Reads a public key file, or the public part of a signing key file.
pub fn read_public_json(text: &str) -> Result<KeyDescription, KeyFileError> {
    #[derive(Deserialize)]
    struct AnyKeyFile {
        kind: String,
        #[serde(flatten)]
        description: KeyDescription,
    }
    let file: AnyKeyFile = serde_json::from_str(text)?;
    if file.kind != PUBLIC_KEY_KIND && file.kind != SIGNING_KEY_KIND {
        return Err(KeyFileError::Kind {
            found: file.kind,
            expected: PUBLIC_KEY_KIND,
        });
    }
    file.description.public_key()?;
    Ok(file.description)
}
