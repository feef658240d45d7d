//! Provider-defined functions (Terraform >= 1.8), called as
//! `provider::datomic::NAME(...)`: the instance-size table and the name rule
//! of `crate::rules`, for use in variables' validation and in modules.

use crate::plugin::{Function, FunctionError, FunctionSignature, Type, Value};
use crate::rules::{self, ComputeRole};

/// The role names the functions accept, with the compute role each means.
pub const ROLES: &[(&str, ComputeRole)] = &[
    ("solo", ComputeRole::SoloPrimary),
    ("production", ComputeRole::ProductionPrimary),
    ("query_group", ComputeRole::QueryGroup),
];

/// The role names as a sentence fragment: `"solo", "production" or "query_group"`.
fn role_names() -> String {
    let quoted: Vec<String> = ROLES.iter().map(|(n, _)| format!("{n:?}")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

/// Argument `index` as a string, or an error naming the argument. Error texts
/// have no final period: Terraform shows them as `Invalid value for "role"
/// parameter: TEXT.`
fn string_arg(args: &[Value], index: usize) -> Result<&str, FunctionError> {
    args.get(index)
        .and_then(Value::as_str)
        .ok_or_else(|| FunctionError {
            text: "the value must be a string".into(),
            argument: i64::try_from(index).ok(),
        })
}

/// The compute role named by argument 0.
fn role_arg(args: &[Value]) -> Result<ComputeRole, FunctionError> {
    let role = string_arg(args, 0)?;
    ROLES
        .iter()
        .find(|(n, _)| *n == role)
        .map(|(_, r)| *r)
        .ok_or_else(|| FunctionError {
            text: format!("unknown role {role:?}; allowed roles are {}", role_names()),
            argument: Some(0),
        })
}

fn role_param_description() -> &'static str {
    "The compute group's role: `\"solo\"` (a solo system's primary group), `\"production\"` (a production system's primary group) or `\"query_group\"`."
}

/// `instance_types(role)`: the instance types allowed for a role.
pub struct InstanceTypes {
    signature: FunctionSignature,
}

impl Default for InstanceTypes {
    fn default() -> Self {
        Self::new()
    }
}

impl InstanceTypes {
    pub fn new() -> Self {
        InstanceTypes {
            signature: FunctionSignature {
                summary: "Instance types allowed for a compute group role".into(),
                description: "Returns the instance types Datomic Cloud supports for a compute group role, in the order of the provider's instance-size table. Useful to validate a variable before planning.".into(),
                params: vec![("role", Type::String, role_param_description())],
                ret: Type::list(Type::String),
            },
        }
    }
}

impl Function for InstanceTypes {
    fn name(&self) -> &'static str {
        "instance_types"
    }
    fn signature(&self) -> &FunctionSignature {
        &self.signature
    }
    fn call(&self, args: &[Value]) -> Result<Value, FunctionError> {
        let role = role_arg(args)?;
        Ok(Value::List(
            rules::allowed_instance_types(role)
                .iter()
                .map(|t| Value::string(*t))
                .collect(),
        ))
    }
}

/// `default_instance_type(role)`: the instance type used when unset.
pub struct DefaultInstanceType {
    signature: FunctionSignature,
}

impl Default for DefaultInstanceType {
    fn default() -> Self {
        Self::new()
    }
}

impl DefaultInstanceType {
    pub fn new() -> Self {
        DefaultInstanceType {
            signature: FunctionSignature {
                summary: "Default instance type of a compute group role".into(),
                description: "Returns the instance type the provider uses for a compute group role when `instance_type` is not set.".into(),
                params: vec![("role", Type::String, role_param_description())],
                ret: Type::String,
            },
        }
    }
}

impl Function for DefaultInstanceType {
    fn name(&self) -> &'static str {
        "default_instance_type"
    }
    fn signature(&self) -> &FunctionSignature {
        &self.signature
    }
    fn call(&self, args: &[Value]) -> Result<Value, FunctionError> {
        Ok(Value::string(rules::default_instance_type(role_arg(args)?)))
    }
}

/// `valid_system_name(name)`: whether a name follows the system name rule.
pub struct ValidSystemName {
    signature: FunctionSignature,
}

impl Default for ValidSystemName {
    fn default() -> Self {
        Self::new()
    }
}

impl ValidSystemName {
    pub fn new() -> Self {
        ValidSystemName {
            signature: FunctionSignature {
                summary: "Whether a string is a valid system name".into(),
                description: format!(
                    "Returns `true` when the name follows the provider's system name rule: 1-{} characters of lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen, without `--`, and not `datomic`. Query group names follow the same rule (and `primary` is reserved for them).",
                    rules::MAX_SYSTEM_NAME_LEN
                ),
                params: vec![("name", Type::String, "The name to check.")],
                ret: Type::Bool,
            },
        }
    }
}

impl Function for ValidSystemName {
    fn name(&self) -> &'static str {
        "valid_system_name"
    }
    fn signature(&self) -> &FunctionSignature {
        &self.signature
    }
    fn call(&self, args: &[Value]) -> Result<Value, FunctionError> {
        let name = string_arg(args, 0)?;
        Ok(Value::bool(rules::check_system_name(name).is_ok()))
    }
}

/// A usage example of function `name`, for the generated docs (Terraform
/// language, `terraform fmt` style).
pub fn example(name: &str) -> Option<&'static str> {
    match name {
        "instance_types" => Some(
            r#"variable "query_group_instance_type" {
  type    = string
  default = "m5.large"

  validation {
    condition     = contains(provider::datomic::instance_types("query_group"), var.query_group_instance_type)
    error_message = "Query groups run on one of: ${join(", ", provider::datomic::instance_types("query_group"))}."
  }
}

output "production_sizes" {
  # ["i3.large", "i3.xlarge"]
  value = provider::datomic::instance_types("production")
}
"#,
        ),
        "default_instance_type" => Some(
            r#"output "solo_default" {
  # "t2.small"
  value = provider::datomic::default_instance_type("solo")
}
"#,
        ),
        "valid_system_name" => Some(
            r#"variable "system_name" {
  type = string

  validation {
    condition     = provider::datomic::valid_system_name(var.system_name)
    error_message = "A system name is 1-24 lowercase letters, digits and hyphens, starting with a letter, and not \"datomic\"."
  }
}
"#,
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::string(x)
    }

    #[test]
    fn instance_types_follow_the_table() {
        let f = InstanceTypes::new();
        for (name, role) in ROLES {
            let want: Vec<Value> = rules::allowed_instance_types(*role)
                .iter()
                .map(|t| s(t))
                .collect();
            assert_eq!(f.call(&[s(name)]).ok(), Some(Value::List(want)));
        }
        let want = ["i3.large", "i3.xlarge"].map(s).to_vec();
        assert_eq!(f.call(&[s("production")]).ok(), Some(Value::List(want)));
    }

    #[test]
    fn unknown_role_blames_argument_zero_and_lists_roles() {
        for f in [
            &InstanceTypes::new() as &dyn Function,
            &DefaultInstanceType::new(),
        ] {
            let e = f.call(&[s("primary")]).err();
            assert_eq!(e.as_ref().and_then(|e| e.argument), Some(0));
            let text = e.map(|e| e.text).unwrap_or_default();
            assert!(
                text.contains(r#""solo", "production" or "query_group""#),
                "{text}"
            );
        }
    }

    #[test]
    fn defaults_follow_the_table() {
        let f = DefaultInstanceType::new();
        assert_eq!(f.call(&[s("solo")]).ok(), Some(s("t2.small")));
        assert_eq!(f.call(&[s("query_group")]).ok(), Some(s("t2.medium")));
    }

    #[test]
    fn system_names_follow_the_rule() {
        let f = ValidSystemName::new();
        for (name, ok) in [
            ("prod", true),
            ("stage-2", true),
            ("datomic", false),
            ("Prod", false),
            ("", false),
        ] {
            assert_eq!(f.call(&[s(name)]).ok(), Some(Value::bool(ok)), "{name}");
        }
        assert_eq!(
            f.call(&[Value::Null]).err().and_then(|e| e.argument),
            Some(0)
        );
    }

    #[test]
    fn every_function_has_an_example() {
        for f in super::super::functions() {
            assert!(example(f.name()).is_some(), "{}", f.name());
        }
    }
}
