//! Rule sets: a region's colour rules as data.
//!
//! A rule set is a JSON document: who it is for, the colours it uses, the
//! colour when no rule fires, and its rules. Each rule has an id, a
//! description in Chinese and English, the colour it yields, a priority
//! (higher wins), validity dates, and a CertLogic expression over the data
//! view ([`crate::view`]); it fires when the expression is truthy.
//!
//! Loading validates everything up front and compiles each expression once,
//! so evaluation never re-parses. The shipped rule sets are embedded in the
//! crate; any other is loaded from its text (the caller reads the file:
//! this crate does no I/O).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::bilingual::Bilingual;
use crate::certlogic::{pointer_display, Expr};
use crate::colour::Colour;
use crate::view::is_known_path;

/// The region a rule set serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// GB/T 2260 province code ("22" for Jilin), or "CN" for the national platform.
    pub code: String,
    pub name: Bilingual,
}

/// One colour rule.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub id: String,
    pub description: Bilingual,
    pub colour: Colour,
    pub priority: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub valid_until: Option<OffsetDateTime>,
    /// The expression as published.
    #[serde(rename = "logic")]
    pub logic_json: Value,
    #[serde(skip)]
    pub(crate) logic: Expr,
}

impl Rule {
    /// In force at `now`: from `valid_from` (inclusive) to `valid_until` (exclusive).
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        self.valid_from <= now && self.valid_until.is_none_or(|until| now < until)
    }

    /// The compiled expression.
    pub fn logic(&self) -> &Expr {
        &self.logic
    }
}

/// A validated, compiled rule set. Rules are kept in evaluation order:
/// priority (highest first), then colour (most severe first), then id.
#[derive(Debug, Clone, Serialize)]
pub struct RuleSet {
    pub id: String,
    pub version: String,
    pub region: Region,
    pub name: Bilingual,
    /// The colours this region's codes use, e.g. green / yellow / red.
    pub colours: Vec<Colour>,
    /// The colour when the person has health information and no rule fires.
    pub default_colour: Colour,
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSetFile {
    id: String,
    version: String,
    region: Region,
    name: Bilingual,
    colours: Vec<Colour>,
    default_colour: Colour,
    rules: Vec<RuleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
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

/// One problem in a rule set, with a JSON Pointer to where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSetProblem {
    pub at: String,
    pub message: Bilingual,
}

impl fmt::Display for RuleSetProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} / {}",
            pointer_display(&self.at),
            self.message.en,
            self.message.zh
        )
    }
}

/// Why a rule set could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleSetError {
    #[error("not a rule set: {0} / 不是规则集：{0}")]
    Format(String),
    #[error("invalid rule set, {} problem(s) / 规则集无效，共 {} 处问题: {}", .0.len(), .0.len(), join_problems(.0))]
    Invalid(Vec<RuleSetProblem>),
}

impl RuleSetError {
    /// Every problem, one per entry (a format error is one problem at the root).
    pub fn problems(&self) -> Vec<String> {
        match self {
            RuleSetError::Format(e) => vec![format!("#: not a rule set: {e} / 不是规则集：{e}")],
            RuleSetError::Invalid(problems) => problems.iter().map(ToString::to_string).collect(),
        }
    }
}

fn join_problems(problems: &[RuleSetProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl RuleSet {
    /// Loads a rule set from its JSON text.
    pub fn from_json_str(text: &str) -> Result<RuleSet, RuleSetError> {
        let file: RuleSetFile =
            serde_json::from_str(text).map_err(|e| RuleSetError::Format(e.to_string()))?;
        RuleSet::from_file(file)
    }

    /// Loads a rule set from a parsed JSON value.
    pub fn from_json_value(value: Value) -> Result<RuleSet, RuleSetError> {
        let file: RuleSetFile =
            serde_json::from_value(value).map_err(|e| RuleSetError::Format(e.to_string()))?;
        RuleSet::from_file(file)
    }

    fn from_file(file: RuleSetFile) -> Result<RuleSet, RuleSetError> {
        let mut problems = Vec::new();
        let mut problem = |at: String, en: String, zh: String| {
            problems.push(RuleSetProblem {
                at,
                message: Bilingual { zh, en },
            })
        };

        if file.id.trim().is_empty() {
            problem(
                "/id".into(),
                "the rule set needs an id".into(),
                "规则集需要标识".into(),
            );
        }
        if file.version.trim().is_empty() {
            problem(
                "/version".into(),
                "the rule set needs a version".into(),
                "规则集需要版本号".into(),
            );
        }
        if !file.name.is_complete() {
            problem(
                "/name".into(),
                "the name must be given in Chinese and English".into(),
                "名称须有中英文".into(),
            );
        }
        if !file.region.name.is_complete() || file.region.code.trim().is_empty() {
            problem(
                "/region".into(),
                "the region needs a code and a name in Chinese and English".into(),
                "地区须有代码及中英文名称".into(),
            );
        }
        if file.colours.is_empty() || file.colours.contains(&Colour::Pending) {
            problem(
                "/colours".into(),
                "list the colours the rules yield (pending is not a rule's colour: it means no health information)".into(),
                "须列出规则可产生的颜色（待定不是规则颜色，仅表示尚无健康信息）".into(),
            );
        }
        if !file.colours.contains(&file.default_colour) || file.default_colour == Colour::Pending {
            problem(
                "/default_colour".into(),
                format!(
                    "the default colour {} is not one of the rule set's colours",
                    file.default_colour
                ),
                format!(
                    "默认颜色 {} 不在规则集的颜色之中",
                    file.default_colour.label_zh()
                ),
            );
        }

        let mut rules = Vec::with_capacity(file.rules.len());
        for (i, rule) in file.rules.into_iter().enumerate() {
            let at = |field: &str| format!("/rules/{i}/{field}");
            if rule.id.trim().is_empty() {
                problem(
                    at("id"),
                    "the rule needs an id".into(),
                    "规则需要标识".into(),
                );
            } else if rules.iter().any(|r: &Rule| r.id == rule.id) {
                problem(
                    at("id"),
                    format!("duplicate rule id {:?}", rule.id),
                    format!("规则标识 {:?} 重复", rule.id),
                );
            }
            if !rule.description.is_complete() {
                problem(
                    at("description"),
                    "the description must be given in Chinese and English".into(),
                    "规则说明须有中英文".into(),
                );
            }
            if !file.colours.contains(&rule.colour) {
                problem(
                    at("colour"),
                    format!(
                        "colour {} is not one of the rule set's colours",
                        rule.colour
                    ),
                    format!("颜色 {} 不在规则集的颜色之中", rule.colour.label_zh()),
                );
            }
            if rule
                .valid_until
                .is_some_and(|until| until <= rule.valid_from)
            {
                problem(
                    at("valid_until"),
                    "valid_until must be after valid_from".into(),
                    "失效时间须晚于生效时间".into(),
                );
            }
            match Expr::compile(&rule.logic) {
                Ok(logic) => {
                    for path in logic.data_paths() {
                        if !is_known_path(path) {
                            problem(
                                at("logic"),
                                format!("reads {path:?}, which is not a field of the data view"),
                                format!("读取的 {path:?} 不是数据视图中的字段"),
                            );
                        }
                    }
                    rules.push(Rule {
                        id: rule.id,
                        description: rule.description,
                        colour: rule.colour,
                        priority: rule.priority,
                        valid_from: rule.valid_from,
                        valid_until: rule.valid_until,
                        logic_json: rule.logic,
                        logic,
                    });
                }
                Err(invalid) => {
                    for issue in invalid.issues {
                        problem(
                            format!("{}{}", at("logic"), issue.at),
                            issue.message_en(),
                            issue.message_zh(),
                        );
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(RuleSetError::Invalid(problems));
        }
        rules.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(b.colour.cmp(&a.colour))
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(RuleSet {
            id: file.id,
            version: file.version,
            region: file.region,
            name: file.name,
            colours: file.colours,
            default_colour: file.default_colour,
            rules,
        })
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The rule set as JSON, in the same shape it is loaded from.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The rule sets that ship with the platform, embedded in the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShippedRuleSet {
    /// National default: green, yellow, red.
    NationalDefault,
    /// Jilin's Jixiang code (吉祥码): green, yellow, orange, red.
    Jilin,
}

impl ShippedRuleSet {
    pub const ALL: [ShippedRuleSet; 2] = [ShippedRuleSet::NationalDefault, ShippedRuleSet::Jilin];

    /// The short name used on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            ShippedRuleSet::NationalDefault => "national",
            ShippedRuleSet::Jilin => "jilin",
        }
    }

    pub fn from_name(name: &str) -> Option<ShippedRuleSet> {
        ShippedRuleSet::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The JSON text as shipped (also in `crates/core/rules/`).
    pub const fn json(self) -> &'static str {
        match self {
            ShippedRuleSet::NationalDefault => include_str!("../rules/cn-national.json"),
            ShippedRuleSet::Jilin => include_str!("../rules/cn-22-jilin.json"),
        }
    }

    pub fn load(self) -> Result<RuleSet, RuleSetError> {
        RuleSet::from_json_str(self.json())
    }
}
