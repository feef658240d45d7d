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
//!   writes or `iam:PassRole` on every role (see `rules/iam_policy.rs`).
//! - Parameters ([`check_parameters`] -> `parameters["KEY"]`): environment variable names.
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
//! a group) only when its identity tags say so ([`ownership`]). Objects with
//! our name and other tags are refused, never adopted, changed or deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

// ---------------------------------------------------------------------------
// Violation
// ---------------------------------------------------------------------------

/// A refused configuration: where it is, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{summary}: {detail}")]
pub struct Violation {
    /// Top-level attribute the problem is attached to, e.g. "instance_type".
    pub attribute: &'static str,
    /// Element index inside a list attribute (e.g. transaction_functions[2]), if any.
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

// ---------------------------------------------------------------------------
// Topology, compute roles, instance sizes
// ---------------------------------------------------------------------------

/// A system's topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topology {
    Solo,
    Production,
}

impl Topology {
    /// All topologies, in the order docs list them.
    pub const ALL: [Topology; 2] = [Topology::Solo, Topology::Production];

    /// `"solo"` / `"production"`; anything else is `None` (see [`parse_topology`]).
    pub fn parse(s: &str) -> Option<Topology> {
        Topology::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Topology::Solo => "solo",
            Topology::Production => "production",
        }
    }

    /// The role of this topology's primary compute group.
    pub fn primary_role(self) -> ComputeRole {
        match self {
            Topology::Solo => ComputeRole::SoloPrimary,
            Topology::Production => ComputeRole::ProductionPrimary,
        }
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a compute group is, which decides its allowed sizes and node rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComputeRole {
    SoloPrimary,
    ProductionPrimary,
    QueryGroup,
}

impl ComputeRole {
    /// All roles, in table order.
    pub const ALL: [ComputeRole; 3] = [
        ComputeRole::SoloPrimary,
        ComputeRole::ProductionPrimary,
        ComputeRole::QueryGroup,
    ];

    /// This role's row of [`INSTANCE_SIZES`].
    pub fn sizes(self) -> &'static InstanceSizeRule {
        match self {
            ComputeRole::SoloPrimary => &SOLO_PRIMARY_SIZES,
            ComputeRole::ProductionPrimary => &PRODUCTION_PRIMARY_SIZES,
            ComputeRole::QueryGroup => &QUERY_GROUP_SIZES,
        }
    }

    /// Short table label, e.g. "production primary".
    pub fn label(self) -> &'static str {
        self.sizes().label
    }

    /// In words for details, e.g. "a production system's primary compute group".
    pub fn description(self) -> &'static str {
        match self {
            ComputeRole::SoloPrimary => "a solo system's primary compute group",
            ComputeRole::ProductionPrimary => "a production system's primary compute group",
            ComputeRole::QueryGroup => "a query group",
        }
    }

    /// For summaries, e.g. "a production primary compute group".
    fn summary_noun(self) -> &'static str {
        match self {
            ComputeRole::SoloPrimary => "a solo primary compute group",
            ComputeRole::ProductionPrimary => "a production primary compute group",
            ComputeRole::QueryGroup => "a query group",
        }
    }
}

/// One row of the instance-size table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceSizeRule {
    pub role: ComputeRole,
    /// Table label, e.g. "production primary".
    pub label: &'static str,
    /// Instance types Datomic Cloud supports for this role.
    pub allowed: &'static [&'static str],
    /// Used when `instance_type` is unset.
    pub default: &'static str,
    /// The node rule, in words (docs and details).
    pub nodes: &'static str,
    /// Why only these sizes (ends details).
    pub why: &'static str,
}

const SOLO_PRIMARY_SIZES: InstanceSizeRule = InstanceSizeRule {
    role: ComputeRole::SoloPrimary,
    label: "solo primary",
    allowed: &["t2.small"],
    default: "t2.small",
    nodes: "exactly 1, never HA",
    why: "a solo system is one small node for development; for larger nodes use topology \"production\"",
};

const PRODUCTION_PRIMARY_SIZES: InstanceSizeRule = InstanceSizeRule {
    role: ComputeRole::ProductionPrimary,
    label: "production primary",
    allowed: &["i3.large", "i3.xlarge"],
    default: "i3.large",
    nodes: "2 by default, up to 10 by explicit choice, spread over availability zones; never autoscaled",
    why: "Datomic Cloud supports only these sizes for production primary nodes",
};

const QUERY_GROUP_SIZES: InstanceSizeRule = InstanceSizeRule {
    role: ComputeRole::QueryGroup,
    label: "query group",
    allowed: &["t2.medium", "m5.large", "i3.large", "i3.xlarge"],
    default: "t2.medium",
    nodes: "min/max/desired (max up to 100), autoscaled; more than 1 node is HA",
    why: "Datomic Cloud supports only these sizes for query groups",
};

/// The instance-size table: one row per [`ComputeRole`], in [`ComputeRole::ALL`] order.
pub const INSTANCE_SIZES: &[InstanceSizeRule] = &[
    SOLO_PRIMARY_SIZES,
    PRODUCTION_PRIMARY_SIZES,
    QUERY_GROUP_SIZES,
];

/// Instance types allowed for `role`.
pub fn allowed_instance_types(role: ComputeRole) -> &'static [&'static str] {
    role.sizes().allowed
}

/// Instance type used when `instance_type` is unset.
pub fn default_instance_type(role: ComputeRole) -> &'static str {
    role.sizes().default
}

/// The instance-size table as a markdown table, for generated docs.
pub fn instance_size_table_markdown() -> String {
    let mut out =
        String::from("| Compute group | Allowed | Default | Nodes |\n|---|---|---|---|\n");
    for row in INSTANCE_SIZES {
        let allowed = row
            .allowed
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "| {} | {} | `{}` | {} |\n",
            row.label, allowed, row.default, row.nodes
        ));
    }
    out
}

/// Refuses an `instance_type` the table does not allow for `role`.
pub fn check_instance_type(role: ComputeRole, instance_type: &str) -> Result<(), Violation> {
    let row = role.sizes();
    if row.allowed.contains(&instance_type) {
        return Ok(());
    }
    Err(Violation::new(
        "instance_type",
        format!("Invalid instance type for {}", role.summary_noun()),
        format!(
            "{} is not a supported size for {}. Allowed: {} ({}).",
            q(instance_type),
            role.description(),
            quoted_list(row.allowed),
            row.why
        ),
    ))
}

/// `solo`/`production`, or a violation on `topology` listing both.
pub fn parse_topology(s: &str) -> Result<Topology, Violation> {
    Topology::parse(s).ok_or_else(|| {
        let allowed: Vec<&str> = Topology::ALL.iter().map(|t| t.as_str()).collect();
        Violation::new(
            "topology",
            "Invalid topology",
            format!(
                "{} is not a Datomic Cloud topology. Allowed: {} (\"solo\" is one small node for development; \"production\" is highly available with query groups).",
                q(s),
                quoted_list(&allowed)
            ),
        )
    })
}

/// Refuses production -> solo; every other change (or none) is fine in place.
pub fn check_topology_change(from: Topology, to: Topology) -> Result<(), Violation> {
    if !(from == Topology::Production && to == Topology::Solo) {
        return Ok(());
    }
    Err(Violation::new(
        "topology",
        "Cannot change a production system to solo",
        "Given topology \"solo\" for a system that is \"production\". Allowed: \"production\" (a system can only move solo -> production in place). Going back to solo would drop high availability and capacity, and query groups cannot run on a solo system. To do it on purpose, create a new solo datomic_system with a different name and move the applications to it, then destroy this system (its storage is retained by default).",
    ))
}

/// Query groups attach only to production systems.
pub fn check_query_group_target(system: &str, system_topology: Topology) -> Result<(), Violation> {
    if system_topology == Topology::Production {
        return Ok(());
    }
    Err(Violation::new(
        "system",
        "Query groups require a production system",
        format!(
            "System {} has topology {}. Allowed: a system with topology \"production\" (a solo system is a single node and cannot host query groups). Change the system's topology to \"production\" (in place, no data loss) or point this query group at a production system.",
            q(system),
            q(system_topology.as_str())
        ),
    ))
}

// ---------------------------------------------------------------------------
// Node count and capacity
// ---------------------------------------------------------------------------

/// Upper bound of a production primary group's `node_count` (this provider's rule).
pub const MAX_PRODUCTION_NODES: i64 = 10;
/// Upper bound of a query group's `max_size` (this provider's rule).
pub const MAX_QUERY_GROUP_SIZE: i64 = 100;
/// Query group `min_size` when unset.
pub const DEFAULT_MIN_SIZE: i64 = 1;
/// Query group `max_size` when unset.
pub const DEFAULT_MAX_SIZE: i64 = 1;

/// `node_count` when unset: 1 for solo, 2 for production.
pub fn default_node_count(topology: Topology) -> i64 {
    match topology {
        Topology::Solo => 1,
        Topology::Production => 2,
    }
}

/// Solo: exactly 1. Production: 2..=[`MAX_PRODUCTION_NODES`].
pub fn check_node_count(topology: Topology, n: i64) -> Result<(), Violation> {
    match topology {
        Topology::Solo if n != 1 => Err(Violation::new(
            "node_count",
            "Invalid node count for a solo system",
            format!(
                "Given node_count {n}. Allowed: 1 (a solo system runs exactly one node and is never highly available; for more nodes use topology \"production\")."
            ),
        )),
        Topology::Production if !(2..=MAX_PRODUCTION_NODES).contains(&n) => Err(Violation::new(
            "node_count",
            "Invalid node count for a production system",
            format!(
                "Given node_count {n}. Allowed: 2 to {MAX_PRODUCTION_NODES} (a production primary group needs at least 2 nodes spread over availability zones to be highly available; the upper bound is this provider's guard against launching many i3 instances by mistake)."
            ),
        )),
        _ => Ok(()),
    }
}

/// `desired_capacity` when unset: `min_size`.
pub fn default_desired_capacity(min: i64, desired: Option<i64>) -> i64 {
    desired.unwrap_or(min)
}

/// Target-tracking autoscaling of a query group: the average CPU
/// utilization (percent) AWS keeps the group at, 1-100 exclusive of 0.
pub fn check_target_cpu_utilization(target: f64) -> Result<(), Violation> {
    if target > 0.0 && target <= 100.0 {
        Ok(())
    } else {
        Err(Violation::new(
            "autoscaling",
            "Invalid autoscaling target",
            format!("target_cpu_utilization {target} is not a percentage. Allowed: more than 0 and at most 100 (AWS keeps the group's average CPU utilization near this value)."),
        ))
    }
}

/// With autoscaling, AWS owns the group's desired capacity.
pub fn check_autoscaling_conflicts(
    has_autoscaling: bool,
    desired_set: bool,
) -> Result<(), Violation> {
    if has_autoscaling && desired_set {
        Err(Violation::new(
            "desired_capacity",
            "Conflicting capacity settings",
            "desired_capacity cannot be set together with an autoscaling block: the target-tracking policy decides the number of nodes between min_size and max_size. Remove desired_capacity.",
        ))
    } else {
        Ok(())
    }
}

/// Query group capacity: `0 <= min <= max`, `1 <= max <= MAX_QUERY_GROUP_SIZE`,
/// `min <= desired <= max`. Every problem found is returned.
pub fn check_capacity(min: i64, max: i64, desired: Option<i64>) -> Vec<Violation> {
    let mut out = Vec::new();
    let min_ok = min >= 0;
    let max_ok = (1..=MAX_QUERY_GROUP_SIZE).contains(&max);
    if !min_ok {
        out.push(Violation::new(
            "min_size",
            "Invalid query group minimum size",
            format!("Given min_size {min}. Allowed: 0 to max_size ({max}); a group cannot have fewer than 0 nodes."),
        ));
    }
    if !max_ok {
        out.push(Violation::new(
            "max_size",
            "Invalid query group maximum size",
            format!("Given max_size {max}. Allowed: 1 to {MAX_QUERY_GROUP_SIZE} (a query group needs room for at least one node; the upper bound is this provider's guard against runaway scaling)."),
        ));
    }
    if min_ok && max_ok && min > max {
        out.push(Violation::new(
            "min_size",
            "Query group minimum size exceeds maximum size",
            format!("Given min_size {min} with max_size {max}. Allowed: min_size at most max_size; raise max_size or lower min_size."),
        ));
    }
    if let Some(d) = desired {
        if min <= max && !(min..=max).contains(&d) {
            out.push(Violation::new(
                "desired_capacity",
                "Query group desired capacity out of range",
                format!("Given desired_capacity {d}. Allowed: {min} to {max} (between min_size and max_size; unset means min_size)."),
            ));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

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

/// A query group name (attribute `name`); `primary` is reserved.
pub fn check_query_group_name(name: &str) -> Result<(), Violation> {
    QUERY_GROUP_NAME_RULE.check("name", name)
}

/// An application name; `attribute` is `application_name` on systems and
/// query groups, `name` on applications.
pub fn check_application_name(attribute: &'static str, name: &str) -> Result<(), Violation> {
    APPLICATION_NAME_RULE.check(attribute, name)
}

// ---------------------------------------------------------------------------
// Applications
// ---------------------------------------------------------------------------

/// The compute group an application targets: `None` is the primary group.
pub fn compute_group_name(compute_group: Option<&str>) -> &str {
    compute_group.unwrap_or(PRIMARY_GROUP)
}

/// Words for a compute group in details, e.g. `query group "dev" of system "prod"`.
pub fn group_label(system: &str, group: &str) -> String {
    if group == PRIMARY_GROUP {
        format!("primary compute group of system {}", q(system))
    } else {
        format!("query group {} of system {}", q(group), q(system))
    }
}

/// Each compute group runs exactly one application: the group's application
/// name must equal the application's `name`. `group_label` comes from [`group_label`].
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

// ---------------------------------------------------------------------------
// IAM policy
// ---------------------------------------------------------------------------

mod iam_policy;
pub use iam_policy::{check_iam_policy, IAM_POLICY_VERSIONS, MAX_IAM_POLICY_CHARS};

// ---------------------------------------------------------------------------
// Parameters and tags
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// AWS names and tag keys
// ---------------------------------------------------------------------------

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

/// What joins a system's name and a group's in derived names. Names never
/// contain it ([`check_system_name`], [`check_query_group_name`]), so no two
/// (system, group) pairs derive the same name: system `a` with group
/// `b-primary` is `a--b-primary`, system `a-b`'s primary group `a-b--primary`.
pub const NAME_JOIN: &str = "--";

/// Auto Scaling group: `<system>--<group>`, e.g. `prod--primary`, `prod--analytics`.
pub fn asg_name(system: &str, group: &str) -> String {
    format!("{system}{NAME_JOIN}{group}")
}

/// A warning for a client CIDR block open to the whole internet (`/0`):
/// allowed, as the nodes sit in private subnets behind an internal load
/// balancer, but rarely what a team means.
pub fn open_to_everyone(cidr: &str) -> Option<Violation> {
    let all = cidr
        .split_once('/')
        .is_some_and(|(ip, bits)| bits.trim() == "0" && (ip.contains('.') || ip.contains(':')));
    all.then(|| {
        Violation::new(
            "client_cidr_blocks",
            "Client access open to every address",
            format!("{cidr:?} admits clients from every address to port {CLIENT_PORT} of the system's nodes. Allowed, but usually a narrower block (the clients' VPC or subnets) or client_security_group_ids is meant."),
        )
    })
}

/// A client CIDR block (`client_cidr_blocks`): IPv4 `a.b.c.d/n`.
pub fn check_cidr_block(index: usize, cidr: &str) -> Result<(), Violation> {
    let ok = cidr.split_once('/').is_some_and(|(ip, bits)| {
        ip.parse::<std::net::Ipv4Addr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 32)
    });
    if ok {
        Ok(())
    } else {
        Err(Violation::new(
            "client_cidr_blocks",
            "Invalid CIDR block",
            format!("{cidr:?} is not an IPv4 CIDR block such as \"10.0.0.0/16\"."),
        )
        .at_index(index))
    }
}

/// A client security group id (`client_security_group_ids`): `sg-` and hex.
pub fn check_security_group_id(index: usize, id: &str) -> Result<(), Violation> {
    let hex = id.strip_prefix("sg-").unwrap_or_default();
    if !hex.is_empty() && hex.len() <= 17 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Violation::new(
            "client_security_group_ids",
            "Invalid security group id",
            format!("{id:?} is not a security group id such as \"sg-0123456789abcdef0\"."),
        )
        .at_index(index))
    }
}

/// The port Datomic clients connect to, on each compute group's load balancer.
pub const CLIENT_PORT: i32 = 8182;

/// Load balancer and target group of a compute group: Elastic Load
/// Balancing allows at most 32 letters, digits and single hyphens (no `--`),
/// not starting with `internal-`. So the name is `<system>-<group>`, cut to
/// fit, then a hash of `<system>--<group>` (FNV-1a, 32 bits, 8 hex digits):
/// `acme-primary-1a2b3c4d`. The readable part alone could be shared (system
/// `a` with group `b-primary`, system `a-b` with `primary`); the hash keeps
/// them apart, and the ownership tags refuse the one case in four billion.
pub fn load_balancer_name(system: &str, group: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in asg_name(system, group).bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let mut readable = format!("{system}-{group}");
    if readable.starts_with("internal-") {
        readable.insert_str(0, "dtm-");
    }
    let prefix: String = readable.chars().take(32 - 9).collect();
    format!("{}-{h:08x}", prefix.trim_end_matches('-'))
}

/// Launch template: `<system>--<group>` (own namespace, same as the group).
pub fn launch_template_name(system: &str, group: &str) -> String {
    asg_name(system, group)
}

/// The system's node security group: `datomic-<system>-nodes` (EC2 refuses names starting with `sg-`).
pub fn security_group_name(system: &str) -> String {
    format!("datomic-{system}-nodes")
}

/// IAM role of a compute group's nodes: `<system>--<group>-node` (at most 55 of IAM's 64 characters).
pub fn node_role_name(system: &str, group: &str) -> String {
    node_role_of_group(&asg_name(system, group))
}

/// The node role of the compute group whose Auto Scaling group is `asg`.
pub fn node_role_of_group(asg: &str) -> String {
    format!("{asg}-node")
}

/// Instance profile of a compute group's nodes: same name as its role.
pub fn instance_profile_name(system: &str, group: &str) -> String {
    node_role_name(system, group)
}

/// Inline policy name for an application's `iam_policy` on the node role: `datomic-app-<application>`.
pub fn application_policy_name(application: &str) -> String {
    format!("datomic-app-{application}")
}

/// Longest S3 bucket name.
const MAX_BUCKET_NAME_LEN: usize = 63;

/// S3 bucket: `datomic-<system>-<suffix>-storage`, at most 63 characters.
/// The suffix (usually the AWS account id, to make the name globally unique)
/// is lowercased, every run of other characters than `a-z0-9` becomes one
/// `-`, and it is shortened to fit; an empty suffix is left out.
pub fn bucket_name(system: &str, account_or_suffix: &str) -> String {
    let head = format!("datomic-{system}-");
    let tail = "storage";
    let room = MAX_BUCKET_NAME_LEN.saturating_sub(head.len() + tail.len() + 1);
    let suffix = sanitize_bucket_part(account_or_suffix, room);
    if suffix.is_empty() {
        format!("{head}{tail}")
    } else {
        format!("{head}{suffix}-{tail}")
    }
}

/// Lowercase `a-z0-9` runs joined by single hyphens, at most `room` characters, no edge hyphens.
fn sanitize_bucket_part(s: &str, room: usize) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(room.min(out.len()));
    out.trim_end_matches('-').to_string()
}

/// DynamoDB table: `datomic-<system>`.
pub fn table_name(system: &str) -> String {
    format!("datomic-{system}")
}

// ---------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------

/// System id: its name.
pub fn system_id(name: &str) -> String {
    name.to_string()
}

/// Query group id: `<system>/<group>`.
pub fn query_group_id(system: &str, group: &str) -> String {
    format!("{system}/{group}")
}

/// Application id: `<system>/<group>/<app>` (`primary` for the primary compute group).
pub fn application_id(system: &str, group: &str, app: &str) -> String {
    format!("{system}/{group}/{app}")
}

/// Turn a name violation into one on the `id` attribute, naming the id and its form.
fn id_violation(id: &str, form: &str, example: &str, problem: String) -> Violation {
    Violation::new(
        "id",
        "Invalid import id",
        format!(
            "{} is not a valid id: {problem}. Expected {form}, e.g. {example:?}.",
            q(id)
        ),
    )
}

fn id_part(
    id: &str,
    form: &str,
    example: &str,
    part: &str,
    check: Result<(), Violation>,
) -> Result<(), Violation> {
    check.map_err(|v| {
        id_violation(
            id,
            form,
            example,
            format!("its {part} part is invalid ({})", v.detail),
        )
    })
}

/// Split `id` into exactly `N` non-empty `/`-separated parts.
fn split_id<'a, const N: usize>(
    id: &'a str,
    form: &str,
    example: &str,
) -> Result<[&'a str; N], Violation> {
    let parts: Vec<&str> = id.split('/').collect();
    let count = parts.len();
    let parts: [&str; N] = parts.try_into().map_err(|_| {
        id_violation(
            id,
            form,
            example,
            format!("it has {count} part(s) separated by \"/\", not {N}"),
        )
    })?;
    match parts.iter().position(|p| p.is_empty()) {
        Some(i) => Err(id_violation(
            id,
            form,
            example,
            format!("part {} is empty", i + 1),
        )),
        None => Ok(parts),
    }
}

/// A system import id: the system name.
pub fn parse_system_id(id: &str) -> Result<String, Violation> {
    id_part(id, "\"<system>\"", "prod", "system", check_system_name(id))?;
    Ok(id.to_string())
}

/// A query group import id `<system>/<group>`.
pub fn parse_query_group_id(id: &str) -> Result<(String, String), Violation> {
    const FORM: &str = "\"<system>/<group>\"";
    const EXAMPLE: &str = "prod/analytics";
    let [system, group] = split_id(id, FORM, EXAMPLE)?;
    id_part(id, FORM, EXAMPLE, "system", check_system_name(system))?;
    if group == PRIMARY_GROUP {
        return Err(id_violation(
            id,
            FORM,
            EXAMPLE,
            "the primary compute group is part of datomic_system; import the system by its name instead".into(),
        ));
    }
    id_part(id, FORM, EXAMPLE, "group", check_query_group_name(group))?;
    Ok((system.to_string(), group.to_string()))
}

/// An application import id `<system>/<group>/<app>` (`primary` for the primary compute group).
pub fn parse_application_id(id: &str) -> Result<(String, String, String), Violation> {
    const FORM: &str =
        "\"<system>/<group>/<application>\" (group \"primary\" for the primary compute group)";
    const EXAMPLE: &str = "prod/primary/tx";
    let [system, group, app] = split_id(id, FORM, EXAMPLE)?;
    id_part(id, FORM, EXAMPLE, "system", check_system_name(system))?;
    if group != PRIMARY_GROUP {
        id_part(id, FORM, EXAMPLE, "group", check_query_group_name(group))?;
    }
    id_part(
        id,
        FORM,
        EXAMPLE,
        "application",
        check_application_name("name", app),
    )?;
    Ok((system.to_string(), group.to_string(), app.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Assert attribute and that the detail mentions every needle.
    fn assert_v(v: &Violation, attribute: &str, needles: &[&str]) {
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

    fn err<T: fmt::Debug>(r: Result<T, Violation>) -> Violation {
        r.expect_err("expected a violation")
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    // --- table -------------------------------------------------------------

    #[test]
    fn table_has_one_consistent_row_per_role() {
        assert_eq!(INSTANCE_SIZES.len(), ComputeRole::ALL.len());
        for (row, role) in INSTANCE_SIZES.iter().zip(ComputeRole::ALL) {
            assert_eq!(row.role, role);
            assert_eq!(role.sizes(), row);
            assert!(row.allowed.contains(&row.default), "{role:?}");
            assert_eq!(allowed_instance_types(role), row.allowed);
            assert_eq!(default_instance_type(role), row.default);
            assert!(check_instance_type(role, default_instance_type(role)).is_ok());
        }
        assert_eq!(default_instance_type(ComputeRole::SoloPrimary), "t2.small");
        assert_eq!(
            default_instance_type(ComputeRole::ProductionPrimary),
            "i3.large"
        );
        assert_eq!(default_instance_type(ComputeRole::QueryGroup), "t2.medium");
        assert_eq!(
            allowed_instance_types(ComputeRole::QueryGroup),
            ["t2.medium", "m5.large", "i3.large", "i3.xlarge"]
        );
    }

    #[test]
    fn node_texts_name_the_bounds() {
        assert!(ComputeRole::ProductionPrimary
            .sizes()
            .nodes
            .contains(&format!("up to {MAX_PRODUCTION_NODES}")));
        assert!(ComputeRole::QueryGroup
            .sizes()
            .nodes
            .contains(&format!("up to {MAX_QUERY_GROUP_SIZE}")));
    }

    #[test]
    fn markdown_table_renders_every_row_and_matches_module_doc() {
        let md = instance_size_table_markdown();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines.len(), 2 + INSTANCE_SIZES.len());
        assert_eq!(lines[0], "| Compute group | Allowed | Default | Nodes |");
        assert_eq!(lines[3], "| production primary | `i3.large`, `i3.xlarge` | `i3.large` | 2 by default, up to 10 by explicit choice, spread over availability zones; never autoscaled |");
        let source = include_str!("mod.rs");
        for line in lines {
            assert!(
                source.contains(&format!("//! {line}\n")),
                "module doc out of date: {line}"
            );
        }
    }

    // --- topology ------------------------------------------------------------

    #[test]
    fn topology_parses_and_prints() {
        for t in Topology::ALL {
            assert_eq!(Topology::parse(t.as_str()), Some(t));
            assert_eq!(parse_topology(&t.to_string()), Ok(t));
        }
        assert_eq!(Topology::Solo.primary_role(), ComputeRole::SoloPrimary);
        assert_eq!(
            Topology::Production.primary_role(),
            ComputeRole::ProductionPrimary
        );
        assert_eq!(Topology::parse("Production"), None);
        let v = err(parse_topology("prod"));
        assert_v(&v, "topology", &["\"prod\"", "\"solo\", \"production\""]);
    }

    #[test]
    fn topology_change_only_upward() {
        use Topology::*;
        for (from, to) in [(Solo, Solo), (Solo, Production), (Production, Production)] {
            assert!(check_topology_change(from, to).is_ok());
        }
        let v = err(check_topology_change(Production, Solo));
        assert_v(
            &v,
            "topology",
            &[
                "\"solo\"",
                "\"production\"",
                "high availability",
                "new solo",
                "different name",
                "retained",
            ],
        );
    }

    #[test]
    fn query_groups_need_production() {
        assert!(check_query_group_target("prod", Topology::Production).is_ok());
        let v = err(check_query_group_target("dev", Topology::Solo));
        assert_v(&v, "system", &["\"dev\"", "\"solo\"", "\"production\""]);
    }

    // --- instance types and nodes ------------------------------------------------

    #[test]
    fn instance_types_per_role() {
        for role in ComputeRole::ALL {
            for t in allowed_instance_types(role) {
                assert!(check_instance_type(role, t).is_ok());
            }
        }
        let v = err(check_instance_type(
            ComputeRole::ProductionPrimary,
            "i3.2xlarge",
        ));
        assert_eq!(
            v.summary,
            "Invalid instance type for a production primary compute group"
        );
        assert_eq!(v.detail, "\"i3.2xlarge\" is not a supported size for a production system's primary compute group. Allowed: \"i3.large\", \"i3.xlarge\" (Datomic Cloud supports only these sizes for production primary nodes).");
        assert_v(
            &err(check_instance_type(ComputeRole::SoloPrimary, "i3.large")),
            "instance_type",
            &["\"i3.large\"", "\"t2.small\"", "solo system"],
        );
        assert_v(
            &err(check_instance_type(ComputeRole::QueryGroup, "t2.small")),
            "instance_type",
            &["\"t2.small\"", "\"m5.large\"", "query group"],
        );
        assert!(check_instance_type(ComputeRole::QueryGroup, "").is_err());
    }

    #[test]
    fn node_counts() {
        assert_eq!(default_node_count(Topology::Solo), 1);
        assert_eq!(default_node_count(Topology::Production), 2);
        assert!(check_node_count(Topology::Solo, 1).is_ok());
        for n in [0, 2, -1] {
            assert_v(
                &err(check_node_count(Topology::Solo, n)),
                "node_count",
                &[&n.to_string(), "Allowed: 1"],
            );
        }
        for n in [2, 3, MAX_PRODUCTION_NODES] {
            assert!(check_node_count(Topology::Production, n).is_ok());
        }
        for n in [1, 0, MAX_PRODUCTION_NODES + 1, i64::MAX] {
            assert_v(
                &err(check_node_count(Topology::Production, n)),
                "node_count",
                &[&n.to_string(), "2 to 10", "availability zones"],
            );
        }
    }

    #[test]
    fn capacity_accepted() {
        assert!(check_capacity(DEFAULT_MIN_SIZE, DEFAULT_MAX_SIZE, None).is_empty());
        assert!(check_capacity(0, 1, Some(0)).is_empty());
        assert!(check_capacity(2, 8, Some(5)).is_empty());
        assert!(check_capacity(
            MAX_QUERY_GROUP_SIZE,
            MAX_QUERY_GROUP_SIZE,
            Some(MAX_QUERY_GROUP_SIZE)
        )
        .is_empty());
        assert_eq!(default_desired_capacity(3, None), 3);
        assert_eq!(default_desired_capacity(3, Some(4)), 4);
    }

    #[test]
    fn capacity_refused() {
        let attrs = |vs: Vec<Violation>| vs.iter().map(|v| v.attribute).collect::<Vec<_>>();
        let v = check_capacity(-1, 2, None);
        assert_eq!(attrs(v.clone()), ["min_size"]);
        assert_v(&v[0], "min_size", &["-1", "0 to"]);
        let v = check_capacity(0, 0, None);
        assert_v(&v[0], "max_size", &["max_size 0", "1 to 100"]);
        assert_eq!(
            attrs(check_capacity(1, MAX_QUERY_GROUP_SIZE + 1, None)),
            ["max_size"]
        );
        let v = check_capacity(3, 2, Some(9));
        assert_eq!(attrs(v.clone()), ["min_size"]);
        assert_v(&v[0], "min_size", &["min_size 3", "max_size 2"]);
        let v = check_capacity(2, 4, Some(5));
        assert_eq!(attrs(v.clone()), ["desired_capacity"]);
        assert_v(&v[0], "desired_capacity", &["5", "2 to 4"]);
        assert_eq!(attrs(check_capacity(2, 4, Some(1))), ["desired_capacity"]);
        assert_eq!(
            attrs(check_capacity(-1, 0, Some(-5))),
            ["min_size", "max_size", "desired_capacity"]
        );
    }

    // --- names ---------------------------------------------------------------

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

    #[test]
    fn long_values_are_shortened_in_details() {
        let v = err(check_system_name(&"x".repeat(1000)));
        assert!(v.detail.contains("(1000 characters)"));
        assert!(v.detail.len() < 1000);
    }

    // --- applications ----------------------------------------------------------

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

    // --- parameters and tags -----------------------------------------------------

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

    // --- naming and ids ----------------------------------------------------------

    const LONGEST_SYSTEM: &str = "abcdefghijklmnopqrstuvwx";
    const LONGEST_GROUP: &str = "zyxwvutsrqponmlkjihgfedc";

    fn is_valid_bucket(b: &str) -> bool {
        (3..=63).contains(&b.len())
            && b.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !b.starts_with('-')
            && !b.ends_with('-')
            && !b.contains("--")
            && !b.starts_with("xn--")
            && !b.starts_with("sthree-")
            && !b.ends_with("-s3alias")
    }

    fn is_valid_iam_name(n: &str) -> bool {
        (1..=64).contains(&n.len())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    }

    #[test]
    fn derived_names_never_collide_across_systems() {
        // The collisions `<system>-<group>` allowed: system "a" with group
        // "b-primary" against system "a-b"'s primary group, and "a"/"b-c"
        // against "a-b"/"c".
        let pairs = [
            ("a", "b-primary"),
            ("a-b", PRIMARY_GROUP),
            ("a", "b-c"),
            ("a-b", "c"),
        ];
        for (i, (s1, g1)) in pairs.iter().enumerate() {
            for (s2, g2) in pairs.iter().skip(i + 1) {
                for f in [
                    asg_name,
                    node_role_name,
                    launch_template_name,
                    load_balancer_name,
                ] {
                    assert_ne!(f(s1, g1), f(s2, g2), "{s1}/{g1} vs {s2}/{g2}");
                }
            }
        }
        // Names can never contain the separator, so it splits them back.
        assert!(check_system_name("a--b").is_err());
        assert!(check_query_group_name("b--c").is_err());
        let joined = asg_name("a-b", "c-d");
        assert_eq!(joined.split_once(NAME_JOIN), Some(("a-b", "c-d")));
    }

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

    #[test]
    fn aws_names() {
        assert_eq!(asg_name("prod", PRIMARY_GROUP), "prod--primary");
        assert_eq!(asg_name("prod", "analytics"), "prod--analytics");
        assert_eq!(launch_template_name("prod", "analytics"), "prod--analytics");
        assert_eq!(security_group_name("sg-x"), "datomic-sg-x-nodes");
        assert_eq!(node_role_name("prod", PRIMARY_GROUP), "prod--primary-node");
        assert_eq!(instance_profile_name("prod", "dev"), "prod--dev-node");
        assert_eq!(application_policy_name("web"), "datomic-app-web");
        assert_eq!(table_name("prod"), "datomic-prod");
        assert_eq!(
            bucket_name("prod", "123456789012"),
            "datomic-prod-123456789012-storage"
        );
        assert_eq!(bucket_name("prod", ""), "datomic-prod-storage");
        assert_eq!(
            bucket_name("prod", "--My_Suffix!!x--"),
            "datomic-prod-my-suffix-x-storage"
        );
        assert_eq!(
            bucket_name("prod", "-s3alias"),
            "datomic-prod-s3alias-storage"
        );
    }

    #[test]
    fn longest_names_stay_valid_aws_names() {
        assert!(check_system_name(LONGEST_SYSTEM).is_ok());
        assert!(check_query_group_name(LONGEST_GROUP).is_ok());
        let longest_app = "a".repeat(MAX_APPLICATION_NAME_LEN);
        for group in [LONGEST_GROUP, PRIMARY_GROUP] {
            assert!(is_valid_iam_name(&node_role_name(LONGEST_SYSTEM, group)));
            assert!(is_valid_iam_name(&instance_profile_name(
                LONGEST_SYSTEM,
                group
            )));
            assert!(launch_template_name(LONGEST_SYSTEM, group).len() <= 128);
            assert!(asg_name(LONGEST_SYSTEM, group).len() <= 255);
        }
        assert!(application_policy_name(&longest_app).len() <= 128);
        assert!(security_group_name(LONGEST_SYSTEM).len() <= 255);
        assert!((3..=255).contains(&table_name(LONGEST_SYSTEM).len()));
        for suffix in [
            "123456789012",
            "",
            "x".repeat(200).as_str(),
            "ÄÖÜ-ß",
            "a-s3alias",
            "--x-s3",
        ] {
            for system in [LONGEST_SYSTEM, "a"] {
                let b = bucket_name(system, suffix);
                assert!(is_valid_bucket(&b), "{b}");
            }
        }
        assert_eq!(
            bucket_name(LONGEST_SYSTEM, "123456789012").len(),
            8 + 24 + 1 + 12 + 8
        );
    }

    #[test]
    fn ids_round_trip() {
        assert_eq!(system_id("prod"), "prod");
        assert_eq!(parse_system_id("prod"), Ok("prod".to_string()));
        let id = query_group_id("prod", "analytics");
        assert_eq!(id, "prod/analytics");
        assert_eq!(
            parse_query_group_id(&id),
            Ok(("prod".into(), "analytics".into()))
        );
        let id = application_id("prod", PRIMARY_GROUP, "tx");
        assert_eq!(id, "prod/primary/tx");
        assert_eq!(
            parse_application_id(&id),
            Ok(("prod".into(), "primary".into(), "tx".into()))
        );
        assert_eq!(
            parse_application_id("prod/dev/web-app"),
            Ok(("prod".into(), "dev".into(), "web-app".into()))
        );
    }

    #[test]
    fn ids_refused() {
        let qg = "\"<system>/<group>\"";
        for (id, why) in [
            ("prod", "1 part(s)"),
            ("prod/a/b", "3 part(s)"),
            ("/a", "part 1 is empty"),
            ("prod/", "part 2 is empty"),
            ("Prod/a", "system part"),
            ("prod/primary", "import the system"),
            ("prod/Bad", "group part"),
        ] {
            assert_v(
                &err(parse_query_group_id(id)),
                "id",
                &[&format!("{id:?}"), why, qg, "prod/analytics"],
            );
        }
        let app = "\"<system>/<group>/<application>\"";
        for (id, why) in [
            ("prod/web", "2 part(s)"),
            ("prod/primary/tx/x", "4 part(s)"),
            ("prod//tx", "part 2 is empty"),
            ("datomic/primary/tx", "system part"),
            ("prod/g_1/tx", "group part"),
            ("prod/primary/Tx", "application part"),
        ] {
            assert_v(
                &err(parse_application_id(id)),
                "id",
                &[&format!("{id:?}"), why, app, "prod/primary/tx"],
            );
        }
        assert_v(
            &err(parse_system_id("a/b")),
            "id",
            &["system part", "\"<system>\""],
        );
    }

    #[test]
    fn violation_display_and_path() {
        let v = Violation::new("tags", "Invalid tag", "bad").at_key("Env");
        assert_eq!(v.to_string(), "Invalid tag: bad");
        assert_eq!(v.path(), "tags[\"Env\"]");
        assert_eq!(Violation::new("x", "s", "d").path(), "x");
        assert_eq!(Violation::new("x", "s", "d").at_index(3).path(), "x[3]");
    }

    #[test]
    fn autoscaling_targets_and_conflicts() {
        assert!(check_target_cpu_utilization(60.0).is_ok());
        assert!(check_target_cpu_utilization(100.0).is_ok());
        for bad in [0.0, -5.0, 100.5, f64::NAN] {
            let v = check_target_cpu_utilization(bad).unwrap_err();
            assert_eq!(v.attribute, "autoscaling");
        }
        assert_eq!(
            check_autoscaling_conflicts(true, true)
                .unwrap_err()
                .attribute,
            "desired_capacity"
        );
        assert!(check_autoscaling_conflicts(true, false).is_ok());
        assert!(check_autoscaling_conflicts(false, true).is_ok());
    }

    #[test]
    fn load_balancer_names_fit_elb_rules() {
        // The value the acceptance tests' lb_name() computes too.
        assert_eq!(load_balancer_name("prod", "dev"), "prod-dev-50e0f299");
        assert_ne!(
            load_balancer_name("a", "b-primary"),
            load_balancer_name("a-b", PRIMARY_GROUP)
        );
        let long = load_balancer_name("abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx");
        assert!(long.len() <= 32, "{long}");
        assert!(long.starts_with("abcdefghijklmnopqrstuvw-"), "{long}");
        let other = load_balancer_name("abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwy");
        assert_ne!(long, other);
        let internal = load_balancer_name("internal-a", "primary");
        assert!(!internal.starts_with("internal-") && internal.len() <= 32);
        assert!(!long.contains("--") && !long.ends_with('-'));
    }

    #[test]
    fn client_access_open_to_everyone_warns() {
        assert!(open_to_everyone("0.0.0.0/0").is_some());
        assert!(open_to_everyone("::/0").is_some());
        assert!(open_to_everyone("10.0.0.0/8").is_none());
        assert!(open_to_everyone("10.0.0.0/0x").is_none());
    }

    #[test]
    fn client_access_values() {
        assert!(check_cidr_block(0, "10.0.0.0/16").is_ok());
        assert!(check_cidr_block(0, "0.0.0.0/0").is_ok());
        for bad in ["10.0.0.0", "10.0.0.0/33", "300.0.0.0/8", "", "x/8"] {
            assert_eq!(
                check_cidr_block(1, bad).unwrap_err().index,
                Some(1),
                "{bad}"
            );
        }
        assert!(check_security_group_id(0, "sg-0123456789abcdef0").is_ok());
        for bad in ["sg-", "0123", "sg-xyz", "sg-0123456789abcdef01"] {
            assert!(check_security_group_id(0, bad).is_err(), "{bad}");
        }
    }
}
