//! Evaluation of a compiled expression over borrowed data.
//!
//! Values borrow from the expression (string literals) and from the data
//! (strings, arrays, objects): nothing in the data is cloned unless the
//! caller asks for a JSON result.

use std::rc::Rc;

use serde_json::Value;

use super::datetime::CertDateTime;
use super::validate::{classify_number, NumberClass};
use super::{Comparison, EvalError, EvalErrorKind, Node, VarPath, MAX_DEPTH};

/// Whether a value counts as true, as false, or (date-times, non-integer
/// numbers) as neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truthiness {
    Truthy,
    Falsy,
    Neither,
}

/// Receives the data paths an evaluation reads.
pub(crate) trait ReadObserver<'a> {
    fn read(&mut self, path: &'a str);
}

/// Records nothing: the plain evaluation path pays nothing for tracing.
pub(crate) struct NoReads;

impl<'a> ReadObserver<'a> for NoReads {
    #[inline]
    fn read(&mut self, _path: &'a str) {}
}

impl<'a> ReadObserver<'a> for Vec<&'a str> {
    fn read(&mut self, path: &'a str) {
        self.push(path);
    }
}

/// A value during evaluation.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Str(&'a str),
    /// An array, an object, or a number that is not a safe integer, borrowed from the data.
    Json(&'a Value),
    /// An array built by the expression.
    List(Rc<List<'a>>),
    DateTime(CertDateTime),
    /// The data context of a `reduce` lambda.
    Scope(Rc<Scope<'a>>),
}

#[derive(Debug)]
pub(crate) struct List<'a> {
    items: Vec<Val<'a>>,
    depth: usize,
}

#[derive(Debug)]
pub(crate) struct Scope<'a> {
    current: Val<'a>,
    accumulator: Val<'a>,
    data: Val<'a>,
    depth: usize,
}

impl<'a> Val<'a> {
    fn from_json(v: &'a Value) -> Val<'a> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => match classify_number(n) {
                NumberClass::Integer(i) => Val::Int(i),
                NumberClass::NonInteger | NumberClass::OutOfRange => Val::Json(v),
            },
            Value::String(s) => Val::Str(s),
            Value::Array(_) | Value::Object(_) => Val::Json(v),
        }
    }

    /// Nesting depth of values the expression built (borrowed data counts as 0).
    fn depth(&self) -> usize {
        match self {
            Val::List(list) => list.depth,
            Val::Scope(scope) => scope.depth,
            _ => 0,
        }
    }

    pub(crate) fn truthiness(&self) -> Truthiness {
        let truthy = |t: bool| {
            if t {
                Truthiness::Truthy
            } else {
                Truthiness::Falsy
            }
        };
        match self {
            Val::Null => Truthiness::Falsy,
            Val::Bool(b) => truthy(*b),
            Val::Int(i) => truthy(*i != 0),
            Val::Str(s) => truthy(!s.is_empty()),
            Val::Json(Value::Array(a)) => truthy(!a.is_empty()),
            Val::Json(Value::Object(o)) => truthy(!o.is_empty()),
            Val::Json(other) => Val::from_json_scalar_truthiness(other),
            Val::List(list) => truthy(!list.items.is_empty()),
            Val::DateTime(_) => Truthiness::Neither,
            Val::Scope(_) => Truthiness::Truthy,
        }
    }

    fn from_json_scalar_truthiness(v: &Value) -> Truthiness {
        match v {
            Value::Null => Truthiness::Falsy,
            Value::Bool(true) => Truthiness::Truthy,
            Value::Bool(false) => Truthiness::Falsy,
            Value::String(s) if s.is_empty() => Truthiness::Falsy,
            Value::String(_) => Truthiness::Truthy,
            // Only numbers outside the safe integers are held as JSON.
            _ => Truthiness::Neither,
        }
    }

    /// One step of a `var` path.
    fn child(&self, fragment: &super::Fragment) -> Val<'a> {
        match self {
            Val::Json(Value::Object(map)) => {
                map.get(&*fragment.key).map_or(Val::Null, Val::from_json)
            }
            Val::Json(Value::Array(items)) => fragment
                .index
                .and_then(|i| items.get(i))
                .map_or(Val::Null, Val::from_json),
            Val::List(list) => fragment
                .index
                .and_then(|i| list.items.get(i))
                .cloned()
                .unwrap_or(Val::Null),
            Val::Scope(scope) => match &*fragment.key {
                "current" => scope.current.clone(),
                "accumulator" => scope.accumulator.clone(),
                "data" => scope.data.clone(),
                _ => Val::Null,
            },
            _ => Val::Null,
        }
    }

    fn lookup(&self, path: &VarPath) -> Val<'a> {
        let mut value = self.clone();
        for fragment in path.fragments.iter() {
            value = value.child(fragment);
            if matches!(value, Val::Null) {
                break;
            }
        }
        value
    }

    fn array_len(&self) -> Option<usize> {
        match self {
            Val::Json(Value::Array(items)) => Some(items.len()),
            Val::List(list) => Some(list.items.len()),
            _ => None,
        }
    }

    fn array_item(&self, i: usize) -> Val<'a> {
        match self {
            Val::Json(Value::Array(items)) => items.get(i).map_or(Val::Null, Val::from_json),
            Val::List(list) => list.items.get(i).cloned().unwrap_or(Val::Null),
            _ => Val::Null,
        }
    }

    /// `===`: strict for scalars (no type coercion), structural for arrays
    /// and objects, by instant for date-times.
    fn strict_equals(&self, other: &Val<'a>) -> bool {
        match (self, other) {
            (Val::Null, Val::Null) => true,
            (Val::Bool(a), Val::Bool(b)) => a == b,
            (Val::Int(a), Val::Int(b)) => a == b,
            (Val::Str(a), Val::Str(b)) => a == b,
            (Val::DateTime(a), Val::DateTime(b)) => a == b,
            (Val::Json(a), Val::Json(b)) => a == b,
            _ => match (self.array_len(), other.array_len()) {
                (Some(n), Some(m)) => {
                    n == m && (0..n).all(|i| self.array_item(i).strict_equals(&other.array_item(i)))
                }
                _ => false,
            },
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Str(s) => Value::String((*s).to_owned()),
            Val::Json(v) => (*v).clone(),
            Val::List(list) => Value::Array(list.items.iter().map(Val::to_json).collect()),
            Val::DateTime(d) => Value::String(d.to_string()),
            Val::Scope(scope) => serde_json::json!({
                "current": scope.current.to_json(),
                "accumulator": scope.accumulator.to_json(),
                "data": scope.data.to_json(),
            }),
        }
    }

    /// A short rendering for error messages.
    fn describe(&self) -> String {
        let text = self.to_json().to_string();
        match text.char_indices().nth(80) {
            Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or("")),
            None => text,
        }
    }
}

pub(crate) fn evaluate<'a, O: ReadObserver<'a>>(
    root: &'a Node,
    data: &'a Value,
    observer: &mut O,
) -> Result<Val<'a>, EvalError> {
    Evaluator { observer }.eval(root, &Val::from_json(data), 0)
}

fn error(at: &str, kind: EvalErrorKind) -> EvalError {
    EvalError {
        at: at.to_owned(),
        kind,
    }
}

struct Evaluator<'o, O> {
    observer: &'o mut O,
}

impl<'a, O: ReadObserver<'a>> Evaluator<'_, O> {
    /// `lambda_depth` counts enclosing `reduce` lambdas, to report reads relative to the top-level data.
    fn eval(
        &mut self,
        node: &'a Node,
        ctx: &Val<'a>,
        lambda_depth: usize,
    ) -> Result<Val<'a>, EvalError> {
        match node {
            Node::Bool(b) => Ok(Val::Bool(*b)),
            Node::Int(i) => Ok(Val::Int(*i)),
            Node::Str(s) => Ok(Val::Str(s)),
            Node::Array(items) => {
                let items = items
                    .iter()
                    .map(|item| self.eval(item, ctx, lambda_depth))
                    .collect::<Result<Vec<_>, _>>()?;
                let depth = 1 + items.iter().map(Val::depth).max().unwrap_or(0);
                if depth > MAX_DEPTH {
                    return Err(error("", EvalErrorKind::TooDeep));
                }
                Ok(Val::List(Rc::new(List { items, depth })))
            }
            Node::Var(path) => {
                if let Some(p) = path.relative_to_root(lambda_depth) {
                    self.observer.read(p);
                }
                Ok(ctx.lookup(path))
            }
            Node::If(nodes, at) => {
                let [guard, then, otherwise] = &**nodes;
                let guard = self.eval(guard, ctx, lambda_depth)?;
                match guard.truthiness() {
                    Truthiness::Truthy => self.eval(then, ctx, lambda_depth),
                    Truthiness::Falsy => self.eval(otherwise, ctx, lambda_depth),
                    Truthiness::Neither => Err(neither(at, "if", &guard)),
                }
            }
            Node::And(operands, at) => {
                let mut last = Val::Null;
                for operand in operands.iter() {
                    let value = self.eval(operand, ctx, lambda_depth)?;
                    match value.truthiness() {
                        Truthiness::Truthy => last = value,
                        Truthiness::Falsy => return Ok(value),
                        Truthiness::Neither => return Err(neither(at, "and", &value)),
                    }
                }
                Ok(last)
            }
            Node::Not(operand, at) => {
                let value = self.eval(operand, ctx, lambda_depth)?;
                match value.truthiness() {
                    Truthiness::Truthy => Ok(Val::Bool(false)),
                    Truthiness::Falsy => Ok(Val::Bool(true)),
                    Truthiness::Neither => Err(neither(at, "!", &value)),
                }
            }
            Node::StrictEquals(pair) => {
                let [left, right] = &**pair;
                let left = self.eval(left, ctx, lambda_depth)?;
                let right = self.eval(right, ctx, lambda_depth)?;
                Ok(Val::Bool(left.strict_equals(&right)))
            }
            Node::In(pair, at) => {
                let [needle, haystack] = &**pair;
                let needle = self.eval(needle, ctx, lambda_depth)?;
                let haystack = self.eval(haystack, ctx, lambda_depth)?;
                if matches!(haystack, Val::Null) {
                    return Ok(Val::Bool(false));
                }
                let len = haystack
                    .array_len()
                    .ok_or_else(|| error(at, EvalErrorKind::InNeedsArray))?;
                Ok(Val::Bool(
                    (0..len).any(|i| haystack.array_item(i).strict_equals(&needle)),
                ))
            }
            Node::Plus(pair, at) => {
                let [left, right] = &**pair;
                let left = self.eval(left, ctx, lambda_depth)?;
                let right = self.eval(right, ctx, lambda_depth)?;
                match (left, right) {
                    (Val::Int(a), Val::Int(b)) => a
                        .checked_add(b)
                        .map(Val::Int)
                        .ok_or_else(|| error(at, EvalErrorKind::IntegerOverflow)),
                    _ => Err(error(at, EvalErrorKind::NotIntegers { operator: "+" })),
                }
            }
            Node::Compare { op, operands, at } => {
                self.compare(*op, operands, at, ctx, lambda_depth)
            }
            Node::PlusTime {
                operand,
                amount,
                unit,
                at,
            } => {
                let value = self.eval(operand, ctx, lambda_depth)?;
                let Val::Str(text) = value else {
                    return Err(error(
                        at,
                        EvalErrorKind::NotAString {
                            operator: "plusTime",
                        },
                    ));
                };
                let start = CertDateTime::parse(text).ok_or_else(|| {
                    error(
                        at,
                        EvalErrorKind::InvalidDateTime {
                            operator: "plusTime",
                            value: text.to_owned(),
                        },
                    )
                })?;
                start
                    .plus(*amount, *unit)
                    .map(Val::DateTime)
                    .ok_or_else(|| error(at, EvalErrorKind::DateTimeOutOfRange))
            }
            Node::DccDateOfBirth(operand, at) => {
                let value = self.eval(operand, ctx, lambda_depth)?;
                let Val::Str(text) = value else {
                    return Err(error(
                        at,
                        EvalErrorKind::NotAString {
                            operator: "dccDateOfBirth",
                        },
                    ));
                };
                CertDateTime::parse_date_of_birth(text)
                    .map(Val::DateTime)
                    .ok_or_else(|| {
                        error(
                            at,
                            EvalErrorKind::InvalidDateTime {
                                operator: "dccDateOfBirth",
                                value: text.to_owned(),
                            },
                        )
                    })
            }
            Node::ExtractFromUvci { operand, index, at } => {
                match self.eval(operand, ctx, lambda_depth)? {
                    Val::Null => Ok(Val::Null),
                    Val::Str(uvci) => {
                        Ok(extract_from_uvci(uvci, *index).map_or(Val::Null, Val::Str))
                    }
                    _ => Err(error(
                        at,
                        EvalErrorKind::NotAString {
                            operator: "extractFromUVCI",
                        },
                    )),
                }
            }
            Node::Reduce(nodes, at) => {
                let [operand, lambda, initial] = &**nodes;
                let items = self.eval(operand, ctx, lambda_depth)?;
                let mut accumulator = self.eval(initial, ctx, lambda_depth)?;
                if matches!(items, Val::Null) {
                    return Ok(accumulator);
                }
                let len = items
                    .array_len()
                    .ok_or_else(|| error(at, EvalErrorKind::ReduceNeedsArray))?;
                for i in 0..len {
                    let current = items.array_item(i);
                    let depth = 1 + current.depth().max(accumulator.depth()).max(ctx.depth());
                    if depth > MAX_DEPTH {
                        return Err(error(at, EvalErrorKind::TooDeep));
                    }
                    let scope = Val::Scope(Rc::new(Scope {
                        current,
                        accumulator,
                        data: ctx.clone(),
                        depth,
                    }));
                    accumulator = self.eval(lambda, &scope, lambda_depth + 1)?;
                }
                Ok(accumulator)
            }
        }
    }

    fn compare(
        &mut self,
        op: Comparison,
        operands: &'a [Node],
        at: &str,
        ctx: &Val<'a>,
        lambda_depth: usize,
    ) -> Result<Val<'a>, EvalError> {
        // All operands are evaluated before comparing, as the reference implementation does.
        let mut values = [Val::Null, Val::Null, Val::Null];
        for (slot, operand) in values.iter_mut().zip(operands) {
            *slot = self.eval(operand, ctx, lambda_depth)?;
        }
        // Date-times compare by instant, integers by value: both as i64 keys.
        let mut keys = [0i64; 3];
        for (slot, value) in keys.iter_mut().zip(values.iter().take(operands.len())) {
            *slot = match (op.on_date_times(), value) {
                (true, Val::DateTime(d)) => d.unix_millis(),
                (false, Val::Int(i)) => *i,
                (true, _) => {
                    return Err(error(
                        at,
                        EvalErrorKind::NotDateTimes {
                            operator: op.operator(),
                        },
                    ))
                }
                (false, _) => {
                    return Err(error(
                        at,
                        EvalErrorKind::NotIntegers {
                            operator: op.operator(),
                        },
                    ))
                }
            };
        }
        let keys = keys.get(..operands.len()).unwrap_or(&[]);
        Ok(Val::Bool(
            keys.windows(2)
                .all(|w| matches!(w, [a, b] if op.holds(a, b))),
        ))
    }
}

fn neither(at: &str, operator: &'static str, value: &Val<'_>) -> EvalError {
    error(
        at,
        EvalErrorKind::NeitherTruthyNorFalsy {
            operator,
            value: value.describe(),
        },
    )
}

/// The fragment at `index` of a UCI split on `/`, `#` and `:`, after an
/// optional `URN:UVCI:` prefix.
fn extract_from_uvci(uvci: &str, index: i64) -> Option<&str> {
    let index = usize::try_from(index).ok()?;
    let fragments = uvci.strip_prefix("URN:UVCI:").unwrap_or(uvci);
    fragments.split(['/', '#', ':']).nth(index)
}
