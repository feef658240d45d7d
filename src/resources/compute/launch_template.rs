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
use crate::aws::{eventual, tags, AwsError, Clients, Found};
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
) -> Result<Option<FoundTemplate>, AwsError> {
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
        Some(t) => Ok(Some(owned_id(t, &name, system, group)?)),
        None => Ok(None),
    }
}

/// For a create answered "already exists" (a retry after a lost answer, or
/// a template made a moment ago that EC2's describe did not list yet): the
/// template once EC2 lists it, when it is the group's; else the refusal that
/// names it.
pub(super) async fn existing_launch_template(
    c: &Clients,
    system: &str,
    group: &str,
) -> Result<String, OpError> {
    let name = rules::launch_template_name(system, group);
    let t = eventual::new_object(&format!("launch template {name}"), || {
        find_launch_template(c, &name)
    })
    .await?;
    owned_id(t, &name, system, group)
}

fn owned_id(t: FoundTemplate, name: &str, system: &str, group: &str) -> Result<String, OpError> {
    ownership::check("launch template", name, &t.tags, system, Some(group))?;
    Ok(t.id)
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
        if let Some(img) = newest_image(out.images()) {
            return Ok(img);
        }
    }
    Err(OpError::NoImage {
        region: c.region.clone(),
    })
}

/// The newest of images (by creation date) that has an id.
fn newest_image(images: &[aws_sdk_ec2::types::Image]) -> Option<String> {
    images
        .iter()
        .filter(|i| i.image_id().is_some())
        .max_by(|a, b| {
            a.creation_date()
                .unwrap_or_default()
                .cmp(b.creation_date().unwrap_or_default())
        })
        .and_then(|i| i.image_id())
        .map(str::to_string)
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
    Ok(root_device(out.as_ref().map_or(&[], |o| o.images())))
}

/// The first root device name images give, else [`DEFAULT_ROOT_DEVICE`].
fn root_device(images: &[aws_sdk_ec2::types::Image]) -> String {
    images
        .iter()
        .find_map(|i| i.root_device_name().map(str::to_string))
        .unwrap_or_else(|| DEFAULT_ROOT_DEVICE.to_string())
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
                        // None (a system without a key yet): EBS's default key.
                        .set_kms_key_id(node.volume_key_arn.clone())
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::Image;

    fn image(id: Option<&str>, created: Option<&str>) -> Image {
        Image::builder()
            .set_image_id(id.map(str::to_string))
            .set_creation_date(created.map(str::to_string))
            .build()
    }

    fn node() -> NodeConfig {
        NodeConfig {
            system: "s".into(),
            group: "primary".into(),
            application: "app".into(),
            bucket: "b".into(),
            table: "t".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_newest_image_with_an_id_is_chosen() {
        let images = [
            image(Some("ami-old"), Some("2024-01-01T00:00:00.000Z")),
            image(None, Some("2026-01-01T00:00:00.000Z")),
            image(Some("ami-new"), Some("2025-06-01T00:00:00.000Z")),
            image(Some("ami-undated"), None),
        ];
        assert_eq!(newest_image(&images).as_deref(), Some("ami-new"));
        assert_eq!(newest_image(&[]), None);
        assert_eq!(newest_image(&[image(None, Some("2025"))]), None);
    }

    #[test]
    fn of_images_made_at_the_same_time_the_last_listed_is_chosen() {
        let images = [
            image(Some("ami-a"), Some("2025-06-01T00:00:00.000Z")),
            image(Some("ami-b"), Some("2025-06-01T00:00:00.000Z")),
        ];
        assert_eq!(newest_image(&images).as_deref(), Some("ami-b"));
    }

    #[test]
    fn the_root_device_is_the_images_else_amazon_linuxs() {
        let sda = Image::builder()
            .image_id("ami-1")
            .root_device_name("/dev/sda1")
            .build();
        assert_eq!(root_device(std::slice::from_ref(&sda)), "/dev/sda1");
        assert_eq!(root_device(&[image(Some("ami-2"), None), sda]), "/dev/sda1");
        assert_eq!(root_device(&[image(Some("ami-2"), None)]), "/dev/xvda");
        assert_eq!(root_device(&[]), DEFAULT_ROOT_DEVICE);
    }

    #[test]
    fn the_fingerprint_is_stable_and_tells_configurations_apart() {
        let n = node();
        let fp = fingerprint("t3.large", "ami-1", &n);
        assert_eq!(fp.len(), 16);
        assert_eq!(fp, fingerprint("t3.large", "ami-1", &n));
        assert_ne!(fp, fingerprint("t3.xlarge", "ami-1", &n));
        assert_ne!(fp, fingerprint("t3.large", "ami-2", &n));
        let mut other = n.clone();
        other.revision = Some("r2".into());
        assert_ne!(fp, fingerprint("t3.large", "ami-1", &other));
        // The separator keeps the fields apart.
        assert_ne!(fingerprint("ab", "c", &n), fingerprint("a", "bc", &n));
    }

    #[test]
    fn launch_data_encrypts_the_images_root_device_and_requires_imdsv2() {
        let d = launch_data(
            "t3.large",
            "ami-1",
            "/dev/sda1",
            "profile-1",
            "sg-1",
            &node(),
            &tags::Tags::new(),
        );
        assert_eq!(d.image_id(), Some("ami-1"));
        assert_eq!(d.instance_type().map(|t| t.as_str()), Some("t3.large"));
        assert_eq!(
            d.iam_instance_profile().and_then(|p| p.name()),
            Some("profile-1")
        );
        assert_eq!(d.security_group_ids(), ["sg-1"]);
        let m = d.metadata_options().expect("metadata options");
        assert_eq!(
            m.http_tokens(),
            Some(&LaunchTemplateHttpTokensState::Required)
        );
        assert_eq!(m.http_put_response_hop_limit(), Some(1));
        let [bd] = d.block_device_mappings() else {
            panic!("one block device mapping");
        };
        assert_eq!(bd.device_name(), Some("/dev/sda1"));
        let ebs = bd.ebs().expect("an EBS volume");
        assert_eq!(ebs.encrypted(), Some(true));
        assert_eq!(ebs.delete_on_termination(), Some(true));
        assert_eq!(ebs.volume_type(), Some(&VolumeType::Gp3));
        assert_eq!(ebs.volume_size(), Some(30));
        assert_eq!(d.user_data(), Some(node().to_user_data().as_str()));
        // Without a system key: EBS's default one.
        assert_eq!(ebs.kms_key_id(), None);
    }

    #[test]
    fn the_root_volume_is_encrypted_with_the_systems_key_and_a_new_key_is_a_new_configuration() {
        let key = "arn:aws:kms:us-east-1:1:key/k-1";
        let keyed = NodeConfig {
            volume_key_arn: Some(key.into()),
            ..node()
        };
        let d = launch_data(
            "t3.large",
            "ami-1",
            "/dev/xvda",
            "profile-1",
            "sg-1",
            &keyed,
            &tags::Tags::new(),
        );
        let ebs = d.block_device_mappings()[0].ebs().expect("an EBS volume");
        assert_eq!((ebs.encrypted(), ebs.kms_key_id()), (Some(true), Some(key)));
        // A template without the key (an older system's) rolls the nodes.
        assert_ne!(
            fingerprint("t3.large", "ami-1", &keyed),
            fingerprint("t3.large", "ami-1", &node())
        );
    }

    #[test]
    fn node_tags_carry_name_fingerprint_and_revision_but_not_the_created_marker() {
        let mut n = node();
        n.revision = Some("r7".into());
        let t: tags::Tags = [
            (rules::TAG_CREATED, "token"),
            ("team", "a"),
            ("Name", "users-name"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let d = launch_data("t3.large", "ami-1", "/dev/xvda", "p", "sg", &n, &t);
        let [spec] = d.tag_specifications() else {
            panic!("one tag specification");
        };
        assert_eq!(spec.resource_type(), Some(&ResourceType::Instance));
        let got: tags::Tags = tags::from_ec2(spec.tags());
        let want: tags::Tags = [
            ("team", "a".to_string()),
            ("Name", rules::asg_name("s", "primary")),
            (rules::TAG_REVISION, "r7".to_string()),
            (TAG_NODE_CONFIG, fingerprint("t3.large", "ami-1", &n)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn without_a_revision_nodes_get_no_revision_tag() {
        let d = launch_data(
            "t3.large",
            "ami-1",
            "/dev/xvda",
            "p",
            "sg",
            &node(),
            &tags::Tags::new(),
        );
        let got = tags::from_ec2(d.tag_specifications()[0].tags());
        assert!(!got.contains_key(rules::TAG_REVISION));
        assert_eq!(got.len(), 2);
    }
}
