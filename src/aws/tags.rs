//! Tags: every AWS object carries the provider's `default_tags`, the
//! resource's `tags` (which win key by key) and the identifying tags that
//! read, import and cleanup search by. Keys starting with `aws:` are AWS's.

use std::collections::BTreeMap;

pub type Tags = BTreeMap<String, String>;

/// `tags_all`: default tags overlaid with the resource's own tags.
pub fn merge(default_tags: &Tags, tags: &Tags) -> Tags {
    let mut all = default_tags.clone();
    for (k, v) in tags {
        all.insert(k.clone(), v.clone());
    }
    all
}

/// What goes on an AWS object: `tags_all` plus the identifying tags.
pub fn with_identity(tags_all: &Tags, identity: &[(&str, &str)]) -> Tags {
    let mut t = tags_all.clone();
    for (k, v) in identity {
        t.insert((*k).to_string(), (*v).to_string());
    }
    t
}

/// Removes AWS-reserved keys and the given identifying keys, leaving the user's.
pub fn user_tags(all: &Tags, identity_keys: &[&str]) -> Tags {
    all.iter()
        .filter(|(k, _)| !k.starts_with("aws:") && !identity_keys.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The keys to remove and the tags to set to go from `old` to `new`.
pub fn diff(old: &Tags, new: &Tags) -> (Vec<String>, Tags) {
    let removed = old
        .keys()
        .filter(|k| !new.contains_key(*k) && !k.starts_with("aws:"))
        .cloned()
        .collect();
    let changed = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(v) && !k.starts_with("aws:"))
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
