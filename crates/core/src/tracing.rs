//! Contact tracing as pure computation: from a confirmed case's venue
//! check-ins and carrier location records, the *candidates* for a
//! close-contact designation, each with the evidence that makes it one.
//!
//! Nothing here designates anybody: an official confirms each candidate,
//! and only that creates a [`crate::Fact::CloseContact`] event. A check-in
//! alone never changes a colour.
//!
//! Two kinds of candidates:
//! - **venue contacts**: checked in at a venue the case visited, with stays
//!   that overlap (by at least [`TracingParams::min_venue_overlap_minutes`]);
//! - **spatiotemporal companions** (时空伴随): the phone was in the same
//!   location cell (by default 800 m × 800 m) as the case's phone for more
//!   than [`TracingParams::min_copresence_minutes`] at a stretch, and one of
//!   the two (by default) spent more than
//!   [`TracingParams::min_cumulative_hours`] in that cell over the last
//!   [`TracingParams::lookback_days`].
//!
//! A venue contact is flagged *implausible* when the person's carrier
//! records put the phone in another city when they checked in (a scanned
//! photo of a venue code, a mistaken code): see [`venue_implausibility`].
//!
//! All thresholds are data ([`TracingParams`], JSON or TOML through serde).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::{Duration, OffsetDateTime};

/// The thresholds of tracing. Defaults are the published 时空伴随 rule:
/// 800 m × 800 m cell, together more than 10 minutes, more than 30 hours
/// cumulative in the cell within 14 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TracingParams {
    /// Side of a location cell in metres (the grid the cell ids come from).
    pub cell_size_m: u32,
    /// Together in one cell for more than this many minutes at a stretch.
    pub min_copresence_minutes: u32,
    /// More than this many hours in the cell over the look-back period.
    pub min_cumulative_hours: u32,
    /// The look-back period, in days, ending at the end of the window.
    pub lookback_days: u32,
    /// Venue stays must overlap by more than this many minutes (0: any
    /// overlap at all).
    pub min_venue_overlap_minutes: u32,
    /// Whose cumulative time in the cell counts.
    pub cumulative_by: CumulativeBy,
}

impl Default for TracingParams {
    fn default() -> TracingParams {
        TracingParams {
            cell_size_m: 800,
            min_copresence_minutes: 10,
            min_cumulative_hours: 30,
            lookback_days: 14,
            min_venue_overlap_minutes: 0,
            cumulative_by: CumulativeBy::Either,
        }
    }
}

/// Whose cumulative stay in a cell must exceed the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CumulativeBy {
    /// The case or the candidate (任一方, as published).
    Either,
    /// The candidate.
    Candidate,
    /// Both.
    Both,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TracingError {
    #[error("tracing parameters are not valid JSON: {0} / 追踪参数不是有效的 JSON：{0}")]
    Json(String),
    #[error("{field} must be {range} / {field} 须在 {range} 之间")]
    OutOfRange {
        field: &'static str,
        range: &'static str,
    },
    #[error("the window must end after it starts / 时间窗口的结束须晚于开始")]
    EmptyWindow,
}

impl TracingParams {
    /// Parses and checks parameters given as JSON (missing fields take
    /// their defaults; unknown fields are refused).
    pub fn from_json_str(text: &str) -> Result<TracingParams, TracingError> {
        let params: TracingParams =
            serde_json::from_str(text).map_err(|e| TracingError::Json(e.to_string()))?;
        params.validate()?;
        Ok(params)
    }

    /// Checks that every threshold is within sensible bounds.
    pub fn validate(&self) -> Result<(), TracingError> {
        let check = |ok: bool, field, range| {
            if ok {
                Ok(())
            } else {
                Err(TracingError::OutOfRange { field, range })
            }
        };
        check(
            (50..=10_000).contains(&self.cell_size_m),
            "cell_size_m",
            "50..10000",
        )?;
        check(
            self.min_copresence_minutes <= 24 * 60,
            "min_copresence_minutes",
            "0..1440",
        )?;
        check(
            self.min_cumulative_hours <= 24 * 60,
            "min_cumulative_hours",
            "0..1440",
        )?;
        check(
            (1..=60).contains(&self.lookback_days),
            "lookback_days",
            "1..60",
        )?;
        check(
            self.min_venue_overlap_minutes <= 24 * 60,
            "min_venue_overlap_minutes",
            "0..1440",
        )
    }

    pub fn min_copresence(&self) -> Duration {
        Duration::minutes(i64::from(self.min_copresence_minutes))
    }

    pub fn min_cumulative(&self) -> Duration {
        Duration::hours(i64::from(self.min_cumulative_hours))
    }

    pub fn lookback(&self) -> Duration {
        Duration::days(i64::from(self.lookback_days))
    }

    pub fn min_venue_overlap(&self) -> Duration {
        Duration::minutes(i64::from(self.min_venue_overlap_minutes))
    }
}

/// A half-open time window `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
}

impl Window {
    pub fn new(from: OffsetDateTime, to: OffsetDateTime) -> Result<Window, TracingError> {
        if to <= from {
            return Err(TracingError::EmptyWindow);
        }
        Ok(Window { from, to })
    }

    /// The part of `[start, end)` inside the window, if any.
    fn clip(&self, start: OffsetDateTime, end: OffsetDateTime) -> Option<Interval> {
        Interval::new(start.max(self.from), end.min(self.to))
    }
}

/// A non-empty half-open interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Interval {
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub end: OffsetDateTime,
}

impl Interval {
    pub fn new(start: OffsetDateTime, end: OffsetDateTime) -> Option<Interval> {
        (end > start).then_some(Interval { start, end })
    }

    pub fn duration(&self) -> Duration {
        self.end - self.start
    }

    pub fn intersect(&self, other: &Interval) -> Option<Interval> {
        Interval::new(self.start.max(other.start), self.end.min(other.end))
    }
}

/// Who checked in: a person, or one of their dependents (0 = the person).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Subject {
    pub person: String,
    #[serde(default)]
    pub dependent: u16,
}

/// One check-in: a stay at a venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    pub subject: Subject,
    pub venue: String,
    #[serde(with = "time::serde::rfc3339")]
    pub arrived: OffsetDateTime,
    /// Check-out, or arrival plus the default stay.
    #[serde(with = "time::serde::rfc3339")]
    pub left: OffsetDateTime,
}

/// One overlap of a candidate's stay with the case's, at one venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueOverlap {
    pub venue: String,
    /// The candidate's stay.
    pub stay: Interval,
    /// The case's stay it overlapped.
    pub case_stay: Interval,
    /// Both there (clipped to the window).
    pub together: Interval,
}

/// A candidate from shared venues: every overlap, longest total first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueCandidate {
    pub subject: Subject,
    pub overlaps: Vec<VenueOverlap>,
    /// Sum of the overlaps, in seconds.
    pub together_seconds: i64,
}

/// People whose stays at the case's venues overlapped the case's, within
/// the window. The case's own check-ins (and their dependents') are not
/// candidates. Result order: most time together first, then subject.
pub fn venue_contacts(
    case_person: &str,
    case_visits: &[Visit],
    others: &[Visit],
    window: Window,
    params: &TracingParams,
) -> Vec<VenueCandidate> {
    let mut by_venue: HashMap<&str, Vec<Interval>> = HashMap::new();
    for v in case_visits {
        if let Some(stay) = window.clip(v.arrived, v.left) {
            by_venue.entry(v.venue.as_str()).or_default().push(stay);
        }
    }
    let min = params.min_venue_overlap();
    let mut found: BTreeMap<Subject, Vec<VenueOverlap>> = BTreeMap::new();
    for other in others {
        if other.subject.person == case_person {
            continue;
        }
        let Some(case_stays) = by_venue.get(other.venue.as_str()) else {
            continue;
        };
        let Some(stay) = Interval::new(other.arrived, other.left) else {
            continue;
        };
        for case_stay in case_stays {
            if let Some(together) = stay.intersect(case_stay) {
                if together.duration() > min {
                    found
                        .entry(other.subject.clone())
                        .or_default()
                        .push(VenueOverlap {
                            venue: other.venue.clone(),
                            stay,
                            case_stay: *case_stay,
                            together,
                        });
                }
            }
        }
    }
    let mut out: Vec<VenueCandidate> = found
        .into_iter()
        .map(|(subject, mut overlaps)| {
            overlaps.sort_by(|a, b| a.together.cmp(&b.together).then(a.venue.cmp(&b.venue)));
            overlaps.dedup();
            let together_seconds = overlaps
                .iter()
                .map(|o| o.together.duration().whole_seconds())
                .sum();
            VenueCandidate {
                subject,
                overlaps,
                together_seconds,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.together_seconds
            .cmp(&a.together_seconds)
            .then(a.subject.cmp(&b.subject))
    });
    out
}

/// A stay of a phone as the carrier saw it: in a city (GB/T 2260 code),
/// and in a location cell when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellStay {
    /// Whose phone: an opaque key (the phone's keyed hash, hex).
    pub phone: String,
    pub city_code: String,
    pub cell: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
}

/// A spatiotemporal companion: the evidence is the cell, the longest
/// stretch together, and both phones' cumulative time in the cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Companion {
    pub phone: String,
    pub cell: String,
    pub city_code: String,
    /// The longest stretch both phones were in the cell (within the window).
    pub together: Interval,
    /// Total time together in the cell within the window, seconds.
    pub together_seconds: i64,
    /// The case's time in the cell over the look-back period, seconds.
    pub case_cumulative_seconds: i64,
    /// The candidate's time in the cell over the look-back period, seconds.
    pub cumulative_seconds: i64,
}

/// A phone's intervals in a cell: within the window, and within the
/// look-back period.
type InWindowAndLookback = (Vec<Interval>, Vec<Interval>);

/// Merges intervals into disjoint ones, in order.
fn merge(mut intervals: Vec<Interval>) -> Vec<Interval> {
    intervals.sort();
    let mut out: Vec<Interval> = Vec::with_capacity(intervals.len());
    for i in intervals {
        match out.last_mut() {
            Some(last) if i.start <= last.end => last.end = last.end.max(i.end),
            _ => out.push(i),
        }
    }
    out
}

fn total(intervals: &[Interval]) -> Duration {
    intervals.iter().map(Interval::duration).sum()
}

/// Intersections of two sorted disjoint interval lists.
fn intersections(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        if let Some(x) = a[i].intersect(&b[j]) {
            out.push(x);
        }
        if a[i].end < b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Spatiotemporal companions of the case's phone among `others` (stays of
/// other phones; the case's own phone is skipped if present). Stays
/// without a cell are ignored. Co-presence is counted within the window;
/// cumulative time over `lookback_days` ending at the window's end.
/// Result order: longest stretch together first, then phone and cell.
pub fn companions(
    case_stays: &[CellStay],
    others: &[CellStay],
    window: Window,
    params: &TracingParams,
) -> Vec<Companion> {
    let lookback = Window {
        from: window.to - params.lookback(),
        to: window.to,
    };
    let Some(case_phone) = case_stays.first().map(|s| s.phone.as_str()) else {
        return Vec::new();
    };
    // The case's time per cell: within the window and over the look-back.
    let mut case_in: HashMap<&str, (Vec<Interval>, Vec<Interval>, &str)> = HashMap::new();
    for s in case_stays {
        let Some(cell) = s.cell.as_deref() else {
            continue;
        };
        let entry = case_in
            .entry(cell)
            .or_insert_with(|| (Vec::new(), Vec::new(), s.city_code.as_str()));
        if let Some(i) = window.clip(s.first_seen, s.last_seen) {
            entry.0.push(i);
        }
        if let Some(i) = lookback.clip(s.first_seen, s.last_seen) {
            entry.1.push(i);
        }
    }
    let case_in: HashMap<&str, (Vec<Interval>, Duration, &str)> = case_in
        .into_iter()
        .map(|(cell, (w, l, city))| (cell, (merge(w), total(&merge(l)), city)))
        .collect();
    // Each other phone's time in the case's cells.
    let mut theirs: BTreeMap<(&str, &str), InWindowAndLookback> = BTreeMap::new();
    for s in others {
        if s.phone == case_phone {
            continue;
        }
        let Some(cell) = s.cell.as_deref() else {
            continue;
        };
        if !case_in.contains_key(cell) {
            continue;
        }
        let entry = theirs.entry((s.phone.as_str(), cell)).or_default();
        if let Some(i) = window.clip(s.first_seen, s.last_seen) {
            entry.0.push(i);
        }
        if let Some(i) = lookback.clip(s.first_seen, s.last_seen) {
            entry.1.push(i);
        }
    }
    let mut out = Vec::new();
    for ((phone, cell), (in_window, in_lookback)) in theirs {
        let Some((case_window, case_cumulative, city)) = case_in.get(cell) else {
            continue;
        };
        let together = intersections(case_window, &merge(in_window));
        let Some(longest) = together
            .iter()
            .max_by_key(|i| (i.duration(), std::cmp::Reverse(i.start)))
            .copied()
        else {
            continue;
        };
        if longest.duration() <= params.min_copresence() {
            continue;
        }
        let cumulative = total(&merge(in_lookback));
        let enough = |d: Duration| d > params.min_cumulative();
        let qualifies = match params.cumulative_by {
            CumulativeBy::Either => enough(*case_cumulative) || enough(cumulative),
            CumulativeBy::Candidate => enough(cumulative),
            CumulativeBy::Both => enough(*case_cumulative) && enough(cumulative),
        };
        if !qualifies {
            continue;
        }
        out.push(Companion {
            phone: phone.to_owned(),
            cell: cell.to_owned(),
            city_code: (*city).to_owned(),
            together: longest,
            together_seconds: total(&together).whole_seconds(),
            case_cumulative_seconds: case_cumulative.whole_seconds(),
            cumulative_seconds: cumulative.whole_seconds(),
        });
    }
    out.sort_by(|a, b| {
        b.together
            .duration()
            .cmp(&a.together.duration())
            .then(a.phone.cmp(&b.phone))
            .then(a.cell.cmp(&b.cell))
    });
    out
}

/// Whether two GB/T 2260 codes are in the same city: the same prefecture
/// (first four digits), or the same province for the four municipalities
/// (北京 11, 天津 12, 上海 31, 重庆 50), whose districts are the city.
pub fn same_city(a: &str, b: &str) -> bool {
    if a.len() < 4 || b.len() < 4 {
        return false;
    }
    let municipality = |c: &str| matches!(&c[..2], "11" | "12" | "31" | "50");
    if municipality(a) || municipality(b) {
        return a[..2] == b[..2];
    }
    a[..4] == b[..4]
}

/// The province-level prefixes of GB/T 2260.
const PROVINCES: &[&str] = &[
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82",
];

/// Whether `code` has the shape of a GB/T 2260 administrative division
/// code: six digits with a known province-level prefix.
pub fn is_region_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) && PROVINCES.contains(&&code[..2])
}

/// Why a venue check-in is implausible: where the carrier saw the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Implausibility {
    pub venue_region: String,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_in: OffsetDateTime,
    /// The carrier's stay that contradicts the check-in.
    pub seen_in: CellStay,
}

/// A check-in at a venue in `venue_region` at `at` is implausible when the
/// carrier saw the phone only in other cities at that moment (some stay
/// covers `at`, none of those is in the venue's city). Without carrier
/// records covering `at` nothing is claimed.
pub fn venue_implausibility(
    venue_region: &str,
    at: OffsetDateTime,
    phone_stays: &[CellStay],
) -> Option<Implausibility> {
    let covering: Vec<&CellStay> = phone_stays
        .iter()
        .filter(|s| s.first_seen <= at && at <= s.last_seen)
        .collect();
    if covering.is_empty()
        || covering
            .iter()
            .any(|s| same_city(&s.city_code, venue_region))
    {
        return None;
    }
    covering.first().map(|s| Implausibility {
        venue_region: venue_region.to_owned(),
        checked_in: at,
        seen_in: (*s).clone(),
    })
}

/// The id of the square grid cell (side `size_m` metres) containing a WGS-84
/// point: rows of equal latitude height, each row cut into cells of equal
/// width at its middle latitude. `None` for coordinates off the globe.
pub fn grid_cell(lat: f64, lon: f64, size_m: u32) -> Option<String> {
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) || size_m == 0 {
        return None;
    }
    const METRES_PER_DEGREE: f64 = 111_320.0;
    let size = f64::from(size_m);
    let row = (lat * METRES_PER_DEGREE / size).floor();
    let mid_lat = ((row + 0.5) * size / METRES_PER_DEGREE).clamp(-89.9, 89.9);
    let width = METRES_PER_DEGREE * mid_lat.to_radians().cos();
    let col = (lon * width / size).floor();
    Some(format!("g{size_m}:{row}:{col}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    fn t(h: i64, m: i64) -> OffsetDateTime {
        datetime!(2022-05-01 00:00 +08:00) + Duration::hours(h) + Duration::minutes(m)
    }

    #[test]
    fn grid_cells_are_800m_apart() {
        let a = grid_cell(34.2583, 108.9286, 800).unwrap();
        let b = grid_cell(34.2584, 108.9287, 800).unwrap();
        let far = grid_cell(34.2683, 108.9286, 800).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, far);
        assert!(grid_cell(91.0, 0.0, 800).is_none());
    }

    #[test]
    fn merging_and_intersections() {
        let i = |a, b| Interval::new(t(0, a), t(0, b)).unwrap();
        assert_eq!(
            merge(vec![i(10, 20), i(0, 5), i(4, 8)]),
            vec![i(0, 8), i(10, 20)]
        );
        assert_eq!(
            intersections(&[i(0, 8), i(10, 20)], &[i(5, 12), i(19, 30)]),
            vec![i(5, 8), i(10, 12), i(19, 20)]
        );
    }
}
