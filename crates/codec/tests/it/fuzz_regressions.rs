//! Guards from fuzzing the offline verifier (`fuzz/`, targets `verify`,
//! `signed` and `layers`): each input must be refused (or accepted) for
//! exactly the reason given, and none may panic. The runs of 2026-11-22
//! found no crash, panic, timeout or OOM (figures in `fuzz/README.md`), so
//! this holds the seeds that reach each deep check, truncated and overlong
//! codes, and the shortest inputs the fuzzer found for the COSE checks.
//! A future crash goes here too, minimised, next to its fix.
//!
//! The store mirrors the fuzz fixture (`fuzz/src/lib.rs`): Ed25519 issuer
//! `cn-22` from the golden seed, one revoked code id, the NL vaccination DSC
//! of `testdata/dcc`, and the clocks the fuzzer verifies at.

use std::fs;
use std::path::{Path, PathBuf};

use healthcode_codec::cbor::{self, write_array, write_bytes, write_int, write_map, write_text};
use healthcode_codec::claims::{Claims, CODE_ID_LEN};
use healthcode_codec::compress::Deflater;
use healthcode_codec::cose;
use healthcode_codec::dcc::DscCertificate;
use healthcode_codec::trust::{KeyRole, TrustedKey};
use healthcode_codec::verify::Reason;
use healthcode_codec::{base45, SigningKey, TrustStore, Verifier};
use healthcode_core::{CodeKind, Colour};
use ring::rand::SystemRandom;

/// 2026-11-22T08:01:00Z, one minute after the golden code's issuance.
const NOW: i64 = 1_795_334_460;
/// 2021-05-30T14:00:00Z, inside the NL vaccination vectors' validity.
const NOW_HC1: i64 = 1_622_383_200;
/// The issuer key's validity: 2026-01-01 to 2027-01-01.
const KEY_FROM: i64 = 1_767_225_600;
const KEY_TO: i64 = 1_798_761_600;
const REVOKED: [u8; CODE_ID_LEN] = [0xEE; CODE_ID_LEN];
const ISSUER: &str = "cn-22";

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn issuer_key() -> SigningKey {
    SigningKey::ed25519_from_seed(&[1; 32]).unwrap()
}

/// `(PREFIX, certificate)` of an NL vaccination vector.
fn nl_vaccination() -> (String, DscCertificate) {
    let path = testdata().join("dcc/NL/2DCode/raw/072-NL-vaccination.json");
    let json: serde_json::Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let cert = json["TESTCTX"]["CERTIFICATE"].as_str().unwrap();
    (
        json["PREFIX"].as_str().unwrap().to_owned(),
        DscCertificate::parse(cert.as_bytes()).unwrap(),
    )
}

fn verifier() -> Verifier {
    let mut store = TrustStore::new();
    store.add_key(TrustedKey {
        public_key: issuer_key().public_key().clone(),
        valid_from: KEY_FROM,
        valid_to: KEY_TO,
        role: KeyRole::HealthCode {
            issuer: ISSUER.into(),
            demo: true,
        },
    });
    store.add_dcc_certificate(&nl_vaccination().1);
    store.revoke(REVOKED);
    Verifier::with_options(
        store,
        healthcode_codec::VerifyOptions {
            accept_demo: true,
            ..Default::default()
        },
    )
}

fn golden() -> String {
    fs::read_to_string(testdata().join("golden/healthcode-v1.txt"))
        .unwrap()
        .trim()
        .to_owned()
}

fn claims(issued_at: i64, ttl: i64, code_id: [u8; CODE_ID_LEN]) -> Claims {
    Claims {
        issuer: ISSUER.into(),
        issued_at,
        expires_at: issued_at + ttl,
        code_id,
        colour: Colour::Green,
        masked_name: "张*".into(),
        masked_id: "2201**********1235".into(),
        kind: CodeKind::Resident,
        status_as_of: issued_at - 3600,
        demo: false,
    }
}

fn encoded(c: &Claims) -> Vec<u8> {
    let mut out = Vec::new();
    c.encode(&mut out);
    out
}

/// A COSE_Sign1 over `payload` with the given protected and unprotected
/// header bytes, signed by `key`.
fn sign1(key: &SigningKey, protected: &[u8], unprotected: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut to_sign = Vec::new();
    cose::sig_structure(protected, payload, &mut to_sign);
    let signature = key.sign(&to_sign, &SystemRandom::new()).unwrap();
    let mut out = Vec::new();
    cbor::write_tag(&mut out, cose::TAG_SIGN1);
    write_array(&mut out, 4);
    write_bytes(&mut out, protected);
    out.extend_from_slice(unprotected);
    write_bytes(&mut out, payload);
    write_bytes(&mut out, &signature);
    out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Deflater::default().deflate(data, &mut out);
    out
}

fn hcp1(cose_bytes: &[u8]) -> String {
    format!("HCP1:{}", base45::encode(&zlib(cose_bytes)))
}

/// Our code, signed by the trusted key, as an issuer packs it.
fn signed(payload: &[u8]) -> String {
    let key = issuer_key();
    let protected = cose::protected_header(-8, &key.public_key().kid());
    hcp1(&sign1(&key, &protected, &[0xA0], payload))
}

fn reason(verifier: &mut Verifier, input: &str, now: i64) -> Option<Reason> {
    verifier.verify(input, now).err().map(|r| r.reason)
}

#[test]
fn seeds_stop_at_each_check_after_the_signature() {
    let mut v = verifier();
    let t = NOW - 60;
    assert_eq!(reason(&mut v, &golden(), NOW), None);
    assert_eq!(
        reason(&mut v, &signed(&encoded(&claims(t, 300, [7; 16]))), NOW),
        None
    );
    let cases: [(&str, Vec<u8>, Reason); 5] = [
        (
            "expired",
            encoded(&claims(NOW - 3600, 300, [7; 16])),
            Reason::Expired,
        ),
        (
            "early",
            encoded(&claims(NOW + 3600, 300, [7; 16])),
            Reason::NotYetValid,
        ),
        (
            "revoked",
            encoded(&claims(t, 300, REVOKED)),
            Reason::Revoked,
        ),
        (
            "after the key's retirement",
            encoded(&claims(KEY_TO + 60, 300, [7; 16])),
            Reason::KeyNotValid,
        ),
        (
            "another region",
            encoded(&Claims {
                issuer: "cn-11".into(),
                ..claims(t, 300, [7; 16])
            }),
            Reason::IssuerMismatch,
        ),
    ];
    for (what, payload, want) in cases {
        let err = v.verify(&signed(&payload), NOW).unwrap_err();
        assert_eq!(err.reason, want, "{what}");
        assert!(err.authentic.is_some(), "{what}: authentic content kept");
    }
}

#[test]
fn signed_but_malformed_claims() {
    let mut v = verifier();
    let t = NOW - 60;
    let mut exp_before_iat = claims(t, 300, [7; 16]);
    exp_before_iat.expires_at = t - 1;
    let mut long_name = claims(t, 300, [7; 16]);
    long_name.masked_name = "*".repeat(129);
    // The health-code claim missing.
    let mut missing = Vec::new();
    write_map(&mut missing, 4);
    write_int(&mut missing, 1);
    write_text(&mut missing, ISSUER);
    write_int(&mut missing, 4);
    write_int(&mut missing, t + 300);
    write_int(&mut missing, 6);
    write_int(&mut missing, t);
    write_int(&mut missing, 7);
    write_bytes(&mut missing, &[7; 16]);
    // An unknown claim nested 10 000 arrays deep: skipped without recursing
    // past the depth limit.
    let mut deep = encoded(&claims(t, 300, [7; 16]));
    deep[0] += 1; // one more map entry
    write_int(&mut deep, 99);
    deep.extend(std::iter::repeat_n(0x81, 10_000));
    deep.push(0);
    // A map that announces 2^64 - 1 entries.
    let huge_map = [0xBB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
    for (what, payload) in [
        ("exp before iat", encoded(&exp_before_iat)),
        ("name over 128 bytes", encoded(&long_name)),
        ("no health-code claim", missing),
        ("deep unknown claim", deep),
        ("huge map", huge_map.to_vec()),
        ("empty payload", Vec::new()),
    ] {
        let err = v.verify(&signed(&payload), NOW).unwrap_err();
        assert_eq!(err.reason, Reason::BadClaims, "{what}: {err}");
        assert!(err.authentic.is_none(), "{what}");
    }
}

#[test]
fn cose_shapes_our_codes_refuse() {
    let mut v = verifier();
    let key = issuer_key();
    let kid = key.public_key().kid();
    let payload = encoded(&claims(NOW - 60, 300, [7; 16]));
    let good_protected = cose::protected_header(-8, &kid);
    // kid only in the unsigned header.
    let mut alg_only = Vec::new();
    write_map(&mut alg_only, 1);
    write_int(&mut alg_only, 1);
    write_int(&mut alg_only, -8);
    let mut kid_header = Vec::new();
    write_map(&mut kid_header, 1);
    write_int(&mut kid_header, 4);
    write_bytes(&mut kid_header, &kid);
    let unprotected_kid = sign1(&key, &alg_only, &kid_header, &payload);
    // The kid twice in the protected header.
    let mut twice = Vec::new();
    write_map(&mut twice, 3);
    write_int(&mut twice, 1);
    write_int(&mut twice, -8);
    write_int(&mut twice, 4);
    write_bytes(&mut twice, &kid);
    write_int(&mut twice, 4);
    write_bytes(&mut twice, &kid);
    // A signature with its last byte flipped.
    let mut flipped = sign1(&key, &good_protected, &[0xA0], &payload);
    *flipped.last_mut().unwrap() ^= 1;
    let cases: [(&str, Vec<u8>, Reason); 6] = [
        ("kid unprotected", unprotected_kid, Reason::BadCose),
        (
            "duplicate kid",
            sign1(&key, &twice, &[0xA0], &payload),
            Reason::BadCose,
        ),
        (
            "PS256 on our code",
            sign1(&key, &cose::protected_header(-37, &kid), &[0xA0], &payload),
            Reason::BadCose,
        ),
        (
            "unknown algorithm",
            sign1(&key, &cose::protected_header(-999, &kid), &[0xA0], &payload),
            Reason::UnsupportedAlgorithm,
        ),
        (
            "unknown kid",
            sign1(
                &key,
                &cose::protected_header(-8, b"stranger"),
                &[0xA0],
                &payload,
            ),
            Reason::UnknownKey,
        ),
        ("flipped signature", flipped, Reason::BadSignature),
    ];
    for (what, cose_bytes, want) in cases {
        let err = v.verify(&hcp1(&cose_bytes), NOW).unwrap_err();
        assert_eq!(err.reason, want, "{what}: {err}");
    }
    // Our COSE under the DCC prefix, zlib or bare: no DCC key has the kid.
    let ours = sign1(&key, &good_protected, &[0xA0], &payload);
    for body in [zlib(&ours), ours] {
        let code = format!("HC1:{}", base45::encode(&body));
        assert_eq!(reason(&mut v, &code, NOW), Some(Reason::UnknownKey));
    }
}

#[test]
fn truncated_codes() {
    let mut v = verifier();
    let golden = golden();
    // The verifier trims the input, and a space is a Base45 digit: a cut
    // that ends in a space loses it. (A whole code never ends in a space:
    // the last digit of a group is at most 32.)
    for end in 0..golden.len() {
        let cut = &golden[..end];
        let got = reason(&mut v, cut, NOW).unwrap_or_else(|| panic!("{cut:?} accepted"));
        let want: &[Reason] = match cut.trim_end().len().checked_sub(5) {
            None => &[Reason::BadPrefix],
            Some(body) if body % 3 == 1 => &[Reason::BadBase45],
            // The last group may be cut to two digits worth more than a byte.
            Some(body) if body % 3 == 2 => &[Reason::BadBase45, Reason::BadCompression],
            Some(_) => &[Reason::BadCompression],
        };
        assert!(want.contains(&got), "{end} characters: {got}");
    }
    // A DCC cut short: before two bytes are there, it is not zlib, so the
    // verifier reads the bytes as bare COSE.
    let (prefix, _) = nl_vaccination();
    for end in 0..prefix.len() {
        let cut = &prefix[..end];
        let got = reason(&mut v, cut, NOW_HC1).unwrap_or_else(|| panic!("{cut:?} accepted"));
        let want: &[Reason] = match cut.trim_end().len() {
            0..4 => &[Reason::BadPrefix],
            4 => &[Reason::BadCose],
            n if (n - 4) % 3 == 1 => &[Reason::BadBase45],
            n if (n - 4) % 3 == 0 => &[Reason::BadCompression],
            _ => &[Reason::BadBase45, Reason::BadCompression],
        };
        assert!(want.contains(&got), "{end} characters: {got}");
    }
}

#[test]
fn overlong_and_padded_codes() {
    let mut v = verifier();
    let golden = golden();
    let cases: [(String, Option<Reason>); 7] = [
        // Whitespace around a code is trimmed (scanners add newlines).
        (format!("  {golden}\r\n"), None),
        // One character more: a dangling Base45 digit.
        (format!("{golden}0"), Some(Reason::BadBase45)),
        // One or two bytes after the end of the zlib stream.
        (format!("{golden}00"), Some(Reason::BadCompression)),
        (format!("{golden}000"), Some(Reason::BadCompression)),
        // The code twice.
        (
            format!("{golden}{}", &golden[5..]),
            Some(Reason::BadCompression),
        ),
        // 200 kB of zeros: not zlib at all.
        (
            format!("HCP1:{}", "0".repeat(300_000)),
            Some(Reason::BadCompression),
        ),
        // A zip bomb: 1 MB of zeros in about 1 kB.
        (
            format!("HCP1:{}", base45::encode(&zlib(&vec![0; 1 << 20]))),
            Some(Reason::BadCompression),
        ),
    ];
    for (input, want) in cases {
        let shown: String = input.chars().take(30).collect();
        assert_eq!(reason(&mut v, &input, NOW), want, "{shown}...");
    }
}

#[test]
fn dcc_at_the_fuzz_clock() {
    let mut v = verifier();
    let (prefix, _) = nl_vaccination();
    assert_eq!(reason(&mut v, &prefix, NOW_HC1), None);
    // The same COSE, uncompressed (what the fuzz seeds use to reach COSE).
    let packed = base45::decode(&prefix[4..]).unwrap();
    let mut bare = Vec::new();
    healthcode_codec::compress::Inflater::default()
        .inflate(&packed, &mut bare)
        .unwrap();
    let uncompressed = format!("HC1:{}", base45::encode(&bare));
    assert_eq!(reason(&mut v, &uncompressed, NOW_HC1), None);
    // Five years on it is expired, and still shows what it says.
    let err = v.verify(&prefix, NOW).unwrap_err();
    assert_eq!(err.reason, Reason::Expired);
    assert!(err.authentic.is_some());
    // One byte of the signed payload changed.
    let mut tampered = bare.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x20;
    let tampered = format!("HC1:{}", base45::encode(&tampered));
    assert!(matches!(
        reason(&mut v, &tampered, NOW_HC1),
        Some(Reason::BadSignature | Reason::BadCose)
    ));
}

/// Shortest inputs of the `verify` run (its mutator unpacks a code, mutates
/// the COSE bytes and packs them again) that reached each check before the
/// signature with an `HCP1:` prefix. Nothing crashed; these pin the verdicts.
#[test]
fn fuzzer_found_cose_mutations() {
    let mut v = verifier();
    let cases = [
        // Protected header {1: 22, -19: h'fd11…'}: algorithm 22 is unknown.
        (
            "HCP1:NCFT+F*5MN58PS3:PU8OVTA9I31NMKTU9BP4NUJ 71N4LOQR%EG7T3Q:N:Y736F34U9UDFRJ8ESS/R3N372BK-G:GC4JGRYSK/I2RAMJBN1Q4XK1AE104S371R0C429H3DHLF02/ATD88ZXHJ2640K: 44/QY7G3:61AKWT1A1",
            Reason::UnsupportedAlgorithm,
        ),
        // EdDSA with a kid no key of the store has.
        (
            "HCP1:NCFA*F6HMB9GDP26L2RIP2%210NDNQ+CH7ZCHB6+OTLI9131EF0DRMJ8GEC7-.DO48WC4IV2D*R.$RGO2N4HE%PO*GRTE:Z2Z275%QCN1/711N6SWB0+E.N8762J$OPI7D1LDT4.05IEJ.-2%LPQ/NAHOTTNSVS%ICNK5",
            Reason::UnknownKey,
        ),
        // EdDSA under the trusted key's kid, over a mangled payload.
        (
            "HCP1:NCFR+F5SL*5800066AH 4$NLD5N8TS491.HCFIHUS81T4JCOBFJXW0OXDJ5M*20-9C3FFXDI8MPC3AMH2W9E/5L/IGPMPICEIVV-62ILH FS8YI2V2-41T:0%USIDOW%R/T6ZGTNXTTWLPD0NJK-012 FO5WHT910KKNOR1WV:21 173",
            Reason::BadSignature,
        ),
    ];
    for (input, want) in cases {
        let err = v.verify(input, NOW).unwrap_err();
        assert_eq!(err.reason, want, "{err}");
        assert!(err.authentic.is_none());
    }
}
