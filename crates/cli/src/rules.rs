//! `healthcode rules ...`: evaluate and validate CertLogic expressions and
//! rule sets, and explain a person's colour.
//!
//! Exit status: 0 success / valid, 1 invalid (problems listed one per line on
//! stdout) or evaluation failed, 2 usage error or unreadable input (one line
//! on stderr).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::Subcommand;
use healthcode_core::certlogic::{self, Expr};
use healthcode_core::{Event, RuleSet, ShippedRuleSet};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Evaluate a CertLogic expression against data and print the JSON result / 对数据求值 CertLogic 表达式
    Eval {
        /// File with the expression (JSON); "-" reads stdin / 表达式文件
        #[arg(long, value_name = "FILE")]
        expr: PathBuf,
        /// File with the data context (JSON); "-" reads stdin / 数据文件
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
    },
    /// Check a CertLogic expression or a rule set; list every problem / 校验表达式或规则集
    Validate {
        /// Expression or rule-set file (JSON); "-" reads stdin / 表达式或规则集文件
        file: PathBuf,
    },
    /// Evaluate a person's colour at an instant and explain it / 计算某一时刻的健康码颜色并说明原因
    Colour {
        /// A rule-set file, or a shipped set: "national" or "jilin" / 规则集文件或内置规则集名称
        #[arg(long, value_name = "FILE|NAME")]
        rules: String,
        /// File with the person's events (JSON array) / 事件文件（JSON 数组）
        #[arg(long, value_name = "FILE")]
        events: PathBuf,
        /// The instant, RFC 3339 (e.g. 2022-04-01T08:00:00+08:00) / 评估时刻
        #[arg(long, value_name = "TIME")]
        at: String,
    },
    /// Print a shipped rule set ("national" or "jilin") / 输出内置规则集
    Show {
        /// national | jilin
        name: String,
    },
}

/// How a command ended short of success.
enum Failure {
    /// Invalid or failed: exit 1, lines already printed.
    Invalid,
    /// Usage or input error: exit 2, one line on stderr.
    Input(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Input(e)
    }
}

pub fn run(cmd: RulesCommand) -> ExitCode {
    let outcome = match cmd {
        RulesCommand::Eval { expr, data } => eval(&expr, &data),
        RulesCommand::Validate { file } => validate(&file),
        RulesCommand::Colour { rules, events, at } => colour(&rules, &events, &at),
        RulesCommand::Show { name } => show(&name),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid) => ExitCode::from(1),
        Err(Failure::Input(e)) => {
            // One line: the chain of causes joined, never a backtrace.
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read stdin / 无法读取标准输入")?;
        return Ok(text);
    }
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {} / 无法读取文件", path.display()))
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text = read_text(path)?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON / 不是有效的 JSON", path.display()))
}

fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| anyhow!(e))?;
    println!("{text}");
    Ok(())
}

fn eval(expr_path: &Path, data_path: &Path) -> Result<(), Failure> {
    let expr_json = read_json(expr_path)?;
    let data = read_json(data_path)?;
    let expr = match Expr::compile(&expr_json) {
        Ok(expr) => expr,
        Err(invalid) => {
            eprintln!(
                "invalid CertLogic expression / 无效的 CertLogic 表达式: {}",
                expr_path.display()
            );
            for issue in &invalid.issues {
                eprintln!("{issue}");
            }
            return Err(Failure::Invalid);
        }
    };
    match expr.evaluate(&data) {
        Ok(result) => {
            println!("{result}");
            Ok(())
        }
        Err(e) => {
            eprintln!("{e}");
            Err(Failure::Invalid)
        }
    }
}

fn validate(path: &Path) -> Result<(), Failure> {
    let json = read_json(path)?;
    // A rule set is an object with "rules"; anything else is checked as an expression.
    let is_rule_set = json.as_object().is_some_and(|o| o.contains_key("rules"));
    let problems: Vec<String> = if is_rule_set {
        match RuleSet::from_json_value(json) {
            Ok(set) => {
                println!(
                    "valid rule set {} version {}: {} rules / 规则集有效，共 {} 条规则",
                    set.id,
                    set.version,
                    set.rules.len(),
                    set.rules.len()
                );
                return Ok(());
            }
            Err(e) => e.problems(),
        }
    } else {
        let issues = certlogic::validate(&json);
        if issues.is_empty() {
            println!("valid CertLogic expression / CertLogic 表达式有效");
            return Ok(());
        }
        issues.iter().map(ToString::to_string).collect()
    };
    for problem in &problems {
        println!("{problem}");
    }
    Err(Failure::Invalid)
}

fn load_rule_set(spec: &str) -> anyhow::Result<RuleSet> {
    if let Some(shipped) = ShippedRuleSet::from_name(spec) {
        return Ok(shipped.load()?);
    }
    let text = read_text(Path::new(spec))?;
    RuleSet::from_json_str(&text)
        .with_context(|| format!("{spec} is not a usable rule set / 规则集不可用"))
}

fn colour(rules: &str, events_path: &Path, at: &str) -> Result<(), Failure> {
    let rules = load_rule_set(rules)?;
    let now = OffsetDateTime::parse(at, &Rfc3339)
        .with_context(|| format!("--at {at:?} is not an RFC 3339 time such as 2022-04-01T08:00:00+08:00 / 时间格式应为 RFC 3339"))?;
    let text = read_text(events_path)?;
    let events: Vec<Event> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} does not hold a JSON array of valid events / 不是有效的事件数组",
            events_path.display()
        )
    })?;
    print_json(&rules.evaluate(&events, now))
}

fn show(name: &str) -> Result<(), Failure> {
    let shipped = ShippedRuleSet::from_name(name).ok_or_else(|| {
        anyhow!("unknown rule set {name:?}: expected national or jilin / 未知规则集")
    })?;
    print!("{}", shipped.json());
    Ok(())
}
