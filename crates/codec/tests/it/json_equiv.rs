//! Semantic JSON equality, as the upstream DCC test suite compares: map and
//! list order do not matter, 2 equals 2.0, and two date-time strings are
//! equal when they name the same instant.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn equivalent(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| equivalent(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return false;
            }
            // Multiset equality: match each item to a distinct partner.
            let mut used = vec![false; y.len()];
            x.iter().all(|v| {
                if let Some(i) = (0..y.len()).find(|&i| !used[i] && equivalent(v, &y[i])) {
                    used[i] = true;
                    true
                } else {
                    false
                }
            })
        }
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => x == y || same_instant(x, y),
        _ => a == b,
    }
}

fn same_instant(a: &str, b: &str) -> bool {
    match (parse_instant(a), parse_instant(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

pub fn parse_instant(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    // Without an offset, the upstream suite assumes UTC.
    let with_z = format!("{s}Z");
    if let Ok(t) = OffsetDateTime::parse(&with_z, &Rfc3339) {
        return Some(t);
    }
    // "+0200" style offsets.
    if s.len() > 5 {
        let (head, tail) = s.split_at(s.len() - 5);
        if (tail.starts_with('+') || tail.starts_with('-'))
            && tail[1..].bytes().all(|b| b.is_ascii_digit())
        {
            let fixed = format!("{head}{}:{}", &tail[..3], &tail[3..]);
            return OffsetDateTime::parse(&fixed, &Rfc3339).ok();
        }
    }
    None
}
