//! The JSON wire encoding of values and of type constraints (see the module
//! documentation of [`super`], "Types" and "JSON").

use std::collections::BTreeMap;

use super::{
    check_depth, check_no_extra_attrs, fill_missing_attrs, preview, value_mismatch, Budget,
    CodecError, Number, Path, Type, Value, MAX_DEPTH,
};

// ---------------------------------------------------------------------------
// Type constraints
// ---------------------------------------------------------------------------

impl Type {
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
/// `encode_msgpack`). Unknown values are an error.
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
