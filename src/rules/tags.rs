//! User tags (`tags`): AWS's limits and the reserved prefixes. The
//! provider's own identity tags are in `ownership.rs`.

use std::collections::BTreeMap;

use super::{q, Violation};

/// Longest tag key (AWS limit).
pub const MAX_TAG_KEY_LEN: usize = 128;
/// Longest tag value (AWS limit).
pub const MAX_TAG_VALUE_LEN: usize = 256;
/// Most user tags on one resource: AWS allows 50, the provider adds up to 5 `datomic:` tags.
pub const MAX_USER_TAGS: usize = 45;

/// Tag key prefixes users may not set, and why.
const RESERVED_TAG_PREFIXES: &[(&str, &str)] = &[
    ("aws:", "AWS reserves it for its own tags"),
    (
        "datomic:",
        "this provider sets these tags to find its objects",
    ),
];

/// Characters AWS accepts in tags on every service we tag (IAM is the strictest).
fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)
}

fn tag_key_problem(k: &str) -> Option<String> {
    let len = k.chars().count();
    if len == 0 {
        return Some("the key is empty".into());
    }
    if len > MAX_TAG_KEY_LEN {
        return Some(format!(
            "the key is {len} characters long (at most {MAX_TAG_KEY_LEN})"
        ));
    }
    if let Some(c) = k.chars().find(|c| !is_tag_char(*c)) {
        return Some(format!("the key contains {c:?}"));
    }
    let lower = k.to_lowercase();
    RESERVED_TAG_PREFIXES
        .iter()
        .find(|(p, _)| lower.starts_with(p))
        .map(|(p, why)| format!("the key starts with {p:?}, which is reserved ({why})"))
}

fn tag_value_problem(v: &str) -> Option<String> {
    let len = v.chars().count();
    if len > MAX_TAG_VALUE_LEN {
        return Some(format!(
            "the value is {len} characters long (at most {MAX_TAG_VALUE_LEN})"
        ));
    }
    v.chars()
        .find(|c| !is_tag_char(*c))
        .map(|c| format!("the value contains {c:?}"))
}

/// Resource tags: AWS limits, reserved prefixes `aws:` and `datomic:`.
pub fn check_tags(map: &BTreeMap<String, String>) -> Vec<Violation> {
    let mut out = Vec::new();
    if map.len() > MAX_USER_TAGS {
        out.push(Violation::new(
            "tags",
            "Too many tags",
            format!("Given {} tags. Allowed: at most {MAX_USER_TAGS} (AWS allows 50 per resource and this provider adds its own datomic: tags).", map.len()),
        ));
    }
    for (k, v) in map {
        if let Some(p) = tag_key_problem(k).or_else(|| tag_value_problem(v)) {
            out.push(Violation::new(
                "tags",
                "Invalid tag",
                format!("Tag {}: {p}. Allowed: keys of 1-{MAX_TAG_KEY_LEN} and values of 0-{MAX_TAG_VALUE_LEN} letters, digits, spaces and _ . : / = + - @, keys not starting with \"aws:\" or \"datomic:\".", q(k)),
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
    fn tags() {
        let ok = map(&[
            ("Env", "dev"),
            ("team/owner", "a@b.c"),
            ("Cost Center", "42"),
            ("ünïcode", "ÿ"),
            ("e", ""),
        ]);
        assert!(check_tags(&ok).is_empty());
        let long_key = "k".repeat(MAX_TAG_KEY_LEN + 1);
        let vs = check_tags(&map(&[
            ("aws:x", "1"),
            ("AWS:y", "1"),
            ("datomic:system", "1"),
            ("", "1"),
            (&long_key, "1"),
            ("ok", &"v".repeat(MAX_TAG_VALUE_LEN + 1)),
            ("semi;colon", "1"),
            ("fine", "new\nline"),
        ]));
        assert_eq!(vs.len(), 8, "{vs:#?}");
        for v in &vs {
            assert_v(v, "tags", &["Allowed", "1-128", "0-256"]);
            assert!(v.key.is_some());
        }
        let by_key = |k: &str| {
            vs.iter()
                .find(|v| v.key.as_deref() == Some(k))
                .map(|v| v.detail.clone())
                .unwrap_or_default()
        };
        assert!(by_key("aws:x").contains("\"aws:\""));
        assert!(by_key("AWS:y").contains("reserved"));
        assert!(by_key("datomic:system").contains("\"datomic:\""));
        assert!(by_key("ok").contains("257 characters"));
        assert!(by_key(&long_key).contains("129 characters"));
        let many: BTreeMap<String, String> = (0..=MAX_USER_TAGS)
            .map(|i| (format!("k{i}"), String::new()))
            .collect();
        let vs = check_tags(&many);
        assert_eq!(vs.len(), 1);
        assert_v(&vs[0], "tags", &["46", "at most 45"]);
        assert_eq!(vs[0].key, None);
    }
}
