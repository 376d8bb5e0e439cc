//! Every EU DCC test vector in `testdata/dcc`, every `EXPECTED*` flag that
//! applies, checked with this crate's own stack, layer by layer and then
//! as one string → verdict pipeline. Mismatches are allowed only where
//! `known_issues.csv` lists them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use healthcode_codec::cbor::Value;
use healthcode_codec::compress::Inflater;
use healthcode_codec::cose::Sign1;
use healthcode_codec::dcc::{self, schema, DccPayload, DscCertificate};
use healthcode_codec::verify::{split_prefix, Format, Reason, Verifier};
use healthcode_codec::{base45, qr, TrustStore};
use serde_json::Value as Json;

use crate::json_equiv::{equivalent, parse_instant};

const FLAGS: [&str; 13] = [
    "EXPECTEDPICTUREDECODE",
    "EXPECTEDUNPREFIX",
    "EXPECTEDB45DECODE",
    "EXPECTEDCOMPRESSION",
    "EXPECTEDVERIFY",
    "EXPECTEDEXPIRATIONCHECK",
    "EXPECTEDKEYUSAGE",
    "EXPECTEDDECODE",
    "EXPECTEDVALIDJSON",
    "EXPECTEDSCHEMAVALIDATION",
    "EXPECTEDVALIDOBJECT",
    "EXPECTEDENCODE",
    "PIPELINE",
];

/// Upstream test names (as used in known_issues.csv) → our flags.
fn flags_of_upstream_test(test: &str) -> &'static [&'static str] {
    match test {
        "test_picture_decode" => &["EXPECTEDPICTUREDECODE"],
        "test_un_prefix" => &["EXPECTEDUNPREFIX"],
        "test_b45decode" => &["EXPECTEDB45DECODE"],
        "test_compression" => &["EXPECTEDCOMPRESSION"],
        "test_verification_check" => &["EXPECTEDVERIFY", "PIPELINE"],
        "test_expiration_check" => &["EXPECTEDEXPIRATIONCHECK", "PIPELINE"],
        "test_expected_key_usage" => &["EXPECTEDKEYUSAGE", "PIPELINE"],
        "test_cose_json" | "test_cose_cbor" => &["EXPECTEDDECODE"],
        "test_cbor_json" => &["EXPECTEDVALIDJSON"],
        // The schema check of the decoded COSE payload; EXPECTEDVALIDOBJECT is
        // the same check on the JSON input (upstream has no test of its own
        // for it), so a vector's schema issue covers both.
        "test_cose_schema" => &["EXPECTEDSCHEMAVALIDATION", "EXPECTEDVALIDOBJECT"],
        _ => &[],
    }
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/dcc")
}

struct KnownIssue {
    flags: &'static [&'static str],
    country: String,
    test_set: String,
    reason: String,
}

fn known_issues() -> Vec<KnownIssue> {
    let text = fs::read_to_string(testdata().join("known_issues.csv")).expect("known_issues.csv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.splitn(4, ',').collect();
            KnownIssue {
                flags: flags_of_upstream_test(cols[0]),
                country: cols[1].to_owned(),
                test_set: cols.get(2).copied().unwrap_or("").to_owned(),
                reason: cols.get(3).copied().unwrap_or("").to_owned(),
            }
        })
        .collect()
}

fn vector_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read testdata")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            vector_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// A test vector's fields.
struct Vector {
    json: Json,
}

impl Vector {
    fn field(&self, name: &str) -> Option<&str> {
        self.json.get(name).and_then(Json::as_str)
    }

    fn hex_field(&self, name: &str) -> Option<Vec<u8>> {
        self.field(name).and_then(|h| hex::decode(h.trim()).ok())
    }

    fn ctx(&self, name: &str) -> Option<&str> {
        self.json.get("TESTCTX")?.get(name)?.as_str()
    }

    fn certificate(&self) -> Result<DscCertificate, String> {
        let text = self.ctx("CERTIFICATE").ok_or("no certificate")?;
        DscCertificate::parse(text.as_bytes()).map_err(|e| e.to_string())
    }

    fn clock(&self) -> Result<i64, String> {
        let text = self.ctx("VALIDATIONCLOCK").ok_or("no VALIDATIONCLOCK")?;
        parse_instant(text)
            .map(|t| t.unix_timestamp())
            .ok_or_else(|| format!("unreadable VALIDATIONCLOCK {text:?}"))
    }

    fn payload(&self) -> Result<DccPayload, String> {
        let cose = self.hex_field("COSE").ok_or("COSE is not hex")?;
        let sign1 = Sign1::parse(&cose).map_err(|e| e.to_string())?;
        DccPayload::decode(sign1.payload).map_err(|e| e.to_string())
    }
}

/// Runs the step behind `flag`: Some(Ok(())) succeeded, Some(Err) failed,
/// None when the vector lacks the fields the step needs.
fn run_step(flag: &str, v: &Vector) -> Option<Result<(), String>> {
    let has = |names: &[&str]| names.iter().all(|n| v.json.get(*n).is_some());
    match flag {
        "EXPECTEDPICTUREDECODE" => {
            if !has(&["2DCODE", "PREFIX"]) {
                return None;
            }
            Some((|| {
                let png = B64
                    .decode(v.field("2DCODE").ok_or("2DCODE not text")?.trim())
                    .map_err(|e| format!("2DCODE base64: {e}"))?;
                let texts = qr::decode_image(&png).map_err(|e| e.to_string())?;
                let prefix = v.field("PREFIX").unwrap_or_default();
                if texts.iter().any(|t| t == prefix) {
                    Ok(())
                } else {
                    Err(format!(
                        "QR holds {:?}",
                        texts.first().map(|t| &t[..t.len().min(20)])
                    ))
                }
            })())
        }
        "EXPECTEDUNPREFIX" => {
            if !has(&["BASE45", "PREFIX"]) {
                return None;
            }
            let prefix = v.field("PREFIX").unwrap_or_default();
            Some(match split_prefix(prefix) {
                Some((Format::Hc1, body)) if Some(body) == v.field("BASE45") => Ok(()),
                Some((Format::Hc1, _)) => Err("body differs from BASE45".into()),
                _ => Err("no HC1: prefix".into()),
            })
        }
        "EXPECTEDB45DECODE" => {
            if !has(&["BASE45", "COMPRESSED"]) {
                return None;
            }
            Some((|| {
                let decoded = base45::decode(v.field("BASE45").unwrap_or_default())
                    .map_err(|e| e.to_string())?;
                if Some(decoded) == v.hex_field("COMPRESSED") {
                    Ok(())
                } else {
                    Err("decodes to other bytes than COMPRESSED".into())
                }
            })())
        }
        "EXPECTEDCOMPRESSION" => {
            if !has(&["COSE", "COMPRESSED"]) {
                return None;
            }
            Some((|| {
                let packed = v.hex_field("COMPRESSED").ok_or("COMPRESSED is not hex")?;
                let mut out = Vec::new();
                Inflater::default()
                    .inflate(&packed, &mut out)
                    .map_err(|e| e.to_string())?;
                if Some(out) == v.hex_field("COSE") {
                    Ok(())
                } else {
                    Err("inflates to other bytes than COSE".into())
                }
            })())
        }
        "EXPECTEDVERIFY" => {
            if !has(&["COSE"]) || v.ctx("CERTIFICATE").is_none() {
                return None;
            }
            Some((|| {
                let cert = v.certificate()?;
                let cose = v.hex_field("COSE").ok_or("COSE is not hex")?;
                let sign1 = Sign1::parse(&cose).map_err(|e| e.to_string())?;
                if sign1.kid != Some(&cert.kid[..]) {
                    return Err("kid does not match the certificate".into());
                }
                let mut to_verify = Vec::new();
                healthcode_codec::cose::sig_structure(
                    sign1.protected,
                    sign1.payload,
                    &mut to_verify,
                );
                let alg = sign1
                    .alg
                    .and_then(healthcode_codec::Algorithm::from_cose_id)
                    .ok_or("unknown algorithm")?;
                if alg != cert.public_key.algorithm() {
                    return Err(format!("{alg} does not fit the certificate key"));
                }
                if cert.public_key.verify(&to_verify, sign1.signature) {
                    Ok(())
                } else {
                    Err("signature does not verify".into())
                }
            })())
        }
        "EXPECTEDEXPIRATIONCHECK" => {
            if !has(&["COSE"]) || v.ctx("CERTIFICATE").is_none() {
                return None;
            }
            Some((|| {
                let cert = v.certificate()?;
                let p = v.payload()?;
                let clock = v.clock()?;
                let ok = cert.not_before <= p.issued_at
                    && p.issued_at <= clock
                    && clock <= p.expires_at
                    && p.expires_at <= cert.not_after;
                if ok {
                    Ok(())
                } else {
                    Err(format!(
                        "cert {}..{}, iat {}, clock {clock}, exp {}",
                        cert.not_before, cert.not_after, p.issued_at, p.expires_at
                    ))
                }
            })())
        }
        "EXPECTEDKEYUSAGE" => {
            if !has(&["COSE"]) || v.ctx("CERTIFICATE").is_none() {
                return None;
            }
            Some((|| {
                let cert = v.certificate()?;
                let p = v.payload()?;
                let t = p.cert_type.ok_or("not exactly one of v, t, r")?;
                if cert.usage.allows(t) {
                    Ok(())
                } else {
                    Err(format!("certificate may not sign {}", t.as_str()))
                }
            })())
        }
        "EXPECTEDDECODE" => {
            if !has(&["COSE"]) || !(has(&["JSON"]) || has(&["CBOR"])) {
                return None;
            }
            Some((|| {
                let p = v.payload()?;
                let hcert = dcc::to_json(&p.hcert);
                if let Some(expected) = v.json.get("JSON") {
                    if !equivalent(&hcert, expected) {
                        return Err("COSE payload differs from JSON".into());
                    }
                }
                if let Some(cbor) = v.hex_field("CBOR") {
                    let value = Value::decode(&cbor).map_err(|e| e.to_string())?;
                    let cbor_json = dcc::to_json(hcert_or_self(&value));
                    if !equivalent(&cbor_json, &hcert) {
                        return Err("CBOR differs from the COSE payload".into());
                    }
                }
                Ok(())
            })())
        }
        "EXPECTEDVALIDJSON" => {
            if !has(&["CBOR", "JSON"]) {
                return None;
            }
            Some((|| {
                let cbor = v.hex_field("CBOR").ok_or("CBOR is not hex")?;
                let value = Value::decode(&cbor).map_err(|e| e.to_string())?;
                if equivalent(&dcc::to_json(hcert_or_self(&value)), &v.json["JSON"]) {
                    Ok(())
                } else {
                    Err("CBOR differs from JSON".into())
                }
            })())
        }
        "EXPECTEDSCHEMAVALIDATION" => {
            if !has(&["COSE"]) {
                return None;
            }
            Some((|| {
                let p = v.payload()?;
                let problems = schema::validate(&p.hcert_json());
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(problems.join("; "))
                }
            })())
        }
        "EXPECTEDVALIDOBJECT" => {
            if !has(&["JSON"]) {
                return None;
            }
            let problems = schema::validate(&v.json["JSON"]);
            Some(if problems.is_empty() {
                Ok(())
            } else {
                Err(problems.join("; "))
            })
        }
        "EXPECTEDENCODE" => {
            if !has(&["JSON", "CBOR"]) {
                return None;
            }
            Some((|| {
                let mut ours = Vec::new();
                json_to_cbor(&v.json["JSON"]).encode(&mut ours);
                let theirs = v.hex_field("CBOR").ok_or("CBOR is not hex")?;
                let theirs = Value::decode(&theirs).map_err(|e| e.to_string())?;
                let ours = Value::decode(&ours).map_err(|e| e.to_string())?;
                if equivalent(&dcc::to_json(&ours), &dcc::to_json(hcert_or_self(&theirs))) {
                    Ok(())
                } else {
                    Err("our encoding of JSON differs from CBOR".into())
                }
            })())
        }
        _ => None,
    }
}

/// The `CBOR` field holds either the certificate or the whole CWT.
fn hcert_or_self(v: &Value) -> &Value {
    v.map_get_int(dcc::CLAIM_HCERT)
        .and_then(|c| c.map_get_int(1))
        .unwrap_or(v)
}

fn json_to_cbor(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Value::Unsigned(u),
            (None, Some(i)) => Value::Negative((-1 - i) as u64),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(json_to_cbor).collect()),
        Json::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (Value::Text(k.clone()), json_to_cbor(v)))
                .collect(),
        ),
    }
}

/// What the whole pipeline (PREFIX → verdict at VALIDATIONCLOCK, the
/// vector's certificate the only trusted key) may answer, from the flags:
/// the first step flagged false must be the refusal's reason; with every
/// flagged step true the code must pass, except for checks the vector does
/// not flag (time, key usage), whose refusals stay acceptable. None when
/// the vector does not say whether its signature verifies.
struct PipelineExpectation {
    valid_allowed: bool,
    reasons: Vec<Reason>,
}

fn pipeline_expectation(expected: &BTreeMap<String, bool>) -> Option<PipelineExpectation> {
    expected.get("EXPECTEDVERIFY")?;
    let steps: [(&str, &[Reason]); 6] = [
        ("EXPECTEDUNPREFIX", &[Reason::BadPrefix]),
        ("EXPECTEDB45DECODE", &[Reason::BadBase45]),
        ("EXPECTEDCOMPRESSION", &[Reason::BadCompression]),
        (
            "EXPECTEDVERIFY",
            &[
                Reason::BadCose,
                Reason::UnsupportedAlgorithm,
                Reason::UnknownKey,
                Reason::BadSignature,
            ],
        ),
        (
            "EXPECTEDEXPIRATIONCHECK",
            &[Reason::Expired, Reason::NotYetValid, Reason::KeyNotValid],
        ),
        ("EXPECTEDKEYUSAGE", &[Reason::WrongKeyUsage]),
    ];
    let mut unflagged = Vec::new();
    for (flag, reasons) in steps {
        match expected.get(flag) {
            Some(false) => {
                return Some(PipelineExpectation {
                    valid_allowed: false,
                    reasons: reasons.to_vec(),
                })
            }
            Some(true) => {}
            None if flag == "EXPECTEDEXPIRATIONCHECK" || flag == "EXPECTEDKEYUSAGE" => {
                unflagged.extend_from_slice(reasons)
            }
            None => {}
        }
    }
    Some(PipelineExpectation {
        valid_allowed: true,
        reasons: unflagged,
    })
}

fn run_pipeline(
    v: &Vector,
    expect: &PipelineExpectation,
    accepted: &mut usize,
) -> Option<Result<(), String>> {
    let prefix = v.field("PREFIX")?;
    let cert = match v.certificate() {
        Ok(c) => c,
        Err(e) => return Some(if expect.valid_allowed { Err(e) } else { Ok(()) }),
    };
    let clock = v.clock().ok()?;
    let mut store = TrustStore::new();
    store.add_dcc_certificate(&cert);
    let mut verifier = Verifier::new(store);
    Some(match verifier.verify(prefix, clock) {
        Ok(_) if expect.valid_allowed => {
            *accepted += 1;
            Ok(())
        }
        Ok(_) => Err(format!("accepted, expected one of {:?}", expect.reasons)),
        Err(r) if expect.reasons.contains(&r.reason) => Ok(()),
        Err(r) => Err(format!(
            "refused for {r}, expected {}one of {:?}",
            if expect.valid_allowed {
                "valid or "
            } else {
                ""
            },
            expect.reasons
        )),
    })
}

/// The picture-decoding step of every vector that asks for it, computed on
/// all cores; indexed like `files`.
fn decode_pictures_in_parallel(files: &[PathBuf]) -> Vec<Option<Result<(), String>>> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|path| {
                            let json =
                                serde_json::from_str(&fs::read_to_string(path).ok()?).ok()?;
                            let vector = Vector { json };
                            vector.json["EXPECTEDRESULTS"].get("EXPECTEDPICTUREDECODE")?;
                            run_step("EXPECTEDPICTUREDECODE", &vector)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("picture thread"))
            .collect()
    })
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    known: usize,
    skipped: usize,
}

#[test]
fn dcc_test_vectors() {
    let root = testdata();
    let mut files = Vec::new();
    vector_files(&root, &mut files);
    assert!(
        files.len() > 400,
        "expected the DCC vectors under {}",
        root.display()
    );
    let issues = known_issues();
    let mut tallies: BTreeMap<&str, Tally> = FLAGS.iter().map(|f| (*f, Tally::default())).collect();
    let mut failures = Vec::new();
    let mut known_seen = Vec::new();
    let mut ignored_keys = BTreeMap::<String, usize>::new();
    let mut pipeline_accepted = 0;

    // Reading QR pictures dominates the run: do those first, on every core.
    let mut pictures = decode_pictures_in_parallel(&files);
    for (index, path) in files.iter().enumerate() {
        let rel = path.strip_prefix(&root).unwrap_or(path);
        let country = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        let test_set = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = fs::read_to_string(path).unwrap();
        let vector = Vector {
            json: serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", rel.display())),
        };
        let expected: BTreeMap<String, bool> = vector.json["EXPECTEDRESULTS"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| v.as_bool().map(|b| (k.clone(), b)))
                    .collect()
            })
            .unwrap_or_default();
        for key in expected.keys() {
            if !FLAGS.contains(&key.as_str()) {
                *ignored_keys.entry(key.clone()).or_default() += 1;
            }
        }
        let known_for = |flag: &str| {
            issues.iter().find(|i| {
                i.flags.contains(&flag)
                    && i.country == country
                    && (i.test_set.is_empty() || i.test_set == test_set)
            })
        };
        let mut record = |flag: &'static str, outcome: Option<Result<(), String>>, want: bool| {
            let tally = tallies.get_mut(flag).unwrap();
            let Some(outcome) = outcome else {
                tally.skipped += 1;
                return;
            };
            if outcome.is_ok() == want {
                tally.passed += 1;
            } else if let Some(issue) = known_for(flag) {
                tally.known += 1;
                known_seen.push(format!(
                    "{flag} {}: known issue {}",
                    rel.display(),
                    issue.reason
                ));
            } else {
                tally.failed += 1;
                failures.push(format!(
                    "{flag} {}: expected {want}, got {outcome:?}",
                    rel.display()
                ));
            }
        };
        for flag in &FLAGS[..FLAGS.len() - 1] {
            if let Some(&want) = expected.get(*flag) {
                let outcome = if *flag == "EXPECTEDPICTUREDECODE" {
                    pictures[index].take()
                } else {
                    run_step(flag, &vector)
                };
                record(flag, outcome, want);
            }
        }
        match pipeline_expectation(&expected) {
            Some(expect) => {
                let outcome = run_pipeline(&vector, &expect, &mut pipeline_accepted);
                // The pipeline's outcome is compared with its own expectation.
                record("PIPELINE", outcome, true);
            }
            None => tallies.get_mut("PIPELINE").unwrap().skipped += 1,
        }
    }

    println!(
        "DCC test vectors: {} files under {}",
        files.len(),
        root.display()
    );
    for (flag, t) in &tallies {
        println!(
            "  {flag:<26} {:>4} passed, {:>3} failed, {:>3} known issues, {:>3} not applicable",
            t.passed, t.failed, t.known, t.skipped
        );
    }
    println!("  (the pipeline accepted {pipeline_accepted} codes as valid end to end)");
    for (key, n) in &ignored_keys {
        println!("  (not a defined flag, not checked: {key} in {n} files)");
    }
    for line in &known_seen {
        println!("  {line}");
    }
    for line in &failures {
        println!("  MISMATCH {line}");
    }
    assert!(
        failures.is_empty(),
        "{} mismatches outside known issues",
        failures.len()
    );
}

/// `--dcc-cert` accepts DER, PEM and bare base64 DER alike.
#[test]
fn signer_certificate_encodings() {
    let text = fs::read_to_string(testdata().join("DE/2DCode/raw/1.json")).unwrap();
    let v: Json = serde_json::from_str(&text).unwrap();
    let b64 = v["TESTCTX"]["CERTIFICATE"].as_str().unwrap();
    let der = B64.decode(b64).unwrap();
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        b64.as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let from_b64 = DscCertificate::parse(b64.as_bytes()).unwrap();
    let from_der = DscCertificate::parse(&der).unwrap();
    let from_pem = DscCertificate::parse(pem.as_bytes()).unwrap();
    assert_eq!(from_b64.kid, from_der.kid);
    assert_eq!(from_pem.kid, from_der.kid);
    assert_eq!(
        from_der.public_key.algorithm(),
        healthcode_codec::Algorithm::Es256
    );
    assert!(DscCertificate::parse(b"not a certificate").is_err());
    assert!(DscCertificate::parse(&der[..der.len() / 2]).is_err());
}
