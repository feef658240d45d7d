//! A compute group's machinery, shared by the primary group (datomic_system)
//! and query groups, one file per AWS object (as terraform-provider-aws's
//! `internal/service/autoscaling/`): the node IAM role and instance profile
//! (`role`), the launch template (`launch_template`), the Auto Scaling group
//! with our own one-node-at-a-time rolling replacement (`group`), the load
//! balancer endpoint (`endpoint`), the scaling policy (`scaling_policy`), the
//! system's node security group (`security_group`), and what keeps an
//! interrupted create recoverable (`adoption`). Inside each: find,
//! ensure/delete, status, wait.

use crate::aws::AwsError;

pub mod adoption;
pub mod boundary;
pub mod endpoint;
pub mod group;
pub mod launch_template;
pub mod role;
pub mod scaling_policy;
pub mod security_group;

pub use adoption::{
    check_not_taken, has_leftovers, mark_created, plan_repair_if_half_made, tracked,
};
pub use endpoint::{
    attach_endpoint, delete_endpoint, ensure_endpoint, find_endpoint, plan_endpoint_repair,
    Endpoint,
};
pub use group::{
    delete_group, ensure_group, foreign_group, group_tags, network_of, read_group, roll,
    set_capacity, update_tags, vpc_of_subnet, wait_in_service, GroupSpec, GroupState, Instance,
};
pub use launch_template::{default_image, fingerprint, image_of, new_version, TAG_NODE_CONFIG};
pub use role::{
    delete_role, delete_role_policy, ensure_role, get_role_policy, node_policy, node_role_drift,
    node_role_name_as_read, plan_role_repair, put_role_policy, repair_node_role,
    system_node_policy, NODE_POLICY_NAME,
};
pub use scaling_policy::{cpu_target, delete_cpu_target, put_cpu_target, SCALING_POLICY_NAME};

fn sdk<E, R>(e: aws_smithy_runtime_api::client::result::SdkError<E, R>) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug,
{
    AwsError::from_sdk(e)
}

/// Auto Scaling's "not found" is a ValidationError naming what is missing.
fn gone(e: &AwsError) -> bool {
    e.code_is(&["ValidationError"]) && e.message.contains("not found")
}

fn i32_of(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
