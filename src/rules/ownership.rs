//! Ownership: the identity tags every AWS object carries, and the one test
//! of whether an object is ours. A name is never proof of ownership.

use std::collections::BTreeMap;

use super::{group_label, q};

/// Tag naming the system an AWS object belongs to.
pub const TAG_SYSTEM: &str = "datomic:system";
/// Tag naming the compute group (`primary` or a query group name).
pub const TAG_GROUP: &str = "datomic:group";
/// Tag naming the application a compute group runs.
pub const TAG_APPLICATION: &str = "datomic:application";
/// Tag carrying the deployed application revision.
pub const TAG_REVISION: &str = "datomic:revision";
/// Tag marking objects this provider manages.
pub const TAG_MANAGED_BY: &str = "datomic:managed-by";
/// Set on a compute group's Auto Scaling group once its create finished: a
/// group without it is the remains of an interrupted create (adopted by the
/// next apply), a group with it belongs to some state (never taken over).
pub const TAG_CREATED: &str = "datomic:created";
/// The system's `retain_storage`, kept on AWS so that import recovers it.
pub const TAG_RETAIN_STORAGE: &str = "datomic:retain-storage";
/// The system's topology, kept on AWS so that import and query groups read it.
pub const TAG_TOPOLOGY: &str = "datomic:topology";
/// Value of [`TAG_MANAGED_BY`].
pub const MANAGED_BY_VALUE: &str = "terraform-provider-datomic";

/// Whether an AWS object is ours: see [`ownership`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Its identity tags name this provider, the system and (when asked) the group.
    Ours,
    /// Anything else; `found` lists the identity tags it has, for the error.
    NotOurs { found: String },
}

/// Whether an object with tags `tags` belongs to `system` (and to `group`
/// when given): [`TAG_MANAGED_BY`] is [`MANAGED_BY_VALUE`] and
/// [`TAG_SYSTEM`] (and [`TAG_GROUP`]) name them. Its name never counts.
pub fn ownership(tags: &BTreeMap<String, String>, system: &str, group: Option<&str>) -> Ownership {
    let is = |k: &str, v: &str| tags.get(k).map(String::as_str) == Some(v);
    if is(TAG_MANAGED_BY, MANAGED_BY_VALUE)
        && is(TAG_SYSTEM, system)
        && group.is_none_or(|g| is(TAG_GROUP, g))
    {
        return Ownership::Ours;
    }
    let found: Vec<String> = [TAG_MANAGED_BY, TAG_SYSTEM, TAG_GROUP]
        .iter()
        .filter_map(|k| tags.get(*k).map(|v| format!("{k}={}", q(v))))
        .collect();
    Ownership::NotOurs {
        found: if found.is_empty() {
            "none".to_string()
        } else {
            found.join(", ")
        },
    }
}

/// The error for an object found by its name that is not ours: which object,
/// whose it is by its tags, and what to do.
pub fn not_ours_detail(
    kind: &str,
    name: &str,
    system: &str,
    group: Option<&str>,
    found: &str,
) -> String {
    let owner = match group {
        Some(g) => group_label(system, g),
        None => format!("system {}", q(system)),
    };
    let mut expected = format!(
        "{TAG_MANAGED_BY}={}, {TAG_SYSTEM}={}",
        q(MANAGED_BY_VALUE),
        q(system)
    );
    if let Some(g) = group {
        expected.push_str(&format!(", {TAG_GROUP}={}", q(g)));
    }
    format!(
        "The {kind} {} exists but does not belong to the {owner}: its identity tags are {found}, where the provider's own objects carry {expected}. The provider never adopts, changes or deletes an AWS object on the strength of its name, so it has left it untouched. Allowed: remove or rename that object if it is a leftover nobody needs, or give this system or group another name.",
        q(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_is_by_identity_tags_only() {
        let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let ours = tags(&[
            (TAG_MANAGED_BY, MANAGED_BY_VALUE),
            (TAG_SYSTEM, "prod"),
            (TAG_GROUP, "dev"),
        ]);
        assert_eq!(ownership(&ours, "prod", Some("dev")), Ownership::Ours);
        assert_eq!(ownership(&ours, "prod", None), Ownership::Ours);
        assert!(matches!(
            ownership(&ours, "prod", Some("primary")),
            Ownership::NotOurs { .. }
        ));
        assert!(matches!(
            ownership(&ours, "prod-x", None),
            Ownership::NotOurs { .. }
        ));
        // Right system and group, but not made by this provider.
        let foreign = tags(&[(TAG_SYSTEM, "prod"), (TAG_GROUP, "dev")]);
        match ownership(&foreign, "prod", Some("dev")) {
            Ownership::NotOurs { found } => {
                assert_eq!(found, "datomic:system=\"prod\", datomic:group=\"dev\"")
            }
            Ownership::Ours => panic!("a foreign object taken as ours"),
        }
        match ownership(&tags(&[("team", "x")]), "prod", None) {
            Ownership::NotOurs { found } => assert_eq!(found, "none"),
            Ownership::Ours => panic!("an untagged object taken as ours"),
        }
        let detail = not_ours_detail("IAM role", "prod--dev-node", "prod", Some("dev"), "none");
        assert!(detail.contains("\"prod--dev-node\""), "{detail}");
        assert!(
            detail.contains("query group \"dev\" of system \"prod\""),
            "{detail}"
        );
        assert!(
            detail.contains("never adopts, changes or deletes"),
            "{detail}"
        );
    }
}
