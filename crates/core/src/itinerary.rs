//! The itinerary card (行程卡) as a pure computation: which cities a phone
//! stayed in, which of them hold a medium- or high-risk area, and the card's
//! colour by a rule set that is data.
//!
//! What the card means, precisely (the server only supplies `now`, the
//! phone's carrier stays and the risk areas):
//!
//! - **Lag.** Carrier signalling data reaches the card a day late, as on the
//!   national service. The card therefore covers data up to `data_until =
//!   now − lag` (24 hours by default): a stay, or the part of a stay, after
//!   `data_until` is not shown yet.
//! - **Window.** The card covers `[data_until − days, data_until]`, 14 days
//!   by default (7 as a setting, as the national service did from June 2022).
//! - **Cities.** A city is listed when the phone's stays there, clipped to the
//!   window and with overlapping stays merged, add up to at least 4 hours.
//!   Cities are listed in the order they were first seen in the window.
//! - **Asterisk.** A listed city carries `*` when a medium- or high-risk area
//!   in it is in force at the query time `now`, as the national card's note
//!   said: the asterisk says the city has such an area now, not that the
//!   person was in it.
//! - **Colour.** The rules read exposures: a listed city where a risk area was
//!   in force during (a clipped part of) the stay. The shipped rules
//!   (`rules/itinerary-card.json`) make it red for a high-risk exposure that
//!   ended within the last 7 days, orange for an older high-risk exposure,
//!   yellow for a medium-risk exposure, green otherwise. Every decision names
//!   its rule and the stays and areas behind it.

mod cities;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::bilingual::Bilingual;
use crate::certlogic::{Expr, Truthiness};
use crate::colour::Colour;
use crate::rules::{Region, Rule};
use crate::view::certlogic_time;

/// The shipped card rule set (`crates/core/rules/itinerary-card.json`).
pub const SHIPPED_CARD_RULES: &str = include_str!("../rules/itinerary-card.json");

/// The shortest total stay in a city that the card lists.
pub const MIN_STAY: Duration = Duration::hours(4);

/// Why itinerary input was refused. Messages are `English / 中文`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItineraryError {
    #[error("{0:?} is not a GB/T 2260 city code (6 digits, a known province, ending in 00) / {0:?} 不是 GB/T 2260 城市代码（6 位数字、已知省份、以 00 结尾）")]
    CityCode(String),
    #[error("first seen is after last seen / 首次出现时间晚于最后出现时间")]
    StayOrder,
    #[error("the window must be 7 or 14 days, not {0} / 查询范围须为 7 天或 14 天，而非 {0} 天")]
    WindowDays(u32),
    #[error("the lag must be 0 to 72 hours, not {0} / 数据延迟须为 0 至 72 小时，而非 {0} 小时")]
    Lag(u32),
    #[error("{0:?} is not a risk level: use medium or high / {0:?} 不是风险等级：应为 medium（中）或 high（高）")]
    Level(String),
    #[error("the end of a risk area must be after its start / 风险地区的结束时间须晚于开始时间")]
    AreaOrder,
    #[error("the area name must be 1 to 64 characters in Chinese and in English / 地区名称须有中英文，各 1 至 64 个字")]
    AreaName,
}

// ----------------------------------------------------------------------------
// Cities

/// A prefecture-level city code of GB/T 2260 (e.g. `220100`, 长春市), or a
/// municipality's (`110100`, 北京市).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CityCode(String);

impl CityCode {
    pub fn parse(s: &str) -> Result<CityCode, ItineraryError> {
        let s = s.trim();
        let bad = || ItineraryError::CityCode(s.chars().take(16).collect());
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) || !s.ends_with("00") {
            return Err(bad());
        }
        let (province, rest) = s.split_at(2);
        if !cities::PROVINCES
            .iter()
            .any(|(code, _, _)| *code == province)
        {
            return Err(bad());
        }
        // 2260 uses xx0000 for a province itself; only the regions without
        // prefectures (Taiwan, Hong Kong, Macao) are cities at that level.
        if rest == "0000" && !matches!(province, "71" | "81" | "82") {
            return Err(bad());
        }
        Ok(CityCode(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn province(&self) -> &str {
        self.0.get(..2).unwrap_or("")
    }

    /// As the card shows it: `吉林省长春市` / `Changchun, Jilin`, a
    /// municipality alone (`北京市` / `Beijing`), and a city missing from the
    /// table as its province and code (`吉林省 220900` / `Jilin 220900`).
    pub fn name(&self) -> Bilingual {
        let province = cities::PROVINCES
            .iter()
            .find(|(code, _, _)| *code == self.province());
        let (p_zh, p_en) = province.map_or(("", ""), |(_, zh, en)| (*zh, *en));
        if cities::CITY_LEVEL_PROVINCES.contains(&self.province()) {
            return Bilingual::new(p_zh, p_en);
        }
        match cities::CITIES.iter().find(|(code, _, _)| *code == self.0) {
            Some((_, zh, en)) => Bilingual::new(format!("{p_zh}{zh}"), format!("{en}, {p_en}")),
            None => Bilingual::new(format!("{p_zh} {}", self.0), format!("{p_en} {}", self.0)),
        }
    }
}

impl TryFrom<String> for CityCode {
    type Error = ItineraryError;
    fn try_from(s: String) -> Result<Self, ItineraryError> {
        CityCode::parse(&s)
    }
}

impl From<CityCode> for String {
    fn from(c: CityCode) -> String {
        c.0
    }
}

impl fmt::Display for CityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ----------------------------------------------------------------------------
// Stays and risk areas

/// A phone's stay in a city, from a carrier's signalling records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stay {
    pub city: CityCode,
    pub first_seen: OffsetDateTime,
    pub last_seen: OffsetDateTime,
}

impl Stay {
    pub fn new(
        city: CityCode,
        first_seen: OffsetDateTime,
        last_seen: OffsetDateTime,
    ) -> Result<Stay, ItineraryError> {
        if first_seen > last_seen {
            return Err(ItineraryError::StayOrder);
        }
        Ok(Stay {
            city,
            first_seen,
            last_seen,
        })
    }
}

/// 中风险 or 高风险.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaLevel {
    Medium,
    High,
}

impl AreaLevel {
    pub const fn as_str(self) -> &'static str {
        match self {
            AreaLevel::Medium => "medium",
            AreaLevel::High => "high",
        }
    }

    pub fn label(self) -> Bilingual {
        match self {
            AreaLevel::Medium => Bilingual::new("中风险", "medium risk"),
            AreaLevel::High => Bilingual::new("高风险", "high risk"),
        }
    }

    pub fn parse(s: &str) -> Result<AreaLevel, ItineraryError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "medium" | "中" | "中风险" => Ok(AreaLevel::Medium),
            "high" | "高" | "高风险" => Ok(AreaLevel::High),
            _ => Err(ItineraryError::Level(s.chars().take(16).collect())),
        }
    }
}

/// A medium- or high-risk area (a district or finer, within a city), in
/// force from `starts_at` (inclusive) until `ends_at` (exclusive; open while
/// `None`). Published areas are never edited: ending one sets its end, and
/// a change is a new area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskArea {
    pub id: String,
    pub city: CityCode,
    pub area: Bilingual,
    pub level: AreaLevel,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ends_at: Option<OffsetDateTime>,
}

impl RiskArea {
    /// Checks the name and the times of an area to publish.
    pub fn validate(&self) -> Result<(), ItineraryError> {
        let ok = |s: &str| {
            let n = s.trim().chars().count();
            (1..=64).contains(&n) && !s.chars().any(char::is_control)
        };
        if !ok(&self.area.zh) || !ok(&self.area.en) {
            return Err(ItineraryError::AreaName);
        }
        if self.ends_at.is_some_and(|end| end <= self.starts_at) {
            return Err(ItineraryError::AreaOrder);
        }
        Ok(())
    }

    pub fn in_force_at(&self, t: OffsetDateTime) -> bool {
        self.starts_at <= t && self.ends_at.is_none_or(|end| t < end)
    }

    /// In force at some instant of `[from, until]`.
    pub fn overlaps(&self, from: OffsetDateTime, until: OffsetDateTime) -> bool {
        self.starts_at <= until && self.ends_at.is_none_or(|end| from < end)
    }
}

// ----------------------------------------------------------------------------
// The window

/// How far back the card looks, and how late its data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardWindow {
    pub days: u32,
    pub lag_hours: u32,
}

impl Default for CardWindow {
    fn default() -> CardWindow {
        CardWindow {
            days: 14,
            lag_hours: 24,
        }
    }
}

impl CardWindow {
    pub fn new(days: u32, lag_hours: u32) -> Result<CardWindow, ItineraryError> {
        if days != 7 && days != 14 {
            return Err(ItineraryError::WindowDays(days));
        }
        if lag_hours > 72 {
            return Err(ItineraryError::Lag(lag_hours));
        }
        Ok(CardWindow { days, lag_hours })
    }

    /// `(from, data_until)` for a query at `now`.
    pub fn bounds(&self, now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
        let until = now - Duration::hours(i64::from(self.lag_hours));
        (until - Duration::days(i64::from(self.days)), until)
    }
}

// ----------------------------------------------------------------------------
// The card

/// A risk area that was in force while the phone was in its city.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exposure {
    pub area_id: String,
    pub area: Bilingual,
    pub level: AreaLevel,
    /// The end of the (clipped) stay that met the area.
    #[serde(with = "time::serde::rfc3339")]
    pub left_at: OffsetDateTime,
}

/// One city on the card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardCity {
    pub code: CityCode,
    pub name: Bilingual,
    /// First and last seen within the window.
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    /// Whole hours stayed within the window (overlaps merged).
    pub hours: i64,
    /// The city holds a medium- or high-risk area in force now.
    pub starred: bool,
    pub exposures: Vec<Exposure>,
}

/// The card's colour and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardDecision {
    pub colour: Colour,
    pub rule_set_id: String,
    pub rule_set_version: String,
    /// The rule that decided; `None` when no rule fired (the default colour).
    pub rule_id: Option<String>,
    pub explanation: Bilingual,
    /// The stays and areas the deciding rule read.
    pub evidence: Vec<Bilingual>,
}

/// The itinerary card at a query time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItineraryCard {
    #[serde(with = "time::serde::rfc3339")]
    pub queried_at: OffsetDateTime,
    pub window_days: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub data_from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub data_until: OffsetDateTime,
    pub cities: Vec<CardCity>,
    pub decision: CardDecision,
}

impl ItineraryCard {
    /// `北京市, 吉林省长春市*`: the line the card shows.
    pub fn cities_line(&self) -> Bilingual {
        let join = |f: fn(&Bilingual) -> &str, sep: &str| {
            self.cities
                .iter()
                .map(|c| format!("{}{}", f(&c.name), if c.starred { "*" } else { "" }))
                .collect::<Vec<_>>()
                .join(sep)
        };
        Bilingual::new(join(|b| &b.zh, "，"), join(|b| &b.en, "; "))
    }
}

/// Beijing time, as the card shows times.
fn beijing(t: OffsetDateTime) -> String {
    let offset = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    let t = t.to_offset(offset);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// Merges intervals (sorted by start) and returns their total length.
fn merged_length(intervals: &mut [(OffsetDateTime, OffsetDateTime)]) -> Duration {
    intervals.sort();
    let mut total = Duration::ZERO;
    let mut current: Option<(OffsetDateTime, OffsetDateTime)> = None;
    for &(a, b) in intervals.iter() {
        match current {
            Some((ca, cb)) if a <= cb => current = Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += cb - ca;
                current = Some((a, b));
            }
            None => current = Some((a, b)),
        }
    }
    if let Some((ca, cb)) = current {
        total += cb - ca;
    }
    total
}

/// Computes the card at `now` from the phone's stays (any order, any
/// range: those outside the window are ignored) and the risk areas (any).
pub fn compute_card(
    stays: &[Stay],
    areas: &[RiskArea],
    now: OffsetDateTime,
    window: CardWindow,
    rules: &CardRuleSet,
) -> ItineraryCard {
    let (from, until) = window.bounds(now);
    // Clipped stays, grouped by city.
    let mut by_city: Vec<(CityCode, Vec<(OffsetDateTime, OffsetDateTime)>)> = Vec::new();
    for stay in stays {
        let a = stay.first_seen.max(from);
        let b = stay.last_seen.min(until);
        if a > b {
            continue;
        }
        match by_city.iter_mut().find(|(c, _)| *c == stay.city) {
            Some((_, list)) => list.push((a, b)),
            None => by_city.push((stay.city.clone(), vec![(a, b)])),
        }
    }
    let mut cities = Vec::new();
    for (code, mut intervals) in by_city {
        let length = merged_length(&mut intervals);
        if length < MIN_STAY {
            continue;
        }
        let first_seen = intervals.iter().map(|i| i.0).min().unwrap_or(from);
        let last_seen = intervals.iter().map(|i| i.1).max().unwrap_or(until);
        let city_areas = areas.iter().filter(|a| a.city == code);
        let mut starred = false;
        let mut exposures = Vec::new();
        for area in city_areas {
            starred |= area.in_force_at(now);
            let left_at = intervals
                .iter()
                .filter(|(a, b)| area.overlaps(*a, *b))
                .map(|i| i.1)
                .max();
            if let Some(left_at) = left_at {
                exposures.push(Exposure {
                    area_id: area.id.clone(),
                    area: area.area.clone(),
                    level: area.level,
                    left_at,
                });
            }
        }
        exposures.sort_by(|a, b| b.level.cmp(&a.level).then(a.area_id.cmp(&b.area_id)));
        cities.push(CardCity {
            name: code.name(),
            code,
            first_seen,
            last_seen,
            hours: length.whole_hours(),
            starred,
            exposures,
        });
    }
    cities.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then(a.code.cmp(&b.code)));
    let decision = rules.evaluate(&cities, now);
    ItineraryCard {
        queried_at: now,
        window_days: window.days,
        data_from: from,
        data_until: until,
        cities,
        decision,
    }
}

// ----------------------------------------------------------------------------
// The card's rules

/// One field of the card's data view, documented for rule authors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardViewField {
    pub path: &'static str,
    pub en: &'static str,
    pub zh: &'static str,
}

/// Every field a card rule may read.
pub const CARD_VIEW_FIELDS: &[CardViewField] = &[
    CardViewField {
        path: "now",
        en: "the query instant (date-time string)",
        zh: "查询时刻（日期时间字符串）",
    },
    CardViewField {
        path: "cities.count",
        en: "cities listed on the card",
        zh: "行程卡列出的城市数",
    },
    CardViewField {
        path: "cities.starred",
        en: "listed cities holding a medium- or high-risk area now (marked *)",
        zh: "当前有中高风险地区的城市数（带 * 号）",
    },
    CardViewField {
        path: "high.count",
        en: "listed cities where a high-risk area was in force during the stay",
        zh: "停留期间有高风险地区的城市数",
    },
    CardViewField {
        path: "high.last_left_at",
        en: "latest end of such a stay (null if none)",
        zh: "此类停留的最晚离开时间（无则为 null）",
    },
    CardViewField {
        path: "medium.count",
        en: "listed cities where a medium-risk area was in force during the stay",
        zh: "停留期间有中风险地区的城市数",
    },
    CardViewField {
        path: "medium.last_left_at",
        en: "latest end of such a stay (null if none)",
        zh: "此类停留的最晚离开时间（无则为 null）",
    },
];

fn is_card_path(path: &str) -> bool {
    path.is_empty()
        || CARD_VIEW_FIELDS.iter().any(|f| {
            f.path == path
                || f.path
                    .strip_prefix(path)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
}

/// The card's rule set: the same shape as a region's colour rules
/// ([`crate::RuleSet`]), over the card's data view.
#[derive(Debug, Clone, Serialize)]
pub struct CardRuleSet {
    pub id: String,
    pub version: String,
    pub region: Region,
    pub name: Bilingual,
    pub colours: Vec<Colour>,
    pub default_colour: Colour,
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CardRuleSetFile {
    id: String,
    version: String,
    region: Region,
    name: Bilingual,
    colours: Vec<Colour>,
    default_colour: Colour,
    rules: Vec<CardRuleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CardRuleFile {
    id: String,
    description: Bilingual,
    colour: Colour,
    priority: i32,
    #[serde(with = "time::serde::rfc3339")]
    valid_from: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    valid_until: Option<OffsetDateTime>,
    logic: Value,
}

/// Why a card rule set could not be loaded: every problem, each with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid itinerary card rule set / 行程卡规则集无效: {}", .0.join("; "))]
pub struct CardRulesError(pub Vec<String>);

impl CardRuleSet {
    /// The shipped rule set.
    pub fn shipped() -> Result<CardRuleSet, CardRulesError> {
        CardRuleSet::from_json_str(SHIPPED_CARD_RULES)
    }

    pub fn from_json_str(text: &str) -> Result<CardRuleSet, CardRulesError> {
        let file: CardRuleSetFile = serde_json::from_str(text)
            .map_err(|e| CardRulesError(vec![format!("#: not a rule set / 不是规则集: {e}")]))?;
        let mut problems = Vec::new();
        if file.id.trim().is_empty() || file.version.trim().is_empty() {
            problems.push("/id, /version: both are needed / 须有标识和版本".to_owned());
        }
        if !file.name.is_complete() {
            problems.push("/name: Chinese and English are needed / 名称须有中英文".to_owned());
        }
        if file.colours.is_empty() || file.colours.contains(&Colour::Pending) {
            problems.push(
                "/colours: list green, yellow, orange or red / 须列出绿、黄、橙、红中的颜色"
                    .to_owned(),
            );
        }
        if !file.colours.contains(&file.default_colour) {
            problems
                .push("/default_colour: not one of the colours / 默认颜色不在颜色之中".to_owned());
        }
        let mut rules: Vec<Rule> = Vec::new();
        for (i, r) in file.rules.into_iter().enumerate() {
            let at = |f: &str| format!("/rules/{i}/{f}");
            if r.id.trim().is_empty() || rules.iter().any(|x| x.id == r.id) {
                problems.push(format!(
                    "{}: missing or duplicate id / 标识缺失或重复",
                    at("id")
                ));
            }
            if !r.description.is_complete() {
                problems.push(format!(
                    "{}: Chinese and English are needed / 须有中英文",
                    at("description")
                ));
            }
            if !file.colours.contains(&r.colour) {
                problems.push(format!(
                    "{}: not one of the colours / 不在颜色之中",
                    at("colour")
                ));
            }
            if r.valid_until.is_some_and(|u| u <= r.valid_from) {
                problems.push(format!(
                    "{}: must be after valid_from / 须晚于生效时间",
                    at("valid_until")
                ));
            }
            match Expr::compile(&r.logic) {
                Ok(logic) => {
                    for path in logic.data_paths() {
                        if !is_card_path(path) {
                            problems.push(format!(
                                "{}: reads {path:?}, not a field of the card's data view / 读取的字段不在行程卡数据视图中",
                                at("logic")
                            ));
                        }
                    }
                    rules.push(Rule {
                        id: r.id,
                        description: r.description,
                        colour: r.colour,
                        priority: r.priority,
                        valid_from: r.valid_from,
                        valid_until: r.valid_until,
                        logic_json: r.logic,
                        logic,
                    });
                }
                Err(invalid) => {
                    for issue in invalid.issues {
                        problems.push(format!(
                            "{}{}: {} / {}",
                            at("logic"),
                            issue.at,
                            issue.message_en(),
                            issue.message_zh()
                        ));
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(CardRulesError(problems));
        }
        rules.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(b.colour.cmp(&a.colour))
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(CardRuleSet {
            id: file.id,
            version: file.version,
            region: file.region,
            name: file.name,
            colours: file.colours,
            default_colour: file.default_colour,
            rules,
        })
    }

    /// The card's colour at `now` for the listed cities.
    pub fn evaluate(&self, cities: &[CardCity], now: OffsetDateTime) -> CardDecision {
        let view = CardView::build(cities, now);
        let decide = |colour, rule_id, explanation, evidence| CardDecision {
            colour,
            rule_set_id: self.id.clone(),
            rule_set_version: self.version.clone(),
            rule_id,
            explanation,
            evidence,
        };
        let mut reads = Vec::new();
        for rule in self.rules.iter().filter(|r| r.is_valid_at(now)) {
            reads.clear();
            match rule.logic().truthiness_traced(&view.data, &mut reads) {
                Ok(Truthiness::Truthy) => {
                    let evidence = view.evidence_for(&reads);
                    let explanation = Bilingual::new(
                        format!(
                            "{}：{}（规则 {}）",
                            rule.colour.label_zh(),
                            rule.description.zh,
                            rule.id
                        ),
                        format!(
                            "{}: {} (rule {})",
                            rule.colour.label_en(),
                            rule.description.en,
                            rule.id
                        ),
                    );
                    return decide(rule.colour, Some(rule.id.clone()), explanation, evidence);
                }
                Ok(_) => {}
                Err(e) => {
                    // A rule that cannot be evaluated could have decided: the
                    // card does not claim a colour the rules may not support.
                    return decide(
                        Colour::Pending,
                        Some(rule.id.clone()),
                        Bilingual::new(
                            format!("规则 {} 无法求值（{e}），行程卡颜色待定。", rule.id),
                            format!(
                                "Rule {} could not be evaluated ({e}): the card's colour is pending.",
                                rule.id
                            ),
                        ),
                        Vec::new(),
                    );
                }
            }
        }
        decide(
            self.default_colour,
            None,
            Bilingual::new(
                format!(
                    "未触发任何规则：{}（规则集 {} 的默认颜色）。",
                    self.default_colour.label_zh(),
                    self.id
                ),
                format!(
                    "No rule fired: {} (the default of rule set {}).",
                    self.default_colour.label_en(),
                    self.id
                ),
            ),
            view.evidence_for(&["cities"]),
        )
    }
}

/// The card's data view and where each section came from.
struct CardView {
    data: Value,
    /// (section, evidence) pairs.
    provenance: Vec<(&'static str, Bilingual)>,
}

impl CardView {
    fn build(cities: &[CardCity], now: OffsetDateTime) -> CardView {
        let mut provenance = Vec::new();
        let mut section = |level: AreaLevel, key: &'static str| {
            let mut count = 0;
            let mut last: Option<OffsetDateTime> = None;
            for city in cities {
                let mut hit = false;
                for e in city.exposures.iter().filter(|e| e.level == level) {
                    hit = true;
                    last = Some(last.map_or(e.left_at, |l| l.max(e.left_at)));
                    provenance.push((
                        key,
                        Bilingual::new(
                            format!(
                                "{} 停留至 {}（北京时间），其间 {}「{}」为{}（{}）",
                                city.name.zh,
                                beijing(e.left_at),
                                city.name.zh,
                                e.area.zh,
                                e.level.label().zh,
                                e.area_id
                            ),
                            format!(
                                "{} until {} (Beijing time), while {} in it was a {} area ({})",
                                city.name.en,
                                beijing(e.left_at),
                                e.area.en,
                                e.level.label().en,
                                e.area_id
                            ),
                        ),
                    ));
                }
                count += i64::from(hit);
            }
            json!({
                "count": count,
                "last_left_at": last.map(certlogic_time),
            })
        };
        let high = section(AreaLevel::High, "high");
        let medium = section(AreaLevel::Medium, "medium");
        for city in cities {
            provenance.push((
                "cities",
                Bilingual::new(
                    format!(
                        "{}{}：{} 至 {}，共 {} 小时",
                        city.name.zh,
                        if city.starred { "*" } else { "" },
                        beijing(city.first_seen),
                        beijing(city.last_seen),
                        city.hours
                    ),
                    format!(
                        "{}{}: {} to {}, {} h",
                        city.name.en,
                        if city.starred { "*" } else { "" },
                        beijing(city.first_seen),
                        beijing(city.last_seen),
                        city.hours
                    ),
                ),
            ));
        }
        let starred = cities.iter().filter(|c| c.starred).count();
        CardView {
            data: json!({
                "now": certlogic_time(now),
                "cities": {"count": cities.len(), "starred": starred},
                "high": high,
                "medium": medium,
            }),
            provenance,
        }
    }

    /// The evidence behind the sections a rule read (`high.count` reads
    /// `high`; `now` has none: it is the clock).
    fn evidence_for(&self, reads: &[&str]) -> Vec<Bilingual> {
        let mut out: Vec<Bilingual> = Vec::new();
        for (section, evidence) in &self.provenance {
            let read = reads.iter().any(|r| {
                r.is_empty()
                    || r == section
                    || r.strip_prefix(section).is_some_and(|s| s.starts_with('.'))
            });
            if read && !out.contains(evidence) {
                out.push(evidence.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2022-05-20 12:00 +08:00);

    fn city(s: &str) -> CityCode {
        CityCode::parse(s).unwrap()
    }

    fn stay(c: &str, a: OffsetDateTime, b: OffsetDateTime) -> Stay {
        Stay::new(city(c), a, b).unwrap()
    }

    fn area(
        id: &str,
        c: &str,
        level: AreaLevel,
        a: OffsetDateTime,
        b: Option<OffsetDateTime>,
    ) -> RiskArea {
        RiskArea {
            id: id.into(),
            city: city(c),
            area: Bilingual::new("南关区", "Nanguan District"),
            level,
            starts_at: a,
            ends_at: b,
        }
    }

    fn card(stays: &[Stay], areas: &[RiskArea]) -> ItineraryCard {
        compute_card(
            stays,
            areas,
            NOW,
            CardWindow::default(),
            &CardRuleSet::shipped().unwrap(),
        )
    }

    #[test]
    fn city_codes_and_names() {
        assert_eq!(city("110100").name(), Bilingual::new("北京市", "Beijing"));
        assert_eq!(
            city("220100").name(),
            Bilingual::new("吉林省长春市", "Changchun, Jilin")
        );
        assert_eq!(city("220900").name().zh, "吉林省 220900");
        assert_eq!(city("810000").name().en, "Hong Kong");
        for bad in [
            "", "2201", "220101", "990100", "220000", "22010a", "2201000",
        ] {
            assert!(CityCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn four_hours_in_the_window_after_the_lag() {
        let t = |d: u8, h: u8| {
            datetime!(2022-05-01 0:00 +08:00)
                + Duration::days(i64::from(d) - 1)
                + Duration::hours(i64::from(h))
        };
        let stays = [
            // Beijing: 3 h + 2 h overlapping by 1 h = 4 h merged: listed.
            stay("110100", t(15, 8), t(15, 11)),
            stay("110100", t(15, 10), t(15, 12)),
            // Changchun: 3 h 59 min: not listed.
            stay("220100", t(16, 8), t(16, 8) + Duration::minutes(239)),
            // Shanghai: within the last day (the lag): not shown yet.
            stay(
                "310100",
                NOW - Duration::hours(20),
                NOW - Duration::hours(2),
            ),
            // Guangzhou: before the window (window starts 2022-05-05 12:00 +08).
            stay("440100", t(4, 0), t(5, 10)),
            // Shenzhen: straddles the window start, 6 h inside.
            stay("440300", t(5, 0), t(5, 18)),
        ];
        let c = card(&stays, &[]);
        let codes: Vec<_> = c.cities.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes, ["440300", "110100"]);
        assert_eq!(c.cities[0].hours, 6);
        assert_eq!(c.cities[1].hours, 4);
        assert_eq!(c.data_until, NOW - Duration::hours(24));
        assert_eq!(c.data_from, NOW - Duration::days(15));
        assert_eq!(c.decision.colour, Colour::Green);
        assert_eq!(c.decision.rule_id, None);
        assert_eq!(c.cities_line().zh, "广东省深圳市，北京市");
    }

    #[test]
    fn seven_day_window() {
        let s = [stay(
            "110100",
            NOW - Duration::days(9),
            NOW - Duration::days(8) - Duration::hours(12),
        )];
        let w14 = compute_card(
            &s,
            &[],
            NOW,
            CardWindow::new(14, 24).unwrap(),
            &CardRuleSet::shipped().unwrap(),
        );
        let w7 = compute_card(
            &s,
            &[],
            NOW,
            CardWindow::new(7, 24).unwrap(),
            &CardRuleSet::shipped().unwrap(),
        );
        assert_eq!(w14.cities.len(), 1);
        assert!(w7.cities.is_empty());
        assert!(CardWindow::new(10, 24).is_err());
        assert!(CardWindow::new(7, 100).is_err());
    }

    #[test]
    fn asterisk_now_colour_by_exposure_during_the_stay() {
        let s = [
            stay("220100", NOW - Duration::days(5), NOW - Duration::days(4)),
            stay("110100", NOW - Duration::days(3), NOW - Duration::days(2)),
        ];
        // Changchun: a high area that ended before the stay; a medium one now.
        // Beijing: nothing.
        let areas = [
            area(
                "ra-1",
                "220100",
                AreaLevel::High,
                NOW - Duration::days(30),
                Some(NOW - Duration::days(6)),
            ),
            area(
                "ra-2",
                "220100",
                AreaLevel::Medium,
                NOW - Duration::days(1),
                None,
            ),
        ];
        let c = card(&s, &areas);
        assert_eq!(c.cities_line().zh, "吉林省长春市*，北京市");
        assert!(c.cities[0].exposures.is_empty());
        assert_eq!(c.decision.colour, Colour::Green);

        // A high area in force during the Changchun stay, ended since: red
        // (left 4 days ago, within 7), and no asterisk if nothing is in force now.
        let areas = [area(
            "ra-3",
            "220100",
            AreaLevel::High,
            NOW - Duration::days(6),
            Some(NOW - Duration::days(1)),
        )];
        let c = card(&s, &areas);
        assert!(!c.cities[0].starred);
        assert_eq!(c.decision.colour, Colour::Red);
        assert_eq!(c.decision.rule_id.as_deref(), Some("CARD-HIGH-RECENT"));
        assert_eq!(c.decision.evidence.len(), 1);
        assert!(
            c.decision.evidence[0].en.contains("ra-3"),
            "{:?}",
            c.decision.evidence
        );
        assert!(c.decision.explanation.en.contains("CARD-HIGH-RECENT"));

        // The same exposure 10 days back: orange.
        let s = [stay(
            "220100",
            NOW - Duration::days(11),
            NOW - Duration::days(10),
        )];
        let areas = [area(
            "ra-4",
            "220100",
            AreaLevel::High,
            NOW - Duration::days(12),
            None,
        )];
        let c = card(&s, &areas);
        assert_eq!(c.decision.colour, Colour::Orange);
        assert!(c.cities[0].starred);

        // Medium during the stay: yellow.
        let areas = [area(
            "ra-5",
            "220100",
            AreaLevel::Medium,
            NOW - Duration::days(12),
            None,
        )];
        let c = card(&s, &areas);
        assert_eq!(c.decision.colour, Colour::Yellow);
        assert_eq!(c.decision.rule_id.as_deref(), Some("CARD-MEDIUM"));
    }

    #[test]
    fn rule_sets_are_checked() {
        let mut v: Value = serde_json::from_str(SHIPPED_CARD_RULES).unwrap();
        v["rules"][0]["logic"] = json!({"var": "temperature.tenths"});
        let e = CardRuleSet::from_json_str(&v.to_string()).unwrap_err();
        assert!(e.to_string().contains("temperature.tenths"), "{e}");
        assert!(CardRuleSet::from_json_str("{}").is_err());
    }

    #[test]
    fn areas_validate() {
        let mut a = area("x", "110100", AreaLevel::High, NOW, Some(NOW));
        assert_eq!(a.validate(), Err(ItineraryError::AreaOrder));
        a.ends_at = None;
        assert_eq!(a.validate(), Ok(()));
        a.area.en = " ".into();
        assert_eq!(a.validate(), Err(ItineraryError::AreaName));
        assert_eq!(AreaLevel::parse("高风险"), Ok(AreaLevel::High));
        assert!(AreaLevel::parse("low").is_err());
    }
}
