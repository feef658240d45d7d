//! The launch template of a compute group: IMDSv2 required, an encrypted root
//! volume on the image's own root device, the node configuration in user
//! data, and the fingerprint that tells nodes of an older version apart.

use aws_sdk_ec2::types::{
    Filter, InstanceType, LaunchTemplateBlockDeviceMappingRequest,
    LaunchTemplateEbsBlockDeviceRequest, LaunchTemplateHttpTokensState,
    LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataEndpointState, LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType, VolumeType,
};

use super::sdk;
use super::GroupState;
use crate::aws::{tags, Clients, Found};
use crate::resources::error::OpError;
use crate::resources::node::NodeConfig;
use crate::resources::ownership;
use crate::rules;

/// Instance tag holding a fingerprint of what the node was launched with, so
/// that a rolling replacement knows which nodes are out of date.
pub const TAG_NODE_CONFIG: &str = "datomic:node-config";

/// A launch template found by name: its id and tags.
pub(super) struct FoundTemplate {
    pub(super) id: String,
    pub(super) tags: tags::Tags,
}

pub(super) async fn find_launch_template(
    c: &Clients,
    name: &str,
) -> Result<Option<FoundTemplate>, OpError> {
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
pub(super) async fn our_launch_template(
    c: &Clients,
    system: &str,
    group: &str,
) -> Result<Option<String>, OpError> {
    let name = rules::launch_template_name(system, group);
    match find_launch_template(c, &name).await? {
        Some(t) => {
            ownership::check("launch template", &name, &t.tags, system, Some(group))?;
            Ok(Some(t.id))
        }
        None => Ok(None),
    }
}

/// The default machine image: the newest Amazon Linux (2023, else 2) x86_64.
pub async fn default_image(c: &Clients) -> Result<String, OpError> {
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
    Err(OpError::NoImage {
        region: c.region.clone(),
    })
}

/// The root device name of an image (`/dev/xvda` on Amazon Linux,
/// `/dev/sda1` on many others): the encrypted volume mapping must name it,
/// or a custom image boots from an unencrypted root volume of its own.
pub(super) async fn root_device_of(c: &Clients, image: &str) -> Result<String, OpError> {
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

pub(super) fn launch_data(
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
) -> Result<i64, OpError> {
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
