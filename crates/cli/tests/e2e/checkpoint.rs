//! The checkpoint page offline (`e2e/checkpoint.mjs`): `healthcode demo`
//! serves the page; the browser loads it, checks the parity vectors, then
//! loses the network (offline context, server killed) and still passes a
//! valid code and denies a forged, an expired and a revoked one, also after
//! an offline reload.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use healthcode_codec::compress::{Deflater, Inflater};
use healthcode_codec::{base45, PREFIX};

use super::{missing_prerequisite, repo, Server};

fn issue(key: &std::path::Path, extra: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_healthcode"))
        .args([
            "issue",
            "--colour",
            "green",
            "--name",
            "张三",
            "--id",
            "220102199003071235",
            "--key",
        ])
        .arg(key)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

fn forged(code: &str) -> String {
    let packed = base45::decode(code.strip_prefix(PREFIX).unwrap()).unwrap();
    let mut cose = Vec::new();
    Inflater::default().inflate(&packed, &mut cose).unwrap();
    let last = cose.len() - 1;
    cose[last] ^= 1;
    let mut out = Vec::new();
    Deflater::default().deflate(&cose, &mut out);
    format!("{PREFIX}{}", base45::encode(&out))
}

#[test]
fn checkpoint_page_verifies_offline() {
    if let Some(why) = missing_prerequisite() {
        if std::env::var("HEALTHCODE_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("HEALTHCODE_REQUIRE_BROWSER=1 but {why}");
        }
        println!("SKIPPED: checkpoint browser test: {why}");
        eprintln!("SKIPPED: checkpoint browser test: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_healthcode"))
        .args(["demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let pid = child.id();
    let _server = Server(child);
    let mut base = None;
    let started = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.trim_start().starts_with("open") {
            base = line
                .split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(|u| u.trim_end_matches('/').to_owned());
        }
        if line.contains("Ctrl-C") || started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    let base = base.expect("the demo printed its URL");

    let key = data.join("keys/demo-issuer.key.json");
    let valid = issue(&key, &["--ttl", "1d"]);
    let two_hours_ago = time::OffsetDateTime::now_utc() - time::Duration::hours(2);
    let at = two_hours_ago
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let expired = issue(&key, &["--ttl", "1h", "--at", &at]);
    // The demo revokes the last of its printed samples.
    let samples = std::fs::read_to_string(data.join("checkpoint-samples.txt")).unwrap();
    let revoked = samples
        .lines()
        .rfind(|l| l.starts_with(PREFIX))
        .unwrap()
        .to_owned();
    let codes = serde_json::json!({
        "valid": valid,
        "forged": forged(&valid),
        "expired": expired,
        "revoked": revoked,
    });
    let codes_file = dir.path().join("codes.json");
    std::fs::write(&codes_file, codes.to_string()).unwrap();

    let out = dir.path().join("browser");
    let status = Command::new("node")
        .arg(repo().join("e2e/checkpoint.mjs"))
        .env("HEALTHCODE_URL", &base)
        .env("HEALTHCODE_OUT", &out)
        .env("HEALTHCODE_CODES", &codes_file)
        .env(
            "HEALTHCODE_VECTORS",
            repo().join("testdata/checkpoint/vectors.json"),
        )
        .env("HEALTHCODE_SERVER_PID", pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "the checkpoint browser test failed");

    if let Ok(keep) = std::env::var("HEALTHCODE_SCREENSHOTS") {
        std::fs::create_dir_all(&keep).unwrap();
        for entry in std::fs::read_dir(&out).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "png") {
                std::fs::copy(
                    entry.path(),
                    std::path::Path::new(&keep).join(entry.file_name()),
                )
                .unwrap();
            }
        }
    }
}
