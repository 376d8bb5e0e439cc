//! The browser end-to-end test: `healthcode demo` on a fresh SQLite data
//! directory, Debian's chromium driven by playwright-core (`e2e/citizen.mjs`)
//! through the citizen flow and an official's sign-in, then the QR code the
//! browser drew (a screenshot of it) is verified offline with `healthcode verify`.
//!
//! Needs node, /usr/bin/chromium and `npm ci --prefix e2e`; without them it
//! says SKIPPED loudly, and fails instead when HEALTHCODE_REQUIRE_BROWSER=1
//! (CI sets it). HEALTHCODE_SCREENSHOTS=DIR keeps the screenshots.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "e2e/checkpoint.rs"]
mod checkpoint;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn missing_prerequisite() -> Option<String> {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node {
        return Some("node is not installed".into());
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!("{chromium} is not installed"));
    }
    if !repo().join("e2e/node_modules/playwright-core").exists() {
        return Some("e2e/node_modules is missing (run `npm ci --prefix e2e`)".into());
    }
    None
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(base: &str, path: &str) -> String {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

#[test]
fn browser_applies_sees_switches_language_and_the_code_verifies() {
    if let Some(why) = missing_prerequisite() {
        if std::env::var("HEALTHCODE_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("HEALTHCODE_REQUIRE_BROWSER=1 but {why}");
        }
        println!("SKIPPED: browser end-to-end test: {why}");
        eprintln!("SKIPPED: browser end-to-end test: {why}");
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
    let _server = Server(child);
    let (mut base, mut password) = (None, None);
    let started = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.trim_start().starts_with("open") {
            base = line
                .split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(|u| u.trim_end_matches('/').to_owned());
        }
        if line.trim_start().starts_with("demo-official") {
            password = line.split_whitespace().nth(3).map(str::to_owned);
        }
        if line.contains("Ctrl-C") || started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    let base = base.expect("the demo printed its URL");
    let password = password.expect("the demo printed the official's password");

    let out = dir.path().join("browser");
    let status = Command::new("node")
        .arg(repo().join("e2e/citizen.mjs"))
        .env("HEALTHCODE_URL", &base)
        .env("HEALTHCODE_OUT", &out)
        .env("HEALTHCODE_OFFICIAL_PASSWORD", &password)
        .status()
        .unwrap();
    assert!(status.success(), "the browser test failed");

    // The code the page showed verifies offline against the published list.
    let code = std::fs::read_to_string(out.join("code.txt")).unwrap();
    let trust = dir.path().join("trust.json");
    std::fs::write(
        &trust,
        http_get(&base, "/.well-known/healthcode/trust-list.json"),
    )
    .unwrap();
    let verify = |input: &std::ffi::OsStr, accept_demo: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_healthcode"));
        cmd.args(["verify", "--json", "--trust"]).arg(&trust);
        if accept_demo {
            cmd.arg("--accept-demo");
        }
        let o = cmd.arg(input).output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (o.status.code(), report)
    };
    let qr = out.join("qr.png");
    let (status, report) = verify(qr.as_os_str(), true);
    assert_eq!(
        status,
        Some(0),
        "the QR code drawn in the browser verifies: {report}"
    );
    assert_eq!(report["colour"], "green");
    assert_eq!(report["claims"]["name"], "孙*美");
    let (status, report) = verify(code.trim().as_ref(), true);
    assert_eq!(
        status,
        Some(0),
        "the code text on the page verifies: {report}"
    );
    let (status, report) = verify(qr.as_os_str(), false);
    assert_eq!(
        (status, report["reason"].as_str()),
        (Some(1), Some("demo_issuer"))
    );

    if let Ok(keep) = std::env::var("HEALTHCODE_SCREENSHOTS") {
        std::fs::create_dir_all(&keep).unwrap();
        for entry in std::fs::read_dir(&out).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "png") {
                std::fs::copy(entry.path(), Path::new(&keep).join(entry.file_name())).unwrap();
            }
        }
    }
}
