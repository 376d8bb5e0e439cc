//! Deletion statements: what a service shutdown deleted, how many records,
//! when, under which decision, what was kept — signed by the deployment's
//! publisher key as a [`SignedDocument`], so anyone can check it offline
//! against the publisher fingerprint they pinned for the trust list.
//!
//! ```text
//! healthcode service verify-statement statement.json --pin <fingerprint>
//! ```

use healthcode_core::Bilingual;
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::document::SignedDocument;
use crate::keys::SigningKey;
use crate::trust::{KeyDescription, TrustError};

pub const DELETION_STATEMENT_KIND: &str = "healthcode-deletion-statement";

/// One category of deleted records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedRecords {
    /// Stable, snake_case: `people`, `events`, `one_time_codes`...
    pub category: String,
    pub records: u64,
}

/// A storage step taken so that deleted bytes leave the database files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageStepTaken {
    pub step: String,
    pub done: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The audit chain as it stood after the shutdown's own entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditAnchor {
    pub entries: u64,
    /// Hex SHA-256 of the last entry.
    pub head: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletionStatement {
    pub kind: String,
    /// Unique within the deployment, e.g. `health-code-20230216T030000Z`.
    pub id: String,
    /// The publisher and its key (which signs this statement).
    pub publisher: KeyDescription,
    /// The deployment's region id.
    pub region: String,
    /// `health-code`, `itinerary` or `checkins`.
    pub service: String,
    /// The decision's id and text, as the operator gave it.
    pub decision: String,
    /// Every route of the service answers 410 Gone from this instant.
    #[serde(with = "time::serde::rfc3339")]
    pub offline_at: OffsetDateTime,
    /// When the personal data was deleted.
    #[serde(with = "time::serde::rfc3339")]
    pub deleted_at: OffsetDateTime,
    pub deleted: Vec<DeletedRecords>,
    /// What the decision let stay (`code-face`), each explained.
    pub kept: Vec<Bilingual>,
    pub storage: Vec<StorageStepTaken>,
    pub audit: Option<AuditAnchor>,
    /// What the software cannot reach and the operator must see to.
    pub not_reached: Vec<Bilingual>,
    /// Signed with a DEMO key: a demonstration, not a real statement.
    pub demo: bool,
}

/// A statement whose signature and publisher pin have been checked.
#[derive(Debug, Clone)]
pub struct VerifiedDeletionStatement {
    pub statement: DeletionStatement,
    pub publisher_fingerprint: String,
}

impl DeletionStatement {
    /// Signs the statement with the publisher's key (which must be the one
    /// it names).
    pub fn sign(
        &self,
        publisher_key: &SigningKey,
        rng: &dyn SecureRandom,
    ) -> Result<SignedDocument, TrustError> {
        let named = self.publisher.public_key()?;
        if &named != publisher_key.public_key() {
            return Err(TrustError::Content {
                what: "deletion statement",
                why: "the signing key is not the publisher key named in the statement".into(),
            });
        }
        let payload = serde_json::to_string_pretty(self).map_err(|e| TrustError::Content {
            what: "deletion statement",
            why: e.to_string(),
        })?;
        Ok(SignedDocument::sign(payload, publisher_key, rng)?)
    }

    /// Opens a signed statement: checks the publisher's signature and, when
    /// given, the pin (SHA-256 fingerprint of the publisher key, hex).
    pub fn open(text: &str, pin: Option<&str>) -> Result<VerifiedDeletionStatement, TrustError> {
        let opened = SignedDocument::from_json(text)?.open()?;
        let statement: DeletionStatement =
            serde_json::from_str(&opened.payload).map_err(|e| TrustError::Content {
                what: "deletion statement",
                why: e.to_string(),
            })?;
        if statement.kind != DELETION_STATEMENT_KIND {
            return Err(TrustError::Content {
                what: "deletion statement",
                why: format!(
                    "kind is {:?}, expected {DELETION_STATEMENT_KIND:?}",
                    statement.kind
                ),
            });
        }
        let key = statement.publisher.public_key()?;
        opened.verify(&key)?;
        let fingerprint = key.fingerprint();
        if let Some(pin) = pin {
            let pin = pin.trim().to_ascii_lowercase().replace(':', "");
            if pin != fingerprint {
                return Err(TrustError::PinMismatch {
                    found: fingerprint,
                    pinned: pin,
                });
            }
        }
        Ok(VerifiedDeletionStatement {
            statement,
            publisher_fingerprint: fingerprint,
        })
    }

    /// Records deleted in all categories.
    pub fn total_records(&self) -> u64 {
        self.deleted
            .iter()
            .fold(0u64, |sum, d| sum.saturating_add(d.records))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::keys::Algorithm;
    use crate::IssuerKey;
    use ring::rand::SystemRandom;
    use time::macros::datetime;

    fn statement(publisher: &IssuerKey) -> DeletionStatement {
        DeletionStatement {
            kind: DELETION_STATEMENT_KIND.into(),
            id: "itinerary-20221213T000000Z".into(),
            publisher: publisher.description(),
            region: "cn".into(),
            service: "itinerary".into(),
            decision: "国务院联防联控机制综合组 2022-12-11".into(),
            offline_at: datetime!(2022-12-13 00:00 +08:00),
            deleted_at: datetime!(2022-12-13 00:00:05 +08:00),
            deleted: vec![DeletedRecords {
                category: "carrier_stays".into(),
                records: 42,
            }],
            kept: vec![],
            storage: vec![StorageStepTaken {
                step: "VACUUM".into(),
                done: true,
                note: None,
            }],
            audit: None,
            not_reached: vec![Bilingual::new("备份", "backups")],
            demo: true,
        }
    }

    #[test]
    fn sign_open_pin_and_tamper() {
        let rng = SystemRandom::new();
        let t = datetime!(2022-01-01 0:00 UTC);
        let key = IssuerKey::generate(
            "DEMO-PUBLISHER",
            Algorithm::EdDsa,
            t,
            t + time::Duration::days(3650),
            true,
            &rng,
        )
        .unwrap();
        let other = SigningKey::generate(Algorithm::EdDsa, &rng).unwrap();
        let s = statement(&key);
        assert!(
            s.sign(&other, &rng).is_err(),
            "only the named publisher signs"
        );
        let text = s.sign(&key.signing_key, &rng).unwrap().to_json();
        let fp = key.signing_key.public_key().fingerprint();
        let v = DeletionStatement::open(&text, Some(&fp)).unwrap();
        assert_eq!(v.statement, s);
        assert_eq!(v.statement.total_records(), 42);
        assert!(matches!(
            DeletionStatement::open(&text, Some(&"0".repeat(64))),
            Err(TrustError::PinMismatch { .. })
        ));
        let tampered = text.replace("42", "41");
        assert_ne!(tampered, text);
        assert!(DeletionStatement::open(&tampered, Some(&fp)).is_err());
        assert!(DeletionStatement::open("{}", None).is_err());
    }
}
