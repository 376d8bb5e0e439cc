//! A person's colour at an instant: the rule set evaluated over the data
//! view, with the rules that fired and the evidence behind each.
//!
//! Nothing is stored or mutated: the same events evaluated at a later
//! instant give the later colour (a quarantine that has ended, a fever that
//! a normal reading has replaced, a risk stay that has aged out).

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::bilingual::Bilingual;
use crate::certlogic::Truthiness;
use crate::colour::Colour;
use crate::facts::{Event, EventId};
use crate::rules::{Rule, RuleSet};
use crate::view::DataView;

/// What a colour rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DecisionBasis {
    /// No event at or before the instant: the code is pending (black).
    NoHealthInformation,
    /// The highest-priority rule that fired.
    Rule { rule_id: String },
    /// No rule fired: the rule set's default colour.
    Default,
    /// A rule that could have decided could not be evaluated: pending review
    /// rather than a colour the rules may not support.
    RuleFailed { rule_id: String },
}

/// One input a fired rule read: the data path, its value, and the events it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleInput {
    pub path: String,
    pub value: Value,
    pub events: Vec<EventId>,
}

/// A rule that fired, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FiredRule {
    pub rule_id: String,
    pub colour: Colour,
    pub priority: i32,
    pub description: Bilingual,
    /// The events behind the inputs, in the order the rule read them.
    pub evidence: Vec<EventId>,
    pub inputs: Vec<RuleInput>,
}

/// A rule whose evaluation failed (a type mismatch in the data it met).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleFailure {
    pub rule_id: String,
    pub priority: i32,
    pub error: String,
}

/// The colour of a person's code at an instant, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColourDecision {
    pub colour: Colour,
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    pub rule_set_id: String,
    pub rule_set_version: String,
    pub basis: DecisionBasis,
    /// One sentence per language for the person and the guard.
    pub explanation: Bilingual,
    /// Every rule that fired, the deciding one first.
    pub fired: Vec<FiredRule>,
    pub failures: Vec<RuleFailure>,
}

impl RuleSet {
    /// Evaluates a person's colour at `now` from their events (in any order;
    /// events after `now` are ignored).
    pub fn evaluate(&self, events: &[Event], now: OffsetDateTime) -> ColourDecision {
        self.evaluate_view(&DataView::build(events, now), now)
    }

    /// Evaluates over an already built data view.
    pub fn evaluate_view(&self, view: &DataView<'_>, now: OffsetDateTime) -> ColourDecision {
        let decision = |colour, basis, explanation, fired, failures| ColourDecision {
            colour,
            as_of: now,
            rule_set_id: self.id.clone(),
            rule_set_version: self.version.clone(),
            basis,
            explanation,
            fired,
            failures,
        };
        if !view.has_health_information() {
            return decision(
                Colour::Pending,
                DecisionBasis::NoHealthInformation,
                Bilingual::new(
                    "尚无健康信息（无申报、检测或其他记录），健康码待定（黑码）。",
                    "No health information yet (no declaration, test or other record): the code is pending (black).",
                ),
                Vec::new(),
                Vec::new(),
            );
        }

        let mut fired = Vec::new();
        let mut failures = Vec::new();
        let mut reads = Vec::new();
        for rule in self.rules.iter().filter(|r| r.is_valid_at(now)) {
            reads.clear();
            match rule.logic.truthiness_traced(view.data(), &mut reads) {
                Ok(Truthiness::Truthy) => fired.push(fired_rule(rule, &reads, view)),
                Ok(Truthiness::Falsy | Truthiness::Neither) => {}
                Err(e) => failures.push(RuleFailure {
                    rule_id: rule.id.clone(),
                    priority: rule.priority,
                    error: e.to_string(),
                }),
            }
        }

        // Rules are in evaluation order, so the first fired one decides, unless
        // a rule that ranks at least as high could not be evaluated.
        let winner_priority = fired.first().map(|f: &FiredRule| f.priority);
        let blocking_failure = failures
            .iter()
            .find(|f: &&RuleFailure| winner_priority.is_none_or(|p| f.priority >= p));
        if let Some(failure) = blocking_failure {
            let id = failure.rule_id.clone();
            return decision(
                Colour::Pending,
                DecisionBasis::RuleFailed {
                    rule_id: id.clone(),
                },
                Bilingual::new(
                    format!("规则 {id} 无法求值，健康码待复核。"),
                    format!("Rule {id} could not be evaluated: the code is pending review."),
                ),
                fired,
                failures,
            );
        }
        match fired.first() {
            Some(winner) => {
                let evidence = winner
                    .evidence
                    .iter()
                    .map(EventId::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                let explanation = Bilingual::new(
                    format!(
                        "{}：{}（规则 {}；依据记录：{}）",
                        winner.colour.label_zh(),
                        winner.description.zh,
                        winner.rule_id,
                        if evidence.is_empty() {
                            "无"
                        } else {
                            &evidence
                        }
                    ),
                    format!(
                        "{}: {} (rule {}; evidence: {})",
                        winner.colour.label_en(),
                        winner.description.en,
                        winner.rule_id,
                        if evidence.is_empty() {
                            "none"
                        } else {
                            &evidence
                        }
                    ),
                );
                let basis = DecisionBasis::Rule {
                    rule_id: winner.rule_id.clone(),
                };
                decision(winner.colour, basis, explanation, fired, failures)
            }
            None => decision(
                self.default_colour,
                DecisionBasis::Default,
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
                fired,
                failures,
            ),
        }
    }
}

fn fired_rule(rule: &Rule, reads: &[&str], view: &DataView<'_>) -> FiredRule {
    let mut inputs: Vec<RuleInput> = Vec::with_capacity(reads.len());
    let mut evidence: Vec<EventId> = Vec::new();
    for &path in reads {
        if inputs.iter().any(|input| input.path == path) {
            continue;
        }
        let events = view.event_ids_behind(path);
        for id in &events {
            if !evidence.contains(id) {
                evidence.push(id.clone());
            }
        }
        inputs.push(RuleInput {
            path: path.to_owned(),
            value: view.value_at(path).clone(),
            events,
        });
    }
    FiredRule {
        rule_id: rule.id.clone(),
        colour: rule.colour,
        priority: rule.priority,
        description: rule.description.clone(),
        evidence,
        inputs,
    }
}
