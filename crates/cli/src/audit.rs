//! `healthcode audit verify`: reads the whole hash-chained audit log from
//! the database and checks every link, so an edited, removed, reordered or
//! re-hashed entry is found. With `--head`, a head hash published earlier
//! (or kept elsewhere), entries cut from the end are found too.

use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};
use healthcode_core::audit::Digest;
use healthcode_store::Store;

use crate::db::{with_store, DatabaseArgs};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the audit chain: exit 0 intact, 1 broken / 校验审计哈希链
    Verify(VerifyArgs),
}

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// A trusted head hash (64 hex digits) the chain must end at / 可信链头哈希
    #[arg(long, value_name = "HEX")]
    head: Option<String>,
    /// Print the result as JSON / 以 JSON 输出
    #[arg(long)]
    json: bool,
}

pub fn run(command: AuditCommand) -> Result<ExitCode> {
    match command {
        AuditCommand::Verify(args) => verify(args),
    }
}

fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let head = match &args.head {
        Some(text) => Some(Digest::from_hex(text.trim()).ok_or_else(|| {
            anyhow!("--head {text:?}: expected 64 hexadecimal digits / 链头应为 64 位十六进制")
        })?),
        None => None,
    };
    let db = args.db.resolve()?;
    crate::db::runtime()?.block_on(async move {
        let outcome = with_store!(db, |store| check(&store, head).await?);
        Ok(report(outcome, args.json))
    })
}

async fn check<S: Store>(
    store: &S,
    head: Option<Digest>,
) -> Result<
    std::result::Result<healthcode_core::audit::ChainSummary, healthcode_core::audit::ChainBreak>,
> {
    store
        .verify_audit(head)
        .await
        .context("cannot read the audit log")
}

fn report(
    outcome: std::result::Result<
        healthcode_core::audit::ChainSummary,
        healthcode_core::audit::ChainBreak,
    >,
    json: bool,
) -> ExitCode {
    match outcome {
        Ok(summary) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"intact": true, "entries": summary.entries, "head": summary.head.to_hex()})
                );
            } else {
                println!(
                    "audit chain intact: {} entries, head {} / 审计链完整：{} 条，链头 {}",
                    summary.entries,
                    summary.head.to_hex(),
                    summary.entries,
                    summary.head.to_hex()
                );
            }
            ExitCode::SUCCESS
        }
        Err(chain_break) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"intact": false, "break": chain_break.to_string()})
                );
            } else {
                println!("audit chain BROKEN / 审计链被破坏: {chain_break}");
            }
            ExitCode::from(1)
        }
    }
}
