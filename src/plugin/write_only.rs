//! Write-only attributes (protocol 6.8, Terraform >= 1.11), as
//! terraform-plugin-framework implements them.
//!
//! A write-only attribute is an argument whose value Terraform hands to the
//! provider but never keeps: it may come from an ephemeral value, and it must
//! be null in every value the provider returns (planned state, new state after
//! apply, read, import and upgraded state), so it never reaches a plan file or
//! the state. The server enforces this here, in one place:
//!
//! * [`null_in`] nulls them in every value returned to Terraform;
//! * [`from_config`] copies them from the configuration into the planned value
//!   handed to `Resource::create` / `Resource::update`, so resource code reads
//!   them where it reads every other argument;
//! * [`check_allowed`] refuses a configuration setting one when the client
//!   says it cannot handle them (Terraform < 1.11).
//!
//! Because the value is never stored, Terraform cannot see it change. The
//! framework's convention, followed here, is a companion `<name>_version`
//! argument (see [`Attribute::write_only_version`]): an ordinary attribute the
//! user changes to have the new write-only value sent in an update.
//!
//! Only top-level attributes may be write-only (see [`misuses`]).
//!
//! [`Attribute::write_only_version`]: super::schema::Attribute::write_only_version

use super::diag::{AttrPath, Diagnostics};
use super::log;
use super::schema::{Block, Schema};
use super::value::Value;

/// The names of the write-only attributes of a resource schema.
pub fn names(schema: &Schema) -> impl Iterator<Item = &'static str> + '_ {
    schema
        .block
        .attributes
        .iter()
        .filter(|a| a.write_only)
        .map(|a| a.name)
}

/// Sets every write-only attribute of `v` (an object of the schema) to null;
/// a null or unknown `v` is left as it is.
pub fn null_in(schema: &Schema, v: &mut Value) {
    if v.as_map().is_none() {
        return;
    }
    for name in names(schema) {
        v.set_attr(name, Value::Null);
    }
}

/// Copies the configured write-only values into `planned` (the value handed
/// to create or update; Terraform's planned state holds null for them).
pub fn from_config(schema: &Schema, planned: &mut Value, config: &Value) {
    if planned.as_map().is_none() {
        return;
    }
    for name in names(schema) {
        let v = config.get(name).cloned().unwrap_or(Value::Null);
        planned.set_attr(name, v);
    }
}

/// ValidateResourceConfig: a client that cannot handle write-only attributes
/// (it says so in its capabilities) must not set one, as the framework does.
pub fn check_allowed(schema: &Schema, config: &Value, allowed: bool, diags: &mut Diagnostics) {
    if allowed {
        return;
    }
    for name in names(schema) {
        if config.get(name).is_some_and(|v| !v.is_null()) {
            diags.attribute_error(
                AttrPath::root(name),
                "Write-only attribute not supported by this Terraform version",
                format!(
                    "The argument {name:?} is write-only: its value is sent to the provider but never stored. \
                     This Terraform version does not support write-only arguments; use Terraform 1.11 or later, \
                     or leave {name:?} unset."
                ),
            );
        }
    }
}

/// Schema mistakes around write-only attributes, one sentence each (empty
/// when the schema is sound): write-only attributes must be top-level,
/// configurable and not computed, with no default or plan modifier (their
/// planned value is always null, so nothing can be planned from them).
pub fn misuses(schema: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    for a in schema.block.attributes.iter().filter(|a| a.write_only) {
        if a.computed || a.default.is_some() {
            out.push(format!(
                "write-only attribute {:?} cannot be computed or have a default",
                a.name
            ));
        }
        if !a.modifiers.is_empty() {
            out.push(format!(
                "write-only attribute {:?} cannot have plan modifiers",
                a.name
            ));
        }
        if !a.required && !a.optional {
            out.push(format!(
                "write-only attribute {:?} must be required or optional",
                a.name
            ));
        }
    }
    nested_misuses(&schema.block, "", &mut out);
    out
}

/// Logs each of [`misuses`] (the server does so at start-up).
pub fn warn_misuses(type_name: &str, schema: &Schema) {
    for problem in misuses(schema) {
        log::warn(
            "invalid schema: Terraform will refuse this resource's values",
            &[("tf_resource_type", type_name), ("problem", &problem)],
        );
    }
}

fn nested_misuses(block: &Block, prefix: &str, out: &mut Vec<String>) {
    for a in &block.attributes {
        if let Some((_, attrs)) = &a.nested {
            for inner in attrs {
                if inner.write_only {
                    out.push(format!(
                        "write-only attribute {prefix}{}.{} is nested: only top-level attributes can be write-only",
                        a.name, inner.name
                    ));
                }
            }
        }
    }
    for b in &block.blocks {
        for a in b.block.attributes.iter().filter(|a| a.write_only) {
            out.push(format!(
                "write-only attribute {prefix}{}.{} is in a nested block: only top-level attributes can be write-only",
                b.name, a.name
            ));
        }
        nested_misuses(&b.block, &format!("{prefix}{}.", b.name), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::schema::{Attribute, Nesting};
    use crate::plugin::value::Type;

    fn schema() -> Schema {
        Schema::new(
            0,
            Block::new("t")
                .attr(Attribute::computed("id", Type::String, "id"))
                .attr(Attribute::optional("password_wo", Type::String, "p").write_only())
                .attr(Attribute::write_only_version(
                    "password_wo_version",
                    "password_wo",
                )),
        )
    }

    fn obj(pairs: &[(&str, Value)]) -> Value {
        let mut v = Value::null_object(&schema().ty());
        for (k, x) in pairs {
            v.set_attr(k, x.clone());
        }
        v
    }

    #[test]
    fn nulls_write_only_values_and_nothing_else() {
        let mut v = obj(&[
            ("id", Value::string("a")),
            ("password_wo", Value::string("secret")),
            ("password_wo_version", Value::int(2)),
        ]);
        null_in(&schema(), &mut v);
        assert_eq!(
            v,
            obj(&[
                ("id", Value::string("a")),
                ("password_wo_version", Value::int(2))
            ])
        );
        let mut null = Value::Null;
        null_in(&schema(), &mut null);
        assert_eq!(null, Value::Null);
    }

    #[test]
    fn create_and_update_see_the_configured_value() {
        let config = obj(&[("password_wo", Value::string("secret"))]);
        let mut planned = obj(&[("id", Value::Unknown)]);
        from_config(&schema(), &mut planned, &config);
        assert_eq!(planned.get("password_wo"), Some(&Value::string("secret")));
        assert_eq!(planned.get("id"), Some(&Value::Unknown));
    }

    #[test]
    fn old_clients_cannot_set_write_only_arguments() {
        let config = obj(&[("password_wo", Value::string("secret"))]);
        let mut diags = Diagnostics::new();
        check_allowed(&schema(), &config, true, &mut diags);
        assert!(!diags.has_error());
        check_allowed(&schema(), &config, false, &mut diags);
        assert!(diags.has_error());
        let text = format!("{:?}", diags.iter().next());
        assert!(text.contains("password_wo"), "{text}");
        // Unset is fine for every client.
        let mut diags = Diagnostics::new();
        check_allowed(&schema(), &obj(&[]), false, &mut diags);
        assert!(!diags.has_error());
    }

    #[test]
    fn schema_mistakes_are_named() {
        assert!(misuses(&schema()).is_empty(), "{:?}", misuses(&schema()));
        let bad = Schema::new(
            0,
            Block::new("t")
                .attr(Attribute::optional_computed("a", Type::String, "a").write_only())
                .attr(Attribute::nested(
                    "n",
                    Nesting::Single,
                    vec![Attribute::optional("b", Type::String, "b").write_only()],
                    "n",
                )),
        );
        let found = misuses(&bad);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("\"a\""));
        assert!(found[1].contains("n.b"));
    }
}
