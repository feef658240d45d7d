//! Terraform value codec: cty types and values, and their msgpack and JSON
//! wire encodings.
//!
//! Terraform exchanges configuration, plans and state with providers as
//! `DynamicValue { msgpack, json }` messages. Neither encoding is
//! self-describing: a value can only be decoded against the *type* taken from
//! the schema the provider reported. This module implements both encodings as
//! described in Terraform's `docs/plugin-protocol/object-wire-format.md`.
//!
//! # Types
//!
//! Types are cty type constraints ([`Type`]), serialized as compact JSON:
//! `"bool"`, `"number"`, `"string"`, `"dynamic"`, `["list", T]`, `["set", T]`,
//! `["map", T]`, `["object", {"attr": T, ...}]` (optionally followed by a third
//! element listing optional attributes, which is accepted and ignored) and
//! `["tuple", [T, ...]]`.
//!
//! # MessagePack
//!
//! * null is `nil`; an unknown value is any msgpack *extension* value. Code 0
//!   is a plain unknown, code 12 a "refined" unknown whose payload is a map of
//!   refinements (Terraform >= 1.6). Refinements are ignored: every extension
//!   decodes as [`Value::Unknown`], and unknowns are always written as
//!   `fixext1` code 0 with a single zero byte, as Terraform itself does.
//! * bool, string: the msgpack type of the same name (binary is accepted for
//!   strings on input).
//! * number: any msgpack integer or float, or a msgpack string holding a
//!   decimal number for values that do not fit either.
//! * list, set, tuple: arrays; map: a map with string keys; object: a map keyed
//!   by attribute name. When decoding, a missing attribute becomes null and an
//!   attribute not in the type is an error.
//! * dynamic: a 2-element array `[type JSON as binary, value]`; null and unknown
//!   may also appear directly. A decoded dynamic value is a [`Value::Dynamic`]
//!   carrying its concrete type.
//!
//! # JSON
//!
//! Natural JSON (numbers are JSON numbers, `dynamic` is
//! `{"value": ..., "type": ...}`), used for raw state in
//! `UpgradeResourceState`. JSON cannot represent unknown values, so
//! [`encode_json`] rejects them. Because raw state may have been written by an
//! older schema, JSON object decoding is lenient: missing attributes become
//! null, unknown extra attributes are dropped, and primitive values are
//! converted the way cty does it (e.g. a JSON string `"5"` is accepted for a
//! number).
//!
//! # Numbers
//!
//! Terraform numbers are arbitrary-precision decimals, so [`Number`] keeps the
//! exact decimal text in a canonical form instead of converting to `f64`:
//! equality of canonical text is numeric equality, and values such as
//! `123456789012345678901234567890.5` or 2^64 + 1 round-trip exactly. On the
//! wire a number is written as a msgpack integer when it is integral and fits
//! `i64`/`u64`, else as an `f64` when that float denotes exactly the same
//! decimal, else as a msgpack string.
//!
//! # Robustness
//!
//! Decoders are fed untrusted bytes. They never panic, never allocate based on
//! a claimed length larger than the remaining input, reject nesting deeper
//! than [`MAX_DEPTH`], and bound how much data they synthesize beyond the
//! input (nulls for missing attributes, digits of expanded exponents; see
//! [`EXPANSION_ALLOWANCE`]). Errors ([`CodecError`]) name the failing step and
//! the path inside the value, e.g. `.tags["env"]` or `.rules[3].port`.

// The codec is a complete API; not every helper is used by every caller.
#![allow(dead_code)]

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use rmp::Marker;

/// Maximum nesting depth of values (and of type constraints) the codec accepts.
pub const MAX_DEPTH: usize = 128;

/// Maximum absolute decimal exponent accepted by [`Number::parse`]; the
/// canonical form expands exponents into plain digits, so this bounds memory.
pub const MAX_EXPONENT: u64 = 10_000;

/// How much data (beyond the input's own size) a decoder may synthesize:
/// one unit per null filled in for a missing object attribute, one per digit
/// a number gains by exponent expansion. See [`CodecError::ExpansionLimit`].
pub const EXPANSION_ALLOWANCE: usize = 1 << 16;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// An error raised while parsing a type or encoding/decoding a value.
///
/// `path` fields locate the failure inside the value (`""` is the top-level
/// value, otherwise e.g. `.tags["x"]`, `.list[3]`).
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The input contained no value at all.
    #[error("cannot decode {format}: the input is empty")]
    EmptyInput { format: &'static str },
    /// The msgpack input ended in the middle of a value, or claims a length
    /// longer than the remaining input.
    #[error("msgpack input ended unexpectedly while reading {}", show_path(.path))]
    Truncated { path: String },
    /// Bytes were left over after the top-level msgpack value.
    #[error("msgpack input has {count} unexpected trailing byte(s) after the value")]
    TrailingBytes { count: usize },
    /// The encoded data (or a [`Value`] being encoded) does not fit the type.
    #[error("type mismatch at {}: expected {expected}, got {got}", show_path(.path))]
    TypeMismatch {
        path: String,
        expected: String,
        got: String,
    },
    /// A tuple has the wrong number of elements.
    #[error(
        "wrong number of tuple elements at {}: the type has {expected}, got {got}",
        show_path(.path)
    )]
    LengthMismatch {
        path: String,
        expected: usize,
        got: usize,
    },
    /// An object contains an attribute its type does not declare.
    #[error("unexpected attribute {name:?} at {}: the object type does not declare it", show_path(.path))]
    UnexpectedAttribute { path: String, name: String },
    /// A map key or object attribute occurs twice.
    #[error("duplicate key {key:?} at {}", show_path(.path))]
    DuplicateKey { path: String, key: String },
    /// A msgpack string is not valid UTF-8.
    #[error("invalid UTF-8 in string at {}", show_path(.path))]
    InvalidUtf8 { path: String },
    /// A type constraint is malformed.
    #[error("invalid type constraint: {0}")]
    InvalidType(String),
    /// The type constraint embedded in a dynamic value is malformed.
    #[error("invalid type constraint in dynamic value at {}: {reason}", show_path(.path))]
    InvalidDynamicType { path: String, reason: String },
    /// A number could not be parsed (see [`Number::parse`]).
    #[error("invalid number: {0}")]
    InvalidNumber(String),
    /// An encoded number is malformed (bad decimal text, NaN or infinity).
    #[error("invalid number at {}: {reason}", show_path(.path))]
    InvalidNumberAt { path: String, reason: String },
    /// Decoding would synthesize far more data than the input holds (missing
    /// attributes filled with null, number exponents expanded into digits).
    #[error(
        "decoding {} would expand the input far beyond its size \
         (numbers with huge exponents or many missing object attributes)",
        show_path(.path)
    )]
    ExpansionLimit { path: String },
    /// JSON has no representation for unknown values.
    #[error(
        "unknown value at {} cannot be encoded as JSON (only msgpack can carry unknown values)",
        show_path(.path)
    )]
    UnknownInJson { path: String },
    /// The value is nested deeper than [`MAX_DEPTH`].
    #[error("value at {} is nested more than {limit} levels deep", show_path(.path))]
    TooDeep { path: String, limit: usize },
    /// Writing msgpack output failed (only possible for absurdly large values).
    #[error("failed to write msgpack at {}: {source}", show_path(.path))]
    MsgpackWrite {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The input is not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

fn show_path(path: &str) -> &str {
    if path.is_empty() {
        "the top-level value"
    } else {
        path
    }
}

/// Shortens untrusted text quoted in error messages.
fn preview(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}...", s.get(..cut).unwrap_or(s)),
        None => format!("{s:?}"),
    }
}

/// A location inside a value, as a stack-allocated linked list from the leaf
/// up to the root. It is only rendered to a string when an error occurs.
#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Seg<'a>,
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    Root,
    Attr(&'a str),
    Key(&'a str),
    Index(usize),
}

impl<'a> Path<'a> {
    const ROOT: Path<'static> = Path {
        parent: None,
        seg: Seg::Root,
    };

    fn child(&'a self, seg: Seg<'a>) -> Path<'a> {
        Path {
            parent: Some(self),
            seg,
        }
    }

    fn attr(&'a self, name: &'a str) -> Path<'a> {
        self.child(Seg::Attr(name))
    }

    fn key(&'a self, key: &'a str) -> Path<'a> {
        self.child(Seg::Key(key))
    }

    fn index(&'a self, i: usize) -> Path<'a> {
        self.child(Seg::Index(i))
    }

    fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut cur = Some(self);
        while let Some(p) = cur {
            segs.push(p.seg);
            cur = p.parent;
        }
        let mut out = String::new();
        for seg in segs.iter().rev() {
            match seg {
                Seg::Root => {}
                Seg::Attr(name) => {
                    out.push('.');
                    out.push_str(name);
                }
                Seg::Key(key) => {
                    let _ = write!(out, "[{key:?}]");
                }
                Seg::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        out
    }
}

fn check_depth(depth: usize, path: &Path<'_>) -> Result<(), CodecError> {
    if depth > MAX_DEPTH {
        Err(CodecError::TooDeep {
            path: path.render(),
            limit: MAX_DEPTH,
        })
    } else {
        Ok(())
    }
}

/// Bounds the data a decoder synthesizes beyond what the input spells out, so
/// a small input cannot expand enormously (e.g. many empty maps decoded
/// against a dynamic object type declaring thousands of attributes, or many
/// `1e9999` numbers).
struct Budget(usize);

impl Budget {
    fn for_input(len: usize) -> Budget {
        Budget(len.saturating_add(EXPANSION_ALLOWANCE))
    }

    fn charge(&mut self, units: usize, path: &Path<'_>) -> Result<(), CodecError> {
        match self.0.checked_sub(units) {
            Some(rest) => {
                self.0 = rest;
                Ok(())
            }
            None => Err(CodecError::ExpansionLimit {
                path: path.render(),
            }),
        }
    }
}

/// Fills attributes missing from a decoded object with null.
fn fill_missing_attrs(
    entries: &mut BTreeMap<String, Value>,
    attrs: &BTreeMap<String, Type>,
    budget: &mut Budget,
    path: &Path<'_>,
) -> Result<(), CodecError> {
    for name in attrs.keys() {
        if !entries.contains_key(name) {
            budget.charge(1, path)?;
            entries.insert(name.clone(), Value::Null);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/// A cty type constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    Bool,
    Number,
    String,
    /// A type decided at runtime; values of it are [`Value::Dynamic`].
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
}

impl Type {
    /// `list(t)`.
    pub fn list(t: Type) -> Type {
        Type::List(Box::new(t))
    }

    /// `set(t)`.
    pub fn set(t: Type) -> Type {
        Type::Set(Box::new(t))
    }

    /// `map(t)`.
    pub fn map(t: Type) -> Type {
        Type::Map(Box::new(t))
    }

    /// `object({...})` from `(name, type)` pairs.
    pub fn object<I, S>(attrs: I) -> Type
    where
        I: IntoIterator<Item = (S, Type)>,
        S: Into<String>,
    {
        Type::Object(attrs.into_iter().map(|(k, t)| (k.into(), t)).collect())
    }

    /// `tuple([...])`.
    pub fn tuple(elems: Vec<Type>) -> Type {
        Type::Tuple(elems)
    }

    /// The cty JSON form of this type, e.g. `["list","string"]`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        let pair = |kind: &str, arg: J| J::Array(vec![J::String(kind.to_owned()), arg]);
        match self {
            Type::Bool => J::String("bool".into()),
            Type::Number => J::String("number".into()),
            Type::String => J::String("string".into()),
            Type::Dynamic => J::String("dynamic".into()),
            Type::List(t) => pair("list", t.to_json()),
            Type::Set(t) => pair("set", t.to_json()),
            Type::Map(t) => pair("map", t.to_json()),
            Type::Object(attrs) => pair(
                "object",
                J::Object(
                    attrs
                        .iter()
                        .map(|(k, t)| (k.clone(), t.to_json()))
                        .collect(),
                ),
            ),
            Type::Tuple(elems) => {
                pair("tuple", J::Array(elems.iter().map(Type::to_json).collect()))
            }
        }
    }

    /// The cty JSON form of this type, serialized.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }

    /// Parses a serialized cty type constraint.
    pub fn from_json(bytes: &[u8]) -> Result<Type, CodecError> {
        let v: serde_json::Value = serde_json::from_slice(bytes)?;
        Type::from_json_value(&v)
    }

    /// Parses a cty type constraint from JSON. An object type's optional third
    /// element (the list of optional attributes) is accepted and ignored.
    pub fn from_json_value(v: &serde_json::Value) -> Result<Type, CodecError> {
        parse_type(v, 0)
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Number => "number",
            Type::String => "string",
            Type::Dynamic => "dynamic",
            Type::List(_) => "list",
            Type::Set(_) => "set",
            Type::Map(_) => "map",
            Type::Object(_) => "object",
            Type::Tuple(_) => "tuple",
        }
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "JSON null",
        serde_json::Value::Bool(_) => "JSON boolean",
        serde_json::Value::Number(_) => "JSON number",
        serde_json::Value::String(_) => "JSON string",
        serde_json::Value::Array(_) => "JSON array",
        serde_json::Value::Object(_) => "JSON object",
    }
}

fn parse_type(v: &serde_json::Value, depth: usize) -> Result<Type, CodecError> {
    use serde_json::Value as J;
    let invalid = |msg: String| CodecError::InvalidType(msg);
    if depth > MAX_DEPTH {
        return Err(invalid(format!(
            "type constraint is nested more than {MAX_DEPTH} levels deep"
        )));
    }
    match v {
        J::String(s) => match s.as_str() {
            "bool" => Ok(Type::Bool),
            "number" => Ok(Type::Number),
            "string" => Ok(Type::String),
            "dynamic" => Ok(Type::Dynamic),
            other => Err(invalid(format!(
                "unknown primitive type {}",
                preview(other)
            ))),
        },
        J::Array(items) => {
            let (kind, args) = items
                .split_first()
                .ok_or_else(|| invalid("an empty array is not a type".into()))?;
            let kind = kind.as_str().ok_or_else(|| {
                invalid(format!(
                    "the type kind must be a JSON string, got {}",
                    json_kind(kind)
                ))
            })?;
            match (kind, args) {
                ("list", [t]) => Ok(Type::list(parse_type(t, depth + 1)?)),
                ("set", [t]) => Ok(Type::set(parse_type(t, depth + 1)?)),
                ("map", [t]) => Ok(Type::map(parse_type(t, depth + 1)?)),
                ("object", [attrs] | [attrs, _]) => {
                    let attrs = attrs.as_object().ok_or_else(|| {
                        invalid(format!(
                            "object attributes must be a JSON object, got {}",
                            json_kind(attrs)
                        ))
                    })?;
                    attrs
                        .iter()
                        .map(|(k, t)| Ok((k.clone(), parse_type(t, depth + 1)?)))
                        .collect::<Result<BTreeMap<_, _>, CodecError>>()
                        .map(Type::Object)
                }
                ("tuple", [elems]) => {
                    let elems = elems.as_array().ok_or_else(|| {
                        invalid(format!(
                            "tuple element types must be a JSON array, got {}",
                            json_kind(elems)
                        ))
                    })?;
                    elems
                        .iter()
                        .map(|t| parse_type(t, depth + 1))
                        .collect::<Result<Vec<_>, _>>()
                        .map(Type::Tuple)
                }
                ("list" | "set" | "map" | "tuple" | "object", _) => Err(invalid(format!(
                    "a {kind} type needs exactly one argument, got {}",
                    args.len()
                ))),
                (other, _) => Err(invalid(format!("unknown type kind {}", preview(other)))),
            }
        }
        other => Err(invalid(format!(
            "expected a JSON string or array, got {}",
            json_kind(other)
        ))),
    }
}

/// Formats the type in Terraform language syntax, e.g. `map(list(string))`.
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool | Type::Number | Type::String | Type::Dynamic => {
                f.write_str(self.kind_name())
            }
            Type::List(t) => write!(f, "list({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Object(attrs) => {
                f.write_str("object({")?;
                for (i, (name, t)) in attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{name}={t}")?;
                }
                f.write_str("})")
            }
            Type::Tuple(elems) => {
                f.write_str("tuple([")?;
                for (i, t) in elems.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

/// An arbitrary-precision decimal number, kept as canonical text so that
/// equality (and hashing) of the text is numeric equality.
///
/// Canonical form: optional `-`, integer digits without leading zeros (`0` if
/// the integer part is zero), then `.` and fractional digits without trailing
/// zeros if there is a fraction; no exponent; zero is `0`. So `1`, `1.0`,
/// `+1e0` and `10e-1` all canonicalise to `1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number(String);

impl Number {
    /// The number `i`.
    pub fn from_i64(i: i64) -> Number {
        Number(i.to_string())
    }

    /// The number `u`.
    pub fn from_u64(u: u64) -> Number {
        Number(u.to_string())
    }

    /// The exact shortest decimal that round-trips to `f`; `None` for NaN and
    /// infinities.
    pub fn from_f64(f: f64) -> Option<Number> {
        if !f.is_finite() {
            return None;
        }
        // `Display` for f64 prints the shortest round-tripping digits without
        // an exponent, which is always a valid decimal.
        Number::parse(&f.to_string()).ok()
    }

    /// Like [`Number::from_f64`], using the shortest digits for an `f32`.
    pub fn from_f32(f: f32) -> Option<Number> {
        if !f.is_finite() {
            return None;
        }
        Number::parse(&f.to_string()).ok()
    }

    /// Parses a decimal number: optional sign, digits with an optional
    /// fraction (at least one digit overall), optional exponent (`e`/`E`,
    /// optional sign, digits). No whitespace, hex, NaN or infinity. The
    /// exponent must not exceed [`MAX_EXPONENT`] in magnitude.
    pub fn parse(s: &str) -> Result<Number, CodecError> {
        let err = |reason: &str| CodecError::InvalidNumber(format!("{} {reason}", preview(s)));
        let b = s.as_bytes();
        let is_digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        let mut i = 0;
        let negative = match b.first() {
            Some(b'-') => {
                i = 1;
                true
            }
            Some(b'+') => {
                i = 1;
                false
            }
            _ => false,
        };
        let int_start = i;
        while is_digit(i) {
            i += 1;
        }
        let int_digits = b.get(int_start..i).unwrap_or_default();
        let mut frac_digits: &[u8] = &[];
        if b.get(i) == Some(&b'.') {
            i += 1;
            let frac_start = i;
            while is_digit(i) {
                i += 1;
            }
            frac_digits = b.get(frac_start..i).unwrap_or_default();
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(err("is not a decimal number (no digits)"));
        }
        let mut exponent: i64 = 0;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            let exp_negative = match b.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let exp_start = i;
            let limit = MAX_EXPONENT as i64;
            while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
                // Saturate just above the limit so huge exponents cannot overflow.
                exponent = (exponent * 10 + i64::from(d - b'0')).min(limit + 1);
                i += 1;
            }
            if i == exp_start {
                return Err(err("has an exponent without digits"));
            }
            if exponent > limit {
                return Err(err(&format!(
                    "has an exponent larger than {MAX_EXPONENT} in magnitude"
                )));
            }
            if exp_negative {
                exponent = -exponent;
            }
        }
        if i != b.len() {
            return Err(err("is not a decimal number"));
        }
        Ok(Number(canonical_decimal(
            negative,
            int_digits,
            frac_digits,
            exponent,
        )))
    }

    /// The value as `i64`, if it is integral and in range.
    pub fn as_i64(&self) -> Option<i64> {
        if self.is_integer() {
            self.0.parse().ok()
        } else {
            None
        }
    }

    /// The value as `u64`, if it is integral and in range.
    pub fn as_u64(&self) -> Option<u64> {
        if self.is_integer() {
            self.0.parse().ok()
        } else {
            None
        }
    }

    /// The nearest `f64` (possibly rounded); `None` if out of `f64` range.
    pub fn as_f64(&self) -> Option<f64> {
        self.0.parse::<f64>().ok().filter(|f| f.is_finite())
    }

    /// Whether the number has no fractional part.
    pub fn is_integer(&self) -> bool {
        !self.0.contains('.')
    }

    /// The canonical decimal text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Serializes as a msgpack int, exact f64, or decimal string (see the
    /// module documentation).
    fn write_msgpack(&self, out: &mut Vec<u8>, path: &Path<'_>) -> Result<(), CodecError> {
        if let Some(i) = self.as_i64() {
            rmp::encode::write_sint(out, i).map_err(|e| write_err(path, e))?;
        } else if let Some(u) = self.as_u64() {
            rmp::encode::write_uint(out, u).map_err(|e| write_err(path, e))?;
        } else if let Some(f) = self
            .as_f64()
            .filter(|f| Number::from_f64(*f).as_ref() == Some(self))
        {
            rmp::encode::write_f64(out, f).map_err(|e| write_err(path, e))?;
        } else {
            write_msgpack_str(out, &self.0, path)?;
        }
        Ok(())
    }
}

/// Builds the canonical text of `±0.<int_digits><frac_digits> × 10^(len(int_digits)+exponent)`.
fn canonical_decimal(
    negative: bool,
    int_digits: &[u8],
    frac_digits: &[u8],
    exponent: i64,
) -> String {
    let digits: Vec<u8> = int_digits.iter().chain(frac_digits).copied().collect();
    let leading = digits.iter().take_while(|&&d| d == b'0').count();
    let trailing = digits.iter().rev().take_while(|&&d| d == b'0').count();
    let significant = digits
        .get(leading..digits.len().saturating_sub(trailing).max(leading))
        .unwrap_or_default();
    if significant.is_empty() {
        return "0".to_owned();
    }
    // Position of the decimal point relative to the first significant digit.
    let point = int_digits.len() as i64 + exponent - leading as i64;
    let push_zeros = |out: &mut String, n: u64| out.extend((0..n).map(|_| '0'));
    let mut out = String::with_capacity(significant.len() + point.unsigned_abs() as usize + 3);
    if negative {
        out.push('-');
    }
    if point <= 0 {
        out.push_str("0.");
        push_zeros(&mut out, point.unsigned_abs());
        out.extend(significant.iter().map(|&d| char::from(d)));
    } else {
        let p = point as usize;
        if p >= significant.len() {
            out.extend(significant.iter().map(|&d| char::from(d)));
            push_zeros(&mut out, (p - significant.len()) as u64);
        } else {
            let (int, frac) = significant.split_at(p);
            out.extend(int.iter().map(|&d| char::from(d)));
            out.push('.');
            out.extend(frac.iter().map(|&d| char::from(d)));
        }
    }
    out
}

/// Compares magnitudes of two canonical, unsigned decimals.
fn cmp_magnitude(a: &str, b: &str) -> Ordering {
    let (a_int, a_frac) = a.split_once('.').unwrap_or((a, ""));
    let (b_int, b_frac) = b.split_once('.').unwrap_or((b, ""));
    a_int
        .len()
        .cmp(&b_int.len())
        .then_with(|| a_int.cmp(b_int))
        .then_with(|| a_frac.cmp(b_frac))
}

/// Numeric ordering.
impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let a = self.0.strip_prefix('-');
        let b = other.0.strip_prefix('-');
        match (a, b) {
            (None, None) => cmp_magnitude(&self.0, &other.0),
            (Some(a), Some(b)) => cmp_magnitude(b, a),
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Number {
    type Err = CodecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Number::parse(s)
    }
}

impl From<i64> for Number {
    fn from(i: i64) -> Self {
        Number::from_i64(i)
    }
}

impl From<u64> for Number {
    fn from(u: u64) -> Self {
        Number::from_u64(u)
    }
}

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

/// A Terraform value. Its type is not stored (except for [`Value::Dynamic`]);
/// values are encoded and decoded against a [`Type`] from the schema.
///
/// Null and unknown values are untyped here: a null value of any type is
/// [`Value::Null`], an entirely unknown one is [`Value::Unknown`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Unknown,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    /// Set elements in wire order (duplicates are not removed).
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
    Tuple(Vec<Value>),
    /// A value whose schema type is `dynamic`: it carries its concrete type.
    Dynamic(Type, Box<Value>),
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// An integer number value.
    pub fn int(i: i64) -> Value {
        Value::Number(Number::from_i64(i))
    }

    /// A number value.
    pub fn number(n: Number) -> Value {
        Value::Number(n)
    }

    /// A bool value.
    pub fn bool(b: bool) -> Value {
        Value::Bool(b)
    }

    /// An object of the given type with every attribute null (for a
    /// [`Type::Object`]); [`Value::Null`] for any other type.
    pub fn null_object(ty: &Type) -> Value {
        match ty {
            Type::Object(attrs) => Value::Object(
                attrs
                    .keys()
                    .map(|name| (name.clone(), Value::Null))
                    .collect(),
            ),
            _ => Value::Null,
        }
    }

    /// Whether this is [`Value::Null`] (a dynamic wrapper around null counts).
    pub fn is_null(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Dynamic(_, v) => v.is_null(),
            _ => false,
        }
    }

    /// Whether this is [`Value::Unknown`] (a dynamic wrapper around unknown counts).
    pub fn is_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::Dynamic(_, v) => v.is_unknown(),
            _ => false,
        }
    }

    /// Whether no unknown value occurs anywhere inside.
    pub fn is_fully_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => true,
            Value::List(vs) | Value::Set(vs) | Value::Tuple(vs) => {
                vs.iter().all(Value::is_fully_known)
            }
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_fully_known),
            Value::Dynamic(_, v) => v.is_fully_known(),
        }
    }

    /// The attribute `attr` of an object (looking through a dynamic wrapper);
    /// `None` if this is not an object or has no such attribute.
    pub fn get(&self, attr: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.get(attr),
            Value::Dynamic(_, v) => v.get(attr),
            _ => None,
        }
    }

    /// Mutable access to an object attribute, like [`Value::get`].
    pub fn get_mut(&mut self, attr: &str) -> Option<&mut Value> {
        match self {
            Value::Object(m) => m.get_mut(attr),
            Value::Dynamic(_, v) => v.get_mut(attr),
            _ => None,
        }
    }

    /// Sets (or adds) an object attribute; does nothing if this is not an object.
    pub fn set_attr(&mut self, attr: &str, v: Value) {
        match self {
            Value::Object(m) => {
                m.insert(attr.to_owned(), v);
            }
            Value::Dynamic(_, inner) => inner.set_attr(attr, v),
            _ => {}
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Dynamic(_, v) => v.as_str(),
            _ => None,
        }
    }

    /// The bool, if this is a bool.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Dynamic(_, v) => v.as_bool(),
            _ => None,
        }
    }

    /// The number, if this is a number.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            Value::Dynamic(_, v) => v.as_number(),
            _ => None,
        }
    }

    /// The number as `i64`, if this is an integral number in range.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    /// The elements of a list, set or tuple.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(vs) | Value::Set(vs) | Value::Tuple(vs) => Some(vs),
            Value::Dynamic(_, v) => v.as_list(),
            _ => None,
        }
    }

    /// The entries of a map or the attributes of an object.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) | Value::Object(m) => Some(m),
            Value::Dynamic(_, v) => v.as_map(),
            _ => None,
        }
    }

    /// A short description of the value's kind, for error messages.
    fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Unknown => "unknown",
            Value::Bool(_) => "a bool value",
            Value::Number(_) => "a number value",
            Value::String(_) => "a string value",
            Value::List(_) => "a list value",
            Value::Set(_) => "a set value",
            Value::Map(_) => "a map value",
            Value::Object(_) => "an object value",
            Value::Tuple(_) => "a tuple value",
            Value::Dynamic(..) => "a dynamic value",
        }
    }
}

fn value_mismatch(path: &Path<'_>, ty: &Type, v: &Value) -> CodecError {
    CodecError::TypeMismatch {
        path: path.render(),
        expected: ty.to_string(),
        got: v.kind_name().to_owned(),
    }
}

// ---------------------------------------------------------------------------
// MessagePack decoding
// ---------------------------------------------------------------------------

/// Decodes a msgpack-encoded value of type `ty`. Empty input is an error (a
/// caller treating an empty `DynamicValue` as null must do so itself), as are
/// trailing bytes.
pub fn decode_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    if bytes.is_empty() {
        return Err(CodecError::EmptyInput { format: "msgpack" });
    }
    let mut dec = MsgpackDecoder {
        input: bytes,
        pos: 0,
        budget: Budget::for_input(bytes.len()),
    };
    let value = dec.decode(ty, &Path::ROOT, 0)?;
    match bytes.len().saturating_sub(dec.pos) {
        0 => Ok(value),
        count => Err(CodecError::TrailingBytes { count }),
    }
}

/// One msgpack item header, with scalar payloads already read.
enum Head<'a> {
    Nil,
    Bool(bool),
    Uint(u64),
    Int(i64),
    F32(f32),
    F64(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    /// Element count, already checked against the remaining input.
    Array(usize),
    /// Entry count, already checked against the remaining input.
    Map(usize),
    /// An extension value (its payload is skipped): an unknown value.
    Ext(i8),
    Reserved,
}

impl Head<'_> {
    fn describe(&self) -> String {
        match self {
            Head::Nil => "msgpack nil".into(),
            Head::Bool(_) => "msgpack boolean".into(),
            Head::Uint(_) | Head::Int(_) => "msgpack integer".into(),
            Head::F32(_) | Head::F64(_) => "msgpack float".into(),
            Head::Str(_) => "msgpack string".into(),
            Head::Bin(_) => "msgpack binary".into(),
            Head::Array(n) => format!("msgpack array of {n} element(s)"),
            Head::Map(1) => "msgpack map of 1 entry".into(),
            Head::Map(n) => format!("msgpack map of {n} entries"),
            Head::Ext(code) => format!("msgpack extension type {code}"),
            Head::Reserved => "the reserved msgpack byte 0xc1".into(),
        }
    }
}

struct MsgpackDecoder<'a> {
    input: &'a [u8],
    pos: usize,
    budget: Budget,
}

fn truncated(path: &Path<'_>) -> CodecError {
    CodecError::Truncated {
        path: path.render(),
    }
}

fn head_mismatch(path: &Path<'_>, expected: impl Into<String>, got: &Head<'_>) -> CodecError {
    CodecError::TypeMismatch {
        path: path.render(),
        expected: expected.into(),
        got: got.describe(),
    }
}

fn utf8<'a>(bytes: &'a [u8], path: &Path<'_>) -> Result<&'a str, CodecError> {
    std::str::from_utf8(bytes).map_err(|_| CodecError::InvalidUtf8 {
        path: path.render(),
    })
}

impl<'a> MsgpackDecoder<'a> {
    fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize, path: &Path<'_>) -> Result<&'a [u8], CodecError> {
        let end = self.pos.checked_add(n).ok_or_else(|| truncated(path))?;
        let bytes = self
            .input
            .get(self.pos..end)
            .ok_or_else(|| truncated(path))?;
        self.pos = end;
        Ok(bytes)
    }

    /// Reads an `n`-byte big-endian unsigned integer (`n <= 8`).
    fn be(&mut self, n: usize, path: &Path<'_>) -> Result<u64, CodecError> {
        Ok(self
            .take(n, path)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn be_len(&mut self, n: usize, path: &Path<'_>) -> Result<usize, CodecError> {
        let len = self.be(n, path)?;
        usize::try_from(len).map_err(|_| truncated(path))
    }

    fn bytes(&mut self, len_bytes: usize, path: &Path<'_>) -> Result<&'a [u8], CodecError> {
        let len = self.be_len(len_bytes, path)?;
        self.take(len, path)
    }

    fn array(&self, n: usize, path: &Path<'_>) -> Result<Head<'a>, CodecError> {
        // Every element takes at least one byte.
        if n > self.remaining() {
            return Err(truncated(path));
        }
        Ok(Head::Array(n))
    }

    fn map(&self, n: usize, path: &Path<'_>) -> Result<Head<'a>, CodecError> {
        // Every entry takes at least two bytes.
        if n.saturating_mul(2) > self.remaining() {
            return Err(truncated(path));
        }
        Ok(Head::Map(n))
    }

    fn ext(&mut self, len: usize, path: &Path<'_>) -> Result<Head<'a>, CodecError> {
        let code = self.be(1, path)? as u8 as i8;
        self.take(len, path)?;
        Ok(Head::Ext(code))
    }

    fn read_head(&mut self, path: &Path<'_>) -> Result<Head<'a>, CodecError> {
        let marker = Marker::from_u8(self.be(1, path)? as u8);
        Ok(match marker {
            Marker::FixPos(v) => Head::Uint(u64::from(v)),
            Marker::FixNeg(v) => Head::Int(i64::from(v)),
            Marker::Null => Head::Nil,
            Marker::True => Head::Bool(true),
            Marker::False => Head::Bool(false),
            Marker::U8 => Head::Uint(self.be(1, path)?),
            Marker::U16 => Head::Uint(self.be(2, path)?),
            Marker::U32 => Head::Uint(self.be(4, path)?),
            Marker::U64 => Head::Uint(self.be(8, path)?),
            Marker::I8 => Head::Int(i64::from(self.be(1, path)? as u8 as i8)),
            Marker::I16 => Head::Int(i64::from(self.be(2, path)? as u16 as i16)),
            Marker::I32 => Head::Int(i64::from(self.be(4, path)? as u32 as i32)),
            Marker::I64 => Head::Int(self.be(8, path)? as i64),
            Marker::F32 => Head::F32(f32::from_bits(self.be(4, path)? as u32)),
            Marker::F64 => Head::F64(f64::from_bits(self.be(8, path)?)),
            Marker::FixStr(n) => Head::Str(self.take(usize::from(n), path)?),
            Marker::Str8 => Head::Str(self.bytes(1, path)?),
            Marker::Str16 => Head::Str(self.bytes(2, path)?),
            Marker::Str32 => Head::Str(self.bytes(4, path)?),
            Marker::Bin8 => Head::Bin(self.bytes(1, path)?),
            Marker::Bin16 => Head::Bin(self.bytes(2, path)?),
            Marker::Bin32 => Head::Bin(self.bytes(4, path)?),
            Marker::FixArray(n) => self.array(usize::from(n), path)?,
            Marker::Array16 => {
                let n = self.be_len(2, path)?;
                self.array(n, path)?
            }
            Marker::Array32 => {
                let n = self.be_len(4, path)?;
                self.array(n, path)?
            }
            Marker::FixMap(n) => self.map(usize::from(n), path)?,
            Marker::Map16 => {
                let n = self.be_len(2, path)?;
                self.map(n, path)?
            }
            Marker::Map32 => {
                let n = self.be_len(4, path)?;
                self.map(n, path)?
            }
            Marker::FixExt1 => self.ext(1, path)?,
            Marker::FixExt2 => self.ext(2, path)?,
            Marker::FixExt4 => self.ext(4, path)?,
            Marker::FixExt8 => self.ext(8, path)?,
            Marker::FixExt16 => self.ext(16, path)?,
            Marker::Ext8 => {
                let n = self.be_len(1, path)?;
                self.ext(n, path)?
            }
            Marker::Ext16 => {
                let n = self.be_len(2, path)?;
                self.ext(n, path)?
            }
            Marker::Ext32 => {
                let n = self.be_len(4, path)?;
                self.ext(n, path)?
            }
            Marker::Reserved => Head::Reserved,
        })
    }

    /// Reads a map key (a msgpack string; binary is tolerated).
    fn read_key(&mut self, path: &Path<'_>) -> Result<&'a str, CodecError> {
        match self.read_head(path)? {
            Head::Str(b) | Head::Bin(b) => utf8(b, path),
            other => Err(head_mismatch(path, "a string map key", &other)),
        }
    }

    fn decode(&mut self, ty: &Type, path: &Path<'_>, depth: usize) -> Result<Value, CodecError> {
        check_depth(depth, path)?;
        let start = self.pos;
        let head = self.read_head(path)?;
        match head {
            Head::Nil => return Ok(Value::Null),
            // Any extension is an unknown value; refinements (code 12) are ignored.
            Head::Ext(_) => return Ok(Value::Unknown),
            _ => {}
        }
        match ty {
            Type::Bool => match head {
                Head::Bool(b) => Ok(Value::Bool(b)),
                other => Err(head_mismatch(path, "bool", &other)),
            },
            Type::Number => {
                let non_finite = || CodecError::InvalidNumberAt {
                    path: path.render(),
                    reason: "NaN and infinity are not Terraform numbers".into(),
                };
                let n = match head {
                    Head::Uint(u) => Number::from_u64(u),
                    Head::Int(i) => Number::from_i64(i),
                    Head::F32(f) => Number::from_f32(f).ok_or_else(non_finite)?,
                    Head::F64(f) => Number::from_f64(f).ok_or_else(non_finite)?,
                    Head::Str(b) => {
                        Number::parse(utf8(b, path)?).map_err(|e| CodecError::InvalidNumberAt {
                            path: path.render(),
                            reason: match e {
                                CodecError::InvalidNumber(reason) => reason,
                                other => other.to_string(),
                            },
                        })?
                    }
                    other => return Err(head_mismatch(path, "number", &other)),
                };
                let encoded_len = self.pos.saturating_sub(start);
                self.budget
                    .charge(n.as_str().len().saturating_sub(encoded_len), path)?;
                Ok(Value::Number(n))
            }
            Type::String => match head {
                Head::Str(b) | Head::Bin(b) => Ok(Value::String(utf8(b, path)?.to_owned())),
                other => Err(head_mismatch(path, "string", &other)),
            },
            Type::List(elem) | Type::Set(elem) => {
                let Head::Array(n) = head else {
                    return Err(head_mismatch(path, ty.to_string(), &head));
                };
                let mut items = Vec::with_capacity(n);
                for i in 0..n {
                    items.push(self.decode(elem, &path.index(i), depth + 1)?);
                }
                Ok(match ty {
                    Type::Set(_) => Value::Set(items),
                    _ => Value::List(items),
                })
            }
            Type::Tuple(elems) => {
                let Head::Array(n) = head else {
                    return Err(head_mismatch(path, ty.to_string(), &head));
                };
                if n != elems.len() {
                    return Err(CodecError::LengthMismatch {
                        path: path.render(),
                        expected: elems.len(),
                        got: n,
                    });
                }
                let mut items = Vec::with_capacity(n);
                for (i, elem) in elems.iter().enumerate() {
                    items.push(self.decode(elem, &path.index(i), depth + 1)?);
                }
                Ok(Value::Tuple(items))
            }
            Type::Map(elem) => {
                let Head::Map(n) = head else {
                    return Err(head_mismatch(path, ty.to_string(), &head));
                };
                let mut entries = BTreeMap::new();
                for _ in 0..n {
                    let key = self.read_key(path)?;
                    let value = self.decode(elem, &path.key(key), depth + 1)?;
                    if entries.insert(key.to_owned(), value).is_some() {
                        return Err(CodecError::DuplicateKey {
                            path: path.render(),
                            key: key.to_owned(),
                        });
                    }
                }
                Ok(Value::Map(entries))
            }
            Type::Object(attrs) => {
                let Head::Map(n) = head else {
                    return Err(head_mismatch(path, ty.to_string(), &head));
                };
                let mut entries = BTreeMap::new();
                for _ in 0..n {
                    let key = self.read_key(path)?;
                    let Some(attr_ty) = attrs.get(key) else {
                        return Err(CodecError::UnexpectedAttribute {
                            path: path.render(),
                            name: key.to_owned(),
                        });
                    };
                    let value = self.decode(attr_ty, &path.attr(key), depth + 1)?;
                    if entries.insert(key.to_owned(), value).is_some() {
                        return Err(CodecError::DuplicateKey {
                            path: path.render(),
                            key: key.to_owned(),
                        });
                    }
                }
                // Be lenient: attributes missing from the encoding are null.
                fill_missing_attrs(&mut entries, attrs, &mut self.budget, path)?;
                Ok(Value::Object(entries))
            }
            Type::Dynamic => {
                let expected = "a dynamic value (a 2-element msgpack array [type, value])";
                match head {
                    Head::Array(2) => {}
                    other => return Err(head_mismatch(path, expected, &other)),
                }
                let type_json = match self.read_head(path)? {
                    Head::Str(b) | Head::Bin(b) => b,
                    other => {
                        return Err(head_mismatch(
                            path,
                            "the JSON type constraint of a dynamic value",
                            &other,
                        ))
                    }
                };
                let concrete =
                    Type::from_json(type_json).map_err(|e| CodecError::InvalidDynamicType {
                        path: path.render(),
                        reason: e.to_string(),
                    })?;
                let value = self.decode(&concrete, path, depth + 1)?;
                Ok(Value::Dynamic(concrete, Box::new(value)))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// MessagePack encoding
// ---------------------------------------------------------------------------

/// Encodes `value` as msgpack according to `ty`. A value that does not fit
/// the type is a [`CodecError::TypeMismatch`]; list, set and tuple values are
/// interchangeable (all are arrays), as are map and object values. Under
/// `dynamic`, only `Null`, `Unknown` and [`Value::Dynamic`] are accepted.
pub fn encode_msgpack(value: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_msgpack_into(&mut out, value, ty, &Path::ROOT, 0)?;
    Ok(out)
}

fn write_err(path: &Path<'_>, e: impl Into<std::io::Error>) -> CodecError {
    CodecError::MsgpackWrite {
        path: path.render(),
        source: e.into(),
    }
}

fn len_u32(len: usize, path: &Path<'_>) -> Result<u32, CodecError> {
    u32::try_from(len).map_err(|_| {
        write_err(
            path,
            std::io::Error::other(format!("length {len} exceeds the msgpack limit of 2^32-1")),
        )
    })
}

fn write_msgpack_str(out: &mut Vec<u8>, s: &str, path: &Path<'_>) -> Result<(), CodecError> {
    let len = len_u32(s.len(), path)?;
    rmp::encode::write_str_len(out, len).map_err(|e| write_err(path, e))?;
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn encode_msgpack_into(
    out: &mut Vec<u8>,
    value: &Value,
    ty: &Type,
    path: &Path<'_>,
    depth: usize,
) -> Result<(), CodecError> {
    check_depth(depth, path)?;
    match (value, ty) {
        (Value::Null, _) => rmp::encode::write_nil(out).map_err(|e| write_err(path, e)),
        (Value::Unknown, _) => {
            // fixext1, extension code 0, one zero byte: what Terraform writes.
            rmp::encode::write_ext_meta(out, 1, 0).map_err(|e| write_err(path, e))?;
            out.push(0);
            Ok(())
        }
        (Value::Bool(b), Type::Bool) => {
            rmp::encode::write_bool(out, *b).map_err(|e| write_err(path, e))
        }
        (Value::Number(n), Type::Number) => n.write_msgpack(out, path),
        (Value::String(s), Type::String) => write_msgpack_str(out, s, path),
        (
            Value::List(items) | Value::Set(items) | Value::Tuple(items),
            Type::List(elem) | Type::Set(elem),
        ) => {
            rmp::encode::write_array_len(out, len_u32(items.len(), path)?)
                .map_err(|e| write_err(path, e))?;
            for (i, item) in items.iter().enumerate() {
                encode_msgpack_into(out, item, elem, &path.index(i), depth + 1)?;
            }
            Ok(())
        }
        (Value::List(items) | Value::Set(items) | Value::Tuple(items), Type::Tuple(elems)) => {
            if items.len() != elems.len() {
                return Err(CodecError::LengthMismatch {
                    path: path.render(),
                    expected: elems.len(),
                    got: items.len(),
                });
            }
            rmp::encode::write_array_len(out, len_u32(items.len(), path)?)
                .map_err(|e| write_err(path, e))?;
            for (i, (item, elem)) in items.iter().zip(elems).enumerate() {
                encode_msgpack_into(out, item, elem, &path.index(i), depth + 1)?;
            }
            Ok(())
        }
        (Value::Map(entries) | Value::Object(entries), Type::Map(elem)) => {
            rmp::encode::write_map_len(out, len_u32(entries.len(), path)?)
                .map_err(|e| write_err(path, e))?;
            for (key, item) in entries {
                let item_path = path.key(key);
                write_msgpack_str(out, key, &item_path)?;
                encode_msgpack_into(out, item, elem, &item_path, depth + 1)?;
            }
            Ok(())
        }
        (Value::Map(entries) | Value::Object(entries), Type::Object(attrs)) => {
            check_no_extra_attrs(entries, attrs, path)?;
            rmp::encode::write_map_len(out, len_u32(attrs.len(), path)?)
                .map_err(|e| write_err(path, e))?;
            for (name, attr_ty) in attrs {
                let item_path = path.attr(name);
                write_msgpack_str(out, name, &item_path)?;
                // The wire format wants every attribute; absent ones are null.
                let item = entries.get(name).unwrap_or(&Value::Null);
                encode_msgpack_into(out, item, attr_ty, &item_path, depth + 1)?;
            }
            Ok(())
        }
        (Value::Dynamic(concrete, inner), Type::Dynamic) => {
            rmp::encode::write_array_len(out, 2).map_err(|e| write_err(path, e))?;
            let type_json = concrete.to_json_bytes();
            rmp::encode::write_bin_len(out, len_u32(type_json.len(), path)?)
                .map_err(|e| write_err(path, e))?;
            out.extend_from_slice(&type_json);
            encode_msgpack_into(out, inner, concrete, path, depth + 1)
        }
        (value, ty) => Err(value_mismatch(path, ty, value)),
    }
}

fn check_no_extra_attrs(
    entries: &BTreeMap<String, Value>,
    attrs: &BTreeMap<String, Type>,
    path: &Path<'_>,
) -> Result<(), CodecError> {
    match entries.keys().find(|k| !attrs.contains_key(*k)) {
        Some(name) => Err(CodecError::UnexpectedAttribute {
            path: path.render(),
            name: name.clone(),
        }),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------

/// Decodes a JSON-encoded value of type `ty`. Objects are lenient: missing
/// attributes are null and attributes not in the type are ignored.
pub fn decode_json(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(CodecError::EmptyInput { format: "JSON" });
    }
    // serde_json limits nesting to 128 levels while parsing.
    let json: serde_json::Value = serde_json::from_slice(bytes)?;
    let mut budget = Budget::for_input(bytes.len());
    value_from_json(&json, ty, &Path::ROOT, 0, &mut budget)
}

/// Encodes `value` as JSON according to `ty` (same conformance rules as
/// [`encode_msgpack`]). Unknown values are an error.
pub fn encode_json(value: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let json = value_to_json(value, ty, &Path::ROOT, 0)?;
    Ok(serde_json::to_vec(&json)?)
}

fn json_mismatch(path: &Path<'_>, ty: &Type, got: &serde_json::Value) -> CodecError {
    CodecError::TypeMismatch {
        path: path.render(),
        expected: ty.to_string(),
        got: json_kind(got).to_owned(),
    }
}

fn json_number_text(n: &serde_json::Number) -> String {
    n.to_string()
}

fn value_from_json(
    json: &serde_json::Value,
    ty: &Type,
    path: &Path<'_>,
    depth: usize,
    budget: &mut Budget,
) -> Result<Value, CodecError> {
    use serde_json::Value as J;
    check_depth(depth, path)?;
    if json.is_null() {
        return Ok(Value::Null);
    }
    let mut parse_number = |text: &str| {
        let n = Number::parse(text).map_err(|e| CodecError::InvalidNumberAt {
            path: path.render(),
            reason: match e {
                CodecError::InvalidNumber(reason) => reason,
                other => other.to_string(),
            },
        })?;
        budget.charge(n.as_str().len().saturating_sub(text.len()), path)?;
        Ok::<_, CodecError>(n)
    };
    match ty {
        // Primitive conversions follow cty's JSON decoder, which accepts the
        // string forms of numbers and bools (and vice versa).
        Type::Bool => match json {
            J::Bool(b) => Ok(Value::Bool(*b)),
            J::String(s) if s == "true" => Ok(Value::Bool(true)),
            J::String(s) if s == "false" => Ok(Value::Bool(false)),
            other => Err(json_mismatch(path, ty, other)),
        },
        Type::Number => match json {
            J::Number(n) => Ok(Value::Number(parse_number(&json_number_text(n))?)),
            J::String(s) => Ok(Value::Number(parse_number(s)?)),
            other => Err(json_mismatch(path, ty, other)),
        },
        Type::String => match json {
            J::String(s) => Ok(Value::String(s.clone())),
            J::Number(n) => Ok(Value::String(json_number_text(n))),
            J::Bool(b) => Ok(Value::String(b.to_string())),
            other => Err(json_mismatch(path, ty, other)),
        },
        Type::List(elem) | Type::Set(elem) => {
            let J::Array(items) = json else {
                return Err(json_mismatch(path, ty, json));
            };
            let items = items
                .iter()
                .enumerate()
                .map(|(i, item)| value_from_json(item, elem, &path.index(i), depth + 1, budget))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(match ty {
                Type::Set(_) => Value::Set(items),
                _ => Value::List(items),
            })
        }
        Type::Tuple(elems) => {
            let J::Array(items) = json else {
                return Err(json_mismatch(path, ty, json));
            };
            if items.len() != elems.len() {
                return Err(CodecError::LengthMismatch {
                    path: path.render(),
                    expected: elems.len(),
                    got: items.len(),
                });
            }
            items
                .iter()
                .zip(elems)
                .enumerate()
                .map(|(i, (item, elem))| {
                    value_from_json(item, elem, &path.index(i), depth + 1, budget)
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Tuple)
        }
        Type::Map(elem) => {
            let J::Object(entries) = json else {
                return Err(json_mismatch(path, ty, json));
            };
            entries
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        value_from_json(v, elem, &path.key(k), depth + 1, budget)?,
                    ))
                })
                .collect::<Result<BTreeMap<_, _>, CodecError>>()
                .map(Value::Map)
        }
        Type::Object(attrs) => {
            let J::Object(entries) = json else {
                return Err(json_mismatch(path, ty, json));
            };
            // Lenient: missing attributes are null, extra ones are dropped.
            let mut decoded = BTreeMap::new();
            for (name, attr_ty) in attrs {
                if let Some(v) = entries.get(name) {
                    let v = value_from_json(v, attr_ty, &path.attr(name), depth + 1, budget)?;
                    decoded.insert(name.clone(), v);
                }
            }
            fill_missing_attrs(&mut decoded, attrs, budget, path)?;
            Ok(Value::Object(decoded))
        }
        Type::Dynamic => {
            let J::Object(entries) = json else {
                return Err(CodecError::TypeMismatch {
                    path: path.render(),
                    expected: r#"a dynamic value (a JSON object {"value": ..., "type": ...})"#
                        .into(),
                    got: json_kind(json).to_owned(),
                });
            };
            if let Some(extra) = entries.keys().find(|k| *k != "value" && *k != "type") {
                return Err(CodecError::UnexpectedAttribute {
                    path: path.render(),
                    name: extra.clone(),
                });
            }
            let type_json = entries
                .get("type")
                .ok_or_else(|| CodecError::InvalidDynamicType {
                    path: path.render(),
                    reason: r#"the "type" property is missing"#.into(),
                })?;
            let concrete =
                Type::from_json_value(type_json).map_err(|e| CodecError::InvalidDynamicType {
                    path: path.render(),
                    reason: e.to_string(),
                })?;
            let value = match entries.get("value") {
                Some(v) => value_from_json(v, &concrete, path, depth + 1, budget)?,
                None => Value::Null,
            };
            Ok(Value::Dynamic(concrete, Box::new(value)))
        }
    }
}

fn value_to_json(
    value: &Value,
    ty: &Type,
    path: &Path<'_>,
    depth: usize,
) -> Result<serde_json::Value, CodecError> {
    use serde_json::Value as J;
    check_depth(depth, path)?;
    match (value, ty) {
        (Value::Null, _) => Ok(J::Null),
        (Value::Unknown, _) => Err(CodecError::UnknownInJson {
            path: path.render(),
        }),
        (Value::Bool(b), Type::Bool) => Ok(J::Bool(*b)),
        // Canonical decimals are valid JSON numbers; with serde_json's
        // `arbitrary_precision` the exact text is preserved.
        (Value::Number(n), Type::Number) => Ok(J::Number(n.as_str().parse()?)),
        (Value::String(s), Type::String) => Ok(J::String(s.clone())),
        (
            Value::List(items) | Value::Set(items) | Value::Tuple(items),
            Type::List(elem) | Type::Set(elem),
        ) => items
            .iter()
            .enumerate()
            .map(|(i, item)| value_to_json(item, elem, &path.index(i), depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(J::Array),
        (Value::List(items) | Value::Set(items) | Value::Tuple(items), Type::Tuple(elems)) => {
            if items.len() != elems.len() {
                return Err(CodecError::LengthMismatch {
                    path: path.render(),
                    expected: elems.len(),
                    got: items.len(),
                });
            }
            items
                .iter()
                .zip(elems)
                .enumerate()
                .map(|(i, (item, elem))| value_to_json(item, elem, &path.index(i), depth + 1))
                .collect::<Result<Vec<_>, _>>()
                .map(J::Array)
        }
        (Value::Map(entries) | Value::Object(entries), Type::Map(elem)) => entries
            .iter()
            .map(|(k, v)| Ok((k.clone(), value_to_json(v, elem, &path.key(k), depth + 1)?)))
            .collect::<Result<serde_json::Map<_, _>, CodecError>>()
            .map(J::Object),
        (Value::Map(entries) | Value::Object(entries), Type::Object(attrs)) => {
            check_no_extra_attrs(entries, attrs, path)?;
            attrs
                .iter()
                .map(|(name, attr_ty)| {
                    let item = entries.get(name).unwrap_or(&Value::Null);
                    Ok((
                        name.clone(),
                        value_to_json(item, attr_ty, &path.attr(name), depth + 1)?,
                    ))
                })
                .collect::<Result<serde_json::Map<_, _>, CodecError>>()
                .map(J::Object)
        }
        (Value::Dynamic(concrete, inner), Type::Dynamic) => {
            let mut obj = serde_json::Map::new();
            obj.insert(
                "value".into(),
                value_to_json(inner, concrete, path, depth + 1)?,
            );
            obj.insert("type".into(), concrete.to_json());
            Ok(J::Object(obj))
        }
        (value, ty) => Err(value_mismatch(path, ty, value)),
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn num(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    fn mp_roundtrip(v: &Value, ty: &Type) -> Value {
        let bytes = encode_msgpack(v, ty).unwrap();
        decode_msgpack(&bytes, ty).unwrap()
    }

    fn json_roundtrip(v: &Value, ty: &Type) -> Value {
        let bytes = encode_json(v, ty).unwrap();
        decode_json(&bytes, ty).unwrap()
    }

    /// Builds msgpack bytes with rmp's encoder.
    fn mp(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut out);
        out
    }

    fn ext(code: i8, payload: &[u8]) -> Vec<u8> {
        mp(|o| {
            rmp::encode::write_ext_meta(o, payload.len() as u32, code).unwrap();
            o.extend_from_slice(payload);
        })
    }

    fn sample_type() -> Type {
        Type::object([
            ("name", Type::String),
            ("count", Type::Number),
            ("enabled", Type::Bool),
            ("tags", Type::map(Type::String)),
            ("ports", Type::list(Type::Number)),
            ("zones", Type::set(Type::String)),
            ("pair", Type::tuple(vec![Type::String, Type::Bool])),
            ("extra", Type::Dynamic),
            (
                "rules",
                Type::list(Type::object([
                    ("port", Type::Number),
                    ("cidr", Type::String),
                ])),
            ),
        ])
    }

    fn sample_value() -> Value {
        Value::Object(BTreeMap::from([
            ("name".into(), Value::string("db")),
            (
                "count".into(),
                Value::Number(num("123456789012345678901234567890.5")),
            ),
            ("enabled".into(), Value::bool(true)),
            (
                "tags".into(),
                Value::Map(BTreeMap::from([
                    ("env".into(), Value::string("prod")),
                    ("owner".into(), Value::Unknown),
                ])),
            ),
            (
                "ports".into(),
                Value::List(vec![Value::int(80), Value::Null, Value::int(-1)]),
            ),
            (
                "zones".into(),
                Value::Set(vec![Value::string("a"), Value::string("b")]),
            ),
            (
                "pair".into(),
                Value::Tuple(vec![Value::string("x"), Value::bool(false)]),
            ),
            (
                "extra".into(),
                Value::Dynamic(
                    Type::list(Type::Number),
                    Box::new(Value::List(vec![Value::Number(num("0.1"))])),
                ),
            ),
            (
                "rules".into(),
                Value::List(vec![Value::Object(BTreeMap::from([
                    ("port".into(), Value::int(443)),
                    ("cidr".into(), Value::string("0.0.0.0/0")),
                ]))]),
            ),
        ]))
    }

    // ----- types -----------------------------------------------------------

    #[test]
    fn type_json_print_and_parse() {
        let cases = [
            (Type::Bool, r#""bool""#),
            (Type::Number, r#""number""#),
            (Type::String, r#""string""#),
            (Type::Dynamic, r#""dynamic""#),
            (Type::list(Type::String), r#"["list","string"]"#),
            (Type::set(Type::Number), r#"["set","number"]"#),
            (
                Type::map(Type::list(Type::Bool)),
                r#"["map",["list","bool"]]"#,
            ),
            (
                Type::object([("b", Type::String), ("a", Type::Number)]),
                r#"["object",{"a":"number","b":"string"}]"#,
            ),
            (
                Type::tuple(vec![Type::String, Type::Dynamic]),
                r#"["tuple",["string","dynamic"]]"#,
            ),
            (
                Type::object(Vec::<(String, Type)>::new()),
                r#"["object",{}]"#,
            ),
        ];
        for (ty, text) in cases {
            assert_eq!(String::from_utf8(ty.to_json_bytes()).unwrap(), text);
            assert_eq!(Type::from_json(text.as_bytes()).unwrap(), ty);
        }
    }

    #[test]
    fn type_json_optional_attributes_are_accepted() {
        let ty =
            Type::from_json(br#"["object",{"a":"string","b":["list","number"]},["b"]]"#).unwrap();
        assert_eq!(
            ty,
            Type::object([("a", Type::String), ("b", Type::list(Type::Number))])
        );
        // Printing drops the optional-attribute list.
        assert_eq!(
            ty.to_json_bytes(),
            br#"["object",{"a":"string","b":["list","number"]}]"#
        );
    }

    #[test]
    fn type_json_errors() {
        for bad in [
            r#""int""#,
            r#"[]"#,
            r#"["list"]"#,
            r#"["list","string","x"]"#,
            r#"["object",["a"]]"#,
            r#"["object",{"a":"string"},[],1]"#,
            r#"["tuple","string"]"#,
            r#"["frob","string"]"#,
            r#"[1,"string"]"#,
            r#"42"#,
            r#"{"type":"string"}"#,
        ] {
            let err = Type::from_json(bad.as_bytes()).unwrap_err();
            assert!(matches!(err, CodecError::InvalidType(_)), "{bad}: {err}");
        }
        assert!(matches!(
            Type::from_json(b"[\"list\""),
            Err(CodecError::Json(_))
        ));
        // Deep nesting is rejected, not a stack overflow.
        let deep = format!("{}\"string\"{}", "[\"list\",".repeat(300), "]".repeat(300));
        assert!(Type::from_json(deep.as_bytes()).is_err());
        let mut v = serde_json::Value::String("string".into());
        for _ in 0..200 {
            v = serde_json::json!(["list", v]);
        }
        assert!(matches!(
            Type::from_json_value(&v),
            Err(CodecError::InvalidType(_))
        ));
    }

    #[test]
    fn type_display() {
        assert_eq!(
            sample_type().to_string(),
            "object({count=number, enabled=bool, extra=dynamic, name=string, \
             pair=tuple([string, bool]), ports=list(number), \
             rules=list(object({cidr=string, port=number})), tags=map(string), zones=set(string)})"
        );
    }

    // ----- numbers ---------------------------------------------------------

    #[test]
    fn number_canonicalisation() {
        let cases = [
            ("1", "1"),
            ("1.0", "1"),
            ("1e0", "1"),
            ("10e-1", "1"),
            ("+1", "1"),
            ("-0", "0"),
            ("-0.000", "0"),
            ("0e5", "0"),
            ("000", "0"),
            ("007", "7"),
            ("0.50", "0.5"),
            (".5", "0.5"),
            ("5.", "5"),
            ("1.5e3", "1500"),
            ("1.5E-3", "0.0015"),
            ("-12.340e1", "-123.4"),
            ("123e-5", "0.00123"),
            ("0.000123e+2", "0.0123"),
            ("100", "100"),
            ("-100.0100", "-100.01"),
            ("18446744073709551616", "18446744073709551616"),
        ];
        for (input, canonical) in cases {
            assert_eq!(num(input).as_str(), canonical, "input {input}");
            assert_eq!(num(canonical).as_str(), canonical);
        }
        assert_eq!(num("1"), num("1.000"));
        assert_eq!(num("1e10000").as_str().len(), 10_001);
        assert_eq!(num("1e-10000").as_str().len(), 10_002);
    }

    #[test]
    fn number_parse_errors() {
        for bad in [
            "",
            "-",
            "+",
            ".",
            "-.",
            "e5",
            "1e",
            "1e+",
            "abc",
            "1.2.3",
            " 1",
            "1 ",
            "NaN",
            "inf",
            "-Infinity",
            "0x10",
            "1_000",
            "1e10001",
            "1e-10001",
            "1e99999999999999999999999999",
            "١",
        ] {
            assert!(
                matches!(Number::parse(bad), Err(CodecError::InvalidNumber(_))),
                "{bad:?} should be rejected"
            );
        }
        let msg = Number::parse("12abc").unwrap_err().to_string();
        assert_eq!(msg, r#"invalid number: "12abc" is not a decimal number"#);
    }

    #[test]
    fn number_conversions() {
        assert_eq!(Number::from_i64(i64::MIN).as_i64(), Some(i64::MIN));
        assert_eq!(Number::from_u64(u64::MAX).as_u64(), Some(u64::MAX));
        assert_eq!(Number::from_u64(u64::MAX).as_i64(), None);
        assert_eq!(num("1.5").as_i64(), None);
        assert_eq!(num("1.5").as_f64(), Some(1.5));
        assert_eq!(num("1e400").as_f64(), None);
        assert_eq!(Number::from_f64(0.1).unwrap().as_str(), "0.1");
        assert_eq!(Number::from_f64(-0.0).unwrap().as_str(), "0");
        assert_eq!(Number::from_f64(1e300).unwrap().as_f64(), Some(1e300));
        assert_eq!(Number::from_f64(5e-324).unwrap().as_f64(), Some(5e-324));
        assert_eq!(Number::from_f64(f64::NAN), None);
        assert_eq!(Number::from_f64(f64::INFINITY), None);
        assert_eq!(Number::from_f32(0.1).unwrap().as_str(), "0.1");
        assert_eq!("2.50".parse::<Number>().unwrap().to_string(), "2.5");
        assert!(Number::from_i64(3).is_integer());
    }

    #[test]
    fn number_ordering() {
        let sorted = [
            "-100", "-2.5", "-2", "-0.01", "0", "0.001", "0.5", "1", "1.25", "9", "10",
        ];
        let nums: Vec<Number> = sorted.iter().map(|s| num(s)).collect();
        for (i, a) in nums.iter().enumerate() {
            for (j, b) in nums.iter().enumerate() {
                assert_eq!(a.cmp(b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    // ----- msgpack ---------------------------------------------------------

    #[test]
    fn msgpack_primitive_encodings() {
        let cases: Vec<(Value, Type, Vec<u8>)> = vec![
            (Value::Null, Type::String, vec![0xc0]),
            (Value::Unknown, Type::Number, vec![0xd4, 0x00, 0x00]),
            (Value::bool(true), Type::Bool, vec![0xc3]),
            (Value::int(1), Type::Number, vec![0x01]),
            (Value::int(-1), Type::Number, vec![0xff]),
            (Value::string("a"), Type::String, vec![0xa1, b'a']),
            (
                Value::Number(Number::from_u64(u64::MAX)),
                Type::Number,
                mp(|o| {
                    rmp::encode::write_u64(o, u64::MAX).unwrap();
                }),
            ),
            (
                Value::Number(num("1.5")),
                Type::Number,
                mp(|o| rmp::encode::write_f64(o, 1.5).unwrap()),
            ),
            (
                Value::Number(num("0.1")),
                Type::Number,
                mp(|o| rmp::encode::write_f64(o, 0.1).unwrap()),
            ),
        ];
        for (v, ty, bytes) in cases {
            assert_eq!(encode_msgpack(&v, &ty).unwrap(), bytes, "{v:?}");
            assert_eq!(decode_msgpack(&bytes, &ty).unwrap(), v);
        }
    }

    #[test]
    fn msgpack_accepts_every_integer_and_float_width() {
        let encodings = [
            mp(|o| rmp::encode::write_u8(o, 200).unwrap()),
            mp(|o| rmp::encode::write_u16(o, 200).unwrap()),
            mp(|o| rmp::encode::write_u32(o, 200).unwrap()),
            mp(|o| rmp::encode::write_u64(o, 200).unwrap()),
            mp(|o| rmp::encode::write_i16(o, 200).unwrap()),
            mp(|o| rmp::encode::write_i32(o, 200).unwrap()),
            mp(|o| rmp::encode::write_i64(o, 200).unwrap()),
            mp(|o| rmp::encode::write_f32(o, 200.0).unwrap()),
            mp(|o| rmp::encode::write_f64(o, 200.0).unwrap()),
            mp(|o| rmp::encode::write_str(o, "2e2").unwrap()),
        ];
        for bytes in encodings {
            assert_eq!(
                decode_msgpack(&bytes, &Type::Number).unwrap(),
                Value::int(200)
            );
        }
        let neg = mp(|o| rmp::encode::write_i8(o, -100).unwrap());
        assert_eq!(
            decode_msgpack(&neg, &Type::Number).unwrap(),
            Value::int(-100)
        );
        let nan = mp(|o| rmp::encode::write_f64(o, f64::NAN).unwrap());
        assert!(matches!(
            decode_msgpack(&nan, &Type::Number),
            Err(CodecError::InvalidNumberAt { .. })
        ));
        let bad = mp(|o| rmp::encode::write_str(o, "12abc").unwrap());
        assert!(matches!(
            decode_msgpack(&bad, &Type::Number),
            Err(CodecError::InvalidNumberAt { .. })
        ));
    }

    #[test]
    fn big_numbers_roundtrip_exactly() {
        for text in [
            "123456789012345678901234567890.5",
            "18446744073709551616", // 2^64 (exactly representable: written as f64)
            "18446744073709551617", // 2^64 + 1
            "-9223372036854775809", // i64::MIN - 1
            "0.1000000000000000000000000000001",
            "1e400",
            "-1e-400",
        ] {
            let v = Value::Number(num(text));
            assert_eq!(mp_roundtrip(&v, &Type::Number), v, "{text}");
            assert_eq!(json_roundtrip(&v, &Type::Number), v, "{text}");
        }
        let big = num("123456789012345678901234567890.5");
        let bytes = encode_msgpack(&Value::Number(big.clone()), &Type::Number).unwrap();
        assert_eq!(
            bytes,
            mp(|o| rmp::encode::write_str(o, "123456789012345678901234567890.5").unwrap())
        );
        let json = encode_json(&Value::Number(big), &Type::Number).unwrap();
        assert_eq!(json, b"123456789012345678901234567890.5");
        let two64_plus_1 =
            encode_msgpack(&Value::Number(num("18446744073709551617")), &Type::Number);
        assert_eq!(
            two64_plus_1.unwrap(),
            mp(|o| rmp::encode::write_str(o, "18446744073709551617").unwrap())
        );
        // JSON input keeps every digit.
        let v = decode_json(
            b"[18446744073709551617, 1.000000000000000000001]",
            &Type::list(Type::Number),
        )
        .unwrap();
        assert_eq!(
            v,
            Value::List(vec![
                Value::Number(num("18446744073709551617")),
                Value::Number(num("1.000000000000000000001")),
            ])
        );
    }

    #[test]
    fn unknown_extension_variants_decode_as_unknown() {
        let encodings = [
            vec![0xd4, 0x00, 0x00],       // fixext1, code 0 (what Terraform writes)
            vec![0xc7, 0x00, 0x00],       // ext8, empty payload
            vec![0xd5, 0x00, 0x01, 0x02], // fixext2
            ext(5, b"future"),            // unknown future code
        ];
        for ty in [
            Type::String,
            Type::Number,
            Type::list(Type::Bool),
            Type::Dynamic,
            sample_type(),
        ] {
            for bytes in &encodings {
                assert_eq!(decode_msgpack(bytes, &ty).unwrap(), Value::Unknown);
            }
        }
    }

    #[test]
    fn refined_unknowns_decode_as_unknown() {
        // Not null + string prefix "ami-".
        let string_refinement = mp(|o| {
            rmp::encode::write_map_len(o, 2).unwrap();
            rmp::encode::write_uint(o, 1).unwrap();
            rmp::encode::write_bool(o, false).unwrap();
            rmp::encode::write_uint(o, 2).unwrap();
            rmp::encode::write_str(o, "ami-").unwrap();
        });
        // Number bounds: [1, inclusive] .. ["1e400", exclusive].
        let number_refinement = mp(|o| {
            rmp::encode::write_map_len(o, 3).unwrap();
            rmp::encode::write_uint(o, 1).unwrap();
            rmp::encode::write_bool(o, true).unwrap();
            rmp::encode::write_uint(o, 3).unwrap();
            rmp::encode::write_array_len(o, 2).unwrap();
            rmp::encode::write_uint(o, 1).unwrap();
            rmp::encode::write_bool(o, true).unwrap();
            rmp::encode::write_uint(o, 4).unwrap();
            rmp::encode::write_array_len(o, 2).unwrap();
            rmp::encode::write_str(o, "1e400").unwrap();
            rmp::encode::write_bool(o, false).unwrap();
        });
        // Collection length bounds 1..=10 plus a key from the future.
        let length_refinement = mp(|o| {
            rmp::encode::write_map_len(o, 3).unwrap();
            rmp::encode::write_uint(o, 5).unwrap();
            rmp::encode::write_uint(o, 1).unwrap();
            rmp::encode::write_uint(o, 6).unwrap();
            rmp::encode::write_uint(o, 10).unwrap();
            rmp::encode::write_uint(o, 99).unwrap();
            rmp::encode::write_str(o, "?").unwrap();
        });
        assert_eq!(
            decode_msgpack(&ext(12, &string_refinement), &Type::String).unwrap(),
            Value::Unknown
        );
        assert_eq!(
            decode_msgpack(&ext(12, &number_refinement), &Type::Number).unwrap(),
            Value::Unknown
        );
        assert_eq!(
            decode_msgpack(&ext(12, &length_refinement), &Type::list(Type::String)).unwrap(),
            Value::Unknown
        );
        // Nested inside an object, followed by further attributes.
        let ty = Type::object([("a", Type::String), ("b", Type::Number)]);
        let bytes = mp(|o| {
            rmp::encode::write_map_len(o, 2).unwrap();
            rmp::encode::write_str(o, "a").unwrap();
            o.extend_from_slice(&ext(12, &string_refinement));
            rmp::encode::write_str(o, "b").unwrap();
            rmp::encode::write_uint(o, 7).unwrap();
        });
        let v = decode_msgpack(&bytes, &ty).unwrap();
        assert_eq!(v.get("a"), Some(&Value::Unknown));
        assert_eq!(v.get("b"), Some(&Value::int(7)));
        assert!(!v.is_fully_known());
    }

    #[test]
    fn nested_value_roundtrips() {
        let (ty, v) = (sample_type(), sample_value());
        assert_eq!(mp_roundtrip(&v, &ty), v);
        let mut known = v.clone();
        known
            .get_mut("tags")
            .and_then(|t| match t {
                Value::Map(m) => m.get_mut("owner"),
                _ => None,
            })
            .map(|owner| *owner = Value::string("me"))
            .unwrap();
        assert!(known.is_fully_known());
        assert_eq!(json_roundtrip(&known, &ty), known);
    }

    #[test]
    fn dynamic_values_in_msgpack() {
        let concrete = Type::list(Type::String);
        let v = Value::Dynamic(
            concrete.clone(),
            Box::new(Value::List(vec![Value::string("x")])),
        );
        let bytes = encode_msgpack(&v, &Type::Dynamic).unwrap();
        let type_json = br#"["list","string"]"#;
        let expected = mp(|o| {
            rmp::encode::write_array_len(o, 2).unwrap();
            rmp::encode::write_bin(o, type_json).unwrap();
            rmp::encode::write_array_len(o, 1).unwrap();
            rmp::encode::write_str(o, "x").unwrap();
        });
        assert_eq!(bytes, expected);
        assert_eq!(decode_msgpack(&bytes, &Type::Dynamic).unwrap(), v);
        // The type may also arrive as a msgpack string.
        let as_str = mp(|o| {
            rmp::encode::write_array_len(o, 2).unwrap();
            rmp::encode::write_str(o, r#"["list","string"]"#).unwrap();
            rmp::encode::write_array_len(o, 1).unwrap();
            rmp::encode::write_str(o, "x").unwrap();
        });
        assert_eq!(decode_msgpack(&as_str, &Type::Dynamic).unwrap(), v);
        // Null and unknown may appear directly; a typed null is kept typed.
        assert_eq!(
            decode_msgpack(&[0xc0], &Type::Dynamic).unwrap(),
            Value::Null
        );
        assert_eq!(
            decode_msgpack(&[0xd4, 0, 0], &Type::Dynamic).unwrap(),
            Value::Unknown
        );
        let typed_null = Value::Dynamic(Type::Number, Box::new(Value::Null));
        assert_eq!(mp_roundtrip(&typed_null, &Type::Dynamic), typed_null);
        assert!(typed_null.is_null());
        // Errors: wrong shape and invalid embedded type.
        let not_pair = mp(|o| rmp::encode::write_str(o, "x").unwrap());
        assert!(matches!(
            decode_msgpack(&not_pair, &Type::Dynamic),
            Err(CodecError::TypeMismatch { .. })
        ));
        let bad_type = mp(|o| {
            rmp::encode::write_array_len(o, 2).unwrap();
            rmp::encode::write_bin(o, b"\"int\"").unwrap();
            rmp::encode::write_nil(o).unwrap();
        });
        let err = decode_msgpack(&bad_type, &Type::Dynamic).unwrap_err();
        assert!(
            matches!(err, CodecError::InvalidDynamicType { .. }),
            "{err}"
        );
        // A non-dynamic value cannot be encoded as dynamic.
        assert!(matches!(
            encode_msgpack(&Value::string("x"), &Type::Dynamic),
            Err(CodecError::TypeMismatch { .. })
        ));
    }

    #[test]
    fn dynamic_values_in_json() {
        let v = Value::Dynamic(
            Type::object([("a", Type::Number)]),
            Box::new(Value::Object(BTreeMap::from([("a".into(), Value::int(1))]))),
        );
        let bytes = encode_json(&v, &Type::Dynamic).unwrap();
        assert_eq!(
            bytes,
            br#"{"value":{"a":1},"type":["object",{"a":"number"}]}"#
        );
        assert_eq!(decode_json(&bytes, &Type::Dynamic).unwrap(), v);
        assert_eq!(decode_json(b"null", &Type::Dynamic).unwrap(), Value::Null);
        assert!(matches!(
            decode_json(br#"{"value":1}"#, &Type::Dynamic),
            Err(CodecError::InvalidDynamicType { .. })
        ));
        assert!(matches!(
            decode_json(br#"{"value":1,"type":"number","x":2}"#, &Type::Dynamic),
            Err(CodecError::UnexpectedAttribute { .. })
        ));
        assert!(matches!(
            decode_json(b"1", &Type::Dynamic),
            Err(CodecError::TypeMismatch { .. })
        ));
    }

    #[test]
    fn objects_with_missing_attributes_decode_as_null() {
        let ty = Type::object([("a", Type::String), ("b", Type::Number)]);
        let bytes = mp(|o| {
            rmp::encode::write_map_len(o, 1).unwrap();
            rmp::encode::write_str(o, "a").unwrap();
            rmp::encode::write_str(o, "x").unwrap();
        });
        let expected = Value::Object(BTreeMap::from([
            ("a".into(), Value::string("x")),
            ("b".into(), Value::Null),
        ]));
        assert_eq!(decode_msgpack(&bytes, &ty).unwrap(), expected);
        // JSON: missing attributes are null, unknown extras (old schema) are dropped.
        assert_eq!(
            decode_json(br#"{"a":"x","old":[1,2]}"#, &ty).unwrap(),
            expected
        );
        // Encoding fills absent attributes with null.
        let partial = Value::Object(BTreeMap::from([("a".into(), Value::string("x"))]));
        assert_eq!(mp_roundtrip(&partial, &ty), expected);
        assert_eq!(json_roundtrip(&partial, &ty), expected);
    }

    #[test]
    fn unexpected_attribute_reports_path() {
        let ty = Type::object([("outer", Type::list(Type::object([("known", Type::String)])))]);
        let bytes = mp(|o| {
            rmp::encode::write_map_len(o, 1).unwrap();
            rmp::encode::write_str(o, "outer").unwrap();
            rmp::encode::write_array_len(o, 2).unwrap();
            rmp::encode::write_nil(o).unwrap();
            rmp::encode::write_map_len(o, 1).unwrap();
            rmp::encode::write_str(o, "surprise").unwrap();
            rmp::encode::write_nil(o).unwrap();
        });
        let err = decode_msgpack(&bytes, &ty).unwrap_err();
        match &err {
            CodecError::UnexpectedAttribute { path, name } => {
                assert_eq!(path, ".outer[1]");
                assert_eq!(name, "surprise");
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            r#"unexpected attribute "surprise" at .outer[1]: the object type does not declare it"#
        );
        // Encoding an object value with an undeclared attribute fails too.
        let v = Value::Object(BTreeMap::from([("nope".into(), Value::Null)]));
        assert!(matches!(
            encode_msgpack(&v, &Type::object([("a", Type::String)])),
            Err(CodecError::UnexpectedAttribute { .. })
        ));
    }

    #[test]
    fn type_mismatch_reports_path() {
        let ty = Type::object([("tags", Type::map(Type::String))]);
        let bytes = mp(|o| {
            rmp::encode::write_map_len(o, 1).unwrap();
            rmp::encode::write_str(o, "tags").unwrap();
            rmp::encode::write_map_len(o, 1).unwrap();
            rmp::encode::write_str(o, "x").unwrap();
            rmp::encode::write_uint(o, 5).unwrap();
        });
        let err = decode_msgpack(&bytes, &ty).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"type mismatch at .tags["x"]: expected string, got msgpack integer"#
        );
        let err = decode_json(br#"{"tags":{"x":[]}}"#, &ty).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"type mismatch at .tags["x"]: expected string, got JSON array"#
        );
        let err = decode_msgpack(&[0xc3], &Type::list(Type::String)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "type mismatch at the top-level value: expected list(string), got msgpack boolean"
        );
        let list = Type::list(Type::Number);
        let err = encode_msgpack(
            &Value::List(vec![
                Value::int(0),
                Value::int(1),
                Value::int(2),
                Value::bool(true),
            ]),
            &list,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "type mismatch at [3]: expected number, got a bool value"
        );
    }

    #[test]
    fn encoding_is_checked_against_the_type() {
        let items = vec![Value::string("a"), Value::string("b")];
        let set = Type::set(Type::String);
        // List, set and tuple values are all arrays.
        let from_list = encode_msgpack(&Value::List(items.clone()), &set).unwrap();
        let from_set = encode_msgpack(&Value::Set(items.clone()), &set).unwrap();
        assert_eq!(from_list, from_set);
        assert_eq!(
            decode_msgpack(&from_list, &set).unwrap(),
            Value::Set(items.clone())
        );
        let tuple = Type::tuple(vec![Type::String]);
        assert!(matches!(
            encode_msgpack(&Value::List(items.clone()), &tuple),
            Err(CodecError::LengthMismatch {
                expected: 1,
                got: 2,
                ..
            })
        ));
        assert!(matches!(
            encode_json(&Value::List(items), &tuple),
            Err(CodecError::LengthMismatch {
                expected: 1,
                got: 2,
                ..
            })
        ));
        assert!(matches!(
            encode_msgpack(&Value::string("1"), &Type::Number),
            Err(CodecError::TypeMismatch { .. })
        ));
        assert!(matches!(
            encode_json(&Value::Object(BTreeMap::new()), &Type::list(Type::String)),
            Err(CodecError::TypeMismatch { .. })
        ));
        // Map values encode under object types and vice versa.
        let m = Value::Map(BTreeMap::from([("a".into(), Value::int(1))]));
        let obj_ty = Type::object([("a", Type::Number)]);
        assert_eq!(
            mp_roundtrip(&m, &obj_ty),
            Value::Object(BTreeMap::from([("a".into(), Value::int(1))]))
        );
    }

    #[test]
    fn unknown_cannot_be_encoded_as_json() {
        let ty = Type::object([("a", Type::list(Type::String))]);
        let v = Value::Object(BTreeMap::from([(
            "a".into(),
            Value::List(vec![Value::string("x"), Value::Unknown]),
        )]));
        let err = encode_json(&v, &ty).unwrap_err();
        assert!(matches!(&err, CodecError::UnknownInJson { path } if path == ".a[1]"));
    }

    #[test]
    fn json_primitive_conversions_follow_cty() {
        assert_eq!(
            decode_json(br#""12.50""#, &Type::Number).unwrap(),
            Value::Number(num("12.5"))
        );
        assert_eq!(
            decode_json(b"12", &Type::String).unwrap(),
            Value::string("12")
        );
        assert_eq!(
            decode_json(b"true", &Type::String).unwrap(),
            Value::string("true")
        );
        assert_eq!(
            decode_json(br#""false""#, &Type::Bool).unwrap(),
            Value::bool(false)
        );
        assert!(decode_json(br#""yes""#, &Type::Bool).is_err());
        assert!(matches!(
            decode_json(br#""x1""#, &Type::Number),
            Err(CodecError::InvalidNumberAt { .. })
        ));
    }

    #[test]
    fn empty_and_trailing_input() {
        assert!(matches!(
            decode_msgpack(&[], &Type::String),
            Err(CodecError::EmptyInput { .. })
        ));
        assert!(matches!(
            decode_json(b"  ", &Type::String),
            Err(CodecError::EmptyInput { .. })
        ));
        assert!(matches!(
            decode_msgpack(&[0xc0, 0xc0], &Type::String),
            Err(CodecError::TrailingBytes { count: 1 })
        ));
        assert!(matches!(
            decode_json(b"1 2", &Type::Number),
            Err(CodecError::Json(_))
        ));
        assert!(matches!(
            decode_msgpack(&[0xc1], &Type::String),
            Err(CodecError::TypeMismatch { .. })
        ));
    }

    #[test]
    fn invalid_utf8_and_duplicate_keys() {
        assert!(matches!(
            decode_msgpack(&[0xa2, 0xff, 0xfe], &Type::String),
            Err(CodecError::InvalidUtf8 { .. })
        ));
        let dup = mp(|o| {
            rmp::encode::write_map_len(o, 2).unwrap();
            rmp::encode::write_str(o, "k").unwrap();
            rmp::encode::write_nil(o).unwrap();
            rmp::encode::write_str(o, "k").unwrap();
            rmp::encode::write_nil(o).unwrap();
        });
        assert!(matches!(
            decode_msgpack(&dup, &Type::map(Type::String)),
            Err(CodecError::DuplicateKey { .. })
        ));
        assert!(matches!(
            decode_msgpack(&dup, &Type::object([("k", Type::String)])),
            Err(CodecError::DuplicateKey { .. })
        ));
    }

    #[test]
    fn huge_claimed_lengths_fail_fast() {
        let inputs: [&[u8]; 8] = [
            &[0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0],       // array32
            &[0xdc, 0xff, 0xff, 0xc0],                   // array16
            &[0xdf, 0xff, 0xff, 0xff, 0xff, 0xa0, 0xc0], // map32
            &[0xdb, 0xff, 0xff, 0xff, 0xff, b'a'],       // str32
            &[0xc6, 0xff, 0xff, 0xff, 0xff, b'a'],       // bin32
            &[0xc9, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00], // ext32
            &[0x92, 0xc6, 0xff, 0xff, 0xff, 0xff],       // dynamic type as huge bin
            &[0x9f, 0xc0],                               // fixarray(15), 1 byte left
        ];
        let types = [
            Type::list(Type::String),
            Type::map(Type::String),
            Type::object([("a", Type::String)]),
            Type::String,
            Type::Number,
            Type::Dynamic,
            Type::tuple(vec![Type::String; 15]),
        ];
        for input in inputs {
            for ty in &types {
                assert!(decode_msgpack(input, ty).is_err(), "{input:x?} as {ty}");
            }
        }
        assert!(matches!(
            decode_msgpack(
                &[0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0],
                &Type::list(Type::String)
            ),
            Err(CodecError::Truncated { .. })
        ));
    }

    #[test]
    fn nesting_depth_is_limited() {
        // A type nested deeper than the limit, with matching input.
        let mut ty = Type::String;
        for _ in 0..200 {
            ty = Type::list(ty);
        }
        let mut bytes = vec![0x91; 200];
        bytes.push(0xa0);
        assert!(matches!(
            decode_msgpack(&bytes, &ty),
            Err(CodecError::TooDeep { .. })
        ));
        // Nesting built out of dynamic values, each claiming type "dynamic".
        let mut bytes = Vec::new();
        for _ in 0..1000 {
            bytes.push(0x92);
            rmp::encode::write_bin(&mut bytes, b"\"dynamic\"").unwrap();
        }
        bytes.push(0xc0);
        assert!(matches!(
            decode_msgpack(&bytes, &Type::Dynamic),
            Err(CodecError::TooDeep { .. })
        ));
        // Encoding a deep value fails cleanly too.
        let mut v = Value::string("x");
        for _ in 0..200 {
            v = Value::List(vec![v]);
        }
        assert!(matches!(
            encode_msgpack(&v, &ty),
            Err(CodecError::TooDeep { .. })
        ));
        assert!(matches!(
            encode_json(&v, &ty),
            Err(CodecError::TooDeep { .. })
        ));
        // Within the limit is fine.
        let mut ok_ty = Type::String;
        let mut ok_v = Value::string("x");
        for _ in 0..100 {
            ok_ty = Type::list(ok_ty);
            ok_v = Value::List(vec![ok_v]);
        }
        assert_eq!(mp_roundtrip(&ok_v, &ok_ty), ok_v);
        assert_eq!(json_roundtrip(&ok_v, &ok_ty), ok_v);
        // JSON nesting is bounded by serde_json's own recursion limit.
        let deep_json = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(decode_json(deep_json.as_bytes(), &Type::Dynamic).is_err());
    }

    #[test]
    fn expansion_is_bounded() {
        // Many empty maps against a dynamic object type with many attributes.
        let attrs: Vec<(String, Type)> = (0..5000).map(|i| (format!("a{i}"), Type::Bool)).collect();
        let wide = Type::list(Type::object(attrs));
        let msgpack = mp(|o| {
            rmp::encode::write_array_len(o, 2).unwrap();
            rmp::encode::write_bin(o, &wide.to_json_bytes()).unwrap();
            rmp::encode::write_array_len(o, 100).unwrap();
            o.extend_from_slice(&[0x80; 100]);
        });
        assert!(matches!(
            decode_msgpack(&msgpack, &Type::Dynamic),
            Err(CodecError::ExpansionLimit { .. })
        ));
        let json = format!(
            r#"{{"type":{},"value":[{}{{}}]}}"#,
            wide.to_json(),
            "{},".repeat(99)
        );
        assert!(matches!(
            decode_json(json.as_bytes(), &Type::Dynamic),
            Err(CodecError::ExpansionLimit { .. })
        ));
        // A few such objects are fine.
        let few = mp(|o| {
            rmp::encode::write_array_len(o, 2).unwrap();
            rmp::encode::write_bin(o, &wide.to_json_bytes()).unwrap();
            rmp::encode::write_array_len(o, 2).unwrap();
            o.extend_from_slice(&[0x80; 2]);
        });
        assert!(decode_msgpack(&few, &Type::Dynamic).is_ok());

        // Numbers whose exponents expand into ~10k digits each.
        let list = Type::list(Type::Number);
        let huge = mp(|o| {
            rmp::encode::write_array_len(o, 100).unwrap();
            for _ in 0..100 {
                rmp::encode::write_str(o, "1e9999").unwrap();
            }
        });
        let err = decode_msgpack(&huge, &list).unwrap_err();
        assert!(matches!(err, CodecError::ExpansionLimit { .. }), "{err}");
        let json = format!("[{}1e9999]", "1e9999,".repeat(99));
        assert!(matches!(
            decode_json(json.as_bytes(), &list),
            Err(CodecError::ExpansionLimit { .. })
        ));
        let one = mp(|o| rmp::encode::write_str(o, "1e9999").unwrap());
        assert!(decode_msgpack(&one, &Type::Number).is_ok());
    }

    #[test]
    fn value_helpers() {
        let ty = Type::object([("a", Type::String), ("n", Type::Number)]);
        let mut v = Value::null_object(&ty);
        assert_eq!(v.get("a"), Some(&Value::Null));
        assert_eq!(v.get("zzz"), None);
        assert_eq!(Value::null_object(&Type::String), Value::Null);
        v.set_attr("a", Value::string("x"));
        v.set_attr("n", Value::int(42));
        assert_eq!(v.get("a").and_then(Value::as_str), Some("x"));
        assert_eq!(v.get("n").and_then(Value::as_i64), Some(42));
        assert_eq!(
            v.get("n").and_then(Value::as_number),
            Some(&Number::from_i64(42))
        );
        if let Some(n) = v.get_mut("n") {
            *n = Value::Unknown;
        }
        assert!(v.get("n").is_some_and(Value::is_unknown));
        assert!(!v.is_fully_known());
        assert_eq!(v.as_map().map(BTreeMap::len), Some(2));
        let mut s = Value::string("x");
        s.set_attr("a", Value::Null); // no-op on non-objects
        assert_eq!(s, Value::string("x"));
        assert_eq!(s.get("a"), None);
        assert_eq!(Value::bool(true).as_bool(), Some(true));
        assert_eq!(
            Value::Tuple(vec![Value::Null]).as_list().map(<[_]>::len),
            Some(1)
        );
        let d = Value::Dynamic(Type::String, Box::new(Value::string("y")));
        assert_eq!(d.as_str(), Some("y"));
        assert!(Value::Null.is_null() && !Value::Unknown.is_null());
    }

    #[test]
    fn truncated_prefixes_of_sample_fail() {
        let bytes = encode_msgpack(&sample_value(), &sample_type()).unwrap();
        for len in 0..bytes.len() {
            assert!(
                decode_msgpack(&bytes[..len], &sample_type()).is_err(),
                "prefix of {len} bytes decoded"
            );
        }
    }

    // ----- property tests --------------------------------------------------

    fn arb_primitive_type() -> impl Strategy<Value = Type> {
        prop_oneof![Just(Type::Bool), Just(Type::Number), Just(Type::String)]
    }

    fn arb_type() -> BoxedStrategy<Type> {
        let leaf = prop_oneof![arb_primitive_type(), Just(Type::Dynamic)];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(Type::list),
                inner.clone().prop_map(Type::set),
                inner.clone().prop_map(Type::map),
                prop::collection::btree_map("[a-z_]{1,6}", inner.clone(), 0..4)
                    .prop_map(Type::Object),
                prop::collection::vec(inner, 0..4).prop_map(Type::Tuple),
            ]
        })
        .boxed()
    }

    fn arb_number() -> BoxedStrategy<Number> {
        prop_oneof![
            any::<i64>().prop_map(Number::from_i64),
            any::<u64>().prop_map(Number::from_u64),
            any::<f64>().prop_filter_map("finite", Number::from_f64),
            "-?[0-9]{1,30}(\\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?"
                .prop_filter_map("valid", |s| Number::parse(&s).ok()),
        ]
        .boxed()
    }

    /// A value conforming to `ty`, with null (and unknown, if allowed) at any
    /// level. `budget` limits how many dynamic levels may nest.
    fn arb_value(ty: &Type, unknown: bool, budget: u32) -> BoxedStrategy<Value> {
        use prop::collection::{btree_map, vec};
        let known: BoxedStrategy<Value> = match ty {
            Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
            Type::Number => arb_number().prop_map(Value::Number).boxed(),
            Type::String => ".{0,12}".prop_map(Value::String).boxed(),
            Type::List(e) => vec(arb_value(e, unknown, budget), 0..4)
                .prop_map(Value::List)
                .boxed(),
            Type::Set(e) => vec(arb_value(e, unknown, budget), 0..4)
                .prop_map(Value::Set)
                .boxed(),
            Type::Map(e) => btree_map(".{0,6}", arb_value(e, unknown, budget), 0..4)
                .prop_map(Value::Map)
                .boxed(),
            Type::Object(attrs) => {
                let names: Vec<String> = attrs.keys().cloned().collect();
                let values: Vec<BoxedStrategy<Value>> = attrs
                    .values()
                    .map(|t| arb_value(t, unknown, budget))
                    .collect();
                values
                    .prop_map(move |vals| Value::Object(names.iter().cloned().zip(vals).collect()))
                    .boxed()
            }
            Type::Tuple(elems) => elems
                .iter()
                .map(|t| arb_value(t, unknown, budget))
                .collect::<Vec<_>>()
                .prop_map(Value::Tuple)
                .boxed(),
            Type::Dynamic => {
                let concrete = if budget == 0 {
                    arb_primitive_type().boxed()
                } else {
                    arb_type()
                };
                concrete
                    .prop_flat_map(move |t| {
                        let inner = arb_value(&t, unknown, budget.saturating_sub(1));
                        inner.prop_map(move |v| Value::Dynamic(t.clone(), Box::new(v)))
                    })
                    .boxed()
            }
        };
        if unknown {
            prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 6 => known].boxed()
        } else {
            prop_oneof![1 => Just(Value::Null), 7 => known].boxed()
        }
    }

    fn arb_typed_value(unknown: bool) -> impl Strategy<Value = (Type, Value)> {
        arb_type().prop_flat_map(move |ty| {
            let v = arb_value(&ty, unknown, 1);
            (Just(ty), v)
        })
    }

    fn fuzz_types() -> Vec<Type> {
        vec![
            Type::Bool,
            Type::Number,
            Type::String,
            Type::Dynamic,
            Type::list(Type::Dynamic),
            Type::set(Type::Number),
            Type::tuple(vec![Type::String, Type::Number]),
            sample_type(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

        #[test]
        fn msgpack_roundtrip((ty, v) in arb_typed_value(true)) {
            let bytes = encode_msgpack(&v, &ty).unwrap();
            prop_assert_eq!(decode_msgpack(&bytes, &ty).unwrap(), v);
        }

        #[test]
        fn json_roundtrip_prop((ty, v) in arb_typed_value(false)) {
            let bytes = encode_json(&v, &ty).unwrap();
            prop_assert_eq!(decode_json(&bytes, &ty).unwrap(), v);
        }

        #[test]
        fn msgpack_truncation_always_fails((ty, v) in arb_typed_value(true)) {
            let bytes = encode_msgpack(&v, &ty).unwrap();
            for len in 0..bytes.len() {
                prop_assert!(decode_msgpack(&bytes[..len], &ty).is_err());
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            for ty in fuzz_types() {
                let _ = decode_msgpack(&bytes, &ty);
                let _ = decode_json(&bytes, &ty);
            }
        }

        #[test]
        fn arbitrary_bytes_against_random_types_never_panic(
            ty in arb_type(),
            bytes in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let _ = decode_msgpack(&bytes, &ty);
            let _ = decode_json(&bytes, &ty);
        }

        #[test]
        fn mutated_encodings_never_panic(
            (ty, v) in arb_typed_value(true),
            edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            let mut bytes = encode_msgpack(&v, &ty).unwrap();
            for (pos, byte) in edits {
                if bytes.is_empty() {
                    bytes.push(byte);
                } else {
                    let i = pos % bytes.len();
                    bytes[i] = byte;
                }
            }
            let _ = decode_msgpack(&bytes, &ty);
        }

        #[test]
        fn number_text_is_canonical(n in arb_number()) {
            prop_assert_eq!(Number::parse(n.as_str()).unwrap(), n.clone());
            let shifted = if n.as_str().contains('.') {
                format!("{}000", n.as_str())
            } else {
                format!("{}0e-1", n.as_str())
            };
            prop_assert_eq!(Number::parse(&shifted).unwrap(), n);
        }

        #[test]
        fn number_order_matches_primitives(a in any::<i64>(), b in any::<i64>(), x in any::<f64>(), y in any::<f64>()) {
            prop_assert_eq!(Number::from_i64(a).cmp(&Number::from_i64(b)), a.cmp(&b));
            if let (Some(nx), Some(ny)) = (Number::from_f64(x), Number::from_f64(y)) {
                prop_assert_eq!(Some(nx.cmp(&ny)), x.partial_cmp(&y));
                prop_assert_eq!(nx.as_f64(), Some(x + 0.0));
            }
        }
    }
}
