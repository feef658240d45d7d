//! The `datomic_system` schema: its attributes' types, behaviour and
//! descriptions (the docs are generated from them).

use super::model::attr;
use crate::plugin::schema::timeouts_block;
use crate::plugin::{Attribute, Block, Nesting, Schema, Type, Value};
use crate::resources::model::timeouts_attr;
use crate::rules::{self, ComputeRole};

/// Version 1: compute-group objects named `<system>--<group>`, and `arn`.
pub(super) const SCHEMA_VERSION: i64 = 1;

pub(super) fn schema() -> Schema {
    let sizes = |r: ComputeRole| {
        rules::allowed_instance_types(r)
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Schema::new(
        SCHEMA_VERSION,
        Block::new("A Datomic Cloud system: its storage (VPC with subnets in three availability zones, two where the region has two; KMS key, S3 bucket, DynamoDB tables, CloudWatch log group, EFS file system; all encrypted with the key) and its primary compute group (security group, node IAM role and instance profile, launch template with IMDSv2 required and volumes encrypted with the system's key, Auto Scaling group `<name>--primary`, internal load balancer, and the Route53 private hosted zone `<name>.<region>.datomic.net` where `entry` names the load balancer). Use `topology = \"solo\"` to get started and change it to `\"production\"` in place when you move to production.")
            .attr(Attribute::computed(attr::ID, Type::String, "The system's id: its name.").use_state_for_unknown())
            .attr(Attribute::required(attr::NAME, Type::String, "The system's name: 1-24 characters of lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen, no `--`, and not `datomic`. This is this provider's rule, stricter than Datomic's advice to keep names short, so that every AWS name derived from it is valid.").requires_replace())
            .attr(Attribute::required(attr::TOPOLOGY, Type::String, "`solo` (one small node, for getting started) or `production` (two or more nodes over availability zones). Solo can be upgraded to production in place; production cannot be changed back to solo."))
            .attr(Attribute::optional_computed(attr::INSTANCE_TYPE, Type::String, &format!("Instance type of the primary compute group's nodes. Solo: {} (default `{}`); production: {} (default `{}`). When unset it follows the topology on every plan.", sizes(ComputeRole::SoloPrimary), rules::default_instance_type(ComputeRole::SoloPrimary), sizes(ComputeRole::ProductionPrimary), rules::default_instance_type(ComputeRole::ProductionPrimary))))
            .attr(Attribute::optional_computed(attr::NODE_COUNT, Type::Number, &format!("Number of primary nodes. Solo: exactly 1. Production: 2 by default, up to {} by explicit choice. The primary group is never autoscaled.", rules::MAX_PRODUCTION_NODES)))
            .attr(Attribute::optional_computed(attr::APPLICATION_NAME, Type::String, "Name of the application the primary compute group runs. Defaults to the system's name.").requires_replace())
            .attr(Attribute::optional(attr::NODE_POLICY_ARN, Type::String, "ARN of one customer managed IAM policy to attach to the primary compute group's node role (Datomic's NodePolicyARN), beside each application's `iam_policy`, e.g. for access to the team's own buckets or queues. The policy is yours: the provider attaches and detaches it (detached when this is changed or removed, and before the role is deleted), never changes or deletes it. The policy must exist before apply. Any other managed policy attached to the role by hand reads back as drift and is detached by the next apply."))
            .attr(Attribute::optional_computed(attr::IMAGE_ID, Type::String, "AMI of the nodes. Defaults to the newest Amazon Linux x86_64 image of the region.").use_state_for_unknown())
            .attr(Attribute::optional(attr::RETAIN_STORAGE, Type::Bool, "Keep the storage (network, KMS key, S3 bucket, DynamoDB tables, log group, file system) when the system is destroyed; a new system of the same name adopts it. `false` deletes them all with the system (the key is scheduled for deletion, 7 days).").default(Value::bool(true)))
            .attr(Attribute::optional(attr::CLIENT_CIDR_BLOCKS, Type::set(Type::String), &format!("IPv4 CIDR blocks whose clients may connect to the system's load balancers (port {}): the rules are on each load balancer's own security group, the primary group's and every query group's. None by default. A rule added by hand on a load balancer's group, or any access the nodes' group gives beside the nodes and the load balancers, reads back here as drift and is removed by the next apply.", rules::CLIENT_PORT)))
            .attr(Attribute::optional(attr::CLIENT_SECURITY_GROUP_IDS, Type::set(Type::String), &format!("Security groups whose members may connect to the system's load balancers (port {}), on each load balancer's own security group. None by default.", rules::CLIENT_PORT)))
            .attr(Attribute::optional(attr::TAGS, Type::map(Type::String), "Tags for every AWS object of the system. Keys starting with `aws:` or `datomic:` are reserved."))
            .attr(Attribute::computed(attr::TAGS_ALL, Type::map(Type::String), "All tags of the system's AWS objects, including the provider's `default_tags`. Tags changed outside Terraform on any of them, the storage included, show here as drift."))
            .attr(Attribute::optional_computed(attr::VPC_ID, Type::String, "The system's VPC. Set it, with `subnet_ids`, to use a network the team already has: the provider then neither creates nor deletes the network. Unset: the provider creates a VPC (counted as the system's storage).").use_state_for_unknown().requires_replace())
            .attr(Attribute::optional_computed(attr::SUBNET_IDS, Type::list(Type::String), "The system's subnets, in at least 2 availability zones. Set with `vpc_id` to use existing subnets (they are checked at plan, and again before anything is created). Unset: one created in each of three availability zones (two where the region has two); a network made by an earlier build in two zones gets its third subnet in place on the next apply, and the compute groups and their load balancers spread over it.").use_state_for_unknown().requires_replace())
            .attr(Attribute::computed(attr::NETWORK_MANAGED, Type::Bool, "Whether the provider created the system's network (VPC and subnets) and so deletes it with the storage; false when `vpc_id` and `subnet_ids` were given.").use_state_for_unknown())
            .attr(Attribute::computed(attr::SECURITY_GROUP_ID, Type::String, &format!("Security group of the system's nodes: admits port {} from the system's own nodes and from each load balancer's own security group (`datomic-<system>--<group>-lb`), nothing else.", rules::CLIENT_PORT)).use_state_for_unknown())
            .attr(Attribute::computed(attr::BUCKET_NAME, Type::String, "The system's S3 bucket.").use_state_for_unknown())
            .attr(Attribute::computed(attr::TABLE_NAME, Type::String, "The system's DynamoDB table.").use_state_for_unknown())
            .attr(Attribute::computed(attr::CATALOG_TABLE_NAME, Type::String, "The system's catalog DynamoDB table (`datomic-<name>--catalog`), kept safe as the other: deletion protection, point-in-time recovery, encrypted with the system's key.").use_state_for_unknown())
            .attr(Attribute::computed(attr::LOG_GROUP_NAME, Type::String, "The system's CloudWatch Logs log group (`datomic-<name>`), where its nodes write their logs: encrypted with the system's key, kept for ever (no retention set), and part of the storage (kept with it, deleted only with it).").use_state_for_unknown())
            .attr(Attribute::computed(attr::KMS_KEY_ARN, Type::String, "ARN of the system's customer-managed KMS key (alias `alias/datomic-<name>`), which encrypts its S3 bucket and DynamoDB table. Part of the storage: kept with it, and scheduled for deletion (7 days, when it can still be restored) only with it.").use_state_for_unknown())
            .attr(Attribute::computed(attr::FILE_SYSTEM_ID, Type::String, &format!("The system's EFS file system (`datomic-<name>`), encrypted with the system's key, with a mount target in each of its subnets' availability zones in the security group `datomic-<name>--efs`, which admits NFS (port {}) from the nodes' security group only. Part of the storage: kept with it, deleted only with it.", rules::NFS_PORT)).use_state_for_unknown())
            .attr(Attribute::computed(attr::NODE_ROLE_NAME, Type::String, "IAM role of the primary compute group's nodes.").use_state_for_unknown())
            .attr(Attribute::computed(attr::LAUNCH_TEMPLATE_ID, Type::String, "Launch template of the primary compute group.").use_state_for_unknown())
            .attr(Attribute::computed(attr::AUTOSCALING_GROUP_NAME, Type::String, "Auto Scaling group of the primary compute group.").use_state_for_unknown())
            .attr(Attribute::computed(attr::ARN, Type::String, "ARN of the primary compute group's Auto Scaling group.").use_state_for_unknown())
            .attr(Attribute::computed(attr::ENDPOINT, Type::String, &format!("Client endpoint of the primary compute group, as Datomic names it: `http://entry.<name>.<region>.datomic.net:{}/`, a name in the system's Route53 private hosted zone `<name>.<region>.datomic.net` (associated with the system's VPC; associate other VPCs with it to reach the system from them) that points at the group's load balancer. (Earlier versions of this provider gave the load balancer's DNS name here: it is now `load_balancer_dns_name`.)", rules::CLIENT_PORT)).use_state_for_unknown())
            .attr(Attribute::computed(attr::LOAD_BALANCER_DNS_NAME, Type::String, &format!("DNS name of the primary compute group's internal Network Load Balancer (clients connect on port {}); `endpoint` names it.", rules::CLIENT_PORT)).use_state_for_unknown())
            .attr(Attribute::computed(attr::CLIENT_CONFIG, Type::map(Type::String), "What a Datomic client takes as is to connect to the system: `server-type` (`cloud`), `region`, `system` and `endpoint` (the primary group's, `http://entry.<name>.<region>.datomic.net:8182/`).").use_state_for_unknown())
            .block(attr::TIMEOUTS, Nesting::Single, timeouts_block(&[timeouts_attr::CREATE, timeouts_attr::UPDATE, timeouts_attr::DELETE], "30m")),
    )
}
