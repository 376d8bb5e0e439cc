//! Writes the seed corpora of the fuzz targets (run by `fuzz/seed-corpus.sh`):
//!
//! - `corpus/verify/`: every `PREFIX` of `testdata/dcc/**/*.json`, the same
//!   COSE as uncompressed `HC1:` (mutations then reach the COSE bytes
//!   without breaking a zlib checksum), the golden code, and `HCP1:`/`HC1:`
//!   codes signed with the fuzz trust store's keys that stop at each check;
//! - `corpus/signed/`: a mode byte and a payload (our claims, every DCC
//!   vector's CWT) for the `signed` target;
//! - `corpus/layers/`: the vectors' CBOR, COSE, zlib and Base45, our codes'
//!   layers, the DSC certificates and a signed trust list.
//!
//! Prints each crafted `verify` seed with the verdict it gets, so a change of
//! the fixture that makes the seeds shallow shows at once.
//!
//! Usage: `cargo run --manifest-path fuzz/Cargo.toml --example seed_corpus
//! [CORPUS_DIR [TESTDATA_DIR]]` (defaults: `fuzz/corpus`, `testdata`).

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use healthcode_codec::claims::Claims;
use healthcode_codec::compress::{Deflater, Inflater};
use healthcode_codec::cose::Sign1;
use healthcode_codec::trust::{KeyDescription, TrustList};
use healthcode_codec::{base45, SigningKey};
use healthcode_core::{CodeKind, Colour};
use healthcode_fuzz::{
    now_for, Fixture, Packer, Wrap, ED25519_ISSUER, ES256_ISSUER, NOW, REVOKED_CODE_ID,
};
use ring::rand::SystemRandom;
use serde_json::Value as Json;
use time::OffsetDateTime;

/// Writes files named after a label, skipping contents already written.
struct Corpus {
    dir: PathBuf,
    seen: HashSet<Vec<u8>>,
}

impl Corpus {
    fn new(dir: PathBuf) -> io::Result<Corpus> {
        fs::create_dir_all(&dir)?;
        Ok(Corpus {
            dir,
            seen: HashSet::new(),
        })
    }

    fn add(&mut self, label: &str, data: &[u8]) -> io::Result<()> {
        if data.is_empty() || !self.seen.insert(data.to_vec()) {
            return Ok(());
        }
        let name: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        fs::write(self.dir.join(format!("seed-{name}")), data)
    }

    fn len(&self) -> usize {
        self.seen.len()
    }
}

/// A crafted seed: label, wrapping, signer and kid, payload.
type Crafted<'a> = (&'a str, Wrap, (&'a SigningKey, &'a [u8]), Vec<u8>);

fn claims(issuer: &str, issued_at: i64, ttl: i64, code_id: [u8; 16], colour: Colour) -> Claims {
    Claims {
        issuer: issuer.to_owned(),
        issued_at,
        expires_at: issued_at + ttl,
        code_id,
        colour,
        masked_name: "张*".to_owned(),
        masked_id: "2201**********1235".to_owned(),
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

/// Base45 body → the bytes under it, and those inflated when they are zlib.
fn layers_of(code: &str) -> Vec<Vec<u8>> {
    let body = code.split_once(':').map_or(code, |(_, b)| b);
    let Ok(packed) = base45::decode(body) else {
        return Vec::new();
    };
    let mut cose = Vec::new();
    let mut out = vec![packed.clone()];
    if Inflater::default().inflate(&packed, &mut cose).is_ok() {
        out.push(cose);
    }
    out
}

fn vector_files(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            vector_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let corpus = PathBuf::from(args.next().unwrap_or_else(|| "fuzz/corpus".into()));
    let testdata = PathBuf::from(args.next().unwrap_or_else(|| "testdata".into()));
    let mut verify = Corpus::new(corpus.join("verify"))?;
    let mut signed = Corpus::new(corpus.join("signed"))?;
    let mut layers = Corpus::new(corpus.join("layers"))?;

    let fixture = Fixture::new();
    let mut verifier = fixture.verifier();
    let mut packer = Packer::default();
    let ed_kid = fixture.ed25519.public_key().kid();
    let es_kid = fixture.es256.public_key().kid();

    // --- The DCC test vectors.
    let mut files = Vec::new();
    vector_files(&testdata.join("dcc"), &mut files)?;
    let mut nl_payloads = Vec::new();
    for path in &files {
        let text = fs::read_to_string(path)?;
        let Ok(v) = serde_json::from_str::<Json>(&text) else {
            continue;
        };
        let label = path
            .strip_prefix(testdata.join("dcc"))
            .unwrap_or(path)
            .with_extension("")
            .to_string_lossy()
            .replace("/2DCode/raw/", "-");
        let field = |name: &str| v.get(name).and_then(Json::as_str).map(str::trim);
        let hex_field = |name: &str| field(name).and_then(hex_decode);
        if let Some(prefix) = field("PREFIX") {
            verify.add(&format!("dcc-{label}"), prefix.as_bytes())?;
        }
        if let Some(b45) = field("BASE45") {
            layers.add(&format!("b45-{label}"), b45.as_bytes())?;
        }
        for name in ["CBOR", "COSE", "COMPRESSED"] {
            if let Some(bytes) = hex_field(name) {
                layers.add(&format!("{}-{label}", name.to_lowercase()), &bytes)?;
            }
        }
        if let Some(cose) = hex_field("COSE") {
            let uncompressed = format!("HC1:{}", base45::encode(&cose));
            verify.add(&format!("dcc-raw-{label}"), uncompressed.as_bytes())?;
            if let Ok(sign1) = Sign1::parse(&cose) {
                for mode in [2u8, 3] {
                    let mut seed = vec![mode];
                    seed.extend_from_slice(sign1.payload);
                    signed.add(&format!("dcc-{mode}-{label}"), &seed)?;
                }
                if label.starts_with("NL-") {
                    nl_payloads.push((label.clone(), sign1.payload.to_vec()));
                }
            }
        }
        if let Some(cert) = v
            .get("TESTCTX")
            .and_then(|c| c.get("CERTIFICATE"))
            .and_then(Json::as_str)
        {
            layers.add(&format!("cert-{label}"), cert.trim().as_bytes())?;
        }
    }
    let vector_seeds = verify.len();

    // --- Our codes: one seed that stops at each check.
    let t = NOW - 60;
    let green = claims(ED25519_ISSUER, t, 300, [7; 16], Colour::Green);
    let mut traveller = claims(ES256_ISSUER, t, 600, [8; 16], Colour::Yellow);
    traveller.kind = CodeKind::Traveller;
    let mut demo = claims(ED25519_ISSUER, t, 300, [9; 16], Colour::Red);
    demo.demo = true;
    let mut exp_before_iat = claims(ED25519_ISSUER, t, 300, [7; 16], Colour::Green);
    exp_before_iat.expires_at = t - 1;
    let mut no_health_code = Vec::new();
    {
        use healthcode_codec::cbor::{write_bytes, write_int, write_map, write_text};
        write_map(&mut no_health_code, 4);
        write_int(&mut no_health_code, 1);
        write_text(&mut no_health_code, ED25519_ISSUER);
        write_int(&mut no_health_code, 4);
        write_int(&mut no_health_code, t + 300);
        write_int(&mut no_health_code, 6);
        write_int(&mut no_health_code, t);
        write_int(&mut no_health_code, 7);
        write_bytes(&mut no_health_code, &[7; 16]);
    }
    let stranger = SigningKey::ed25519_from_seed(&[66; 32]).map_err(io::Error::other)?;
    let stranger_kid = stranger.public_key().kid();
    let key_not_valid_at = 1_811_808_000; // 2027-06-01, after the keys' validity
    let dsc = (&fixture.dsc_key, &fixture.dsc.kid[..]);
    let nl = |prefix: &str| {
        nl_payloads
            .iter()
            .find(|(l, _)| l.contains(prefix))
            .map(|(_, p)| p.clone())
            .unwrap_or_default()
    };
    let hcp1 = Wrap::HealthCode;
    let ed = (&fixture.ed25519, &ed_kid[..]);
    let es = (&fixture.es256, &es_kid[..]);
    let crafted: Vec<Crafted> = vec![
        ("hcp1-valid-ed25519-green", hcp1, ed, encoded(&green)),
        ("hcp1-valid-es256-traveller", hcp1, es, encoded(&traveller)),
        ("hcp1-valid-demo-red", hcp1, ed, encoded(&demo)),
        (
            "hcp1-expired",
            hcp1,
            ed,
            encoded(&claims(
                ED25519_ISSUER,
                NOW - 3600,
                300,
                [7; 16],
                Colour::Green,
            )),
        ),
        (
            "hcp1-not-yet-valid",
            hcp1,
            ed,
            encoded(&claims(
                ED25519_ISSUER,
                NOW + 3600,
                300,
                [7; 16],
                Colour::Green,
            )),
        ),
        (
            "hcp1-revoked",
            hcp1,
            ed,
            encoded(&claims(
                ED25519_ISSUER,
                t,
                300,
                REVOKED_CODE_ID,
                Colour::Green,
            )),
        ),
        (
            "hcp1-issuer-mismatch",
            hcp1,
            ed,
            encoded(&claims(ES256_ISSUER, t, 300, [7; 16], Colour::Green)),
        ),
        (
            "hcp1-key-not-valid",
            hcp1,
            ed,
            encoded(&claims(
                ED25519_ISSUER,
                key_not_valid_at,
                300,
                [7; 16],
                Colour::Green,
            )),
        ),
        ("hcp1-bad-claims-exp", hcp1, ed, encoded(&exp_before_iat)),
        ("hcp1-bad-claims-missing", hcp1, ed, no_health_code.clone()),
        (
            "hcp1-unknown-key",
            hcp1,
            (&stranger, &stranger_kid[..]),
            encoded(&green),
        ),
        // ES256 signature under the Ed25519 key's kid.
        (
            "hcp1-bad-signature",
            hcp1,
            (&fixture.es256, &ed_kid[..]),
            encoded(&green),
        ),
        // Our code under the DCC prefix: no DCC key has this kid.
        ("hc1-our-code", Wrap::Hc1Uncompressed, ed, encoded(&green)),
        (
            "hc1-valid-vaccination",
            Wrap::Hc1Uncompressed,
            dsc,
            nl("vaccination"),
        ),
        ("hc1-valid-test-zlib", Wrap::Hc1, dsc, nl("test")),
        (
            "hc1-wrong-key-usage",
            Wrap::Hc1Uncompressed,
            dsc,
            nl("recovery"),
        ),
    ];
    println!("crafted seeds for the verify target (verdict at the fuzz clock):");
    for (label, wrap, (key, kid), payload) in &crafted {
        let code = packer.pack(*wrap, key, kid, payload);
        let verdict = match verifier.verify(&code, now_for(&code)) {
            Ok(_) => "valid".to_owned(),
            Err(r) => r.reason.to_string(),
        };
        println!("  {label:<28} {verdict}");
        verify.add(label, code.as_bytes())?;
        for (i, layer) in layers_of(&code).iter().enumerate() {
            layers.add(&format!("{label}-{i}"), layer)?;
        }
        layers.add(&format!("{label}-payload"), payload)?;
        if *wrap == Wrap::HealthCode {
            let mode = if std::ptr::eq(*key, &fixture.es256) {
                1
            } else {
                0
            };
            let mut seed = vec![mode];
            seed.extend_from_slice(payload);
            signed.add(label, &seed)?;
        }
    }
    let golden = fs::read_to_string(testdata.join("golden/healthcode-v1.txt"))?;
    verify.add("golden", golden.trim().as_bytes())?;

    // --- Other layers: certificates as DER, a signed trust list.
    layers.add("cert-fuzz-dsc", &fixture.dsc.der)?;
    for (i, cert) in fixture.dcc_certificates.iter().enumerate() {
        layers.add(&format!("cert-der-{i}"), &cert.der)?;
    }
    let from = OffsetDateTime::from_unix_timestamp(healthcode_fuzz::KEY_VALID_FROM)
        .map_err(io::Error::other)?;
    let to = OffsetDateTime::from_unix_timestamp(healthcode_fuzz::KEY_VALID_TO)
        .map_err(io::Error::other)?;
    let publisher =
        KeyDescription::describe("publisher", fixture.ed25519.public_key(), from, to, true);
    let entry = KeyDescription::describe(ES256_ISSUER, fixture.es256.public_key(), from, to, false);
    let list = TrustList::new(publisher, from, vec![entry])
        .sign(&fixture.ed25519, &SystemRandom::new())
        .map_err(io::Error::other)?;
    layers.add("trust-list", list.to_json().as_bytes())?;
    let mut packed = Vec::new();
    Deflater::default().deflate(&encoded(&green), &mut packed);
    layers.add("zlib-claims", &packed)?;

    let mut verdicts = std::collections::BTreeMap::<String, usize>::new();
    for seed in &verify.seen {
        let text = String::from_utf8_lossy(seed);
        let verdict = match verifier.verify(&text, now_for(&text)) {
            Ok(_) => "valid".to_owned(),
            Err(r) => r.reason.to_string(),
        };
        *verdicts.entry(verdict).or_default() += 1;
    }
    println!("verdicts over all verify seeds: {verdicts:?}");
    println!(
        "verify: {} seeds ({vector_seeds} from the DCC vectors), signed: {}, layers: {}, under {}",
        verify.len(),
        signed.len(),
        layers.len(),
        corpus.display()
    );
    Ok(())
}

fn hex_decode(h: &str) -> Option<Vec<u8>> {
    if !h.len().is_multiple_of(2) {
        return None;
    }
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
        .collect()
}
