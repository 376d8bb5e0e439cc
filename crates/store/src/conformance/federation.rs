//! Conformance of channels and imported trust lists.

use healthcode_core::regions::ChannelKind;
use time::macros::datetime;

use super::Must;
use crate::{Channel, ImportedTrustList, Store, StoreError};

fn channel(id: &str, kind: ChannelKind) -> Channel {
    Channel {
        client_id: id.to_owned(),
        name: format!("{id} 小程序"),
        kind,
        secret_hash: [id.len() as u8; 32],
        created_at: datetime!(2026-11-22 16:00:00.123456789 +08:00),
        created_by: "official:admin".to_owned(),
        disabled_at: None,
    }
}

/// Channels round-trip exactly, list in client-id order, refuse a second
/// registration of an id, and are disabled once (the first time stays).
pub async fn channels_lifecycle<S: Store>(backend: &str, store: S) {
    assert_eq!(store.channels().await.must(backend), vec![]);
    let a = channel("wx-mini", ChannelKind::Wechat);
    let b = channel("alipay-mini", ChannelKind::Alipay);
    store.create_channel(&a).await.must(backend);
    store.create_channel(&b).await.must(backend);
    let again = channel("wx-mini", ChannelKind::Unionpay);
    assert!(
        matches!(
            store.create_channel(&again).await,
            Err(StoreError::Conflict(_))
        ),
        "[{backend}] a taken client id"
    );
    let got = store.channel("wx-mini").await.must(backend).unwrap();
    assert_eq!(got.created_at, a.created_at, "[{backend}] exact instant");
    assert_eq!(
        got.created_at.offset(),
        time::UtcOffset::UTC,
        "[{backend}] back in UTC"
    );
    assert_eq!(
        got.kind,
        ChannelKind::Wechat,
        "[{backend}] the first registration stays"
    );
    assert_eq!(got.secret_hash, a.secret_hash);
    assert_eq!(store.channel("nobody").await.must(backend), None);
    let ids: Vec<_> = store
        .channels()
        .await
        .must(backend)
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(
        ids,
        ["alipay-mini", "wx-mini"],
        "[{backend}] client-id order"
    );

    let t1 = datetime!(2026-11-23 9:00 UTC);
    assert!(store.disable_channel("wx-mini", t1).await.must(backend));
    assert!(
        !store
            .disable_channel("wx-mini", t1 + time::Duration::hours(1))
            .await
            .must(backend),
        "[{backend}] disabling twice"
    );
    assert_eq!(
        store
            .channel("wx-mini")
            .await
            .must(backend)
            .unwrap()
            .disabled_at,
        Some(t1),
        "[{backend}] the first disabling time stays"
    );
    assert!(
        matches!(
            store.disable_channel("nobody", t1).await,
            Err(StoreError::NotFound(_))
        ),
        "[{backend}] disabling an unknown channel"
    );
    assert_eq!(
        store
            .channel("alipay-mini")
            .await
            .must(backend)
            .unwrap()
            .disabled_at,
        None
    );
}

fn import(fingerprint: &str, sequence: u64, text: &str) -> ImportedTrustList {
    ImportedTrustList {
        fingerprint: fingerprint.to_owned(),
        publisher: "cn-34-publisher".to_owned(),
        source: "https://cn-34.example/.well-known/healthcode/trust-list.json".to_owned(),
        text: text.to_owned(),
        sequence,
        imported_at: datetime!(2026-11-22 8:00 UTC),
        checked_at: datetime!(2026-11-22 8:00 UTC),
        last_error: None,
    }
}

/// Imported lists: upsert per fingerprint, a lower sequence refused
/// (rollback) leaving the stored list alone, refresh notes, deletion.
pub async fn trust_imports_refuse_rollback<S: Store>(backend: &str, store: S) {
    let fp = "ab".repeat(32);
    store
        .put_trust_import(&import(&fp, 5, "list five"))
        .await
        .must(backend);
    store
        .put_trust_import(&import(&"cd".repeat(32), 1, "other"))
        .await
        .must(backend);
    store
        .put_trust_import(&import(&fp, 5, "list five"))
        .await
        .must(backend);
    store
        .put_trust_import(&import(&fp, 7, "list seven"))
        .await
        .must(backend);
    assert!(
        matches!(
            store.put_trust_import(&import(&fp, 6, "list six")).await,
            Err(StoreError::Conflict(_))
        ),
        "[{backend}] a rollback to sequence 6 after 7"
    );
    let all = store.trust_imports().await.must(backend);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].fingerprint, fp, "[{backend}] fingerprint order");
    assert_eq!((all[0].sequence, all[0].text.as_str()), (7, "list seven"));

    let later = datetime!(2026-11-22 9:00 UTC);
    store
        .note_trust_check(&fp, later, Some("connection refused"))
        .await
        .must(backend);
    let got = store.trust_imports().await.must(backend).remove(0);
    assert_eq!(got.checked_at, later);
    assert_eq!(got.last_error.as_deref(), Some("connection refused"));
    assert_eq!(got.imported_at, datetime!(2026-11-22 8:00 UTC));
    store.note_trust_check(&fp, later, None).await.must(backend);
    assert_eq!(
        store.trust_imports().await.must(backend)[0].last_error,
        None
    );
    assert!(matches!(
        store.note_trust_check("ef", later, None).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.delete_trust_import(&fp).await.must(backend));
    assert!(!store.delete_trust_import(&fp).await.must(backend));
    assert_eq!(store.trust_imports().await.must(backend).len(), 1);
}
