//! `datomic_query_group`: a compute group of a production system with its
//! own instance type, capacity, application and parameters.

use std::time::Duration;

use async_trait::async_trait;

use super::common::*;
use super::compute::{self, GroupSpec};
use super::node::NodeConfig;
use super::storage;
use super::system::unknowns_to_null;
use crate::aws::{states, tags, AwsError, Clients};
use crate::plugin::schema::timeouts_block;
use crate::plugin::{
    Attribute, Block, Ctx, Diagnostics, Nesting, Plan, Resource, Schema, Type, Value,
};
use crate::rules::{self, ComputeRole, Topology};

pub const TYPE_NAME: &str = "datomic_query_group";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub struct QueryGroupResource {
    schema: Schema,
}

impl Default for QueryGroupResource {
    fn default() -> Self {
        Self::new()
    }
}

impl QueryGroupResource {
    pub fn new() -> Self {
        QueryGroupResource { schema: schema() }
    }
}

/// Version 1: compute-group objects named `<system>--<group>`, and `arn`.
const SCHEMA_VERSION: i64 = 1;

/// A state of schema version 0: see [`common::upgrade_v0`](super::common::upgrade_v0).
fn upgrade_v0(raw: &serde_json::Value, diags: &mut Diagnostics) -> Value {
    super::common::upgrade_v0(raw, &schema(), diags)
}

fn schema() -> Schema {
    let allowed = rules::allowed_instance_types(ComputeRole::QueryGroup)
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Schema::new(
        SCHEMA_VERSION,
        Block::new("A Datomic query group: an autoscaled compute group of a production system, for a development stage, for elastic scaling, or for another application. It gets its own launch template and Auto Scaling group `<system>--<name>` in the system's network.")
            .attr(Attribute::computed("id", Type::String, "`<system>/<name>`.").use_state_for_unknown())
            .attr(Attribute::required("system", Type::String, "Name of the production system the group belongs to, usually `datomic_system.x.name`.").requires_replace())
            .attr(Attribute::required("name", Type::String, "The group's name, unique within its system: same rule as system names, and `primary` is reserved.").requires_replace())
            .attr(Attribute::optional_computed("application_name", Type::String, "The one application this group runs. Defaults to the group's name. Stages of one application share it.").requires_replace())
            .attr(Attribute::optional("instance_type", Type::String, &format!("Instance type of the nodes: {allowed}.")).default(Value::string(rules::default_instance_type(ComputeRole::QueryGroup))))
            .attr(Attribute::optional("min_size", Type::Number, "Minimum number of nodes.").default(Value::int(rules::DEFAULT_MIN_SIZE)))
            .attr(Attribute::optional("max_size", Type::Number, &format!("Maximum number of nodes (at most {}).", rules::MAX_QUERY_GROUP_SIZE)).default(Value::int(rules::DEFAULT_MAX_SIZE)))
            .attr(Attribute::optional_computed("desired_capacity", Type::Number, "Number of nodes to run now. Defaults to `min_size`. When unset, a group scaled by AWS is not drift."))
            .attr(Attribute::optional("parameters", Type::map(Type::String), "The group's environment, e.g. which database it works against: variable names to values, delivered to the nodes through the launch template. They are stored in plain text, in the Terraform state and in the launch template's user data: never put a password or key here."))
            .attr(Attribute::optional("tags", Type::map(Type::String), "Tags for the group's AWS objects. Keys starting with `aws:` or `datomic:` are reserved."))
            .attr(Attribute::computed("tags_all", Type::map(Type::String), "All tags, including the provider's `default_tags`."))
            .attr(Attribute::computed("autoscaling_group_name", Type::String, "The group's Auto Scaling group.").use_state_for_unknown())
            .attr(Attribute::computed("arn", Type::String, "ARN of the group's Auto Scaling group.").use_state_for_unknown())
            .attr(Attribute::computed("endpoint", Type::String, &format!("DNS name of the group's internal Network Load Balancer: clients of this group's application connect to it on port {}.", rules::CLIENT_PORT)).use_state_for_unknown())
            .attr(Attribute::computed("launch_template_id", Type::String, "The group's launch template.").use_state_for_unknown())
            .attr(Attribute::computed("node_role_name", Type::String, "IAM role of the group's nodes.").use_state_for_unknown())
            .block("autoscaling", Nesting::Single, Block::new("Elastic autoscaling: a target-tracking policy keeps the group's average CPU utilization near the target, between `min_size` and `max_size`. With it, `desired_capacity` is owned by AWS (leave it unset) and never shows as drift. The primary compute group has no such block: Datomic sizes it explicitly.")
                .attr(Attribute::required("target_cpu_utilization", Type::Number, "Average CPU utilization to keep, in percent (more than 0, at most 100), e.g. `60`.")))
            .block("timeouts", Nesting::Single, timeouts_block(&["create", "update", "delete"], "30m")),
    )
}

const IDENTITY_KEYS: &[&str] = &[
    rules::TAG_CREATED,
    rules::TAG_SYSTEM,
    rules::TAG_GROUP,
    rules::TAG_APPLICATION,
    rules::TAG_MANAGED_BY,
];

/// The topology of a system, from its primary group's tags; None if it does not exist.
pub async fn system_topology(
    c: &Clients,
    system: &str,
    probe: bool,
) -> Result<Option<String>, AwsError> {
    Ok(compute::group_tags(c, system, rules::PRIMARY_GROUP, probe)
        .await?
        .map(|t| t.get("datomic:topology").cloned().unwrap_or_default()))
}

/// Refuses a missing or solo system (None when it is fine).
async fn check_system(
    c: &Clients,
    system: &str,
    probe: bool,
) -> Result<Option<rules::Violation>, AwsError> {
    match system_topology(c, system, probe).await? {
        None => Ok(Some(rules::Violation::new(
            "system",
            "Datomic system not found",
            format!("No Datomic system named {system:?} exists (its Auto Scaling group {} was not found). Create it first, or reference datomic_system.<name>.name so Terraform orders the two.", rules::asg_name(system, rules::PRIMARY_GROUP)),
        ))),
        Some(t) => Ok(Topology::parse(&t).and_then(|t| rules::check_query_group_target(system, t).err())),
    }
}

/// The `autoscaling` block's target, when the block is set.
fn cpu_target_of(v: &Value) -> Option<f64> {
    v.get("autoscaling")?
        .get("target_cpu_utilization")?
        .as_number()?
        .as_f64()
}

fn autoscaling_value(target: Option<f64>) -> Value {
    match target.and_then(crate::plugin::value::Number::from_f64) {
        Some(n) => {
            let mut m = std::collections::BTreeMap::new();
            m.insert("target_cpu_utilization".to_string(), Value::Number(n));
            Value::Object(m)
        }
        None => Value::Null,
    }
}

impl QueryGroupResource {
    async fn do_create(
        &self,
        c: &Clients,
        ctx: &Ctx<Clients>,
        planned: &Value,
        state: &mut Value,
    ) -> Result<(), AwsError> {
        let system = str_attr(planned, "system").unwrap_or_default();
        let name = str_attr(planned, "name").unwrap_or_default();
        let app = str_attr(planned, "application_name").unwrap_or_else(|| name.clone());
        let timeout = timeout(planned, "create", DEFAULT_TIMEOUT);
        let Some(primary) = compute::read_group(c, &system, rules::PRIMARY_GROUP).await? else {
            return Err(AwsError::new(
                None,
                format!("system {system:?} does not exist"),
            ));
        };
        let st = storage::find(c, &system).await?;
        // The system's network, as its primary group runs in it (ours or the user's).
        let (vpc_id, subnet_ids) = compute::network_of(c, &primary).await?;
        let sg = compute::security_group::of_group(c, &primary, &system).await?;
        let tags_all = tags::merge(&c.default_tags, &tags(planned));
        let full = tags::with_identity(
            &tags_all,
            &[
                (rules::TAG_SYSTEM, &system),
                (rules::TAG_GROUP, &name),
                (rules::TAG_APPLICATION, &app),
                (rules::TAG_MANAGED_BY, rules::MANAGED_BY_VALUE),
            ],
        );
        state.set_attr("tags_all", string_map(&tags_all));
        let role = compute::ensure_role(
            c,
            &system,
            &name,
            &full,
            &compute::node_policy(c, &st.bucket, &st.table).await?,
            &ctx.cancel,
        )
        .await?;
        state.set_attr("node_role_name", Value::string(&role));
        let node = NodeConfig {
            system: system.clone(),
            group: name.clone(),
            application: app.clone(),
            parameters: map_attr(planned, "parameters").unwrap_or_default(),
            bucket: st.bucket.clone(),
            table: st.table.clone(),
            ..Default::default()
        };
        let min = int_attr(planned, "min_size").unwrap_or(1);
        let max = int_attr(planned, "max_size").unwrap_or(1);
        let desired = int_attr(planned, "desired_capacity").unwrap_or(min);
        let instance_type = str_attr(planned, "instance_type").unwrap_or_default();
        let ep = compute::ensure_endpoint(c, &system, &name, &vpc_id, &subnet_ids, &full).await?;
        state.set_attr("endpoint", Value::string(&ep.dns_name));
        let lt = compute::ensure_group(
            c,
            &GroupSpec {
                system: &system,
                group: &name,
                instance_type: &instance_type,
                image_id: &primary.image_id,
                min,
                max,
                desired,
                node: &node,
                security_group_id: &sg,
                subnet_ids: &subnet_ids,
                target_group_arn: &ep.target_group_arn,
                tags: &full,
                cancel: &ctx.cancel,
            },
        )
        .await?;
        state.set_attr("launch_template_id", Value::string(&lt));
        let asg = rules::asg_name(&system, &name);
        state.set_attr("autoscaling_group_name", Value::string(&asg));
        if let Some(target) = cpu_target_of(planned) {
            compute::put_cpu_target(c, &asg, target).await?;
        }
        compute::wait_in_service(c, &system, &name, desired, timeout, &ctx.cancel).await?;
        states::load_balancer_active(c, &ep.load_balancer_arn, timeout, &ctx.cancel).await?;
        compute::mark_created(c, &asg).await
    }

    /// Reads the query group named by `state`'s `system` and `name` (or `id`)
    /// as this resource's state; `Value::Null` when it does not exist.
    /// Shared with the `datomic_query_group` data source.
    pub(crate) async fn do_read(&self, c: &Clients, state: &Value) -> Result<Value, AwsError> {
        let (system, name) = match (str_attr(state, "system"), str_attr(state, "name")) {
            (Some(s), Some(n)) => (s, n),
            _ => match str_attr(state, "id").map(|id| rules::parse_query_group_id(&id)) {
                Some(Ok(p)) => p,
                _ => return Ok(Value::Null),
            },
        };
        let Some(g) = compute::read_group(c, &system, &name).await? else {
            if !state.is_null() && compute::has_leftovers(c, &system, &name).await? {
                // Half made (a failed create) or its Auto Scaling group deleted
                // outside Terraform: keep tracking it, the next plan replaces it.
                let mut v = state.clone();
                v.set_attr("autoscaling_group_name", Value::string(""));
                return Ok(v);
            }
            return Ok(Value::Null);
        };
        let mut v = state.clone();
        let tags_all = tags::user_tags(&g.tags, IDENTITY_KEYS);
        v.set_attr("id", Value::string(rules::query_group_id(&system, &name)));
        v.set_attr("system", Value::string(&system));
        v.set_attr("name", Value::string(&name));
        let app = g
            .tags
            .get(rules::TAG_APPLICATION)
            .cloned()
            .unwrap_or_else(|| g.node.application.clone());
        v.set_attr("application_name", Value::string(&app));
        v.set_attr("instance_type", Value::string(&g.instance_type));
        v.set_attr("min_size", Value::int(g.min));
        v.set_attr("max_size", Value::int(g.max));
        v.set_attr("desired_capacity", Value::int(g.desired));
        let params = g.node.parameters.clone();
        let prior_params = state.get("parameters").cloned().unwrap_or(Value::Null);
        v.set_attr(
            "parameters",
            if params.is_empty() && prior_params.is_null() {
                Value::Null
            } else {
                string_map(&params)
            },
        );
        let prior_tags = state.get("tags").cloned().unwrap_or(Value::Null);
        v.set_attr("tags", read_tags(&prior_tags, &tags_all, &c.default_tags));
        v.set_attr("tags_all", string_map(&tags_all));
        v.set_attr("autoscaling_group_name", Value::string(&g.asg_name));
        v.set_attr("arn", Value::string(&g.arn));
        v.set_attr("launch_template_id", Value::string(&g.launch_template_id));
        v.set_attr(
            "autoscaling",
            autoscaling_value(compute::cpu_target(c, &g.asg_name).await?),
        );
        let ep = compute::find_endpoint(c, &system, &name).await?;
        v.set_attr("endpoint", Value::string(ep.usable_dns()));
        v.set_attr(
            "node_role_name",
            Value::string(compute::node_role_name_as_read(c, &system, &name).await?),
        );
        Ok(v)
    }

    async fn do_update(
        &self,
        c: &Clients,
        ctx: &Ctx<Clients>,
        planned: &Value,
    ) -> Result<Value, AwsError> {
        let system = str_attr(planned, "system").unwrap_or_default();
        let name = str_attr(planned, "name").unwrap_or_default();
        let app = str_attr(planned, "application_name").unwrap_or_else(|| name.clone());
        let timeout = timeout(planned, "update", DEFAULT_TIMEOUT);
        let Some(g) = compute::read_group(c, &system, &name).await? else {
            // Its Auto Scaling group is gone (half made, or deleted outside
            // Terraform): re-run the create, which adopts what exists.
            let mut state = planned.clone();
            self.do_create(c, ctx, planned, &mut state).await?;
            let mut v = self.do_read(c, &state).await?;
            for keep in ["timeouts", "tags", "parameters"] {
                v.set_attr(keep, planned.get(keep).cloned().unwrap_or(Value::Null));
            }
            return Ok(v);
        };
        let tags_all = tags::merge(&c.default_tags, &tags(planned));
        let full = tags::with_identity(
            &tags_all,
            &[
                (rules::TAG_SYSTEM, &system),
                (rules::TAG_GROUP, &name),
                (rules::TAG_APPLICATION, &app),
                (rules::TAG_MANAGED_BY, rules::MANAGED_BY_VALUE),
            ],
        );
        let instance_type = str_attr(planned, "instance_type").unwrap_or_default();
        let mut node = g.node.clone();
        if node.system.is_empty() {
            // The latest launch template version lost its node configuration
            // (changed outside Terraform): rebuild it from the resource.
            node = NodeConfig {
                system: system.clone(),
                group: name.clone(),
                application: app.clone(),
                bucket: storage::bucket_name(c, &system).await?,
                table: rules::table_name(&system),
                ..Default::default()
            };
        }
        node.parameters = map_attr(planned, "parameters").unwrap_or_default();
        // Likewise the image: the system's primary group's.
        let image = compute::image_of(c, &g, &system).await?;
        let template_changed = instance_type != g.instance_type
            || node != g.node
            || tags_all != tags::user_tags(&g.tags, IDENTITY_KEYS);
        compute::update_tags(c, &g, &full).await?;
        if is_unknown(planned, "node_role_name") {
            // The last read found the node role changed outside Terraform.
            let policy = compute::system_node_policy(c, &system).await?;
            compute::repair_node_role(c, &system, &name, &full, &policy, &ctx.cancel).await?;
        }
        // Repairs a load balancer, listener or target group deleted outside Terraform.
        let (vpc_id, subnet_ids) = compute::network_of(c, &g).await?;
        let ep = compute::ensure_endpoint(c, &system, &name, &vpc_id, &subnet_ids, &full).await?;
        compute::attach_endpoint(c, &g, &ep).await?;
        if template_changed {
            let sg = compute::security_group::of_group(c, &g, &system).await?;
            compute::new_version(c, &g, &instance_type, &image, &node, &sg, &full).await?;
        }
        let min = int_attr(planned, "min_size").unwrap_or(g.min);
        let max = int_attr(planned, "max_size").unwrap_or(g.max);
        let desired = int_attr(planned, "desired_capacity")
            .unwrap_or(g.desired)
            .clamp(min, max);
        if (min, max, desired) != (g.min, g.max, g.desired) {
            compute::set_capacity(c, &g.asg_name, min, max, desired).await?;
        }
        // Read first: write only a policy that differs.
        let have = compute::cpu_target(c, &g.asg_name).await?;
        match cpu_target_of(planned) {
            Some(target) if have != Some(target) => {
                compute::put_cpu_target(c, &g.asg_name, target).await?
            }
            None if have.is_some() => compute::delete_cpu_target(c, &g.asg_name).await?,
            _ => {}
        }
        compute::wait_in_service(c, &system, &name, desired, timeout, &ctx.cancel).await?;
        states::load_balancer_active(c, &ep.load_balancer_arn, timeout, &ctx.cancel).await?;
        // Always: nodes left on an older configuration by an interrupted
        // update are replaced too (nothing happens when all are current).
        compute::roll(c, &system, &name, timeout, &ctx.cancel).await?;
        let mut v = self.do_read(c, planned).await?;
        for keep in ["timeouts", "tags", "parameters"] {
            v.set_attr(keep, planned.get(keep).cloned().unwrap_or(Value::Null));
        }
        Ok(v)
    }
}

#[async_trait]
impl Resource<Clients> for QueryGroupResource {
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
            check(diags, rules::check_query_group_name(&n));
        }
        if let Some(s) = str_attr(config, "system") {
            check(
                diags,
                rules::check_system_name(&s).map_err(|mut v| {
                    v.attribute = "system";
                    v
                }),
            );
        }
        if let Some(a) = str_attr(config, "application_name") {
            check(diags, rules::check_application_name("application_name", &a));
        }
        if let Some(it) = str_attr(config, "instance_type") {
            check(
                diags,
                rules::check_instance_type(ComputeRole::QueryGroup, &it),
            );
        }
        check_whole_numbers(config, &["min_size", "max_size", "desired_capacity"], diags);
        let known = |a: &str| !is_unknown(config, a);
        if known("min_size") && known("max_size") && known("desired_capacity") {
            let min = int_attr(config, "min_size").unwrap_or(rules::DEFAULT_MIN_SIZE);
            let max = int_attr(config, "max_size").unwrap_or(rules::DEFAULT_MAX_SIZE);
            check_all(
                diags,
                rules::check_capacity(min, max, int_attr(config, "desired_capacity")),
            );
        }
        if let Some(p) = map_attr(config, "parameters") {
            check_all(diags, rules::check_parameters(&p));
        }
        if let Some(target) = cpu_target_of(config) {
            if let Err(mut v) = rules::check_target_cpu_utilization(target) {
                diags.attribute_error(
                    crate::plugin::AttrPath::root("autoscaling").attr("target_cpu_utilization"),
                    std::mem::take(&mut v.summary),
                    v.detail,
                );
            }
        }
        let has_autoscaling = config.get("autoscaling").is_some_and(|a| !a.is_null());
        check(
            diags,
            rules::check_autoscaling_conflicts(
                has_autoscaling,
                config.get("desired_capacity").is_some_and(|d| !d.is_null()),
            ),
        );
        if let Some(t) = map_attr(config, "tags") {
            check_all(diags, rules::check_tags(&t));
        }
        validate_timeouts(config, diags);
    }

    async fn modify_plan(&self, ctx: &Ctx<Clients>, plan: &mut Plan, diags: &mut Diagnostics) {
        if !plan.config_sets("application_name") {
            let n = plan.get("name").clone();
            plan.set("application_name", n);
        }
        if let (Some(s), Some(n)) = (
            str_attr(&plan.planned, "system"),
            str_attr(&plan.planned, "name"),
        ) {
            plan.set("id", Value::string(rules::query_group_id(&s, &n)));
        }
        // desired_capacity: the config's value; else keep what AWS runs while it
        // fits [min, max] (autoscaling is not drift); else min_size.
        if !plan.config_sets("desired_capacity") {
            match (
                int_attr(&plan.planned, "min_size"),
                int_attr(&plan.planned, "max_size"),
            ) {
                (Some(min), Some(max)) => {
                    let d = int_attr(&plan.prior, "desired_capacity")
                        .filter(|d| (min..=max).contains(d))
                        .unwrap_or(min);
                    plan.set("desired_capacity", Value::int(d));
                }
                _ => plan.set("desired_capacity", Value::Unknown),
            }
        }
        plan_tags_all(plan, ctx.data.as_deref().map(|c| &c.default_tags));
        compute::plan_endpoint_repair(plan);
        compute::plan_repair_if_half_made(plan);
        compute::plan_role_repair(plan);
        // A query group needs an existing production system: check it when it
        // exists already (a system created in the same apply is checked at create).
        if plan.is_create() {
            if let (Some(c), Some(system), Some(name)) = (
                ctx.data.as_deref(),
                str_attr(&plan.planned, "system"),
                str_attr(&plan.planned, "name"),
            ) {
                // Never take over a live group of another state.
                match compute::check_not_taken(c, &system, &name, true).await {
                    Ok(Some(why)) => diags.attribute_error(
                        crate::plugin::AttrPath::root("name"),
                        format!("Datomic query group {name:?} already exists"),
                        why,
                    ),
                    Ok(None) => {}
                    Err(e) => diags.warning(
                        "Could not check whether the query group exists",
                        e.to_string(),
                    ),
                }
            }
            if let (Some(c), Some(system)) =
                (ctx.data.as_deref(), str_attr(&plan.planned, "system"))
            {
                match check_system(c, &system, true).await {
                    Ok(Some(mut v)) if v.summary != "Datomic system not found" => {
                        v.detail.push_str(&format!(" If this same plan upgrades system {system:?} to production, apply that first (terraform apply -target=<the datomic_system>), then apply again."));
                        violation(diags, &v)
                    }
                    Ok(_) => {}
                    Err(e) => {
                        diags.warning("Could not check the query group's system", e.to_string())
                    }
                }
            }
        }
    }

    async fn create(&self, ctx: &Ctx<Clients>, planned: &Value, diags: &mut Diagnostics) -> Value {
        let Some(c) = writer(ctx, diags) else {
            return Value::Null;
        };
        let system = str_attr(planned, "system").unwrap_or_default();
        let name = str_attr(planned, "name").unwrap_or_default();
        // Before any write: never take over a live group of another state.
        match compute::check_not_taken(c, &system, &name, false).await {
            Ok(None) => {}
            Ok(Some(why)) => {
                diags.attribute_error(
                    crate::plugin::AttrPath::root("name"),
                    format!("Datomic query group {name:?} already exists"),
                    why,
                );
                return Value::Null;
            }
            Err(e) => {
                aws_error(
                    diags,
                    &format!("creating Datomic query group ({system}/{name})"),
                    e,
                );
                return Value::Null;
            }
        }
        // Before any write: the system must exist and be production.
        match check_system(c, &system, false).await {
            Ok(Some(v)) => {
                violation(diags, &v);
                return Value::Null;
            }
            Ok(None) => {}
            Err(e) => {
                aws_error(
                    diags,
                    &format!("creating Datomic query group ({system}/{name})"),
                    e,
                );
                return Value::Null;
            }
        }
        let mut state = planned.clone();
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
                    for keep in ["timeouts", "tags", "parameters"] {
                        v.set_attr(keep, planned.get(keep).cloned().unwrap_or(Value::Null));
                    }
                    v
                }
                Ok(_) => {
                    diags.error(
                        format!("creating Datomic query group ({system}/{name})"),
                        "the Auto Scaling group is missing right after creation",
                    );
                    unknowns_to_null(state)
                }
                Err(e) => {
                    aws_error(
                        diags,
                        &format!("reading Datomic query group ({system}/{name}) after create"),
                        e,
                    );
                    unknowns_to_null(state)
                }
            },
            Err(e) => {
                aws_error(
                    diags,
                    &format!("creating Datomic query group ({system}/{name})"),
                    e,
                );
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
                if let (Some(system), Some(name)) = (str_attr(&v, "system"), str_attr(&v, "name")) {
                    compute::tracked(&system, &name);
                } else if let (true, Some(system), Some(name)) = (
                    is_import(state),
                    str_attr(state, "system"),
                    str_attr(state, "name"),
                ) {
                    let what = format!("Datomic query group ({system}/{name})");
                    refuse_foreign_import(c, &system, &name, &what, diags).await;
                }
                v
            }
            Err(e) => {
                aws_error(diags, "reading Datomic query group", e);
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
            self.do_update(c, ctx, planned),
        )
        .await
        {
            Ok(v) if !v.is_null() => v,
            Ok(_) => prior.clone(),
            Err(e) => {
                aws_error(
                    diags,
                    &format!(
                        "updating Datomic query group ({})",
                        str_attr(prior, "id").unwrap_or_default()
                    ),
                    e,
                );
                prior.clone()
            }
        }
    }

    async fn delete(&self, ctx: &Ctx<Clients>, prior: &Value, diags: &mut Diagnostics) {
        let Some(c) = writer(ctx, diags) else { return };
        let system = str_attr(prior, "system").unwrap_or_default();
        let name = str_attr(prior, "name").unwrap_or_default();
        let timeout = timeout(prior, "delete", DEFAULT_TIMEOUT);
        if let Err(e) = cancellable(
            &ctx.cancel,
            ("delete", timeout),
            compute::delete_group(c, &system, &name, timeout, &ctx.cancel),
        )
        .await
        {
            aws_error(
                diags,
                &format!("deleting Datomic query group ({system}/{name})"),
                e,
            );
        }
    }

    async fn import(&self, _ctx: &Ctx<Clients>, id: &str, diags: &mut Diagnostics) -> Value {
        let mut v = Value::null_object(&self.schema.ty());
        if let Some((system, name)) = check(diags, rules::parse_query_group_id(id)) {
            v.set_attr("id", Value::string(id));
            v.set_attr("system", Value::string(system));
            v.set_attr("name", Value::string(name));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::plan::plan_change;
    use crate::plugin::PathStepExt;

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut v = Value::null_object(&schema().ty());
        for (k, x) in pairs {
            v.set_attr(k, x.clone());
        }
        v
    }

    #[test]
    fn validate_capacity_names_and_sizes() {
        let r = QueryGroupResource::new();
        let base = [
            ("system", Value::string("prod")),
            ("name", Value::string("dev")),
        ];
        let cases: Vec<(Vec<(&str, Value)>, &str)> = vec![
            (vec![("name", Value::string("primary"))], "name"),
            (
                vec![("instance_type", Value::string("t2.small"))],
                "instance_type",
            ),
            (
                vec![("min_size", Value::int(3)), ("max_size", Value::int(2))],
                "min_size",
            ),
            (
                vec![
                    ("max_size", Value::int(4)),
                    ("desired_capacity", Value::int(5)),
                ],
                "desired_capacity",
            ),
            (vec![("system", Value::string("Bad_Name"))], "system"),
            (
                vec![(
                    "parameters",
                    Value::Map(
                        [("1BAD".to_string(), Value::string("x"))]
                            .into_iter()
                            .collect(),
                    ),
                )],
                "parameters",
            ),
        ];
        for (extra, attr) in cases {
            let mut pairs: Vec<(&str, Value)> = base.to_vec();
            pairs.extend(extra);
            let mut d = Diagnostics::new();
            r.validate(&config(&pairs), &mut d);
            let at: Vec<String> = d
                .iter()
                .filter_map(|x| x.path.as_ref().map(|p| p.first_attr()))
                .collect();
            assert!(at.contains(&attr.to_string()), "{attr}: {at:?}");
        }
    }

    #[tokio::test]
    async fn desired_capacity_defaults_to_min_and_keeps_autoscaled_value() {
        let r = QueryGroupResource::new();
        let ctx = Ctx {
            data: None,
            cancel: tokio_util::sync::CancellationToken::new(),
        };
        let cfg = config(&[
            ("system", Value::string("p")),
            ("name", Value::string("q")),
            ("min_size", Value::int(2)),
            ("max_size", Value::int(6)),
        ]);
        let mut p = plan_change(&r.schema, &Value::Null, &cfg, &cfg);
        let mut d = Diagnostics::new();
        r.modify_plan(&ctx, &mut p, &mut d).await;
        assert_eq!(p.get("desired_capacity"), &Value::int(2));
        assert_eq!(p.get("id"), &Value::string("p/q"));
        assert_eq!(p.get("application_name"), &Value::string("q"));

        // AWS scaled the group to 5: not drift while it fits [min, max].
        let mut prior = p.planned.clone();
        prior.set_attr("desired_capacity", Value::int(5));
        let mut proposed = cfg.clone();
        for a in [
            "id",
            "application_name",
            "desired_capacity",
            "tags_all",
            "autoscaling_group_name",
            "launch_template_id",
            "node_role_name",
            "instance_type",
        ] {
            proposed.set_attr(a, prior.get(a).cloned().unwrap_or(Value::Null));
        }
        let mut p = plan_change(&r.schema, &prior, &proposed, &cfg);
        r.modify_plan(&ctx, &mut p, &mut d).await;
        assert_eq!(p.get("desired_capacity"), &Value::int(5));
    }
}
