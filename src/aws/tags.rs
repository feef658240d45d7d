//! Tags: every AWS object carries the provider's `default_tags`, the
//! resource's `tags` (which win key by key) and the identifying tags that
//! read, import and cleanup search by. Keys starting with `aws:` are AWS's.
//!
//! Tags matched by the provider's `ignore_tags` belong to other tools (a
//! backup or cost tool): they are left out of `tags_all` ([`merge`],
//! [`user_tags`]), so they never show as drift, and never written or removed
//! ([`diff`], [`keep_ignored`]). The filter is set once per provider process
//! at configure time ([`set_ignored`]): Terraform runs one process per
//! provider configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::RwLock;

pub type Tags = BTreeMap<String, String>;

/// The provider's `ignore_tags { keys, key_prefixes }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreTags {
    pub keys: BTreeSet<String>,
    pub key_prefixes: Vec<String>,
}

impl IgnoreTags {
    /// Whether `key` is another tool's. AWS's (`aws:`) and the provider's own
    /// identifying keys (`datomic:`) are never ignored: read, import and
    /// ownership depend on them.
    pub fn ignores(&self, key: &str) -> bool {
        if key.starts_with("aws:") || key.starts_with("datomic:") {
            return false;
        }
        self.keys.contains(key)
            || self
                .key_prefixes
                .iter()
                .any(|p| key.starts_with(p.as_str()))
    }

    /// `tags` without the ignored keys.
    pub fn filter(&self, tags: &Tags) -> Tags {
        tags.iter()
            .filter(|(k, _)| !self.ignores(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

static IGNORED: RwLock<IgnoreTags> = RwLock::new(IgnoreTags {
    keys: BTreeSet::new(),
    key_prefixes: Vec::new(),
});

/// Sets this process's `ignore_tags` (at provider configure).
pub fn set_ignored(ignore: IgnoreTags) {
    *IGNORED
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = ignore;
}

/// This process's `ignore_tags`.
pub fn ignored() -> IgnoreTags {
    IGNORED
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// `tags_all`: default tags overlaid with the resource's own tags, without
/// the ignored keys.
pub fn merge(default_tags: &Tags, tags: &Tags) -> Tags {
    merge_ignoring(default_tags, tags, &ignored())
}

fn merge_ignoring(default_tags: &Tags, tags: &Tags, ignore: &IgnoreTags) -> Tags {
    let mut all = default_tags.clone();
    for (k, v) in tags {
        all.insert(k.clone(), v.clone());
    }
    ignore.filter(&all)
}

/// For APIs that replace an object's whole tag set (S3): `target` plus the
/// ignored tags the object has `now`, so that they survive the write.
pub fn keep_ignored(now: &Tags, target: &Tags) -> Tags {
    keep_ignored_with(now, target, &ignored())
}

fn keep_ignored_with(now: &Tags, target: &Tags, ignore: &IgnoreTags) -> Tags {
    let mut out = ignore.filter(target);
    for (k, v) in now {
        if ignore.ignores(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// What goes on an AWS object: `tags_all` plus the identifying tags.
pub fn with_identity(tags_all: &Tags, identity: &[(&str, &str)]) -> Tags {
    let mut t = tags_all.clone();
    for (k, v) in identity {
        t.insert((*k).to_string(), (*v).to_string());
    }
    t
}

/// Removes AWS-reserved keys, the given identifying keys and the ignored
/// keys, leaving the user's.
pub fn user_tags(all: &Tags, identity_keys: &[&str]) -> Tags {
    user_tags_ignoring(all, identity_keys, &ignored())
}

fn user_tags_ignoring(all: &Tags, identity_keys: &[&str], ignore: &IgnoreTags) -> Tags {
    all.iter()
        .filter(|(k, _)| {
            !k.starts_with("aws:") && !identity_keys.contains(&k.as_str()) && !ignore.ignores(k)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The keys to remove and the tags to set to go from `old` to `new`; AWS's
/// and ignored keys are neither removed nor set.
pub fn diff(old: &Tags, new: &Tags) -> (Vec<String>, Tags) {
    diff_ignoring(old, new, &ignored())
}

fn diff_ignoring(old: &Tags, new: &Tags, ignore: &IgnoreTags) -> (Vec<String>, Tags) {
    let skip = |k: &str| k.starts_with("aws:") || ignore.ignores(k);
    let removed = old
        .keys()
        .filter(|k| !new.contains_key(*k) && !skip(k))
        .cloned()
        .collect();
    let changed = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(v) && !skip(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (removed, changed)
}

pub fn ec2(tags: &Tags) -> Vec<aws_sdk_ec2::types::Tag> {
    tags.iter()
        .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn from_ec2(tags: &[aws_sdk_ec2::types::Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// An Auto Scaling group's tags.
pub fn from_asg(g: &aws_sdk_autoscaling::types::AutoScalingGroup) -> Tags {
    g.tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

pub fn iam(tags: &Tags) -> Vec<aws_sdk_iam::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect()
}

/// An IAM role's or instance profile's tags.
pub fn from_iam(tags: &[aws_sdk_iam::types::Tag]) -> Tags {
    tags.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// A Route53 hosted zone's tags.
pub fn from_route53(tags: &[aws_sdk_route53::types::Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// A load balancer's or target group's tags.
pub fn from_elb(tags: &[aws_sdk_elasticloadbalancingv2::types::Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

pub fn dynamodb(tags: &Tags) -> Vec<aws_sdk_dynamodb::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| {
            aws_sdk_dynamodb::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect()
}

pub fn kms(tags: &Tags) -> Vec<aws_sdk_kms::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| {
            aws_sdk_kms::types::Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn resource_tags_override_defaults() {
        let all = merge(&t(&[("env", "dev"), ("team", "a")]), &t(&[("env", "prod")]));
        assert_eq!(all, t(&[("env", "prod"), ("team", "a")]));
    }

    #[test]
    fn user_tags_drop_identity_and_aws_keys() {
        let all = t(&[
            ("aws:autoscaling:groupName", "x"),
            ("datomic:system", "s"),
            ("env", "dev"),
        ]);
        assert_eq!(user_tags(&all, &["datomic:system"]), t(&[("env", "dev")]));
    }

    fn backup_and_cost() -> IgnoreTags {
        IgnoreTags {
            keys: ["CostCenter".to_string()].into(),
            key_prefixes: vec!["backup:".into()],
        }
    }

    #[test]
    fn ignored_keys_are_left_out_of_tags_all() {
        let i = backup_and_cost();
        let all = merge_ignoring(
            &t(&[("CostCenter", "42"), ("env", "dev")]),
            &t(&[("backup:policy", "daily"), ("team", "a"), ("Backup", "x")]),
            &i,
        );
        assert_eq!(all, t(&[("Backup", "x"), ("env", "dev"), ("team", "a")]));
        let read = user_tags_ignoring(
            &t(&[
                ("datomic:system", "s"),
                ("backup:policy", "daily"),
                ("env", "dev"),
            ]),
            &["datomic:system"],
            &i,
        );
        assert_eq!(read, t(&[("env", "dev")]));
    }

    #[test]
    fn ignored_keys_are_never_written_nor_removed() {
        let i = backup_and_cost();
        let (rm, set) = diff_ignoring(
            &t(&[
                ("backup:policy", "daily"),
                ("CostCenter", "1"),
                ("old", "x"),
            ]),
            &t(&[("CostCenter", "2"), ("env", "dev")]),
            &i,
        );
        assert_eq!(rm, vec!["old".to_string()]);
        assert_eq!(set, t(&[("env", "dev")]));
        let whole = keep_ignored_with(
            &t(&[("backup:policy", "daily"), ("old", "x")]),
            &t(&[("env", "dev")]),
            &i,
        );
        assert_eq!(whole, t(&[("backup:policy", "daily"), ("env", "dev")]));
    }

    #[test]
    fn identity_and_aws_keys_are_never_ignored() {
        let i = IgnoreTags {
            keys: ["datomic:system".to_string()].into(),
            key_prefixes: vec!["aws:".into(), "datomic".into(), String::new()],
        };
        assert!(!i.ignores("datomic:system") && !i.ignores("aws:x"));
        assert!(
            i.ignores("anything"),
            "an empty prefix ignores every other key"
        );
    }

    #[test]
    fn diff_skips_aws_keys() {
        let (rm, set) = diff(
            &t(&[("a", "1"), ("b", "2"), ("aws:x", "y")]),
            &t(&[("b", "3"), ("c", "4")]),
        );
        assert_eq!(rm, vec!["a".to_string()]);
        assert_eq!(set, t(&[("b", "3"), ("c", "4")]));
    }
}
