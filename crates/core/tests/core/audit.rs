//! The audit chain: appends, and pinpointing tampering.

use healthcode_core::audit::{verify_chain, AuditRecord, ChainBreak, ChainVerifier, Digest};
use healthcode_core::AuditLog;

use crate::support::{t, temperature};

fn record(i: usize) -> AuditRecord {
    AuditRecord {
        at: t("2022-04-01T08:00:00+08:00") + time::Duration::seconds(i as i64),
        actor: format!("official:officer-{}", i % 3),
        action: "event.recorded".into(),
        subject: format!("person-{}", i % 5),
        details: format!("{{\"n\":{i}}}"),
    }
}

fn log_of(n: usize) -> AuditLog {
    let mut log = AuditLog::new();
    for i in 0..n {
        log.append(record(i));
    }
    log
}

#[test]
fn an_untouched_chain_verifies() {
    let log = log_of(50);
    let summary = verify_chain(log.entries(), Some(log.head())).unwrap();
    assert_eq!(summary.entries, 50);
    assert_eq!(summary.head, log.head());
    assert_eq!(log.entries()[0].prev, Digest::GENESIS);
    assert_eq!(log.entries()[1].prev, log.entries()[0].hash);
    assert_eq!(log.entries_about("person-2").count(), 10);
    assert_eq!(verify_chain([], Some(Digest::GENESIS)).unwrap().entries, 0);
    // Entries survive a JSON round trip (as a store would keep them).
    let json = serde_json::to_string(log.entries()).unwrap();
    let back: Vec<healthcode_core::AuditEntry> = serde_json::from_str(&json).unwrap();
    assert!(verify_chain(&back, Some(log.head())).is_ok());
}

#[test]
fn an_altered_entry_is_pinpointed() {
    let log = log_of(20);
    let mut entries = log.entries().to_vec();
    entries[7].record.details = "{\"n\":700}".into();
    assert_eq!(
        verify_chain(&entries, None),
        Err(ChainBreak::Altered {
            position: 7,
            seq: 7
        })
    );
    // Changing only the time zone, not the instant, is still an alteration.
    let mut entries = log.entries().to_vec();
    entries[3].record.at = entries[3].record.at.to_offset(time::UtcOffset::UTC);
    assert_eq!(
        verify_chain(&entries, None),
        Err(ChainBreak::Altered {
            position: 3,
            seq: 3
        })
    );
    // Re-hashing the altered entry moves the break to the link that follows it.
    let mut entries = log.entries().to_vec();
    entries[7].record.actor = "official:someone-else".into();
    entries[7].hash = entries[7].computed_hash();
    assert_eq!(
        verify_chain(&entries, None),
        Err(ChainBreak::BrokenLink {
            position: 8,
            seq: 8
        })
    );
    // Moving bytes between fields changes the hash (length prefixes).
    let mut entries = log.entries().to_vec();
    entries[2].record.actor.push('x');
    entries[2].record.action = entries[2].record.action[1..].to_owned();
    assert_eq!(
        verify_chain(&entries, None),
        Err(ChainBreak::Altered {
            position: 2,
            seq: 2
        })
    );
}

#[test]
fn removed_reordered_and_truncated_entries_are_pinpointed() {
    let log = log_of(20);
    let mut removed = log.entries().to_vec();
    removed.remove(5);
    let err = verify_chain(&removed, None).unwrap_err();
    assert_eq!(
        err,
        ChainBreak::Missing {
            position: 5,
            expected_seq: 5,
            found_seq: 6
        }
    );
    assert!(
        err.to_string().contains("#5 to #5") && err.to_string().contains("被删除"),
        "{err}"
    );

    let mut swapped = log.entries().to_vec();
    swapped.swap(10, 11);
    assert_eq!(
        verify_chain(&swapped, None),
        Err(ChainBreak::Missing {
            position: 10,
            expected_seq: 10,
            found_seq: 11
        })
    );
    let mut duplicated = log.entries().to_vec();
    duplicated.insert(4, duplicated[3].clone());
    assert_eq!(
        verify_chain(&duplicated, None),
        Err(ChainBreak::OutOfOrder {
            position: 4,
            expected_seq: 4,
            found_seq: 3
        })
    );
    let mut truncated = log.entries().to_vec();
    truncated.truncate(15);
    assert!(verify_chain(&truncated, None).is_ok());
    assert!(matches!(
        verify_chain(&truncated, Some(log.head())),
        Err(ChainBreak::HeadMismatch { .. })
    ));
    // A renumbered, fully re-hashed suffix after a deletion breaks the link.
    let mut rewritten = log.entries().to_vec();
    rewritten.remove(5);
    for e in &mut rewritten[5..] {
        e.seq -= 1;
        e.hash = e.computed_hash();
    }
    assert_eq!(
        verify_chain(&rewritten, None),
        Err(ChainBreak::BrokenLink {
            position: 5,
            seq: 5
        })
    );
}

#[test]
fn verification_resumes_from_a_trusted_checkpoint() {
    let log = log_of(30);
    let checkpoint = &log.entries()[9];
    let mut verifier = ChainVerifier::after(checkpoint.seq, checkpoint.hash);
    for entry in &log.entries()[10..] {
        verifier.check(entry).unwrap();
    }
    assert_eq!(verifier.finish(Some(log.head())).unwrap().entries, 20);
}

#[test]
fn recorded_events_are_logged_with_their_source() {
    let mut log = AuditLog::new();
    let event = temperature("temp-1", "2022-04-01T08:00:00+08:00", 37.9);
    let entry = log.append(AuditRecord::event_recorded(
        "person-1",
        t("2022-04-01T08:00:05+08:00"),
        &event,
    ));
    assert_eq!(entry.record.actor, "checkpoint:Changchun Railway Station");
    assert!(entry.record.details.contains("\"temp-1\"") && entry.record.details.contains("37.9"));
    let parsed: healthcode_core::Event = serde_json::from_str(&entry.record.details).unwrap();
    assert_eq!(parsed, event);
}
