//! Trust lists, revocation lists and the verifier's trust store.
//!
//! A deployment publishes a trust list: the keys its issuers sign codes with,
//! each with a validity window, signed by the publisher's own key (whose
//! fingerprint other deployments pin). A revocation list names code ids that
//! must no longer pass, signed by a key the trust store already trusts.

use std::collections::{HashMap, HashSet};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::OffsetDateTime;

use crate::claims::CODE_ID_LEN;
use crate::dcc::cert::{DccUsage, DscCertificate};
use crate::document::{DocumentError, SignedDocument};
use crate::keys::{Algorithm, KeyError, PublicKey, SigningKey};

pub const TRUST_LIST_KIND: &str = "healthcode-trust-list";
pub const REVOCATION_LIST_KIND: &str = "healthcode-revocation-list";

#[derive(Debug, Error)]
pub enum TrustError {
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("{what} is not valid: {why}")]
    Content { what: &'static str, why: String },
    #[error("trust list entry for issuer {issuer:?}: {why}")]
    Entry { issuer: String, why: String },
    #[error("trust list publisher key fingerprint {found} does not match the pinned {pinned}")]
    PinMismatch { found: String, pinned: String },
    #[error("revocation list is signed by key {0}, which no loaded trust list trusts")]
    UntrustedSigner(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "trust list rollback refused: sequence {offered} is older than the {held} already held"
    )]
    Rollback { held: u64, offered: u64 },
    #[error("trust list sequence {0} is already held with different content: a publisher must raise the sequence for every change")]
    SequenceReused(u64),
    #[error("the trust list is published by {offered}, not by {held} whose list is held")]
    PublisherChanged { held: String, offered: String },
}

/// The public description of one key, as it appears in trust lists and
/// public-key files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDescription {
    /// The issuing authority (a region or the national platform).
    pub issuer: String,
    /// Base64 of the 8-byte key id.
    pub kid: String,
    pub alg: String,
    /// Base64 of the DER SubjectPublicKeyInfo.
    pub public_key: String,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_to: OffsetDateTime,
    /// A demonstration key: its codes are marked DEMO everywhere.
    #[serde(default)]
    pub demo: bool,
}

impl KeyDescription {
    pub fn describe(
        issuer: &str,
        key: &PublicKey,
        valid_from: OffsetDateTime,
        valid_to: OffsetDateTime,
        demo: bool,
    ) -> KeyDescription {
        KeyDescription {
            issuer: issuer.to_owned(),
            kid: B64.encode(key.kid()),
            alg: key.algorithm().name().to_owned(),
            public_key: B64.encode(key.spki_der()),
            valid_from,
            valid_to,
            demo,
        }
    }

    /// Decodes the key and checks that kid and algorithm agree with it.
    pub fn public_key(&self) -> Result<PublicKey, TrustError> {
        let entry_err = |why: String| TrustError::Entry {
            issuer: self.issuer.clone(),
            why,
        };
        let der = B64
            .decode(&self.public_key)
            .map_err(|_| entry_err("public_key is not base64".into()))?;
        let key = PublicKey::from_spki_der(&der).map_err(|e| entry_err(e.to_string()))?;
        let alg: Algorithm = self
            .alg
            .parse()
            .map_err(|e: KeyError| entry_err(e.to_string()))?;
        if alg != key.algorithm() {
            return Err(entry_err(format!(
                "alg {} does not match the {} key",
                self.alg,
                key.algorithm()
            )));
        }
        if B64.encode(key.kid()) != self.kid {
            return Err(entry_err(format!(
                "kid {} does not match the key (expected {})",
                self.kid,
                B64.encode(key.kid())
            )));
        }
        if self.valid_to < self.valid_from {
            return Err(entry_err("valid_to precedes valid_from".into()));
        }
        if self.issuer.trim().is_empty() {
            return Err(entry_err("issuer is empty".into()));
        }
        Ok(key)
    }
}

/// A publisher's list of trusted issuer keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustList {
    pub kind: String,
    /// The publisher's id and its key (which signs this list).
    pub publisher: KeyDescription,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// Monotonic per publisher: an importer refuses a list whose sequence
    /// is lower than the one it holds (rollback). Lists from before the
    /// field existed read as 0.
    #[serde(default)]
    pub sequence: u64,
    /// When the publisher will have published a newer list; a list past
    /// it is stale (importers warn, and keep using it until refreshed).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub next_update: Option<OffsetDateTime>,
    pub entries: Vec<KeyDescription>,
}

impl TrustList {
    /// A list whose sequence is its issue time in Unix seconds (so a
    /// publisher's lists grow with its clock) and without a next update;
    /// see [`TrustList::with_sequence`] and [`TrustList::with_next_update`].
    pub fn new(
        publisher: KeyDescription,
        issued_at: OffsetDateTime,
        entries: Vec<KeyDescription>,
    ) -> TrustList {
        TrustList {
            kind: TRUST_LIST_KIND.to_owned(),
            publisher,
            issued_at,
            sequence: u64::try_from(issued_at.unix_timestamp()).unwrap_or(0),
            next_update: None,
            entries,
        }
    }

    pub fn with_sequence(mut self, sequence: u64) -> TrustList {
        self.sequence = sequence;
        self
    }

    pub fn with_next_update(mut self, next_update: OffsetDateTime) -> TrustList {
        self.next_update = Some(next_update);
        self
    }

    /// Past its next update at `now`.
    pub fn is_stale(&self, now: OffsetDateTime) -> bool {
        self.next_update.is_some_and(|n| now > n)
    }

    /// Signs the list with the publisher's key.
    pub fn sign(
        &self,
        publisher_key: &SigningKey,
        rng: &dyn SecureRandom,
    ) -> Result<SignedDocument, TrustError> {
        let publisher = self.publisher.public_key()?;
        if &publisher != publisher_key.public_key() {
            return Err(TrustError::Content {
                what: "trust list",
                why: "the signing key is not the publisher key named in the list".into(),
            });
        }
        for entry in &self.entries {
            entry.public_key()?;
        }
        let payload = serde_json::to_string_pretty(self).map_err(|e| TrustError::Content {
            what: "trust list",
            why: e.to_string(),
        })?;
        Ok(SignedDocument::sign(payload, publisher_key, rng)?)
    }

    /// Opens a signed trust list: checks the publisher's signature, the pin
    /// (SHA-256 fingerprint of the publisher key, hex) when given, and every
    /// entry.
    pub fn open(text: &str, pin: Option<&str>) -> Result<VerifiedTrustList, TrustError> {
        let opened = SignedDocument::from_json(text)?.open()?;
        let list: TrustList =
            serde_json::from_str(&opened.payload).map_err(|e| TrustError::Content {
                what: "trust list",
                why: e.to_string(),
            })?;
        if list.kind != TRUST_LIST_KIND {
            return Err(TrustError::Content {
                what: "trust list",
                why: format!("kind is {:?}, expected {TRUST_LIST_KIND:?}", list.kind),
            });
        }
        let publisher_key = list.publisher.public_key()?;
        opened.verify(&publisher_key)?;
        let fingerprint = publisher_key.fingerprint();
        if let Some(pin) = pin {
            let pin = pin.trim().to_ascii_lowercase().replace(':', "");
            if pin != fingerprint {
                return Err(TrustError::PinMismatch {
                    found: fingerprint,
                    pinned: pin,
                });
            }
        }
        let mut keys = Vec::with_capacity(list.entries.len());
        for entry in &list.entries {
            keys.push(entry.public_key()?);
        }
        Ok(VerifiedTrustList {
            list,
            publisher_key,
            keys,
        })
    }
}

/// A trust list whose signature and entries have been checked.
#[derive(Debug, Clone)]
pub struct VerifiedTrustList {
    pub list: TrustList,
    pub publisher_key: PublicKey,
    keys: Vec<PublicKey>,
}

impl VerifiedTrustList {
    pub fn publisher_fingerprint(&self) -> String {
        self.publisher_key.fingerprint()
    }

    /// Whether this list may replace `held`, the list of the same publisher
    /// an importer already has: `Ok(true)` for a newer list, `Ok(false)` for
    /// the same one again; a lower sequence is a rollback, the same
    /// sequence with other content a reused sequence, another publisher key
    /// a different publisher.
    pub fn may_replace(&self, held: &TrustList) -> Result<bool, TrustError> {
        if held.publisher.public_key != self.list.publisher.public_key {
            return Err(TrustError::PublisherChanged {
                held: held.publisher.issuer.clone(),
                offered: self.list.publisher.issuer.clone(),
            });
        }
        match self.list.sequence.cmp(&held.sequence) {
            std::cmp::Ordering::Less => Err(TrustError::Rollback {
                held: held.sequence,
                offered: self.list.sequence,
            }),
            std::cmp::Ordering::Equal if &self.list == held => Ok(false),
            std::cmp::Ordering::Equal => Err(TrustError::SequenceReused(held.sequence)),
            std::cmp::Ordering::Greater => Ok(true),
        }
    }
}

/// A list of revoked code ids, signed by a trusted key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationList {
    pub kind: String,
    pub issuer: String,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// Code ids (hex).
    pub revoked: Vec<String>,
}

impl RevocationList {
    pub fn new(issuer: &str, issued_at: OffsetDateTime, revoked: Vec<String>) -> RevocationList {
        RevocationList {
            kind: REVOCATION_LIST_KIND.to_owned(),
            issuer: issuer.to_owned(),
            issued_at,
            revoked,
        }
    }

    pub fn sign(
        &self,
        key: &SigningKey,
        rng: &dyn SecureRandom,
    ) -> Result<SignedDocument, TrustError> {
        self.code_ids()?;
        let payload = serde_json::to_string_pretty(self).map_err(|e| TrustError::Content {
            what: "revocation list",
            why: e.to_string(),
        })?;
        Ok(SignedDocument::sign(payload, key, rng)?)
    }

    fn code_ids(&self) -> Result<Vec<[u8; CODE_ID_LEN]>, TrustError> {
        self.revoked
            .iter()
            .map(|s| parse_code_id(s))
            .collect::<Result<_, _>>()
    }
}

/// Parses a code id written as hex.
pub fn parse_code_id(s: &str) -> Result<[u8; CODE_ID_LEN], TrustError> {
    let bad = || TrustError::Content {
        what: "code id",
        why: format!("{s:?} is not {} hex digits", CODE_ID_LEN * 2),
    };
    let bytes = hex::decode(s.trim()).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

/// What a trusted key may sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRole {
    /// One of our issuers' keys: signs health codes for `issuer`.
    HealthCode { issuer: String, demo: bool },
    /// An EU DCC document signer certificate.
    Dcc { usage: DccUsage, subject: String },
}

#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub public_key: PublicKey,
    /// Unix seconds; codes must be issued (and, for DCC, expire) inside.
    pub valid_from: i64,
    pub valid_to: i64,
    pub role: KeyRole,
}

/// Everything a checkpoint needs to verify codes offline.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    keys: HashMap<Box<[u8]>, Vec<TrustedKey>>,
    /// Keys allowed to sign revocation lists: trust-list publishers and
    /// issuer keys.
    signers: Vec<PublicKey>,
    revoked: HashSet<[u8; CODE_ID_LEN]>,
}

impl TrustStore {
    pub fn new() -> TrustStore {
        TrustStore::default()
    }

    pub fn add_key(&mut self, key: TrustedKey) {
        let kid: Box<[u8]> = Box::from(&key.public_key.kid()[..]);
        self.keys.entry(kid).or_default().push(key);
    }

    /// Adds every key of a verified trust list.
    pub fn add_trust_list(&mut self, list: &VerifiedTrustList) {
        self.signers.push(list.publisher_key.clone());
        for (entry, key) in list.list.entries.iter().zip(&list.keys) {
            self.signers.push(key.clone());
            self.add_key(TrustedKey {
                public_key: key.clone(),
                valid_from: entry.valid_from.unix_timestamp(),
                valid_to: entry.valid_to.unix_timestamp(),
                role: KeyRole::HealthCode {
                    issuer: entry.issuer.clone(),
                    demo: entry.demo,
                },
            });
        }
    }

    /// Adds an EU DCC document signer certificate, keyed by its DCC kid
    /// (the first 8 bytes of the SHA-256 of the certificate).
    pub fn add_dcc_certificate(&mut self, cert: &DscCertificate) {
        let key = TrustedKey {
            public_key: cert.public_key.clone(),
            valid_from: cert.not_before,
            valid_to: cert.not_after,
            role: KeyRole::Dcc {
                usage: cert.usage.clone(),
                subject: cert.subject.clone(),
            },
        };
        self.keys
            .entry(Box::from(&cert.kid[..]))
            .or_default()
            .push(key);
    }

    /// Verifies and loads a signed revocation list; returns how many ids it
    /// added.
    pub fn add_revocation_list(&mut self, text: &str) -> Result<usize, TrustError> {
        let opened = SignedDocument::from_json(text)?.open()?;
        let signer = self
            .signers
            .iter()
            .find(|k| k.kid()[..] == opened.kid[..] && k.algorithm() == opened.alg)
            .ok_or_else(|| TrustError::UntrustedSigner(B64.encode(&opened.kid)))?;
        opened.verify(signer)?;
        let list: RevocationList =
            serde_json::from_str(&opened.payload).map_err(|e| TrustError::Content {
                what: "revocation list",
                why: e.to_string(),
            })?;
        if list.kind != REVOCATION_LIST_KIND {
            return Err(TrustError::Content {
                what: "revocation list",
                why: format!("kind is {:?}, expected {REVOCATION_LIST_KIND:?}", list.kind),
            });
        }
        let ids = list.code_ids()?;
        let before = self.revoked.len();
        self.revoked.extend(ids);
        Ok(self.revoked.len() - before)
    }

    pub fn revoke(&mut self, code_id: [u8; CODE_ID_LEN]) {
        self.revoked.insert(code_id);
    }

    /// Every trusted key with this kid (kids are short and may collide).
    pub fn candidates(&self, kid: &[u8]) -> &[TrustedKey] {
        self.keys.get(kid).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn is_revoked(&self, code_id: &[u8; CODE_ID_LEN]) -> bool {
        self.revoked.contains(code_id)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn key_count(&self) -> usize {
        self.keys.values().map(Vec::len).sum()
    }
}
