//! `healthcode purge` and `healthcode service shutdown|status|verify-statement`:
//! the data lifecycle from the command line, with the server's own
//! implementation (`healthcode_server::lifecycle`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use healthcode_codec::deletion::DeletionStatement;
use healthcode_codec::IssuerKey;
use healthcode_server::lifecycle::{self, ShutdownRequest, OFFLINE_PROPAGATION};
use healthcode_server::sms::OutboxSender;
use healthcode_server::{AppState, Settings, SystemClock};
use healthcode_store::lifecycle::Service;
use healthcode_store::Store;
use healthcode_store_postgres::PgStore;
use healthcode_store_sqlite::SqliteStore;
use ring::rand::SystemRandom;
use time::OffsetDateTime;

use crate::args::{parse_instant, read_text};

/// Where the database is: as for `healthcode serve`.
#[derive(Args, Clone)]
pub struct DatabaseArgs {
    /// Data directory holding the embedded SQLite database / 数据目录
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Database URL: sqlite://... or postgres://... (env HEALTHCODE_DATABASE_URL) / 数据库地址
    #[arg(long, value_name = "URL", env = "HEALTHCODE_DATABASE_URL")]
    database: Option<String>,
    /// Settings file (TOML), as given to `serve`; HEALTHCODE_* variables override it / 配置文件
    #[arg(long, value_name = "FILE", env = "HEALTHCODE_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Count what would be deleted; delete nothing / 只统计，不删除
    #[arg(long)]
    dry_run: bool,
}

#[derive(Subcommand)]
pub enum ServiceCommand {
    /// Take a service offline at a time and delete its personal data / 停止服务并删除个人数据
    Shutdown(ShutdownArgs),
    /// Each service's state and the published deletion statements / 服务状态
    Status(StatusArgs),
    /// Verify a signed deletion statement offline / 离线核验删除声明
    VerifyStatement(VerifyStatementArgs),
}

#[derive(Args)]
pub struct ShutdownArgs {
    /// health-code, itinerary or checkins
    service: String,
    /// From when every route answers 410 Gone: RFC 3339 (2023-02-16T11:00:00+08:00) or "now" / 停止时间
    #[arg(long, value_name = "TIME")]
    at: String,
    /// The decision's id and text, as it will be published / 依据的决定（文号与内容）
    #[arg(long, value_name = "TEXT")]
    decision: String,
    /// What the decision lets stay: code-face (health-code only) / 保留内容
    #[arg(long, value_name = "WHAT")]
    keep: Vec<String>,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(Args)]
pub struct VerifyStatementArgs {
    /// The signed statement (JSON), "-" for stdin
    file: PathBuf,
    /// The publisher key's fingerprint (SHA-256, hex), as pinned for the trust list / 发布者公钥指纹
    #[arg(long)]
    pin: String,
}

enum Database {
    Sqlite(String),
    Postgres(String),
}

fn database(args: &DatabaseArgs) -> Result<Database> {
    match (&args.data, &args.database) {
        (Some(_), Some(_)) => {
            bail!("give either --data DIR (embedded SQLite) or --database URL, not both")
        }
        (None, Some(url)) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Database::Postgres(url.clone()))
        }
        (None, Some(url)) if url.starts_with("sqlite:") => Ok(Database::Sqlite(url.clone())),
        (None, Some(url)) => {
            bail!("--database {url:?}: expected a sqlite://... or postgres://... URL")
        }
        (Some(dir), None) => {
            let path = dir.join(healthcode_store_sqlite::DATABASE_FILE);
            if !path.is_file() {
                bail!(
                    "--data {}: no database there ({} is missing)",
                    dir.display(),
                    path.display()
                );
            }
            Ok(Database::Sqlite(path.to_string_lossy().into_owned()))
        }
        (None, None) => bail!("give --data DIR (embedded SQLite) or --database URL"),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn settings(args: &DatabaseArgs) -> Result<Settings> {
    Ok(Settings::load(args.config.as_deref(), |k| {
        std::env::var(k).ok()
    })?)
}

/// Runs `work` on the store the arguments name.
macro_rules! on_store {
    ($db:expr, |$store:ident| $work:expr) => {
        runtime()?.block_on(async move {
            match $db {
                Database::Sqlite(url) => {
                    let $store = SqliteStore::connect(&url)
                        .await
                        .with_context(|| format!("SQLite database {url}"))?;
                    $work.await
                }
                Database::Postgres(url) => {
                    let $store = PgStore::connect(&url)
                        .await
                        .context("PostgreSQL database")?;
                    $work.await
                }
            }
        })
    };
}

pub fn purge(args: PurgeArgs) -> Result<ExitCode> {
    let settings = settings(&args.db)?;
    let db = database(&args.db)?;
    let dry_run = args.dry_run;
    on_store!(db, |store| purge_on(store, settings, dry_run))
}

async fn purge_on<S: Store>(store: S, settings: Settings, dry_run: bool) -> Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    let run = lifecycle::purge(&store, &settings, now, "operator:cli", dry_run).await?;
    let verb = if dry_run { "would delete" } else { "deleted" };
    for c in &run.counts {
        println!("{verb} {:>8} {}", c.records, c.category);
    }
    if !dry_run && run.total() > 0 {
        println!("counts appended to the audit chain (retention.purged)");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(cmd: ServiceCommand) -> Result<ExitCode> {
    match cmd {
        ServiceCommand::Shutdown(a) => shutdown(a),
        ServiceCommand::Status(a) => {
            let db = database(&a.db)?;
            on_store!(db, |store| status_on(store))
        }
        ServiceCommand::VerifyStatement(a) => verify_statement(a),
    }
}

fn parse_at(s: &str) -> Result<OffsetDateTime> {
    if s.trim() == "now" {
        return Ok(OffsetDateTime::now_utc());
    }
    parse_instant(s).context("--at")
}

fn shutdown(args: ShutdownArgs) -> Result<ExitCode> {
    let service = Service::parse(&args.service).ok_or_else(|| {
        anyhow!(
            "unknown service {:?}: expected health-code, itinerary or checkins",
            args.service
        )
    })?;
    let at = parse_at(&args.at)?;
    let settings = settings(&args.db)?;
    let rng = SystemRandom::new();
    let (issuer, publisher) = keys(&settings, &rng)?;
    let db = database(&args.db)?;
    let request = ShutdownRequest {
        service,
        at,
        decision: args.decision,
        keep: args.keep,
        scheduled_by: "operator:cli".into(),
    };
    on_store!(db, |store| shutdown_on(
        store, settings, issuer, publisher, request
    ))
}

fn keys(settings: &Settings, rng: &SystemRandom) -> Result<(IssuerKey, IssuerKey)> {
    let key_path = settings.issuer_key_file.clone().ok_or_else(|| {
        anyhow!("set issuer_key_file in the settings file or HEALTHCODE_ISSUER_KEY_FILE, as for `serve`")
    })?;
    let load = |path: &Path| -> Result<IssuerKey> {
        IssuerKey::from_private_json(&read_text(path)?, rng)
            .with_context(|| path.display().to_string())
    };
    let issuer = load(&key_path)?;
    let publisher = load(settings.publisher_key_file.as_deref().unwrap_or(&key_path))?;
    Ok((issuer, publisher))
}

async fn shutdown_on<S: Store>(
    store: S,
    settings: Settings,
    issuer: IssuerKey,
    publisher: IssuerKey,
    request: ShutdownRequest,
) -> Result<ExitCode> {
    let sms = Arc::new(OutboxSender::new(store.clone()));
    let state = AppState::new(
        store.clone(),
        settings,
        issuer,
        &publisher,
        Arc::new(SystemClock),
        sms,
    )?;
    let service = request.service;
    let existing = store
        .shutdowns()
        .await?
        .into_iter()
        .find(|s| s.service == service);
    let shutdown = match existing {
        Some(s) if s.statement_id.is_some() => bail!(
            "{service} already ended on {}; deletion statement {}",
            lifecycle::shown(s.at),
            s.statement_id.unwrap_or_default()
        ),
        Some(s) if s.at + OFFLINE_PROPAGATION > state.now() + time::Duration::minutes(1) => bail!(
            "{service} already has a shutdown at {} (decision “{}”); it runs then",
            lifecycle::shown(s.at),
            s.decision
        ),
        Some(s) => {
            println!("{service}: executing the shutdown recorded before");
            s
        }
        None => lifecycle::schedule(&store, request, state.now()).await?,
    };
    println!(
        "{service}: offline from {} under decision “{}”",
        lifecycle::shown(shutdown.at),
        shutdown.decision
    );
    let start = shutdown.at + OFFLINE_PROPAGATION;
    let wait = start - state.now();
    if wait > time::Duration::minutes(1) {
        println!(
            "running servers take it offline then and delete its personal data from {}; \
             without a running server, run this command again after that time",
            lifecycle::shown(start)
        );
        return Ok(ExitCode::SUCCESS);
    }
    if wait.is_positive() {
        println!(
            "waiting {} s so that running servers are offline before the deletion",
            wait.whole_seconds() + 1
        );
        tokio::time::sleep(std::time::Duration::from_millis(
            u64::try_from(wait.whole_milliseconds()).unwrap_or(0) + 1,
        ))
        .await;
    }
    let statement = lifecycle::execute(&state, &shutdown, "operator:cli").await?;
    let opened =
        DeletionStatement::open(&statement.signed_json, Some(&state.publisher_fingerprint))
            .context("the statement just signed does not verify")?;
    for d in &opened.statement.deleted {
        println!("deleted {:>8} {}", d.records, d.category);
    }
    for s in &opened.statement.storage {
        match &s.note {
            None => println!("storage: {} done", s.step),
            Some(note) if s.done => println!("storage: {} done ({note})", s.step),
            Some(note) => println!("storage: {} NOT done: {note}", s.step),
        }
    }
    println!(
        "deletion statement {} published at /.well-known/healthcode/deletion-statements/{}.json \
         (publisher fingerprint {})",
        statement.id, statement.id, state.publisher_fingerprint
    );
    println!("backups, replicas, WAL archives and logs: see docs/lifecycle.md");
    Ok(ExitCode::SUCCESS)
}

async fn status_on<S: Store>(store: S) -> Result<ExitCode> {
    let shutdowns = store.shutdowns().await?;
    let now = OffsetDateTime::now_utc();
    for service in Service::ALL {
        match shutdowns.iter().find(|s| s.service == service) {
            None => println!("{service}: online"),
            Some(s) => {
                let state = match (&s.statement_id, s.at <= now) {
                    (Some(id), _) => format!("ended, statement {id}"),
                    (None, true) => "offline, deletion pending".to_owned(),
                    (None, false) => "online, shutdown scheduled".to_owned(),
                };
                println!(
                    "{service}: {state}; offline from {}; decision “{}”{}",
                    lifecycle::shown(s.at),
                    s.decision,
                    if s.keep.is_empty() {
                        String::new()
                    } else {
                        format!("; keeps {}", s.keep.join(", "))
                    }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn verify_statement(args: VerifyStatementArgs) -> Result<ExitCode> {
    let text = if args.file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).context("stdin")?;
        s
    } else {
        read_text(&args.file)?
    };
    match DeletionStatement::open(&text, Some(&args.pin)) {
        Ok(v) => {
            let s = &v.statement;
            println!(
                "valid: deletion statement {} of {} ({}), signed by {} ({}){}",
                s.id,
                s.service,
                s.region,
                s.publisher.issuer,
                v.publisher_fingerprint,
                if s.demo { " — DEMO" } else { "" }
            );
            println!("decision: {}", s.decision);
            println!(
                "offline from {}, deleted {}: {} records",
                lifecycle::shown(s.offline_at),
                lifecycle::shown(s.deleted_at),
                s.total_records()
            );
            for d in &s.deleted {
                println!("  {:>8} {}", d.records, d.category);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(healthcode_codec::trust::TrustError::PinMismatch { found, pinned }) => {
            eprintln!(
                "error: invalid deletion statement: signed by publisher key {found}, which does not match the pinned {pinned}"
            );
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("error: invalid deletion statement: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
