//! The msgpack wire encoding (see the module documentation of [`super`],
//! "MessagePack").

use std::collections::BTreeMap;

use rmp::Marker;

use super::{
    check_depth, check_no_extra_attrs, fill_missing_attrs, value_mismatch, Budget, CodecError,
    Number, Path, Type, Value,
};

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
        prealloc: bytes.len(),
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
    /// Bytes the decoder may still reserve ahead of need for arrays; see
    /// [`MsgpackDecoder::items`].
    prealloc: usize,
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
    /// An empty vector for an array whose header claims `n` elements. The
    /// header is checked against the remaining input, but a [`Value`] is
    /// some 40 times the size of the smallest encoded element, and nested
    /// headers may each claim the whole rest of the input: so capacity is
    /// reserved up front only while the decoder's total reservation stays
    /// within the input's own size; beyond that the vector grows as real
    /// elements arrive.
    fn items(&mut self, n: usize) -> Vec<Value> {
        let cap = n.min(self.prealloc / std::mem::size_of::<Value>());
        self.prealloc -= cap * std::mem::size_of::<Value>();
        Vec::with_capacity(cap)
    }

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
                let mut items = self.items(n);
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
                let mut items = self.items(n);
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

// ---------------------------------------------------------------------------
// Numbers on the wire
// ---------------------------------------------------------------------------

impl Number {
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
            write_msgpack_str(out, self.as_str(), path)?;
        }
        Ok(())
    }
}
