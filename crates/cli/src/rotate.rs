//! `healthcode keys rotate`: a new issuer key published before it signs,
//! the current one shortened to stop issuing at the switch and kept in the
//! trust list until its last code has expired. The timeline is in
//! docs/federation.md; this command prints the dates for this rotation.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use healthcode_codec::keyfile::IssuerKey;
use ring::rand::SystemRandom;
use serde_json::json;
use time::Duration;

use crate::args::{instant_or_now, parse_duration, parse_instant, read_text, write_file};

#[derive(Args)]
pub struct RotateArgs {
    /// The issuer key in use now (its file is rewritten: it stops issuing at the switch) / 当前签发密钥
    #[arg(long, value_name = "FILE")]
    current: PathBuf,
    /// Directory for the new key files / 新密钥输出目录
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// When the new key starts signing (RFC 3339); default 7 days from now,
    /// so importers have refreshed before it is used / 切换时间
    #[arg(long, value_name = "TIME")]
    switch_at: Option<String>,
    /// How long the new key may sign after the switch / 新密钥有效期
    #[arg(long, default_value = "365d")]
    valid_for: String,
    /// The longest validity of a code the old key signed (printed codes) / 最长码有效期
    #[arg(long, default_value = "31d")]
    max_code_ttl: String,
}

pub fn run(a: RotateArgs) -> Result<ExitCode> {
    let rng = SystemRandom::new();
    // Whole seconds: the printed plan and the key files agree exactly.
    let now = instant_or_now(None)?;
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let switch = match &a.switch_at {
        Some(t) => parse_instant(t)?,
        None => now + Duration::days(7),
    };
    let old = IssuerKey::from_private_json(&read_text(&a.current)?, &rng)
        .with_context(|| format!("{}", a.current.display()))?;
    if switch <= now {
        bail!("--switch-at must be in the future: the new key is published before it signs");
    }
    if switch <= old.valid_from {
        bail!("--switch-at is before the current key's validity starts");
    }
    if switch > old.valid_to {
        bail!(
            "the current key stops being valid at {} before the switch: choose an earlier --switch-at",
            old.valid_to
        );
    }
    let valid_for = Duration::seconds(parse_duration(&a.valid_for)?);
    let ttl = Duration::seconds(parse_duration(&a.max_code_ttl)?);
    // The new key is valid (and published) from now, signs from the switch.
    let new = IssuerKey::generate(
        &old.issuer,
        old.signing_key.algorithm(),
        now,
        switch + valid_for,
        old.demo,
        &rng,
    )?;
    let old = IssuerKey {
        valid_to: switch,
        ..old
    };
    let kid = hex::encode(new.signing_key.public_key().kid());
    let stem = format!("{}-{kid}", new.issuer);
    let new_private = a.out.join(format!("{stem}.key.json"));
    let new_public = a.out.join(format!("{stem}.pub.json"));
    write_file(&new_private, new.to_private_json()?.as_bytes(), true)?;
    write_file(&new_public, new.to_public_json()?.as_bytes(), false)?;
    let old_kid = hex::encode(old.signing_key.public_key().kid());
    let old_public = a.out.join(format!("{}-{old_kid}.pub.json", old.issuer));
    write_file(&a.current, old.to_private_json()?.as_bytes(), true)?;
    write_file(&old_public, old.to_public_json()?.as_bytes(), false)?;
    let drop_at = switch + ttl;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "issuer": new.issuer,
            "new_key_file": new_private,
            "new_public_key_file": new_public,
            "old_key_file": a.current,
            "old_public_key_file": old_public,
            "publish_new_key_now": {
                "issuer_key_file": a.current,
                "published_key_files": [new_public],
            },
            "switch_at": healthcode_codec::report::rfc3339(switch.unix_timestamp()),
            "from_switch": {
                "issuer_key_file": new_private,
                "published_key_files": [old_public],
            },
            "drop_old_key_after": healthcode_codec::report::rfc3339(drop_at.unix_timestamp()),
            "after_that": {
                "issuer_key_file": new_private,
                "published_key_files": [],
            },
        }))?
    );
    eprintln!(
        "1. now: publish the new key (settings above), restart / 现在发布新密钥；\n2. at the switch: sign with the new key, keep the old one published / 切换时改用新密钥签发；\n3. after {}: drop the old key / 旧码全部过期后移除旧密钥 (docs/federation.md)",
        healthcode_codec::report::rfc3339(drop_at.unix_timestamp()).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
