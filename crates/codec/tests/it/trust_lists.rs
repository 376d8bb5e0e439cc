//! Trust lists over time: sequence numbers against rollback, staleness, and
//! key rotation with overlap (docs/federation.md has the timeline).

use healthcode_codec::claims::CODE_ID_LEN;
use healthcode_codec::trust::{TrustError, TrustList, TRUST_LIST_KIND};
use healthcode_codec::verify::Reason;
use healthcode_codec::{
    CodeIssuer, CodeRequest, IssuerKey, SigningKey, TrustStore, Verifier, VerifyOptions,
};
use healthcode_core::{CodeKind, Colour};
use ring::rand::SystemRandom;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-11-22 08:00 UTC);

fn key(issuer: &str, seed: u8, from: OffsetDateTime, to: OffsetDateTime) -> IssuerKey {
    IssuerKey {
        issuer: issuer.into(),
        signing_key: SigningKey::ed25519_from_seed(&[seed; 32]).unwrap(),
        valid_from: from,
        valid_to: to,
        demo: false,
    }
}

fn publisher() -> IssuerKey {
    key(
        "cn-34-publisher",
        90,
        T0 - Duration::days(400),
        T0 + Duration::days(400),
    )
}

fn signed(list: TrustList) -> String {
    list.sign(&publisher().signing_key, &SystemRandom::new())
        .unwrap()
        .to_json()
}

fn verifier(text: &str) -> Verifier {
    let pin = publisher().signing_key.public_key().fingerprint();
    let mut store = TrustStore::new();
    store.add_trust_list(&TrustList::open(text, Some(&pin)).unwrap());
    Verifier::with_options(store, VerifyOptions::default())
}

fn code(issuer: &mut CodeIssuer, at: OffsetDateTime, ttl: i64) -> String {
    let request = CodeRequest {
        colour: Colour::Green,
        full_name: "王五".into(),
        document_id: "340102199003071236".into(),
        kind: CodeKind::Resident,
        ttl_seconds: ttl,
        status_as_of: at.unix_timestamp(),
    };
    issuer
        .issue(
            &request,
            at.unix_timestamp(),
            [3; CODE_ID_LEN],
            &SystemRandom::new(),
        )
        .unwrap()
        .text
}

#[test]
fn sequence_refuses_rollback_and_reuse() {
    let p = publisher();
    let k1 = key("cn-34", 1, T0, T0 + Duration::days(30));
    let k2 = key("cn-34", 2, T0, T0 + Duration::days(30));
    let v5 = TrustList::new(p.description(), T0, vec![k1.description()]).with_sequence(5);
    let v6 = TrustList::new(p.description(), T0, vec![k2.description()]).with_sequence(6);
    let open = |l: &TrustList| TrustList::open(&signed(l.clone()), None).unwrap();
    assert!(open(&v6).may_replace(&v5).unwrap(), "newer replaces");
    assert!(
        !open(&v5).may_replace(&v5).unwrap(),
        "same again is no change"
    );
    assert!(matches!(
        open(&v5).may_replace(&v6),
        Err(TrustError::Rollback {
            held: 6,
            offered: 5
        })
    ));
    let reused = TrustList::new(p.description(), T0, vec![k2.description()]).with_sequence(5);
    assert!(matches!(
        open(&reused).may_replace(&v5),
        Err(TrustError::SequenceReused(5))
    ));
    let other = key("cn-34-publisher", 91, T0, T0 + Duration::days(9));
    let by_other = TrustList::new(other.description(), T0, vec![]).with_sequence(9);
    let text = by_other
        .sign(&other.signing_key, &SystemRandom::new())
        .unwrap()
        .to_json();
    assert!(matches!(
        TrustList::open(&text, None).unwrap().may_replace(&v5),
        Err(TrustError::PublisherChanged { .. })
    ));
    let err = open(&v5).may_replace(&v6).unwrap_err().to_string();
    assert!(
        err.contains("rollback") && err.contains('5') && err.contains('6'),
        "{err}"
    );
}

#[test]
fn next_update_makes_a_list_stale_and_old_lists_still_parse() {
    let p = publisher();
    let list = TrustList::new(p.description(), T0, vec![]).with_next_update(T0 + Duration::days(1));
    let opened = TrustList::open(&signed(list), None).unwrap();
    assert!(!opened.list.is_stale(T0 + Duration::hours(23)));
    assert!(opened.list.is_stale(T0 + Duration::hours(25)));
    assert_eq!(
        opened.list.sequence,
        T0.unix_timestamp() as u64,
        "sequence defaults to the issue time"
    );

    // A list signed before sequence and next_update existed: sequence 0, never stale.
    let old_payload = serde_json::json!({
        "kind": TRUST_LIST_KIND,
        "publisher": p.description(),
        "issued_at": "2026-01-01T00:00:00Z",
        "entries": [],
    })
    .to_string();
    let doc = healthcode_codec::document::SignedDocument::sign(
        old_payload,
        &p.signing_key,
        &SystemRandom::new(),
    )
    .unwrap()
    .to_json();
    let old = TrustList::open(&doc, None).unwrap();
    assert_eq!(old.list.sequence, 0);
    assert_eq!(old.list.next_update, None);
    assert!(!old.list.is_stale(T0));
}

/// The rotation timeline of docs/federation.md: the new key is published
/// before it signs; the old one stops issuing at its valid_to and stays in
/// the list until its last code has expired; then it is dropped.
#[test]
fn key_rotation_with_overlap() {
    let p = publisher();
    let ttl = 300;
    let switch = T0 + Duration::days(10);
    let old = key("cn-34", 1, T0 - Duration::days(100), switch);
    let new = key(
        "cn-34",
        2,
        switch - Duration::days(7),
        switch + Duration::days(365),
    );
    // Step 1: both keys published a week before the switch.
    let both = signed(
        TrustList::new(
            p.description(),
            switch - Duration::days(7),
            vec![old.description(), new.description()],
        )
        .with_sequence(2),
    );
    let mut old_issuer = CodeIssuer::new(old);
    let mut new_issuer = CodeIssuer::new(new);
    let last_old = code(&mut old_issuer, switch - Duration::seconds(10), ttl);
    let first_new = code(&mut new_issuer, switch, ttl);
    let mut v = verifier(&both);
    let at = switch.unix_timestamp();
    assert!(
        v.verify(&last_old, at).is_ok(),
        "the old key's last code passes until its expiry"
    );
    assert!(v.verify(&first_new, at).is_ok());
    assert_eq!(
        v.verify(&last_old, at + ttl).unwrap_err().reason,
        Reason::Expired,
        "and fails after it"
    );
    // The old key cannot sign after its validity, even while still listed:
    // a deployment that kept signing with it (its own key file saying
    // otherwise) is refused by the published validity.
    assert!(old_issuer
        .issue(
            &healthcode_codec::CodeRequest {
                colour: Colour::Green,
                full_name: "王五".into(),
                document_id: "340102199003071236".into(),
                kind: CodeKind::Resident,
                ttl_seconds: ttl,
                status_as_of: switch.unix_timestamp(),
            },
            switch.unix_timestamp() + 60,
            [3; CODE_ID_LEN],
            &SystemRandom::new()
        )
        .is_err());
    let mut stale_config = CodeIssuer::new(key(
        "cn-34",
        1,
        T0 - Duration::days(100),
        switch + Duration::days(1),
    ));
    let late = code(&mut stale_config, switch + Duration::minutes(1), ttl);
    assert_eq!(
        v.verify(&late, at + 60).unwrap_err().reason,
        Reason::KeyNotValid
    );
    // Step 3: the old key dropped once its last code expired.
    let new_only = signed(
        TrustList::new(
            p.description(),
            switch + Duration::days(1),
            vec![new_issuer.key().description()],
        )
        .with_sequence(3),
    );
    let mut v = verifier(&new_only);
    assert_eq!(
        v.verify(&last_old, at).unwrap_err().reason,
        Reason::UnknownKey
    );
    assert!(v.verify(&first_new, at).is_ok());
}
