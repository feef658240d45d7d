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
//! a claimed length larger than the remaining input, never reserve more
//! memory ahead of need than the input's own size (in total, however the
//! claims nest), reject nesting deeper
//! than [`MAX_DEPTH`], and bound how much data they synthesize beyond the
//! input (nulls for missing attributes, digits of expanded exponents; see
//! [`EXPANSION_ALLOWANCE`]). Errors ([`CodecError`]) name the failing step and
//! the path inside the value, e.g. `.tags["env"]` or `.rules[3].port`.
//!
//! # Layout
//!
//! This file holds what every encoding shares (errors, paths, budgets,
//! [`Type`], [`Value`]); `number.rs` holds [`Number`], `msgpack.rs` and
//! `json.rs` one wire encoding each (`json.rs` also the JSON form of types),
//! and `tests.rs` the unit and property tests.

// The codec is a complete API; not every helper is used by every caller.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

mod json;
mod msgpack;
mod number;
#[cfg(test)]
mod tests;

pub use json::{decode_json, encode_json};
pub use msgpack::{decode_msgpack, encode_msgpack};
pub use number::Number;

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
