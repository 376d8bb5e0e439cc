//! The CLI contract, driven through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn healthcode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_healthcode"))
        .args(args)
        .output()
        .expect("run healthcode")
}

fn with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_healthcode"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

/// A usage error: exit 2 and one clear line on stderr, never a backtrace.
fn assert_usage_error(o: &Output, mentions: &str) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "stdout: {}\nstderr: {err}",
        stdout(o)
    );
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(lines.len(), 1, "one error line expected: {err}");
    assert!(
        err.contains(mentions),
        "{err:?} should mention {mentions:?}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    issuer_key: PathBuf,
    trust: PathBuf,
    fingerprint: String,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let keys = root.join("keys");
    let gen = |issuer: &str, extra: &[&str]| {
        let mut args = vec![
            "keys",
            "generate",
            "--issuer",
            issuer,
            "--out",
            keys.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = healthcode(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        json(&o)
    };
    let issuer = gen(
        "cn-22",
        &[
            "--valid-from",
            "2026-01-01T00:00:00Z",
            "--valid-for",
            "400d",
        ],
    );
    let publisher = gen("cn-22-publisher", &["--valid-from", "2026-01-01T00:00:00Z"]);
    let trust = root.join("trust.json");
    let o = healthcode(&[
        "keys",
        "trust-list",
        "--publisher-key",
        publisher["private_key_file"].as_str().unwrap(),
        "--out",
        trust.to_str().unwrap(),
        issuer["public_key_file"].as_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&o)["publisher_fingerprint"], publisher["fingerprint"]);
    Setup {
        issuer_key: PathBuf::from(issuer["private_key_file"].as_str().unwrap()),
        fingerprint: publisher["fingerprint"].as_str().unwrap().to_owned(),
        trust,
        root,
        _dir: dir,
    }
}

fn issue(s: &Setup, extra: &[&str]) -> Output {
    let mut args = vec![
        "issue",
        "--key",
        s.issuer_key.to_str().unwrap(),
        "--colour",
        "green",
        "--name",
        "张三",
        "--id",
        "220102199003071235",
        "--ttl",
        "5m",
        "--at",
        "2026-11-22T08:00:00Z",
    ];
    args.extend_from_slice(extra);
    healthcode(&args)
}

#[test]
fn issue_and_verify_string_png_svg_and_stdin() {
    let s = setup();
    let png = s.root.join("code.png");
    let svg = s.root.join("code.svg");
    let o = issue(
        &s,
        &[
            "--png",
            png.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let code = stdout(&o).trim().to_owned();
    assert!(code.starts_with("HCP1:"), "{code}");
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));

    let trust = s.trust.to_str().unwrap();
    let at = "2026-11-22T08:01:00Z";
    for input in [code.as_str(), png.to_str().unwrap()] {
        let o = healthcode(&[
            "verify",
            "--trust",
            trust,
            "--trust-pin",
            &s.fingerprint,
            "--at",
            at,
            "--json",
            input,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let r = json(&o);
        assert_eq!(r["verdict"], "valid");
        assert_eq!(r["reason"], "ok");
        assert_eq!(r["format"], "healthcode");
        assert_eq!(r["issuer"], "cn-22");
        assert_eq!(r["colour"], "green");
        assert_eq!(r["expires_at"], "2026-11-22T08:05:00Z");
        assert_eq!(r["claims"]["name"], "张*");
        assert_eq!(r["claims"]["id"], "2201**********1235");
        assert!(r["message"]["zh"].as_str().unwrap().contains("有效"));
    }
    let o = with_stdin(
        &["verify", "--trust", trust, "--at", at, "-"],
        &format!("{code}\n"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("VALID"), "{}", stdout(&o));

    // Stale: exit 1 with reason expired, claims still shown.
    let o = healthcode(&[
        "verify",
        "--trust",
        trust,
        "--at",
        "2026-11-22T09:00:00Z",
        "--json",
        &code,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let r = json(&o);
    assert_eq!(
        (r["verdict"].as_str(), r["reason"].as_str()),
        (Some("invalid"), Some("expired"))
    );
    assert_eq!(r["colour"], "green");
}

#[test]
fn invalid_codes_exit_1_with_stable_reasons() {
    let s = setup();
    let code = stdout(&issue(&s, &[])).trim().to_owned();
    let trust = s.trust.to_str().unwrap();
    let at = "2026-11-22T08:01:00Z";
    let mut altered: Vec<char> = code.chars().collect();
    altered[60] = if altered[60] == '0' { '1' } else { '0' };
    let altered: String = altered.into_iter().collect();
    let cases = [
        ("HELLO", "bad_prefix"),
        ("HCP1:abc", "bad_base45"),
        (altered.as_str(), "bad_compression"),
        (code.as_str(), "unknown_key"),
    ];
    for (i, (input, reason)) in cases.iter().enumerate() {
        let mut args = vec!["verify", "--at", at, "--json", input];
        if i < 3 {
            args.splice(1..1, ["--trust", trust]);
        }
        let o = healthcode(&args);
        assert_eq!(o.status.code(), Some(1), "{input}: {}", stderr(&o));
        let r = json(&o);
        assert_eq!(r["verdict"], "invalid");
        assert!(
            r["reason"] == *reason || (*reason == "bad_compression" && r["reason"] != "ok"),
            "{input}: {r}"
        );
        assert!(
            r["claims"].is_null(),
            "unauthenticated content must not be shown"
        );
    }
}

#[test]
fn revocation_list_via_cli() {
    let s = setup();
    let o = issue(
        &s,
        &["--json", "--code-id", "00112233445566778899aabbccddeeff"],
    );
    let issued = json(&o);
    let revoked = s.root.join("revoked.json");
    let o = healthcode(&[
        "keys",
        "revoke",
        "--key",
        s.issuer_key.to_str().unwrap(),
        "--out",
        revoked.to_str().unwrap(),
        "00112233445566778899aabbccddeeff",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = healthcode(&[
        "verify",
        "--trust",
        s.trust.to_str().unwrap(),
        "--revoked",
        revoked.to_str().unwrap(),
        "--at",
        "2026-11-22T08:01:00Z",
        "--json",
        issued["code"].as_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json(&o)["reason"], "revoked");
}

#[test]
fn eu_dcc_with_a_signer_certificate() {
    let vector: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/dcc/DE/2DCode/raw/1.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("dsc.b64");
    std::fs::write(&cert, vector["TESTCTX"]["CERTIFICATE"].as_str().unwrap()).unwrap();
    let o = healthcode(&[
        "verify",
        "--dcc-cert",
        cert.to_str().unwrap(),
        "--at",
        "2021-06-01T20:00:00+02:00",
        "--json",
        vector["PREFIX"].as_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let r = json(&o);
    assert_eq!(r["format"], "hc1");
    assert_eq!(r["alg"], "ES256");
    assert_eq!(r["claims"]["type"], "vaccination");
    assert_eq!(r["claims"]["hcert"]["nam"]["fnt"], "MUSTERMANN");
    // A year later the certificate has expired.
    let o = healthcode(&[
        "verify",
        "--dcc-cert",
        cert.to_str().unwrap(),
        "--at",
        "2022-06-01T00:00:00Z",
        "--json",
        vector["PREFIX"].as_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json(&o)["reason"], "expired");
}

#[test]
fn bad_input_is_one_clear_line() {
    let s = setup();
    let trust = s.trust.to_str().unwrap();
    let key = s.issuer_key.to_str().unwrap();
    let garbage = s.root.join("garbage.json");
    std::fs::write(&garbage, "{not json").unwrap();
    let g = garbage.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["verify", "--trust", "/no/such/file", "HCP1:X"],
            "/no/such/file",
        ),
        (vec!["verify", "--trust", g, "HCP1:X"], "trust list"),
        (
            vec!["verify", "--trust", trust, "--trust-pin", "00", "HCP1:X"],
            "fingerprint",
        ),
        (vec!["verify", "--dcc-cert", g, "HC1:X"], "DCC certificate"),
        (vec!["verify", "--at", "tomorrow", "HCP1:X"], "RFC 3339"),
        (vec!["verify", "missing-picture.png"], "no such file"),
        (
            vec![
                "issue", "--key", key, "--colour", "purple", "--name", "a", "--id", "b",
            ],
            "colour",
        ),
        (
            vec![
                "issue", "--key", key, "--colour", "red", "--name", "a", "--id", "b", "--ttl", "5x",
            ],
            "ttl",
        ),
        (
            vec![
                "issue", "--key", key, "--colour", "red", "--name", "a", "--id", "b", "--ttl",
                "90d",
            ],
            "31 days",
        ),
        (
            vec![
                "issue",
                "--key",
                key,
                "--colour",
                "red",
                "--name",
                "a",
                "--id",
                "b",
                "--code-id",
                "xyz",
            ],
            "code id",
        ),
        (
            vec![
                "issue", "--key", trust, "--colour", "red", "--name", "a", "--id", "b",
            ],
            "key file",
        ),
        (
            vec![
                "issue",
                "--key",
                key,
                "--colour",
                "red",
                "--name",
                "a",
                "--id",
                "b",
                "--at",
                "2031-01-01T00:00:00Z",
            ],
            "not valid",
        ),
        (
            vec!["keys", "generate", "--issuer", "bad issuer!", "--out", "x"],
            "--issuer",
        ),
        (
            vec![
                "keys", "generate", "--issuer", "x", "--out", "x", "--alg", "rsa",
            ],
            "algorithm",
        ),
        (
            vec![
                "keys",
                "trust-list",
                "--publisher-key",
                key,
                "--out",
                "x",
                g,
            ],
            "garbage.json",
        ),
        (
            vec!["keys", "revoke", "--key", key, "--out", "x", "123"],
            "code id",
        ),
        (vec!["verify"], "INPUT"),
        (vec!["frobnicate"], "frobnicate"),
    ];
    for (args, mentions) in cases {
        let o = healthcode(&args);
        assert_usage_error(&o, mentions);
    }
    // A resident ID with a wrong check digit is issued, with a warning.
    let o = issue(&s, &[]);
    assert!(o.status.success());
    let o = healthcode(&[
        "issue",
        "--key",
        key,
        "--colour",
        "red",
        "--name",
        "张三",
        "--id",
        "220102199003071234",
        "--at",
        "2026-11-22T08:00:00Z",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("check character"), "{}", stderr(&o));
}

#[test]
fn demo_writes_verifiable_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = healthcode(&["demo-files", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("DEMO"));
    assert_eq!(text.matches("VALID 有效").count(), 6, "{text}");
    assert!(
        text.contains("(expired)") && text.contains("(unknown_key)"),
        "{text}"
    );
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(page.contains("not a real health code") && page.contains("并非真实健康码"));
    let trust = out.join("trust-list.json");
    let red = out.join("code-4-red.png");
    let args = [
        "verify",
        "--trust",
        trust.to_str().unwrap(),
        "--json",
        red.to_str().unwrap(),
    ];
    // A DEMO code is refused unless the checkpoint is told to accept demos.
    let o = healthcode(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(json(&o)["reason"], "demo_issuer");
    let o = healthcode(&[&args[..1], &["--accept-demo"], &args[1..]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&o);
    assert_eq!(
        (r["colour"].as_str(), r["demo"].as_bool()),
        (Some("red"), Some(true))
    );
}

mod rules {
    use super::*;
    use healthcode_core::facts::{Event, EventId, Fact, Source, Temperature};
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    fn write(dir: &Path, name: &str, text: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    #[test]
    fn eval_and_validate() {
        let dir = tempfile::tempdir().unwrap();
        let expr = write(
            dir.path(),
            "expr.json",
            r#"{"if": [{">=": [{"var": "tenths"}, 373]}, "yellow", "green"]}"#,
        );
        let data = write(dir.path(), "data.json", r#"{"tenths": 378}"#);
        let o = healthcode(&["rules", "eval", "--expr", &expr, "--data", &data]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(json(&o), Value::String("yellow".into()));
        let o = healthcode(&["rules", "validate", &expr]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

        let bad = write(
            dir.path(),
            "bad.json",
            r#"{"and": [{"frobnicate": [1]}, true]}"#,
        );
        let o = healthcode(&["rules", "validate", &bad]);
        assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
        assert!(stdout(&o).contains("frobnicate"), "{}", stdout(&o));

        let o = healthcode(&["rules", "eval", "--expr", "/no/such", "--data", &data]);
        assert_usage_error(&o, "/no/such");
        let not_json = write(dir.path(), "x.json", "{");
        let o = healthcode(&["rules", "eval", "--expr", &not_json, "--data", &data]);
        assert_usage_error(&o, "x.json");
    }

    #[test]
    fn colour_with_evidence_then_back_to_green() {
        let dir = tempfile::tempdir().unwrap();
        let at = |s: &str| OffsetDateTime::parse(s, &Rfc3339).unwrap();
        let site = || Source::Checkpoint {
            site: "Changchun Railway Station".into(),
        };
        let events = vec![
            Event::new(
                EventId::new("e1").unwrap(),
                at("2026-11-20T08:00:00+08:00"),
                Source::SelfDeclared,
                Fact::SelfDeclaration {
                    fever: false,
                    symptoms: false,
                    temperature: None,
                    travel: Vec::new(),
                    contact_with_case: false,
                },
            )
            .unwrap(),
            Event::new(
                EventId::new("e2").unwrap(),
                at("2026-11-21T08:00:00+08:00"),
                site(),
                Fact::Temperature {
                    reading: Temperature::from_celsius(37.9).unwrap(),
                },
            )
            .unwrap(),
            Event::new(
                EventId::new("e3").unwrap(),
                at("2026-11-22T08:00:00+08:00"),
                site(),
                Fact::Temperature {
                    reading: Temperature::from_celsius(36.6).unwrap(),
                },
            )
            .unwrap(),
        ];
        let events_path = write(
            dir.path(),
            "events.json",
            &serde_json::to_string(&events).unwrap(),
        );
        let colour_at = |when: &str| {
            let o = healthcode(&[
                "rules",
                "colour",
                "--rules",
                "jilin",
                "--events",
                &events_path,
                "--at",
                when,
            ]);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            json(&o)
        };
        let feverish = colour_at("2026-11-21T12:00:00+08:00");
        assert_eq!(feverish["colour"], "yellow", "{feverish}");
        assert!(
            feverish.to_string().contains("\"e2\""),
            "evidence cites the reading: {feverish}"
        );
        let recovered = colour_at("2026-11-22T12:00:00+08:00");
        assert_eq!(recovered["colour"], "green", "{recovered}");

        let o = healthcode(&[
            "rules",
            "colour",
            "--rules",
            "mars",
            "--events",
            &events_path,
            "--at",
            "2026-11-22T12:00:00+08:00",
        ]);
        assert_usage_error(&o, "mars");
    }
}

#[test]
fn bench_reports_the_ratio() {
    let o = healthcode(&["bench", "--rounds", "3", "--iters", "2", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&o);
    let algs = r["algorithms"].as_array().unwrap();
    assert_eq!(algs.len(), 2);
    for a in algs {
        assert!(a["ratio_median"].as_f64().unwrap() > 0.0, "{a}");
        assert!(a["bare_signature_us"].as_f64().unwrap() > 0.0, "{a}");
    }
    assert_usage_error(&healthcode(&["bench", "--rounds", "0"]), "--rounds");
}

/// `audit verify` reads the chain from the database: intact, then broken
/// once a row is edited behind the application's back.
#[test]
fn audit_verify_finds_an_edited_entry() {
    use healthcode_core::AuditRecord;
    use healthcode_store::Store;
    use healthcode_store_sqlite::SqliteStore;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("healthcode.db");
    let url = format!("sqlite://{}", db.display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = SqliteStore::connect(&url).await.unwrap();
        for n in 0..5 {
            store
                .append_audit(AuditRecord {
                    at: time::macros::datetime!(2026-11-01 08:00 UTC) + time::Duration::minutes(n),
                    actor: "official:1".into(),
                    action: "event.recorded".into(),
                    subject: format!("person-{n}"),
                    details: format!("{{\"n\":{n}}}"),
                })
                .await
                .unwrap();
        }
    });
    let data = dir.path().to_str().unwrap();
    let ok = healthcode(&["audit", "verify", "--data", data, "--json"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let summary = json(&ok);
    assert_eq!(summary["intact"], true);
    assert_eq!(summary["entries"], 5);
    let head = summary["head"].as_str().unwrap().to_owned();

    // The same head as a trusted head passes; a different one fails.
    let with_head = healthcode(&["audit", "verify", "--data", data, "--head", &head]);
    assert_eq!(with_head.status.code(), Some(0), "{}", stderr(&with_head));
    assert!(stdout(&with_head).contains("5 entries"));
    let wrong_head = healthcode(&["audit", "verify", "--data", data, "--head", &"0".repeat(64)]);
    assert_eq!(wrong_head.status.code(), Some(1));
    assert_usage_error(
        &healthcode(&["audit", "verify", "--data", data, "--head", "xyz"]),
        "--head",
    );

    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("UPDATE audit_log SET details = '{\"n\":99}' WHERE seq = 2")
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let broken = healthcode(&["audit", "verify", "--data", data, "--json"]);
    assert_eq!(broken.status.code(), Some(1));
    let verdict = json(&broken);
    assert_eq!(verdict["intact"], false);
    assert!(
        verdict["break"].as_str().unwrap().contains("#2"),
        "{verdict}"
    );
}

#[path = "cli/federation.rs"]
mod federation;
