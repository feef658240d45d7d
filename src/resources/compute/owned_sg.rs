//! A security group the provider owns, found by its name in a VPC: the
//! nodes' group (`security_group`), each load balancer's group
//! (`lb_security_group`) and the file system's mount targets' group
//! (`storage::file_system`). One of our name with a stranger's tags is
//! refused; a create answered `InvalidGroup.Duplicate` (a retry after a lost
//! answer, or a group made a moment ago that EC2's describe did not list
//! yet) reads the group once EC2 shows it, and is ours only by its tags.

use aws_sdk_ec2::types::{Filter, ResourceType, SecurityGroup, TagSpecification};

use crate::aws::{eventual, tags, AwsError, Clients};
use crate::resources::error::OpError;
use crate::resources::ownership;

/// The group to find or make.
pub struct OwnedGroup<'a> {
    pub system: &'a str,
    /// The compute group it belongs to; None: the system's.
    pub group: Option<&'a str>,
    pub name: &'a str,
    pub vpc: &'a str,
    pub description: String,
    /// Written on create, as they are (a caller wanting `Name` adds it).
    pub tags: &'a tags::Tags,
}

/// Finds `g` by name in its VPC (refusing one with a stranger's tags) or
/// makes it. Also says whether this call created it (then it has no rules
/// yet, and EC2's reads may not show it yet).
pub async fn ensure(c: &Clients, g: &OwnedGroup<'_>) -> Result<(String, bool), OpError> {
    if let Some(found) = by_name(c, g.name, Some(g.vpc)).await? {
        return Ok((owned_id(&found, g)?, false));
    }
    let made = c
        .ec2
        .create_security_group()
        .group_name(g.name)
        .description(&g.description)
        .vpc_id(g.vpc)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .set_tags(Some(tags::ec2(g.tags)))
                .build(),
        )
        .send()
        .await
        .map_err(AwsError::from_sdk);
    match made {
        Ok(out) => Ok((out.group_id().unwrap_or_default().to_string(), true)),
        // A create retried after a lost answer (it is there, maybe with rules
        // of that first try), or a group made meanwhile: read once EC2
        // shows it, and ours only by its tags.
        Err(e) if e.is_already_exists() => {
            let found = eventual::new_object(&format!("security group {}", g.name), || {
                by_name(c, g.name, Some(g.vpc))
            })
            .await?;
            Ok((owned_id(&found, g)?, false))
        }
        Err(e) => Err(e.into()),
    }
}

/// The group's id when its identity tags make it `g`'s; else the refusal
/// that names it.
fn owned_id(found: &SecurityGroup, g: &OwnedGroup<'_>) -> Result<String, OpError> {
    ownership::check(
        "security group",
        g.name,
        &tags::from_ec2(found.tags()),
        g.system,
        g.group,
    )?;
    Ok(found.group_id().unwrap_or_default().to_string())
}

/// The security group named `name` (in `vpc` when given).
pub async fn by_name(
    c: &Clients,
    name: &str,
    vpc: Option<&str>,
) -> Result<Option<SecurityGroup>, AwsError> {
    let mut filters = vec![Filter::builder().name("group-name").values(name).build()];
    if let Some(v) = vpc {
        filters.push(Filter::builder().name("vpc-id").values(v).build());
    }
    let out = c
        .ec2
        .describe_security_groups()
        .set_filters(Some(filters))
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    Ok(out.security_groups().first().cloned())
}
