//! Test helpers for the health-code platform (a dev-dependency only).
//!
//! [`PgCluster`] is a throwaway PostgreSQL server: `initdb` into a temporary
//! directory, `pg_ctl start` on a free loopback port with its socket in that
//! directory, one database per test, everything stopped and deleted on drop.
//! PostgreSQL's server programs refuse to run as root, so as root (CI) they
//! run as the `postgres` user through `runuser`, in a directory that user
//! owns.
//!
//! Tests normally call [`fresh_database`]: one cluster per test process,
//! a new database per call. Without the PostgreSQL binaries it prints a loud
//! `SKIPPED:` line and returns `None`, unless `HEALTHCODE_REQUIRE_POSTGRES=1`
//! is set (CI sets it), in which case the test fails. `HEALTHCODE_PG_BIN`
//! picks the directory of the binaries (a PostgreSQL version, say).
#![forbid(unsafe_code)]

use std::fmt;
use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::Connection as _;
use tempfile::TempDir;

/// Set to `1` to make missing PostgreSQL binaries a test failure instead of a skip.
pub const REQUIRE_POSTGRES_ENV: &str = "HEALTHCODE_REQUIRE_POSTGRES";

/// Why a cluster could not be had.
#[derive(Debug)]
pub enum PgError {
    /// `initdb`/`pg_ctl` are neither on PATH nor in `/usr/lib/postgresql/*/bin`.
    BinariesNotFound,
    /// A step failed; the text says which and why (with the server log's tail).
    Failed(String),
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::BinariesNotFound => f.write_str(
                "PostgreSQL binaries not found (initdb and pg_ctl, on PATH or in /usr/lib/postgresql/*/bin); \
                 install them with `apt-get install -y postgresql`",
            ),
            PgError::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for PgError {}

fn failed(what: impl fmt::Display) -> PgError {
    PgError::Failed(what.to_string())
}

/// Set to a directory to take `initdb` and `pg_ctl` from there only.
pub const PG_BIN_ENV: &str = "HEALTHCODE_PG_BIN";

/// The directory holding `initdb` and `pg_ctl`: `$HEALTHCODE_PG_BIN` if
/// set, else the one on PATH, else the newest `/usr/lib/postgresql/<version>/bin`.
pub fn find_bin_dir() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os(PG_BIN_ENV) {
        let dir = PathBuf::from(dir);
        return has_both(&dir).then_some(dir);
    }
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(dir) = std::env::split_paths(&path).find(|d| has_both(d)) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_both(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A running throwaway PostgreSQL cluster. Dropping it stops the server
/// and deletes its directory.
pub struct PgCluster {
    dir: TempDir,
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
    databases: AtomicU32,
    stopped: bool,
}

impl fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCluster")
            .field("dir", &self.dir.path())
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl PgCluster {
    /// Creates and starts a cluster (a few seconds), waiting until it
    /// accepts connections.
    pub fn start() -> Result<PgCluster, PgError> {
        let bin = find_bin_dir().ok_or(PgError::BinariesNotFound)?;
        let as_postgres = running_as_root();
        let mut dir = tempfile::Builder::new();
        dir.prefix("healthcode-pg-");
        // The postgres user must be able to reach the directory: $TMPDIR
        // may be inside root's home, /tmp never is.
        let dir = if as_postgres && Path::new("/tmp").is_dir() {
            dir.tempdir_in("/tmp")
        } else {
            dir.tempdir()
        }
        .map_err(|e| failed(format!("cannot create a temporary directory: {e}")))?;
        let mut cluster = PgCluster {
            dir,
            bin,
            as_postgres,
            port: 0,
            databases: AtomicU32::new(0),
            stopped: true,
        };
        if as_postgres {
            cluster.run(
                Command::new("chown")
                    .arg("postgres:")
                    .arg(cluster.dir.path()),
                "chown the cluster directory to the postgres user",
            )?;
        }
        let data = cluster.data_dir();
        let mut initdb = cluster.server_command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]);
        cluster.run(&mut initdb, "initdb")?;

        // A port that was free a moment ago; another process could take it
        // in between, so try a few.
        let mut last_error = None;
        for _ in 0..5 {
            cluster.port = free_port()?;
            match cluster.pg_ctl_start() {
                Ok(()) => {
                    cluster.stopped = false;
                    last_error = None;
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        if let Some(e) = last_error {
            return Err(e);
        }
        cluster.wait_until_ready()?;
        Ok(cluster)
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's temporary directory (data in `data/`, socket and log beside it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The URL of a database in this cluster (user `postgres`, no password).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a new, empty database and returns its URL.
    pub async fn create_database(&self) -> Result<String, PgError> {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("test_{n}");
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .map_err(|e| failed(format!("cannot connect to the test cluster: {e}")))?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .map_err(|e| failed(format!("CREATE DATABASE {name}: {e}")))?;
        let _ = admin.close().await;
        Ok(self.url(&name))
    }

    /// Stops the server now (dropping does it too).
    pub fn stop(&mut self) -> Result<(), PgError> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let data = self.data_dir();
        let mut stop = self.server_command("pg_ctl");
        stop.arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"]);
        self.run(&mut stop, "pg_ctl stop").map(drop)
    }

    /// Stops the server (fast: running queries cancelled) and starts it
    /// again on the same port and data: its shared buffers start empty, as
    /// after a reboot. Benches use it to time cold reads.
    pub fn restart(&mut self) -> Result<(), PgError> {
        if !self.stopped {
            let data = self.data_dir();
            let mut stop = self.server_command("pg_ctl");
            stop.arg("-D").arg(&data).args(["-m", "fast", "-w", "stop"]);
            self.run(&mut stop, "pg_ctl stop")?;
            self.stopped = true;
        }
        self.pg_ctl_start()?;
        self.stopped = false;
        self.wait_until_ready()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// A PostgreSQL server program, as the postgres user when we are root.
    fn server_command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        // The postgres user may not be able to enter the caller's directory.
        command.current_dir(self.dir.path());
        command
    }

    fn run(&self, command: &mut Command, what: &str) -> Result<Output, PgError> {
        let output = command.stdin(Stdio::null()).output().map_err(|e| {
            failed(format!(
                "{what}: cannot run {:?}: {e}",
                command.get_program()
            ))
        })?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(failed(format!(
                "{what} failed ({}):\n{}{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                self.log_tail()
            )))
        }
    }

    fn pg_ctl_start(&self) -> Result<(), PgError> {
        let data = self.data_dir();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB",
            self.port,
            self.dir.path().display()
        );
        let mut start = self.server_command("pg_ctl");
        start
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        self.run(&mut start, "pg_ctl start").map(drop)
    }

    /// `pg_ctl -w` waits for the server; this also checks that a TCP
    /// connection on the port is accepted.
    fn wait_until_ready(&self) -> Result<(), PgError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return Err(failed(format!(
                        "the test cluster does not accept connections on port {}: {e}{}",
                        self.port,
                        self.log_tail()
                    )))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        if tail.is_empty() {
            String::new()
        } else {
            format!("\n--- server log (last lines) ---\n{tail}")
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.stop();
        // TempDir deletes the directory (as root, or as its owner) next.
    }
}

fn free_port() -> Result<u16, PgError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| failed(format!("cannot find a free loopback port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| failed(format!("cannot find a free loopback port: {e}")))
}

/// Whether missing PostgreSQL binaries must fail the tests.
pub fn postgres_required() -> bool {
    std::env::var(REQUIRE_POSTGRES_ENV).is_ok_and(|v| v == "1")
}

/// The process-wide cluster, started on first use. A static is never
/// dropped, so a watchdog process stops the server and deletes the
/// directory once this test process has exited.
fn shared_cluster() -> &'static Result<PgCluster, PgError> {
    static CLUSTER: OnceLock<Result<PgCluster, PgError>> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let started = Instant::now();
        let cluster = PgCluster::start()?;
        cluster.spawn_watchdog()?;
        let _ = writeln!(
            std::io::stderr().lock(),
            "healthcode-testkit: PostgreSQL test cluster on 127.0.0.1:{} started in {:.1} s",
            cluster.port,
            started.elapsed().as_secs_f64()
        );
        Ok(cluster)
    })
}

impl PgCluster {
    /// Starts a detached shell that waits for this process to end, then
    /// stops the server and removes the directory (unless already gone).
    fn spawn_watchdog(&self) -> Result<(), PgError> {
        let stop = if self.as_postgres {
            "runuser -u postgres -- \"$2/pg_ctl\""
        } else {
            "\"$2/pg_ctl\""
        };
        let script = format!(
            "trap '' INT HUP TERM; \
             while kill -0 \"$0\" 2>/dev/null && [ -d \"$1\" ]; do sleep 0.5; done; \
             if [ -d \"$1\" ]; then {stop} -D \"$1/data\" -m immediate stop >/dev/null 2>&1; rm -rf \"$1\"; fi"
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(std::process::id().to_string())
            .arg(self.dir.path())
            .arg(&self.bin)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(drop)
            .map_err(|e| failed(format!("cannot start the cluster's clean-up watchdog: {e}")))
    }
}

/// A new, empty database in the process-wide test cluster, as a URL.
///
/// `None` means PostgreSQL is not installed: a loud `SKIPPED:` line has
/// been printed (to the real stderr, past the test harness's capture) and
/// the caller should return.
///
/// # Panics
///
/// When the binaries are missing and `HEALTHCODE_REQUIRE_POSTGRES=1`, or
/// when the cluster cannot be started or the database created: in a test,
/// that is a failure.
#[allow(clippy::panic)]
pub async fn fresh_database(what: &str) -> Option<String> {
    // A test's body runs on a thread named after the test.
    let thread = std::thread::current();
    let test = match thread.name() {
        Some(name) if name != "main" => format!("test {name} ({what})"),
        _ => what.to_owned(),
    };
    match shared_cluster() {
        Ok(cluster) => match cluster.create_database().await {
            Ok(url) => Some(url),
            Err(e) => panic!("{test}: {e}"),
        },
        Err(PgError::BinariesNotFound) if !postgres_required() => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "SKIPPED: PostgreSQL binaries not found (initdb, pg_ctl on PATH or in \
                 /usr/lib/postgresql/*/bin); {test} did not run. Install them \
                 (`apt-get install -y postgresql`); set {REQUIRE_POSTGRES_ENV}=1 to make this a failure."
            );
            None
        }
        Err(PgError::BinariesNotFound) => panic!(
            "{test}: PostgreSQL binaries not found (initdb, pg_ctl on PATH or in \
             /usr/lib/postgresql/*/bin) and {REQUIRE_POSTGRES_ENV}=1: install them with \
             `apt-get install -y postgresql`"
        ),
        Err(e) => panic!("{test}: cannot start the PostgreSQL test cluster: {e}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[tokio::test]
    async fn a_cluster_serves_databases_and_is_gone_after_drop() {
        let cluster = match PgCluster::start() {
            Ok(cluster) => cluster,
            Err(PgError::BinariesNotFound) if !postgres_required() => {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "SKIPPED: {}",
                    PgError::BinariesNotFound
                );
                return;
            }
            Err(e) => panic!("{e}"),
        };
        let dir = cluster.dir().to_owned();
        let port = cluster.port();
        let first = cluster.create_database().await.unwrap();
        let second = cluster.create_database().await.unwrap();
        assert_ne!(first, second);
        let mut conn = sqlx::PgConnection::connect(&second).await.unwrap();
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(one, 1);
        conn.close().await.unwrap();
        assert!(dir.join("data/PG_VERSION").is_file());

        drop(cluster);
        assert!(!dir.exists(), "{} left behind", dir.display());
        assert!(
            std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
            "the server still listens on {port}"
        );
    }
}
