//! A small CBOR (RFC 8949) reader and writer.
//!
//! The reader borrows from its input and never allocates for our own codes;
//! [`Value`] is the owned, generic form used for EU DCC payloads. Every read
//! is bounds-checked and nesting is limited, so no input can panic or recurse
//! without bound.

use std::fmt;

use thiserror::Error;

/// Deepest nesting accepted when decoding a generic [`Value`].
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CborError {
    #[error("CBOR ends early at byte {0}")]
    Truncated(usize),
    #[error("CBOR at byte {offset}: expected {expected}, found {found}")]
    UnexpectedType {
        offset: usize,
        expected: &'static str,
        found: &'static str,
    },
    #[error("CBOR at byte {0}: reserved additional-information value")]
    Reserved(usize),
    #[error("CBOR at byte {0}: indefinite length not allowed here")]
    Indefinite(usize),
    #[error("CBOR at byte {0}: text is not valid UTF-8")]
    BadUtf8(usize),
    #[error("CBOR nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("CBOR at byte {0}: integer out of range")]
    IntegerRange(usize),
    #[error("CBOR has {0} unexpected trailing bytes")]
    TrailingBytes(usize),
    #[error("CBOR at byte {0}: invalid simple value or break")]
    BadSimple(usize),
}

/// Major types, named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Major {
    Unsigned,
    Negative,
    Bytes,
    Text,
    Array,
    Map,
    Tag,
    Simple,
}

impl Major {
    fn from_bits(b: u8) -> Major {
        match b >> 5 {
            0 => Major::Unsigned,
            1 => Major::Negative,
            2 => Major::Bytes,
            3 => Major::Text,
            4 => Major::Array,
            5 => Major::Map,
            6 => Major::Tag,
            _ => Major::Simple,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Major::Unsigned => "unsigned integer",
            Major::Negative => "negative integer",
            Major::Bytes => "byte string",
            Major::Text => "text string",
            Major::Array => "array",
            Major::Map => "map",
            Major::Tag => "tag",
            Major::Simple => "simple value or float",
        }
    }
}

/// The head of a data item: its major type and argument. `None` argument
/// means indefinite length (or a break, for major type 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub major: Major,
    pub info: u8,
    pub arg: Option<u64>,
}

/// A cursor over CBOR bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Fails unless every byte has been consumed.
    pub fn finish(&self) -> Result<(), CborError> {
        match self.data.len().saturating_sub(self.pos) {
            0 => Ok(()),
            n => Err(CborError::TrailingBytes(n)),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(CborError::Truncated(self.pos))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or(CborError::Truncated(self.pos))?;
        self.pos += 1;
        Ok(b)
    }

    pub fn peek_major(&self) -> Result<Major, CborError> {
        self.data
            .get(self.pos)
            .map(|&b| Major::from_bits(b))
            .ok_or(CborError::Truncated(self.pos))
    }

    pub fn head(&mut self) -> Result<Head, CborError> {
        let start = self.pos;
        let first = self.byte()?;
        let major = Major::from_bits(first);
        let info = first & 0x1F;
        let arg = match info {
            0..=23 => Some(u64::from(info)),
            24 => Some(u64::from(self.byte()?)),
            25 => Some(u64::from(u16::from_be_bytes(fixed(self.take(2)?)))),
            26 => Some(u64::from(u32::from_be_bytes(fixed(self.take(4)?)))),
            27 => Some(u64::from_be_bytes(fixed(self.take(8)?))),
            31 => match major {
                Major::Bytes | Major::Text | Major::Array | Major::Map | Major::Simple => None,
                _ => return Err(CborError::Reserved(start)),
            },
            _ => return Err(CborError::Reserved(start)),
        };
        Ok(Head { major, info, arg })
    }

    fn expect(&mut self, expected: Major) -> Result<u64, CborError> {
        let offset = self.pos;
        let head = self.head()?;
        if head.major != expected {
            return Err(CborError::UnexpectedType {
                offset,
                expected: expected.name(),
                found: head.major.name(),
            });
        }
        head.arg.ok_or(CborError::Indefinite(offset))
    }

    pub fn array_len(&mut self) -> Result<u64, CborError> {
        self.expect(Major::Array)
    }

    pub fn map_len(&mut self) -> Result<u64, CborError> {
        self.expect(Major::Map)
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], CborError> {
        let n = self.expect(Major::Bytes)?;
        self.take(usize::try_from(n).map_err(|_| CborError::Truncated(self.pos))?)
    }

    pub fn text(&mut self) -> Result<&'a str, CborError> {
        let offset = self.pos;
        let n = self.expect(Major::Text)?;
        let raw = self.take(usize::try_from(n).map_err(|_| CborError::Truncated(self.pos))?)?;
        std::str::from_utf8(raw).map_err(|_| CborError::BadUtf8(offset))
    }

    pub fn unsigned(&mut self) -> Result<u64, CborError> {
        self.expect(Major::Unsigned)
    }

    /// Reads a signed integer (major type 0 or 1) that fits in `i64`.
    pub fn integer(&mut self) -> Result<i64, CborError> {
        let offset = self.pos;
        let head = self.head()?;
        let arg = head.arg.ok_or(CborError::Indefinite(offset))?;
        let n = i64::try_from(arg).map_err(|_| CborError::IntegerRange(offset))?;
        match head.major {
            Major::Unsigned => Ok(n),
            Major::Negative => Ok(-1 - n),
            found => Err(CborError::UnexpectedType {
                offset,
                expected: "integer",
                found: found.name(),
            }),
        }
    }

    /// Reads an optional tag; returns its number if one is present.
    pub fn tag(&mut self) -> Result<Option<u64>, CborError> {
        if self.peek_major()? == Major::Tag {
            let offset = self.pos;
            let head = self.head()?;
            return head.arg.map(Some).ok_or(CborError::Reserved(offset));
        }
        Ok(None)
    }

    /// Reads `true` or `false`.
    pub fn boolean(&mut self) -> Result<bool, CborError> {
        let offset = self.pos;
        match self.byte()? {
            0xF4 => Ok(false),
            0xF5 => Ok(true),
            b => Err(CborError::UnexpectedType {
                offset,
                expected: "boolean",
                found: Major::from_bits(b).name(),
            }),
        }
    }

    /// Skips one complete data item of any type.
    pub fn skip(&mut self) -> Result<(), CborError> {
        self.value(0).map(|_| ())
    }

    /// Decodes one complete item into an owned [`Value`].
    pub fn value(&mut self, depth: usize) -> Result<Value, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError::TooDeep);
        }
        let offset = self.pos;
        let head = self.head()?;
        Ok(match head.major {
            Major::Unsigned => Value::Unsigned(head.arg.ok_or(CborError::Reserved(offset))?),
            Major::Negative => Value::Negative(head.arg.ok_or(CborError::Reserved(offset))?),
            Major::Bytes => Value::Bytes(self.string_body(head, Major::Bytes)?),
            Major::Text => {
                let raw = self.string_body(head, Major::Text)?;
                Value::Text(String::from_utf8(raw).map_err(|_| CborError::BadUtf8(offset))?)
            }
            Major::Array => {
                let mut items = Vec::new();
                match head.arg {
                    Some(n) => {
                        for _ in 0..n {
                            items.push(self.value(depth + 1)?);
                        }
                    }
                    None => {
                        while !self.at_break()? {
                            items.push(self.value(depth + 1)?);
                        }
                    }
                }
                Value::Array(items)
            }
            Major::Map => {
                let mut entries = Vec::new();
                match head.arg {
                    Some(n) => {
                        for _ in 0..n {
                            let k = self.value(depth + 1)?;
                            let v = self.value(depth + 1)?;
                            entries.push((k, v));
                        }
                    }
                    None => {
                        while !self.at_break()? {
                            let k = self.value(depth + 1)?;
                            let v = self.value(depth + 1)?;
                            entries.push((k, v));
                        }
                    }
                }
                Value::Map(entries)
            }
            Major::Tag => {
                let tag = head.arg.ok_or(CborError::Reserved(offset))?;
                Value::Tag(tag, Box::new(self.value(depth + 1)?))
            }
            Major::Simple => match (head.info, head.arg) {
                (20, _) => Value::Bool(false),
                (21, _) => Value::Bool(true),
                (22, _) => Value::Null,
                (23, _) => Value::Undefined,
                (25, Some(bits)) => Value::Float(f16_to_f64(bits as u16)),
                (26, Some(bits)) => Value::Float(f64::from(f32::from_bits(bits as u32))),
                (27, Some(bits)) => Value::Float(f64::from_bits(bits)),
                (0..=19, Some(n)) => Value::Simple(n as u8),
                (24, Some(n)) if n >= 32 => Value::Simple(n as u8),
                _ => return Err(CborError::BadSimple(offset)),
            },
        })
    }

    /// True (and consumes it) if the next byte is a break (0xFF).
    fn at_break(&mut self) -> Result<bool, CborError> {
        match self.data.get(self.pos) {
            Some(0xFF) => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Err(CborError::Truncated(self.pos)),
        }
    }

    fn string_body(&mut self, head: Head, major: Major) -> Result<Vec<u8>, CborError> {
        match head.arg {
            Some(n) => {
                let n = usize::try_from(n).map_err(|_| CborError::Truncated(self.pos))?;
                Ok(self.take(n)?.to_vec())
            }
            None => {
                // Indefinite-length string: definite chunks of the same type.
                let mut out = Vec::new();
                while !self.at_break()? {
                    let offset = self.pos;
                    let chunk = self.head()?;
                    if chunk.major != major {
                        return Err(CborError::UnexpectedType {
                            offset,
                            expected: major.name(),
                            found: chunk.major.name(),
                        });
                    }
                    let n = chunk.arg.ok_or(CborError::Indefinite(offset))?;
                    let n = usize::try_from(n).map_err(|_| CborError::Truncated(self.pos))?;
                    out.extend_from_slice(self.take(n)?);
                }
                Ok(out)
            }
        }
    }
}

fn fixed<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&s[..N]);
    a
}

fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1F);
    let mant = f64::from(bits & 0x3FF);
    let magnitude = match exp {
        0 => mant * 2f64.powi(-24),
        31 if mant == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + mant / 1024.0) * 2f64.powi(exp - 15),
    };
    sign * magnitude
}

/// An owned CBOR data item.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Unsigned(u64),
    /// The negative integer `-1 - n`.
    Negative(u64),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Tag(u64, Box<Value>),
    Bool(bool),
    Null,
    Undefined,
    Float(f64),
    Simple(u8),
}

impl Value {
    /// Decodes exactly one item spanning all of `data`.
    pub fn decode(data: &[u8]) -> Result<Value, CborError> {
        let mut r = Reader::new(data);
        let v = r.value(0)?;
        r.finish()?;
        Ok(v)
    }

    /// Looks up an integer key in a map.
    pub fn map_get_int(&self, key: i64) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_i64() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Unsigned(n) => i64::try_from(n).ok(),
            Value::Negative(n) => i64::try_from(n).ok().map(|n| -1 - n),
            _ => None,
        }
    }

    /// Strips any tags around the value.
    pub fn untagged(&self) -> &Value {
        let mut v = self;
        while let Value::Tag(_, inner) = v {
            v = inner;
        }
        v
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unsigned(n) => write!(f, "{n}"),
            Value::Negative(n) => write!(f, "-{}", u128::from(*n) + 1),
            Value::Bytes(b) => write!(f, "h'{}'", hex::encode(b)),
            Value::Text(s) => write!(f, "{s:?}"),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            Value::Tag(t, v) => write!(f, "{t}({v})"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Null => f.write_str("null"),
            Value::Undefined => f.write_str("undefined"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Simple(n) => write!(f, "simple({n})"),
        }
    }
}

/// Writes the head of an item with the shortest argument encoding.
pub fn write_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    if arg < 24 {
        out.push(m | arg as u8);
    } else if arg <= 0xFF {
        out.extend_from_slice(&[m | 24, arg as u8]);
    } else if arg <= 0xFFFF {
        out.push(m | 25);
        out.extend_from_slice(&(arg as u16).to_be_bytes());
    } else if arg <= 0xFFFF_FFFF {
        out.push(m | 26);
        out.extend_from_slice(&(arg as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}

pub fn write_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        write_head(out, 0, n as u64);
    } else {
        write_head(out, 1, (-1 - n) as u64);
    }
}

pub fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

pub fn write_text(out: &mut Vec<u8>, s: &str) {
    write_head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub fn write_array(out: &mut Vec<u8>, len: usize) {
    write_head(out, 4, len as u64);
}

pub fn write_map(out: &mut Vec<u8>, len: usize) {
    write_head(out, 5, len as u64);
}

pub fn write_tag(out: &mut Vec<u8>, tag: u64) {
    write_head(out, 6, tag);
}

pub fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.push(if b { 0xF5 } else { 0xF4 });
}

impl Value {
    /// Encodes in canonical form (used by tests and tools, not hot paths).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Unsigned(n) => write_head(out, 0, *n),
            Value::Negative(n) => write_head(out, 1, *n),
            Value::Bytes(b) => write_bytes(out, b),
            Value::Text(s) => write_text(out, s),
            Value::Array(items) => {
                write_array(out, items.len());
                for v in items {
                    v.encode(out);
                }
            }
            Value::Map(entries) => {
                write_map(out, entries.len());
                for (k, v) in entries {
                    k.encode(out);
                    v.encode(out);
                }
            }
            Value::Tag(t, v) => {
                write_tag(out, *t);
                v.encode(out);
            }
            Value::Bool(b) => write_bool(out, *b),
            Value::Null => out.push(0xF6),
            Value::Undefined => out.push(0xF7),
            Value::Float(x) => {
                out.push(0xFB);
                out.extend_from_slice(&x.to_bits().to_be_bytes());
            }
            Value::Simple(n) if *n < 24 => out.push(0xE0 | n),
            Value::Simple(n) => out.extend_from_slice(&[0xF8, *n]),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc8949_appendix_a() {
        let cases: &[(&str, Value)] = &[
            ("00", Value::Unsigned(0)),
            ("1903e8", Value::Unsigned(1000)),
            ("1bffffffffffffffff", Value::Unsigned(u64::MAX)),
            ("3863", Value::Negative(99)),
            ("f93c00", Value::Float(1.0)),
            ("f97bff", Value::Float(65504.0)),
            ("fa47c35000", Value::Float(100000.0)),
            ("f4", Value::Bool(false)),
            ("f6", Value::Null),
            (
                "c074323031332d30332d32315432303a30343a30305a",
                Value::Tag(0, Box::new(Value::Text("2013-03-21T20:04:00Z".into()))),
            ),
            ("4401020304", Value::Bytes(vec![1, 2, 3, 4])),
            ("62c3bc", Value::Text("ü".into())),
            ("5f42010243030405ff", Value::Bytes(vec![1, 2, 3, 4, 5])),
            (
                "7f657374726561646d696e67ff",
                Value::Text("streaming".into()),
            ),
            (
                "9f018202039f0405ffff",
                Value::Array(vec![
                    Value::Unsigned(1),
                    Value::Array(vec![Value::Unsigned(2), Value::Unsigned(3)]),
                    Value::Array(vec![Value::Unsigned(4), Value::Unsigned(5)]),
                ]),
            ),
            (
                "bf61610161629f0203ffff",
                Value::Map(vec![
                    (Value::Text("a".into()), Value::Unsigned(1)),
                    (
                        Value::Text("b".into()),
                        Value::Array(vec![Value::Unsigned(2), Value::Unsigned(3)]),
                    ),
                ]),
            ),
        ];
        for (hex_in, expected) in cases {
            let bytes = hex::decode(hex_in).unwrap();
            assert_eq!(&Value::decode(&bytes).unwrap(), expected, "{hex_in}");
        }
    }

    #[test]
    fn errors_are_reported_not_panicked() {
        for bad in [
            "",
            "18",
            "5a00000010",
            "1c",
            "7f61",
            "9f",
            "62ff00",
            "ff",
            "f818",
        ] {
            let bytes = hex::decode(bad).unwrap();
            assert!(Value::decode(&bytes).is_err(), "{bad} should fail");
        }
        let deep = vec![0x81u8; 100];
        assert_eq!(Value::decode(&deep), Err(CborError::TooDeep));
        assert_eq!(Value::decode(&[0, 0]), Err(CborError::TrailingBytes(1)));
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<u64>().prop_map(Value::Unsigned),
            any::<u64>().prop_map(Value::Negative),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
            ".{0,20}".prop_map(Value::Text),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
            any::<f64>()
                .prop_filter("NaN breaks equality", |x| !x.is_nan())
                .prop_map(Value::Float),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::vec((inner.clone(), inner.clone()), 0..8)
                    .prop_map(Value::Map),
                (0u64..100_000, inner).prop_map(|(t, v)| Value::Tag(t, Box::new(v))),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trip(v in arb_value()) {
            let mut out = Vec::new();
            v.encode(&mut out);
            prop_assert_eq!(Value::decode(&out).unwrap(), v);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Value::decode(&data);
        }
    }
}
