//! `healthcode verify --policy NAME|FILE [--extra CODE]...`: the checkpoint
//! verdict (pass / restrict / deny) with the same functions as
//! `POST /api/verify` and the checkpoint page.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use healthcode_codec::checkpoint::{checkpoint_result, CheckpointResult};
use healthcode_codec::Verifier;
use healthcode_core::checkpoint::{Outcome, Policy, ShippedPolicy};

use crate::args::read_text;

/// A shipped policy by name (`metro`, `hospital`, `airport`) or a policy file.
pub fn load_policy(name_or_file: &str) -> Result<Policy> {
    if let Some(shipped) = ShippedPolicy::from_name(name_or_file) {
        return shipped
            .load()
            .with_context(|| format!("shipped policy {name_or_file}"));
    }
    let path = Path::new(name_or_file);
    if !path.is_file() {
        let names: Vec<&str> = ShippedPolicy::ALL.iter().map(|p| p.name()).collect();
        return Err(anyhow!(
            "--policy {name_or_file:?} is neither a shipped policy ({}) nor a file / 未知的卡口策略",
            names.join(", ")
        ));
    }
    Policy::from_json_str(&read_text(path)?)
        .with_context(|| format!("policy file {}", path.display()))
}

/// Verifies the code and the extra codes, judges them, prints the verdict.
/// Exit 0 for pass, 1 for restrict or deny.
pub fn run(
    verifier: &mut Verifier,
    policy: &Policy,
    code: &str,
    extras: &[String],
    now: i64,
    skew: i64,
    json: bool,
) -> Result<ExitCode> {
    let primary = verifier.verify(code, now);
    let extra_results: Vec<_> = extras.iter().map(|e| verifier.verify(e, now)).collect();
    let result = checkpoint_result(policy, &primary, &extra_results, now, skew);
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print_human(&result, policy);
    }
    Ok(if result.verdict == Outcome::Pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_human(r: &CheckpointResult, policy: &Policy) {
    let colour = r
        .colour
        .and_then(|c| c.parse::<healthcode_core::Colour>().ok())
        .map(|c| format!(" · {} {}", c.as_str().to_uppercase(), c.label_zh()))
        .unwrap_or_default();
    println!(
        "{} {}{colour} [{} {} / {}]",
        r.verdict.label_en(),
        r.verdict.label_zh(),
        policy.id,
        policy.name.zh,
        policy.name.en
    );
    if r.demo {
        println!("  DEMO 演示: signed with a demonstration key, not a real health code");
    }
    for (label, value) in [
        ("name 姓名", &r.masked_name),
        ("id 证件", &r.masked_id),
        ("issuer 签发机构", &r.issuer),
        ("expires 过期", &r.expires_at),
    ] {
        if let Some(v) = value {
            println!("  {label:<22} {v}");
        }
    }
    if let Some(kind) = r.kind {
        println!("  {:<22} {kind}", "kind 类型");
    }
    for reason in &r.reasons {
        println!("  - [{}] {} / {}", reason.code, reason.en, reason.zh);
    }
}
