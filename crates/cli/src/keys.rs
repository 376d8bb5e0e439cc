//! `healthcode keys ...`: issuer keys, trust lists, revocation lists.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use healthcode_codec::keyfile::{self, IssuerKey};
use healthcode_codec::trust::{parse_code_id, RevocationList, TrustList};
use healthcode_codec::Algorithm;
use ring::rand::SystemRandom;
use serde_json::json;

use crate::args::{instant_or_now, parse_duration, parse_instant, read_text, write_file};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Generate an issuer signing key and its public key file / 生成签发密钥
    Generate(GenerateArgs),
    /// Build and sign a trust list from public key files / 生成并签名信任列表
    TrustList(TrustListArgs),
    /// Sign a revocation list of code ids / 签名撤销列表
    Revoke(RevokeArgs),
    /// Rotate an issuer key with overlap: a new key published before it signs / 轮换签发密钥
    Rotate(crate::rotate::RotateArgs),
    /// Check and describe a key file, trust list or revocation list / 检查并显示文件
    Show {
        /// The file / 文件
        file: PathBuf,
        /// Expected SHA-256 fingerprint of a trust list's publisher key / 发布者公钥指纹
        #[arg(long)]
        pin: Option<String>,
    },
}

#[derive(Args)]
pub struct GenerateArgs {
    /// Issuing authority id, e.g. a region code / 签发机构标识
    #[arg(long)]
    issuer: String,
    /// Directory to write the key files into / 输出目录
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Signature algorithm: ed25519 (default) or es256 / 签名算法
    #[arg(long, default_value = "ed25519")]
    alg: String,
    /// Start of validity (RFC 3339); default now / 生效时间
    #[arg(long, value_name = "TIME")]
    valid_from: Option<String>,
    /// Length of validity, e.g. 365d / 有效期长度
    #[arg(long, default_value = "365d", conflicts_with = "valid_to")]
    valid_for: String,
    /// End of validity (RFC 3339) / 失效时间
    #[arg(long, value_name = "TIME")]
    valid_to: Option<String>,
    /// Mark the key as a demonstration key: its codes say DEMO / 演示密钥
    #[arg(long)]
    demo: bool,
}

#[derive(Args)]
pub struct TrustListArgs {
    /// The publisher's signing key file / 发布者签名密钥
    #[arg(long, value_name = "FILE")]
    publisher_key: PathBuf,
    /// Where to write the signed trust list / 输出文件
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Issue time (RFC 3339); default now / 签发时间
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Sequence number, higher than any earlier list's; default the issue time in Unix seconds / 序号
    #[arg(long)]
    sequence: Option<u64>,
    /// When the next list will be published, e.g. 7d; importers call the list stale after it / 下次更新
    #[arg(long, value_name = "DURATION", default_value = "7d")]
    next_update: String,
    /// Public (or signing) key files of the issuers to trust / 受信任的公钥文件
    #[arg(required = true, value_name = "KEY_FILE")]
    keys: Vec<PathBuf>,
}

#[derive(Args)]
pub struct RevokeArgs {
    /// The signing key (an issuer's key or a trust-list publisher's) / 签名密钥
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Where to write the signed revocation list / 输出文件
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Issue time (RFC 3339); default now / 签发时间
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Code ids to revoke (32 hex digits each) / 撤销的码标识
    #[arg(required = true, value_name = "CODE_ID")]
    code_ids: Vec<String>,
}

pub fn run(cmd: KeysCommand) -> Result<ExitCode> {
    match cmd {
        KeysCommand::Generate(a) => generate(a),
        KeysCommand::TrustList(a) => trust_list(a),
        KeysCommand::Revoke(a) => revoke(a),
        KeysCommand::Rotate(a) => crate::rotate::run(a),
        KeysCommand::Show { file, pin } => show(file, pin),
    }
}

fn generate(a: GenerateArgs) -> Result<ExitCode> {
    let issuer = a.issuer.trim();
    if issuer.is_empty()
        || !issuer
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        bail!("--issuer {issuer:?} must be letters, digits, '-', '_' or '.'");
    }
    let alg: Algorithm = a.alg.parse()?;
    if alg == Algorithm::Ps256 {
        bail!("--alg ps256 is only accepted for verifying EU DCCs; issue with ed25519 or es256");
    }
    let valid_from = instant_or_now(a.valid_from.as_deref())?;
    let valid_to = match &a.valid_to {
        Some(t) => parse_instant(t)?,
        None => valid_from + time::Duration::seconds(parse_duration(&a.valid_for)?),
    };
    if valid_to <= valid_from {
        bail!("the key's validity ends before it starts");
    }
    let rng = SystemRandom::new();
    let key = IssuerKey::generate(issuer, alg, valid_from, valid_to, a.demo, &rng)?;
    let kid = hex::encode(key.signing_key.public_key().kid());
    let stem = format!("{issuer}-{kid}");
    let private = a.out.join(format!("{stem}.key.json"));
    let public = a.out.join(format!("{stem}.pub.json"));
    write_file(&private, key.to_private_json()?.as_bytes(), true)?;
    write_file(&public, key.to_public_json()?.as_bytes(), false)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "issuer": issuer,
            "alg": alg.name(),
            "kid": key.description().kid,
            "fingerprint": key.signing_key.public_key().fingerprint(),
            "demo": a.demo,
            "private_key_file": private,
            "public_key_file": public,
        }))?
    );
    eprintln!(
        "keep {} secret (mode 0600) / 请妥善保管私钥文件",
        private.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn trust_list(a: TrustListArgs) -> Result<ExitCode> {
    let rng = SystemRandom::new();
    let publisher = IssuerKey::from_private_json(&read_text(&a.publisher_key)?, &rng)
        .with_context(|| format!("{}", a.publisher_key.display()))?;
    let mut entries = Vec::with_capacity(a.keys.len());
    for path in &a.keys {
        let description = keyfile::read_public_json(&read_text(path)?)
            .with_context(|| format!("{}", path.display()))?;
        entries.push(description);
    }
    let issued_at = instant_or_now(a.at.as_deref())?;
    let mut list = TrustList::new(publisher.description(), issued_at, entries)
        .with_next_update(issued_at + time::Duration::seconds(parse_duration(&a.next_update)?));
    if let Some(sequence) = a.sequence {
        list = list.with_sequence(sequence);
    }
    let signed = list.sign(&publisher.signing_key, &rng)?;
    write_file(&a.out, signed.to_json().as_bytes(), false)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "trust_list": a.out,
            "publisher": publisher.issuer,
            "publisher_fingerprint": publisher.signing_key.public_key().fingerprint(),
            "entries": list.entries.len(),
            "sequence": list.sequence,
        }))?
    );
    Ok(ExitCode::SUCCESS)
}

fn revoke(a: RevokeArgs) -> Result<ExitCode> {
    let rng = SystemRandom::new();
    let key = IssuerKey::from_private_json(&read_text(&a.key)?, &rng)
        .with_context(|| format!("{}", a.key.display()))?;
    for id in &a.code_ids {
        parse_code_id(id)?;
    }
    let issued_at = instant_or_now(a.at.as_deref())?;
    let list = RevocationList::new(&key.issuer, issued_at, a.code_ids.clone());
    write_file(
        &a.out,
        list.sign(&key.signing_key, &rng)?.to_json().as_bytes(),
        false,
    )?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "revocation_list": a.out,
            "issuer": key.issuer,
            "revoked": a.code_ids.len(),
        }))?
    );
    Ok(ExitCode::SUCCESS)
}

fn show(file: PathBuf, pin: Option<String>) -> Result<ExitCode> {
    let text = read_text(&file)?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    if value.get("payload").is_some() {
        let payload: serde_json::Value = value["payload"]
            .as_str()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default();
        if payload["kind"] == healthcode_codec::trust::TRUST_LIST_KIND {
            let list = TrustList::open(&text, pin.as_deref())
                .with_context(|| format!("{}", file.display()))?;
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "kind": "trust list",
                    "signature": "valid",
                    "pinned": pin.is_some(),
                    "publisher_fingerprint": list.publisher_fingerprint(),
                    "list": list.list,
                }))?
            );
            return Ok(ExitCode::SUCCESS);
        }
        // Revocation lists are checked against a trust store by `verify`.
        println!("{}", serde_json::to_string_pretty(&payload)?);
        return Ok(ExitCode::SUCCESS);
    }
    let description =
        keyfile::read_public_json(&text).with_context(|| format!("{}", file.display()))?;
    println!("{}", serde_json::to_string_pretty(&description)?);
    Ok(ExitCode::SUCCESS)
}
