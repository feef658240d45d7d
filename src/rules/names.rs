//! Name rules for systems, query groups and applications (the names users
//! give; the AWS names derived from them are in `aws_names.rs`).

use super::{q, Violation};

/// Longest system or query group name.
pub const MAX_SYSTEM_NAME_LEN: usize = 24;
/// Longest query group name (same as systems).
pub const MAX_QUERY_GROUP_NAME_LEN: usize = MAX_SYSTEM_NAME_LEN;
/// Longest application name.
pub const MAX_APPLICATION_NAME_LEN: usize = 64;

/// The name of every system's primary compute group (ids, AWS names).
pub const PRIMARY_GROUP: &str = "primary";

/// A name rule: lowercase letters, digits, hyphens, starting with a letter,
/// no trailing hyphen, no `--`, bounded length, some names reserved.
struct NameRule {
    /// In words, e.g. "system name".
    kind: &'static str,
    max_len: usize,
    /// Reserved names and why.
    reserved: &'static [(&'static str, &'static str)],
    /// Why the rule, ends the detail.
    why: &'static str,
}

const SYSTEM_NAME_RULE: NameRule = NameRule {
    kind: "system name",
    max_len: MAX_SYSTEM_NAME_LEN,
    reserved: &[("datomic", "Datomic advises against it")],
    why: "This is this provider's rule, stricter than Datomic Cloud's own advice to keep system names short and avoid \"datomic\": every AWS name built from it (Auto Scaling group \"<system>-<group>\", IAM role of at most 64 characters, S3 bucket of at most 63 lowercase characters) must stay valid.",
};

const QUERY_GROUP_NAME_RULE: NameRule = NameRule {
    kind: "query group name",
    max_len: MAX_QUERY_GROUP_NAME_LEN,
    reserved: &[
        ("datomic", "Datomic advises against it"),
        ("primary", "it names every system's primary compute group"),
        (
            "entry",
            "`entry.<system>.<region>.datomic.net` is the primary compute group's client endpoint, and each query group's is `<group>.<system>.<region>.datomic.net`",
        ),
    ],
    why: "Query group names follow the system name rule because AWS names are built as \"<system>-<group>\" and must stay valid (IAM role names of at most 64 characters).",
};

const APPLICATION_NAME_RULE: NameRule = NameRule {
    kind: "application name",
    max_len: MAX_APPLICATION_NAME_LEN,
    reserved: &[],
    why: "Application names appear in ids, tags and IAM policy names, which must stay valid.",
};

impl NameRule {
    fn allowed(&self) -> String {
        let mut s = format!(
            "1-{} characters of lowercase letters (a-z), digits (0-9) and hyphens, starting with a letter, not ending with a hyphen, without \"--\"",
            self.max_len
        );
        if !self.reserved.is_empty() {
            let quoted: Vec<String> = self
                .reserved
                .iter()
                .map(|(n, _)| format!("{n:?}"))
                .collect();
            s.push_str(&format!(", and not {}", quoted.join(" or ")));
        }
        s
    }

    /// What is wrong with `name`, if anything.
    fn problem(&self, name: &str) -> Option<String> {
        let len = name.chars().count();
        if len == 0 {
            return Some("it is empty".into());
        }
        if len > self.max_len {
            return Some(format!("it is {len} characters long"));
        }
        if let Some((pos, c)) = name
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            let hint = if c.is_ascii_uppercase() {
                " (uppercase letters are not allowed)"
            } else {
                ""
            };
            return Some(format!("it contains {c:?} at position {}{hint}", pos + 1));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Some("it does not start with a letter".into());
        }
        if name.ends_with('-') {
            return Some("it ends with a hyphen".into());
        }
        if name.contains("--") {
            return Some("it contains \"--\"".into());
        }
        self.reserved
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, why)| format!("it is reserved ({why})"))
    }

    fn check(&self, attribute: &'static str, name: &str) -> Result<(), Violation> {
        match self.problem(name) {
            None => Ok(()),
            Some(problem) => Err(Violation::new(
                attribute,
                format!("Invalid {}", self.kind),
                format!(
                    "{} is not a valid {}: {problem}. Allowed: {}. {}",
                    q(name),
                    self.kind,
                    self.allowed(),
                    self.why
                ),
            )),
        }
    }
}

/// A system name (attribute `name`).
pub fn check_system_name(name: &str) -> Result<(), Violation> {
    SYSTEM_NAME_RULE.check("name", name)
}

/// A query group name (attribute `name`); `primary` and `entry` are reserved.
pub fn check_query_group_name(name: &str) -> Result<(), Violation> {
    QUERY_GROUP_NAME_RULE.check("name", name)
}

/// An application name; `attribute` is `application_name` on systems and
/// query groups, `name` on applications.
pub fn check_application_name(attribute: &'static str, name: &str) -> Result<(), Violation> {
    APPLICATION_NAME_RULE.check(attribute, name)
}

/// Words for a compute group in details, e.g. `query group "dev" of system "prod"`.
pub fn group_label(system: &str, group: &str) -> String {
    if group == PRIMARY_GROUP {
        format!("primary compute group of system {}", q(system))
    } else {
        format!("query group {} of system {}", q(group), q(system))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{assert_v, err};

    const GOOD_NAMES: &[&str] = &[
        "a",
        "prod",
        "prod-1",
        "a1b2",
        "x-y-z",
        "abcdefghijklmnopqrstuvwx",
    ];

    #[test]
    fn system_names_accepted() {
        for n in GOOD_NAMES {
            assert!(check_system_name(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn system_names_refused() {
        for (name, why) in [
            ("", "empty"),
            ("abcdefghijklmnopqrstuvwxy", "25 characters"),
            ("Prod", "uppercase"),
            ("1prod", "start with a letter"),
            ("-prod", "start with a letter"),
            ("prod-", "ends with a hyphen"),
            ("pr--od", "\"--\""),
            ("prod_1", "'_' at position 5"),
            ("pröd", "'ö'"),
            ("pro d", "' '"),
            ("datomic", "reserved"),
        ] {
            let v = err(check_system_name(name));
            assert_v(
                &v,
                "name",
                &[
                    &format!("{name:?}"),
                    why,
                    "1-24 characters",
                    "provider's rule",
                    "\"datomic\"",
                ],
            );
            assert_eq!(v.summary, "Invalid system name");
        }
    }

    #[test]
    fn query_group_names() {
        for n in GOOD_NAMES {
            assert!(check_query_group_name(n).is_ok(), "{n}");
        }
        let v = err(check_query_group_name("primary"));
        assert_v(
            &v,
            "name",
            &["\"primary\"", "reserved", "primary compute group"],
        );
        assert!(check_query_group_name("datomic").is_err());
        assert!(check_query_group_name("Analytics").is_err());
        assert!(check_query_group_name("primary-2").is_ok());
        assert!(check_query_group_name("entry").is_err());
        assert!(check_query_group_name("entry-2").is_ok());
    }

    #[test]
    fn application_names() {
        let long = "a".repeat(MAX_APPLICATION_NAME_LEN);
        for n in [long.as_str(), "primary", "datomic", "web-app-2"] {
            assert!(check_application_name("name", n).is_ok(), "{n}");
        }
        let v = err(check_application_name("application_name", &"a".repeat(65)));
        assert_v(&v, "application_name", &["65 characters", "1-64"]);
        assert_v(
            &err(check_application_name("name", "My App")),
            "name",
            &["uppercase"],
        );
        assert!(check_application_name("name", "").is_err());
        assert!(check_application_name("name", "app-").is_err());
    }
}
