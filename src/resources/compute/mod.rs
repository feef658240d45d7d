//! A compute group's machinery, shared by the primary group (datomic_system)
//! and query groups, one file per AWS object (as terraform-provider-aws's
//! `internal/service/autoscaling/`): the node IAM role and instance profile
//! (`role`), the launch template (`launch_template`), the Auto Scaling group
//! with our own one-node-at-a-time rolling replacement (`group`), the load
//! balancer endpoint (`endpoint`) and its security group
//! (`lb_security_group`), the private DNS zone and names clients connect to
//! (`dns`), the scaling policy (`scaling_policy`), the system's node
//! security group (`security_group`), the rules of both (`sg_rules`), finding
//! or making a group of ours by name (`owned_sg`), and
//! what keeps an interrupted create recoverable (`adoption`). Inside each:
//! find, ensure/delete, status, wait.

use crate::aws::{tags, AwsError};
use crate::resources::node::NodeConfig;

pub mod adoption;
pub mod boundary;
pub mod dns;
pub mod endpoint;
pub mod group;
pub mod launch_template;
pub mod lb_security_group;
pub mod node_policy;
pub mod node_policy_arn;
pub mod owned_sg;
pub mod role;
pub mod scaling_policy;
pub mod security_group;
pub mod sg_rules;
pub mod spread;

pub use adoption::{check_not_taken, has_leftovers, mark_created, tracked};
pub use endpoint::{attach_endpoint, delete_endpoint, ensure_endpoint, find_endpoint, Endpoint};
pub use group::{
    delete_group, ensure_group, foreign_group, group_tags, image_of, network_of, read_group, roll,
    set_capacity, update_tags, vpc_of_subnet, wait_in_service, GroupSpec,
};
pub use launch_template::{default_image, fingerprint, new_version, TAG_NODE_CONFIG};
pub use node_policy::{node_policy, system_node_policy, NODE_POLICY_NAME};
pub use role::{
    delete_role, delete_role_policy, ensure_role, get_role_policy, node_role_as_read,
    node_role_drift, put_role_policy, repair_node_role, RoleAsRead,
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

fn i32_of(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A compute group as AWS has it.
#[derive(Debug, Clone, Default)]
pub struct GroupState {
    pub asg_name: String,
    /// The Auto Scaling group's ARN.
    pub arn: String,
    pub min: i64,
    pub max: i64,
    pub desired: i64,
    pub instances: Vec<Instance>,
    pub tags: tags::Tags,
    pub launch_template_id: String,
    pub launch_template_version: i64,
    pub instance_type: String,
    pub image_id: String,
    pub node: NodeConfig,
    /// The subnets the group runs in (its VPCZoneIdentifier).
    pub subnet_ids: Vec<String>,
    /// Target groups its nodes are registered in.
    pub target_group_arns: Vec<String>,
    /// The nodes' security group, as the latest launch template version has it.
    pub security_group_id: String,
}

impl GroupState {
    /// `launch_template_id` as a read gives it: "" (broken, see
    /// [`crate::resources::repair`]) while the latest version lacks what this
    /// build writes, the volumes' key (a group of an earlier build), so that
    /// the plan shows the update that writes a new version.
    pub fn launch_template_id_as_read(&self) -> String {
        if self.node.volume_key_arn.is_none() {
            String::new()
        } else {
            self.launch_template_id.clone()
        }
    }

    /// The tags the group's objects carry, AWS's own (`aws:`) left out.
    pub fn own_tags(&self) -> tags::Tags {
        self.tags
            .iter()
            .filter(|(k, _)| !k.starts_with("aws:"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Instance {
    pub id: String,
    pub lifecycle: String,
}

/// Whether two IAM policy documents say the same (IAM returns them
/// URL-encoded and reformatted).
fn same_policy(found: &str, ours: &str) -> bool {
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(&percent_decode(s)).ok();
    matches!((parse(found), parse(ours)), (Some(a), Some(b)) if a == b)
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
        assert_eq!(percent_decode("plain"), "plain");
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
        assert_eq!(percent_decode("end%4"), "end%4");
    }
}
