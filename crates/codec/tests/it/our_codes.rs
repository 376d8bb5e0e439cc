//! Our own codes, end to end: issue, render, read back, verify; and every
//! way a forger, a stale screenshot or a tampered trust list should fail.

use std::path::Path;

use healthcode_codec::claims::CODE_ID_LEN;
use healthcode_codec::qr::{self, QrMatrix};
use healthcode_codec::trust::{KeyDescription, RevocationList, TrustList};
use healthcode_codec::verify::{Content, Reason};
use healthcode_codec::{
    Algorithm, CodeIssuer, CodeRequest, IssuerKey, SigningKey, TrustStore, Verifier, VerifyOptions,
};
use healthcode_core::{CodeKind, Colour};
use proptest::prelude::*;
use ring::rand::SystemRandom;
use time::macros::datetime;
use time::OffsetDateTime;

const T0: OffsetDateTime = datetime!(2026-11-22 08:00 UTC);

fn t0() -> i64 {
    T0.unix_timestamp()
}

fn issuer_key(issuer: &str, seed: u8, demo: bool) -> IssuerKey {
    IssuerKey {
        issuer: issuer.into(),
        signing_key: SigningKey::ed25519_from_seed(&[seed; 32]).unwrap(),
        valid_from: datetime!(2026-01-01 0:00 UTC),
        valid_to: datetime!(2027-01-01 0:00 UTC),
        demo,
    }
}

fn publisher() -> IssuerKey {
    issuer_key("cn-22-publisher", 200, true)
}

fn signed_trust_list(entries: Vec<KeyDescription>) -> String {
    let publisher = publisher();
    TrustList::new(publisher.description(), T0, entries)
        .sign(&publisher.signing_key, &SystemRandom::new())
        .unwrap()
        .to_json()
}

fn store_trusting(keys: &[&IssuerKey]) -> TrustStore {
    let text = signed_trust_list(keys.iter().map(|k| k.description()).collect());
    let fingerprint = publisher().signing_key.public_key().fingerprint();
    let list = TrustList::open(&text, Some(&fingerprint)).unwrap();
    let mut store = TrustStore::new();
    store.add_trust_list(&list);
    store
}

fn request(colour: Colour) -> CodeRequest {
    CodeRequest {
        colour,
        full_name: "张三".into(),
        document_id: "220102199003071235".into(),
        kind: CodeKind::Resident,
        ttl_seconds: 300,
        status_as_of: t0() - 3600,
    }
}

const CODE_ID: [u8; CODE_ID_LEN] = [7; CODE_ID_LEN];

fn accepting_demo(store: TrustStore) -> Verifier {
    Verifier::with_options(
        store,
        VerifyOptions {
            accept_demo: true,
            ..VerifyOptions::default()
        },
    )
}

#[test]
fn demo_codes_are_refused_unless_accepted() {
    let key = issuer_key("DEMO-22", 1, true);
    let store = store_trusting(&[&key]);
    let code = CodeIssuer::new(key)
        .issue(&request(Colour::Green), t0(), CODE_ID, &SystemRandom::new())
        .unwrap();
    let refused = Verifier::new(store.clone())
        .verify(&code.text, t0())
        .unwrap_err();
    assert_eq!(refused.reason, Reason::DemoIssuer);
    assert!(refused.authentic.is_some_and(|a| a.demo));
    assert!(accepting_demo(store).verify(&code.text, t0()).is_ok());
}

#[test]
fn issue_then_verify_every_colour_and_algorithm() {
    let rng = SystemRandom::new();
    let es256 = IssuerKey {
        signing_key: SigningKey::generate(Algorithm::Es256, &rng).unwrap(),
        ..issuer_key("cn-11", 2, false)
    };
    let ed = issuer_key("cn-22", 1, true);
    let mut verifier = accepting_demo(store_trusting(&[&ed, &es256]));
    for key in [ed, es256] {
        let alg = key.signing_key.algorithm();
        let mut issuer = CodeIssuer::new(key);
        for colour in Colour::ALL {
            let code = issuer.issue(&request(colour), t0(), CODE_ID, &rng).unwrap();
            assert!(code.text.starts_with("HCP1:"));
            let ok = verifier.verify(&code.text, t0() + 10).unwrap();
            assert_eq!(ok.alg, alg);
            let Content::HealthCode(claims) = ok.content else {
                panic!("not our code")
            };
            assert_eq!(claims.colour, colour);
            assert_eq!(claims.masked_name, "张*");
            assert_eq!(claims.masked_id, "2201**********1235");
            assert_eq!(claims.expires_at, t0() + 300);
            assert_eq!(ok.demo, alg == Algorithm::EdDsa);
        }
    }
}

#[test]
fn stale_and_early_codes_fail() {
    let key = issuer_key("cn-22", 1, false);
    let mut verifier = Verifier::new(store_trusting(&[&key]));
    let code = CodeIssuer::new(key)
        .issue(&request(Colour::Green), t0(), CODE_ID, &SystemRandom::new())
        .unwrap();
    // A screenshot shown six minutes later is stale.
    let stale = verifier.verify(&code.text, t0() + 360).unwrap_err();
    assert_eq!(stale.reason, Reason::Expired);
    assert!(
        stale.authentic.is_some(),
        "an expired code still shows what it said"
    );
    assert_eq!(
        verifier.verify(&code.text, t0() - 60).unwrap_err().reason,
        Reason::NotYetValid
    );
    // Exactly at expiry it still passes.
    assert!(verifier.verify(&code.text, t0() + 300).is_ok());
}

#[test]
fn forgeries_fail() {
    let rng = SystemRandom::new();
    let genuine = issuer_key("cn-22", 1, false);
    let mut verifier = Verifier::new(store_trusting(&[&genuine]));

    // A forger's own key, unknown to the trust list.
    let forger = issuer_key("cn-22", 66, false);
    let forged = CodeIssuer::new(forger)
        .issue(&request(Colour::Green), t0(), CODE_ID, &rng)
        .unwrap();
    let err = verifier.verify(&forged.text, t0()).unwrap_err();
    assert_eq!(err.reason, Reason::UnknownKey);
    assert!(err.authentic.is_none());

    // A trusted key used to claim another region's authority.
    let impostor = IssuerKey {
        issuer: "cn-11".into(),
        ..issuer_key("cn-22", 1, false)
    };
    let code = CodeIssuer::new(impostor)
        .issue(&request(Colour::Green), t0(), CODE_ID, &rng)
        .unwrap();
    assert_eq!(
        verifier.verify(&code.text, t0()).unwrap_err().reason,
        Reason::IssuerMismatch
    );

    // A signature moved onto other claims: red turned green.
    let mut issuer = CodeIssuer::new(issuer_key("cn-22", 1, false));
    let red = issuer
        .issue(&request(Colour::Red), t0(), CODE_ID, &rng)
        .unwrap();
    let green = issuer
        .issue(&request(Colour::Green), t0(), CODE_ID, &rng)
        .unwrap();
    let spliced = splice_signature(&green.text, &red.text);
    assert_eq!(
        verifier.verify(&spliced, t0()).unwrap_err().reason,
        Reason::BadSignature
    );

    // Not our prefix, garbage, damaged Base45.
    assert_eq!(
        verifier.verify("HTTPS://EXAMPLE", t0()).unwrap_err().reason,
        Reason::BadPrefix
    );
    assert_eq!(
        verifier.verify("HCP1:abc", t0()).unwrap_err().reason,
        Reason::BadBase45
    );
    assert_eq!(
        verifier.verify("HCP1:", t0()).unwrap_err().reason,
        Reason::BadCompression
    );
    // Our body under the DCC prefix: no DCC key trusts it.
    let as_hc1 = green.text.replacen("HCP1:", "HC1:", 1);
    assert_eq!(
        verifier.verify(&as_hc1, t0()).unwrap_err().reason,
        Reason::UnknownKey
    );
}

/// Re-packs `target`'s COSE with `donor`'s signature.
fn splice_signature(target: &str, donor: &str) -> String {
    use healthcode_codec::base45;
    use healthcode_codec::compress::{Deflater, Inflater};
    use healthcode_codec::cose::{encode_sign1, Sign1};
    let unpack = |text: &str| {
        let packed = base45::decode(&text[5..]).unwrap();
        let mut cose = Vec::new();
        Inflater::default().inflate(&packed, &mut cose).unwrap();
        cose
    };
    let (t, d) = (unpack(target), unpack(donor));
    let (t, d) = (Sign1::parse(&t).unwrap(), Sign1::parse(&d).unwrap());
    let mut cose = Vec::new();
    encode_sign1(t.protected, t.payload, d.signature, &mut cose);
    let mut packed = Vec::new();
    Deflater::default().deflate(&cose, &mut packed);
    format!("HCP1:{}", base45::encode(&packed))
}

#[test]
fn key_validity_bounds_issuance() {
    let rng = SystemRandom::new();
    let listed = issuer_key("cn-22", 1, false);
    let mut verifier = Verifier::new(store_trusting(&[&listed]));
    // The holder of the private key signs after the key's retirement.
    let late = IssuerKey {
        valid_to: datetime!(2030-01-01 0:00 UTC),
        ..issuer_key("cn-22", 1, false)
    };
    let when = datetime!(2027-06-01 0:00 UTC).unix_timestamp();
    let code = CodeIssuer::new(late)
        .issue(&request(Colour::Green), when, CODE_ID, &rng)
        .unwrap();
    assert_eq!(
        verifier.verify(&code.text, when).unwrap_err().reason,
        Reason::KeyNotValid
    );
    // And the issuer itself refuses to sign outside its key's window.
    let err = CodeIssuer::new(issuer_key("cn-22", 1, false))
        .issue(&request(Colour::Green), when, CODE_ID, &rng)
        .unwrap_err();
    assert!(err.to_string().contains("not valid"), "{err}");
}

#[test]
fn revocation_lists() {
    let rng = SystemRandom::new();
    let key = issuer_key("cn-22", 1, false);
    let mut store = store_trusting(&[&key]);
    let list = RevocationList::new("cn-22", T0, vec![hex::encode(CODE_ID)]);
    let signed = list.sign(&key.signing_key, &rng).unwrap().to_json();
    assert_eq!(store.add_revocation_list(&signed).unwrap(), 1);

    let stranger = issuer_key("cn-99", 9, false);
    let untrusted = list.sign(&stranger.signing_key, &rng).unwrap().to_json();
    assert!(store.add_revocation_list(&untrusted).is_err());

    let mut verifier = Verifier::new(store);
    let mut issuer = CodeIssuer::new(key);
    let revoked = issuer
        .issue(&request(Colour::Green), t0(), CODE_ID, &rng)
        .unwrap();
    assert_eq!(
        verifier.verify(&revoked.text, t0()).unwrap_err().reason,
        Reason::Revoked
    );
    let other = issuer
        .issue(&request(Colour::Green), t0(), [8; CODE_ID_LEN], &rng)
        .unwrap();
    assert!(verifier.verify(&other.text, t0()).is_ok());
}

#[test]
fn trust_lists_are_signed_and_pinned() {
    let key = issuer_key("cn-22", 1, false);
    let text = signed_trust_list(vec![key.description()]);
    let fingerprint = publisher().signing_key.public_key().fingerprint();
    assert!(TrustList::open(&text, Some(&fingerprint)).is_ok());
    assert!(TrustList::open(&text, None).is_ok());
    let wrong_pin = "00".repeat(32);
    assert!(TrustList::open(&text, Some(&wrong_pin)).is_err());

    // Slip an extra key into the signed payload.
    let intruder = issuer_key("cn-22", 66, false);
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut payload: serde_json::Value =
        serde_json::from_str(doc["payload"].as_str().unwrap()).unwrap();
    payload["entries"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::to_value(intruder.description()).unwrap());
    doc["payload"] = serde_json::Value::String(payload.to_string());
    let err = TrustList::open(&doc.to_string(), None).unwrap_err();
    assert!(err.to_string().contains("signature"), "{err}");

    // A list re-signed by the intruder fails the pin.
    let resigned = TrustList::new(intruder.description(), T0, vec![intruder.description()])
        .sign(&intruder.signing_key, &SystemRandom::new())
        .unwrap()
        .to_json();
    assert!(TrustList::open(&resigned, Some(&fingerprint)).is_err());
}

#[test]
fn qr_picture_round_trip() {
    let key = issuer_key("cn-22", 1, true);
    let mut verifier = accepting_demo(store_trusting(&[&key]));
    let code = CodeIssuer::new(key)
        .issue(
            &request(Colour::Yellow),
            t0(),
            CODE_ID,
            &SystemRandom::new(),
        )
        .unwrap();
    let png = QrMatrix::encode(&code.text)
        .unwrap()
        .to_png(6, true)
        .unwrap();
    let texts = qr::decode_image(&png).unwrap();
    assert_eq!(texts, vec![code.text.clone()]);
    let ok = verifier.verify(&texts[0], t0()).unwrap();
    assert!(ok.demo);
}

/// Fixed key, fixed clock, fixed code id: the exact string is a contract.
/// If the format changes on purpose, update the golden file and say so.
#[test]
fn golden_code_string() {
    let key = issuer_key("cn-22", 1, true);
    let code = CodeIssuer::new(key)
        .issue(&request(Colour::Green), t0(), CODE_ID, &SystemRandom::new())
        .unwrap();
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/healthcode-v1.txt");
    let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; the current code is\n{}",
            path.display(),
            code.text
        )
    });
    assert_eq!(code.text, golden.trim(), "the wire format changed");
}

fn fuzz_store() -> (IssuerKey, TrustStore) {
    let key = issuer_key("cn-22", 1, false);
    let store = store_trusting(&[&key]);
    (key, store)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any code we issue verifies, with exactly the claims we put in.
    #[test]
    fn issued_codes_verify(
        colour in 0u64..5,
        name in "\\PC{1,20}",
        id in "[0-9A-Z]{5,20}",
        ttl in 1i64..100_000,
        age in 0i64..100_000,
        traveller in any::<bool>(),
        code_id in any::<[u8; CODE_ID_LEN]>(),
    ) {
        let (key, store) = fuzz_store();
        let mut verifier = Verifier::new(store);
        let req = CodeRequest {
            colour: Colour::from_wire(colour).unwrap(),
            full_name: name,
            document_id: id,
            kind: if traveller { CodeKind::Traveller } else { CodeKind::Resident },
            ttl_seconds: ttl,
            status_as_of: t0() - age,
        };
        let code = CodeIssuer::new(key).issue(&req, t0(), code_id, &SystemRandom::new()).unwrap();
        let ok = verifier.verify(&code.text, t0() + ttl).unwrap();
        prop_assert_eq!(ok.content, Content::HealthCode(code.claims));
    }

    /// Changing any one character never yields a code that passes with
    /// different content.
    #[test]
    fn tampering_is_detected(position in any::<usize>(), replacement in "[0-9A-Z $%*+./:-]") {
        let (key, store) = fuzz_store();
        let mut verifier = Verifier::new(store);
        let code = CodeIssuer::new(key)
            .issue(&request(Colour::Red), t0(), CODE_ID, &SystemRandom::new())
            .unwrap();
        let mut chars: Vec<char> = code.text.chars().collect();
        let i = position % chars.len();
        chars[i] = replacement.chars().next().unwrap();
        let tampered: String = chars.into_iter().collect();
        if let Ok(ok) = verifier.verify(&tampered, t0()) {
            prop_assert_eq!(ok.content, Content::HealthCode(code.claims));
        }
    }

    /// Arbitrary text never panics the verifier.
    #[test]
    fn arbitrary_input_never_panics(body in "\\PC{0,400}", hc1 in any::<bool>()) {
        let (_, store) = fuzz_store();
        let mut verifier = Verifier::new(store);
        let prefix = if hc1 { "HC1:" } else { "HCP1:" };
        let input = format!("{prefix}{body}");
        prop_assert!(verifier.verify(&input, t0()).is_err());
    }
}

#[test]
fn qr_from_a_jpeg_photo() {
    let key = issuer_key("cn-22", 1, false);
    let code = CodeIssuer::new(key)
        .issue(
            &request(Colour::Orange),
            t0(),
            CODE_ID,
            &SystemRandom::new(),
        )
        .unwrap();
    let png = QrMatrix::encode(&code.text)
        .unwrap()
        .to_png(6, false)
        .unwrap();
    let picture = image::load_from_memory(&png).unwrap();
    let mut jpeg = Vec::new();
    picture
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    assert_eq!(qr::decode_image(&jpeg).unwrap(), vec![code.text]);
}
