//! UpgradeResourceState: turning a stored state, written under some schema
//! version, into a value of the current schema.
//!
//! As terraform-plugin-framework's `ResourceWithUpgradeState`, a resource
//! lists one [`StateUpgrader`] per prior version it can upgrade from (see
//! `Resource::state_upgraders`); each takes the raw JSON state as Terraform
//! stored it and returns the state in the *current* schema, directly (no
//! chaining through intermediate versions). A state at the current version is
//! decoded as it is (attributes the schema no longer has are dropped, as the
//! framework does); a state at a version with no upgrader, or newer than the
//! schema, is an error diagnostic: never a silent loss of attributes.

use std::collections::BTreeMap;

use super::diag::Diagnostics;
use super::schema::Schema;
use super::value::{self, Value};

/// Turns a raw JSON state of one prior schema version into a value of the
/// current schema; reports problems as error diagnostics (and then returns
/// anything, usually `Value::Null`).
pub type StateUpgrader = fn(raw: &serde_json::Value, diags: &mut Diagnostics) -> Value;

/// Upgrades the raw JSON state `raw` written under schema `version` of a
/// resource of type `type_name` to `schema`. `None` when it failed (the
/// reason is in `diags`); an empty `raw` is a null state.
pub fn upgrade_state(
    type_name: &str,
    schema: &Schema,
    upgraders: &BTreeMap<i64, StateUpgrader>,
    version: i64,
    raw: &[u8],
    diags: &mut Diagnostics,
) -> Option<Value> {
    let current = schema.version;
    if version > current {
        diags.error(
            "Unsupported state version",
            format!(
                "The state of this {type_name} was written by a newer provider (schema version {version}, \
                 this provider knows up to {current}). Upgrade the provider."
            ),
        );
        return None;
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Some(Value::Null);
    }
    let ty = schema.ty();
    if version == current {
        return match value::decode_json(raw, &ty) {
            Ok(v) => Some(v),
            Err(e) => {
                stored_state_diag(diags, &e.to_string());
                None
            }
        };
    }
    let Some(upgrade) = upgraders.get(&version) else {
        let known: Vec<String> = upgraders.keys().map(i64::to_string).collect();
        diags.error(
            "Unable to upgrade resource state",
            format!(
                "The state of this {type_name} was written with schema version {version}, and this provider \
                 cannot upgrade it to version {current} (it upgrades from version(s): {}). \
                 Use the provider version that wrote this state, or remove the object from state and import it again.",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ),
        );
        return None;
    };
    let json: serde_json::Value = match serde_json::from_slice(raw) {
        Ok(j) => j,
        Err(e) => {
            stored_state_diag(diags, &e.to_string());
            return None;
        }
    };
    let upgraded = upgrade(&json, diags);
    if diags.has_error() {
        return None;
    }
    Some(upgraded)
}

fn stored_state_diag(diags: &mut Diagnostics, reason: &str) {
    diags.error(
        "Invalid stored state received from Terraform",
        format!(
            "The provider could not decode the stored state: {reason}. This is a bug in the provider or an incompatible Terraform version."
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::schema::{Attribute, Block};
    use crate::plugin::value::Type;

    /// Version 1 of a test-only resource: version 0 called `size` `count` and
    /// kept the name in `title`, which version 1 renamed to `name`.
    fn schema_v1() -> Schema {
        Schema::new(
            1,
            Block::new("t")
                .attr(Attribute::computed("id", Type::String, "id"))
                .attr(Attribute::required("name", Type::String, "n"))
                .attr(Attribute::optional("size", Type::Number, "s")),
        )
    }

    fn from_v0(raw: &serde_json::Value, diags: &mut Diagnostics) -> Value {
        let mut obj = match raw.as_object() {
            Some(o) => o.clone(),
            None => {
                diags.error("Invalid version 0 state", "The state is not a JSON object.");
                return Value::Null;
            }
        };
        if let Some(title) = obj.remove("title") {
            obj.insert("name".into(), title);
        }
        if let Some(count) = obj.remove("count") {
            obj.insert("size".into(), count);
        }
        let bytes = serde_json::Value::Object(obj).to_string();
        match value::decode_json(bytes.as_bytes(), &schema_v1().ty()) {
            Ok(v) => v,
            Err(e) => {
                diags.error("Invalid version 0 state", e.to_string());
                Value::Null
            }
        }
    }

    fn upgraders() -> BTreeMap<i64, StateUpgrader> {
        BTreeMap::from([(0, from_v0 as StateUpgrader)])
    }

    fn run(version: i64, raw: &str) -> (Option<Value>, Diagnostics) {
        let mut diags = Diagnostics::new();
        let v = upgrade_state(
            "test_thing",
            &schema_v1(),
            &upgraders(),
            version,
            raw.as_bytes(),
            &mut diags,
        );
        (v, diags)
    }

    #[test]
    fn a_version_0_state_upgrades_to_the_current_schema() {
        let (v, diags) = run(0, r#"{"id":"t-1","title":"alpha","count":3}"#);
        assert!(!diags.has_error(), "{diags:?}");
        let v = v.expect("upgraded");
        assert_eq!(v.get("id"), Some(&Value::string("t-1")));
        assert_eq!(v.get("name"), Some(&Value::string("alpha")));
        assert_eq!(v.get("size"), Some(&Value::int(3)));
    }

    #[test]
    fn a_current_state_is_decoded_as_it_is() {
        let (v, diags) = run(1, r#"{"id":"t-1","name":"alpha","size":3,"gone":true}"#);
        assert!(!diags.has_error(), "{diags:?}");
        assert_eq!(
            v.expect("decoded").get("name"),
            Some(&Value::string("alpha"))
        );
    }

    #[test]
    fn unknown_versions_are_errors_not_silent_losses() {
        let mut diags = Diagnostics::new();
        let none = upgrade_state(
            "test_thing",
            &schema_v1(),
            &BTreeMap::new(),
            0,
            br#"{"id":"t-1","title":"alpha"}"#,
            &mut diags,
        );
        assert!(none.is_none() && diags.has_error());
        let text = format!("{diags:?}");
        assert!(text.contains("schema version 0"), "{text}");

        let (none, diags) = run(2, r#"{"id":"t-1"}"#);
        assert!(none.is_none() && diags.has_error());
        assert!(format!("{diags:?}").contains("newer provider"));
    }

    #[test]
    fn upgrader_errors_and_bad_json_are_reported() {
        let (none, diags) = run(0, "[1,2]");
        assert!(none.is_none());
        assert!(format!("{diags:?}").contains("not a JSON object"));
        let (none, diags) = run(0, "{not json");
        assert!(none.is_none() && diags.has_error());
    }

    #[test]
    fn an_empty_state_is_null() {
        let (v, diags) = run(0, "");
        assert!(!diags.has_error());
        assert_eq!(v, Some(Value::Null));
    }
}
