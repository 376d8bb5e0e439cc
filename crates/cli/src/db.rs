//! Which database a command works on: `--data DIR` (the embedded SQLite
//! database in that directory) or `--database URL` (sqlite:// or
//! postgres://), chosen at run time. Shared by every command that opens the
//! store, so they all accept the same options and say the same things.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;

/// The options of a command that opens the store without serving.
#[derive(Args, Clone, Debug)]
pub struct DatabaseArgs {
    /// Data directory of the embedded SQLite database / 数据目录
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Database URL: sqlite://... or postgres://... (env HEALTHCODE_DATABASE_URL) / 数据库地址
    #[arg(long, value_name = "URL", env = "HEALTHCODE_DATABASE_URL")]
    pub database: Option<String>,
}

impl DatabaseArgs {
    pub fn resolve(&self) -> Result<Database> {
        database(self.data.as_deref(), self.database.as_deref(), None)
    }
}

/// How to reach the database.
pub enum Database {
    Sqlite(String),
    Postgres(String),
}

/// From `--data` / `--database`; `default_dir` is the demo's data directory.
pub fn database(
    data: Option<&Path>,
    url: Option<&str>,
    default_dir: Option<&Path>,
) -> Result<Database> {
    if data.is_some() && url.is_some() {
        bail!("give either --data DIR (embedded SQLite) or --database URL, not both");
    }
    if let Some(url) = url {
        return if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Database::Postgres(url.to_owned()))
        } else if url.starts_with("sqlite:") {
            Ok(Database::Sqlite(url.to_owned()))
        } else {
            bail!("--database {url:?}: expected a sqlite://... or postgres://... URL")
        };
    }
    let dir = data
        .or(default_dir)
        .ok_or_else(|| anyhow!("give --data DIR (embedded SQLite) or --database URL"))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("healthcode.db");
    Ok(Database::Sqlite(path.to_string_lossy().into_owned()))
}

/// Opens the store and runs `$body` with `$store` bound to it, whichever
/// engine: the body is compiled once per engine, so it may call generic
/// `async fn f<S: Store>(store: &S)`.
macro_rules! with_store {
    ($db:expr, |$store:ident| $body:expr) => {
        match $db {
            $crate::db::Database::Sqlite(url) => {
                let $store = healthcode_store_sqlite::SqliteStore::connect(&url)
                    .await
                    .with_context(|| format!("SQLite database {url}"))?;
                $body
            }
            $crate::db::Database::Postgres(url) => {
                let $store = healthcode_store_postgres::PgStore::connect(&url)
                    .await
                    .context("PostgreSQL database")?;
                $body
            }
        }
    };
}
pub(crate) use with_store;

/// A runtime for one-shot commands.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
