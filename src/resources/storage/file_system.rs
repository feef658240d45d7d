//! The system's EFS file system `datomic-<system>`: encrypted with the
//! system's key, a mount target in each of its subnets' zones (EFS allows
//! one per zone), in a security group `datomic-<system>--efs` that admits
//! NFS only from the nodes' security group. Found by its creation token
//! (the same name, so a create retried after a lost answer finds the first)
//! and identity tags; a stranger's file system or group of our name is
//! refused, never adopted, changed or deleted.
//!
//! AWS refuses to delete a file system that has mount targets: they go
//! first, and the delete waits until they are gone.

use std::time::Duration;

use aws_sdk_ec2::types::{Filter, IpPermission, UserIdGroupPair};
use aws_sdk_efs::types::LifeCycleState;
use tokio_util::sync::CancellationToken;

use super::Named;
use crate::aws::error::code;
use crate::aws::wait::{Poll, Waiter};
use crate::aws::{eventual, tags, AwsError, Clients, Found};
use crate::resources::compute::owned_sg::{self, OwnedGroup};
use crate::resources::error::OpError;
use crate::rules;

/// The file system as EFS describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSystem {
    pub id: String,
    pub arn: String,
    pub tags: tags::Tags,
}

fn efs_tags(t: &tags::Tags) -> Vec<aws_sdk_efs::types::Tag> {
    t.iter()
        .filter_map(|(k, v)| {
            aws_sdk_efs::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect()
}

fn tags_of(d: &aws_sdk_efs::types::FileSystemDescription) -> tags::Tags {
    d.tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// The system's file system, by its creation token: ours (by its identity
/// tags) or not, and its life cycle state.
async fn describe(c: &Clients, system: &str) -> Result<Option<(FileSystem, String)>, OpError> {
    // A refresh reads every system's file system in its one batch.
    if let Some(snap) = c.snapshot(rules::TAG_MANAGED_BY).await {
        return Ok(snap
            .file_systems
            .get(&rules::file_system_name(system))
            .map(|d| (described(d), d.life_cycle_state().as_str().to_string())));
    }
    let out = c
        .efs
        .describe_file_systems()
        .creation_token(rules::file_system_name(system))
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    Ok(out
        .file_systems()
        .first()
        .map(|d| (described(d), d.life_cycle_state().as_str().to_string())))
}

fn described(d: &aws_sdk_efs::types::FileSystemDescription) -> FileSystem {
    FileSystem {
        id: d.file_system_id().to_string(),
        arn: d.file_system_arn().unwrap_or_default().to_string(),
        tags: tags_of(d),
    }
}

/// The system's file system: ours (with it) or not.
pub async fn find(c: &Clients, system: &str) -> Result<(Named, Option<FileSystem>), OpError> {
    let Some((fs, state)) = describe(c, system).await? else {
        return Ok((Named::Missing, None));
    };
    if state == LifeCycleState::Deleted.as_str() || state == LifeCycleState::Deleting.as_str() {
        return Ok((Named::Missing, None));
    }
    let name = rules::file_system_name(system);
    let named = match rules::ownership(&fs.tags, system, None) {
        rules::Ownership::Ours => Named::Ours,
        rules::Ownership::NotOurs { found } => Named::NotOurs(rules::not_ours_detail(
            "EFS file system",
            &name,
            system,
            None,
            &found,
        )),
    };
    Ok((named, Some(fs)))
}

/// The mount targets' security group of `system` (any VPC), as described.
async fn describe_group(
    c: &Clients,
    system: &str,
) -> Result<Option<aws_sdk_ec2::types::SecurityGroup>, OpError> {
    let name = rules::file_system_security_group_name(system);
    // A refresh has the tagged groups in its batch (an untagged one of that
    // name is looked up as before).
    if let Some(snap) = c.snapshot(rules::TAG_MANAGED_BY).await {
        let found = snap
            .security_groups
            .values()
            .find(|g| g.group_name() == Some(name.as_str()));
        if let Some(g) = found {
            return Ok(Some(g.clone()));
        }
    }
    let out = c
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(&name).build())
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    Ok(out.security_groups().first().cloned())
}

/// Whose the mount targets' group `g` is.
fn group_owner(g: &aws_sdk_ec2::types::SecurityGroup, system: &str) -> Named {
    match rules::ownership(&tags::from_ec2(g.tags()), system, None) {
        rules::Ownership::Ours => Named::Ours,
        rules::Ownership::NotOurs { found } => Named::NotOurs(rules::not_ours_detail(
            "security group",
            &rules::file_system_security_group_name(system),
            system,
            None,
            &found,
        )),
    }
}

/// The mount targets' security group of `system` (any VPC): ours or not.
pub async fn find_group(c: &Clients, system: &str) -> Result<(Named, Option<String>), OpError> {
    Ok(match describe_group(c, system).await? {
        None => (Named::Missing, None),
        Some(g) => (
            group_owner(&g, system),
            Some(g.group_id().unwrap_or_default().to_string()),
        ),
    })
}

/// The mount targets' security group and its tags (`Name` aside), when it
/// is the system's: retagged with the rest of the storage.
pub(super) async fn group_tags(
    c: &Clients,
    system: &str,
) -> Result<Option<(String, tags::Tags)>, OpError> {
    Ok(describe_group(c, system).await?.and_then(|g| {
        let id = g.group_id()?.to_string();
        (group_owner(&g, system) == Named::Ours).then(|| {
            let mut t = tags::from_ec2(g.tags());
            t.remove("Name");
            (id, t)
        })
    }))
}

/// Finds or makes the mount targets' security group in `vpc` (no ingress
/// yet: [`nfs_from_nodes`] names the nodes' group).
async fn ensure_group(
    c: &Clients,
    system: &str,
    vpc: &str,
    t: &tags::Tags,
) -> Result<String, OpError> {
    let name = rules::file_system_security_group_name(system);
    let mut named = t.clone();
    named.insert("Name".into(), name.clone());
    let g = OwnedGroup {
        system,
        group: None,
        name: &name,
        vpc,
        description: format!("Datomic system {system} file system mount targets"),
        tags: &named,
    };
    Ok(owned_sg::ensure(c, &g).await?.0)
}

/// Finds or makes the file system (encrypted with the storage's key), waits
/// until it is available, and gives each of the storage's subnets a mount
/// target in the file system's security group (one per zone), waited on
/// until available. `timeout` (the operation's `timeouts`) bounds each wait.
pub async fn ensure(
    c: &Clients,
    system: &str,
    t: &tags::Tags,
    s: &super::Storage,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<FileSystem, OpError> {
    let (key_arn, subnets) = (&s.key_arn, &s.subnet_ids);
    let group = ensure_group(c, system, &s.vpc_id, t).await?;
    let fs = match find(c, system).await? {
        (Named::Ours, Some(fs)) => fs,
        (Named::NotOurs(detail), _) => {
            return Err(crate::resources::error::NotOurs { detail }.into())
        }
        _ => create(c, system, t, key_arn).await?,
    };
    wait_available(c, &fs.id, timeout, cancel).await?;
    let have = mount_targets(c, &fs.id).await?;
    let zones_of = subnet_zones(c, subnets).await?;
    for (subnet, zone) in &zones_of {
        if have.iter().any(|m| &m.zone == zone || &m.subnet == subnet) {
            continue;
        }
        let made = c
            .efs
            .create_mount_target()
            .file_system_id(&fs.id)
            .subnet_id(subnet)
            .security_groups(&group)
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk);
        match made {
            // A create retried after a lost answer: the zone has it.
            Err(e) if !e.code_is(&[code::MOUNT_TARGET_CONFLICT]) => return Err(e.into()),
            _ => {}
        }
    }
    wait_mount_targets(c, &fs.id, timeout, cancel).await?;
    Ok(fs)
}

async fn create(
    c: &Clients,
    system: &str,
    t: &tags::Tags,
    key_arn: &str,
) -> Result<FileSystem, OpError> {
    let name = rules::file_system_name(system);
    let mut named = t.clone();
    named.insert("Name".into(), name.clone());
    let made = c
        .efs
        .create_file_system()
        .creation_token(&name)
        .encrypted(true)
        .kms_key_id(key_arn)
        .performance_mode(aws_sdk_efs::types::PerformanceMode::GeneralPurpose)
        .set_tags(Some(efs_tags(&named)))
        .send()
        .await
        .map_err(AwsError::from_sdk);
    match made {
        Ok(d) => Ok(FileSystem {
            id: d.file_system_id().to_string(),
            arn: d.file_system_arn().unwrap_or_default().to_string(),
            tags: tags_of_created(&d),
        }),
        // The token's file system exists: a create retried after a lost answer.
        Err(e) if e.is_already_exists() => match find(c, system).await? {
            (Named::Ours, Some(fs)) => Ok(fs),
            _ => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

fn tags_of_created(
    d: &aws_sdk_efs::operation::create_file_system::CreateFileSystemOutput,
) -> tags::Tags {
    d.tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// A mount target as EFS describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MountTarget {
    id: String,
    subnet: String,
    zone: String,
    state: String,
}

async fn mount_targets(c: &Clients, fs: &str) -> Result<Vec<MountTarget>, OpError> {
    let out = c
        .efs
        .describe_mount_targets()
        .file_system_id(fs)
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?;
    Ok(out
        .map(|o| {
            o.mount_targets()
                .iter()
                .map(|m| MountTarget {
                    id: m.mount_target_id().to_string(),
                    subnet: m.subnet_id().to_string(),
                    zone: m.availability_zone_name().unwrap_or_default().to_string(),
                    state: m.life_cycle_state().as_str().to_string(),
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Each subnet with its availability zone. Asked by filter first (AWS
/// answers a read by id of a subnet just made "not found" for a while);
/// when one is not in that answer yet, read by id until it is.
async fn subnet_zones(c: &Clients, subnets: &[String]) -> Result<Vec<(String, String)>, OpError> {
    if subnets.is_empty() {
        return Ok(Vec::new());
    }
    let filtered = c
        .ec2
        .describe_subnets()
        .filters(
            Filter::builder()
                .name("subnet-id")
                .set_values(Some(subnets.to_vec()))
                .build(),
        )
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    let zones = pairs(filtered.subnets());
    if zones.len() == subnets.len() {
        return Ok(zones);
    }
    let what = format!("subnets {}", subnets.join(", "));
    let out = eventual::new_object(&what, || async {
        c.ec2
            .describe_subnets()
            .set_subnet_ids(Some(subnets.to_vec()))
            .send()
            .await
            .map(Some)
            .map_err(AwsError::from_sdk)
    })
    .await
    .map_err(OpError::from)?;
    Ok(pairs(out.subnets()))
}

fn pairs(subnets: &[aws_sdk_ec2::types::Subnet]) -> Vec<(String, String)> {
    subnets
        .iter()
        .filter_map(|s| {
            Some((
                s.subnet_id()?.to_string(),
                s.availability_zone()?.to_string(),
            ))
        })
        .collect()
}

/// Waits until the file system is `available` (`creating` just after its create).
async fn wait_available(
    c: &Clients,
    fs: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    let what = format!("EFS file system {fs} to be available");
    Waiter::new(timeout)
        .until(&what, cancel, || async {
            let out = c
                .efs
                .describe_file_systems()
                .file_system_id(fs)
                .send()
                .await
                .map_err(AwsError::from_sdk)
                .found()?;
            let state = out
                .as_ref()
                .and_then(|o| o.file_systems().first())
                .map(|d| d.life_cycle_state().clone());
            Ok::<_, OpError>(match state {
                Some(LifeCycleState::Available) => Poll::Done(()),
                Some(LifeCycleState::Error) => {
                    Poll::Stuck(format!("EFS file system {fs} is in state error"))
                }
                _ => Poll::Pending,
            })
        })
        .await
        .map_err(OpError::from)
}

/// Waits until every mount target of the file system is `available`.
async fn wait_mount_targets(
    c: &Clients,
    fs: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    let what = format!("the mount targets of EFS file system {fs} to be available");
    Waiter::new(timeout)
        .until(&what, cancel, || async {
            let all = mount_targets(c, fs).await?;
            let available = LifeCycleState::Available.as_str();
            Ok::<_, OpError>(match all.iter().find(|m| m.state != available) {
                None => Poll::Done(()),
                Some(m) if m.state == LifeCycleState::Error.as_str() => Poll::Stuck(format!(
                    "mount target {} of EFS file system {fs} is in state error",
                    m.id
                )),
                Some(_) => Poll::Pending,
            })
        })
        .await
        .map_err(OpError::from)
}

/// The NFS rule from `nodes` (a security group) on the mount targets' group.
fn nfs_from(nodes: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(rules::NFS_PORT)
        .to_port(rules::NFS_PORT)
        .user_id_group_pairs(UserIdGroupPair::builder().group_id(nodes).build())
        .build()
}

/// Whether the group `g` admits NFS from the nodes' group `nodes`.
fn admits_nfs_from(g: &aws_sdk_ec2::types::SecurityGroup, nodes: &str) -> bool {
    g.ip_permissions().iter().any(|p| {
        p.ip_protocol() == Some("tcp")
            && p.from_port() == Some(rules::NFS_PORT)
            && p.to_port() == Some(rules::NFS_PORT)
            && p.user_id_group_pairs()
                .iter()
                .any(|u| u.group_id() == Some(nodes))
    })
}

/// Which way [`nfs_from_nodes`] changes the mount targets' group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nfs {
    /// Let the nodes' group reach the mount targets. An update that finds
    /// the rule in place writes nothing.
    Admit,
    /// Take the nodes' group off (before the nodes' group is deleted: AWS
    /// keeps a group another group's rule names).
    Forget,
}

/// Admits or forgets NFS from the nodes' security group `nodes` on the
/// mount targets' group, when the system has a file system group of its own.
pub async fn nfs_from_nodes(
    c: &Clients,
    system: &str,
    nodes: &str,
    way: Nfs,
) -> Result<(), OpError> {
    let Some(g) = describe_group(c, system).await? else {
        return Ok(());
    };
    if group_owner(&g, system) != Named::Ours {
        return Ok(());
    }
    let group = g.group_id().unwrap_or_default();
    let r = match way {
        Nfs::Admit if admits_nfs_from(&g, nodes) => return Ok(()),
        Nfs::Admit => c
            .ec2
            .authorize_security_group_ingress()
            .group_id(group)
            .ip_permissions(nfs_from(nodes))
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk),
        Nfs::Forget => c
            .ec2
            .revoke_security_group_ingress()
            .group_id(group)
            .ip_permissions(nfs_from(nodes))
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk),
    };
    match r {
        // Already so: the rule there (admit), or it or the group gone (forget).
        Err(e) if way == Nfs::Admit && e.code_is(&[code::PERMISSION_DUPLICATE]) => Ok(()),
        Err(e)
            if way == Nfs::Forget
                && (e.is_not_found() || e.code_is(&[code::PERMISSION_NOT_FOUND])) =>
        {
            Ok(())
        }
        r => r.map_err(OpError::from),
    }
}

/// Deletes the file system's mount targets and waits until they are gone,
/// then the file system, then its security group: each only when it is the
/// system's (by its identity tags).
pub async fn delete(
    c: &Clients,
    system: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    if let (Named::Ours, Some(fs)) = find(c, system).await? {
        for m in mount_targets(c, &fs.id).await? {
            c.efs
                .delete_mount_target()
                .mount_target_id(&m.id)
                .send()
                .await
                .map(|_| ())
                .map_err(AwsError::from_sdk)
                .found()?;
        }
        let what = format!(
            "the mount targets of EFS file system {} to be deleted",
            fs.id
        );
        Waiter::new(timeout)
            .until(&what, cancel, || async {
                Ok::<_, OpError>(if mount_targets(c, &fs.id).await?.is_empty() {
                    Poll::Done(())
                } else {
                    Poll::Pending
                })
            })
            .await
            .map_err(OpError::from)?;
        c.efs
            .delete_file_system()
            .file_system_id(&fs.id)
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk)
            .found()?;
    }
    if let (Named::Ours, Some(group)) = find_group(c, system).await? {
        // The mount targets' network interfaces may outlive them a while.
        let sg = eventual::Network::SecurityGroup(&group);
        eventual::delete_network(c, sg, timeout, cancel).await?;
    }
    Ok(())
}

/// The file system's tags now, without its `Name` (which stays the provider's).
pub async fn tags(c: &Clients, id: &str) -> Result<tags::Tags, OpError> {
    let out = c
        .efs
        .describe_file_systems()
        .file_system_id(id)
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    let mut t = out.file_systems().first().map(tags_of).unwrap_or_default();
    t.remove("Name");
    Ok(t)
}

/// Writes the `changed` tags of the file system and removes the `removed` ones.
pub async fn retag(
    c: &Clients,
    id: &str,
    changed: &tags::Tags,
    removed: Vec<String>,
) -> Result<(), OpError> {
    if !changed.is_empty() {
        c.efs
            .tag_resource()
            .resource_id(id)
            .set_tags(Some(efs_tags(changed)))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
    if !removed.is_empty() {
        c.efs
            .untag_resource()
            .resource_id(id)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_targets_admit_nfs_from_the_nodes_group_only() {
        let p = nfs_from("sg-nodes");
        assert_eq!(p.ip_protocol(), Some("tcp"));
        assert_eq!((p.from_port(), p.to_port()), (Some(2049), Some(2049)));
        let groups: Vec<_> = p
            .user_id_group_pairs()
            .iter()
            .filter_map(|g| g.group_id())
            .collect();
        assert_eq!(groups, vec!["sg-nodes"]);
        assert!(p.ip_ranges().is_empty());
    }

    #[test]
    fn every_tag_goes_to_efs() {
        let t: tags::Tags = [
            ("a".to_string(), "1".to_string()),
            ("Name".into(), "n".into()),
        ]
        .into_iter()
        .collect();
        let out = efs_tags(&t);
        assert_eq!(out.len(), 2);
        assert!(out.iter().any(|x| x.key() == "Name" && x.value() == "n"));
    }
}
