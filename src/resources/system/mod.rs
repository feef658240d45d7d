//! `datomic_system`: a system's storage and its primary compute group.
//!
//! `schema` declares it, `model` names its attributes and types them, `plan`
//! holds the plan-time logic (on values, where unknowns matter), `read` reads
//! it back from AWS; the create, update and delete below work on the model.

mod model;
mod plan;
mod read;
mod schema;
mod tagging;
mod upgrade;

use std::time::Duration;

use async_trait::async_trait;

pub use self::model::{attr, SystemModel};
use self::schema::schema;
use self::tagging::{all_tags, full_tags_of_state, IDENTITY_KEYS};
use super::common::*;
use super::compute::{self, security_group, GroupSpec};
use super::lifecycle::{self, Creates, Updated, Updates};
use super::model::{timeout as timeout_of, Model, Op};
use super::node::NodeConfig;
use super::storage;
use crate::aws::{states, tags, Clients, Lookup};
use crate::plugin::{AttrPath, Ctx, Diagnostics, Plan, Resource, Schema, Value};
use crate::resources::error::OpError;
use crate::rules::{self, ComputeRole, Topology, PRIMARY_GROUP};

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

/// A state of schema version 0: see [`common::upgrade_v0`](super::common::upgrade_v0).
fn upgrade_v0(raw: &serde_json::Value, diags: &mut Diagnostics) -> Value {
    super::common::upgrade_v0(raw, &schema(), diags)
}

/// The primary role for a topology value, if it is valid.
fn role_of(topology: &str) -> Option<ComputeRole> {
    Topology::parse(topology).map(Topology::primary_role)
}

/// What the state keeps from the plan rather than from AWS.
fn keep_planned(read: &mut SystemModel, planned: &SystemModel) {
    read.retain_storage = planned.retain_storage;
    read.timeouts = planned.timeouts.clone();
    read.tags = planned.tags.clone();
}

#[async_trait]
impl Creates for SystemResource {
    type Model = SystemModel;
    const NAME_ATTR: &'static str = attr::NAME;
    const MISSING_AFTER_CREATE: &'static str =
        "the system's Auto Scaling group is missing right after creation";

    fn what(&self, planned: &SystemModel) -> String {
        format!("Datomic system ({})", planned.name())
    }

    fn taken(&self, planned: &SystemModel) -> String {
        format!("Datomic system {:?} already exists", planned.name())
    }

    fn compute_group(&self, planned: &SystemModel) -> (String, String) {
        (planned.name(), PRIMARY_GROUP.to_string())
    }

    fn create_timeout(&self, planned: &SystemModel) -> Duration {
        timeout_of(&planned.timeouts, Op::Create, DEFAULT_TIMEOUT)
    }

    /// Before any write: no private zone of the system's name may be
    /// another's, and a network the user brings must fit.
    async fn check_before_create(
        &self,
        c: &Clients,
        planned: &SystemModel,
        diags: &mut Diagnostics,
    ) -> bool {
        let arn = planned.node_policy_arn.as_deref();
        if !compute::node_policy_arn::check_before_create(c, arn, &self.what(planned), diags).await
        {
            return false;
        }
        if let Err(e) = compute::dns::check_zone_free(c, &planned.name()).await {
            aws_error(
                diags,
                &format!("creating Datomic system ({})", planned.name()),
                e,
            );
            return false;
        }
        let (Some(vpc), Some(subnets)) = (&planned.vpc_id, &planned.subnet_ids) else {
            return true;
        };
        match storage::check_existing_network(c, vpc, subnets, Lookup::Apply).await {
            Ok(None) => true,
            Ok(Some((attr, problem))) => {
                diags.attribute_error(AttrPath::root(attr), "Unusable existing network", problem);
                false
            }
            Err(e) => {
                aws_error(
                    diags,
                    &format!(
                        "checking the network of Datomic system ({})",
                        planned.name()
                    ),
                    e,
                );
                false
            }
        }
    }

    fn started(&self, planned: &SystemModel) -> SystemModel {
        let mut state = planned.clone();
        state.id = Some(planned.name());
        state
    }

    async fn do_create(
        &self,
        c: &Clients,
        ctx: &Ctx<Clients>,
        planned: &SystemModel,
        state: &mut SystemModel,
    ) -> Result<(), OpError> {
        let name = planned.name();
        let topology = planned.topology.clone().unwrap_or_default();
        let app = planned.application();
        let (tags_all, full) = all_tags(c, planned, &name, &app, &topology);
        let timeout = timeout_of(&planned.timeouts, Op::Create, DEFAULT_TIMEOUT);

        let network = match (planned.vpc_id.clone(), planned.subnet_ids.clone()) {
            (Some(vpc), Some(subnets)) => Some((vpc, subnets)),
            _ => None,
        };
        state.network_managed = Some(network.is_none());
        let (st, adopted) = storage::ensure(c, &name, &full, network, timeout, &ctx.cancel).await?;
        if adopted {
            crate::plugin::log::info("adopted retained storage", &[("system", &name)]);
        }
        state.vpc_id = Some(st.vpc_id.clone());
        state.subnet_ids = Some(st.subnet_ids.clone());
        state.bucket_name = Some(st.bucket.clone());
        state.table_name = Some(st.table.clone());
        state.kms_key_arn = Some(st.key_arn.clone());
        state.catalog_table_name = Some(st.catalog.clone());
        state.log_group_name = Some(st.log_group.clone());
        state.file_system_id = Some(st.file_system_id.clone());
        state.tags_all = Some(tags_all);

        let instance_type = planned.instance_type.clone().unwrap_or_default();
        let nodes = planned.node_count.unwrap_or(1);
        let (mut state_sg, mut state_role) = (None, None);
        let compute = async {
            // Three independent chains: the security group, the node role and
            // image, and the load balancer (needing only the subnets, it
            // provisions beside the others).
            let (sg, role_image, ep) = tokio::join!(
                async {
                    let made = security_group::ensure(c, &name, &st.vpc_id, &full).await?;
                    state_sg.replace(made.0.clone());
                    Ok::<_, OpError>(made)
                },
                async {
                    let role = compute::ensure_role(
                        c,
                        &name,
                        PRIMARY_GROUP,
                        &full,
                        &compute::node_policy(c, &name, &st.bucket, &st.table).await?,
                        &ctx.cancel,
                    )
                    .await?;
                    state_role.replace(role);
                    let arn = planned.node_policy_arn.as_deref();
                    compute::node_policy_arn::sync(c, &name, PRIMARY_GROUP, None, arn).await?;
                    let image = match planned.image_id.clone() {
                        Some(i) => i,
                        None => compute::default_image(c).await?,
                    };
                    Ok::<_, OpError>(image)
                },
                compute::ensure_endpoint(
                    c,
                    &name,
                    PRIMARY_GROUP,
                    &st.vpc_id,
                    &st.subnet_ids,
                    &full
                )
            );
            // What was made goes to the state, also when another chain failed.
            if let Some(sg) = state_sg.take() {
                state.security_group_id = Some(sg);
            }
            if let Some(role) = state_role.take() {
                state.node_role_name = Some(role);
            }
            if let Ok(image) = &role_image {
                state.image_id = Some(image.clone());
            }
            if let Ok(ep) = &ep {
                state.load_balancer_dns_name = Some(ep.dns_name.clone());
                state.client_config = Some(rules::client_config(&name, &c.region));
            }
            let ((sg, _), image, ep) = (sg?, role_image?, ep?);
            // The rules go beside the nodes' launch: they apply to the nodes'
            // network interfaces whenever they come.
            let sg_rules = sync_rules(c, &name, &st.vpc_id, &sg, &ep, planned);
            let launch = async {
                let node = NodeConfig {
                    system: name.clone(),
                    group: PRIMARY_GROUP.into(),
                    topology: Some(topology.clone()),
                    application: app.clone(),
                    bucket: st.bucket.clone(),
                    table: st.table.clone(),
                    volume_key_arn: Some(st.key_arn.clone()).filter(|k| !k.is_empty()),
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
                state.launch_template_id = Some(lt);
                state.autoscaling_group_name = Some(rules::asg_name(&name, PRIMARY_GROUP));
                compute::wait_in_service(c, &name, PRIMARY_GROUP, nodes, timeout, &ctx.cancel)
                    .await?;
                // Both provisioned meanwhile (AWS: minutes): usually ready by now.
                states::load_balancer_active(c, &ep.load_balancer_arn, timeout, &ctx.cancel)
                    .await?;
                Ok::<_, OpError>(())
            };
            // Clients' names: the zone needs only the VPC, its `entry` the
            // load balancer's DNS name.
            let dns = async {
                let zone =
                    compute::dns::ensure_zone(c, &name, &st.vpc_id, &full, &ctx.cancel).await?;
                compute::dns::ensure_record(
                    c,
                    &zone,
                    &name,
                    PRIMARY_GROUP,
                    &ep.dns_name,
                    &ctx.cancel,
                )
                .await
            };
            tokio::try_join!(sg_rules, launch, dns)?;
            state.endpoint = Some(rules::endpoint_url(&name, &c.region, PRIMARY_GROUP));
            Ok::<_, OpError>(())
        };
        // A new table becomes ACTIVE (and is protected) beside the compute,
        // which needs only its name; the create returns with both ready.
        let table = async {
            if adopted {
                return Ok(()); // protected by storage::ensure
            }
            storage::protect(c, &st, &ctx.cancel).await
        };
        tokio::try_join!(compute, table)?;
        compute::mark_created(c, &rules::asg_name(&name, PRIMARY_GROUP)).await
    }

    async fn read_model(
        &self,
        c: &Clients,
        state: &SystemModel,
    ) -> Result<Option<SystemModel>, OpError> {
        SystemResource::read_model(self, c, state, true).await
    }

    fn keep_planned(&self, read: &mut SystemModel, planned: &SystemModel) {
        keep_planned(read, planned)
    }
}

impl SystemResource {
    /// Reads the system named by `state`'s `id` (or `name`) as this resource's
    /// state; `Value::Null` when its primary compute group does not exist.
    /// Shared with the `datomic_system` data source.
    pub(crate) async fn do_read(&self, c: &Clients, state: &Value) -> Result<Value, OpError> {
        let prior = SystemModel::from_value(state);
        Ok(self
            .read_model(c, &prior, !state.is_null())
            .await?
            .map_or(Value::Null, |m| m.to_value()))
    }
}

#[async_trait]
impl Updates for SystemResource {
    const NODE_ROLE_ATTR: &'static str = attr::NODE_ROLE_NAME;

    fn update_timeout(&self, planned: &SystemModel) -> Duration {
        timeout_of(&planned.timeouts, Op::Update, DEFAULT_TIMEOUT)
    }

    /// `repair_role`: the last read found the node role changed outside
    /// Terraform (the plan has `node_role_name` unknown).
    async fn do_update(
        &self,
        c: &Clients,
        ctx: &Ctx<Clients>,
        prior: &SystemModel,
        planned: &SystemModel,
        repair_role: bool,
    ) -> Result<Updated, OpError> {
        let name = planned.name();
        let topology = planned.topology.clone().unwrap_or_default();
        let app = planned.application();
        let (tags_all, full) = all_tags(c, planned, &name, &app, &topology);
        let timeout = timeout_of(&planned.timeouts, Op::Update, DEFAULT_TIMEOUT);
        let Some(g) = compute::read_group(c, &name, PRIMARY_GROUP).await? else {
            return Ok(Updated::GroupGone);
        };
        let instance_type = planned.instance_type.clone().unwrap_or_default();
        let image = match planned.image_id.clone().filter(|i| !i.is_empty()) {
            Some(i) => i,
            None if !g.image_id.is_empty() => g.image_id.clone(),
            // Lost outside Terraform with no image_id set: what a create uses.
            None => compute::default_image(c).await?,
        };
        let nodes = planned.node_count.unwrap_or(g.desired);
        let mut node = g.node.clone();
        if node.system.is_empty() {
            // The latest launch template version lost its node configuration
            // (changed outside Terraform): rebuild it from the resource.
            node = NodeConfig {
                system: name.clone(),
                group: PRIMARY_GROUP.into(),
                application: app.clone(),
                bucket: planned.bucket_name.clone().unwrap_or_default(),
                table: planned.table_name.clone().unwrap_or_default(),
                ..Default::default()
            };
        }
        node.topology = Some(topology.clone());
        let mut template_changed = instance_type != g.instance_type
            || image != g.image_id
            || node != g.node
            || tags_all != tags::user_tags(&g.tags, IDENTITY_KEYS);
        // First: a policy that does not exist stops the update before it
        // changes anything else.
        let arn = planned.node_policy_arn.as_deref();
        let was = prior.node_policy_arn.as_deref();
        compute::node_policy_arn::sync(c, &name, PRIMARY_GROUP, was, arn).await?;
        compute::update_tags(c, &g, &full).await?;
        if repair_role {
            let policy = compute::system_node_policy(c, &name).await?;
            compute::repair_node_role(c, &name, PRIMARY_GROUP, &full, &policy, arn, &ctx.cancel)
                .await?;
        }
        let st = upgrade::storage(c, &name, &full, prior, planned, timeout, &ctx.cancel).await?;
        // The nodes' volumes are encrypted with the system's key: a launch
        // template of an earlier build, without it, is a change (the nodes roll).
        let volume_key = Some(st.key_arn.clone()).filter(|k| !k.is_empty());
        if node.volume_key_arn != volume_key {
            node.volume_key_arn = volume_key;
            template_changed = true;
        }
        // The storage carries the same tags: retag it when they changed (in the
        // configuration, or by hand on one of its objects: see read_model).
        let prior_full = full_tags_of_state(prior, &name);
        if prior_full != full {
            let network = storage::NetworkOwner::of_state(planned.network_managed);
            storage::retag(c, &name, &st, network, &full).await?;
            compute::boundary::retag(c, &name, &full).await?;
        }
        let sg = security_group::of_group(c, &g, &name).await?;
        // Repairs a load balancer, listener or target group deleted outside
        // Terraform (or a load balancer without a security group).
        let (vpc_id, subnet_ids) = compute::network_of(c, &g).await?;
        let ep =
            compute::ensure_endpoint(c, &name, PRIMARY_GROUP, &vpc_id, &subnet_ids, &full).await?;
        sync_rules(c, &name, &vpc_id, &sg, &ep, planned).await?;
        compute::attach_endpoint(c, &g, &ep).await?;
        // Repairs the zone or its `entry` name, gone or changed outside Terraform.
        let zone = compute::dns::ensure_zone(c, &name, &vpc_id, &full, &ctx.cancel).await?;
        compute::dns::ensure_record(c, &zone, &name, PRIMARY_GROUP, &ep.dns_name, &ctx.cancel)
            .await?;
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
        Ok(Updated::Done)
    }
}

/// Opens the system's load balancers' security groups to the clients the
/// plan names, and closes them to the others; the nodes' group `sg` admits
/// the load balancers and the nodes themselves.
async fn sync_rules(
    c: &Clients,
    system: &str,
    vpc: &str,
    sg: &str,
    ep: &compute::Endpoint,
    planned: &SystemModel,
) -> Result<(), OpError> {
    use compute::lb_security_group::{sync, ClientAccess, Own};
    // The nodes reach the file system's mount targets (NFS).
    storage::admit_nodes(c, system, sg).await?;
    let (cidrs, groups) = client_access(planned);
    let own = Own {
        group: PRIMARY_GROUP,
        security_group: &ep.security_group_id,
        fresh: ep.new_security_group,
    };
    sync(c, system, vpc, sg, own, ClientAccess::Set(&cidrs, &groups)).await
}

/// The clients the plan lets reach the system: CIDR blocks and security groups.
fn client_access(planned: &SystemModel) -> (Vec<String>, Vec<String>) {
    (
        planned.client_cidr_blocks.clone().unwrap_or_default(),
        planned
            .client_security_group_ids
            .clone()
            .unwrap_or_default(),
    )
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
        plan::validate(config, diags)
    }

    async fn modify_plan(&self, ctx: &Ctx<Clients>, plan: &mut Plan, diags: &mut Diagnostics) {
        plan::modify_plan(ctx, plan, diags).await
    }

    async fn plan_destroy(&self, _ctx: &Ctx<Clients>, prior: &Value, diags: &mut Diagnostics) {
        plan::plan_destroy(prior, diags)
    }

    async fn create(&self, ctx: &Ctx<Clients>, planned: &Value, diags: &mut Diagnostics) -> Value {
        lifecycle::create(self, ctx, planned, diags).await
    }

    async fn read(&self, ctx: &Ctx<Clients>, state: &Value, diags: &mut Diagnostics) -> Value {
        let Some(c) = ctx.data(diags) else {
            return state.clone();
        };
        let prior = SystemModel::from_value(state);
        match self.read_model(c, &prior, !state.is_null()).await {
            Ok(Some(v)) => {
                if let Some(name) = &v.name {
                    compute::tracked(name, PRIMARY_GROUP);
                }
                v.to_value()
            }
            Ok(None) => {
                let name = prior.id.clone().unwrap_or_default();
                if is_import(state) {
                    let what = format!("Datomic system ({name})");
                    refuse_foreign_import(c, &name, PRIMARY_GROUP, &what, diags).await;
                } else {
                    diags.warning(
                        "Datomic system not found",
                        format!("The primary compute group of system {name:?} no longer exists; it is removed from the state and the next apply re-creates it."),
                    );
                }
                Value::Null
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
        lifecycle::update(self, ctx, prior, planned, diags).await
    }

    async fn delete(&self, ctx: &Ctx<Clients>, prior: &Value, diags: &mut Diagnostics) {
        let Some(c) = writer(ctx, diags) else { return };
        let prior = SystemModel::from_value(prior);
        let name = prior.name();
        let timeout = timeout_of(&prior.timeouts, Op::Delete, DEFAULT_TIMEOUT);
        let delete_storage = !prior.retains_storage();
        let result = cancellable(&ctx.cancel, (Op::Delete.name(), timeout), async {
            let compute = async {
                // The zone names the load balancers: it goes with them.
                tokio::try_join!(
                    compute::delete_group(c, &name, PRIMARY_GROUP, timeout, &ctx.cancel),
                    compute::dns::delete_zone(c, &name, &ctx.cancel)
                )?;
                // The nodes are gone: the bucket goes while their network
                // interfaces linger (which the security group waits out).
                let bucket = async {
                    if delete_storage {
                        storage::delete_bucket(c, &name).await
                    } else {
                        Ok(())
                    }
                };
                let nodes_group = async {
                    // The file system's group names it: AWS keeps it until that rule goes.
                    if let Some(sg) = security_group::find(c, &name).await? {
                        storage::forget_nodes(c, &name, &sg).await?;
                    }
                    security_group::delete(c, &name, timeout, &ctx.cancel).await
                };
                tokio::try_join!(nodes_group, bucket)?;
                compute::boundary::delete(c, &name).await
            };
            // The tables and the file system depend on nothing: they go
            // beside the compute.
            let table = async {
                if delete_storage {
                    tokio::try_join!(
                        storage::delete_table(c, &name, timeout, &ctx.cancel),
                        storage::delete_file_system(c, &name, timeout, &ctx.cancel)
                    )?;
                }
                Ok::<(), OpError>(())
            };
            let (boundary_kept, ()) = tokio::try_join!(compute, table)?;
            let mut kept = Vec::new();
            if delete_storage {
                // The bucket and table it encrypts are gone.
                storage::delete_key(c, &name).await?;
                // Once the compute's network interfaces are gone.
                kept = storage::delete_network(c, &name, timeout, &ctx.cancel).await?;
            }
            Ok::<_, OpError>((boundary_kept, kept))
        })
        .await;
        match result {
            Ok((boundary_kept, kept)) => {
                if let Some(why) = boundary_kept {
                    diags.warning("The node roles' permissions boundary was kept", why);
                }
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
            let m = SystemModel {
                id: Some(name.clone()),
                name: Some(name),
                retain_storage: Some(true),
                ..Default::default()
            };
            v = m.to_value();
        }
        v
    }
}

/// Unknown values cannot be stored in state: a partial state keeps what is known.
/// (A typed model holds no unknowns; this is for values.)
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
        crate::resources::testing::config(&schema(), pairs)
    }

    fn errors_at(d: &Diagnostics) -> Vec<String> {
        d.iter()
            .filter_map(|x| x.path.as_ref().map(|p| p.first_attr()))
            .collect()
    }

    #[test]
    fn the_model_covers_the_schema() {
        let empty = Value::null_object(&schema().ty());
        assert_eq!(SystemModel::from_value(&empty).to_value(), empty);
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
