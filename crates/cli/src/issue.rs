//! `healthcode issue`: sign one code with an issuer key.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use healthcode_codec::claims::CODE_ID_LEN;
use healthcode_codec::qr::QrMatrix;
use healthcode_codec::report::rfc3339;
use healthcode_codec::trust::parse_code_id;
use healthcode_codec::{CodeIssuer, CodeRequest, IssuerKey};
use healthcode_core::{CodeKind, Colour, ResidentId};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::json;

use crate::args::{instant_or_now, parse_duration, read_text, write_file};

#[derive(Args)]
pub struct IssueArgs {
    /// Issuer signing key file (from `keys generate`) / 签发密钥文件
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// pending (black), green, yellow, orange or red / 颜色
    #[arg(long, alias = "color")]
    colour: String,
    /// Holder's full name; only a masked form goes into the code / 姓名（码中仅含脱敏形式）
    #[arg(long)]
    name: String,
    /// Resident ID or passport number; only a masked form goes into the code / 证件号码
    #[arg(long)]
    id: String,
    /// resident or traveller (people without a mainland ID) / 码类型
    #[arg(long, default_value = "resident")]
    kind: String,
    /// How long the code stays valid: 5m for a live phone code, days for print / 有效期
    #[arg(long, default_value = "5m")]
    ttl: String,
    /// When the colour was determined (RFC 3339); default the issue time / 状态时间
    #[arg(long, value_name = "TIME")]
    status_as_of: Option<String>,
    /// Issue time (RFC 3339); default now / 签发时间
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Pseudonymous code id (32 hex digits); default random / 码标识
    #[arg(long, value_name = "HEX")]
    code_id: Option<String>,
    /// Also write the QR code as PNG / 输出 PNG 图片
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,
    /// Also write the QR code as SVG / 输出 SVG 图片
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Print a JSON object with the code and its claims / 输出 JSON
    #[arg(long)]
    json: bool,
}

pub fn run(a: IssueArgs) -> Result<ExitCode> {
    let colour: Colour = a.colour.parse()?;
    let kind: CodeKind = a.kind.parse()?;
    let ttl_seconds = parse_duration(&a.ttl).context("--ttl")?;
    let issued_at = instant_or_now(a.at.as_deref())?;
    let now = issued_at.unix_timestamp();
    let status_as_of = match &a.status_as_of {
        Some(t) => crate::args::parse_instant(t)?.unix_timestamp(),
        None => now,
    };
    if kind == CodeKind::Resident {
        warn_on_resident_id(&a.id, issued_at.date());
    }
    let rng = SystemRandom::new();
    let key = IssuerKey::from_private_json(&read_text(&a.key)?, &rng)
        .with_context(|| format!("{}", a.key.display()))?;
    let code_id = match &a.code_id {
        Some(hex) => parse_code_id(hex)?,
        None => {
            let mut id = [0u8; CODE_ID_LEN];
            rng.fill(&mut id)
                .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
            id
        }
    };
    let demo = key.demo;
    let mut issuer = CodeIssuer::new(key);
    let request = CodeRequest {
        colour,
        full_name: a.name,
        document_id: a.id,
        kind,
        ttl_seconds,
        status_as_of,
    };
    let code = issuer.issue(&request, now, code_id, &rng)?;
    if a.png.is_some() || a.svg.is_some() {
        let qr = QrMatrix::encode(&code.text)?;
        if let Some(path) = &a.png {
            write_file(path, &qr.to_png(8, demo)?, false)?;
        }
        if let Some(path) = &a.svg {
            let caption = demo.then_some("DEMO 演示 — not a real health code");
            write_file(path, qr.to_svg(caption).as_bytes(), false)?;
        }
    }
    if a.json {
        let c = &code.claims;
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "code": code.text,
                "code_id": c.code_id_hex(),
                "issuer": c.issuer,
                "colour": c.colour.as_str(),
                "kind": c.kind.as_str(),
                "name": c.masked_name,
                "id": c.masked_id,
                "issued_at": rfc3339(c.issued_at),
                "expires_at": rfc3339(c.expires_at),
                "status_as_of": rfc3339(c.status_as_of),
                "demo": c.demo,
            }))?
        );
    } else {
        println!("{}", code.text);
    }
    if demo {
        eprintln!(
            "note: issued with a DEMO key; not a real health code / 演示密钥签发，并非真实健康码"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A resident ID that fails its checks is almost always a typing error;
/// say so, but leave the decision to the operator (the CLI is a low-level
/// tool; the application flow refuses such IDs).
fn warn_on_resident_id(id: &str, today: time::Date) {
    if let Err(e) = ResidentId::parse_as_of(id, today) {
        eprintln!("warning: {e}");
    }
}
