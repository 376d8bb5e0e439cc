//! Audit-chain verification of 1,000,000 entries.
//!
//! Run with `cargo bench -p healthcode-core --bench audit`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use divan::{black_box, Bencher};
use healthcode_core::audit::{verify_chain, AuditRecord};
use healthcode_core::AuditLog;
use sha2::{Digest, Sha256};
use time::Duration;

const ENTRIES: usize = 1_000_000;

fn main() {
    divan::main();
}

/// Realistic entries: an official recording an event about a person.
fn million_entry_log() -> AuditLog {
    let start = time::macros::datetime!(2022-04-01 08:00 +08:00);
    let mut log = AuditLog::new();
    for i in 0..ENTRIES {
        log.append(AuditRecord {
            at: start + Duration::milliseconds(i as i64 * 250),
            actor: format!("official:officer-{}", i % 97),
            action: "event.recorded".into(),
            subject: format!("p-{:08x}", i.wrapping_mul(2_654_435_761) % 5_000_000),
            details: format!(
                r#"{{"id":"e{i}","kind":"temperature","reading":36.{}}}"#,
                i % 10
            ),
        });
    }
    log
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn verify_1m_entries(bencher: Bencher) {
    let log = million_entry_log();
    let head = log.head();
    bencher.bench_local(|| verify_chain(black_box(log.entries()), Some(head)).unwrap());
}

/// Baseline: SHA-256 over the same fields with no chaining or checks: the
/// floor that verification cannot go below.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn baseline_sha256_1m_records(bencher: Bencher) {
    let log = million_entry_log();
    bencher.bench_local(|| {
        let mut last = [0u8; 32];
        for entry in log.entries() {
            let r = &entry.record;
            let mut h = Sha256::new();
            h.update(entry.seq.to_be_bytes());
            h.update(entry.prev.0);
            h.update(r.at.unix_timestamp_nanos().to_be_bytes());
            for field in [&r.actor, &r.action, &r.subject, &r.details] {
                h.update(field.as_bytes());
            }
            last = h.finalize().into();
        }
        black_box(last)
    });
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn append_10k_entries(bencher: Bencher) {
    let start = time::macros::datetime!(2022-04-01 08:00 +08:00);
    bencher.bench_local(|| {
        let mut log = AuditLog::new();
        for i in 0..10_000 {
            log.append(AuditRecord {
                at: start + Duration::seconds(i),
                actor: "official:officer-1".into(),
                action: "event.recorded".into(),
                subject: "p-00000001".into(),
                details: "{}".into(),
            });
        }
        log.head()
    });
}
