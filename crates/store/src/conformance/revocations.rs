//! Conformance of [`RevocationStore`](crate::RevocationStore).

use time::macros::datetime;
use time::Duration;

use super::{assert_conflict, Must};
use crate::{Revocation, RevocationStore};

fn revocation(n: u8, minutes: i64) -> Revocation {
    Revocation {
        code_id: [n; 16],
        reason: format!("印刷码遗失 / printed code lost #{n}"),
        revoked_by: "off-1".into(),
        revoked_at: datetime!(2026-11-22 08:00 +08:00) + Duration::minutes(minutes),
    }
}

/// Revocations come back oldest first (then by code id), in UTC, and a code
/// is revoked only once.
pub async fn revocations_round_trip<S: RevocationStore>(backend: &str, store: S) {
    assert!(store.revocations().await.must(backend).is_empty());
    let (late, early, same_time) = (revocation(9, 10), revocation(7, 0), revocation(3, 10));
    for r in [&late, &early, &same_time] {
        store.revoke_code(r).await.must(backend);
    }
    let got = store.revocations().await.must(backend);
    let ids: Vec<u8> = got.iter().map(|r| r.code_id[0]).collect();
    assert_eq!(ids, [7, 3, 9], "[{backend}] order");
    assert_eq!(got[0], early, "[{backend}] round trip");
    assert_eq!(got[0].revoked_at.offset(), time::UtcOffset::UTC);
    let mut again = revocation(9, 20);
    again.reason = "again".into();
    assert_conflict(
        backend,
        "second revocation",
        store.revoke_code(&again).await,
    );
    assert_eq!(store.revocations().await.must(backend).len(), 3);
}
