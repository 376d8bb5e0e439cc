//! Sliding-window rate limits kept in memory: per phone, per IP.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

#[derive(Debug, Default)]
pub struct RateLimiter {
    hits: Mutex<HashMap<String, VecDeque<OffsetDateTime>>>,
}

/// Above this many keys, stale ones are swept on the next check.
const SWEEP_ABOVE: usize = 10_000;

impl RateLimiter {
    /// Records a hit for `key` unless it already has `limit` hits within
    /// `window` of `now`; then returns the seconds until one expires.
    pub fn check(
        &self,
        key: &str,
        limit: usize,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<(), u64> {
        let Ok(mut hits) = self.hits.lock() else {
            return Ok(());
        };
        if hits.len() > SWEEP_ABOVE {
            hits.retain(|_, q| q.back().is_some_and(|t| now - *t < window));
        }
        let queue = hits.entry(key.to_owned()).or_default();
        while queue.front().is_some_and(|t| now - *t >= window) {
            queue.pop_front();
        }
        if queue.len() >= limit {
            let oldest = queue.front().copied().unwrap_or(now);
            let wait = (oldest + window - now).whole_seconds().max(1);
            return Err(u64::try_from(wait).unwrap_or(1));
        }
        queue.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn window_slides() {
        let l = RateLimiter::default();
        let t = datetime!(2026-11-22 08:00 UTC);
        let w = Duration::minutes(1);
        assert!(l.check("a", 2, w, t).is_ok());
        assert!(l.check("a", 2, w, t + Duration::seconds(10)).is_ok());
        assert_eq!(l.check("a", 2, w, t + Duration::seconds(20)), Err(40));
        assert!(l.check("b", 2, w, t + Duration::seconds(20)).is_ok());
        assert!(l.check("a", 2, w, t + Duration::seconds(61)).is_ok());
    }
}
