//! The checkpoint vectors (`testdata/checkpoint/vectors.json`): real signed
//! codes (valid, forged, unknown key, expired, not yet valid, revoked,
//! wrong issuer, DEMO, ES256, damaged) under every shipped policy, with the
//! verdict the Rust path gives. This test checks the committed file against
//! the Rust verifier and `checkpoint_result`; the browser test runs the same
//! file through the checkpoint page's JavaScript.
//!
//! Regenerate with `HEALTHCODE_WRITE_VECTORS=1 cargo test -p healthcode-codec
//! --test it checkpoint_vectors` (ES256 signatures differ on every run).

use std::path::PathBuf;

use healthcode_codec::checkpoint::checkpoint_result;
use healthcode_codec::claims::CODE_ID_LEN;
use healthcode_codec::compress::{Deflater, Inflater};
use healthcode_codec::trust::{RevocationList, TrustList};
use healthcode_codec::{
    base45, Algorithm, CodeIssuer, CodeRequest, IssuerKey, SigningKey, TrustStore, Verifier,
    VerifyOptions, PREFIX,
};
use healthcode_core::checkpoint::{Policy, ShippedPolicy};
use healthcode_core::{CodeKind, Colour};
use ring::rand::SystemRandom;
use serde_json::{json, Value};
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-11-22 08:00 UTC);
const SKEW: i64 = 60;

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/checkpoint/vectors.json")
}

fn key(issuer: &str, signing_key: SigningKey, demo: bool) -> IssuerKey {
    IssuerKey {
        issuer: issuer.into(),
        signing_key,
        valid_from: datetime!(2026-01-01 0:00 UTC),
        valid_to: datetime!(2027-01-01 0:00 UTC),
        demo,
    }
}

fn ed(seed: u8) -> SigningKey {
    SigningKey::ed25519_from_seed(&[seed; 32]).unwrap()
}

fn code_id(n: u8) -> [u8; CODE_ID_LEN] {
    let mut id = [0x5a; CODE_ID_LEN];
    id[15] = n;
    id
}

fn issue(
    key: IssuerKey,
    colour: Colour,
    kind: CodeKind,
    at: OffsetDateTime,
    ttl: i64,
    id: u8,
) -> String {
    let request = CodeRequest {
        colour,
        full_name: if kind == CodeKind::ItineraryCard {
            "13800000001".into()
        } else {
            "张三".into()
        },
        document_id: "220102199003071235".into(),
        kind,
        ttl_seconds: ttl,
        status_as_of: at.unix_timestamp(),
    };
    CodeIssuer::new(key)
        .issue(
            &request,
            at.unix_timestamp(),
            code_id(id),
            &SystemRandom::new(),
        )
        .unwrap()
        .text
}

/// The COSE bytes inside a code, changed by `edit`, packed again.
fn tamper(code: &str, edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let packed = base45::decode(code.strip_prefix(PREFIX).unwrap()).unwrap();
    let mut cose = Vec::new();
    Inflater::default().inflate(&packed, &mut cose).unwrap();
    edit(&mut cose);
    let mut repacked = Vec::new();
    Deflater::default().deflate(&cose, &mut repacked);
    format!("{PREFIX}{}", base45::encode(&repacked))
}

struct Bundle {
    json: Value,
    store: TrustStore,
}

fn open_bundle(bundle: &Value) -> TrustStore {
    let mut store = TrustStore::new();
    let pins: Vec<String> = serde_json::from_value(bundle["pins"].clone()).unwrap();
    for text in bundle["trust_lists"].as_array().unwrap() {
        let list = TrustList::open(text.as_str().unwrap(), None).unwrap();
        assert!(
            pins.contains(&list.publisher_fingerprint()),
            "pinned publisher"
        );
        store.add_trust_list(&list);
    }
    store
        .add_revocation_list(bundle["revocations"].as_str().unwrap())
        .unwrap();
    store
}

fn policies(bundle: &Value) -> Vec<Policy> {
    bundle["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Policy::from_json_str(&p["policy"].to_string()).unwrap())
        .collect()
}

/// What the Rust path answers for one case.
fn answer(store: &TrustStore, policies: &[Policy], case: &Value, now: i64) -> Value {
    let policy = policies
        .iter()
        .find(|p| p.id == case["policy"].as_str().unwrap())
        .unwrap();
    let options = VerifyOptions {
        clock_skew: SKEW,
        accept_demo: case["accept_demo"].as_bool().unwrap_or(false),
    };
    let mut verifier = Verifier::with_options(store.clone(), options);
    let primary = verifier.verify(case["code"].as_str().unwrap(), now);
    let extras: Vec<_> = case["extra_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| verifier.verify(e.as_str().unwrap(), now))
        .collect();
    serde_json::to_value(checkpoint_result(policy, &primary, &extras, now, SKEW)).unwrap()
}

fn generate() -> Value {
    let rng = SystemRandom::new();
    let publisher = key("CN-TEST-PUBLISHER", ed(90), false);
    let issuer = || key("CN-TEST", ed(91), false);
    let es256 = key(
        "CN-TEST",
        SigningKey::generate(Algorithm::Es256, &rng).unwrap(),
        false,
    );
    let es256_pkcs8 = es256.signing_key.pkcs8_der().to_vec();
    let demo = || key("DEMO-TEST", ed(92), true);
    let stranger = key("CN-TEST", ed(93), false);
    let evil = key("CN-EVIL", ed(91), false); // the trusted key, claiming another issuer
    let trust_list = TrustList::new(
        publisher.description(),
        NOW,
        vec![
            issuer().description(),
            es256.description(),
            demo().description(),
        ],
    )
    .sign(&publisher.signing_key, &rng)
    .unwrap()
    .to_json();
    let revocations = RevocationList::new("CN-TEST-PUBLISHER", NOW, vec![hex(code_id(66))])
        .sign(&publisher.signing_key, &rng)
        .unwrap()
        .to_json();
    let bundle_policies: Vec<Value> = ShippedPolicy::ALL
        .iter()
        .map(|p| {
            let policy = p.load().unwrap();
            json!({"id": policy.id, "name": policy.name, "policy": policy})
        })
        .collect();
    let bundle = json!({
        "trust_lists": [trust_list],
        "pins": [publisher.signing_key.public_key().fingerprint()],
        "revocations": revocations,
        "policies": bundle_policies,
        "default_policy": "metro",
        "clock_skew": SKEW,
        "accept_demo": false,
    });

    let es = || {
        key(
            "CN-TEST",
            SigningKey::from_pkcs8(Algorithm::Es256, &es256_pkcs8, &SystemRandom::new()).unwrap(),
            false,
        )
    };
    let hour = time::Duration::hours(1);
    let r = CodeKind::Resident;
    let green = issue(issuer(), Colour::Green, r, NOW - hour, 86_400, 1);
    type Case = (String, String, Vec<String>, String, bool, String);
    let mut cases: Vec<Case> = Vec::new();
    let mut add = |name: &str,
                   code: &str,
                   extras: Vec<String>,
                   policy: &str,
                   accept_demo: bool,
                   want: &str| {
        cases.push((
            name.into(),
            code.into(),
            extras,
            policy.into(),
            accept_demo,
            want.into(),
        ));
    };
    for (colour, n) in [
        (Colour::Green, 1),
        (Colour::Yellow, 2),
        (Colour::Orange, 3),
        (Colour::Red, 4),
        (Colour::Pending, 5),
    ] {
        let code = issue(issuer(), colour, r, NOW - hour, 86_400, n);
        for policy in ["metro", "hospital", "airport"] {
            add(
                &format!("{colour} under {policy}"),
                &code,
                vec![],
                policy,
                false,
                "",
            );
        }
    }
    let traveller = issue(
        issuer(),
        Colour::Green,
        CodeKind::Traveller,
        NOW - hour,
        86_400,
        6,
    );
    add(
        "traveller green, metro",
        &traveller,
        vec![],
        "metro",
        false,
        "colour_pass",
    );
    let es_green = issue(es(), Colour::Green, r, NOW - hour, 86_400, 7);
    add(
        "ES256 green, metro",
        &es_green,
        vec![],
        "metro",
        false,
        "colour_pass",
    );
    let card_green = issue(
        issuer(),
        Colour::Green,
        CodeKind::ItineraryCard,
        NOW - hour,
        86_400,
        8,
    );
    let card_yellow = issue(
        issuer(),
        Colour::Yellow,
        CodeKind::ItineraryCard,
        NOW - hour,
        86_400,
        9,
    );
    add(
        "airport with a green itinerary card, no test",
        &green,
        vec![card_green.clone()],
        "airport",
        false,
        "negative_test_required",
    );
    add(
        "airport with a yellow itinerary card",
        &green,
        vec![card_yellow],
        "airport",
        false,
        "negative_test_required",
    );
    add(
        "itinerary card shown as the health code",
        &card_green,
        vec![],
        "metro",
        false,
        "not_a_health_code",
    );
    let expired_card = issue(
        issuer(),
        Colour::Green,
        CodeKind::ItineraryCard,
        NOW - 3 * hour,
        3600,
        10,
    );
    add(
        "airport with an expired itinerary card",
        &green,
        vec![expired_card],
        "airport",
        false,
        "expired",
    );
    add(
        "hospital, green, no test",
        &green,
        vec![],
        "hospital",
        false,
        "negative_test_required",
    );

    let forged_signature = tamper(&green, |cose| {
        let last = cose.len() - 1;
        cose[last] ^= 0x01;
    });
    add(
        "forged: signature altered",
        &forged_signature,
        vec![],
        "metro",
        false,
        "bad_signature",
    );
    let red = issue(issuer(), Colour::Red, r, NOW - hour, 86_400, 4);
    // Red (wire 4) rewritten as green (wire 1) in the signed claims.
    let forged_colour = tamper(&red, |cose| {
        let at = cose
            .windows(4)
            .position(|w| w == [0x3a, 0x00, 0x01, 0x00])
            .unwrap();
        let colour_at = at + 7;
        assert_eq!(cose[colour_at], 0x04);
        cose[colour_at] = 0x01;
    });
    add(
        "forged: red rewritten as green",
        &forged_colour,
        vec![],
        "metro",
        false,
        "bad_signature",
    );
    let unknown = issue(stranger, Colour::Green, r, NOW - hour, 86_400, 11);
    add(
        "unknown key",
        &unknown,
        vec![],
        "metro",
        false,
        "unknown_key",
    );
    let expired = issue(issuer(), Colour::Green, r, NOW - 3 * hour, 3600, 12);
    add("expired", &expired, vec![], "metro", false, "expired");
    let within_skew = issue(
        issuer(),
        Colour::Green,
        r,
        NOW - time::Duration::seconds(120),
        90,
        13,
    );
    add(
        "expired 30 s ago, within the 60 s skew",
        &within_skew,
        vec![],
        "metro",
        false,
        "colour_pass",
    );
    let future = issue(issuer(), Colour::Green, r, NOW + hour, 3600, 14);
    add(
        "not yet valid",
        &future,
        vec![],
        "metro",
        false,
        "not_yet_valid",
    );
    let revoked = issue(issuer(), Colour::Green, r, NOW - hour, 86_400, 66);
    add("revoked", &revoked, vec![], "metro", false, "revoked");
    let mismatch = issue(evil, Colour::Green, r, NOW - hour, 86_400, 15);
    add(
        "issuer mismatch",
        &mismatch,
        vec![],
        "metro",
        false,
        "issuer_mismatch",
    );
    let demo_code = issue(demo(), Colour::Green, r, NOW - hour, 86_400, 16);
    add(
        "DEMO code refused",
        &demo_code,
        vec![],
        "metro",
        false,
        "demo_issuer",
    );
    add(
        "DEMO code accepted, marked DEMO",
        &demo_code,
        vec![],
        "metro",
        true,
        "colour_pass",
    );
    add(
        "airport with a forged extra",
        &green,
        vec![forged_signature.clone(), card_green],
        "airport",
        false,
        "bad_signature",
    );
    add(
        "not a code",
        "https://example.invalid/not-a-code",
        vec![],
        "metro",
        false,
        "bad_prefix",
    );
    add(
        "bad Base45",
        "HCP1:ab!",
        vec![],
        "metro",
        false,
        "bad_base45",
    );
    add(
        "not zlib",
        &format!("{PREFIX}{}", base45::encode(b"not zlib at all")),
        vec![],
        "metro",
        false,
        "bad_compression",
    );
    add(
        "truncated",
        &green[..green.len() - 30],
        vec![],
        "metro",
        false,
        "",
    );

    let store = open_bundle(&bundle);
    let policies = policies(&bundle);
    let now = NOW.unix_timestamp();
    let cases: Vec<Value> = cases
        .into_iter()
        .map(|(name, code, extras, policy, accept_demo, want)| {
            let mut case = json!({
                "name": name,
                "code": code,
                "extra_codes": extras,
                "policy": policy,
                "accept_demo": accept_demo,
            });
            let expected = answer(&store, &policies, &case, now);
            if !want.is_empty() {
                assert_eq!(
                    expected["reasons"][0]["code"],
                    want.as_str(),
                    "{name}: {expected}"
                );
            }
            case["expected"] = expected;
            case
        })
        .collect();
    json!({
        "description": "Checkpoint verdicts for real signed codes under the shipped policies; checked by crates/codec/tests/it/checkpoint_vectors.rs (Rust) and e2e/checkpoint.mjs (the checkpoint page's JavaScript). All keys and codes are test keys, not any authority's.",
        "now": now,
        "bundle": bundle,
        "cases": cases,
    })
}

fn hex(bytes: [u8; CODE_ID_LEN]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn checkpoint_vectors_match_the_rust_verdicts() {
    if std::env::var("HEALTHCODE_WRITE_VECTORS").as_deref() == Ok("1") {
        let vectors = generate();
        std::fs::create_dir_all(path().parent().unwrap()).unwrap();
        std::fs::write(
            path(),
            serde_json::to_string_pretty(&vectors).unwrap() + "\n",
        )
        .unwrap();
    }
    let text = std::fs::read_to_string(path())
        .expect("testdata/checkpoint/vectors.json (generate with HEALTHCODE_WRITE_VECTORS=1)");
    let vectors: Value = serde_json::from_str(&text).unwrap();
    let bundle = Bundle {
        store: open_bundle(&vectors["bundle"]),
        json: vectors["bundle"].clone(),
    };
    let policies = policies(&bundle.json);
    let now = vectors["now"].as_i64().unwrap();
    let cases = vectors["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut verdicts = std::collections::BTreeSet::new();
    for case in cases {
        let got = answer(&bundle.store, &policies, case, now);
        assert_eq!(got, case["expected"], "{}", case["name"]);
        verdicts.insert(got["verdict"].as_str().unwrap().to_owned());
    }
    assert_eq!(verdicts.len(), 3, "pass, restrict and deny all occur");
    // The shipped policies in the file are the shipped policies.
    for p in ShippedPolicy::ALL {
        assert!(
            policies.contains(&p.load().unwrap()),
            "{} is stale",
            p.name()
        );
    }
}
