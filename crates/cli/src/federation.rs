//! `healthcode channels add|list|disable` and `healthcode trust
//! import|list|refresh`: administration against the deployment's database
//! (the running server picks changes up: channels at once, imported trust
//! lists within 30 seconds). Every change lands in the audit chain.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use healthcode_codec::trust::TrustList;
use healthcode_server::channels::{disable_channel, register_channel};
use healthcode_server::federation::{fetch_trust_list, import_trust_list};
use healthcode_server::ApiError;
use healthcode_store::Store;
use healthcode_store_postgres::PgStore;
use healthcode_store_sqlite::SqliteStore;
use ring::rand::SystemRandom;
use time::OffsetDateTime;

use crate::args::read_text;

/// Where the deployment's database is.
#[derive(Args, Clone)]
pub struct DbArgs {
    /// Data directory of the embedded SQLite database / 数据目录
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Database URL: sqlite://... or postgres://... (env HEALTHCODE_DATABASE_URL) / 数据库地址
    #[arg(long, value_name = "URL", env = "HEALTHCODE_DATABASE_URL")]
    database: Option<String>,
    /// Print JSON / 输出 JSON
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum ChannelsCommand {
    /// Register a channel; prints its client id and secret (shown once) / 注册渠道
    Add {
        #[command(flatten)]
        db: DbArgs,
        /// Client id: 3 to 32 lowercase letters, digits or - / 渠道标识
        #[arg(long)]
        client_id: String,
        /// Display name shown to citizens / 渠道名称
        #[arg(long)]
        name: String,
        /// alipay, wechat, unionpay, government or web / 渠道类型
        #[arg(long)]
        kind: String,
    },
    /// List the channels / 列出渠道
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Disable a channel (its applications keep naming it) / 停用渠道
    Disable {
        #[command(flatten)]
        db: DbArgs,
        client_id: String,
    },
}

#[derive(Subcommand)]
pub enum TrustCommand {
    /// Import another deployment's signed trust list, its publisher key pinned / 导入信任列表
    Import {
        #[command(flatten)]
        db: DbArgs,
        /// The list's URL (refreshed by the server) / 地址
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        url: Option<String>,
        /// The list as a file / 文件
        #[arg(long)]
        file: Option<PathBuf>,
        /// SHA-256 fingerprint of the publisher key, from the publisher / 发布者公钥指纹
        #[arg(long, value_name = "FINGERPRINT")]
        pin: String,
    },
    /// List the imported trust lists / 列出已导入的信任列表
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Fetch every list imported by URL again now / 立即刷新
    Refresh {
        #[command(flatten)]
        db: DbArgs,
    },
}

enum Db {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

async fn open(db: &DbArgs) -> Result<Db> {
    match (&db.data, &db.database) {
        (Some(_), Some(_)) => bail!("give either --data DIR or --database URL, not both"),
        (None, None) => bail!("give --data DIR (embedded SQLite) or --database URL"),
        (Some(dir), None) => {
            Ok(Db::Sqlite(SqliteStore::open_dir(dir).await.with_context(
                || format!("SQLite database in {}", dir.display()),
            )?))
        }
        (None, Some(url)) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Db::Postgres(
                PgStore::connect(url).await.context("PostgreSQL database")?,
            ))
        }
        (None, Some(url)) if url.starts_with("sqlite:") => Ok(Db::Sqlite(
            SqliteStore::connect(url)
                .await
                .with_context(|| format!("SQLite database {url}"))?,
        )),
        (None, Some(url)) => {
            bail!("--database {url:?}: expected a sqlite://... or postgres://... URL")
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// An API error as one line (the message in both languages).
fn api(e: ApiError) -> anyhow::Error {
    match &e.field {
        Some(field) => anyhow!("{field}: {} / {}", e.message.en, e.message.zh),
        None => anyhow!("{} / {}", e.message.en, e.message.zh),
    }
}

fn actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

pub fn channels(cmd: ChannelsCommand) -> Result<ExitCode> {
    runtime()?.block_on(async move {
        let db = match &cmd {
            ChannelsCommand::Add { db, .. }
            | ChannelsCommand::List { db }
            | ChannelsCommand::Disable { db, .. } => db.clone(),
        };
        match open(&db).await? {
            Db::Sqlite(s) => channels_with(s, cmd, db.json).await,
            Db::Postgres(s) => channels_with(s, cmd, db.json).await,
        }
    })
}

async fn channels_with<S: Store>(store: S, cmd: ChannelsCommand, json: bool) -> Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    match cmd {
        ChannelsCommand::Add {
            client_id,
            name,
            kind,
            ..
        } => {
            let (channel, secret) = register_channel(
                &store,
                now,
                &SystemRandom::new(),
                &actor(),
                &client_id,
                &name,
                &kind,
            )
            .await
            .map_err(api)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"client_id": channel.client_id, "kind": channel.kind.as_str(), "name": channel.name, "secret": secret})
                );
            } else {
                println!("client_id: {}", channel.client_id);
                println!("secret:    {secret}");
                println!("The secret is shown only now; the channel sends client_id:secret with HTTP Basic. / 密钥仅显示这一次。");
            }
        }
        ChannelsCommand::List { .. } => {
            let channels = store.channels().await?;
            if json {
                let rows: Vec<_> = channels
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "client_id": c.client_id, "name": c.name, "kind": c.kind.as_str(),
                            "created_by": c.created_by,
                            "created_at": healthcode_codec::report::rfc3339(c.created_at.unix_timestamp()),
                            "disabled_at": c.disabled_at.and_then(|t| healthcode_codec::report::rfc3339(t.unix_timestamp())),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else if channels.is_empty() {
                println!("no channels / 尚无渠道");
            } else {
                for c in channels {
                    println!(
                        "{:<24} {:<10} {:<9} {}",
                        c.client_id,
                        c.kind.as_str(),
                        if c.disabled_at.is_some() {
                            "disabled"
                        } else {
                            "enabled"
                        },
                        c.name
                    );
                }
            }
        }
        ChannelsCommand::Disable { client_id, .. } => {
            let changed = disable_channel(&store, now, &actor(), &client_id)
                .await
                .map_err(api)?;
            println!(
                "{client_id}: {}",
                if changed {
                    "disabled / 已停用"
                } else {
                    "was already disabled / 早已停用"
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn trust(cmd: TrustCommand) -> Result<ExitCode> {
    runtime()?.block_on(async move {
        let db = match &cmd {
            TrustCommand::Import { db, .. }
            | TrustCommand::List { db }
            | TrustCommand::Refresh { db } => db.clone(),
        };
        match open(&db).await? {
            Db::Sqlite(s) => trust_with(s, cmd, db.json).await,
            Db::Postgres(s) => trust_with(s, cmd, db.json).await,
        }
    })
}

async fn trust_with<S: Store>(store: S, cmd: TrustCommand, json: bool) -> Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    match cmd {
        TrustCommand::Import { url, file, pin, .. } => {
            let (text, source) = match (url, file) {
                (Some(url), _) => (
                    fetch_trust_list(&url)
                        .await
                        .map_err(|e| anyhow!("cannot fetch the trust list: {e}"))?,
                    url,
                ),
                (None, Some(path)) => (read_text(&path)?, format!("file:{}", path.display())),
                (None, None) => bail!("give --url or --file"),
            };
            let outcome = import_trust_list(&store, None, now, &actor(), &text, &pin, &source)
                .await
                .map_err(api)?;
            if json {
                println!("{}", serde_json::to_string(&outcome)?);
            } else {
                println!(
                    "{}: {} (sequence {}, {} key(s)){}",
                    outcome.outcome,
                    outcome.list.publisher,
                    outcome.list.sequence,
                    outcome.list.keys.len(),
                    if outcome.list.stale {
                        " — warning: stale, past its next update / 警告：已过下次更新时间"
                    } else {
                        ""
                    }
                );
            }
        }
        TrustCommand::List { .. } => {
            let imports = store.trust_imports().await?;
            let mut rows = Vec::new();
            for i in &imports {
                let list = TrustList::open(&i.text, Some(&i.fingerprint))
                    .map_err(|e| anyhow!("stored list of {}: {e}", i.fingerprint))?;
                let stale = list.list.is_stale(now);
                if json {
                    rows.push(serde_json::json!({
                        "publisher": i.publisher, "fingerprint": i.fingerprint, "source": i.source,
                        "sequence": i.sequence, "stale": stale, "keys": list.list.entries.len(),
                        "last_error": i.last_error,
                    }));
                } else {
                    println!(
                        "{} {} sequence {} keys {} from {}{}{}",
                        i.publisher,
                        i.fingerprint,
                        i.sequence,
                        list.list.entries.len(),
                        i.source,
                        if stale { " STALE" } else { "" },
                        i.last_error
                            .as_deref()
                            .map(|e| format!(" (last refresh failed: {e})"))
                            .unwrap_or_default()
                    );
                }
            }
            if json {
                println!("{}", serde_json::Value::Array(rows));
            } else if imports.is_empty() {
                println!("no imported trust lists / 尚未导入信任列表");
            }
        }
        TrustCommand::Refresh { .. } => {
            let mut failed = 0;
            for i in store.trust_imports().await? {
                if !i.source.starts_with("http") {
                    continue;
                }
                let result = match fetch_trust_list(&i.source).await {
                    Ok(text) => import_trust_list(
                        &store,
                        None,
                        now,
                        &actor(),
                        &text,
                        &i.fingerprint,
                        &i.source,
                    )
                    .await
                    .map(|o| o.outcome)
                    .map_err(|e| format!("{} / {}", e.message.en, e.message.zh)),
                    Err(e) => Err(e),
                };
                match result {
                    Ok(outcome) => println!("{}: {outcome}", i.publisher),
                    Err(why) => {
                        failed += 1;
                        store
                            .note_trust_check(&i.fingerprint, now, Some(&why))
                            .await?;
                        eprintln!("{}: {why}", i.publisher);
                    }
                }
            }
            if failed > 0 {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
