//! `healthcode verify`: the offline checkpoint check.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use healthcode_codec::dcc::DscCertificate;
use healthcode_codec::qr::{self, QrError};
use healthcode_codec::report::{Message, VerificationReport};
use healthcode_codec::verify::VerifyOptions;
use healthcode_codec::{TrustList, TrustStore, Verifier};

use crate::args::{instant_or_now, read_text};

#[derive(Args)]
pub struct VerifyArgs {
    /// Signed trust list of issuer keys (repeatable) / 信任列表（可多次）
    #[arg(long, value_name = "FILE")]
    trust: Vec<PathBuf>,
    /// SHA-256 fingerprint a trust list's publisher key must have (repeatable) / 发布者公钥指纹
    #[arg(long, value_name = "HEX")]
    trust_pin: Vec<String>,
    /// EU DCC signer certificate: DER, PEM or base64 DER (repeatable) / 欧盟数字新冠证书签名证书
    #[arg(long, value_name = "FILE")]
    dcc_cert: Vec<PathBuf>,
    /// Signed revocation list (repeatable) / 撤销列表
    #[arg(long, value_name = "FILE")]
    revoked: Vec<PathBuf>,
    /// Verify as of this time (RFC 3339); default now / 核验时间
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Seconds of clock difference tolerated / 允许的时钟误差（秒）
    #[arg(long, default_value_t = 0)]
    skew: i64,
    /// Accept codes signed with DEMO keys (refused as demo_issuer otherwise) / 接受演示码
    #[arg(long)]
    accept_demo: bool,
    /// Print one JSON object / 输出 JSON
    #[arg(long)]
    json: bool,
    /// Judge under a checkpoint policy: metro, hospital, airport or a policy file; prints pass / restrict / deny / 卡口策略
    #[arg(long, value_name = "NAME|FILE")]
    policy: Option<String>,
    /// A code shown beside it, for the policy: a test certificate (HC1:) or an itinerary card (repeatable) / 附加的码
    #[arg(long, value_name = "CODE", requires = "policy")]
    extra: Vec<String>,
    /// A code string, "-" for stdin, or a PNG/JPEG picture of the QR code / 码字符串、"-"（标准输入）或图片路径
    input: String,
}

pub fn run(a: VerifyArgs) -> Result<ExitCode> {
    let now = instant_or_now(a.at.as_deref())?.unix_timestamp();
    if !(0..=86_400).contains(&a.skew) {
        bail!("--skew must be between 0 and 86400 seconds");
    }
    let policy = a
        .policy
        .as_deref()
        .map(crate::checkpoint::load_policy)
        .transpose()?;
    let store = load_trust(&a)?;
    if store.is_empty() {
        eprintln!("warning: no --trust or --dcc-cert given, so no key is trusted / 未提供信任列表");
    }
    let code = match read_input(&a.input)? {
        Input::Code(text) => text,
        Input::NoCode(e) => return Ok(print_no_code(&e, a.json)),
    };
    let options = VerifyOptions {
        clock_skew: a.skew,
        accept_demo: a.accept_demo,
    };
    let mut verifier = Verifier::with_options(store, options);
    if let Some(policy) = &policy {
        return crate::checkpoint::run(&mut verifier, policy, &code, &a.extra, now, a.skew, a.json);
    }
    let result = verifier.verify(&code, now);
    let report = VerificationReport::from_result(&result);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    Ok(if report.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn load_trust(a: &VerifyArgs) -> Result<TrustStore> {
    let mut store = TrustStore::new();
    for path in &a.trust {
        let text = read_text(path)?;
        let list = TrustList::open(&text, None)
            .with_context(|| format!("trust list {}", path.display()))?;
        if !a.trust_pin.is_empty() {
            let fingerprint = list.publisher_fingerprint();
            let pinned = a
                .trust_pin
                .iter()
                .any(|p| p.trim().to_ascii_lowercase().replace(':', "") == fingerprint);
            if !pinned {
                bail!(
                    "trust list {}: publisher key fingerprint {fingerprint} is not among the --trust-pin values",
                    path.display()
                );
            }
        }
        if list.list.is_stale(time::OffsetDateTime::now_utc()) {
            eprintln!(
                "warning: trust list {} is stale (past its next update); fetch it again / 警告：信任列表已过下次更新时间，请重新获取",
                path.display()
            );
        }
        store.add_trust_list(&list);
    }
    for path in &a.dcc_cert {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let cert = DscCertificate::parse(&bytes)
            .with_context(|| format!("DCC certificate {}", path.display()))?;
        store.add_dcc_certificate(&cert);
    }
    for path in &a.revoked {
        store
            .add_revocation_list(&read_text(path)?)
            .with_context(|| format!("revocation list {}", path.display()))?;
    }
    Ok(store)
}

enum Input {
    Code(String),
    /// A picture was given but holds no readable code.
    NoCode(QrError),
}

const KNOWN_PREFIXES: [&str; 2] = [healthcode_codec::PREFIX, healthcode_codec::dcc::DCC_PREFIX];

fn read_input(input: &str) -> Result<Input> {
    if input == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
        return from_bytes(bytes, "standard input");
    }
    if KNOWN_PREFIXES
        .iter()
        .any(|p| input.trim_start().starts_with(p))
    {
        return Ok(Input::Code(input.to_owned()));
    }
    let path = Path::new(input);
    let lower = input.to_ascii_lowercase();
    let picture_name = [".png", ".jpg", ".jpeg"]
        .iter()
        .any(|ext| lower.ends_with(ext));
    if path.is_file() {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {input}"))?;
        if picture_name && !looks_like_picture(&bytes) {
            return Ok(Input::NoCode(QrError::Image(format!(
                "{input} is not a PNG or JPEG picture"
            ))));
        }
        return from_bytes(bytes, input);
    }
    if picture_name || lower.ends_with(".txt") {
        bail!("{input}: no such file / 文件不存在");
    }
    // Anything else is taken as a code string and judged on its merits.
    Ok(Input::Code(input.to_owned()))
}

fn from_bytes(bytes: Vec<u8>, what: &str) -> Result<Input> {
    if looks_like_picture(&bytes) {
        return Ok(match qr::decode_image(&bytes) {
            Ok(texts) => {
                let pick = texts
                    .iter()
                    .find(|t| KNOWN_PREFIXES.iter().any(|p| t.starts_with(p)))
                    .or(texts.first())
                    .cloned()
                    .unwrap_or_default();
                Input::Code(pick)
            }
            Err(e) => Input::NoCode(e),
        });
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Input::Code(text.trim().to_owned())),
        Err(_) => bail!("{what} is neither text nor a PNG/JPEG picture"),
    }
}

fn looks_like_picture(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG") || bytes.starts_with(&[0xFF, 0xD8])
}

fn print_no_code(e: &QrError, json: bool) -> ExitCode {
    let reason = match e {
        QrError::Image(_) => "bad_image",
        _ => "no_qr_code",
    };
    let message = Message {
        en: "No readable QR code in the picture: scan again, closer and steadier.".into(),
        zh: "图片中没有可识别的二维码：请靠近、稳住后重新扫描。".into(),
    };
    if json {
        let report = serde_json::json!({
            "verdict": "invalid",
            "reason": reason,
            "message": message,
            "detail": e.to_string(),
            "format": null,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        println!("INVALID 无效 ({reason}): {} / {}", message.en, message.zh);
        println!("  {e}");
    }
    ExitCode::from(1)
}

fn print_human(r: &VerificationReport) {
    let verdict = if r.is_valid() {
        "VALID 有效"
    } else {
        "INVALID 无效"
    };
    // The colour is what the guard acts on: put it on the first line.
    let colour = r
        .colour
        .and_then(|c| c.parse::<healthcode_core::Colour>().ok())
        .filter(|_| r.is_valid())
        .map(|c| format!(" · {} {}", c.as_str().to_uppercase(), c.label_zh()))
        .unwrap_or_default();
    println!(
        "{verdict}{colour} ({}): {} / {}",
        r.reason, r.message.en, r.message.zh
    );
    if r.demo {
        println!("  DEMO 演示: signed with a demonstration key, not a real health code");
    }
    let field = |label: &str, value: &Option<String>| {
        if let Some(v) = value {
            println!("  {label:<22} {v}");
        }
    };
    field("format 格式", &r.format.map(str::to_owned));
    field("issuer 签发机构", &r.issuer);
    field("colour 颜色", &r.colour.map(str::to_owned));
    field("kind 类型", &r.kind.map(str::to_owned));
    if let Some(claims) = &r.claims {
        for key in ["name", "id"] {
            if let Some(v) = claims.get(key).and_then(|v| v.as_str()) {
                println!(
                    "  {:<22} {v}",
                    if key == "name" {
                        "name 姓名"
                    } else {
                        "id 证件"
                    }
                );
            }
        }
    }
    field("issued 签发", &r.issued_at);
    field("expires 过期", &r.expires_at);
    if !r.detail.is_empty() {
        println!("  {:<22} {}", "detail 详情", r.detail);
    }
}
