//! `datomic_system`: a system's storage and its primary compute group.

use std::time::Duration;

use async_trait::async_trait;

use super::common::*;
use super::compute::{self, security_group, GroupSpec};
use super::node::NodeConfig;
use super::storage;
use crate::aws::{states, tags, AwsError, Clients};
use crate::plugin::schema::timeouts_block;
use crate::plugin::{
    Attribute, Block, Ctx, Diagnostics, Nesting, Plan, Resource, Schema, Type, Value,
};
use crate::rules::{self, ComputeRole, Topology, Violation, PRIMARY_GROUP};

pub const TYPE_NAME: &str = "datomic_system";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub struct SystemResource {
    schema: Schema,
}

impl Default for SystemResource {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemResource {
    pub fn new() -> Self {
        SystemResource { schema: schema() }
    }
}

/// Version 1: compute-group objects named `<system>--<group>`, and `arn`.
const SCHEMA_VERSION: i64 = 1;

/// A state of schema version 0: see [`common::upgrade_v0`](super::common::upgrade_v0).
fn upgrade_v0(raw: &serde_json::Value, diags: &mut Diagnostics) -> Value {
    super::common::upgrade_v0(raw, &schema(), diags)
}

fn schema() -> Schema {
    let sizes = |r: ComputeRole| {
        rules::allowed_instance_types(r)
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Schema::new(
        SCHEMA_VERSION,
        Block::new("A Datomic Cloud system: its storage (VPC with subnets in two availability zones, S3 bucket, DynamoDB table) and its primary compute group (security group, node IAM role and instance profile, launch template with IMDSv2 required and encrypted volumes, Auto Scaling group `<name>--primary`). Use `topology = \"solo\"` to get started and change it to `\"production\"` in place when you move to production.")
            .attr(Attribute::computed("id", Type::String, "The system's id: its name.").use_state_for_unknown())
            .attr(Attribute::required("name", Type::String, "The system's name: 1-24 characters of lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen, no `--`, and not `datomic`. This is this provider's rule, stricter than Datomic's advice to keep names short, so that every AWS name derived from it is valid.").requires_replace())
            .attr(Attribute::required("topology", Type::String, "`solo` (one small node, for getting started) or `production` (two or more nodes over availability zones). Solo can be upgraded to production in place; production cannot be changed back to solo."))
            .attr(Attribute::optional_computed("instance_type", Type::String, &format!("Instance type of the primary compute group's nodes. Solo: {} (default `{}`); production: {} (default `{}`). When unset it follows the topology on every plan.", sizes(ComputeRole::SoloPrimary), rules::default_instance_type(ComputeRole::SoloPrimary), sizes(ComputeRole::ProductionPrimary), rules::default_instance_type(ComputeRole::ProductionPrimary))))
            .attr(Attribute::optional_computed("node_count", Type::Number, &format!("Number of primary nodes. Solo: exactly 1. Production: 2 by default, up to {} by explicit choice. The primary group is never autoscaled.", rules::MAX_PRODUCTION_NODES)))
            .attr(Attribute::optional_computed("application_name", Type::String, "Name of the application the primary compute group runs. Defaults to the system's name.").requires_replace())
            .attr(Attribute::optional_computed("image_id", Type::String, "AMI of the nodes. Defaults to the newest Amazon Linux x86_64 image of the region.").use_state_for_unknown())
            .attr(Attribute::optional("retain_storage", Type::Bool, "Keep the storage (network, S3 bucket, DynamoDB table) when the system is destroyed; a new system of the same name adopts it.").default(Value::bool(true)))
            .attr(Attribute::optional("client_cidr_blocks", Type::set(Type::String), &format!("IPv4 CIDR blocks whose clients may connect to the system's nodes (port {}). None by default: the nodes admit only each other.", rules::CLIENT_PORT)))
            .attr(Attribute::optional("client_security_group_ids", Type::set(Type::String), &format!("Security groups whose members may connect to the system's nodes (port {}). None by default.", rules::CLIENT_PORT)))
            .attr(Attribute::optional("tags", Type::map(Type::String), "Tags for every AWS object of the system. Keys starting with `aws:` or `datomic:` are reserved."))
            .attr(Attribute::computed("tags_all", Type::map(Type::String), "All tags of the system's AWS objects, including the provider's `default_tags`. Tags changed outside Terraform on any of them, the storage included, show here as drift."))
            .attr(Attribute::optional_computed("vpc_id", Type::String, "The system's VPC. Set it, with `subnet_ids`, to use a network the team already has: the provider then neither creates nor deletes the network. Unset: the provider creates a VPC (counted as the system's storage).").use_state_for_unknown().requires_replace())
            .attr(Attribute::optional_computed("subnet_ids", Type::list(Type::String), "The system's subnets, in at least 2 availability zones. Set with `vpc_id` to use existing subnets (they are checked at plan, and again before anything is created). Unset: one created per availability zone.").use_state_for_unknown().requires_replace())
            .attr(Attribute::computed("network_managed", Type::Bool, "Whether the provider created the system's network (VPC and subnets) and so deletes it with the storage; false when `vpc_id` and `subnet_ids` were given.").use_state_for_unknown())
            .attr(Attribute::computed("security_group_id", Type::String, "Security group of the system's nodes: admits only the system's own nodes.").use_state_for_unknown())
            .attr(Attribute::computed("bucket_name", Type::String, "The system's S3 bucket.").use_state_for_unknown())
            .attr(Attribute::computed("table_name", Type::String, "The system's DynamoDB table.").use_state_for_unknown())
            .attr(Attribute::computed("node_role_name", Type::String, "IAM role of the primary compute group's nodes.").use_state_for_unknown())
            .attr(Attribute::computed("launch_template_id", Type::String, "Launch template of the primary compute group.").use_state_for_unknown())
            .attr(Attribute::computed("autoscaling_group_name", Type::String, "Auto Scaling group of the primary compute group.").use_state_for_unknown())
            .attr(Attribute::computed("arn", Type::String, "ARN of the primary compute group's Auto Scaling group.").use_state_for_unknown())
            .attr(Attribute::computed("endpoint", Type::String, &format!("DNS name of the primary compute group's internal Network Load Balancer: clients connect to it on port {}.", rules::CLIENT_PORT)).use_state_for_unknown())
            .attr(Attribute::computed("client_config", Type::map(Type::String), "What a Datomic client needs to connect, as a map a client configuration can take as is: `region`, `system`, `endpoint` (the primary group's), `port`.").use_state_for_unknown())
            .block("timeouts", Nesting::Single, timeouts_block(&["create", "update", "delete"], "30m")),
    )
}

/// The primary role for a topology value, if it is valid.
fn role_of(topology: &str) -> Option<ComputeRole> {
    Topology::parse(topology).map(Topology::primary_role)
}

/// A set attribute as read back: null when empty and the prior had none.
fn read_set(prior: &Value, attr: &str, items: &[String]) -> Value {
    if items.is_empty() && prior.get(attr).is_none_or(Value::is_null) {
        Value::Null
    } else {
        Value::Set(items.iter().map(Value::string).collect())
    }
}

fn identity(system: &str, app: &str, topology: &str, retain: bool) -> Vec<(&'static str, String)> {
    vec![
        (rules::TAG_RETAIN_STORAGE, retain.to_string()),
        (rules::TAG_SYSTEM, system.to_string()),
        (rules::TAG_GROUP, PRIMARY_GROUP.to_string()),
        (rules::TAG_APPLICATION, app.to_string()),
        (rules::TAG_MANAGED_BY, rules::MANAGED_BY_VALUE.to_string()),
        ("datomic:topology", topology.to_string()),
    ]
}

fn all_tags(
    c: &Clients,
    v: &Value,
    system: &str,
    app: &str,
    topology: &str,
) -> (tags::Tags, tags::Tags) {
    let tags_all = tags::merge(&c.default_tags, &tags(v));
    let full = with_identity_of(&tags_all, v, system, app, topology);
    (tags_all, full)
}

/// `tags_all` plus the identity tags of the system `v` describes.
fn with_identity_of(
    tags_all: &tags::Tags,
    v: &Value,
    system: &str,
    app: &str,
    topology: &str,
) -> tags::Tags {
    let id = identity(
        system,
        app,
        topology,
        bool_attr(v, "retain_storage").unwrap_or(true),
    );
    let idref: Vec<(&str, &str)> = id.iter().map(|(k, v)| (*k, v.as_str())).collect();
    tags::with_identity(tags_all, &idref)
}

/// What the system's objects were tagged with, from a state: its `tags_all`
/// (the tags as applied, `default_tags` included) plus its identity.
fn full_tags_of_state(v: &Value, system: &str) -> tags::Tags {
    let app = str_attr(v, "application_name").unwrap_or_else(|| system.to_string());
    let topology = str_attr(v, "topology").unwrap_or_default();
    with_identity_of(
        &map_attr(v, "tags_all").unwrap_or_default(),
        v,
        system,
        &app,
        &topology,
    )
}

const IDENTITY_KEYS: &[&str] = &[
    rules::TAG_CREATED,
    rules::TAG_RETAIN_STORAGE,
    rules::TAG_SYSTEM,
    rules::TAG_GROUP,
    rules::TAG_APPLICATION,
    rules::TAG_MANAGED_BY,
    "datomic:topology",
];

impl SystemResource {
    async fn do_create(
        &self,
        c: &Clients,
        ctx: &Ctx<Clients>,
        planned: &Value,
        state: &mut Value,
    ) -> Result<(), AwsError> {
        let name = str_attr(planned, "name").unwrap_or_default();
        let topology = str_attr(planned, "topology").unwrap_or_default();
        let app = str_attr(planned, "application_name").unwrap_or_else(|| name.clone());
        let (tags_all, full) = all_tags(c, planned, &name, &app, &topology);
        let timeout = timeout(planned, "create", DEFAULT_TIMEOUT);

        let network = match (
            str_attr(planned, "vpc_id"),
            list_attr(planned, "subnet_ids"),
        ) {
            (Some(vpc), Some(subnets)) => Some((vpc, subnets)),
            _ => None,
        };
        state.set_attr("network_managed", Value::bool(network.is_none()));
        let (st, adopted) = storage::ensure(c, &name, &full, network, &ctx.cancel).await?;
        if adopted {
            crate::plugin::log::info("adopted retained storage", &[("system", &name)]);
        }
        state.set_attr("vpc_id", Value::string(&st.vpc_id));
        state.set_attr("subnet_ids", string_list(&st.subnet_ids));
        state.set_attr("bucket_name", Value::string(&st.bucket));
        state.set_attr("table_name", Value::string(&st.table));
        state.set_attr("tags_all", string_map(&tags_all));

        let sg = security_group::ensure(c, &name, &st.vpc_id, &full).await?;
        state.set_attr("security_group_id", Value::string(&sg));
        security_group::sync_client_rules(
            c,
            &sg,
            &list_attr(planned, "client_cidr_blocks").unwrap_or_default(),
            &list_attr(planned, "client_security_group_ids").unwrap_or_default(),
        )
        .await?;
        security_group::sync_health_rules(c, &sg, &st.subnet_ids).await?;
        let role = compute::ensure_role(
            c,
            &name,
            PRIMARY_GROUP,
            &full,
            &compute::node_policy(c, &st.bucket, &st.table).await?,
            &ctx.cancel,
        )
        .await?;
        state.set_attr("node_role_name", Value::string(&role));

        let image = match str_attr(planned, "image_id") {
            Some(i) => i,
            None => compute::default_image(c).await?,
        };
        state.set_attr("image_id", Value::string(&image));
        let instance_type = str_attr(planned, "instance_type").unwrap_or_default();
        let nodes = int_attr(planned, "node_count").unwrap_or(1);
        let ep =
            compute::ensure_endpoint(c, &name, PRIMARY_GROUP, &st.vpc_id, &st.subnet_ids, &full)
                .await?;
        state.set_attr("endpoint", Value::string(&ep.dns_name));
        state.set_attr(
            "client_config",
            string_map(&client_config(c, &name, &ep.dns_name)),
        );
        let node = NodeConfig {
            system: name.clone(),
            group: PRIMARY_GROUP.into(),
            topology: Some(topology.clone()),
            application: app.clone(),
            bucket: st.bucket.clone(),
            table: st.table.clone(),
            ..Default::default()
        };
        let lt = compute::ensure_group(
            c,
            &GroupSpec {
                system: &name,
                group: PRIMARY_GROUP,
                instance_type: &instance_type,
                image_id: &image,
                min: nodes,
                max: nodes,
                desired: nodes,
                node: &node,
                security_group_id: &sg,
                subnet_ids: &st.subnet_ids,
                target_group_arn: &ep.target_group_arn,
                tags: &full,
                cancel: &ctx.cancel,
            },
        )
        .await?;
        state.set_attr("launch_template_id", Value::string(&lt));
        state.set_attr(
            "autoscaling_group_name",
            Value::string(rules::asg_name(&name, PRIMARY_GROUP)),
        );
        compute::wait_in_service(c, &name, PRIMARY_GROUP, nodes, timeout, &ctx.cancel).await?;
        // Both provisioned meanwhile (AWS: minutes): usually ready by now.
        states::load_balancer_active(c, &ep.load_balancer_arn, timeout, &ctx.cancel).await?;
        compute::mark_created(c, &rules::asg_name(&name, PRIMARY_GROUP)).await
    }

    /// What a destroy cut short (e.g. at its timeout, by a dependency) may have
    /// left besides the compute group: the nodes' security group, and the
    /// storage it was to delete. Kept in state, the next destroy finishes it.
    async fn has_leftovers(
        &self,
        c: &Clients,
        name: &str,
        state: &Value,
    ) -> Result<bool, AwsError> {
        if compute::has_leftovers(c, name, PRIMARY_GROUP).await?
            || security_group::find(c, name).await?.is_some()
        {
            return Ok(true);
        }
        if bool_attr(state, "retain_storage").unwrap_or(true) {
            return Ok(false);
        }
        let st = storage::find(c, name).await?;
        Ok(!(st.vpc_id.is_empty() && st.bucket.is_empty() && st.table.is_empty()))
    }

    /// Reads the system named by `state`'s `id` (or `name`) as this resource's
    /// state; `Value::Null` when its primary compute group does not exist.
    /// Shared with the `datomic_system` data source.
    pub(crate) async fn do_read(&self, c: &Clients, state: &Value) -> Result<Value, AwsError> {
        let name = str_attr(state, "id")
            .or_else(|| str_attr(state, "name"))
            .unwrap_or_default();
        let Some(g) = compute::read_group(c, &name, PRIMARY_GROUP).await? else {
            if !state.is_null() && self.has_leftovers(c, &name, state).await? {
                // Half made (a failed create) or its Auto Scaling group deleted
                // outside Terraform: keep tracking it, the next plan replaces it.
                let mut v = state.clone();
                v.set_attr("autoscaling_group_name", Value::string(""));
                return Ok(v);
            }
            return Ok(Value::Null);
        };
        let st = storage::find(c, &name).await?;
        let sg = security_group::find(c, &name).await?.unwrap_or_default();
        // The network: ours (found by tag), else the one the user brought,
        // as the primary group's Auto Scaling group has it.
        let (vpc_id, subnet_ids) = if st.vpc_id.is_empty() {
            compute::network_of(c, &g).await?
        } else {
            (st.vpc_id.clone(), st.subnet_ids.clone())
        };
        let mut v = state.clone();
        let topology = g
            .tags
            .get("datomic:topology")
            .cloned()
            .or_else(|| g.node.topology.clone())
            .unwrap_or_else(|| {
                if g.desired > 1 {
                    "production".into()
                } else {
                    "solo".into()
                }
            });
        let mut tags_all = tags::user_tags(&g.tags, IDENTITY_KEYS);
        // Tags changed by hand on the storage are drift too. When the group's
        // tags are still those of the state, the first storage object whose
        // tags differ shows its own, so the plan puts them back (the update
        // mends every object); drift of the group's own tags shows as it is.
        // Only in a refresh: after this process's own writes the tags are what
        // it wrote, and AWS's tagging APIs are eventually consistent.
        if !c.has_written() && map_attr(state, "tags_all").as_ref() == Some(&tags_all) {
            let managed = !st.vpc_id.is_empty();
            if let Some((object, own)) =
                storage::differing_tags(c, &st, managed, &tags_all, IDENTITY_KEYS).await?
            {
                crate::plugin::log::info(
                    "storage tags differ from the system's",
                    &[("object", &object)],
                );
                tags_all = own;
            }
        }
        v.set_attr("id", Value::string(&name));
        v.set_attr("name", Value::string(&name));
        v.set_attr("topology", Value::string(&topology));
        v.set_attr("instance_type", Value::string(&g.instance_type));
        v.set_attr("node_count", Value::int(g.desired));
        let app = g
            .tags
            .get(rules::TAG_APPLICATION)
            .cloned()
            .unwrap_or_else(|| g.node.application.clone());
        v.set_attr("application_name", Value::string(&app));
        v.set_attr("image_id", Value::string(&g.image_id));
        match g.tags.get(rules::TAG_RETAIN_STORAGE).map(String::as_str) {
            Some("false") => v.set_attr("retain_storage", Value::bool(false)),
            Some(_) => v.set_attr("retain_storage", Value::bool(true)),
            None if v.get("retain_storage").is_none_or(Value::is_null) => {
                v.set_attr("retain_storage", Value::bool(true))
            }
            None => {}
        }
        let prior_tags = state.get("tags").cloned().unwrap_or(Value::Null);
        v.set_attr("tags", read_tags(&prior_tags, &tags_all, &c.default_tags));
        v.set_attr("tags_all", string_map(&tags_all));
        v.set_attr("vpc_id", Value::string(&vpc_id));
        v.set_attr("network_managed", Value::bool(!st.vpc_id.is_empty()));
        v.set_attr("subnet_ids", string_list(&subnet_ids));
        v.set_attr("security_group_id", Value::string(&sg));
        let (cidrs, groups) = if sg.is_empty() {
            Default::default()
        } else {
            security_group::client_rules(c, &sg).await?
        };
        v.set_attr(
            "client_cidr_blocks",
            read_set(state, "client_cidr_blocks", &cidrs),
        );
        v.set_attr(
            "client_security_group_ids",
            read_set(state, "client_security_group_ids", &groups),
        );
        v.set_attr("bucket_name", Value::string(&st.bucket));
        v.set_attr("table_name", Value::string(&st.table));
        v.set_attr(
            "node_role_name",
            Value::string(compute::node_role_name_as_read(c, &name, PRIMARY_GROUP).await?),
        );
        v.set_attr("launch_template_id", Value::string(&g.launch_template_id));
        v.set_attr("autoscaling_group_name", Value::string(&g.asg_name));
        v.set_attr("arn", Value::string(&g.arn));
        let ep = compute::find_endpoint(c, &name, PRIMARY_GROUP).await?;
        v.set_attr("endpoint", Value::string(ep.usable_dns()));
        v.set_attr(
            "client_config",
            string_map(&client_config(c, &name, ep.usable_dns())),
        );
        Ok(v)
    }

    async fn do_update(
        &self,
        c: &Clients,
        ctx: &Ctx<Clients>,
        prior: &Value,
        planned: &Value,
    ) -> Result<Value, AwsError> {
        let name = str_attr(planned, "name").unwrap_or_default();
        let topology = str_attr(planned, "topology").unwrap_or_default();
        let app = str_attr(planned, "application_name").unwrap_or_else(|| name.clone());
        let (tags_all, full) = all_tags(c, planned, &name, &app, &topology);
        let timeout = timeout(planned, "update", DEFAULT_TIMEOUT);
        let Some(g) = compute::read_group(c, &name, PRIMARY_GROUP).await? else {
            // Its Auto Scaling group is gone (half made, or deleted outside
            // Terraform): re-run the create, which adopts what exists.
            let mut state = planned.clone();
            self.do_create(c, ctx, planned, &mut state).await?;
            let mut v = self.do_read(c, &state).await?;
            for keep in ["retain_storage", "timeouts", "tags"] {
                v.set_attr(keep, planned.get(keep).cloned().unwrap_or(Value::Null));
            }
            return Ok(v);
        };
        let instance_type = str_attr(planned, "instance_type").unwrap_or_default();
        let image = match str_attr(planned, "image_id").filter(|i| !i.is_empty()) {
            Some(i) => i,
            None if !g.image_id.is_empty() => g.image_id.clone(),
            // Lost outside Terraform with no image_id set: what a create uses.
            None => compute::default_image(c).await?,
        };
        let nodes = int_attr(planned, "node_count").unwrap_or(g.desired);
        let mut node = g.node.clone();
        if node.system.is_empty() {
            // The latest launch template version lost its node configuration
            // (changed outside Terraform): rebuild it from the resource.
            node = NodeConfig {
                system: name.clone(),
                group: PRIMARY_GROUP.into(),
                application: app.clone(),
                bucket: str_attr(planned, "bucket_name").unwrap_or_default(),
                table: str_attr(planned, "table_name").unwrap_or_default(),
                ..Default::default()
            };
        }
        node.topology = Some(topology.clone());
        let template_changed = instance_type != g.instance_type
            || image != g.image_id
            || node != g.node
            || tags_all != tags::user_tags(&g.tags, IDENTITY_KEYS);
        compute::update_tags(c, &g, &full).await?;
        if is_unknown(planned, "node_role_name") {
            // The last read found the node role changed outside Terraform.
            let policy = compute::system_node_policy(c, &name).await?;
            compute::repair_node_role(c, &name, PRIMARY_GROUP, &full, &policy, &ctx.cancel).await?;
        }
        // The storage carries the same tags: retag it when they changed (in the
        // configuration, or by hand on one of its objects: see do_read).
        let prior_full = full_tags_of_state(prior, &name);
        if prior_full != full {
            let st = storage::Storage {
                vpc_id: str_attr(planned, "vpc_id").unwrap_or_default(),
                subnet_ids: list_attr(planned, "subnet_ids").unwrap_or_default(),
                bucket: str_attr(planned, "bucket_name").unwrap_or_default(),
                table: str_attr(planned, "table_name").unwrap_or_default(),
                ..Default::default()
            };
            let managed = bool_attr(planned, "network_managed").unwrap_or(true);
            storage::retag(c, &st, managed, &full).await?;
        }
        let sg = security_group::of_group(c, &g, &name).await?;
        if !sg.is_empty() {
            security_group::sync_client_rules(
                c,
                &sg,
                &list_attr(planned, "client_cidr_blocks").unwrap_or_default(),
                &list_attr(planned, "client_security_group_ids").unwrap_or_default(),
            )
            .await?;
        }
        // Repairs a load balancer, listener or target group deleted outside Terraform.
        let (vpc_id, subnet_ids) = compute::network_of(c, &g).await?;
        let ep =
            compute::ensure_endpoint(c, &name, PRIMARY_GROUP, &vpc_id, &subnet_ids, &full).await?;
        compute::attach_endpoint(c, &g, &ep).await?;
        if template_changed {
            compute::new_version(c, &g, &instance_type, &image, &node, &sg, &full).await?;
        }
        if nodes != g.desired || nodes != g.min || nodes != g.max {
            compute::set_capacity(c, &g.asg_name, nodes, nodes, nodes).await?;
        }
        compute::wait_in_service(c, &name, PRIMARY_GROUP, nodes, timeout, &ctx.cancel).await?;
        states::load_balancer_active(c, &ep.load_balancer_arn, timeout, &ctx.cancel).await?;
        // Always: nodes left on an older configuration by an interrupted
        // update are replaced too (nothing happens when all are current).
        compute::roll(c, &name, PRIMARY_GROUP, timeout, &ctx.cancel).await?;
        let mut v = self.do_read(c, planned).await?;
        if v.is_null() {
            v = prior.clone();
        }
        for keep in ["retain_storage", "timeouts", "tags"] {
            v.set_attr(keep, planned.get(keep).cloned().unwrap_or(Value::Null));
        }
        Ok(v)
    }
}

#[async_trait]
impl Resource<Clients> for SystemResource {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn state_upgraders(
        &self,
    ) -> std::collections::BTreeMap<i64, crate::plugin::upgrade::StateUpgrader> {
        [(0, upgrade_v0 as crate::plugin::upgrade::StateUpgrader)]
            .into_iter()
            .collect()
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(n) = str_attr(config, "name") {
            check(diags, rules::check_system_name(&n));
        }
        let topology =
            str_attr(config, "topology").and_then(|t| check(diags, rules::parse_topology(&t)));
        if let Some(a) = str_attr(config, "application_name") {
            check(diags, rules::check_application_name("application_name", &a));
        }
        if let (Some(t), Some(it)) = (topology, str_attr(config, "instance_type")) {
            check(diags, rules::check_instance_type(t.primary_role(), &it));
        }
        check_whole_numbers(config, &["node_count"], diags);
        if let (Some(t), Some(n)) = (topology, int_attr(config, "node_count")) {
            check(diags, rules::check_node_count(t, n));
        }
        if let Some(t) = map_attr(config, "tags") {
            check_all(diags, rules::check_tags(&t));
        }
        let sets = |a: &str| config.get(a).is_some_and(|v| !v.is_null());
        if sets("vpc_id") != sets("subnet_ids") {
            // On the argument that is set (an absent one has no line to
            // point at), as the AWS provider's RequiredWith does.
            let (given, missing) = if sets("vpc_id") {
                ("vpc_id", "subnet_ids")
            } else {
                ("subnet_ids", "vpc_id")
            };
            diags.attribute_error(
                crate::plugin::AttrPath::root(given),
                "Incomplete existing network",
                format!("{given} is set without {missing}: vpc_id and subnet_ids go together; set both to use an existing network, or neither to let the provider create one."),
            );
        }
        if let Some(subnets) = list_attr(config, "subnet_ids") {
            if subnets.len() < 2 {
                diags.attribute_error(
                    crate::plugin::AttrPath::root("subnet_ids"),
                    "Too few subnets",
                    format!("{} subnet(s) given; a Datomic system needs subnets in at least 2 availability zones.", subnets.len()),
                );
            }
        }
        for (i, cidr) in list_attr(config, "client_cidr_blocks")
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            // Set elements have no index: the diagnostic goes on the attribute.
            check(
                diags,
                rules::check_cidr_block(i, cidr).map_err(|v| Violation { index: None, ..v }),
            );
            if let Some(w) = rules::open_to_everyone(cidr) {
                diags.attribute_warning(
                    crate::plugin::AttrPath::root(w.attribute),
                    w.summary,
                    w.detail,
                );
            }
        }
        for (i, id) in list_attr(config, "client_security_group_ids")
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            check(
                diags,
                rules::check_security_group_id(i, id).map_err(|v| Violation { index: None, ..v }),
            );
        }
        validate_timeouts(config, diags);
    }

    async fn modify_plan(&self, ctx: &Ctx<Clients>, plan: &mut Plan, diags: &mut Diagnostics) {
        let topology = str_attr(&plan.planned, "topology");
        // Derived values follow the topology on every plan when unset.
        if let Some(t) = topology.as_deref().and_then(Topology::parse) {
            if !plan.config_sets("instance_type") {
                plan.set(
                    "instance_type",
                    Value::string(rules::default_instance_type(t.primary_role())),
                );
            }
            if !plan.config_sets("node_count") {
                plan.set("node_count", Value::int(rules::default_node_count(t)));
            }
            if let (Some(from), false) = (
                str_attr(&plan.prior, "topology")
                    .as_deref()
                    .and_then(Topology::parse),
                plan.is_create(),
            ) {
                check(diags, rules::check_topology_change(from, t));
            }
        } else if is_unknown(&plan.planned, "topology") {
            if !plan.config_sets("instance_type") {
                plan.set("instance_type", Value::Unknown);
            }
            if !plan.config_sets("node_count") {
                plan.set("node_count", Value::Unknown);
            }
        }
        if !plan.config_sets("application_name") {
            let n = plan.get("name").clone();
            plan.set("application_name", n);
        }
        // A launch template version made outside Terraform without an image:
        // the apply writes back the default image, known only then.
        if !plan.is_create()
            && !plan.config_sets("image_id")
            && plan.prior_get("image_id").as_str() == Some("")
        {
            plan.set("image_id", Value::Unknown);
        }
        if plan.is_create() {
            // Names derived from the system's name are known now.
            if let Some(n) = str_attr(&plan.planned, "name") {
                plan.set("id", Value::string(&n));
                plan.set(
                    "autoscaling_group_name",
                    Value::string(rules::asg_name(&n, PRIMARY_GROUP)),
                );
                plan.set(
                    "node_role_name",
                    Value::string(rules::node_role_name(&n, PRIMARY_GROUP)),
                );
                plan.set("table_name", Value::string(rules::table_name(&n)));
                // Named after the account: known now when the account id is.
                if let Some(b) = ctx
                    .data
                    .as_deref()
                    .and_then(|c| storage::known_bucket_name(c, &n))
                {
                    plan.set("bucket_name", Value::string(b));
                }
            }
        }
        // Re-check the derived combination (the instance type may come from config).
        if let (Some(role), Some(it)) = (
            topology.as_deref().and_then(role_of),
            str_attr(&plan.planned, "instance_type"),
        ) {
            if plan.config_sets("instance_type") {
                check(diags, rules::check_instance_type(role, &it));
            }
        }
        plan_tags_all(plan, ctx.data.as_deref().map(|c| &c.default_tags));
        compute::plan_endpoint_repair(plan);
        compute::plan_repair_if_half_made(plan);
        compute::plan_role_repair(plan);
        // Never take over a live system of another state (an interrupted
        // create of this one is adopted instead).
        if plan.is_create() {
            if let (Some(c), Some(n)) = (ctx.data.as_deref(), str_attr(&plan.planned, "name")) {
                match compute::check_not_taken(c, &n, PRIMARY_GROUP, true).await {
                    Ok(Some(why)) => diags.attribute_error(
                        crate::plugin::AttrPath::root("name"),
                        format!("Datomic system {n:?} already exists"),
                        why,
                    ),
                    Ok(None) => {}
                    Err(e) => {
                        diags.warning("Could not check whether the system exists", e.to_string())
                    }
                }
            }
        }
        if plan.is_create() && !is_unknown(&plan.config, "vpc_id") {
            let managed = !plan.config_sets("vpc_id");
            plan.set("network_managed", Value::bool(managed));
        }
        // A network the user brings must exist and fit: checked at plan when
        // its ids are known (and again at create, before any write).
        if plan.is_create() {
            if let (Some(c), Some(vpc), Some(subnets)) = (
                ctx.data.as_deref(),
                str_attr(&plan.planned, "vpc_id"),
                list_attr(&plan.planned, "subnet_ids"),
            ) {
                if !diags.has_error() {
                    match storage::check_existing_network(c, &vpc, &subnets, true).await {
                        Ok(None) => {}
                        Ok(Some((attr, problem))) => diags.attribute_error(
                            crate::plugin::AttrPath::root(attr),
                            "Unusable existing network",
                            problem,
                        ),
                        Err(e) => diags.warning(
                            "Could not check the existing network",
                            format!("{e} (it is checked again before the create writes anything)"),
                        ),
                    }
                }
            }
        }
    }

    async fn plan_destroy(&self, _ctx: &Ctx<Clients>, prior: &Value, diags: &mut Diagnostics) {
        let name = str_attr(prior, "name").unwrap_or_default();
        if bool_attr(prior, "retain_storage").unwrap_or(true) {
            diags.warning(
                format!("Destroying Datomic system {name:?} keeps its storage"),
                format!(
                    "The primary compute group (Auto Scaling group, launch template, node role, security group) will be deleted. The storage is retained: VPC {}, S3 bucket {}, DynamoDB table {}. A new datomic_system named {name:?} adopts it. Set retain_storage = false and apply before destroying to delete it too.",
                    str_attr(prior, "vpc_id").unwrap_or_default(),
                    str_attr(prior, "bucket_name").unwrap_or_default(),
                    str_attr(prior, "table_name").unwrap_or_default()
                ),
            );
        } else if bool_attr(prior, "network_managed").unwrap_or(true) {
            diags.warning(
                format!("Destroying Datomic system {name:?} deletes its storage"),
                "retain_storage is false: the VPC, S3 bucket (with all its objects) and DynamoDB table are deleted with the system. This loses the system's data.",
            );
        } else {
            diags.warning(
                format!("Destroying Datomic system {name:?} deletes its storage"),
                format!(
                    "retain_storage is false: the S3 bucket (with all its objects) and DynamoDB table are deleted with the system. This loses the system's data. The network you brought (VPC {}) is kept.",
                    str_attr(prior, "vpc_id").unwrap_or_default()
                ),
            );
        }
    }

    async fn create(&self, ctx: &Ctx<Clients>, planned: &Value, diags: &mut Diagnostics) -> Value {
        let Some(c) = writer(ctx, diags) else {
            return Value::Null;
        };
        let name = str_attr(planned, "name").unwrap_or_default();
        match compute::check_not_taken(c, &name, PRIMARY_GROUP, false).await {
            Ok(None) => {}
            Ok(Some(why)) => {
                diags.attribute_error(
                    crate::plugin::AttrPath::root("name"),
                    format!("Datomic system {name:?} already exists"),
                    why,
                );
                return Value::Null;
            }
            Err(e) => {
                aws_error(diags, &format!("creating Datomic system ({name})"), e);
                return Value::Null;
            }
        }
        // Before any write: a network the user brings must fit.
        if let (Some(vpc), Some(subnets)) = (
            str_attr(planned, "vpc_id"),
            list_attr(planned, "subnet_ids"),
        ) {
            match storage::check_existing_network(c, &vpc, &subnets, false).await {
                Ok(None) => {}
                Ok(Some((attr, problem))) => {
                    diags.attribute_error(
                        crate::plugin::AttrPath::root(attr),
                        "Unusable existing network",
                        problem,
                    );
                    return Value::Null;
                }
                Err(e) => {
                    aws_error(
                        diags,
                        &format!("checking the network of Datomic system ({name})"),
                        e,
                    );
                    return Value::Null;
                }
            }
        }
        let mut state = planned.clone();
        state.set_attr("id", Value::string(&name));
        match cancellable(
            &ctx.cancel,
            ("create", timeout(planned, "create", DEFAULT_TIMEOUT)),
            self.do_create(c, ctx, planned, &mut state),
        )
        .await
        {
            Ok(()) => match self.do_read(c, &state).await {
                Ok(v) if !v.is_null() => {
                    let mut v = v;
                    for keep in ["retain_storage", "timeouts", "tags"] {
                        v.set_attr(keep, planned.get(keep).cloned().unwrap_or(Value::Null));
                    }
                    v
                }
                Ok(_) => {
                    diags.error(
                        format!("creating Datomic system ({name})"),
                        "the system's Auto Scaling group is missing right after creation",
                    );
                    unknowns_to_null(state)
                }
                Err(e) => {
                    aws_error(
                        diags,
                        &format!("reading Datomic system ({name}) after create"),
                        e,
                    );
                    unknowns_to_null(state)
                }
            },
            Err(e) => {
                aws_error(diags, &format!("creating Datomic system ({name})"), e);
                // Keep what exists in state: Terraform taints it and the next
                // apply deletes it (found again by name and tags) and retries.
                unknowns_to_null(state)
            }
        }
    }

    async fn read(&self, ctx: &Ctx<Clients>, state: &Value, diags: &mut Diagnostics) -> Value {
        let Some(c) = ctx.data(diags) else {
            return state.clone();
        };
        match self.do_read(c, state).await {
            Ok(v) => {
                let name = str_attr(state, "id").unwrap_or_default();
                if v.is_null() && is_import(state) {
                    let what = format!("Datomic system ({name})");
                    refuse_foreign_import(c, &name, PRIMARY_GROUP, &what, diags).await;
                } else if v.is_null() {
                    diags.warning(
                        "Datomic system not found",
                        format!("The primary compute group of system {:?} no longer exists; it is removed from the state and the next apply re-creates it.", str_attr(state, "id").unwrap_or_default()),
                    );
                } else if let Some(name) = str_attr(&v, "name") {
                    compute::tracked(&name, PRIMARY_GROUP);
                }
                v
            }
            Err(e) => {
                aws_error(diags, "reading Datomic system", e);
                state.clone()
            }
        }
    }

    async fn update(
        &self,
        ctx: &Ctx<Clients>,
        prior: &Value,
        planned: &Value,
        diags: &mut Diagnostics,
    ) -> Value {
        let Some(c) = writer(ctx, diags) else {
            return prior.clone();
        };
        match cancellable(
            &ctx.cancel,
            ("update", timeout(planned, "update", DEFAULT_TIMEOUT)),
            self.do_update(c, ctx, prior, planned),
        )
        .await
        {
            Ok(v) => v,
            Err(e) => {
                aws_error(
                    diags,
                    &format!(
                        "updating Datomic system ({})",
                        str_attr(prior, "name").unwrap_or_default()
                    ),
                    e,
                );
                prior.clone()
            }
        }
    }

    async fn delete(&self, ctx: &Ctx<Clients>, prior: &Value, diags: &mut Diagnostics) {
        let Some(c) = writer(ctx, diags) else { return };
        let name = str_attr(prior, "name").unwrap_or_default();
        let timeout = timeout(prior, "delete", DEFAULT_TIMEOUT);
        let result = cancellable(&ctx.cancel, ("delete", timeout), async {
            compute::delete_group(c, &name, PRIMARY_GROUP, timeout, &ctx.cancel).await?;
            security_group::delete(c, &name, timeout, &ctx.cancel).await?;
            if !bool_attr(prior, "retain_storage").unwrap_or(true) {
                return storage::delete(c, &name, timeout, &ctx.cancel).await;
            }
            Ok::<_, AwsError>(Vec::new())
        })
        .await;
        match result {
            Ok(kept) => {
                for why in kept {
                    diags.warning("Part of the system's storage was kept", why);
                }
            }
            Err(e) => aws_error(diags, &format!("deleting Datomic system ({name})"), e),
        }
    }

    async fn import(&self, _ctx: &Ctx<Clients>, id: &str, diags: &mut Diagnostics) -> Value {
        let mut v = Value::null_object(&self.schema.ty());
        if let Some(name) = check(diags, rules::parse_system_id(id)) {
            v.set_attr("id", Value::string(&name));
            v.set_attr("name", Value::string(&name));
            v.set_attr("retain_storage", Value::bool(true));
        }
        v
    }
}

/// What a client library needs to reach the system.
fn client_config(
    c: &Clients,
    system: &str,
    endpoint: &str,
) -> std::collections::BTreeMap<String, String> {
    [
        ("region", c.region.clone()),
        ("system", system.to_string()),
        ("endpoint", endpoint.to_string()),
        ("port", rules::CLIENT_PORT.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Unknown values cannot be stored in state: a partial state keeps what is known.
pub fn unknowns_to_null(v: Value) -> Value {
    match v {
        Value::Unknown => Value::Null,
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| (k, unknowns_to_null(x)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::plan::{apply_requires_replace, plan_change};
    use crate::plugin::PathStepExt;

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut v = Value::null_object(&schema().ty());
        for (k, x) in pairs {
            v.set_attr(k, x.clone());
        }
        v
    }

    fn errors_at(d: &Diagnostics) -> Vec<String> {
        d.iter()
            .filter_map(|x| x.path.as_ref().map(|p| p.first_attr()))
            .collect()
    }

    #[test]
    fn validate_refuses_bad_values_on_their_attribute() {
        let r = SystemResource::new();
        let cases = [
            (
                vec![
                    ("name", Value::string("Datomic")),
                    ("topology", Value::string("solo")),
                ],
                "name",
            ),
            (
                vec![
                    ("name", Value::string("ok")),
                    ("topology", Value::string("tiny")),
                ],
                "topology",
            ),
            (
                vec![
                    ("name", Value::string("ok")),
                    ("topology", Value::string("production")),
                    ("instance_type", Value::string("t2.small")),
                ],
                "instance_type",
            ),
            (
                vec![
                    ("name", Value::string("ok")),
                    ("topology", Value::string("production")),
                    ("node_count", Value::int(1)),
                ],
                "node_count",
            ),
            (
                vec![
                    ("name", Value::string("ok")),
                    ("topology", Value::string("solo")),
                    ("node_count", Value::int(2)),
                ],
                "node_count",
            ),
        ];
        for (pairs, attr) in cases {
            let mut d = Diagnostics::new();
            r.validate(&config(&pairs), &mut d);
            assert!(d.has_error(), "{attr}");
            assert_eq!(errors_at(&d), vec![attr.to_string()]);
        }
        let mut d = Diagnostics::new();
        r.validate(
            &config(&[("name", Value::string("ok")), ("topology", Value::Unknown)]),
            &mut d,
        );
        assert!(!d.has_error());
    }

    async fn plan(prior: &Value, cfg: &Value) -> (Plan, Diagnostics) {
        let r = SystemResource::new();
        let ctx = Ctx {
            data: None,
            cancel: tokio_util::sync::CancellationToken::new(),
        };
        let mut proposed = cfg.clone();
        if !prior.is_null() {
            // Terraform proposes prior values for computed attributes the config leaves unset.
            for a in &r.schema.block.attributes {
                if a.computed && cfg.get(a.name).is_none_or(Value::is_null) {
                    proposed.set_attr(a.name, prior.get(a.name).cloned().unwrap_or(Value::Null));
                }
            }
        }
        let mut p = plan_change(&r.schema, prior, &proposed, cfg);
        let mut d = Diagnostics::new();
        r.modify_plan(&ctx, &mut p, &mut d).await;
        apply_requires_replace(&r.schema, &mut p);
        (p, d)
    }

    #[tokio::test]
    async fn instance_type_and_nodes_follow_the_topology() {
        let cfg = config(&[
            ("name", Value::string("s")),
            ("topology", Value::string("solo")),
        ]);
        let (p, d) = plan(&Value::Null, &cfg).await;
        assert!(!d.has_error());
        assert_eq!(p.get("instance_type"), &Value::string("t2.small"));
        assert_eq!(p.get("node_count"), &Value::int(1));
        assert_eq!(p.get("application_name"), &Value::string("s"));
        assert_eq!(p.get("id"), &Value::string("s"));

        let mut prior = p.planned.clone();
        for (k, v) in [("vpc_id", "vpc-1"), ("image_id", "ami-1"), ("tags_all", "")] {
            prior.set_attr(
                k,
                if v.is_empty() {
                    Value::Map(Default::default())
                } else {
                    Value::string(v)
                },
            );
        }
        let cfg = config(&[
            ("name", Value::string("s")),
            ("topology", Value::string("production")),
        ]);
        let (p, d) = plan(&prior, &cfg).await;
        assert!(!d.has_error());
        assert_eq!(p.get("instance_type"), &Value::string("i3.large"));
        assert_eq!(p.get("node_count"), &Value::int(2));
        assert_eq!(p.get("vpc_id"), &Value::string("vpc-1"));
        assert!(p.requires_replace.is_empty());
    }

    #[tokio::test]
    async fn production_to_solo_is_refused_and_renames_replace() {
        let cfg = config(&[
            ("name", Value::string("s")),
            ("topology", Value::string("production")),
        ]);
        let (p, _) = plan(&Value::Null, &cfg).await;
        let prior = p.planned.clone();
        let cfg = config(&[
            ("name", Value::string("s")),
            ("topology", Value::string("solo")),
        ]);
        let (_, d) = plan(&prior, &cfg).await;
        assert_eq!(errors_at(&d), vec!["topology".to_string()]);
        let cfg = config(&[
            ("name", Value::string("t")),
            ("topology", Value::string("production")),
        ]);
        let (p, _) = plan(&prior, &cfg).await;
        assert!(p.requires_replace.contains(&"name".to_string()));
    }
}
