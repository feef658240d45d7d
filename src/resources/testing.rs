//! Helpers the resources' unit tests share (test builds only).

use crate::aws::tags;
use crate::plugin::{Schema, Value};
use crate::rules;

/// Tags from `(key, value)` pairs.
pub fn tags(pairs: &[(&str, &str)]) -> tags::Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The identity tags of compute group `group` of `system`.
pub fn identity(system: &str, group: &str) -> tags::Tags {
    tags(&[
        (rules::TAG_MANAGED_BY, rules::MANAGED_BY_VALUE),
        (rules::TAG_SYSTEM, system),
        (rules::TAG_GROUP, group),
    ])
}

/// A configuration of `schema` with the attributes `pairs` set, the rest null.
pub fn config(schema: &Schema, pairs: &[(&str, Value)]) -> Value {
    let mut v = Value::null_object(&schema.ty());
    for (k, x) in pairs {
        v.set_attr(k, x.clone());
    }
    v
}
