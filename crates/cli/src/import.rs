//! `healthcode import carrier-records FILE` and `healthcode import
//! risk-areas FILE`, and `healthcode carrier create-account NAME`.
//!
//! Files are CSV (a header row naming the columns, in any order) or NDJSON
//! (one JSON object per line). Every line is validated on its own: a bad
//! line is reported with its number and reason and skipped, never half
//! imported; the good ones are stored in batches (idempotent: a record
//! already stored is counted as present). A progress bar shows on stderr
//! when it is a terminal.
//!
//! Exit status: 0 when every line was imported or already present, 1 when
//! some lines were rejected (the others are stored), 2 on a usage error.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use healthcode_core::AuditRecord;
use healthcode_server::itinerary::records::{self, RiskAreaInput, StayFields, StayInput};
use healthcode_server::itinerary::service::new_carrier_key;
use healthcode_server::security::PhoneHasher;
use healthcode_server::Settings;
use healthcode_store::itinerary::{key_order, CarrierAccount, CarrierStay, RiskAreaRecord};
use healthcode_store::{Store, StoreError};
use healthcode_store_postgres::PgStore;
use healthcode_store_sqlite::SqliteStore;
use indicatif::{ProgressBar, ProgressStyle};
use time::OffsetDateTime;

/// Records per store call by default: one transaction each. Large, because
/// a commit costs about the pages it touched and the keys (HMACs) are spread
/// over the whole table: bigger batches touch each page once for more rows.
/// SQLite writes every touched page to its WAL at commit, so it gains most:
/// 1M rows into an 11M-row file went from 25k/s (100,000 per batch) to
/// 70k/s (1,000,000). PostgreSQL logs rows, not pages (but after each
/// checkpoint), and measured no gain from batches over 100,000.
const SQLITE_BATCH: usize = 1_000_000;
const POSTGRES_BATCH: usize = 100_000;

/// Rejected lines printed at most (the count is always exact).
const MAX_SHOWN: usize = 1000;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Carriers' stay records: phone, city_code, first_seen, last_seen[, cell] / 导入运营商停留记录
    CarrierRecords(FileArgs),
    /// Medium- and high-risk areas: city_code, area_zh, area_en, level, starts_at[, ends_at] / 导入中高风险地区
    RiskAreas(FileArgs),
}

#[derive(Subcommand)]
pub enum CarrierCommand {
    /// Create a carrier account and print its API key (shown once) / 创建运营商账户并显示接口密钥
    CreateAccount(AccountArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Csv,
    Ndjson,
}

#[derive(Args)]
pub struct DbArgs {
    /// Data directory of the embedded SQLite database / 数据目录
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Database URL: sqlite://... or postgres://... (env HEALTHCODE_DATABASE_URL) / 数据库地址
    #[arg(long, value_name = "URL", env = "HEALTHCODE_DATABASE_URL")]
    database: Option<String>,
    /// Settings file (TOML), for the phone-hash secret; HEALTHCODE_* variables override it / 配置文件
    #[arg(long, value_name = "FILE", env = "HEALTHCODE_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Args)]
pub struct FileArgs {
    /// The file; `-` reads standard input / 文件（- 为标准输入）
    file: PathBuf,
    /// csv or ndjson (default: from the extension, else csv) / 格式
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// For carrier records: the carrier the file came from, kept with each record / 来源运营商
    #[arg(long)]
    carrier: Option<String>,
    /// For carrier records: records per transaction (1,000 to 10,000,000; memory grows with it; default 1,000,000 on SQLite, 100,000 on PostgreSQL) / 每个事务的记录数
    #[arg(long, value_parser = batch_size)]
    batch: Option<usize>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Args)]
pub struct AccountArgs {
    /// Account name: letters, digits, - and _ / 账户名
    name: String,
    /// Shown name, e.g. 演示移动 DEMO Mobile / 显示名称
    #[arg(long)]
    display_name: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

enum Db {
    Sqlite(String),
    Postgres(String),
}

impl DbArgs {
    fn db(&self) -> Result<Db> {
        match (&self.data, &self.database) {
            (Some(_), Some(_)) => {
                bail!("give either --data DIR (embedded SQLite) or --database URL, not both")
            }
            (None, Some(url))
                if url.starts_with("postgres://") || url.starts_with("postgresql://") =>
            {
                Ok(Db::Postgres(url.clone()))
            }
            (None, Some(url)) if url.starts_with("sqlite:") => Ok(Db::Sqlite(url.clone())),
            (None, Some(url)) => {
                bail!("--database {url:?}: expected a sqlite://... or postgres://... URL")
            }
            (Some(dir), None) => {
                let path = dir.join(healthcode_store_sqlite::DATABASE_FILE);
                if !path.is_file() {
                    bail!(
                        "{} holds no database: start the server (or the demo) with this --data once first",
                        dir.display()
                    );
                }
                Ok(Db::Sqlite(path.to_string_lossy().into_owned()))
            }
            (None, None) => bail!("give --data DIR (embedded SQLite) or --database URL"),
        }
    }

    /// Settings for the phone-hash secret: the config file and environment;
    /// a demo data directory's own secret file when nothing else sets one.
    fn settings(&self) -> Result<Settings> {
        let demo_secret = self.data.as_ref().map(|d| d.join("phone-hash-secret"));
        let env = |k: &str| {
            let v = std::env::var(k).ok();
            if v.is_none() && k == "HEALTHCODE_PHONE_HASH_SECRET_FILE" {
                if let Some(path) = demo_secret.as_ref().filter(|p| p.is_file()) {
                    if std::env::var("HEALTHCODE_PHONE_HASH_SECRET").is_err() {
                        return Some(path.to_string_lossy().into_owned());
                    }
                }
            }
            v
        };
        Ok(Settings::load(self.config.as_deref(), env)?)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs `job` on the store the arguments name.
macro_rules! with_store {
    ($db:expr, |$store:ident| $job:expr) => {{
        runtime()?.block_on(async move {
            match $db {
                Db::Sqlite(url) => {
                    let $store = SqliteStore::connect(&url)
                        .await
                        .with_context(|| format!("SQLite database {url}"))?;
                    let out = $job.await;
                    $store.close().await;
                    out
                }
                Db::Postgres(url) => {
                    let $store = PgStore::connect(&url)
                        .await
                        .context("PostgreSQL database")?;
                    let out = $job.await;
                    $store.close().await;
                    out
                }
            }
        })
    }};
}

pub fn run(cmd: ImportCommand) -> Result<ExitCode> {
    match cmd {
        ImportCommand::CarrierRecords(a) => {
            let settings = a.db.settings()?;
            let phones = PhoneHasher::new(settings.phone_hash_secret.expose().as_bytes());
            let db = a.db.db()?;
            let carrier = a.carrier.clone();
            if let Some(c) = &carrier {
                check_name("--carrier", c)?;
            }
            let source = Source::open(&a.file, a.format)?;
            let batch = a.batch.unwrap_or(match &db {
                Db::Sqlite(_) => SQLITE_BATCH,
                Db::Postgres(_) => POSTGRES_BATCH,
            });
            with_store!(db, |store| import_stays(
                &store, source, phones, carrier, batch
            ))
        }
        ImportCommand::RiskAreas(a) => {
            let db = a.db.db()?;
            let source = Source::open(&a.file, a.format)?;
            with_store!(db, |store| import_areas(&store, source))
        }
    }
}

pub fn run_carrier(cmd: CarrierCommand) -> Result<ExitCode> {
    match cmd {
        CarrierCommand::CreateAccount(a) => {
            check_name("NAME", &a.name)?;
            let display = a.display_name.clone().unwrap_or_else(|| a.name.clone());
            if display.trim().is_empty() || display.chars().count() > 64 {
                bail!("--display-name must be 1 to 64 characters");
            }
            let db = a.db.db()?;
            let name = a.name.clone();
            with_store!(db, |store| create_account(&store, name, display))
        }
    }
}

fn batch_size(text: &str) -> std::result::Result<usize, String> {
    match text.replace('_', "").parse::<usize>() {
        Ok(n) if (1_000..=10_000_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "{text:?}: give a number of records from 1000 to 10000000"
        )),
    }
}

fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        bail!("{what} {name:?}: use 1 to 32 letters, digits, - or _");
    }
    Ok(())
}

async fn create_account<S: Store>(store: &S, name: String, display: String) -> Result<ExitCode> {
    let rng = ring::rand::SystemRandom::new();
    let (key, key_hash) = new_carrier_key(&rng).map_err(|e| anyhow!(e.message.en))?;
    let now = OffsetDateTime::now_utc();
    match store
        .create_carrier_account(&CarrierAccount {
            name: name.clone(),
            display_name: display,
            key_hash,
            created_at: now,
        })
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => bail!("a carrier account named {name:?} already exists"),
        Err(e) => return Err(e.into()),
    }
    store
        .append_audit(AuditRecord {
            at: now,
            actor: "operator:cli".into(),
            action: "carrier_account.created".into(),
            subject: format!("carrier:{name}"),
            details: "{}".into(),
        })
        .await?;
    println!("carrier account {name} created / 已创建运营商账户");
    println!("API key (shown once; only its hash is stored) / 接口密钥（仅显示一次）:");
    println!("{key}");
    Ok(ExitCode::SUCCESS)
}

// ----------------------------------------------------------------------------
// Reading files

/// A file (or stdin) being read, with a progress bar on a terminal.
struct Source {
    format: Format,
    reader: Box<dyn Read + Send>,
    progress: ProgressBar,
}

impl Source {
    fn open(path: &Path, format: Option<Format>) -> Result<Source> {
        let format = format.unwrap_or_else(|| match path.extension().and_then(|e| e.to_str()) {
            Some("ndjson" | "jsonl" | "json") => Format::Ndjson,
            _ => Format::Csv,
        });
        let (reader, len): (Box<dyn Read + Send>, Option<u64>) = if path == Path::new("-") {
            (Box::new(std::io::stdin()), None)
        } else {
            let file =
                File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
            let len = file.metadata().ok().map(|m| m.len());
            (Box::new(file), len)
        };
        let progress = if std::io::stderr().is_terminal() {
            match len {
                Some(n) => {
                    let bar = ProgressBar::new(n);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta}) {msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar
                }
                None => ProgressBar::new_spinner(),
            }
        } else {
            ProgressBar::hidden()
        };
        Ok(Source {
            format,
            reader: Box::new(progress.wrap_read(reader)),
            progress,
        })
    }

    /// Calls `each(line number, fields)` for every record: CSV rows by
    /// header name, NDJSON objects as they are. A line that cannot even be
    /// split into fields comes as `Err(reason)`.
    fn for_each(
        self,
        required: &[&str],
        mut each: impl FnMut(u64, std::result::Result<serde_json::Value, String>) -> Result<()>,
    ) -> Result<()> {
        match self.format {
            Format::Ndjson => {
                let reader = BufReader::with_capacity(1 << 20, self.reader);
                for (i, line) in reader.lines().enumerate() {
                    let n = i as u64 + 1;
                    let line = line.with_context(|| format!("reading line {n}"))?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    each(
                        n,
                        serde_json::from_str(&line).map_err(|e| format!("not JSON: {e}")),
                    )?;
                }
            }
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .flexible(true)
                    .trim(csv::Trim::All)
                    .from_reader(BufReader::with_capacity(1 << 20, self.reader));
                let headers = reader
                    .headers()
                    .context("cannot read the CSV header row")?
                    .iter()
                    .map(str::to_owned)
                    .collect::<Vec<_>>();
                for column in required {
                    if !headers.iter().any(|h| h == column) {
                        bail!(
                            "the CSV header row lacks the column {column:?} (it needs {}; found {:?})",
                            required.join(", "),
                            headers.join(",").chars().take(120).collect::<String>()
                        );
                    }
                }
                let mut record = csv::StringRecord::new();
                loop {
                    let n = reader.position().line();
                    match reader.read_record(&mut record) {
                        Ok(false) => break,
                        Ok(true) => {
                            if record.len() == 1 && record.get(0).is_some_and(str::is_empty) {
                                continue;
                            }
                            let value = if record.len() != headers.len() {
                                Err(format!(
                                    "{} fields, the header has {}",
                                    record.len(),
                                    headers.len()
                                ))
                            } else {
                                let mut map = serde_json::Map::new();
                                for (h, v) in headers.iter().zip(record.iter()) {
                                    if !v.is_empty() {
                                        map.insert(
                                            h.clone(),
                                            serde_json::Value::String(v.to_owned()),
                                        );
                                    }
                                }
                                Ok(serde_json::Value::Object(map))
                            };
                            each(n, value)?;
                        }
                        Err(e) => each(n, Err(format!("unreadable CSV: {e}")))?,
                    }
                }
            }
        }
        self.progress.finish_and_clear();
        Ok(())
    }
}

/// The columns of a carrier-records file, in the order [`StayFields`] takes them.
const STAY_COLUMNS: [&str; 5] = ["phone", "city_code", "first_seen", "last_seen", "cell"];

impl Source {
    /// Calls `each(line number, fields)` for every carrier record, without
    /// building a JSON value per line: CSV columns are found by header name
    /// once; an NDJSON line is read into [`StayInput`] (unknown keys refused).
    /// A line that cannot be read as a record comes as `Err(reason)`.
    fn for_each_stay(
        self,
        mut each: impl FnMut(u64, std::result::Result<StayFields<'_>, String>) -> Result<()>,
    ) -> Result<()> {
        match self.format {
            Format::Ndjson => {
                let mut reader = BufReader::with_capacity(1 << 20, self.reader);
                let mut line = String::new();
                let mut n = 0u64;
                loop {
                    line.clear();
                    n += 1;
                    let read = reader
                        .read_line(&mut line)
                        .with_context(|| format!("reading line {n}"))?;
                    if read == 0 {
                        break;
                    }
                    if line.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<StayInput>(&line) {
                        Ok(input) => each(n, Ok(StayFields::from(&input)))?,
                        Err(e) => each(n, Err(format!("record: {e}")))?,
                    }
                }
            }
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .flexible(true)
                    .trim(csv::Trim::All)
                    .from_reader(BufReader::with_capacity(1 << 20, self.reader));
                let headers = reader
                    .headers()
                    .context("cannot read the CSV header row")?
                    .clone();
                let position = |column: &str| headers.iter().position(|h| h == column);
                let mut required = [0usize; 4];
                for (k, column) in STAY_COLUMNS[..4].iter().enumerate() {
                    required[k] = position(column).with_context(|| {
                        format!(
                            "the CSV header row lacks the column {column:?} (it needs {}; found {:?})",
                            STAY_COLUMNS[..4].join(", "),
                            headers.iter().collect::<Vec<_>>().join(",").chars().take(120).collect::<String>()
                        )
                    })?;
                }
                for (i, h) in headers.iter().enumerate() {
                    if !STAY_COLUMNS.contains(&h) {
                        bail!(
                            "the CSV header row has the unknown column {h:?} (carrier records take {})",
                            STAY_COLUMNS.join(", ")
                        );
                    }
                    if position(h) != Some(i) {
                        bail!("the CSV header row names the column {h:?} twice");
                    }
                }
                let cell_at = position("cell");
                let mut record = csv::StringRecord::new();
                loop {
                    let n = reader.position().line();
                    match reader.read_record(&mut record) {
                        Ok(false) => break,
                        Ok(true) => {
                            if record.len() == 1 && record.get(0).is_some_and(str::is_empty) {
                                continue;
                            }
                            if record.len() != headers.len() {
                                each(
                                    n,
                                    Err(format!(
                                        "{} fields, the header has {}",
                                        record.len(),
                                        headers.len()
                                    )),
                                )?;
                                continue;
                            }
                            let field = |k: usize| -> std::result::Result<&str, String> {
                                match record.get(required[k]) {
                                    Some(v) if !v.is_empty() => Ok(v),
                                    _ => Err(format!("{}: empty / 为空", STAY_COLUMNS[k])),
                                }
                            };
                            let fields = (|| {
                                Ok(StayFields {
                                    phone: field(0)?,
                                    city_code: field(1)?,
                                    first_seen: field(2)?,
                                    last_seen: field(3)?,
                                    cell: cell_at
                                        .and_then(|i| record.get(i))
                                        .filter(|v| !v.is_empty()),
                                })
                            })();
                            each(n, fields)?;
                        }
                        Err(e) => each(n, Err(format!("unreadable CSV: {e}")))?,
                    }
                }
            }
        }
        self.progress.finish_and_clear();
        Ok(())
    }
}

/// Rejected lines, the first [`MAX_SHOWN`] kept for printing.
#[derive(Default)]
struct Rejected {
    count: u64,
    shown: Vec<String>,
}

impl Rejected {
    fn push(&mut self, line: u64, reason: String) {
        self.count += 1;
        if self.shown.len() < MAX_SHOWN {
            self.shown.push(format!("line {line}: {reason}"));
        }
    }

    fn print(&self) {
        for s in &self.shown {
            say(&format!("  {s}"));
        }
        if self.count > self.shown.len() as u64 {
            let more = self.count - self.shown.len() as u64;
            say(&format!(
                "  … and {more} more rejected lines / 另有 {more} 行被拒绝"
            ));
        }
    }
}

/// A line on stdout; a closed pipe (`| head`) is not an error.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

async fn import_stays<S: Store>(
    store: &S,
    source: Source,
    phones: PhoneHasher,
    carrier: Option<String>,
    batch_size: usize,
) -> Result<ExitCode> {
    let started = Instant::now();
    let now = OffsetDateTime::now_utc();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<CarrierStay>>(2);
    // Parse and hash on a blocking thread while the store writes batches.
    let parser = tokio::task::spawn_blocking(move || -> Result<(Rejected, u64)> {
        let mut rejected = Rejected::default();
        let mut read = 0u64;
        let mut batch = Vec::with_capacity(batch_size);
        source.for_each_stay(|n, fields| {
            read += 1;
            let parsed = fields.and_then(|f| {
                records::stay_fields(f, &phones, now, carrier.as_deref()).map_err(|r| r.line())
            });
            match parsed {
                Ok(stay) => batch.push(stay),
                Err(reason) => rejected.push(n, reason),
            }
            if batch.len() >= batch_size {
                let mut full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                // Sorted here, on the reader's core, while the database
                // inserts the previous batch.
                full.sort_unstable_by(key_order);
                tx.blocking_send(full)
                    .map_err(|_| anyhow!("the database writer stopped"))?;
            }
            Ok(())
        })?;
        if !batch.is_empty() {
            batch.sort_unstable_by(key_order);
            tx.blocking_send(batch)
                .map_err(|_| anyhow!("the database writer stopped"))?;
        }
        Ok((rejected, read))
    });
    let mut imported = 0u64;
    let mut present = 0u64;
    let mut write_error = None;
    while let Some(batch) = rx.recv().await {
        match store.insert_carrier_stays(&batch).await {
            Ok(c) => {
                imported += c.inserted;
                present += c.already_present;
            }
            Err(e) => {
                write_error = Some(e);
                break;
            }
        }
    }
    drop(rx);
    let parsed = parser.await.context("the file reader failed")?;
    if let Some(e) = write_error {
        return Err(anyhow!(e).context(format!(
            "storing failed after {imported} records were imported (re-running the import is safe: stored records count as present)"
        )));
    }
    let (rejected, read) = parsed?;
    let secs = started.elapsed().as_secs_f64();
    say(&format!(
        "carrier records 运营商记录: {read} read 读取, {imported} imported 导入, {present} already present 已存在, {} rejected 拒绝 ({secs:.1} s, {:.0} records/s)",
        rejected.count,
        read as f64 / secs.max(1e-9)
    ));
    rejected.print();
    Ok(if rejected.count == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn import_areas<S: Store>(store: &S, source: Source) -> Result<ExitCode> {
    let mut rejected = Rejected::default();
    let mut inputs = Vec::new();
    let required = ["city_code", "area_zh", "area_en", "level", "starts_at"];
    source.for_each(&required, |n, value| {
        let parsed = value.and_then(|v| {
            let input: RiskAreaInput =
                serde_json::from_value(v).map_err(|e| format!("record: {e}"))?;
            records::risk_area(&input).map_err(|r| r.line())
        });
        match parsed {
            Ok(area) => inputs.push(area),
            Err(reason) => rejected.push(n, reason),
        }
        Ok(())
    })?;
    let now = OffsetDateTime::now_utc();
    let (mut imported, mut present) = (0u64, 0u64);
    for area in inputs {
        let record = RiskAreaRecord {
            area,
            published_by: "operator:import".into(),
            published_at: now,
            ended_by: None,
            supersedes: None,
        };
        match store.create_risk_area(&record).await {
            Ok(()) => {
                imported += 1;
                store
                    .append_audit(AuditRecord {
                        at: now,
                        actor: "operator:import".into(),
                        action: "risk_area.published".into(),
                        subject: format!("risk_area:{}", record.area.id),
                        details: serde_json::json!({
                            "city_code": record.area.city.as_str(),
                            "area": record.area.area,
                            "level": record.area.level.as_str(),
                            "starts_at": record.area.starts_at.unix_timestamp(),
                            "ends_at": record.area.ends_at.map(OffsetDateTime::unix_timestamp),
                        })
                        .to_string(),
                    })
                    .await?;
            }
            Err(StoreError::Conflict(_)) => present += 1,
            Err(e) => return Err(e.into()),
        }
    }
    say(&format!(
        "risk areas 风险地区: {imported} imported 导入, {present} already present 已存在, {} rejected 拒绝",
        rejected.count
    ));
    rejected.print();
    Ok(if rejected.count == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
