//! Validation and compilation: one walk over the JSON that either builds the
//! evaluation tree or lists every problem, each with its JSON Pointer.

use std::fmt;

use serde_json::{Number, Value};

use super::{pointer_display, Comparison, Node, TimeUnit, VarPath, MAX_DEPTH};

/// One problem in an expression: where (JSON Pointer), the offending
/// sub-expression, and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationIssue {
    pub at: String,
    pub expr: Value,
    pub kind: IssueKind,
}

impl ValidationIssue {
    /// The English message; for the conformance cases it is worded exactly
    /// as the specification's validation suite expects.
    pub fn message_en(&self) -> String {
        self.kind.message_en()
    }

    pub fn message_zh(&self) -> String {
        self.kind.message_zh()
    }
}

impl fmt::Display for ValidationIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} / {}",
            pointer_display(&self.at),
            self.kind.message_en(),
            self.kind.message_zh()
        )
    }
}

/// The kinds of problem the validator recognises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueKind {
    /// `null`, or anything else that is no CertLogic expression at all.
    NotAnExpression,
    /// A number with a fractional part (rendered as written).
    NonIntegerNumber(String),
    /// An integer beyond ±2^53, which JavaScript cannot hold exactly.
    IntegerOutOfRange(String),
    /// An operation object must have exactly one key.
    KeyCount(usize),
    /// `{ "<operator>": <not an array> }`.
    NotOperationForm,
    UnknownOperator(String),
    /// `{ "var": <not a string> }`.
    VarNotPath,
    /// A `var` path with an empty fragment (`"x."`, `".x"`, `"x..y"`).
    InvalidPath(String),
    /// An operation with the wrong number of operands.
    OperandCount {
        operator: String,
        expected: &'static str,
        found: usize,
    },
    /// `plusTime`'s amount must be an integer literal.
    PlusTimeAmount,
    /// `plusTime`'s unit must be one of the four unit literals.
    PlusTimeUnit,
    /// `extractFromUVCI`'s index must be an integer literal.
    UvciIndex,
    /// More than [`MAX_DEPTH`] levels of nesting.
    TooDeep,
}

impl IssueKind {
    pub fn message_en(&self) -> String {
        match self {
            IssueKind::NotAnExpression => "invalid CertLogic expression".to_owned(),
            IssueKind::NonIntegerNumber(n) => format!("{n} is a non-integer number"),
            IssueKind::IntegerOutOfRange(n) => format!("{n} is outside the exactly representable integers (±2^53)"),
            IssueKind::KeyCount(n) => format!("expression object must have exactly one key, but it has {n}"),
            IssueKind::NotOperationForm => "operation not of the form { \"<operator>\": [ <values...> ] }".to_owned(),
            IssueKind::UnknownOperator(op) => format!("unrecognised operator: {op:?}"),
            IssueKind::VarNotPath => "not of the form { \"var\": \"<path>\" }".to_owned(),
            IssueKind::InvalidPath(p) => format!("data access path doesn't have a valid format: {p}"),
            IssueKind::OperandCount {
                operator,
                expected,
                found,
            } => format!("an operation with operator {operator:?} must have {expected} operands, but it has {found}"),
            IssueKind::PlusTimeAmount => "the amount (2nd operand) of \"plusTime\" must be an integer literal".to_owned(),
            IssueKind::PlusTimeUnit => {
                "the unit (3rd operand) of \"plusTime\" must be one of \"year\", \"month\", \"day\", \"hour\"".to_owned()
            }
            IssueKind::UvciIndex => "the index (2nd operand) of \"extractFromUVCI\" must be an integer literal".to_owned(),
            IssueKind::TooDeep => format!("expression nested deeper than {MAX_DEPTH} levels"),
        }
    }

    pub fn message_zh(&self) -> String {
        match self {
            IssueKind::NotAnExpression => "无效的 CertLogic 表达式".to_owned(),
            IssueKind::NonIntegerNumber(n) => format!("{n} 不是整数"),
            IssueKind::IntegerOutOfRange(n) => format!("{n} 超出可精确表示的整数范围（±2^53）"),
            IssueKind::KeyCount(n) => format!("表达式对象必须恰好有一个键，实际有 {n} 个"),
            IssueKind::NotOperationForm => "运算不符合 { \"<运算符>\": [ <值...> ] } 的形式".to_owned(),
            IssueKind::UnknownOperator(op) => format!("无法识别的运算符：{op:?}"),
            IssueKind::VarNotPath => "不符合 { \"var\": \"<路径>\" } 的形式".to_owned(),
            IssueKind::InvalidPath(p) => format!("数据访问路径格式无效：{p}"),
            IssueKind::OperandCount {
                operator,
                expected,
                found,
            } => format!(
                "运算符 {operator:?} 需要{} 个操作数，实际有 {found} 个",
                expected_count_zh(expected)
            ),
            IssueKind::PlusTimeAmount => "“plusTime”的数量（第 2 个操作数）必须是整数字面量".to_owned(),
            IssueKind::PlusTimeUnit => {
                "“plusTime”的单位（第 3 个操作数）必须是 \"year\"、\"month\"、\"day\"、\"hour\" 之一".to_owned()
            }
            IssueKind::UvciIndex => "“extractFromUVCI”的索引（第 2 个操作数）必须是整数字面量".to_owned(),
            IssueKind::TooDeep => format!("表达式嵌套超过 {MAX_DEPTH} 层"),
        }
    }
}

/// Lists every problem in an expression; empty means valid.
pub fn validate(json: &Value) -> Vec<ValidationIssue> {
    match compile(json) {
        Ok(_) => Vec::new(),
        Err(issues) => issues,
    }
}

pub(crate) fn compile(json: &Value) -> Result<Node, Vec<ValidationIssue>> {
    let mut compiler = Compiler {
        at: String::new(),
        issues: Vec::new(),
    };
    let node = compiler.expression(json, 0);
    match node {
        Some(node) if compiler.issues.is_empty() => Ok(node),
        _ => Err(compiler.issues),
    }
}

/// An integer as JavaScript sees one: exact within ±2^53.
pub(crate) enum NumberClass {
    Integer(i64),
    NonInteger,
    OutOfRange,
}

const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

pub(crate) fn classify_number(n: &Number) -> NumberClass {
    if let Some(i) = n.as_i64() {
        return if i.abs() <= MAX_SAFE_INTEGER {
            NumberClass::Integer(i)
        } else {
            NumberClass::OutOfRange
        };
    }
    if n.is_u64() {
        return NumberClass::OutOfRange;
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER as f64 => {
            NumberClass::Integer(f as i64)
        }
        Some(f) if f.fract() == 0.0 => NumberClass::OutOfRange,
        _ => NumberClass::NonInteger,
    }
}

fn integer_literal(json: &Value) -> Option<i64> {
    match json {
        Value::Number(n) => match classify_number(n) {
            NumberClass::Integer(i) => Some(i),
            NumberClass::NonInteger | NumberClass::OutOfRange => None,
        },
        _ => None,
    }
}

struct Compiler {
    /// JSON Pointer of the node being compiled.
    at: String,
    issues: Vec<ValidationIssue>,
}

impl Compiler {
    fn issue(&mut self, expr: &Value, kind: IssueKind) {
        self.issues.push(ValidationIssue {
            at: self.at.clone(),
            expr: expr.clone(),
            kind,
        });
    }

    /// Extends the pointer by one segment and returns the length to truncate
    /// back to. JSON Pointer escaping: "~" is "~0" and "/" is "~1".
    fn push_segment(&mut self, segment: &str) -> usize {
        let len = self.at.len();
        self.at.push('/');
        for c in segment.chars() {
            match c {
                '~' => self.at.push_str("~0"),
                '/' => self.at.push_str("~1"),
                c => self.at.push(c),
            }
        }
        len
    }

    /// Compiles `json` at the current pointer extended by `segment`.
    fn child(&mut self, segment: &str, json: &Value, depth: usize) -> Option<Node> {
        let len = self.push_segment(segment);
        let node = self.expression(json, depth);
        self.at.truncate(len);
        node
    }

    fn children(&mut self, operator: &str, operands: &[Value], depth: usize) -> Option<Vec<Node>> {
        let len = self.push_segment(operator);
        let mut nodes = Some(Vec::with_capacity(operands.len()));
        for (i, operand) in operands.iter().enumerate() {
            let node = self.child(&i.to_string(), operand, depth);
            match (&mut nodes, node) {
                (Some(list), Some(node)) => list.push(node),
                _ => nodes = None,
            }
        }
        self.at.truncate(len);
        nodes
    }

    fn expression(&mut self, json: &Value, depth: usize) -> Option<Node> {
        if depth > MAX_DEPTH {
            // The offending sub-expression is not copied: it may be arbitrarily deep.
            self.issues.push(ValidationIssue {
                at: self.at.clone(),
                expr: Value::Null,
                kind: IssueKind::TooDeep,
            });
            return None;
        }
        match json {
            Value::Null => {
                self.issue(json, IssueKind::NotAnExpression);
                None
            }
            Value::Bool(b) => Some(Node::Bool(*b)),
            Value::Number(n) => match classify_number(n) {
                NumberClass::Integer(i) => Some(Node::Int(i)),
                NumberClass::NonInteger => {
                    self.issue(json, IssueKind::NonIntegerNumber(n.to_string()));
                    None
                }
                NumberClass::OutOfRange => {
                    self.issue(json, IssueKind::IntegerOutOfRange(n.to_string()));
                    None
                }
            },
            Value::String(s) => Some(Node::Str(s.as_str().into())),
            Value::Array(items) => {
                let mut nodes = Some(Vec::with_capacity(items.len()));
                for (i, item) in items.iter().enumerate() {
                    let node = self.child(&i.to_string(), item, depth + 1);
                    match (&mut nodes, node) {
                        (Some(list), Some(node)) => list.push(node),
                        _ => nodes = None,
                    }
                }
                nodes.map(|list| Node::Array(list.into_boxed_slice()))
            }
            Value::Object(map) => {
                let mut entries = map.iter();
                let (operator, operands) = match (entries.next(), entries.next()) {
                    (Some(entry), None) => entry,
                    _ => {
                        self.issue(json, IssueKind::KeyCount(map.len()));
                        return None;
                    }
                };
                if operator == "var" {
                    return self.var(json, operands);
                }
                let Value::Array(operands) = operands else {
                    self.issue(json, IssueKind::NotOperationForm);
                    return None;
                };
                self.operation(json, operator, operands, depth)
            }
        }
    }

    fn var(&mut self, json: &Value, path: &Value) -> Option<Node> {
        let Value::String(path) = path else {
            self.issue(json, IssueKind::VarNotPath);
            return None;
        };
        if !path.is_empty() && path.split('.').any(str::is_empty) {
            self.issue(json, IssueKind::InvalidPath(path.clone()));
            return None;
        }
        Some(Node::Var(VarPath::new(path)))
    }

    fn operand_count(
        &mut self,
        json: &Value,
        operator: &str,
        found: usize,
        expected: &'static str,
        ok: bool,
    ) -> bool {
        if !ok {
            self.issue(
                json,
                IssueKind::OperandCount {
                    operator: operator.to_owned(),
                    expected,
                    found,
                },
            );
        }
        ok
    }

    /// Compiles the operands of an operation that takes exactly `N` of them.
    fn fixed<const N: usize>(
        &mut self,
        json: &Value,
        operator: &str,
        operands: &[Value],
        depth: usize,
        expected: &'static str,
    ) -> Option<[Node; N]> {
        let count_ok = self.operand_count(
            json,
            operator,
            operands.len(),
            expected,
            operands.len() == N,
        );
        let nodes = self.children(operator, operands, depth)?;
        nodes.try_into().ok().filter(|_| count_ok)
    }

    fn operation(
        &mut self,
        json: &Value,
        operator: &str,
        operands: &[Value],
        depth: usize,
    ) -> Option<Node> {
        let n = operands.len();
        let at: Box<str> = self.at.as_str().into();
        let depth = depth + 1;
        match operator {
            "if" => {
                let [guard, then, otherwise] =
                    self.fixed(json, operator, operands, depth, "exactly 3")?;
                Some(Node::If(Box::new([guard, then, otherwise]), at))
            }
            "and" => {
                let count_ok = self.operand_count(json, operator, n, "at least 2", n >= 2);
                let nodes = self.children(operator, operands, depth)?;
                count_ok.then(|| Node::And(nodes.into_boxed_slice(), at))
            }
            "!" => {
                let [operand] = self.fixed(json, operator, operands, depth, "exactly 1")?;
                Some(Node::Not(Box::new(operand), at))
            }
            "===" => Some(Node::StrictEquals(Box::new(self.fixed(
                json,
                operator,
                operands,
                depth,
                "exactly 2",
            )?))),
            "in" => Some(Node::In(
                Box::new(self.fixed(json, operator, operands, depth, "exactly 2")?),
                at,
            )),
            "+" => Some(Node::Plus(
                Box::new(self.fixed(json, operator, operands, depth, "exactly 2")?),
                at,
            )),
            "reduce" => Some(Node::Reduce(
                Box::new(self.fixed(json, operator, operands, depth, "exactly 3")?),
                at,
            )),
            "dccDateOfBirth" => {
                let [operand] = self.fixed(json, operator, operands, depth, "exactly 1")?;
                Some(Node::DccDateOfBirth(Box::new(operand), at))
            }
            "plusTime" => self.plus_time(json, operands, depth, at),
            "extractFromUVCI" => self.extract_from_uvci(json, operands, depth, at),
            _ => match Comparison::parse(operator) {
                Some(op) => {
                    let count_ok =
                        self.operand_count(json, operator, n, "2 or 3", n == 2 || n == 3);
                    let nodes = self.children(operator, operands, depth)?;
                    count_ok.then(|| Node::Compare {
                        op,
                        operands: nodes.into_boxed_slice(),
                        at,
                    })
                }
                None => {
                    self.issue(json, IssueKind::UnknownOperator(operator.to_owned()));
                    None
                }
            },
        }
    }

    fn plus_time(
        &mut self,
        json: &Value,
        operands: &[Value],
        depth: usize,
        at: Box<str>,
    ) -> Option<Node> {
        let [operand, amount, unit] = operands else {
            self.operand_count(json, "plusTime", operands.len(), "exactly 3", false);
            return None;
        };
        let amount = integer_literal(amount);
        if amount.is_none() {
            self.issue(json, IssueKind::PlusTimeAmount);
        }
        let unit = unit.as_str().and_then(TimeUnit::parse);
        if unit.is_none() {
            self.issue(json, IssueKind::PlusTimeUnit);
        }
        let operand = self
            .children("plusTime", std::slice::from_ref(operand), depth)?
            .pop()?;
        Some(Node::PlusTime {
            operand: Box::new(operand),
            amount: amount?,
            unit: unit?,
            at,
        })
    }

    fn extract_from_uvci(
        &mut self,
        json: &Value,
        operands: &[Value],
        depth: usize,
        at: Box<str>,
    ) -> Option<Node> {
        let [operand, index] = operands else {
            self.operand_count(json, "extractFromUVCI", operands.len(), "exactly 2", false);
            return None;
        };
        let index = integer_literal(index);
        if index.is_none() {
            self.issue(json, IssueKind::UvciIndex);
        }
        let operand = self
            .children("extractFromUVCI", std::slice::from_ref(operand), depth)?
            .pop()?;
        Some(Node::ExtractFromUvci {
            operand: Box::new(operand),
            index: index?,
            at,
        })
    }
}

/// Chinese for the operand-count phrases used in [`IssueKind::OperandCount`]
/// ("exactly 3", "at least 2", "2 or 3").
fn expected_count_zh(expected: &str) -> String {
    if let Some(n) = expected.strip_prefix("exactly ") {
        format!("恰好 {n}")
    } else if let Some(n) = expected.strip_prefix("at least ") {
        format!("至少 {n}")
    } else {
        format!(" {}", expected.replace(" or ", " 或 "))
    }
}
