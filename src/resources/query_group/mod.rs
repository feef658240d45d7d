//! `datomic_query_group`: a compute group of a production system with its
//! own instance type, capacity, application and parameters.
//!
//! `schema` declares it, `model` names its attributes and types them, `plan`
//! holds the plan-time logic (on values, where unknowns matter); create,
//! read, update and delete below work on the model.

mod model;
mod plan;
mod schema;

use std::time::Duration;

use async_trait::async_trait;

pub use self::model::{attr, Autoscaling, QueryGroupModel};
use self::schema::schema;
use super::common::*;
use super::compute::{self, GroupSpec};
use super::lifecycle::{self, Creates, Updated, Updates};
use super::model::{timeout as timeout_of, Model, Op};
use super::node::NodeConfig;
use super::storage;
use crate::aws::{states, tags, Clients, Lookup};
use crate::plugin::value::Number;
use crate::plugin::{Ctx, Diagnostics, Plan, Resource, Schema, Value};
use crate::resources::error::OpError;
use crate::rules::{self, Topology};

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

/// A state of schema version 0: see [`common::upgrade_v0`](super::common::upgrade_v0).
fn upgrade_v0(raw: &serde_json::Value, diags: &mut Diagnostics) -> Value {
    super::common::upgrade_v0(raw, &schema(), diags)
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
    lookup: Lookup,
) -> Result<Option<String>, OpError> {
    Ok(compute::group_tags(c, system, rules::PRIMARY_GROUP, lookup)
        .await?
        .map(|t| t.get(rules::TAG_TOPOLOGY).cloned().unwrap_or_default()))
}

/// Refuses a missing or solo system (None when it is fine).
async fn check_system(
    c: &Clients,
    system: &str,
    lookup: Lookup,
) -> Result<Option<rules::Violation>, OpError> {
    match system_topology(c, system, lookup).await? {
        None => Ok(Some(rules::Violation::new(
            attr::SYSTEM,
            "Datomic system not found",
            format!("No Datomic system named {system:?} exists (its Auto Scaling group {} was not found). Create it first, or reference datomic_system.<name>.name so Terraform orders the two.", rules::asg_name(system, rules::PRIMARY_GROUP)),
        ))),
        Some(t) => Ok(Topology::parse(&t).and_then(|t| rules::check_query_group_target(system, t).err())),
    }
}

/// The `autoscaling` block as read: a target-tracking policy's target.
fn autoscaling_of(target: Option<f64>) -> Option<Autoscaling> {
    target.and_then(Number::from_f64).map(|n| Autoscaling {
        target_cpu_utilization: Some(n),
    })
}

/// The identity tags plus `tags_all`, and `tags_all` alone.
fn all_tags(c: &Clients, planned: &QueryGroupModel) -> (tags::Tags, tags::Tags) {
    let (system, name, app) = (planned.system(), planned.name(), planned.application());
    let tags_all = tags::merge(&c.default_tags, &planned.tags.clone().unwrap_or_default());
    let full = tags::with_identity(
        &tags_all,
        &[
            (rules::TAG_SYSTEM, &system),
            (rules::TAG_GROUP, &name),
            (rules::TAG_APPLICATION, &app),
            (rules::TAG_MANAGED_BY, rules::MANAGED_BY_VALUE),
        ],
    );
    (tags_all, full)
}

/// What the state keeps from the plan rather than from AWS.
fn keep_planned(read: &mut QueryGroupModel, planned: &QueryGroupModel) {
    read.timeouts = planned.timeouts.clone();
    read.tags = planned.tags.clone();
    read.parameters = planned.parameters.clone();
}

#[async_trait]
impl Creates for QueryGroupResource {
    type Model = QueryGroupModel;
    const NAME_ATTR: &'static str = attr::NAME;
    const MISSING_AFTER_CREATE: &'static str =
        "the Auto Scaling group is missing right after creation";

    fn what(&self, planned: &QueryGroupModel) -> String {
        format!(
            "Datomic query group ({}/{})",
            planned.system(),
            planned.name()
        )
    }

    fn taken(&self, planned: &QueryGroupModel) -> String {
        format!("Datomic query group {:?} already exists", planned.name())
    }

    fn compute_group(&self, planned: &QueryGroupModel) -> (String, String) {
        (planned.system(), planned.name())
    }

    fn create_timeout(&self, planned: &QueryGroupModel) -> Duration {
        timeout_of(&planned.timeouts, Op::Create, DEFAULT_TIMEOUT)
    }

    /// Before any write: the system must exist and be production.
    async fn check_before_create(
        &self,
        c: &Clients,
        planned: &QueryGroupModel,
        diags: &mut Diagnostics,
    ) -> bool {
        let arn = planned.node_policy_arn.as_deref();
        if !compute::node_policy_arn::check_before_create(c, arn, &self.what(planned), diags).await
        {
            return false;
        }
        match check_system(c, &planned.system(), Lookup::Apply).await {
            Ok(Some(v)) => {
                violation(diags, &v);
                false
            }
            Ok(None) => true,
            Err(e) => {
                aws_error(diags, &format!("creating {}", self.what(planned)), e);
                false
            }
        }
    }

    async fn do_create(
        &self,
        c: &Clients,
        ctx: &Ctx<Clients>,
        planned: &QueryGroupModel,
        state: &mut QueryGroupModel,
    ) -> Result<(), OpError> {
        let (system, name, app) = (planned.system(), planned.name(), planned.application());
        let timeout = timeout_of(&planned.timeouts, Op::Create, DEFAULT_TIMEOUT);
        let Some(primary) = compute::read_group(c, &system, rules::PRIMARY_GROUP).await? else {
            return Err(OpError::Vanished(format!(
                "system {system:?} does not exist"
            )));
        };
        let st = storage::find(c, &system).await?;
        // The system's network, as its primary group runs in it (ours or the user's).
        let (vpc_id, subnet_ids) = compute::network_of(c, &primary).await?;
        let sg = compute::security_group::of_group(c, &primary, &system).await?;
        let (tags_all, full) = all_tags(c, planned);
        state.tags_all = Some(tags_all);
        // The load balancer needs only the subnets: it provisions beside the role.
        let (role, ep) = tokio::join!(
            async {
                compute::ensure_role(
                    c,
                    &system,
                    &name,
                    &full,
                    &compute::node_policy(c, &system, &st.bucket, &st.table).await?,
                    &ctx.cancel,
                )
                .await
            },
            compute::ensure_endpoint(c, &system, &name, &vpc_id, &subnet_ids, &full)
        );
        if let Ok(role) = &role {
            state.node_role_name = Some(role.clone());
            let arn = planned.node_policy_arn.as_deref();
            compute::node_policy_arn::sync(c, &system, &name, None, arn).await?;
        }
        if let Ok(ep) = &ep {
            state.load_balancer_dns_name = Some(ep.dns_name.clone());
        }
        role?;
        let ep = ep?;
        sync_rules(c, &system, &name, &vpc_id, &sg, &ep).await?;
        // The group's name in the system's zone: clients' endpoint.
        compute::dns::ensure_group_record(c, &system, &name, &ep.dns_name, &ctx.cancel).await?;
        state.endpoint = Some(rules::endpoint_url(&system, &c.region, &name));
        let node = NodeConfig {
            system: system.clone(),
            group: name.clone(),
            application: app.clone(),
            parameters: planned.parameters.clone().unwrap_or_default(),
            bucket: st.bucket.clone(),
            table: st.table.clone(),
            volume_key_arn: Some(st.key_arn.clone()).filter(|k| !k.is_empty()),
            ..Default::default()
        };
        let min = planned.min_size.unwrap_or(1);
        let max = planned.max_size.unwrap_or(1);
        let desired = planned.desired_capacity.unwrap_or(min);
        let instance_type = planned.instance_type.clone().unwrap_or_default();
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
        state.launch_template_id = Some(lt);
        let asg = rules::asg_name(&system, &name);
        state.autoscaling_group_name = Some(asg.clone());
        if let Some(target) = planned.cpu_target() {
            compute::put_cpu_target(c, &asg, target).await?;
        }
        compute::wait_in_service(c, &system, &name, desired, timeout, &ctx.cancel).await?;
        states::load_balancer_active(c, &ep.load_balancer_arn, timeout, &ctx.cancel).await?;
        compute::mark_created(c, &asg).await
    }

    async fn read_model(
        &self,
        c: &Clients,
        state: &QueryGroupModel,
    ) -> Result<Option<QueryGroupModel>, OpError> {
        QueryGroupResource::read_model(self, c, state, true).await
    }

    fn keep_planned(&self, read: &mut QueryGroupModel, planned: &QueryGroupModel) {
        keep_planned(read, planned)
    }
}

impl QueryGroupResource {
    /// Reads the query group named by `state`'s `system` and `name` (or `id`)
    /// as this resource's state; `Value::Null` when it does not exist.
    /// Shared with the `datomic_query_group` data source.
    pub(crate) async fn do_read(&self, c: &Clients, state: &Value) -> Result<Value, OpError> {
        let prior = QueryGroupModel::from_value(state);
        Ok(self
            .read_model(c, &prior, !state.is_null())
            .await?
            .map_or(Value::Null, |m| m.to_value()))
    }

    /// Reads the query group a state names; None when it does not exist.
    /// `exists`: whether there is a prior state at all (a null one has
    /// nothing to keep tracking).
    async fn read_model(
        &self,
        c: &Clients,
        state: &QueryGroupModel,
        exists: bool,
    ) -> Result<Option<QueryGroupModel>, OpError> {
        let (system, name) = match (state.system.clone(), state.name.clone()) {
            (Some(s), Some(n)) => (s, n),
            _ => match state.id.as_deref().map(rules::parse_query_group_id) {
                Some(Ok(p)) => p,
                _ => return Ok(None),
            },
        };
        let Some(g) = compute::read_group(c, &system, &name).await? else {
            if exists && compute::has_leftovers(c, &system, &name).await? {
                // Half made (a failed create) or its Auto Scaling group deleted
                // outside Terraform: keep tracking it, the next plan replaces it.
                let mut v = state.clone();
                v.autoscaling_group_name = Some(String::new());
                return Ok(Some(v));
            }
            return Ok(None);
        };
        let mut v = state.clone();
        let tags_all = tags::user_tags(&g.tags, IDENTITY_KEYS);
        v.id = Some(rules::query_group_id(&system, &name));
        v.system = Some(system.clone());
        v.name = Some(name.clone());
        let app = g
            .tags
            .get(rules::TAG_APPLICATION)
            .cloned()
            .unwrap_or_else(|| g.node.application.clone());
        v.application_name = Some(app);
        v.instance_type = Some(g.instance_type.clone());
        v.min_size = Some(g.min);
        v.max_size = Some(g.max);
        v.desired_capacity = Some(g.desired);
        let params = g.node.parameters.clone();
        v.parameters = if params.is_empty() && state.parameters.is_none() {
            None
        } else {
            Some(params)
        };
        v.tags = read_tags_of(state.tags.as_ref(), &tags_all, &c.default_tags);
        v.tags_all = Some(tags_all);
        v.autoscaling_group_name = Some(g.asg_name.clone());
        v.arn = Some(g.arn.clone());
        v.launch_template_id = Some(g.launch_template_id_as_read());
        v.autoscaling = autoscaling_of(compute::cpu_target(c, &g.asg_name).await?);
        let ep = compute::find_endpoint(c, &system, &name).await?;
        let lb_dns = ep.usable_dns();
        v.endpoint = Some(compute::dns::read_endpoint(c, &system, &name, lb_dns).await?);
        v.load_balancer_dns_name = Some(lb_dns.to_string());
        let arn = state.node_policy_arn.as_deref();
        let role = compute::node_role_as_read(c, &system, &name, arn).await?;
        v.node_role_name = Some(role.name);
        v.node_policy_arn = role.node_policy_arn;
        Ok(Some(v))
    }
}

#[async_trait]
impl Updates for QueryGroupResource {
    const NODE_ROLE_ATTR: &'static str = attr::NODE_ROLE_NAME;

    fn update_timeout(&self, planned: &QueryGroupModel) -> Duration {
        timeout_of(&planned.timeouts, Op::Update, DEFAULT_TIMEOUT)
    }

    /// `repair_role`: the last read found the node role changed outside
    /// Terraform (the plan has `node_role_name` unknown).
    async fn do_update(
        &self,
        c: &Clients,
        ctx: &Ctx<Clients>,
        prior: &QueryGroupModel,
        planned: &QueryGroupModel,
        repair_role: bool,
    ) -> Result<Updated, OpError> {
        let (system, name, app) = (planned.system(), planned.name(), planned.application());
        let timeout = timeout_of(&planned.timeouts, Op::Update, DEFAULT_TIMEOUT);
        let Some(g) = compute::read_group(c, &system, &name).await? else {
            return Ok(Updated::GroupGone);
        };
        let (tags_all, full) = all_tags(c, planned);
        let instance_type = planned.instance_type.clone().unwrap_or_default();
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
        node.parameters = planned.parameters.clone().unwrap_or_default();
        // The nodes' volumes: encrypted with the system's key (a group made
        // before it gets it now).
        node.volume_key_arn = storage::key_arn(c, &system).await?;
        // Likewise the image: the system's primary group's.
        let image = compute::image_of(c, &g, &system).await?;
        let template_changed = instance_type != g.instance_type
            || node != g.node
            || tags_all != tags::user_tags(&g.tags, IDENTITY_KEYS);
        // First: a policy that does not exist stops the update before it
        // changes anything else.
        let arn = planned.node_policy_arn.as_deref();
        let was = prior.node_policy_arn.as_deref();
        compute::node_policy_arn::sync(c, &system, &name, was, arn).await?;
        compute::update_tags(c, &g, &full).await?;
        if repair_role {
            let policy = compute::system_node_policy(c, &system).await?;
            compute::repair_node_role(c, &system, &name, &full, &policy, arn, &ctx.cancel).await?;
        }
        // Repairs a load balancer, listener or target group deleted outside Terraform.
        let (vpc_id, subnet_ids) = compute::network_of(c, &g).await?;
        let ep = compute::ensure_endpoint(c, &system, &name, &vpc_id, &subnet_ids, &full).await?;
        let sg = compute::security_group::of_group(c, &g, &system).await?;
        sync_rules(c, &system, &name, &vpc_id, &sg, &ep).await?;
        compute::attach_endpoint(c, &g, &ep).await?;
        compute::dns::ensure_group_record(c, &system, &name, &ep.dns_name, &ctx.cancel).await?;
        if template_changed {
            compute::new_version(c, &g, &instance_type, &image, &node, &sg, &full).await?;
        }
        let min = planned.min_size.unwrap_or(g.min);
        let max = planned.max_size.unwrap_or(g.max);
        let desired = planned
            .desired_capacity
            .unwrap_or(g.desired)
            .clamp(min, max);
        if (min, max, desired) != (g.min, g.max, g.desired) {
            compute::set_capacity(c, &g.asg_name, min, max, desired).await?;
        }
        // Read first: write only a policy that differs.
        let have = compute::cpu_target(c, &g.asg_name).await?;
        match planned.cpu_target() {
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
        Ok(Updated::Done)
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
        plan::validate(config, diags)
    }

    async fn modify_plan(&self, ctx: &Ctx<Clients>, plan: &mut Plan, diags: &mut Diagnostics) {
        plan::modify_plan(ctx, plan, diags).await
    }

    async fn create(&self, ctx: &Ctx<Clients>, planned: &Value, diags: &mut Diagnostics) -> Value {
        lifecycle::create(self, ctx, planned, diags).await
    }

    async fn read(&self, ctx: &Ctx<Clients>, state: &Value, diags: &mut Diagnostics) -> Value {
        let Some(c) = ctx.data(diags) else {
            return state.clone();
        };
        let prior = QueryGroupModel::from_value(state);
        match self.read_model(c, &prior, !state.is_null()).await {
            Ok(Some(v)) => {
                if let (Some(system), Some(name)) = (&v.system, &v.name) {
                    compute::tracked(system, name);
                }
                v.to_value()
            }
            Ok(None) => {
                if let (true, Some(system), Some(name)) =
                    (is_import(state), &prior.system, &prior.name)
                {
                    let what = format!("Datomic query group ({system}/{name})");
                    refuse_foreign_import(c, system, name, &what, diags).await;
                }
                Value::Null
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
        lifecycle::update(self, ctx, prior, planned, diags).await
    }

    async fn delete(&self, ctx: &Ctx<Clients>, prior: &Value, diags: &mut Diagnostics) {
        let Some(c) = writer(ctx, diags) else { return };
        let prior = QueryGroupModel::from_value(prior);
        let (system, name) = (prior.system(), prior.name());
        let timeout = timeout_of(&prior.timeouts, Op::Delete, DEFAULT_TIMEOUT);
        if let Err(e) = cancellable(&ctx.cancel, (Op::Delete.name(), timeout), async {
            // Its name goes with its load balancer.
            tokio::try_join!(
                compute::delete_group(c, &system, &name, timeout, &ctx.cancel),
                compute::dns::delete_record(c, &system, &name, &ctx.cancel)
            )
            .map(|_| ())
        })
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
            let m = QueryGroupModel {
                id: Some(id.to_string()),
                system: Some(system),
                name: Some(name),
                ..Default::default()
            };
            v = m.to_value();
        }
        v
    }
}

/// The nodes' group `sg` admits the query group's load balancer; that one's
/// group admits the system's clients (those of its primary load balancer).
async fn sync_rules(
    c: &Clients,
    system: &str,
    name: &str,
    vpc: &str,
    sg: &str,
    ep: &compute::Endpoint,
) -> Result<(), OpError> {
    use compute::lb_security_group::{sync, ClientAccess, Own};
    let own = Own {
        group: name,
        security_group: &ep.security_group_id,
        fresh: ep.new_security_group,
    };
    sync(c, system, vpc, sg, own, ClientAccess::LikePrimary).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::plan::plan_change;
    use crate::plugin::PathStepExt;

    fn config(pairs: &[(&str, Value)]) -> Value {
        crate::resources::testing::config(&schema(), pairs)
    }

    #[test]
    fn the_model_covers_the_schema() {
        let empty = Value::null_object(&schema().ty());
        assert_eq!(QueryGroupModel::from_value(&empty).to_value(), empty);
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
