//! The `datomic_query_group` schema: its attributes' types, behaviour and
//! descriptions (the docs are generated from them).

use super::model::attr;
use crate::plugin::schema::timeouts_block;
use crate::plugin::{Attribute, Block, Nesting, Schema, Type, Value};
use crate::resources::model::timeouts_attr;
use crate::rules::{self, ComputeRole};

/// Version 1: compute-group objects named `<system>--<group>`, and `arn`.
pub(super) const SCHEMA_VERSION: i64 = 1;

pub(super) fn schema() -> Schema {
    let allowed = rules::allowed_instance_types(ComputeRole::QueryGroup)
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Schema::new(
        SCHEMA_VERSION,
        Block::new("A Datomic query group: an autoscaled compute group of a production system, for a development stage, for elastic scaling, or for another application. It gets its own launch template and Auto Scaling group `<system>--<name>` in the system's network, an internal load balancer, and the name `<name>` in the system's private DNS zone.")
            .attr(Attribute::computed(attr::ID, Type::String, "`<system>/<name>`.").use_state_for_unknown())
            .attr(Attribute::required(attr::SYSTEM, Type::String, "Name of the production system the group belongs to, usually `datomic_system.x.name`.").requires_replace())
            .attr(Attribute::required(attr::NAME, Type::String, "The group's name, unique within its system: same rule as system names, and `primary` and `entry` are reserved (`entry.<system>.<region>.datomic.net` names the primary compute group).").requires_replace())
            .attr(Attribute::optional_computed(attr::APPLICATION_NAME, Type::String, "The one application this group runs. Defaults to the group's name. Stages of one application share it.").requires_replace())
            .attr(Attribute::optional(attr::NODE_POLICY_ARN, Type::String, "ARN of one customer managed IAM policy to attach to the group's node role (Datomic's NodePolicyARN), beside each application's `iam_policy`, e.g. for access to the team's own buckets or queues. The policy is yours: the provider attaches and detaches it (detached when this is changed or removed, and before the role is deleted), never changes or deletes it. The policy must exist before apply. Any other managed policy attached to the role by hand reads back as drift and is detached by the next apply."))
            .attr(Attribute::optional(attr::INSTANCE_TYPE, Type::String, &format!("Instance type of the nodes: {allowed}.")).default(Value::string(rules::default_instance_type(ComputeRole::QueryGroup))))
            .attr(Attribute::optional(attr::MIN_SIZE, Type::Number, "Minimum number of nodes.").default(Value::int(rules::DEFAULT_MIN_SIZE)))
            .attr(Attribute::optional(attr::MAX_SIZE, Type::Number, &format!("Maximum number of nodes (at most {}).", rules::MAX_QUERY_GROUP_SIZE)).default(Value::int(rules::DEFAULT_MAX_SIZE)))
            .attr(Attribute::optional_computed(attr::DESIRED_CAPACITY, Type::Number, "Number of nodes to run now. Defaults to `min_size`. When unset, a group scaled by AWS is not drift."))
            .attr(Attribute::optional(attr::PARAMETERS, Type::map(Type::String), "The group's environment, e.g. which database it works against: variable names to values, delivered to the nodes through the launch template. They are stored in plain text, in the Terraform state and in the launch template's user data: never put a password or key here."))
            .attr(Attribute::optional(attr::TAGS, Type::map(Type::String), "Tags for the group's AWS objects. Keys starting with `aws:` or `datomic:` are reserved."))
            .attr(Attribute::computed(attr::TAGS_ALL, Type::map(Type::String), "All tags, including the provider's `default_tags`."))
            .attr(Attribute::computed(attr::AUTOSCALING_GROUP_NAME, Type::String, "The group's Auto Scaling group.").use_state_for_unknown())
            .attr(Attribute::computed(attr::ARN, Type::String, "ARN of the group's Auto Scaling group.").use_state_for_unknown())
            .attr(Attribute::computed(attr::ENDPOINT, Type::String, &format!("Client endpoint of the group, as Datomic names it: `http://<name>.<system>.<region>.datomic.net:{}/`, a name in the system's Route53 private hosted zone that points at the group's load balancer. A Datomic client of this group's application takes the system's `client_config` with this `endpoint`. (Earlier versions of this provider gave the load balancer's DNS name here: it is now `load_balancer_dns_name`.)", rules::CLIENT_PORT)).use_state_for_unknown())
            .attr(Attribute::computed(attr::LOAD_BALANCER_DNS_NAME, Type::String, &format!("DNS name of the group's internal Network Load Balancer (clients connect on port {}); `endpoint` names it.", rules::CLIENT_PORT)).use_state_for_unknown())
            .attr(Attribute::computed(attr::LAUNCH_TEMPLATE_ID, Type::String, "The group's launch template.").use_state_for_unknown())
            .attr(Attribute::computed(attr::NODE_ROLE_NAME, Type::String, "IAM role of the group's nodes.").use_state_for_unknown())
            .block(attr::AUTOSCALING, Nesting::Single, Block::new("Elastic autoscaling: a target-tracking policy keeps the group's average CPU utilization near the target, between `min_size` and `max_size`. With it, `desired_capacity` is owned by AWS (leave it unset) and never shows as drift. The primary compute group has no such block: Datomic sizes it explicitly.")
                .attr(Attribute::required(attr::autoscaling::TARGET_CPU_UTILIZATION, Type::Number, "Average CPU utilization to keep, in percent (more than 0, at most 100), e.g. `60`.")))
            .block(attr::TIMEOUTS, Nesting::Single, timeouts_block(&[timeouts_attr::CREATE, timeouts_attr::UPDATE, timeouts_attr::DELETE], "30m")),
    )
}
