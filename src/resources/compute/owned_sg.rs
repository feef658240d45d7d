//! A security group the provider owns, found by its name in a VPC: the
//! nodes' group (`security_group`) and the file system's mount targets'
//! group (`storage::file_system`). One of our name with a stranger's tags is
//! refused; a create answered `InvalidGroup.Duplicate` (a retry after a lost
//! answer) adopts what the caller's own lookup finds.

use aws_sdk_ec2::types::{Filter, ResourceType, TagSpecification};

use crate::aws::{tags, AwsError, Clients};
use crate::resources::error::OpError;
use crate::resources::ownership;

/// The group to find or make.
pub struct OwnedGroup<'a> {
    pub system: &'a str,
    pub name: &'a str,
    pub vpc: &'a str,
    pub description: String,
    /// Written on create, as they are (a caller wanting `Name` adds it).
    pub tags: &'a tags::Tags,
}

/// Finds `g` by name in its VPC (refusing one with a stranger's tags) or
/// makes it. When the create finds the name taken, `adopt` says which group
/// of ours that is; when it finds none, the create's error is returned.
/// Also says whether this call created it.
pub async fn ensure(
    c: &Clients,
    g: &OwnedGroup<'_>,
    adopt: impl AsyncFnOnce() -> Result<Option<String>, OpError>,
) -> Result<(String, bool), OpError> {
    let out = c
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(g.name).build())
        .filters(Filter::builder().name("vpc-id").values(g.vpc).build())
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    if let Some(found) = out.security_groups().first() {
        ownership::check(
            "security group",
            g.name,
            &tags::from_ec2(found.tags()),
            g.system,
            None,
        )?;
        if let Some(id) = found.group_id() {
            return Ok((id.to_string(), false));
        }
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
        // A create retried after a lost answer: it is there, maybe with
        // rules of that first try.
        Err(e) if e.is_already_exists() => Ok((adopt().await?.ok_or(e)?, false)),
        Err(e) => Err(e.into()),
    }
}
