//! The system's node security group: found by name and identity tags, made,
//! and deleted once the nodes' network interfaces are gone. Its rules (the
//! client port from the nodes themselves and the load balancers' groups
//! only) are kept by `lb_security_group::sync`; clients are admitted by the
//! load balancers' groups, not here.

use std::time::Duration;

use aws_sdk_ec2::types::Filter;
use tokio_util::sync::CancellationToken;

use super::owned_sg::{self, OwnedGroup};
use super::GroupState;
use crate::aws::{eventual, tags, AwsError, Clients};
use crate::resources::error::OpError;
use crate::rules;

/// The nodes' security group of a group (to carry it over to a new launch
/// template version), or the system's node security group when its latest
/// version has none (made outside Terraform).
pub async fn of_group(c: &Clients, g: &GroupState, system: &str) -> Result<String, OpError> {
    if !g.security_group_id.is_empty() {
        return Ok(g.security_group_id.clone());
    }
    Ok(find(c, system).await?.unwrap_or_default())
}

/// The system's node security group, by its name and identity tags.
pub async fn find(c: &Clients, system: &str) -> Result<Option<String>, OpError> {
    let out = c
        .ec2
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("group-name")
                .values(rules::security_group_name(system))
                .build(),
        )
        .filters(
            Filter::builder()
                .name(format!("tag:{}", rules::TAG_SYSTEM))
                .values(system)
                .build(),
        )
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    Ok(out
        .security_groups()
        .iter()
        .filter(|g| {
            rules::ownership(&tags::from_ec2(g.tags()), system, None) == rules::Ownership::Ours
        })
        .find_map(|g| g.group_id().map(str::to_string)))
}

/// Finds or makes the system's node security group (refusing one with our
/// name and a stranger's tags). Also says whether this call created it.
pub async fn ensure(
    c: &Clients,
    system: &str,
    vpc: &str,
    t: &tags::Tags,
) -> Result<(String, bool), OpError> {
    let name = rules::security_group_name(system);
    let g = OwnedGroup {
        system,
        group: None,
        name: &name,
        vpc,
        description: format!("Datomic system {system} nodes"),
        tags: t,
    };
    owned_sg::ensure(c, &g).await
}

/// Deletes the system's node security group, if there is one of ours,
/// retrying while the nodes' network interfaces outlive them.
pub async fn delete(
    c: &Clients,
    system: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    if let Some(sg) = find(c, system).await? {
        let sg = eventual::Network::SecurityGroup(&sg);
        eventual::delete_network(c, sg, timeout, cancel).await?;
    }
    Ok(())
}
