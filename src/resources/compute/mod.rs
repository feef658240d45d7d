//! A compute group's machinery, shared by the primary group (datomic_system)
//! and query groups: node IAM role + instance profile, launch template (IMDSv2
//! required, encrypted volumes, the node configuration in user data) and the
//! Auto Scaling group, plus our own one-node-at-a-time rolling replacement.

use std::time::Duration;

use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag as AsgTag};
use aws_sdk_ec2::types::{
    Filter, InstanceType, LaunchTemplateBlockDeviceMappingRequest,
    LaunchTemplateEbsBlockDeviceRequest, LaunchTemplateHttpTokensState,
    LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataEndpointState, LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType,
    TagSpecification, VolumeType,
};
use tokio_util::sync::CancellationToken;

use super::journal;
use super::node::NodeConfig;
use super::ownership;
use crate::aws::wait::{self, Poll};
use crate::aws::{tags, AwsError, Clients, Found};
use crate::rules;

pub mod security_group;

/// The node role's trust policy: EC2 instances only.
const ASSUME_ROLE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// The node's own permissions: its system's bucket and table, nothing else.
/// The bucket statement holds only for a bucket of the system's account
/// (`s3:ResourceAccount`), whoever names a bucket like it elsewhere.
pub async fn node_policy(c: &Clients, bucket: &str, table: &str) -> Result<String, AwsError> {
    let partition = "aws";
    let account = c.account().await?;
    Ok(serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SystemBucket",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
                "Resource": [format!("arn:{partition}:s3:::{bucket}"), format!("arn:{partition}:s3:::{bucket}/*")],
                "Condition": {"StringEquals": {"s3:ResourceAccount": account}}
            },
            {
                "Sid": "SystemTable",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable"],
                "Resource": format!("arn:{partition}:dynamodb:{}:{account}:table/{table}", c.region)
            }
        ]
    })
    .to_string())
}

pub const NODE_POLICY_NAME: &str = "datomic-node";

/// Instance tag holding a fingerprint of what the node was launched with, so
/// that a rolling replacement knows which nodes are out of date.
pub const TAG_NODE_CONFIG: &str = "datomic:node-config";

/// A stable fingerprint (FNV-1a, 64 bits) of a node's launch configuration.
pub fn fingerprint(instance_type: &str, image: &str, node: &NodeConfig) -> String {
    let json = serde_json::to_string(node).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in instance_type
        .bytes()
        .chain([0])
        .chain(image.bytes())
        .chain([0])
        .chain(json.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Everything needed to create a compute group.
pub struct GroupSpec<'a> {
    pub system: &'a str,
    pub group: &'a str,
    pub instance_type: &'a str,
    pub image_id: &'a str,
    pub min: i64,
    pub max: i64,
    pub desired: i64,
    pub node: &'a NodeConfig,
    pub security_group_id: &'a str,
    pub subnet_ids: &'a [String],
    /// The endpoint's target group, where the nodes register.
    pub target_group_arn: &'a str,
    /// Tags for every object (tags_all plus identity).
    pub tags: &'a tags::Tags,
    /// Terraform's StopProvider, for the waits.
    pub cancel: &'a CancellationToken,
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

/// Whether two IAM policy documents say the same (IAM returns them
/// URL-encoded and reformatted).
fn same_policy(found: &str, ours: &str) -> bool {
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(&percent_decode(s)).ok();
    matches!((parse(found), parse(ours)), (Some(a), Some(b)) if a == b)
}

/// Creates the node role and instance profile unless they exist. A role or
/// profile found by its name is used only when its identity tags make it
/// this group's; an adopted role gets our trust policy back.
pub async fn ensure_role(
    c: &Clients,
    system: &str,
    group: &str,
    t: &tags::Tags,
    policy: &str,
    cancel: &CancellationToken,
) -> Result<String, AwsError> {
    let role = rules::node_role_name(system, group);
    let profile = rules::instance_profile_name(system, group);
    let found = c
        .iam
        .get_role()
        .role_name(&role)
        .send()
        .await
        .map_err(sdk)
        .found()?
        .and_then(|o| o.role().cloned());
    // Both checked before anything is written.
    let existing = instance_profile(c, &profile).await?;
    if let Some(p) = &existing {
        ownership::check(
            "IAM instance profile",
            &profile,
            &tags::from_iam(p.tags()),
            system,
            Some(group),
        )?;
    }
    match found {
        Some(r) => {
            ownership::check(
                "IAM role",
                &role,
                &tags::from_iam(r.tags()),
                system,
                Some(group),
            )?;
            let trust = r.assume_role_policy_document().unwrap_or_default();
            if !same_policy(trust, ASSUME_ROLE_POLICY) {
                c.iam
                    .update_assume_role_policy()
                    .role_name(&role)
                    .policy_document(ASSUME_ROLE_POLICY)
                    .send()
                    .await
                    .map_err(sdk)?;
            }
        }
        None => AwsError::tolerate_exists(
            c.iam
                .create_role()
                .role_name(&role)
                .assume_role_policy_document(ASSUME_ROLE_POLICY)
                .description(format!(
                    "Nodes of Datomic compute group {group} of system {system}"
                ))
                .set_tags(Some(tags::iam(t)))
                .send()
                .await
                .map(|_| ())
                .map_err(sdk),
        )?,
    }
    c.iam
        .put_role_policy()
        .role_name(&role)
        .policy_name(NODE_POLICY_NAME)
        .policy_document(policy)
        .send()
        .await
        .map_err(sdk)?;
    let has_role = existing
        .as_ref()
        .is_some_and(|p| p.roles().iter().any(|r| r.role_name() == role));
    if existing.is_none() {
        AwsError::tolerate_exists(
            c.iam
                .create_instance_profile()
                .instance_profile_name(&profile)
                .set_tags(Some(tags::iam(t)))
                .send()
                .await
                .map(|_| ())
                .map_err(sdk),
        )?;
    }
    if !has_role {
        // IAM is eventually consistent: a role or profile just created may
        // not be found yet, so NoSuchEntity is retried for a while. A profile
        // holds one role: LimitExceeded is fine only when that role is ours.
        let what = format!("IAM role {role} to be visible");
        wait::until(
            &what,
            Duration::from_secs(120),
            Duration::from_secs(2),
            1,
            cancel,
            || async {
                match c
                    .iam
                    .add_role_to_instance_profile()
                    .instance_profile_name(&profile)
                    .role_name(&role)
                    .send()
                    .await
                    .map_err(sdk)
                {
                    Ok(_) => Ok(Poll::Done(())),
                    Err(e) if e.code_is(&["LimitExceeded"]) => {
                        let holds = instance_profile(c, &profile).await?.map(|p| {
                            p.roles()
                                .iter()
                                .map(|r| r.role_name().to_string())
                                .collect::<Vec<_>>()
                        });
                        match holds {
                            Some(roles) if roles.contains(&role) => Ok(Poll::Done(())),
                            Some(roles) => Err(AwsError::new(
                                e.code.as_deref(),
                                format!(
                                    "the instance profile {profile} holds the role {} instead of {role}; the provider never replaces a role it did not put there",
                                    roles.join(", ")
                                ),
                            )),
                            None => Ok(Poll::Pending),
                        }
                    }
                    Err(e) if e.is_not_found() => Ok(Poll::Pending),
                    Err(e) => Err(e),
                }
            },
        )
        .await
        .map_err(|e| AwsError::new(None, e.to_string()))?;
    }
    Ok(role)
}

async fn instance_profile(
    c: &Clients,
    profile: &str,
) -> Result<Option<aws_sdk_iam::types::InstanceProfile>, AwsError> {
    Ok(c.iam
        .get_instance_profile()
        .instance_profile_name(profile)
        .send()
        .await
        .map_err(sdk)
        .found()?
        .and_then(|o| o.instance_profile().cloned()))
}

/// Deletes the node role and instance profile, each only when its identity
/// tags make it this group's.
pub async fn delete_role(c: &Clients, system: &str, group: &str) -> Result<(), AwsError> {
    let role = rules::node_role_name(system, group);
    let profile = rules::instance_profile_name(system, group);
    let role_ours = match c
        .iam
        .get_role()
        .role_name(&role)
        .send()
        .await
        .map_err(sdk)
        .found()?
        .and_then(|o| o.role().cloned())
    {
        Some(r) => ownership::may_delete(
            "IAM role",
            &role,
            &tags::from_iam(r.tags()),
            system,
            Some(group),
        ),
        None => false,
    };
    if let Some(p) = instance_profile(c, &profile).await? {
        if ownership::may_delete(
            "IAM instance profile",
            &profile,
            &tags::from_iam(p.tags()),
            system,
            Some(group),
        ) {
            for r in p.roles() {
                c.iam
                    .remove_role_from_instance_profile()
                    .instance_profile_name(&profile)
                    .role_name(r.role_name())
                    .send()
                    .await
                    .map_err(sdk)
                    .found()?;
            }
            c.iam
                .delete_instance_profile()
                .instance_profile_name(&profile)
                .send()
                .await
                .map_err(sdk)
                .found()?;
        }
    }
    if !role_ours {
        return Ok(());
    }
    // DeleteConflict: a policy the listing did not show yet (a role just
    // created), or a removal not propagated yet: list and delete again.
    crate::aws::eventual::while_conflict(&format!("IAM role {role}"), || async {
        let policies = c
            .iam
            .list_role_policies()
            .role_name(&role)
            .send()
            .await
            .map_err(sdk)
            .found()?;
        for p in policies.iter().flat_map(|out| out.policy_names()) {
            c.iam
                .delete_role_policy()
                .role_name(&role)
                .policy_name(p)
                .send()
                .await
                .map_err(sdk)
                .found()?;
        }
        c.iam
            .delete_role()
            .role_name(&role)
            .send()
            .await
            .map_err(sdk)
            .found()
    })
    .await?;
    Ok(())
}

/// What differs on a group's node role from what the provider gives it: its
/// trust policy, its `datomic-node` policy, inline policies that are neither
/// that nor an application's (`datomic-app-*`), attached managed policies.
/// Empty when it is as it should be, or when it cannot be told: after this
/// process's own writes (IAM is eventually consistent) or without the role.
pub async fn node_role_drift(
    c: &Clients,
    system: &str,
    group: &str,
    expected_policy: &str,
) -> Result<Vec<String>, AwsError> {
    if c.has_written() {
        return Ok(Vec::new());
    }
    let role = rules::node_role_name(system, group);
    let found = match c.snapshot(rules::TAG_MANAGED_BY).await {
        Some(snap) => snap.roles.get(&role).cloned(),
        None => read_role_policies(c, &role).await?,
    };
    let Some(r) = found else {
        return Ok(Vec::new());
    };
    let mut drift = Vec::new();
    if !same_policy(&r.trust, ASSUME_ROLE_POLICY) {
        drift.push("its trust policy".to_string());
    }
    match r.inline.get(NODE_POLICY_NAME) {
        Some(doc) if same_policy(doc, expected_policy) => {}
        _ => drift.push(format!("its {NODE_POLICY_NAME} policy")),
    }
    for name in r.inline.keys().filter(|n| !is_our_inline_policy(n)) {
        drift.push(format!("inline policy {name}"));
    }
    for arn in &r.attached {
        drift.push(format!("attached policy {arn}"));
    }
    drift.sort();
    Ok(drift)
}

/// Inline policies the provider puts on node roles: the nodes' own and each
/// application's.
fn is_our_inline_policy(name: &str) -> bool {
    name == NODE_POLICY_NAME || name.starts_with(&rules::application_policy_name(""))
}

/// A role's policies read one by one (outside a refresh's snapshot).
async fn read_role_policies(
    c: &Clients,
    role: &str,
) -> Result<Option<crate::aws::snapshot::RolePolicies>, AwsError> {
    let Some(r) = c
        .iam
        .get_role()
        .role_name(role)
        .send()
        .await
        .map_err(sdk)
        .found()?
        .and_then(|o| o.role().cloned())
    else {
        return Ok(None);
    };
    let mut out = crate::aws::snapshot::RolePolicies {
        trust: r
            .assume_role_policy_document()
            .unwrap_or_default()
            .to_string(),
        ..Default::default()
    };
    let names = c
        .iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(sdk)?;
    for name in names.policy_names() {
        if let Some(doc) = get_role_policy_doc(c, role, name).await? {
            out.inline.insert(name.clone(), doc);
        }
    }
    let attached = c
        .iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(sdk)?;
    out.attached = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect();
    Ok(Some(out))
}

async fn get_role_policy_doc(
    c: &Clients,
    role: &str,
    name: &str,
) -> Result<Option<String>, AwsError> {
    Ok(c.iam
        .get_role_policy()
        .role_name(role)
        .policy_name(name)
        .send()
        .await
        .map_err(sdk)
        .found()?
        .map(|o| o.policy_document().to_string()))
}

/// Puts the node role back as the provider makes it (see [`node_role_drift`]):
/// trust and `datomic-node` policies rewritten, other inline policies deleted
/// (applications' kept), managed policies detached.
pub async fn repair_node_role(
    c: &Clients,
    system: &str,
    group: &str,
    t: &tags::Tags,
    policy: &str,
    cancel: &CancellationToken,
) -> Result<(), AwsError> {
    let role = ensure_role(c, system, group, t, policy, cancel).await?;
    let names = c
        .iam
        .list_role_policies()
        .role_name(&role)
        .send()
        .await
        .map_err(sdk)?;
    for name in names
        .policy_names()
        .iter()
        .filter(|n| !is_our_inline_policy(n))
    {
        c.iam
            .delete_role_policy()
            .role_name(&role)
            .policy_name(name)
            .send()
            .await
            .map_err(sdk)
            .found()?;
    }
    let attached = c
        .iam
        .list_attached_role_policies()
        .role_name(&role)
        .send()
        .await
        .map_err(sdk)?;
    for arn in attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
    {
        c.iam
            .detach_role_policy()
            .role_name(&role)
            .policy_arn(arn)
            .send()
            .await
            .map_err(sdk)
            .found()?;
    }
    Ok(())
}

/// `node_role_name` as a read reports it: the role's name, or "" when the
/// role drifted from what the provider gives it (see [`node_role_drift`]),
/// so that the next plan repairs it ([`plan_role_repair`]).
pub async fn node_role_name_as_read(
    c: &Clients,
    system: &str,
    group: &str,
) -> Result<String, AwsError> {
    let role = rules::node_role_name(system, group);
    if c.has_written() {
        return Ok(role);
    }
    let policy = system_node_policy(c, system).await?;
    let drift = node_role_drift(c, system, group, &policy).await?;
    if drift.is_empty() {
        return Ok(role);
    }
    crate::plugin::log::warn(
        "node role changed outside Terraform; the next apply puts it back",
        &[("role", &role), ("changed", &drift.join(", "))],
    );
    Ok(String::new())
}

/// The `datomic-node` policy of every node role of `system`.
pub async fn system_node_policy(c: &Clients, system: &str) -> Result<String, AwsError> {
    let bucket = super::storage::bucket_name(c, system).await?;
    node_policy(c, &bucket, &rules::table_name(system)).await
}

/// A node role found drifted by the last read has an empty `node_role_name`:
/// the plan shows it as known after apply, and the update repairs the role.
pub fn plan_role_repair(plan: &mut crate::plugin::Plan) {
    if !plan.is_create() && plan.prior_get("node_role_name").as_str() == Some("") {
        plan.set("node_role_name", crate::plugin::Value::Unknown);
    }
}

/// Inline policy on a group's node role (applications' own permissions).
pub async fn put_role_policy(
    c: &Clients,
    system: &str,
    group: &str,
    name: &str,
    doc: &str,
) -> Result<(), AwsError> {
    c.iam
        .put_role_policy()
        .role_name(rules::node_role_name(system, group))
        .policy_name(name)
        .policy_document(doc)
        .send()
        .await
        .map_err(sdk)?;
    Ok(())
}

pub async fn delete_role_policy(
    c: &Clients,
    system: &str,
    group: &str,
    name: &str,
) -> Result<(), AwsError> {
    c.iam
        .delete_role_policy()
        .role_name(rules::node_role_name(system, group))
        .policy_name(name)
        .send()
        .await
        .map_err(sdk)
        .found()?;
    Ok(())
}

pub async fn get_role_policy(
    c: &Clients,
    system: &str,
    group: &str,
    name: &str,
) -> Result<Option<String>, AwsError> {
    let out = c
        .iam
        .get_role_policy()
        .role_name(rules::node_role_name(system, group))
        .policy_name(name)
        .send()
        .await
        .map_err(sdk)
        .found()?;
    // IAM returns the document URL-encoded.
    Ok(out.map(|o| percent_decode(o.policy_document())))
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

/// The root device name of an image (`/dev/xvda` on Amazon Linux,
/// `/dev/sda1` on many others): the encrypted volume mapping must name it,
/// or a custom image boots from an unencrypted root volume of its own.
async fn root_device_of(c: &Clients, image: &str) -> Result<String, AwsError> {
    let out = c
        .ec2
        .describe_images()
        .image_ids(image)
        .send()
        .await
        .map_err(sdk)
        .found()?;
    Ok(out
        .and_then(|o| {
            o.images()
                .iter()
                .find_map(|i| i.root_device_name().map(str::to_string))
        })
        .unwrap_or_else(|| DEFAULT_ROOT_DEVICE.to_string()))
}

/// The root device of Amazon Linux, the default image's family: what a
/// mapping names when the image does not say (it then launches no further).
const DEFAULT_ROOT_DEVICE: &str = "/dev/xvda";

fn launch_data(
    spec_type: &str,
    image: &str,
    root_device: &str,
    profile: &str,
    sg: &str,
    node: &NodeConfig,
    t: &tags::Tags,
) -> RequestLaunchTemplateData {
    let mut instance_tags = t.clone();
    // A mark of the Auto Scaling group's create, not of its nodes.
    instance_tags.remove(rules::TAG_CREATED);
    if let Some(r) = &node.revision {
        instance_tags.insert(rules::TAG_REVISION.into(), r.clone());
    }
    instance_tags.insert("Name".into(), rules::asg_name(&node.system, &node.group));
    instance_tags.insert(TAG_NODE_CONFIG.into(), fingerprint(spec_type, image, node));
    RequestLaunchTemplateData::builder()
        .image_id(image)
        .instance_type(InstanceType::from(spec_type))
        .iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .name(profile)
                .build(),
        )
        .security_group_ids(sg)
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(LaunchTemplateHttpTokensState::Required)
                .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::Enabled)
                .http_put_response_hop_limit(1)
                .build(),
        )
        .block_device_mappings(
            LaunchTemplateBlockDeviceMappingRequest::builder()
                .device_name(root_device)
                .ebs(
                    LaunchTemplateEbsBlockDeviceRequest::builder()
                        .encrypted(true)
                        .delete_on_termination(true)
                        .volume_size(30)
                        .volume_type(VolumeType::Gp3)
                        .build(),
                )
                .build(),
        )
        .user_data(node.to_user_data())
        .tag_specifications(
            LaunchTemplateTagSpecificationRequest::builder()
                .resource_type(ResourceType::Instance)
                .set_tags(Some(tags::ec2(&instance_tags)))
                .build(),
        )
        .build()
}

/// A launch template found by name: its id and tags.
struct FoundTemplate {
    id: String,
    tags: tags::Tags,
}

async fn find_launch_template(c: &Clients, name: &str) -> Result<Option<FoundTemplate>, AwsError> {
    let out = c
        .ec2
        .describe_launch_templates()
        .filters(
            Filter::builder()
                .name("launch-template-name")
                .values(name)
                .build(),
        )
        .send()
        .await
        .map_err(sdk)
        .found()?;
    Ok(out.and_then(|o| {
        o.launch_templates().iter().find_map(|t| {
            Some(FoundTemplate {
                id: t.launch_template_id()?.to_string(),
                tags: tags::from_ec2(t.tags()),
            })
        })
    }))
}

/// The group's launch template when it exists and is ours; an error when
/// one of its name exists that is not.
async fn our_launch_template(
    c: &Clients,
    system: &str,
    group: &str,
) -> Result<Option<String>, AwsError> {
    let name = rules::launch_template_name(system, group);
    match find_launch_template(c, &name).await? {
        Some(t) => {
            ownership::check("launch template", &name, &t.tags, system, Some(group))?;
            Ok(Some(t.id))
        }
        None => Ok(None),
    }
}

/// Creates the launch template and Auto Scaling group unless they exist.
pub async fn ensure_group(c: &Clients, s: &GroupSpec<'_>) -> Result<String, AwsError> {
    let lt_name = rules::launch_template_name(s.system, s.group);
    let profile = rules::instance_profile_name(s.system, s.group);
    let lt_id = match our_launch_template(c, s.system, s.group).await? {
        Some(id) => id,
        None => {
            let data = launch_data(
                s.instance_type,
                s.image_id,
                &root_device_of(c, s.image_id).await?,
                &profile,
                s.security_group_id,
                s.node,
                s.tags,
            );
            let created = c
                .ec2
                .create_launch_template()
                .launch_template_name(&lt_name)
                // The same token on the SDK's retries: AWS creates it once.
                .client_token(format!(
                    "{lt_name}-{}",
                    fingerprint(s.instance_type, s.image_id, s.node)
                ))
                .launch_template_data(data)
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::LaunchTemplate)
                        .set_tags(Some(tags::ec2(s.tags)))
                        .build(),
                )
                .send()
                .await
                .map_err(sdk);
            match created {
                Ok(out) => out
                    .launch_template()
                    .and_then(|t| t.launch_template_id())
                    .unwrap_or_default()
                    .to_string(),
                Err(e) if e.is_already_exists() => {
                    our_launch_template(c, s.system, s.group).await?.ok_or(e)?
                }
                Err(e) => return Err(e),
            }
        }
    };
    let asg = rules::asg_name(s.system, s.group);
    if let Some(g) = describe_asg(c, &asg).await? {
        // Found by name: ours only by its identity tags (the remains of an
        // interrupted create carry them: they are set by the create itself).
        ownership::check(
            "Auto Scaling group",
            &asg,
            &tags::from_asg(&g),
            s.system,
            Some(s.group),
        )?;
        c.autoscaling
            .create_or_update_tags()
            .set_tags(Some(asg_tags(&asg, s.tags)))
            .send()
            .await
            .map_err(sdk)?;
    } else {
        // IAM is eventually consistent: an instance profile just created may
        // be refused as invalid for a while (terraform-provider-aws retries too).
        let what = format!("instance profile {profile} to be usable by Auto Scaling");
        wait::until(
            &what,
            Duration::from_secs(120),
            Duration::from_secs(2),
            1,
            s.cancel,
            || async {
                let created = AwsError::tolerate_exists(
                    c.autoscaling
                        .create_auto_scaling_group()
                        .auto_scaling_group_name(&asg)
                        .launch_template(
                            LaunchTemplateSpecification::builder()
                                .launch_template_id(&lt_id)
                                .version("$Latest")
                                .build(),
                        )
                        .min_size(i32_of(s.min))
                        .max_size(i32_of(s.max))
                        .desired_capacity(i32_of(s.desired))
                        .vpc_zone_identifier(s.subnet_ids.join(","))
                        .target_group_arns(s.target_group_arn)
                        .set_tags(Some(asg_tags(&asg, s.tags)))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(sdk),
                );
                match created {
                    Ok(()) => Ok(Poll::Done(())),
                    Err(e) if e.message.contains("Invalid IAM Instance Profile") => {
                        Ok(Poll::Pending)
                    }
                    Err(e) => Err(e),
                }
            },
        )
        .await
        .map_err(|e| AwsError::new(None, e.to_string()))?;
    }
    Ok(lt_id)
}

fn asg_tags(asg: &str, t: &tags::Tags) -> Vec<AsgTag> {
    t.iter()
        .map(|(k, v)| {
            AsgTag::builder()
                .key(k)
                .value(v)
                .propagate_at_launch(true)
                .resource_id(asg)
                .resource_type("auto-scaling-group")
                .build()
        })
        .collect()
}

/// The identifying tags of a group's Auto Scaling group, or None when it
/// does not exist (or is not ours). `probe` uses the plan-time client.
pub async fn group_tags(
    c: &Clients,
    system: &str,
    group: &str,
    probe: bool,
) -> Result<Option<tags::Tags>, AwsError> {
    let asg = rules::asg_name(system, group);
    if probe && !c.has_written() {
        // A plan: one batched look at the system's groups, shared by all.
        let groups = c.tagged_groups(rules::TAG_SYSTEM, system).await?;
        return Ok(groups
            .get(&asg)
            .filter(|t| is_group_of(t, system, group))
            .cloned());
    }
    let client = if probe {
        &c.autoscaling_probe
    } else {
        &c.autoscaling
    };
    let out = client
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&asg)
        .send()
        .await
        .map_err(sdk)?;
    let Some(g) = out
        .auto_scaling_groups()
        .iter()
        .find(|g| g.auto_scaling_group_name() == Some(asg.as_str()))
    else {
        return Ok(None);
    };
    let t: tags::Tags = tags::from_asg(g);
    Ok(is_group_of(&t, system, group).then_some(t))
}

/// Whether tags make an object the group `group` of `system`'s.
fn is_group_of(t: &tags::Tags, system: &str, group: &str) -> bool {
    rules::ownership(t, system, Some(group)) == rules::Ownership::Ours
}

async fn describe_asg(
    c: &Clients,
    asg: &str,
) -> Result<Option<aws_sdk_autoscaling::types::AutoScalingGroup>, AwsError> {
    let out = c
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(asg)
        .send()
        .await
        .map_err(sdk)?;
    Ok(out
        .auto_scaling_groups()
        .iter()
        .find(|g| g.auto_scaling_group_name() == Some(asg))
        .cloned())
}

/// Why the group's Auto Scaling group name is taken by a group that is not
/// the group's (by its identity tags), if it is: what an import is told.
pub async fn foreign_group(
    c: &Clients,
    system: &str,
    group: &str,
) -> Result<Option<String>, AwsError> {
    let asg = rules::asg_name(system, group);
    Ok(describe_asg(c, &asg).await?.and_then(|g| {
        ownership::check(
            "Auto Scaling group",
            &asg,
            &tags::from_asg(&g),
            system,
            Some(group),
        )
        .err()
        .map(|e| e.message)
    }))
}

/// The group as AWS has it, or None when its Auto Scaling group is gone.
pub async fn read_group(
    c: &Clients,
    system: &str,
    group: &str,
) -> Result<Option<GroupState>, AwsError> {
    let asg_name = rules::asg_name(system, group);
    // During a refresh, from the batched snapshot (see aws::snapshot).
    if let Some(snap) = c.snapshot(rules::TAG_MANAGED_BY).await {
        return Ok(snap.groups.get(&asg_name).and_then(|g| {
            let lt = g.launch_template().and_then(|t| t.launch_template_id());
            let version = lt.and_then(|id| snap.latest_versions.get(id));
            group_state(g, version, system, group)
        }));
    }
    let Some(g) = describe_asg(c, &asg_name).await? else {
        return Ok(None);
    };
    let mut version = None;
    if let Some(lt) = g.launch_template().and_then(|t| t.launch_template_id()) {
        let out = c
            .ec2
            .describe_launch_template_versions()
            .launch_template_id(lt)
            .versions("$Latest")
            .send()
            .await
            .map_err(sdk)?;
        version = out.launch_template_versions().first().cloned();
    }
    Ok(group_state(&g, version.as_ref(), system, group))
}

/// A group's state from its Auto Scaling group and latest launch template
/// version; None when the Auto Scaling group is not ours.
fn group_state(
    g: &aws_sdk_autoscaling::types::AutoScalingGroup,
    version: Option<&aws_sdk_ec2::types::LaunchTemplateVersion>,
    system: &str,
    group: &str,
) -> Option<GroupState> {
    let tags: tags::Tags = tags::from_asg(g);
    // An Auto Scaling group of that name that is not ours is not our group.
    if !is_group_of(&tags, system, group) {
        return None;
    }
    let mut st = GroupState {
        asg_name: rules::asg_name(system, group),
        arn: g.auto_scaling_group_arn().unwrap_or_default().to_string(),
        min: i64::from(g.min_size().unwrap_or_default()),
        max: i64::from(g.max_size().unwrap_or_default()),
        desired: i64::from(g.desired_capacity().unwrap_or_default()),
        tags,
        ..Default::default()
    };
    st.target_group_arns = g.target_group_arns().to_vec();
    st.subnet_ids = g
        .vpc_zone_identifier()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect();
    st.instances = g
        .instances()
        .iter()
        .map(|i| Instance {
            id: i.instance_id().unwrap_or_default().to_string(),
            lifecycle: i
                .lifecycle_state()
                .map(|l| l.as_str().to_string())
                .unwrap_or_default(),
        })
        .collect();
    st.launch_template_id = g
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .unwrap_or_default()
        .to_string();
    if let Some(v) = version {
        st.launch_template_version = v.version_number().unwrap_or_default();
        if let Some(d) = v.launch_template_data() {
            st.instance_type = d
                .instance_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default();
            st.image_id = d.image_id().unwrap_or_default().to_string();
            st.security_group_id = d.security_group_ids().first().cloned().unwrap_or_default();
            st.node = d
                .user_data()
                .and_then(NodeConfig::from_user_data)
                .unwrap_or_default();
        }
    }
    Some(st)
}

/// Writes a new launch template version (same template, new data) and
/// returns its number. Auto Scaling uses `$Latest`, so new nodes get it.
pub async fn new_version(
    c: &Clients,
    st: &GroupState,
    instance_type: &str,
    image_id: &str,
    node: &NodeConfig,
    security_group_id: &str,
    t: &tags::Tags,
) -> Result<i64, AwsError> {
    let profile = rules::instance_profile_name(&node.system, &node.group);
    let data = launch_data(
        instance_type,
        image_id,
        &root_device_of(c, image_id).await?,
        &profile,
        security_group_id,
        node,
        t,
    );
    let out = c
        .ec2
        .create_launch_template_version()
        .launch_template_id(&st.launch_template_id)
        .launch_template_data(data)
        .send()
        .await
        .map_err(sdk)?;
    Ok(out
        .launch_template_version()
        .and_then(|v| v.version_number())
        .unwrap_or_default())
}

/// The image of a group's nodes: its latest launch template version's, or,
/// when that version has none (made outside Terraform), the system's primary
/// group's, else the region's default image (what a create uses).
pub async fn image_of(c: &Clients, g: &GroupState, system: &str) -> Result<String, AwsError> {
    if !g.image_id.is_empty() {
        return Ok(g.image_id.clone());
    }
    if g.asg_name != rules::asg_name(system, rules::PRIMARY_GROUP) {
        if let Some(p) = read_group(c, system, rules::PRIMARY_GROUP).await? {
            if !p.image_id.is_empty() {
                return Ok(p.image_id);
            }
        }
    }
    default_image(c).await
}

pub async fn set_capacity(
    c: &Clients,
    asg: &str,
    min: i64,
    max: i64,
    desired: i64,
) -> Result<(), AwsError> {
    c.autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(asg)
        .min_size(i32_of(min))
        .max_size(i32_of(max))
        .desired_capacity(i32_of(desired))
        .send()
        .await
        .map_err(sdk)?;
    Ok(())
}

/// Whether objects of a group remain although its Auto Scaling group is
/// gone: a create that failed half-way, or a group deleted outside Terraform.
/// Only objects whose identity tags make them the group's count.
pub async fn has_leftovers(c: &Clients, system: &str, group: &str) -> Result<bool, AwsError> {
    if find_launch_template(c, &rules::launch_template_name(system, group))
        .await?
        .is_some_and(|t| is_group_of(&t.tags, system, group))
    {
        return Ok(true);
    }
    if c.iam
        .get_role()
        .role_name(rules::node_role_name(system, group))
        .send()
        .await
        .map_err(sdk)
        .found()?
        .and_then(|o| o.role().map(|r| tags::from_iam(r.tags())))
        .is_some_and(|t| is_group_of(&t, system, group))
    {
        return Ok(true);
    }
    let (e, lb_tags, _) = read_endpoint(c, system, group).await?;
    Ok(!e.load_balancer_arn.is_empty() && is_group_of(&lb_tags, system, group))
}

/// A group read back without its Auto Scaling group but with leftovers
/// stays in state with an empty `autoscaling_group_name`, so that destroy
/// cleans up; the next plan repairs it in place (the update re-runs the
/// create, which finds and adopts what exists: no delete, no data lost).
pub fn plan_repair_if_half_made(plan: &mut crate::plugin::Plan) {
    if !plan.is_create() && plan.prior_get("autoscaling_group_name").as_str() == Some("") {
        plan.set("autoscaling_group_name", crate::plugin::Value::Unknown);
        // A new Auto Scaling group: a new ARN.
        plan.set("arn", crate::plugin::Value::Unknown);
    }
}

/// Marks the group's create as finished (see [`rules::TAG_CREATED`]), with
/// a token this working directory remembers first (see [`journal`]).
pub async fn mark_created(c: &Clients, asg: &str) -> Result<(), AwsError> {
    let token = journal::remember(asg);
    let t: tags::Tags = [(rules::TAG_CREATED.to_string(), token)]
        .into_iter()
        .collect();
    c.autoscaling
        .create_or_update_tags()
        .set_tags(Some(asg_tags(asg, &t)))
        .send()
        .await
        .map_err(sdk)?;
    Ok(())
}

/// The group was read from a state: tracked from now on, its create needs
/// no journal entry any more.
pub fn tracked(system: &str, group: &str) {
    journal::forget(&rules::asg_name(system, group));
}

/// Refuses to create a group whose finished twin already exists: it belongs
/// to another Terraform state (or was created outside Terraform). Adopted
/// instead: the remains of an interrupted create (no created tag), and a
/// group this working directory finished but whose result never reached the
/// state (its created tag holds the token of [`journal`]).
pub async fn check_not_taken(
    c: &Clients,
    system: &str,
    group: &str,
    probe: bool,
) -> Result<Option<String>, AwsError> {
    let Some(t) = group_tags(c, system, group, probe).await? else {
        return Ok(None);
    };
    let asg = rules::asg_name(system, group);
    let Some(created) = t.get(rules::TAG_CREATED) else {
        return Ok(None);
    };
    if journal::recall(&asg).as_deref() == Some(created.as_str()) {
        crate::plugin::log::info(
            "adopting a group this working directory finished creating but never recorded in the state",
            &[("autoscaling_group", &asg)],
        );
        return Ok(None);
    }
    Ok(Some(format!(
        "The Auto Scaling group {} already exists and belongs to a finished {}: it is managed by another Terraform state, or was left out of this one. The provider never takes over a live compute group. Allowed: a name no live group uses, or importing this one (terraform import <address> {}).",
        asg,
        rules::group_label(system, group),
        if group == rules::PRIMARY_GROUP { rules::system_id(system) } else { rules::query_group_id(system, group) }
    )))
}

/// Brings the group's tags (and its launch template's) to `new`.
pub async fn update_tags(c: &Clients, st: &GroupState, new: &tags::Tags) -> Result<(), AwsError> {
    let (mut removed, changed) = tags::diff(&st.tags, new);
    removed.retain(|k| k != rules::TAG_CREATED);
    if !removed.is_empty() {
        c.autoscaling
            .delete_tags()
            .set_tags(Some(
                removed
                    .iter()
                    .map(|k| {
                        AsgTag::builder()
                            .key(k)
                            .resource_id(&st.asg_name)
                            .resource_type("auto-scaling-group")
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .map_err(sdk)?;
        if !st.launch_template_id.is_empty() {
            c.ec2
                .delete_tags()
                .resources(&st.launch_template_id)
                .set_tags(Some(
                    removed
                        .iter()
                        .map(|k| aws_sdk_ec2::types::Tag::builder().key(k).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(sdk)?;
        }
    }
    if !changed.is_empty() {
        c.autoscaling
            .create_or_update_tags()
            .set_tags(Some(asg_tags(&st.asg_name, &changed)))
            .send()
            .await
            .map_err(sdk)?;
        if !st.launch_template_id.is_empty() {
            c.ec2
                .create_tags()
                .resources(&st.launch_template_id)
                .set_tags(Some(tags::ec2(&changed)))
                .send()
                .await
                .map_err(sdk)?;
        }
    }
    Ok(())
}

/// Waits until the group has `desired` nodes in service, all on `version`
/// when given.
pub async fn wait_in_service(
    c: &Clients,
    system: &str,
    group: &str,
    desired: i64,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), AwsError> {
    let what = format!(
        "{} nodes of {} to be in service",
        desired,
        rules::asg_name(system, group)
    );
    wait::until(
        &what,
        timeout,
        Duration::from_secs(2),
        1,
        cancel,
        || async {
            let st = read_group(c, system, group).await?;
            let ready = st.is_some_and(|s| {
                let n = s
                    .instances
                    .iter()
                    .filter(|i| i.lifecycle == "InService")
                    .count();
                i64::try_from(n).unwrap_or(0) == desired
                    && i64::try_from(s.instances.len()).unwrap_or(0) == desired
            });
            Ok::<_, AwsError>(if ready { Poll::Done(()) } else { Poll::Pending })
        },
    )
    .await
    .map_err(|e| AwsError::new(None, e.to_string()))
}

/// The fingerprint tag of each of the group's instances.
async fn instance_fingerprints(
    c: &Clients,
    ids: &[String],
) -> Result<Vec<(String, String)>, AwsError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let out = c
        .ec2
        .describe_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(sdk)?;
    Ok(out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|i| {
            let id = i.instance_id()?.to_string();
            let fp = i
                .tags()
                .iter()
                .find(|t| t.key() == Some(TAG_NODE_CONFIG))
                .and_then(|t| t.value())
                .unwrap_or_default()
                .to_string();
            Some((id, fp))
        })
        .collect())
}

/// Replaces the group's nodes that were launched with another configuration
/// than the latest launch template version, one at a time: terminate one
/// (Auto Scaling launches its replacement from the latest version), wait
/// until the group is whole again, go on. We roll ourselves rather than use
/// instance refresh, so that the same code works everywhere.
pub async fn roll(
    c: &Clients,
    system: &str,
    group: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), AwsError> {
    let Some(st) = read_group(c, system, group).await? else {
        return Ok(());
    };
    let current = fingerprint(&st.instance_type, &st.image_id, &st.node);
    let ids: Vec<String> = st.instances.iter().map(|i| i.id.clone()).collect();
    let old: Vec<String> = instance_fingerprints(c, &ids)
        .await?
        .into_iter()
        .filter(|(_, fp)| *fp != current)
        .map(|(id, _)| id)
        .collect();
    for id in old {
        let terminated = c
            .autoscaling
            .terminate_instance_in_auto_scaling_group()
            .instance_id(&id)
            .should_decrement_desired_capacity(false)
            .send()
            .await
            .map_err(sdk);
        match terminated {
            Err(e) if !(e.is_not_found() || gone(&e)) => return Err(e),
            _ => {}
        }
        let what = format!("instance {id} of {} to be replaced", st.asg_name);
        wait::until(
            &what,
            timeout,
            Duration::from_secs(2),
            1,
            cancel,
            || async {
                let now = read_group(c, system, group).await?;
                let done = now.is_some_and(|s| {
                    let gone = !s.instances.iter().any(|i| i.id == id);
                    let n = s
                        .instances
                        .iter()
                        .filter(|i| i.lifecycle == "InService")
                        .count();
                    gone && i64::try_from(n).unwrap_or(0) >= s.desired
                });
                Ok::<_, AwsError>(if done { Poll::Done(()) } else { Poll::Pending })
            },
        )
        .await
        .map_err(|e| AwsError::new(None, e.to_string()))?;
    }
    Ok(())
}

/// The VPC of a subnet.
pub async fn vpc_of_subnet(c: &Clients, subnet: &str) -> Result<String, AwsError> {
    let out = c
        .ec2
        .describe_subnets()
        .subnet_ids(subnet)
        .send()
        .await
        .map_err(sdk)?;
    Ok(out
        .subnets()
        .first()
        .and_then(|s| s.vpc_id())
        .unwrap_or_default()
        .to_string())
}

/// A group's network as its Auto Scaling group has it: (VPC, subnets).
pub async fn network_of(c: &Clients, g: &GroupState) -> Result<(String, Vec<String>), AwsError> {
    let vpc = match g.subnet_ids.first() {
        Some(s) => vpc_of_subnet(c, s).await?,
        None => String::new(),
    };
    Ok((vpc, g.subnet_ids.clone()))
}

/// A compute group's client endpoint: an internal Network Load Balancer in
/// the system's subnets whose TCP listener on [`rules::CLIENT_PORT`]
/// forwards to a target group the Auto Scaling group registers its nodes in.
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    pub dns_name: String,
    pub load_balancer_arn: String,
    pub target_group_arn: String,
}

fn elb_tags(t: &tags::Tags) -> Vec<aws_sdk_elasticloadbalancingv2::types::Tag> {
    t.iter()
        .map(|(k, v)| {
            aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}

/// The group's endpoint as it exists (parts may be missing). During a
/// refresh it comes from the snapshot; otherwise see [`read_endpoint`].
pub async fn find_endpoint(c: &Clients, system: &str, group: &str) -> Result<Endpoint, AwsError> {
    let name = rules::load_balancer_name(system, group);
    if let Some(snap) = c.snapshot(rules::TAG_MANAGED_BY).await {
        let mut e = Endpoint::default();
        if let Some((dns, arn)) = snap.load_balancers.get(&name) {
            e.dns_name = dns.clone();
            e.load_balancer_arn = arn.clone();
        }
        e.target_group_arn = snap.target_groups.get(&name).cloned().unwrap_or_default();
        return Ok(e);
    }
    Ok(read_endpoint(c, system, group).await?.0)
}

/// The endpoint's parts found by name, read from AWS, with the tags of each
/// (load balancer's, target group's).
async fn read_endpoint(
    c: &Clients,
    system: &str,
    group: &str,
) -> Result<(Endpoint, tags::Tags, tags::Tags), AwsError> {
    let name = rules::load_balancer_name(system, group);
    let mut e = Endpoint::default();
    let lbs = c
        .elbv2
        .describe_load_balancers()
        .names(&name)
        .send()
        .await
        .map_err(sdk)
        .found()?;
    if let Some(lb) = lbs.as_ref().and_then(|o| o.load_balancers().first()) {
        e.dns_name = lb.dns_name().unwrap_or_default().to_string();
        e.load_balancer_arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    }
    let tgs = c
        .elbv2
        .describe_target_groups()
        .names(&name)
        .send()
        .await
        .map_err(sdk)
        .found()?;
    if let Some(tg) = tgs.as_ref().and_then(|o| o.target_groups().first()) {
        e.target_group_arn = tg.target_group_arn().unwrap_or_default().to_string();
    }
    let arns: Vec<String> = [&e.load_balancer_arn, &e.target_group_arn]
        .into_iter()
        .filter(|a| !a.is_empty())
        .cloned()
        .collect();
    let (mut lb_tags, mut tg_tags) = (tags::Tags::new(), tags::Tags::new());
    if !arns.is_empty() {
        let out = c
            .elbv2
            .describe_tags()
            .set_resource_arns(Some(arns))
            .send()
            .await
            .map_err(sdk)?;
        for d in out.tag_descriptions() {
            let t = tags::from_elb(d.tags());
            match d.resource_arn() {
                Some(a) if a == e.load_balancer_arn => lb_tags = t,
                Some(a) if a == e.target_group_arn => tg_tags = t,
                _ => {}
            }
        }
    }
    Ok((e, lb_tags, tg_tags))
}

/// The endpoint's parts that exist and are ours; an error when a part of
/// its name exists that is not.
async fn our_endpoint(c: &Clients, system: &str, group: &str) -> Result<Endpoint, AwsError> {
    let name = rules::load_balancer_name(system, group);
    let (e, lb_tags, tg_tags) = read_endpoint(c, system, group).await?;
    if !e.load_balancer_arn.is_empty() {
        ownership::check("load balancer", &name, &lb_tags, system, Some(group))?;
    }
    if !e.target_group_arn.is_empty() {
        ownership::check("target group", &name, &tg_tags, system, Some(group))?;
    }
    Ok(e)
}

impl Endpoint {
    /// The DNS name when the load balancer and its target group both exist,
    /// else "" (which the next plan repairs).
    pub fn usable_dns(&self) -> &str {
        if self.load_balancer_arn.is_empty() || self.target_group_arn.is_empty() {
            ""
        } else {
            &self.dns_name
        }
    }
}

/// Plans the repair of an endpoint found missing by the last read.
pub fn plan_endpoint_repair(plan: &mut crate::plugin::Plan) {
    if !plan.is_create() && plan.prior_get("endpoint").as_str() == Some("") {
        plan.set("endpoint", crate::plugin::Value::Unknown);
        if plan.planned.get("client_config").is_some() {
            plan.set("client_config", crate::plugin::Value::Unknown);
        }
    }
}

/// Creates whatever part of the endpoint is missing.
pub async fn ensure_endpoint(
    c: &Clients,
    system: &str,
    group: &str,
    vpc_id: &str,
    subnet_ids: &[String],
    t: &tags::Tags,
) -> Result<Endpoint, AwsError> {
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, ProtocolEnum,
        TargetTypeEnum,
    };
    let name = rules::load_balancer_name(system, group);
    let mut e = our_endpoint(c, system, group).await?;
    if e.load_balancer_arn.is_empty() {
        let out = c
            .elbv2
            .create_load_balancer()
            .name(&name)
            .r#type(LoadBalancerTypeEnum::Network)
            .scheme(LoadBalancerSchemeEnum::Internal)
            .set_subnets(Some(subnet_ids.to_vec()))
            .set_tags(Some(elb_tags(t)))
            .send()
            .await
            .map_err(sdk)?;
        if let Some(lb) = out.load_balancers().first() {
            e.dns_name = lb.dns_name().unwrap_or_default().to_string();
            e.load_balancer_arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        }
    }
    if e.target_group_arn.is_empty() {
        let out = c
            .elbv2
            .create_target_group()
            .name(&name)
            .protocol(ProtocolEnum::Tcp)
            .port(rules::CLIENT_PORT)
            .vpc_id(vpc_id)
            .target_type(TargetTypeEnum::Instance)
            .set_tags(Some(elb_tags(t)))
            .send()
            .await
            .map_err(sdk)?;
        if let Some(tg) = out.target_groups().first() {
            e.target_group_arn = tg.target_group_arn().unwrap_or_default().to_string();
        }
    }
    let listeners = c
        .elbv2
        .describe_listeners()
        .load_balancer_arn(&e.load_balancer_arn)
        .send()
        .await
        .map_err(sdk)?;
    if listeners.listeners().is_empty() {
        c.elbv2
            .create_listener()
            .load_balancer_arn(&e.load_balancer_arn)
            .protocol(ProtocolEnum::Tcp)
            .port(rules::CLIENT_PORT)
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn(&e.target_group_arn)
                    .build(),
            )
            .send()
            .await
            .map_err(sdk)?;
    }
    Ok(e)
}

/// Registers the group's nodes in its endpoint's target group, unless they
/// are already (a group whose attachment was removed outside Terraform).
pub async fn attach_endpoint(c: &Clients, g: &GroupState, e: &Endpoint) -> Result<(), AwsError> {
    if g.target_group_arns.contains(&e.target_group_arn) {
        return Ok(());
    }
    c.autoscaling
        .attach_load_balancer_target_groups()
        .auto_scaling_group_name(&g.asg_name)
        .target_group_arns(&e.target_group_arn)
        .send()
        .await
        .map_err(sdk)?;
    Ok(())
}

/// Deletes the endpoint (the listener goes with the load balancer).
pub async fn delete_endpoint(
    c: &Clients,
    system: &str,
    group: &str,
    cancel: &CancellationToken,
) -> Result<(), AwsError> {
    let name = rules::load_balancer_name(system, group);
    let (mut e, lb_tags, tg_tags) = read_endpoint(c, system, group).await?;
    if !e.load_balancer_arn.is_empty()
        && !ownership::may_delete("load balancer", &name, &lb_tags, system, Some(group))
    {
        e.load_balancer_arn.clear();
    }
    if !e.target_group_arn.is_empty()
        && !ownership::may_delete("target group", &name, &tg_tags, system, Some(group))
    {
        e.target_group_arn.clear();
    }
    if !e.load_balancer_arn.is_empty() {
        c.elbv2
            .delete_load_balancer()
            .load_balancer_arn(&e.load_balancer_arn)
            .send()
            .await
            .map_err(sdk)
            .found()?;
    }
    if !e.target_group_arn.is_empty() {
        // A target group is in use until its load balancer is gone.
        let what = format!(
            "target group {} to be deleted",
            rules::load_balancer_name(system, group)
        );
        wait::until(
            &what,
            Duration::from_secs(300),
            Duration::from_secs(2),
            1,
            cancel,
            || async {
                match c
                    .elbv2
                    .delete_target_group()
                    .target_group_arn(&e.target_group_arn)
                    .send()
                    .await
                    .map_err(sdk)
                {
                    Ok(_) => Ok(Poll::Done(())),
                    Err(err) if err.is_not_found() => Ok(Poll::Done(())),
                    Err(err) if err.code_is(&["ResourceInUse"]) => Ok(Poll::Pending),
                    Err(err) => Err(err),
                }
            },
        )
        .await
        .map_err(|e| AwsError::new(None, e.to_string()))?;
    }
    Ok(())
}

/// The target-tracking policy a query group's `autoscaling` block makes.
pub const SCALING_POLICY_NAME: &str = "datomic-target-cpu";

/// Creates or updates the group's target-tracking policy on average CPU.
pub async fn put_cpu_target(c: &Clients, asg: &str, target: f64) -> Result<(), AwsError> {
    use aws_sdk_autoscaling::types::{
        MetricType, PredefinedMetricSpecification, TargetTrackingConfiguration,
    };
    let metric = PredefinedMetricSpecification::builder()
        .predefined_metric_type(MetricType::AsgAverageCpuUtilization)
        .build();
    let config = TargetTrackingConfiguration::builder()
        .predefined_metric_specification(metric)
        .target_value(target)
        .build();
    c.autoscaling
        .put_scaling_policy()
        .auto_scaling_group_name(asg)
        .policy_name(SCALING_POLICY_NAME)
        .policy_type("TargetTrackingScaling")
        .target_tracking_configuration(config)
        .send()
        .await
        .map_err(sdk)?;
    Ok(())
}

pub async fn delete_cpu_target(c: &Clients, asg: &str) -> Result<(), AwsError> {
    match c
        .autoscaling
        .delete_policy()
        .auto_scaling_group_name(asg)
        .policy_name(SCALING_POLICY_NAME)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = sdk(e);
            // Auto Scaling says ValidationError for a policy that is not there.
            if e.is_not_found() || e.code_is(&["ValidationError"]) {
                Ok(())
            } else {
                Err(e)
            }
        }
    }
}

/// The target of the group's CPU target-tracking policy, if it has one.
pub async fn cpu_target(c: &Clients, asg: &str) -> Result<Option<f64>, AwsError> {
    if let Some(snap) = c.snapshot(rules::TAG_MANAGED_BY).await {
        return Ok(snap
            .targets
            .get(&(asg.to_string(), SCALING_POLICY_NAME.to_string()))
            .copied());
    }
    let out = c
        .autoscaling
        .describe_policies()
        .auto_scaling_group_name(asg)
        .policy_names(SCALING_POLICY_NAME)
        .send()
        .await
        .map_err(sdk)?;
    Ok(out
        .scaling_policies()
        .iter()
        .filter(|p| p.policy_name() == Some(SCALING_POLICY_NAME))
        .find_map(|p| {
            p.target_tracking_configuration()
                .and_then(|t| t.target_value())
        }))
}

/// Deletes the Auto Scaling group (waiting for its nodes to go), the launch
/// template and the node role. Anything already gone counts as deleted.
pub async fn delete_group(
    c: &Clients,
    system: &str,
    group: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), AwsError> {
    let asg = rules::asg_name(system, group);
    journal::forget(&asg);
    let ours = describe_asg(c, &asg).await?.is_some_and(|g| {
        ownership::may_delete(
            "Auto Scaling group",
            &asg,
            &tags::from_asg(&g),
            system,
            Some(group),
        )
    });
    if ours {
        let deleted = c
            .autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name(&asg)
            .force_delete(true)
            .send()
            .await
            .map_err(sdk);
        // A delete retried after its response was lost finds nothing: done.
        match deleted {
            Err(e) if !(e.is_not_found() || gone(&e)) => return Err(e),
            _ => {}
        }
        let what = format!("Auto Scaling group {asg} to be deleted");
        wait::until(
            &what,
            timeout,
            Duration::from_secs(2),
            1,
            cancel,
            || async {
                Ok::<_, AwsError>(if describe_asg(c, &asg).await?.is_none() {
                    Poll::Done(())
                } else {
                    Poll::Pending
                })
            },
        )
        .await
        .map_err(|e| AwsError::new(None, e.to_string()))?;
    }
    delete_endpoint(c, system, group, cancel).await?;
    let lt_name = rules::launch_template_name(system, group);
    if let Some(lt) = find_launch_template(c, &lt_name).await?.filter(|t| {
        ownership::may_delete("launch template", &lt_name, &t.tags, system, Some(group))
    }) {
        c.ec2
            .delete_launch_template()
            .launch_template_id(&lt.id)
            .send()
            .await
            .map_err(sdk)
            .found()?;
    }
    delete_role(c, system, group).await
}

/// The default machine image: the newest Amazon Linux (2023, else 2) x86_64.
pub async fn default_image(c: &Clients) -> Result<String, AwsError> {
    for pattern in [
        "al2023-ami-2023.*-x86_64",
        "amzn2-ami-hvm-*-x86_64-gp2",
        "amzn2-ami-*",
    ] {
        let out = c
            .ec2
            .describe_images()
            .owners("amazon")
            .filters(Filter::builder().name("name").values(pattern).build())
            .send()
            .await
            .map_err(sdk)?;
        let newest = out
            .images()
            .iter()
            .filter(|i| i.image_id().is_some())
            .max_by(|a, b| {
                a.creation_date()
                    .unwrap_or_default()
                    .cmp(b.creation_date().unwrap_or_default())
            });
        if let Some(img) = newest.and_then(|i| i.image_id()) {
            return Ok(img.to_string());
        }
    }
    Err(AwsError::new(
        None,
        format!("no Amazon Linux image found in {}; set image_id", c.region),
    ))
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
