//! Signature algorithms and keys: Ed25519 (default), ES256, and PS256 (only
//! to verify EU DCCs). Public keys travel as DER SubjectPublicKeyInfo; the
//! key id (`kid`) is the first 8 bytes of its SHA-256, as for EU DCC
//! signing certificates.

use std::fmt;
use std::str::FromStr;

use ring::rand::SecureRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};
use thiserror::Error;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

/// Length of a key id.
pub const KID_LEN: usize = 8;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32-byte key follows.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER prefix of a P-256 SubjectPublicKeyInfo; the 65-byte point follows.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

const OID_ED25519: &str = "1.3.101.112";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_RSA: &str = "1.2.840.113549.1.1.1";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("unknown algorithm {0:?}: expected EdDSA (Ed25519), ES256 or PS256")]
    UnknownAlgorithm(String),
    #[error("public key is not a valid DER SubjectPublicKeyInfo")]
    BadSpki,
    #[error("public key type is not supported (expected Ed25519, P-256 or RSA)")]
    UnsupportedKeyType,
    #[error("private key is not a valid PKCS#8 {0} key")]
    BadPrivateKey(Algorithm),
    #[error("{0} keys can only verify, not sign")]
    CannotSign(Algorithm),
    #[error("the system random number generator failed")]
    Rng,
}

/// A COSE signature algorithm we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// EdDSA with Ed25519 (COSE -8): our default.
    EdDsa,
    /// ECDSA P-256 with SHA-256 (COSE -7).
    Es256,
    /// RSASSA-PSS with SHA-256 (COSE -37): EU DCC only.
    Ps256,
}

impl Algorithm {
    pub const fn cose_id(self) -> i64 {
        match self {
            Algorithm::EdDsa => -8,
            Algorithm::Es256 => -7,
            Algorithm::Ps256 => -37,
        }
    }

    pub const fn from_cose_id(id: i64) -> Option<Algorithm> {
        match id {
            -8 => Some(Algorithm::EdDsa),
            -7 => Some(Algorithm::Es256),
            -37 => Some(Algorithm::Ps256),
            _ => None,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Es256 => "ES256",
            Algorithm::Ps256 => "PS256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "eddsa" | "ed25519" => Ok(Algorithm::EdDsa),
            "es256" | "p256" | "p-256" => Ok(Algorithm::Es256),
            "ps256" => Ok(Algorithm::Ps256),
            _ => Err(KeyError::UnknownAlgorithm(s.to_owned())),
        }
    }
}

/// A public key able to verify signatures of one algorithm.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    alg: Algorithm,
    spki: Vec<u8>,
    /// The key in the form the verifier takes: Ed25519 raw 32 bytes, a P-256
    /// uncompressed point, or a PKCS#1 RSAPublicKey.
    key: Vec<u8>,
    /// Ed25519 keys decompressed once: a checkpoint verifies many codes with
    /// few keys, and this verifier is ~25% faster than re-parsing each time.
    ed25519: Option<ed25519_dalek::VerifyingKey>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({}, kid {})",
            self.alg,
            hex::encode(self.kid())
        )
    }
}

impl PublicKey {
    /// Reads a DER SubjectPublicKeyInfo. The algorithm follows from the key
    /// type: Ed25519 → EdDSA, P-256 → ES256, RSA → PS256.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let (rest, spki) = SubjectPublicKeyInfo::from_der(der).map_err(|_| KeyError::BadSpki)?;
        if !rest.is_empty() {
            return Err(KeyError::BadSpki);
        }
        Self::from_parsed_spki(&spki)
    }

    pub(crate) fn from_parsed_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<PublicKey, KeyError> {
        let oid = spki.algorithm.algorithm.to_id_string();
        let key = spki.subject_public_key.data.to_vec();
        let alg = match oid.as_str() {
            OID_ED25519 if key.len() == 32 => Algorithm::EdDsa,
            OID_EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string());
                if curve.as_deref() != Some(OID_P256) || key.len() != 65 || key[0] != 4 {
                    return Err(KeyError::UnsupportedKeyType);
                }
                Algorithm::Es256
            }
            OID_RSA => Algorithm::Ps256,
            OID_ED25519 => return Err(KeyError::BadSpki),
            _ => return Err(KeyError::UnsupportedKeyType),
        };
        Ok(PublicKey {
            alg,
            spki: spki.raw.to_vec(),
            ed25519: decompress_ed25519(alg, &key)?,
            key,
        })
    }

    fn from_raw(alg: Algorithm, raw: &[u8]) -> Result<PublicKey, KeyError> {
        let prefix: &[u8] = match alg {
            Algorithm::EdDsa => &ED25519_SPKI_PREFIX,
            Algorithm::Es256 | Algorithm::Ps256 => &P256_SPKI_PREFIX,
        };
        let mut spki = Vec::with_capacity(prefix.len() + raw.len());
        spki.extend_from_slice(prefix);
        spki.extend_from_slice(raw);
        Ok(PublicKey {
            alg,
            spki,
            ed25519: decompress_ed25519(alg, raw)?,
            key: raw.to_vec(),
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The key id: the first 8 bytes of SHA-256 over the SubjectPublicKeyInfo.
    pub fn kid(&self) -> [u8; KID_LEN] {
        let digest = Sha256::digest(&self.spki);
        let mut kid = [0u8; KID_LEN];
        kid.copy_from_slice(&digest[..KID_LEN]);
        kid
    }

    /// SHA-256 of the SubjectPublicKeyInfo, hex: what operators pin.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(&self.spki))
    }

    /// Checks `signature` over `message`. COSE signatures are raw: ES256 is
    /// `r || s` (64 bytes), not DER. Ed25519 is checked strictly (no
    /// small-order keys, canonical encodings), so a signature cannot be
    /// altered into another valid one.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let ring_alg: &dyn signature::VerificationAlgorithm = match (self.alg, &self.ed25519) {
            (Algorithm::EdDsa, Some(key)) => {
                return ed25519_dalek::Signature::from_slice(signature)
                    .is_ok_and(|sig| key.verify_strict(message, &sig).is_ok())
            }
            (Algorithm::EdDsa, None) => return false,
            (Algorithm::Es256, _) => &signature::ECDSA_P256_SHA256_FIXED,
            (Algorithm::Ps256, _) => &signature::RSA_PSS_2048_8192_SHA256,
        };
        UnparsedPublicKey::new(ring_alg, &self.key)
            .verify(message, signature)
            .is_ok()
    }
}

fn decompress_ed25519(
    alg: Algorithm,
    raw: &[u8],
) -> Result<Option<ed25519_dalek::VerifyingKey>, KeyError> {
    if alg != Algorithm::EdDsa {
        return Ok(None);
    }
    let bytes: &[u8; 32] = raw.try_into().map_err(|_| KeyError::BadSpki)?;
    ed25519_dalek::VerifyingKey::from_bytes(bytes)
        .map(Some)
        .map_err(|_| KeyError::BadSpki)
}

enum KeyPairInner {
    Ed25519(Ed25519KeyPair),
    Es256(EcdsaKeyPair),
}

/// A private key that signs codes.
pub struct SigningKey {
    inner: KeyPairInner,
    pkcs8: Vec<u8>,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({:?}, private part redacted)", self.public)
    }
}

impl SigningKey {
    /// Generates a new key pair with randomness from `rng`.
    pub fn generate(alg: Algorithm, rng: &dyn SecureRandom) -> Result<SigningKey, KeyError> {
        let pkcs8 = match alg {
            Algorithm::EdDsa => Ed25519KeyPair::generate_pkcs8(rng).map_err(|_| KeyError::Rng)?,
            Algorithm::Es256 => {
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, rng)
                    .map_err(|_| KeyError::Rng)?
            }
            Algorithm::Ps256 => return Err(KeyError::CannotSign(alg)),
        };
        Self::from_pkcs8(alg, pkcs8.as_ref(), rng)
    }

    /// Loads a PKCS#8 private key. `rng` is needed by ECDSA key loading.
    pub fn from_pkcs8(
        alg: Algorithm,
        pkcs8: &[u8],
        rng: &dyn SecureRandom,
    ) -> Result<SigningKey, KeyError> {
        let (inner, raw_public) = match alg {
            Algorithm::EdDsa => {
                let kp = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
                    .map_err(|_| KeyError::BadPrivateKey(alg))?;
                let raw = kp.public_key().as_ref().to_vec();
                (KeyPairInner::Ed25519(kp), raw)
            }
            Algorithm::Es256 => {
                let kp = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    pkcs8,
                    rng,
                )
                .map_err(|_| KeyError::BadPrivateKey(alg))?;
                let raw = kp.public_key().as_ref().to_vec();
                (KeyPairInner::Es256(kp), raw)
            }
            Algorithm::Ps256 => return Err(KeyError::CannotSign(alg)),
        };
        Ok(SigningKey {
            inner,
            pkcs8: pkcs8.to_vec(),
            public: PublicKey::from_raw(alg, &raw_public)?,
        })
    }

    /// An Ed25519 key from a fixed 32-byte seed: for golden test vectors and
    /// reproducible demo keys, never for production keys.
    pub fn ed25519_from_seed(seed: &[u8; 32]) -> Result<SigningKey, KeyError> {
        // PKCS#8 v1 wrapping of an Ed25519 seed (RFC 8410).
        const PREFIX: [u8; 16] = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        let mut pkcs8 = Vec::with_capacity(48);
        pkcs8.extend_from_slice(&PREFIX);
        pkcs8.extend_from_slice(seed);
        Self::from_pkcs8(Algorithm::EdDsa, &pkcs8, &ring::rand::SystemRandom::new())
    }

    pub fn algorithm(&self) -> Algorithm {
        self.public.alg
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The PKCS#8 document, for writing the key file.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Signs `message`; ECDSA draws its nonce from `rng`, Ed25519 is
    /// deterministic.
    pub fn sign(&self, message: &[u8], rng: &dyn SecureRandom) -> Result<Vec<u8>, KeyError> {
        match &self.inner {
            KeyPairInner::Ed25519(kp) => Ok(kp.sign(message).as_ref().to_vec()),
            KeyPairInner::Es256(kp) => kp
                .sign(rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Rng),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn sign_verify_and_spki_round_trip() {
        let rng = SystemRandom::new();
        for alg in [Algorithm::EdDsa, Algorithm::Es256] {
            let key = SigningKey::generate(alg, &rng).unwrap();
            let sig = key.sign(b"message", &rng).unwrap();
            let public = PublicKey::from_spki_der(key.public_key().spki_der()).unwrap();
            assert_eq!(&public, key.public_key());
            assert_eq!(public.algorithm(), alg);
            assert!(public.verify(b"message", &sig));
            assert!(!public.verify(b"messagf", &sig));
            let reloaded = SigningKey::from_pkcs8(alg, key.pkcs8_der(), &rng).unwrap();
            assert_eq!(reloaded.public_key(), key.public_key());
        }
    }

    #[test]
    fn bad_keys_are_errors() {
        let rng = SystemRandom::new();
        assert_eq!(
            PublicKey::from_spki_der(b"nonsense").unwrap_err(),
            KeyError::BadSpki
        );
        assert!(SigningKey::from_pkcs8(Algorithm::EdDsa, b"nonsense", &rng).is_err());
        assert!("rsa".parse::<Algorithm>().is_err());
    }
}
