//! Query group parameters: the environment variables of its nodes.

use std::collections::BTreeMap;

use super::{q, Violation};

/// Longest parameter (environment variable) name.
pub const MAX_PARAMETER_NAME_LEN: usize = 128;

fn is_env_name(k: &str) -> bool {
    k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Query group parameters: environment variables for the nodes. Keys
/// `[A-Za-z_][A-Za-z0-9_]*` of at most 128 characters; values without NUL.
pub fn check_parameters(map: &BTreeMap<String, String>) -> Vec<Violation> {
    let mut out = Vec::new();
    for (k, v) in map {
        if !is_env_name(k) || k.chars().count() > MAX_PARAMETER_NAME_LEN {
            out.push(Violation::new(
                "parameters",
                "Invalid parameter name",
                format!("{} is not a valid environment variable name. Allowed: 1-{MAX_PARAMETER_NAME_LEN} characters of letters, digits and underscores, not starting with a digit (parameters become the nodes' environment variables).", q(k)),
            ).at_key(k.clone()));
        }
        if v.contains('\0') {
            out.push(Violation::new(
                "parameters",
                "Invalid parameter value",
                format!("The value of {} contains a NUL character. Allowed: any text without NUL (environment variable values cannot hold it).", q(k)),
            ).at_key(k.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{assert_v, map};

    #[test]
    fn parameters() {
        let long = "A".repeat(MAX_PARAMETER_NAME_LEN);
        assert!(
            check_parameters(&map(&[("DB_NAME", "dev"), ("_x1", ""), (&long, "v")])).is_empty()
        );
        let vs = check_parameters(&map(&[
            ("1X", "a"),
            ("A-B", "a"),
            ("", "a"),
            ("OK", "a\0b"),
            (&format!("{long}A"), ""),
        ]));
        let keys: Vec<&str> = vs.iter().map(|v| v.key.as_deref().unwrap_or("?")).collect();
        assert_eq!(keys.len(), 5);
        for v in &vs {
            assert_eq!(v.attribute, "parameters");
            assert!(v.detail.contains("Allowed"));
        }
        let v = vs
            .iter()
            .find(|v| v.key.as_deref() == Some("A-B"))
            .expect("A-B refused");
        assert_v(
            v,
            "parameters",
            &["\"A-B\"", "letters, digits and underscores"],
        );
        assert_eq!(v.path(), "parameters[\"A-B\"]");
        assert!(vs
            .iter()
            .any(|v| v.key.as_deref() == Some("OK") && v.detail.contains("NUL")));
    }
}
