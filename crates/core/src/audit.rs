//! The audit chain: an append-only log in which every entry commits to the
//! one before it, so any edit, deletion or reordering is detectable.
//!
//! An entry's hash is SHA-256 over a canonical encoding: a domain tag, the
//! sequence number (8 bytes, big-endian), the previous entry's hash (32
//! bytes), the time (Unix nanoseconds as 16 bytes and the UTC offset in
//! seconds as 4 bytes, big-endian), then actor, action, subject and details,
//! each as an 8-byte big-endian length followed by its UTF-8 bytes. Fixed
//! widths and length prefixes make the encoding unambiguous: no two
//! different entries encode to the same bytes.

use std::fmt;

use hex::FromHex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use crate::facts::{Event, Source};

const DOMAIN_TAG: &[u8] = b"healthcode/audit/v1\0";

/// A SHA-256 hash, shown and serialised as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The "previous hash" of the first entry.
    pub const GENESIS: Digest = Digest([0; 32]);

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<Digest> {
        <[u8; 32]>::from_hex(text).ok().map(Digest)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let text = String::deserialize(d)?;
        Digest::from_hex(&text).ok_or_else(|| {
            serde::de::Error::custom("expected 64 hex digits / 应为 64 位十六进制数")
        })
    }
}

/// What happened, by whom, about whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who acted: an official's id, a source such as a lab, or `self`.
    pub actor: String,
    /// What was done, e.g. `event.recorded`, `override.approved`, `code.issued`.
    pub action: String,
    /// Whose record it concerns (a pseudonymous person id), so a citizen can read their own entries.
    pub subject: String,
    /// Details as JSON text.
    pub details: String,
}

impl AuditRecord {
    /// The record of an event being entered for `subject` at `recorded_at`.
    pub fn event_recorded(
        subject: &str,
        recorded_at: OffsetDateTime,
        event: &Event,
    ) -> AuditRecord {
        let actor = match event.source() {
            Source::SelfDeclared => "self".to_owned(),
            Source::Checkpoint { site } => format!("checkpoint:{site}"),
            Source::Laboratory { lab } => format!("lab:{lab}"),
            Source::Clinic { facility } => format!("clinic:{facility}"),
            Source::HealthAuthority { official } => format!("official:{official}"),
            Source::Carrier { carrier } => format!("carrier:{carrier}"),
        };
        AuditRecord {
            at: recorded_at,
            actor,
            action: "event.recorded".to_owned(),
            subject: subject.to_owned(),
            details: serde_json::to_string(event).unwrap_or_default(),
        }
    }
}

/// A sealed entry of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub prev: Digest,
    #[serde(flatten)]
    pub record: AuditRecord,
    pub hash: Digest,
}

impl AuditEntry {
    /// Seals `record` as the entry after `previous` (or as the first entry).
    pub fn seal(previous: Option<&AuditEntry>, record: AuditRecord) -> AuditEntry {
        let (seq, prev) = match previous {
            Some(p) => (p.seq.saturating_add(1), p.hash),
            None => (0, Digest::GENESIS),
        };
        let hash = entry_hash(seq, &prev, &record);
        AuditEntry {
            seq,
            prev,
            record,
            hash,
        }
    }

    /// Recomputes the hash from the entry's content.
    pub fn computed_hash(&self) -> Digest {
        entry_hash(self.seq, &self.prev, &self.record)
    }
}

fn entry_hash(seq: u64, prev: &Digest, record: &AuditRecord) -> Digest {
    let mut h = Sha256::new();
    h.update(DOMAIN_TAG);
    h.update(seq.to_be_bytes());
    h.update(prev.0);
    h.update(record.at.unix_timestamp_nanos().to_be_bytes());
    h.update(record.at.offset().whole_seconds().to_be_bytes());
    for field in [
        &record.actor,
        &record.action,
        &record.subject,
        &record.details,
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    Digest(h.finalize().into())
}

/// An in-memory, append-only audit log. Stores persist the entries it seals
/// and check them with [`ChainVerifier`].
#[derive(Debug, Clone, Default)]
pub struct AuditLog {
    entries: Vec<AuditEntry>,
}

impl AuditLog {
    pub fn new() -> AuditLog {
        AuditLog::default()
    }

    /// Appends a record, sealing it onto the chain; returns the new entry.
    pub fn append(&mut self, record: AuditRecord) -> &AuditEntry {
        let entry = AuditEntry::seal(self.entries.last(), record);
        self.entries.push(entry);
        // Just pushed, so `last` is the new entry.
        &self.entries[self.entries.len() - 1]
    }

    pub fn entries(&self) -> &[AuditEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The hash of the last entry (genesis when empty): publish it to anchor the log.
    pub fn head(&self) -> Digest {
        self.entries.last().map_or(Digest::GENESIS, |e| e.hash)
    }

    /// The entries about one subject, for a citizen reading their own trail.
    pub fn entries_about<'a>(
        &'a self,
        subject: &'a str,
    ) -> impl Iterator<Item = &'a AuditEntry> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.record.subject == subject)
    }
}

/// The first place a chain stops being intact. `position` counts entries as
/// given to the verifier, from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("entry #{seq} at position {position} was altered: its content does not match its hash / 位置 {position} 的第 {seq} 条记录被篡改：内容与哈希不符")]
    Altered { position: usize, seq: u64 },
    #[error("expected entry #{expected_seq} at position {position} but found #{found_seq}: entries #{expected_seq} to #{} were removed or moved / 位置 {position} 应为第 {expected_seq} 条记录，实际为第 {found_seq} 条：第 {expected_seq} 至 {} 条被删除或移动", .found_seq - 1, .found_seq - 1)]
    Missing {
        position: usize,
        expected_seq: u64,
        found_seq: u64,
    },
    #[error("expected entry #{expected_seq} at position {position} but found #{found_seq} again or out of order: entries were reordered or duplicated / 位置 {position} 应为第 {expected_seq} 条记录，却出现第 {found_seq} 条：记录被重排或重复")]
    OutOfOrder {
        position: usize,
        expected_seq: u64,
        found_seq: u64,
    },
    #[error("entry #{seq} at position {position} does not follow the entry before it: that entry was altered and re-hashed, or replaced / 位置 {position} 的第 {seq} 条记录与前一条不衔接：前一条被篡改后重算哈希，或被替换")]
    BrokenLink { position: usize, seq: u64 },
    #[error("the chain ends at {found} but the trusted head is {expected}: entries were removed from the end or the chain was rewritten / 链尾哈希为 {found}，可信链头为 {expected}：末尾记录被删除或整条链被重写")]
    HeadMismatch { expected: Digest, found: Digest },
}

/// What an intact chain amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChainSummary {
    pub entries: u64,
    pub head: Digest,
}

/// Checks entries one at a time, so a store can stream millions of them.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_seq: u64,
    prev: Digest,
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier::new()
    }
}

impl ChainVerifier {
    /// Verifies from the first entry.
    pub fn new() -> ChainVerifier {
        ChainVerifier {
            expected_seq: 0,
            prev: Digest::GENESIS,
            checked: 0,
        }
    }

    /// Verifies entries that follow a trusted entry (a published checkpoint).
    pub fn after(seq: u64, hash: Digest) -> ChainVerifier {
        ChainVerifier {
            expected_seq: seq.saturating_add(1),
            prev: hash,
            checked: 0,
        }
    }

    /// Checks the next entry.
    pub fn check(&mut self, entry: &AuditEntry) -> Result<(), ChainBreak> {
        let position = usize::try_from(self.checked).unwrap_or(usize::MAX);
        if entry.computed_hash() != entry.hash {
            return Err(ChainBreak::Altered {
                position,
                seq: entry.seq,
            });
        }
        if entry.seq > self.expected_seq {
            return Err(ChainBreak::Missing {
                position,
                expected_seq: self.expected_seq,
                found_seq: entry.seq,
            });
        }
        if entry.seq < self.expected_seq {
            return Err(ChainBreak::OutOfOrder {
                position,
                expected_seq: self.expected_seq,
                found_seq: entry.seq,
            });
        }
        if entry.prev != self.prev {
            return Err(ChainBreak::BrokenLink {
                position,
                seq: entry.seq,
            });
        }
        self.prev = entry.hash;
        self.expected_seq = entry.seq.saturating_add(1);
        self.checked += 1;
        Ok(())
    }

    /// Ends verification; with a trusted head, also detects entries removed
    /// from the end.
    pub fn finish(self, trusted_head: Option<Digest>) -> Result<ChainSummary, ChainBreak> {
        if let Some(expected) = trusted_head {
            if expected != self.prev {
                return Err(ChainBreak::HeadMismatch {
                    expected,
                    found: self.prev,
                });
            }
        }
        Ok(ChainSummary {
            entries: self.checked,
            head: self.prev,
        })
    }
}

/// Verifies a whole chain from its first entry.
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = &'a AuditEntry>,
    trusted_head: Option<Digest>,
) -> Result<ChainSummary, ChainBreak> {
    let mut verifier = ChainVerifier::new();
    for entry in entries {
        verifier.check(entry)?;
    }
    verifier.finish(trusted_head)
}
