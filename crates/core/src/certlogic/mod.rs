//! CertLogic: the restricted JsonLogic of the EU DCC business rules, with
//! date-time operations (specification 1.3.3, `testdata/certlogic/README.md`).
//!
//! An expression is validated and compiled once into a tree ([`Expr`]); the
//! tree is then evaluated against any number of data contexts without
//! re-parsing and without cloning the data. Neither step panics on any input:
//! an invalid expression yields every problem found, each with a JSON Pointer
//! to where it is ([`ValidationIssue`]); an evaluation that goes wrong (a type
//! mismatch the validator cannot see) yields one [`EvalError`] naming where.
//!
//! Where the specification leaves behaviour open, this implementation:
//! - treats `in` with a `null` right-hand side as `false` (the null-safety the
//!   `ins-with-nulls` suite asks for); any other non-array is an error;
//! - passes the original data context to a `reduce` lambda as `data`, beside
//!   `current` and `accumulator` (the "patched reduce" the specification
//!   allows and its suite tests);
//! - compares with `===` structurally (arrays and objects by content,
//!   date-times by instant), where JavaScript would compare references;
//! - treats a number that is not an integer in ±2^53 as neither truthy nor
//!   falsy, and as an error operand for arithmetic and comparisons;
//! - rejects expressions nested deeper than [`MAX_DEPTH`] and values built
//!   deeper than that during evaluation, so evaluation cannot exhaust the stack.

mod datetime;
mod eval;
mod validate;

use std::fmt;

use serde_json::Value;

pub use datetime::{CertDateTime, TimeUnit};
pub use eval::Truthiness;
pub use validate::{validate, IssueKind, ValidationIssue};

/// How deeply expressions (and values built while evaluating) may nest.
pub const MAX_DEPTH: usize = 128;

/// A validated, compiled CertLogic expression.
#[derive(Debug, Clone)]
pub struct Expr {
    root: Node,
}

impl Expr {
    /// Validates and compiles an expression, reporting every problem found.
    pub fn compile(json: &Value) -> Result<Expr, InvalidExpression> {
        validate::compile(json)
            .map(|root| Expr { root })
            .map_err(|issues| InvalidExpression { issues })
    }

    /// Evaluates against a data context and returns the resulting JSON value
    /// (date-times are rendered as `YYYY-MM-DDTHH:MM:SS.mmmZ` strings).
    pub fn evaluate(&self, data: &Value) -> Result<Value, EvalError> {
        eval::evaluate(&self.root, data, &mut eval::NoReads).map(|v| v.to_json())
    }

    /// Evaluates and reports whether the result is truthy, falsy or neither,
    /// without building a JSON result.
    pub fn truthiness(&self, data: &Value) -> Result<Truthiness, EvalError> {
        eval::evaluate(&self.root, data, &mut eval::NoReads).map(|v| v.truthiness())
    }

    /// As [`Expr::truthiness`], and also records the `var` paths (relative to
    /// `data`) that evaluation actually read, in order. Operands that lazy
    /// operations (`if`, `and`) skipped are not recorded: the list is what
    /// the result depended on.
    pub fn truthiness_traced<'a>(
        &'a self,
        data: &'a Value,
        reads: &mut Vec<&'a str>,
    ) -> Result<Truthiness, EvalError> {
        eval::evaluate(&self.root, data, reads).map(|v| v.truthiness())
    }

    /// Every data path the expression can read (at the top level of the data
    /// context), whether or not a given evaluation reaches it.
    pub fn data_paths(&self) -> Vec<&str> {
        let mut paths = Vec::new();
        self.root.collect_paths(0, &mut paths);
        paths.sort_unstable();
        paths.dedup();
        paths
    }
}

/// Validates, compiles and evaluates in one step.
pub fn evaluate(expr: &Value, data: &Value) -> Result<Value, CertLogicError> {
    Ok(Expr::compile(expr)?.evaluate(data)?)
}

/// Any failure of [`evaluate`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CertLogicError {
    #[error(transparent)]
    Invalid(#[from] InvalidExpression),
    #[error(transparent)]
    Eval(#[from] EvalError),
}

/// An expression that is not valid CertLogic, with every problem found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct InvalidExpression {
    pub issues: Vec<ValidationIssue>,
}

impl fmt::Display for InvalidExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid CertLogic expression / 无效的 CertLogic 表达式")?;
        for issue in &self.issues {
            write!(f, "; {issue}")?;
        }
        Ok(())
    }
}

/// A failure while evaluating a valid expression: a type mismatch or a
/// date-time that cannot be parsed, at the operation `at` points to.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: CertLogic evaluation failed: {} / CertLogic 求值失败：{}", pointer_display(at), kind.message_en(), kind.message_zh())]
pub struct EvalError {
    /// JSON Pointer into the expression, e.g. `/and/1/plusTime/0`.
    pub at: String,
    pub kind: EvalErrorKind,
}

/// What went wrong in an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalErrorKind {
    /// A guard or operand of `if`, `and` or `!` is neither truthy nor falsy.
    NeitherTruthyNorFalsy {
        operator: &'static str,
        value: String,
    },
    /// An integer operation got something other than integers.
    NotIntegers { operator: &'static str },
    /// A date-time comparison got something other than date-times.
    NotDateTimes { operator: &'static str },
    /// The right-hand side of `in` is neither an array nor `null`.
    InNeedsArray,
    /// An integer sum that does not fit in 64 bits.
    IntegerOverflow,
    /// `plusTime`, `dccDateOfBirth` or `extractFromUVCI` got a non-string.
    NotAString { operator: &'static str },
    /// A string that is not a date(-time) in an allowed format.
    InvalidDateTime {
        operator: &'static str,
        value: String,
    },
    /// A date-time offset beyond what a date-time can hold.
    DateTimeOutOfRange,
    /// The operand of `reduce` is neither an array nor `null`.
    ReduceNeedsArray,
    /// A value nested deeper than [`MAX_DEPTH`] was built.
    TooDeep,
}

impl EvalErrorKind {
    pub fn message_en(&self) -> String {
        match self {
            EvalErrorKind::NeitherTruthyNorFalsy { operator, value } => {
                format!("operand of \"{operator}\" is neither truthy nor falsy: {value}")
            }
            EvalErrorKind::NotIntegers { operator } => {
                format!("all operands of \"{operator}\" must be integers")
            }
            EvalErrorKind::NotDateTimes { operator } => {
                format!("all operands of \"{operator}\" must be date-times")
            }
            EvalErrorKind::InNeedsArray => "right-hand side of \"in\" must be an array".to_owned(),
            EvalErrorKind::IntegerOverflow => "integer overflow in \"+\"".to_owned(),
            EvalErrorKind::NotAString { operator } => {
                format!("operand of \"{operator}\" must be a string")
            }
            EvalErrorKind::InvalidDateTime { operator, value } => {
                format!("operand of \"{operator}\" is not a date(-time) in an allowed format: {value:?}")
            }
            EvalErrorKind::DateTimeOutOfRange => "date-time out of range".to_owned(),
            EvalErrorKind::ReduceNeedsArray => {
                "operand of \"reduce\" must be an array or null".to_owned()
            }
            EvalErrorKind::TooDeep => format!("value nested deeper than {MAX_DEPTH} levels"),
        }
    }

    pub fn message_zh(&self) -> String {
        match self {
            EvalErrorKind::NeitherTruthyNorFalsy { operator, value } => {
                format!("“{operator}”的操作数既非真值也非假值：{value}")
            }
            EvalErrorKind::NotIntegers { operator } => {
                format!("“{operator}”的所有操作数必须是整数")
            }
            EvalErrorKind::NotDateTimes { operator } => {
                format!("“{operator}”的所有操作数必须是日期时间")
            }
            EvalErrorKind::InNeedsArray => "“in”的右操作数必须是数组".to_owned(),
            EvalErrorKind::IntegerOverflow => "“+”整数溢出".to_owned(),
            EvalErrorKind::NotAString { operator } => format!("“{operator}”的操作数必须是字符串"),
            EvalErrorKind::InvalidDateTime { operator, value } => {
                format!("“{operator}”的操作数不是允许格式的日期（时间）：{value:?}")
            }
            EvalErrorKind::DateTimeOutOfRange => "日期时间超出范围".to_owned(),
            EvalErrorKind::ReduceNeedsArray => "“reduce”的操作数必须是数组或 null".to_owned(),
            EvalErrorKind::TooDeep => format!("值的嵌套超过 {MAX_DEPTH} 层"),
        }
    }
}

/// Shows a JSON Pointer as a URI fragment, so the root is visible (`#`).
pub(crate) fn pointer_display(pointer: &str) -> String {
    format!("#{pointer}")
}

/// The compiled form of an expression. Fallible operations keep the JSON
/// Pointer of their position (`at`) for error messages.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Bool(bool),
    Int(i64),
    Str(Box<str>),
    Array(Box<[Node]>),
    Var(VarPath),
    If(Box<[Node; 3]>, Box<str>),
    And(Box<[Node]>, Box<str>),
    Not(Box<Node>, Box<str>),
    StrictEquals(Box<[Node; 2]>),
    In(Box<[Node; 2]>, Box<str>),
    Plus(Box<[Node; 2]>, Box<str>),
    Compare {
        op: Comparison,
        operands: Box<[Node]>,
        at: Box<str>,
    },
    PlusTime {
        operand: Box<Node>,
        amount: i64,
        unit: TimeUnit,
        at: Box<str>,
    },
    Reduce(Box<[Node; 3]>, Box<str>),
    ExtractFromUvci {
        operand: Box<Node>,
        index: i64,
        at: Box<str>,
    },
    DccDateOfBirth(Box<Node>, Box<str>),
}

impl Node {
    /// Collects `var` paths that refer to the top-level data context:
    /// inside a `reduce` lambda only `data.`-prefixed paths do.
    fn collect_paths<'a>(&'a self, lambda_depth: usize, out: &mut Vec<&'a str>) {
        match self {
            Node::Bool(_) | Node::Int(_) | Node::Str(_) => {}
            Node::Var(path) => {
                if let Some(p) = path.relative_to_root(lambda_depth) {
                    out.push(p);
                }
            }
            Node::Array(items)
            | Node::And(items, _)
            | Node::Compare {
                operands: items, ..
            } => {
                items
                    .iter()
                    .for_each(|n| n.collect_paths(lambda_depth, out));
            }
            Node::If(nodes, _) => nodes
                .iter()
                .for_each(|n| n.collect_paths(lambda_depth, out)),
            Node::StrictEquals(nodes) | Node::In(nodes, _) | Node::Plus(nodes, _) => {
                nodes
                    .iter()
                    .for_each(|n| n.collect_paths(lambda_depth, out));
            }
            Node::Not(operand, _)
            | Node::PlusTime { operand, .. }
            | Node::ExtractFromUvci { operand, .. }
            | Node::DccDateOfBirth(operand, _) => operand.collect_paths(lambda_depth, out),
            Node::Reduce(nodes, _) => {
                let [operand, lambda, initial] = &**nodes;
                operand.collect_paths(lambda_depth, out);
                lambda.collect_paths(lambda_depth + 1, out);
                initial.collect_paths(lambda_depth, out);
            }
        }
    }
}

/// The eight ordering comparisons: four on integers, four on date-times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    Less,
    Greater,
    LessOrEqual,
    GreaterOrEqual,
    Before,
    After,
    NotAfter,
    NotBefore,
}

impl Comparison {
    pub(crate) fn parse(op: &str) -> Option<Comparison> {
        Some(match op {
            "<" => Comparison::Less,
            ">" => Comparison::Greater,
            "<=" => Comparison::LessOrEqual,
            ">=" => Comparison::GreaterOrEqual,
            "before" => Comparison::Before,
            "after" => Comparison::After,
            "not-after" => Comparison::NotAfter,
            "not-before" => Comparison::NotBefore,
            _ => return None,
        })
    }

    pub(crate) const fn operator(self) -> &'static str {
        match self {
            Comparison::Less => "<",
            Comparison::Greater => ">",
            Comparison::LessOrEqual => "<=",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Before => "before",
            Comparison::After => "after",
            Comparison::NotAfter => "not-after",
            Comparison::NotBefore => "not-before",
        }
    }

    pub(crate) const fn on_date_times(self) -> bool {
        matches!(
            self,
            Comparison::Before | Comparison::After | Comparison::NotAfter | Comparison::NotBefore
        )
    }

    pub(crate) fn holds<T: Ord>(self, left: T, right: T) -> bool {
        match self {
            Comparison::Less | Comparison::Before => left < right,
            Comparison::Greater | Comparison::After => left > right,
            Comparison::LessOrEqual | Comparison::NotAfter => left <= right,
            Comparison::GreaterOrEqual | Comparison::NotBefore => left >= right,
        }
    }
}

/// A compiled `var` path: its fragments, each with its array index if it is one.
#[derive(Debug, Clone)]
pub(crate) struct VarPath {
    pub(crate) raw: Box<str>,
    pub(crate) fragments: Box<[Fragment]>,
}

#[derive(Debug, Clone)]
pub(crate) struct Fragment {
    pub(crate) key: Box<str>,
    pub(crate) index: Option<usize>,
}

impl VarPath {
    pub(crate) fn new(raw: &str) -> VarPath {
        let fragments = if raw.is_empty() {
            Box::default()
        } else {
            raw.split('.')
                .map(|key| Fragment {
                    key: key.into(),
                    index: if key.bytes().all(|b| b.is_ascii_digit()) {
                        key.parse().ok()
                    } else {
                        None
                    },
                })
                .collect()
        };
        VarPath {
            raw: raw.into(),
            fragments,
        }
    }

    /// The path as seen from the top-level data context, for a `var` inside
    /// `lambda_depth` nested `reduce` lambdas: there, `data.` reaches one
    /// level out. `None` for paths into `current` or `accumulator`.
    pub(crate) fn relative_to_root(&self, lambda_depth: usize) -> Option<&str> {
        if lambda_depth == 0 {
            return Some(&self.raw);
        }
        let outward = self.fragments.get(..lambda_depth)?;
        if !outward.iter().all(|f| &*f.key == "data") {
            return None;
        }
        // Each "data." is five bytes; exactly `depth` fragments means the whole context.
        Some(self.raw.get(lambda_depth * 5..).unwrap_or(""))
    }
}
