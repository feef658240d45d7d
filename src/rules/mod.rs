//! Datomic Cloud domain rules, as data and pure functions.
//!
//! This module is where every rule the provider enforces lives. It knows
//! nothing about gRPC, the Terraform protocol or AWS: resources call these
//! functions at plan time (ValidateResourceConfig / PlanResourceChange) and turn
//! each [`Violation`] into a Terraform diagnostic on [`Violation::attribute`]
//! (plus [`Violation::index`] / [`Violation::key`] for list and map elements).
//!
//! # Instance sizes and nodes
//! [`INSTANCE_SIZES`] is the one table that schema, validation and docs read
//! ([`instance_size_table_markdown`] renders it):
//!
//! | Compute group | Allowed | Default | Nodes |
//! |---|---|---|---|
//! | solo primary | `t2.small` | `t2.small` | exactly 1, never HA |
//! | production primary | `i3.large`, `i3.xlarge` | `i3.large` | 2 by default, up to 10 by explicit choice, spread over availability zones; never autoscaled |
//! | query group | `t2.medium`, `m5.large`, `i3.large`, `i3.xlarge` | `t2.medium` | min/max/desired (max up to 100), autoscaled; more than 1 node is HA |
//!
//! # Rules (function -> attribute)
//! - Names ([`check_system_name`], [`check_query_group_name`] -> `name`):
//!   1-24 characters of `a-z`, `0-9` and `-`, starting with a letter, not
//!   ending with `-`, no `--`, not `datomic`; query groups also may not be
//!   named `primary`. This is our rule, stricter than Datomic's advice, so
//!   that every AWS name derived from it (see "Naming") stays valid: the
//!   trailing-hyphen and `--` bans keep `<system>-<group>` readable and keep
//!   S3's reserved `--...` suffixes out of bucket names.
//! - Application names ([`check_application_name`] -> `application_name` or
//!   `name`): same characters, 1-64 long, nothing reserved.
//! - Topology ([`parse_topology`], [`check_topology_change`] -> `topology`):
//!   `solo` or `production`; solo -> production is in place, production ->
//!   solo is refused.
//! - Instance type ([`check_instance_type`] -> `instance_type`): per table.
//! - Primary nodes ([`check_node_count`] -> `node_count`): solo exactly 1,
//!   production 2..=[`MAX_PRODUCTION_NODES`] (default 2).
//! - Query group capacity ([`check_capacity`] -> `min_size`, `max_size`,
//!   `desired_capacity`): `0 <= min <= max`, `1 <= max <= MAX_QUERY_GROUP_SIZE`,
//!   `min <= desired <= max` (desired defaults to min).
//! - Query groups attach only to production systems ([`check_query_group_target`] -> `system`).
//! - Transaction functions ([`check_transaction_functions`] -> `transaction_functions`):
//!   fully qualified `namespace/name`, primary compute group only.
//! - One application per compute group ([`check_application_matches_group`] -> `name`).
//! - Revision ([`check_revision`] -> `revision`): 1-128 characters, no whitespace or control characters.
//! - IAM policy ([`check_iam_policy`] -> `iam_policy`): an identity policy
//!   document (Version, Statement with Effect, Action/NotAction,
//!   Resource/NotResource, no Principal, actions named `service:action`);
//!   `Allow` never with `NotAction`/`NotResource`, `*`/`*:*` actions, IAM
//!   writes or `iam:PassRole` on every role (see `iam_policy.rs`).
//! - Node policy ([`check_node_policy_arn`] -> `node_policy_arn`): an IAM
//!   managed policy ARN, `arn:<partition>:iam::<account or aws>:policy/<path/name>`.
//! - Parameters ([`check_parameters`] -> `parameters["KEY"]`): environment variable names.
//! - Secret parameters ([`check_secret_parameters`] -> `secret_parameters_wo["KEY"]`):
//!   SSM name segments, values of 1-4096 characters; kept under [`secrets_path`].
//! - Tags ([`check_tags`] -> `tags["KEY"]`): AWS tag limits; `aws:` and `datomic:` prefixes reserved.
//!
//! # Naming and ids
//! Given names accepted by the checks above, every derived AWS name is valid
//! and no two systems or groups ever derive the same one: names never contain
//! `--`, so `--` joins a system and a group unambiguously. Auto Scaling group
//! and launch template `<system>--<group>` (`primary` for the primary compute
//! group), IAM role and instance profile `<system>--<group>-node` (<= 55 of
//! 64 characters), load balancer and target group `<system>-<group>-<hash>`
//! (Elastic Load Balancing refuses `--`; cut to 32 characters), security group
//! `datomic-<system>-nodes` (never starts with `sg-`), S3 bucket
//! `datomic-<system>-<account>-storage` (<= 63 lowercase characters),
//! DynamoDB table `datomic-<system>`. Ids: system `<name>`, query group
//! `<system>/<group>`, application `<system>/<group>/<app>`.
//!
//! # Ownership
//! A name is never proof of ownership: an AWS object belongs to a system (and
//! a group) only when its identity tags say so ([`ownership`](fn@ownership)). Objects with
//! our name and other tags are refused, never adopted, changed or deleted.
//!
//! # Files
//! This file holds [`Violation`] and the quoting helpers every rule's details
//! use; each rule lives in the file named for what it checks:
//! - `topology.rs`: [`Topology`], topology changes, where query groups attach.
//! - `sizes.rs`: [`ComputeRole`] and the instance-size table.
//! - `capacity.rs`: primary node count, query group capacity, autoscaling.
//! - `names.rs`: system, query group and application names.
//! - `application.rs`: one application per group, transaction functions, revisions.
//! - `iam_policy.rs`: an application's `iam_policy`.
//! - `node_policy.rs`: a compute group's `node_policy_arn`.
//! - `parameters.rs`: query group parameters.
//! - `tags.rs`: user tags.
//! - `client_access.rs`: client CIDR blocks, security groups and port.
//! - `client_endpoint.rs`: the DNS zone and names, endpoint URLs, client configuration.
//! - `aws_names.rs`: the AWS names derived from system and group names.
//! - `ids.rs`: resource ids and import ids.
//! - `ownership.rs`: identity tags and whether an AWS object is ours.

mod application;
mod aws_names;
mod capacity;
mod client_access;
mod client_endpoint;
mod deploy;
mod file_system;
mod iam_policy;
mod ids;
mod names;
mod node_policy;
mod ownership;
mod package;
mod parameters;
mod secrets;
mod sizes;
mod storage_key;
mod tags;
mod topology;
mod zones;

pub use application::{
    check_application_matches_group, check_revision, check_transaction_functions,
    compute_group_name, MAX_REVISION_LEN,
};
pub use aws_names::{
    application_policy_name, asg_name, bucket_name, catalog_table_name, instance_profile_name,
    launch_template_name, load_balancer_name, load_balancer_security_group_name, log_group_arn,
    log_group_name, node_boundary_name, node_role_name, node_role_of_group, security_group_name,
    table_name, NAME_JOIN, NODE_BOUNDARY_PATH,
};
pub use capacity::{
    check_autoscaling_conflicts, check_capacity, check_node_count, check_target_cpu_utilization,
    default_desired_capacity, default_node_count, DEFAULT_MAX_SIZE, DEFAULT_MIN_SIZE,
    MAX_PRODUCTION_NODES, MAX_QUERY_GROUP_SIZE,
};
pub use client_access::{check_cidr_block, check_security_group_id, open_to_everyone, CLIENT_PORT};
pub use client_endpoint::{
    client_config, dns_zone_name, endpoint_url, group_dns_name, same_dns_name, zone_caller_prefix,
    zone_caller_reference, ENTRY_RECORD, RECORD_TTL,
};
pub use deploy::{
    code_bucket_name, codedeploy_application_arn, deploy_role_name, deployment_failure,
    deployment_group_arn, deployment_group_name, revision_key, revision_not_pushed,
    revision_of_key, FailedEvent, DEPLOYMENT_CONFIG, DEPLOY_ROLE_POLICY, DEPLOY_ROLE_POLICY_NAME,
    DEPLOY_ROLE_TRUST, PUSH_HINT, TAG_CODE,
};
pub use file_system::{file_system_name, file_system_security_group_name, NFS_PORT};
pub use iam_policy::{check_iam_policy, IAM_POLICY_VERSIONS, MAX_IAM_POLICY_CHARS};
pub use ids::{
    application_id, parse_application_id, parse_query_group_id, parse_system_id, query_group_id,
    system_id,
};
pub use names::{
    check_application_name, check_query_group_name, check_system_name, group_label,
    MAX_APPLICATION_NAME_LEN, MAX_QUERY_GROUP_NAME_LEN, MAX_SYSTEM_NAME_LEN, PRIMARY_GROUP,
};
pub use node_policy::{check_node_policy_arn, NODE_POLICY_ARN};
pub use ownership::{
    not_ours_detail, ownership, Ownership, MANAGED_BY_VALUE, TAG_APPLICATION, TAG_CREATED,
    TAG_GROUP, TAG_MANAGED_BY, TAG_RETAIN_STORAGE, TAG_REVISION, TAG_SYSTEM, TAG_TOPOLOGY,
};
pub use package::{
    check_package_hash, package_changed_since_plan, package_damaged_in_upload,
    package_hash_mismatch, package_hash_without_package, package_unreadable,
    revision_holds_other_package, PACKAGE, PACKAGE_HASH,
};
pub use parameters::{check_parameters, MAX_PARAMETER_NAME_LEN};
pub use secrets::{
    check_secret_parameters, secret_parameter_name, secrets_path, secrets_policy,
    secrets_policy_name, MAX_SECRET_NAME_LEN, MAX_SECRET_VALUE_LEN, SECRETS_ROOT,
};
pub use sizes::{
    allowed_instance_types, check_instance_type, default_instance_type,
    instance_size_table_markdown, ComputeRole, InstanceSizeRule, INSTANCE_SIZES,
};
pub use storage_key::{key_alias, key_description, key_policy, KEY_DELETION_WINDOW_DAYS};
pub use tags::{check_tags, MAX_TAG_KEY_LEN, MAX_TAG_VALUE_LEN, MAX_USER_TAGS};
pub use topology::{check_query_group_target, check_topology_change, parse_topology, Topology};
pub use zones::{lacks_zones, zone_count, MIN_ZONES, WANTED_ZONES};

// ---------------------------------------------------------------------------
// Violation
// ---------------------------------------------------------------------------

/// A refused configuration: where it is, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{summary}: {detail}")]
pub struct Violation {
    /// Top-level attribute the problem is attached to, e.g. "instance_type".
    pub attribute: &'static str,
    /// Element index inside a list attribute (e.g. `transaction_functions[2]`), if any.
    pub index: Option<usize>,
    /// Map key inside a map attribute (e.g. parameters["FOO"]), if any.
    pub key: Option<String>,
    /// One sentence, like terraform-provider-aws summaries: "Invalid instance type for a production primary compute group".
    pub summary: String,
    /// Enough to fix it: what was given, what is allowed, and why.
    pub detail: String,
}

impl Violation {
    /// A violation on a whole attribute.
    pub fn new(
        attribute: &'static str,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Violation {
            attribute,
            index: None,
            key: None,
            summary: summary.into(),
            detail: detail.into(),
        }
    }

    /// The same violation, pointed at element `index` of a list attribute.
    pub fn at_index(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }

    /// The same violation, pointed at `key` of a map attribute.
    pub fn at_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Human-readable path, e.g. `instance_type`, `transaction_functions[2]`, `tags["Env"]`.
    pub fn path(&self) -> String {
        let mut path = self.attribute.to_string();
        if let Some(i) = self.index {
            path.push_str(&format!("[{i}]"));
        }
        if let Some(k) = &self.key {
            path.push_str(&format!("[{k:?}]"));
        }
        path
    }
}

/// Longest given value quoted in full inside a detail; longer ones are shortened.
const QUOTE_LIMIT: usize = 80;

/// Quote a given value for a detail: escaped like a string literal, shortened when long.
fn q(s: &str) -> String {
    let len = s.chars().count();
    if len <= QUOTE_LIMIT {
        return format!("{s:?}");
    }
    let head: String = s.chars().take(QUOTE_LIMIT).collect();
    format!("{head:?}... ({len} characters)")
}

/// `"a", "b", "c"`.
fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Helpers the rules' tests share.
#[cfg(test)]
mod testing {
    use std::collections::BTreeMap;
    use std::fmt;

    use super::Violation;

    /// Assert attribute and that the detail mentions every needle.
    pub(super) fn assert_v(v: &Violation, attribute: &str, needles: &[&str]) {
        assert_eq!(v.attribute, attribute, "{v:?}");
        assert!(!v.summary.is_empty() && !v.summary.ends_with('.'), "{v:?}");
        for n in needles {
            assert!(v.detail.contains(n), "detail lacks {n:?}: {}", v.detail);
        }
        assert!(
            v.detail.contains("Allowed") || v.detail.contains("Expected"),
            "{}",
            v.detail
        );
    }

    pub(super) fn err<T: fmt::Debug>(r: Result<T, Violation>) -> Violation {
        r.expect_err("expected a violation")
    }

    pub(super) fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::err;
    use super::*;

    #[test]
    fn long_values_are_shortened_in_details() {
        let v = err(check_system_name(&"x".repeat(1000)));
        assert!(v.detail.contains("(1000 characters)"));
        assert!(v.detail.len() < 1000);
    }

    #[test]
    fn violation_display_and_path() {
        let v = Violation::new("tags", "Invalid tag", "bad").at_key("Env");
        assert_eq!(v.to_string(), "Invalid tag: bad");
        assert_eq!(v.path(), "tags[\"Env\"]");
        assert_eq!(Violation::new("x", "s", "d").path(), "x");
        assert_eq!(Violation::new("x", "s", "d").at_index(3).path(), "x[3]");
    }
}
