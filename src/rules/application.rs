//! Application rules: one application per compute group, transaction
//! functions (primary compute group only) and revisions.

use std::collections::BTreeSet;

use super::{q, Violation, PRIMARY_GROUP};

/// The compute group an application targets: `None` is the primary group.
pub fn compute_group_name(compute_group: Option<&str>) -> &str {
    compute_group.unwrap_or(PRIMARY_GROUP)
}

/// Each compute group runs exactly one application: the group's application
/// name must equal the application's `name`. `group_label` comes from [`group_label`](super::group_label).
pub fn check_application_matches_group(
    group_label: &str,
    group_application_name: &str,
    application_name: &str,
) -> Result<(), Violation> {
    if group_application_name == application_name {
        return Ok(());
    }
    Err(Violation::new(
        "name",
        "Application does not match the compute group's application name",
        format!(
            "The {group_label} runs application {}, but this application is named {}. Allowed: {} (each compute group runs exactly one application). Deploy {} to a compute group whose application_name is {}, or set this group's application_name to {}.",
            q(group_application_name),
            q(application_name),
            q(group_application_name),
            q(application_name),
            q(application_name),
            q(application_name)
        ),
    ))
}

/// Is `s` a Clojure-symbol-like part: characters `A-Za-z0-9-_*+!?<>=`, not starting with a digit.
fn is_symbol_part(s: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_*+!?<>=".contains(c);
    !s.is_empty() && s.chars().all(ok_char) && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// Is `s` a fully qualified function name `namespace/name`.
fn is_qualified_function(s: &str) -> bool {
    match s.split_once('/') {
        Some((ns, name)) => ns.split('.').all(is_symbol_part) && is_symbol_part(name),
        None => false,
    }
}

/// Transaction functions: each a fully qualified `namespace/name` (index set,
/// duplicates refused), and only on the primary compute group
/// (`compute_group` `None` or `Some("primary")`).
pub fn check_transaction_functions(
    compute_group: Option<&str>,
    functions: &[String],
) -> Vec<Violation> {
    let mut out = Vec::new();
    let group = compute_group_name(compute_group);
    if group != PRIMARY_GROUP && !functions.is_empty() {
        out.push(Violation::new(
            "transaction_functions",
            "Transaction functions require the primary compute group",
            format!(
                "This application targets query group {} and lists {} transaction function(s). Allowed: transaction functions only on the primary compute group, because they run in the transactor, which is the system's primary compute group. Leave compute_group unset to deploy to the primary group, or remove transaction_functions.",
                q(group),
                functions.len()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, f) in functions.iter().enumerate() {
        if !is_qualified_function(f) {
            out.push(Violation::new(
                "transaction_functions",
                "Invalid transaction function name",
                format!(
                    "{} is not a fully qualified function name. Allowed: \"namespace/name\", e.g. \"my.ns/inc-counter\": exactly one \"/\", namespace segments separated by \".\", each part made of letters, digits and - _ * + ! ? < > =, not starting with a digit.",
                    q(f)
                ),
            ).at_index(i));
        } else if !seen.insert(f.as_str()) {
            out.push(
                Violation::new(
                    "transaction_functions",
                    "Duplicate transaction function",
                    format!(
                        "{} is listed more than once. Allowed: each function once.",
                        q(f)
                    ),
                )
                .at_index(i),
            );
        }
    }
    out
}

/// Longest revision string.
pub const MAX_REVISION_LEN: usize = 128;

/// A revision: 1-128 characters, no whitespace or control characters.
pub fn check_revision(s: &str) -> Result<(), Violation> {
    let len = s.chars().count();
    let problem = if len == 0 {
        Some("it is empty".to_string())
    } else if len > MAX_REVISION_LEN {
        Some(format!("it is {len} characters long"))
    } else {
        s.chars()
            .find(|c| c.is_whitespace() || c.is_control())
            .map(|c| format!("it contains {c:?}"))
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(Violation::new(
            "revision",
            "Invalid application revision",
            format!(
                "{} is not a valid revision: {p}. Allowed: 1-{MAX_REVISION_LEN} characters without whitespace or control characters, e.g. \"r53\" or a git commit hash (it is carried in tags and launch template data).",
                q(s)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::group_label;
    use crate::rules::testing::{assert_v, err};

    #[test]
    fn application_must_match_group() {
        assert!(check_application_matches_group("x", "web", "web").is_ok());
        let label = group_label("prod", "dev");
        assert_eq!(label, "query group \"dev\" of system \"prod\"");
        assert_eq!(
            group_label("prod", PRIMARY_GROUP),
            "primary compute group of system \"prod\""
        );
        let v = err(check_application_matches_group(&label, "web", "analysis"));
        assert_v(
            &v,
            "name",
            &[
                "query group \"dev\" of system \"prod\"",
                "\"web\"",
                "\"analysis\"",
                "exactly one application",
                "application_name",
            ],
        );
    }

    #[test]
    fn transaction_functions_accepted() {
        let fs: Vec<String> = [
            "my.ns/inc-counter",
            "a/b",
            "tx/add!",
            "my_ns.core/valid?",
            "x.y.z/<=>*+",
        ]
        .map(String::from)
        .to_vec();
        assert!(check_transaction_functions(None, &fs).is_empty());
        assert!(check_transaction_functions(Some(PRIMARY_GROUP), &fs).is_empty());
        assert!(check_transaction_functions(Some("analytics"), &[]).is_empty());
        assert_eq!(compute_group_name(None), PRIMARY_GROUP);
        assert_eq!(compute_group_name(Some("dev")), "dev");
    }

    #[test]
    fn transaction_function_names_refused_with_index() {
        let bad = [
            "inc",
            "/inc",
            "ns/",
            "a/b/c",
            "my..ns/f",
            "1ns/f",
            "ns/1f",
            "ns/f g",
            "ns.ünï/f",
            "",
        ];
        let mut fs = vec!["ok.ns/f".to_string()];
        fs.extend(bad.iter().map(|s| s.to_string()));
        let vs = check_transaction_functions(None, &fs);
        assert_eq!(vs.len(), bad.len());
        for (v, (i, name)) in vs.iter().zip(bad.iter().enumerate()) {
            assert_v(
                v,
                "transaction_functions",
                &[&format!("{name:?}"), "namespace/name", "my.ns/inc-counter"],
            );
            assert_eq!(v.index, Some(i + 1));
        }
        let dup = ["a/b".to_string(), "c/d".to_string(), "a/b".to_string()];
        let vs = check_transaction_functions(None, &dup);
        assert_eq!(vs.len(), 1);
        assert_eq!(vs[0].index, Some(2));
        assert_eq!(vs[0].path(), "transaction_functions[2]");
    }

    #[test]
    fn transaction_functions_only_on_primary() {
        let fs = vec!["my.ns/inc".to_string(), "bad".to_string()];
        let vs = check_transaction_functions(Some("analytics"), &fs);
        assert_eq!(vs.len(), 2);
        assert_v(
            &vs[0],
            "transaction_functions",
            &[
                "\"analytics\"",
                "transactor",
                "primary compute group",
                "compute_group unset",
            ],
        );
        assert_eq!(vs[0].index, None);
        assert_eq!(vs[1].index, Some(1));
    }

    #[test]
    fn revisions() {
        for r in [
            "r53",
            "0f3c2a9",
            &"r".repeat(MAX_REVISION_LEN),
            "v1.2.3+build",
        ] {
            assert!(check_revision(r).is_ok(), "{r}");
        }
        for (r, why) in [
            ("", "empty"),
            ("r 53", "' '"),
            ("r53\n", "'\\n'"),
            ("r\u{7}", "'\\u{7}'"),
        ] {
            assert_v(&err(check_revision(r)), "revision", &[why, "1-128"]);
        }
        assert_v(
            &err(check_revision(&"r".repeat(129))),
            "revision",
            &["129 characters"],
        );
    }
}
