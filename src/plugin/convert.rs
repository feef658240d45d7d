//! Conversions between protocol messages and framework types (one place, as
//! terraform-plugin-go's fromproto/toproto packages).

use super::diag::{AttrPath, Diagnostic, Diagnostics, PathStep, Severity};
use super::proto::tfplugin6 as pb;
use super::resource::FunctionSignature;
use super::schema::{Attribute, Block, NestedBlock, Nesting, Schema};
use super::value::{self, CodecError, Type, Value};

/// Decodes a DynamicValue; an absent or empty one is null.
pub fn from_dynamic(dv: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, CodecError> {
    match dv {
        None => Ok(Value::Null),
        Some(d) if !d.msgpack.is_empty() => value::decode_msgpack(&d.msgpack, ty),
        Some(d) if !d.json.is_empty() => value::decode_json(&d.json, ty),
        Some(_) => Ok(Value::Null),
    }
}

pub fn to_dynamic(v: &Value, ty: &Type) -> Result<pb::DynamicValue, CodecError> {
    Ok(pb::DynamicValue {
        msgpack: value::encode_msgpack(v, ty)?,
        json: Vec::new(),
    })
}

pub fn path_to_proto(p: &AttrPath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: p
            .0
            .iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    PathStep::Attr(a) => Selector::AttributeName(a.clone()),
                    PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                    PathStep::Index(i) => Selector::ElementKeyInt(*i),
                }),
            })
            .collect(),
    }
}

pub fn diagnostic_to_proto(d: &Diagnostic) -> pb::Diagnostic {
    pb::Diagnostic {
        severity: match d.severity {
            Severity::Error => pb::diagnostic::Severity::Error as i32,
            Severity::Warning => pb::diagnostic::Severity::Warning as i32,
        },
        summary: d.summary.clone(),
        detail: d.detail.clone(),
        attribute: d.path.as_ref().map(path_to_proto),
    }
}

pub fn diagnostics_to_proto(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    d.iter().map(diagnostic_to_proto).collect()
}

fn attribute_to_proto(a: &Attribute) -> pb::schema::Attribute {
    use pb::schema::object::NestingMode;
    // A nested attribute sends its object structure instead of a type.
    let nested_type = a
        .nested
        .as_ref()
        .map(|(nesting, attrs)| pb::schema::Object {
            attributes: attrs.iter().map(attribute_to_proto).collect(),
            nesting: match nesting {
                Nesting::Single => NestingMode::Single,
                Nesting::List => NestingMode::List,
                Nesting::Set => NestingMode::Set,
            } as i32,
            ..Default::default()
        });
    pb::schema::Attribute {
        name: a.name.to_string(),
        r#type: if nested_type.is_some() {
            Vec::new()
        } else {
            a.ty.to_json_bytes()
        },
        nested_type,
        description: a.full_description(),
        required: a.required,
        optional: a.optional,
        computed: a.computed,
        sensitive: a.sensitive,
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: a.deprecated,
        write_only: a.write_only,
    }
}

fn nested_block_to_proto(b: &NestedBlock) -> pb::schema::NestedBlock {
    use pb::schema::nested_block::NestingMode;
    pb::schema::NestedBlock {
        type_name: b.name.to_string(),
        block: Some(block_to_proto(&b.block, 0)),
        nesting: match b.nesting {
            Nesting::Single => NestingMode::Single,
            Nesting::List => NestingMode::List,
            Nesting::Set => NestingMode::Set,
        } as i32,
        min_items: b.min_items,
        max_items: b.max_items,
    }
}

fn block_to_proto(b: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: b.attributes.iter().map(attribute_to_proto).collect(),
        block_types: b.blocks.iter().map(nested_block_to_proto).collect(),
        description: b.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: b.deprecated,
    }
}

pub fn schema_to_proto(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block_to_proto(&s.block, s.version)),
    }
}

pub fn function_to_proto(f: &FunctionSignature) -> pb::Function {
    pb::Function {
        parameters: f
            .params
            .iter()
            .map(|(name, ty, desc)| pb::function::Parameter {
                name: name.to_string(),
                r#type: ty.to_json_bytes(),
                allow_null_value: false,
                allow_unknown_values: false,
                description: desc.to_string(),
                description_kind: pb::StringKind::Markdown as i32,
            })
            .collect(),
        variadic_parameter: None,
        r#return: Some(pb::function::Return {
            r#type: f.ret.to_json_bytes(),
        }),
        summary: f.summary.clone(),
        description: f.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecation_message: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_dynamic_value_is_null() {
        let ty = Type::String;
        assert_eq!(from_dynamic(None, &ty).ok(), Some(Value::Null));
        let empty = pb::DynamicValue::default();
        assert_eq!(from_dynamic(Some(&empty), &ty).ok(), Some(Value::Null));
    }

    #[test]
    fn dynamic_round_trip() {
        let ty = Type::object([("a", Type::String)]);
        let mut v = Value::null_object(&ty);
        v.set_attr("a", Value::string("x"));
        let dv = to_dynamic(&v, &ty).expect("encode");
        assert_eq!(from_dynamic(Some(&dv), &ty).ok(), Some(v));
    }

    #[test]
    fn nested_attributes_send_their_structure_not_a_type() {
        let a = Attribute::nested(
            "n",
            Nesting::Single,
            vec![Attribute::required("x", Type::String, "x")],
            "N.",
        );
        let p = attribute_to_proto(&a);
        assert!(p.r#type.is_empty());
        let obj = p.nested_type.expect("nested");
        assert_eq!(obj.attributes.len(), 1);
        assert_eq!(obj.nesting, pb::schema::object::NestingMode::Single as i32);
    }

    #[test]
    fn paths_convert_step_by_step() {
        let p = path_to_proto(&AttrPath::root("tags").key("k").index(1));
        assert_eq!(p.steps.len(), 3);
    }
}
