//! `healthcode serve` and `healthcode demo`: the HTTP server on SQLite (a
//! data directory) or PostgreSQL (a URL), chosen at run time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use healthcode_codec::{Algorithm, IssuerKey};
use healthcode_server::sms::OutboxSender;
use healthcode_server::{AppState, Settings, SystemClock};
use healthcode_store::Store;
use healthcode_store_postgres::PgStore;
use healthcode_store_sqlite::SqliteStore;
use ring::rand::SystemRandom;

use crate::args::{read_text, write_file};
use crate::db::{database, runtime, Database};

#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on / 监听地址
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data directory: the embedded SQLite database (and, for the demo, its DEMO keys) / 数据目录
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Database URL: sqlite://... or postgres://... (env HEALTHCODE_DATABASE_URL) / 数据库地址
    #[arg(long, value_name = "URL", env = "HEALTHCODE_DATABASE_URL")]
    database: Option<String>,
    /// Settings file (TOML); HEALTHCODE_* variables override it / 配置文件
    #[arg(long, value_name = "FILE", env = "HEALTHCODE_CONFIG")]
    config: Option<PathBuf>,
}

/// Called once the server listens, with its address and database engine.
type OnReady = Box<dyn FnOnce(SocketAddr, &str) + Send>;

pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    let settings = Settings::load(args.config.as_deref(), |k| std::env::var(k).ok())?;
    let rng = SystemRandom::new();
    let key_path = settings
        .issuer_key_file
        .clone()
        .ok_or_else(|| anyhow!("set issuer_key_file in the settings file or HEALTHCODE_ISSUER_KEY_FILE (see `healthcode keys generate`)"))?;
    let issuer = IssuerKey::from_private_json(&read_text(&key_path)?, &rng)
        .with_context(|| format!("{}", key_path.display()))?;
    // Without a separate publisher key, the issuer key signs its own trust list.
    let publisher_path = settings
        .publisher_key_file
        .clone()
        .unwrap_or_else(|| key_path.clone());
    let publisher = IssuerKey::from_private_json(&read_text(&publisher_path)?, &rng)
        .with_context(|| format!("{}", publisher_path.display()))?;
    let db = database(args.data.as_deref(), args.database.as_deref(), None)?;
    run(args.listen, db, settings, issuer, publisher, None)
}

fn run(
    listen: SocketAddr,
    db: Database,
    settings: Settings,
    issuer: IssuerKey,
    publisher: IssuerKey,
    on_ready: Option<OnReady>,
) -> Result<ExitCode> {
    init_logging();
    runtime()?.block_on(async move {
        match db {
            Database::Sqlite(url) => {
                let store = SqliteStore::connect(&url)
                    .await
                    .with_context(|| format!("SQLite database {url}"))?;
                serve_with(store, listen, settings, issuer, publisher, on_ready).await
            }
            Database::Postgres(url) => {
                let store = PgStore::connect(&url)
                    .await
                    .context("PostgreSQL database")?;
                serve_with(store, listen, settings, issuer, publisher, on_ready).await
            }
        }
    })
}

async fn serve_with<S: Store>(
    store: S,
    listen: SocketAddr,
    settings: Settings,
    issuer: IssuerKey,
    publisher: IssuerKey,
    on_ready: Option<OnReady>,
) -> Result<ExitCode> {
    let demo = settings.demo;
    if demo {
        crate::demo_server::seed(&store, &settings).await?;
    }
    let sms = Arc::new(OutboxSender::new(store.clone()));
    let state = AppState::new(
        store.clone(),
        settings,
        issuer,
        &publisher,
        Arc::new(SystemClock),
        sms,
    )?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, engine = store.engine(), "healthcode server listening");
    // Demo venues print their URLs before the welcome, whose last line
    // ("Ctrl-C …") tells readers the output is complete.
    if demo {
        crate::demo_venues::seed_venues(&state, addr).await?;
    }
    if let Some(ready) = on_ready {
        ready(addr, store.engine());
    } else {
        println!(
            "healthcode listening on http://{addr}/ ({} database)",
            store.engine()
        );
    }
    healthcode_server::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("HEALTHCODE_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("warn,healthcode=info,healthcode_server=info")
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// `healthcode demo`: DEMO keys and secrets kept in the data directory (made
/// on first start, reused after), seeded people of every colour and a demo
/// official, then the server.
pub fn demo(args: ServeArgs) -> Result<ExitCode> {
    let dir = args
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from("demo-data"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let rng = SystemRandom::new();
    let issuer = demo_key(&dir.join("keys/demo-issuer.key.json"), "DEMO-22", &rng)?;
    let publisher = demo_key(
        &dir.join("keys/demo-publisher.key.json"),
        "DEMO-PUBLISHER",
        &rng,
    )?;
    let secret = demo_secret(&dir.join("phone-hash-secret"), &rng)?;
    crate::demo_checkpoint::write_samples(&dir, &issuer)?;
    let mut settings = match &args.config {
        Some(path) => Settings::load(Some(path), |_| None)?,
        None => Settings::default(),
    };
    settings.demo = true;
    settings.phone_hash_secret = healthcode_server::Secret::new(secret);
    settings.region_id = issuer.issuer.clone();
    // The demo's --data holds its keys; --database, when given, is where its data goes.
    let db = database(None, args.database.as_deref(), Some(&dir))?;
    let dir_for_print = dir.clone();
    let secret_for_print = settings.phone_hash_secret.expose().to_owned();
    let ready = Box::new(move |addr: SocketAddr, engine: &str| {
        crate::demo_server::print_welcome(addr, engine, &dir_for_print, &secret_for_print);
    });
    run(args.listen, db, settings, issuer, publisher, Some(ready))
}

fn demo_key(path: &Path, issuer: &str, rng: &SystemRandom) -> Result<IssuerKey> {
    if path.exists() {
        return IssuerKey::from_private_json(&read_text(path)?, rng)
            .with_context(|| format!("{}", path.display()));
    }
    let now = time::OffsetDateTime::now_utc();
    let key = IssuerKey::generate(
        issuer,
        Algorithm::EdDsa,
        now - time::Duration::days(1),
        now + time::Duration::days(730),
        true,
        rng,
    )?;
    write_file(path, key.to_private_json()?.as_bytes(), true)?;
    Ok(key)
}

fn demo_secret(path: &Path, rng: &SystemRandom) -> Result<String> {
    use ring::rand::SecureRandom;
    if path.exists() {
        return Ok(read_text(path)?.trim().to_owned());
    }
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes)
        .map_err(|_| anyhow!("the system random number generator failed"))?;
    let secret = hex::encode(bytes);
    write_file(path, secret.as_bytes(), true)?;
    Ok(secret)
}
