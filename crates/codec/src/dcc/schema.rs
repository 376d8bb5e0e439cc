//! Structural validation of an EU DCC against the eHealth Network's DCC
//! JSON schema (version 1.3): required fields, types, lengths and patterns.
//! Value-set membership is not checked (value sets change; the rules engine
//! is the place for them), and neither are `format` annotations, which the
//! schema leaves to applications.

use serde_json::{Map, Value as Json};

/// Validates a certificate (the JSON view of `hcert`); returns every problem
/// found, each naming its JSON path. Empty means valid.
pub fn validate(dcc: &Json) -> Vec<String> {
    let mut v = Validator::default();
    v.root(dcc);
    v.problems
}

#[derive(Default)]
struct Validator {
    problems: Vec<String>,
}

const GROUPS: [(&str, Entry); 3] = [
    ("v", Entry::Vaccination),
    ("t", Entry::Test),
    ("r", Entry::Recovery),
];

#[derive(Clone, Copy)]
enum Entry {
    Vaccination,
    Test,
    Recovery,
}

impl Validator {
    fn fail(&mut self, path: &str, why: impl Into<String>) {
        self.problems.push(format!("{path}: {}", why.into()));
    }

    fn root(&mut self, dcc: &Json) {
        let Some(obj) = dcc.as_object() else {
            self.fail("$", "must be an object");
            return;
        };
        // oneOf: exactly one of the three groups alongside ver, nam, dob.
        let base_ok = ["ver", "nam", "dob"].iter().all(|k| obj.contains_key(*k));
        let groups: Vec<&str> = GROUPS
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| obj.contains_key(*k))
            .collect();
        if !base_ok {
            for k in ["ver", "nam", "dob"] {
                if !obj.contains_key(k) {
                    self.fail("$", format!("required property {k:?} is missing"));
                }
            }
        }
        match groups.len() {
            0 => self.fail("$", "one of \"v\", \"t\" or \"r\" is required"),
            1 => {}
            _ => self.fail(
                "$",
                format!("exactly one of \"v\", \"t\", \"r\" allowed, found {groups:?}"),
            ),
        }
        if let Some(ver) = obj.get("ver") {
            self.string(ver, "$.ver", None, Some(is_version));
        }
        if let Some(nam) = obj.get("nam") {
            self.person_name(nam);
        }
        if let Some(dob) = obj.get("dob") {
            self.string(dob, "$.dob", None, Some(is_date_of_birth));
        }
        for (key, entry) in GROUPS {
            if let Some(group) = obj.get(key) {
                self.group(group, key, entry);
            }
        }
    }

    fn person_name(&mut self, nam: &Json) {
        let Some(obj) = nam.as_object() else {
            self.fail("$.nam", "must be an object");
            return;
        };
        if !obj.contains_key("fnt") {
            self.fail("$.nam", "required property \"fnt\" is missing");
        }
        for (key, pattern) in [
            ("fn", None),
            ("gn", None),
            ("fnt", Some(is_icao_name as fn(&str) -> bool)),
            ("gnt", Some(is_icao_name as fn(&str) -> bool)),
        ] {
            if let Some(v) = obj.get(key) {
                self.string(v, &format!("$.nam.{key}"), Some(80), pattern);
            }
        }
    }

    fn group(&mut self, group: &Json, key: &str, entry: Entry) {
        let path = format!("$.{key}");
        let Some(items) = group.as_array() else {
            self.fail(&path, "must be an array");
            return;
        };
        if items.len() != 1 {
            self.fail(
                &path,
                format!("must hold exactly 1 entry, holds {}", items.len()),
            );
        }
        for (i, item) in items.iter().enumerate() {
            let path = format!("{path}[{i}]");
            match item.as_object() {
                Some(obj) => self.entry(obj, &path, entry),
                None => self.fail(&path, "must be an object"),
            }
        }
    }

    fn entry(&mut self, obj: &Map<String, Json>, path: &str, entry: Entry) {
        let required: &[&str] = match entry {
            Entry::Vaccination => &["tg", "vp", "mp", "ma", "dn", "sd", "dt", "co", "is", "ci"],
            Entry::Test => &["tg", "tt", "sc", "tr", "tc", "co", "is", "ci"],
            Entry::Recovery => &["tg", "fr", "co", "is", "df", "du", "ci"],
        };
        for k in required {
            if !obj.contains_key(*k) {
                self.fail(path, format!("required property {k:?} is missing"));
            }
        }
        for (k, v) in obj {
            let p = format!("{path}.{k}");
            match (entry, k.as_str()) {
                (_, "tg") => self.string(v, &p, None, None),
                (_, "co") => self.string(v, &p, None, Some(has_country_letters)),
                (_, "is" | "ci") => self.string(v, &p, Some(80), None),
                (Entry::Vaccination, "vp" | "mp" | "ma" | "dt") => self.string(v, &p, None, None),
                (Entry::Vaccination, "dn" | "sd") => self.positive_integer(v, &p),
                (Entry::Test, "tt" | "ma" | "sc" | "tr") => self.string(v, &p, None, None),
                (Entry::Test, "nm" | "tc") => self.string(v, &p, Some(80), None),
                (Entry::Recovery, "fr" | "df" | "du") => self.string(v, &p, None, None),
                _ => {}
            }
        }
    }

    fn string(
        &mut self,
        v: &Json,
        path: &str,
        max_len: Option<usize>,
        pattern: Option<fn(&str) -> bool>,
    ) {
        let Some(s) = v.as_str() else {
            self.fail(path, "must be a string");
            return;
        };
        if let Some(max) = max_len {
            let n = s.chars().count();
            if n > max {
                self.fail(path, format!("longer than {max} characters ({n})"));
            }
        }
        if let Some(matches) = pattern {
            if !matches(s) {
                self.fail(path, format!("{s:?} does not match the required pattern"));
            }
        }
    }

    fn positive_integer(&mut self, v: &Json, path: &str) {
        let ok = match v {
            Json::Number(n) => n
                .as_i64()
                .map(|i| i >= 1)
                .or_else(|| n.as_f64().map(|f| f.fract() == 0.0 && f >= 1.0))
                .unwrap_or(false),
            _ => false,
        };
        if !ok {
            self.fail(path, "must be an integer of at least 1");
        }
    }
}

/// `^\d+.\d+.\d+$` (the schema's unescaped dots match any character).
fn is_version(s: &str) -> bool {
    digits_then_any(s.as_bytes(), 3)
}

/// Matches `\d+` then, while `groups > 1`, any one byte and the rest again.
fn digits_then_any(s: &[u8], groups: u8) -> bool {
    let run = s.iter().take_while(|b| b.is_ascii_digit()).count();
    (1..=run).any(|end| {
        if groups == 1 {
            end == s.len()
        } else {
            end < s.len() && digits_then_any(&s[end + 1..], groups - 1)
        }
    })
}

/// `^((19|20)\d\d(-\d\d){0,2}){0,1}$`
fn is_date_of_birth(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let b = s.as_bytes();
    if b.len() < 4 || !(b.starts_with(b"19") || b.starts_with(b"20")) {
        return false;
    }
    if !b[2].is_ascii_digit() || !b[3].is_ascii_digit() {
        return false;
    }
    let rest = &b[4..];
    if !rest.len().is_multiple_of(3) || rest.len() > 6 {
        return false;
    }
    rest.chunks(3)
        .all(|c| c[0] == b'-' && c[1].is_ascii_digit() && c[2].is_ascii_digit())
}

/// `^[A-Z<]*$`
fn is_icao_name(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_uppercase() || c == '<')
}

/// `[A-Z]{1,10}` unanchored: at least one capital letter somewhere.
fn has_country_letters(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns() {
        assert!(is_version("1.3.0"));
        assert!(is_version("1.0.10"));
        assert!(is_version("1x2y3"));
        assert!(is_version("12345"));
        assert!(!is_version("1.3"));
        assert!(!is_version("1.3.a"));
        assert!(is_date_of_birth("1979-04-14"));
        assert!(is_date_of_birth("1950"));
        assert!(is_date_of_birth("1901-08"));
        assert!(is_date_of_birth(""));
        assert!(!is_date_of_birth("1850-01-01"));
        assert!(!is_date_of_birth("1979-04-14T00:00:00"));
        assert!(is_icao_name("DCERVENKOVA<PANKLOVA"));
        assert!(!is_icao_name("Dcervenkova"));
    }

    #[test]
    fn valid_and_invalid_certificates() {
        let good = json!({
            "ver": "1.3.0",
            "nam": {"fn": "Musterfrau", "fnt": "MUSTERFRAU", "gn": "Erika", "gnt": "ERIKA"},
            "dob": "1964-08-12",
            "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
                   "dn": 2, "sd": 2, "dt": "2021-05-29", "co": "DE", "is": "RKI", "ci": "URN:UVCI:01DE/X"}]
        });
        assert!(validate(&good).is_empty(), "{:?}", validate(&good));
        let mut bad = good.clone();
        bad["v"][0]["dn"] = json!(0);
        bad["nam"]["fnt"] = json!("musterfrau");
        bad["t"] = json!([]);
        let problems = validate(&bad);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(!validate(&json!([])).is_empty());
    }
}
