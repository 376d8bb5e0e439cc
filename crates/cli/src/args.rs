//! Parsing and I/O helpers shared by the commands: times, durations, files.

use std::fs;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Parses an RFC 3339 instant, e.g. `2026-11-22T08:00:00+08:00`.
pub fn parse_instant(s: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).map_err(|e| {
        anyhow!("{s:?} is not an RFC 3339 time such as 2026-11-22T08:00:00+08:00 ({e})")
    })
}

/// The given instant, or the clock: only the edges read the clock.
pub fn instant_or_now(at: Option<&str>) -> Result<OffsetDateTime> {
    match at {
        Some(s) => parse_instant(s),
        None => Ok(OffsetDateTime::now_utc()),
    }
}

/// Parses a duration such as `30s`, `5m`, `2h`, `7d` or plain seconds.
pub fn parse_duration(s: &str) -> Result<i64> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: i64 = number
        .parse()
        .map_err(|_| anyhow!("{s:?} is not a duration such as 30s, 5m, 2h or 7d"))?;
    let unit_seconds = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("{s:?} has unknown unit {unit:?}: use s, m, h or d"),
    };
    n.checked_mul(unit_seconds)
        .ok_or_else(|| anyhow!("duration {s:?} is too long"))
}

pub fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes a file, creating its directory; `private` files get mode 0600.
pub fn write_file(path: &Path, content: &[u8], private: bool) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    #[cfg(unix)]
    if private {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        return file
            .write_all(content)
            .with_context(|| format!("cannot write {}", path.display()));
    }
    let _ = private;
    fs::write(path, content).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m").unwrap(), 300);
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("2h").unwrap(), 7200);
        assert_eq!(parse_duration("7d").unwrap(), 604_800);
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("").is_err());
    }
}
