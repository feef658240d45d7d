//! The Auto Scaling group of a compute group: made tagged with its identity,
//! read back into [`GroupState`], resized and retagged, rolled one node at a
//! time onto a new launch template version, waited for until its nodes are
//! in service, and deleted with its launch template and node role.

use std::time::Duration;

use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag as AsgTag};
use aws_sdk_ec2::types::{ResourceType, TagSpecification};
use tokio_util::sync::CancellationToken;

use super::endpoint::{delete_load_balancer, delete_target_group};
use super::launch_template::{
    default_image, existing_launch_template, find_launch_template, fingerprint, launch_data,
    our_launch_template, root_device_of, TAG_NODE_CONFIG,
};
use super::role::delete_role;
use super::{i32_of, sdk, GroupState, Instance};
use crate::aws::wait::{Poll, Waiter};
use crate::aws::{eventual, tags, AwsError, Clients, Found, Lookup};
use crate::resources::error::OpError;
use crate::resources::journal;
use crate::resources::node::NodeConfig;
use crate::resources::ownership;
use crate::rules;

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

/// The group as AWS has it, or None when its Auto Scaling group is gone.
pub async fn read_group(
    c: &Clients,
    system: &str,
    group: &str,
) -> Result<Option<GroupState>, OpError> {
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

/// A group's network as its Auto Scaling group has it: (VPC, subnets).
pub async fn network_of(c: &Clients, g: &GroupState) -> Result<(String, Vec<String>), OpError> {
    let vpc = match g.subnet_ids.first() {
        Some(s) => vpc_of_subnet(c, s).await?,
        None => String::new(),
    };
    Ok((vpc, g.subnet_ids.clone()))
}

/// The VPC of a subnet.
pub async fn vpc_of_subnet(c: &Clients, subnet: &str) -> Result<String, OpError> {
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

/// The identifying tags of a group's Auto Scaling group, or None when it
/// does not exist (or is not ours).
pub async fn group_tags(
    c: &Clients,
    system: &str,
    group: &str,
    lookup: Lookup,
) -> Result<Option<tags::Tags>, OpError> {
    let asg = rules::asg_name(system, group);
    if lookup == Lookup::Plan && !c.has_written() {
        // A plan: one batched look at the system's groups, shared by all.
        let groups = c.tagged_groups(rules::TAG_SYSTEM, system).await?;
        return Ok(groups
            .get(&asg)
            .filter(|t| is_group_of(t, system, group))
            .cloned());
    }
    let out = lookup
        .autoscaling(c)
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
pub(super) fn is_group_of(t: &tags::Tags, system: &str, group: &str) -> bool {
    rules::ownership(t, system, Some(group)) == rules::Ownership::Ours
}

/// Why the group's Auto Scaling group name is taken by a group that is not
/// the group's (by its identity tags), if it is: what an import is told.
pub async fn foreign_group(
    c: &Clients,
    system: &str,
    group: &str,
) -> Result<Option<String>, OpError> {
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
        .map(|e| e.to_string())
    }))
}

/// Creates the launch template and Auto Scaling group unless they exist.
pub async fn ensure_group(c: &Clients, s: &GroupSpec<'_>) -> Result<String, OpError> {
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
                    existing_launch_template(c, s.system, s.group).await?
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let asg = rules::asg_name(s.system, s.group);
    if let Some(g) = describe_asg(c, &asg).await? {
        // Found by name: ours only by its identity tags (the remains of an
        // interrupted create carry them: they are set by the create itself).
        check_owned(&g, s)?;
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
        let existed = std::sync::atomic::AtomicBool::new(false);
        Waiter::new(Duration::from_secs(120))
            .until(&what, s.cancel, || async {
                let created = c
                    .autoscaling
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
                    .map_err(sdk);
                match created {
                    Ok(_) => Ok(Poll::Done(())),
                    Err(e) if e.is_already_exists() => {
                        existed.store(true, std::sync::atomic::Ordering::Relaxed);
                        Ok(Poll::Done(()))
                    }
                    Err(e) if e.is_invalid_instance_profile() => Ok(Poll::Pending),
                    Err(e) => Err(e),
                }
            })
            .await
            .map_err(OpError::from)?;
        // "Already exists": a create retried after its answer was lost, or a
        // group made a moment ago that the describe above did not list yet
        // (someone else's, maybe): read once Auto Scaling lists it, ours only
        // by its identity tags.
        if existed.load(std::sync::atomic::Ordering::Relaxed) {
            let what = format!("Auto Scaling group {asg}");
            let g = eventual::new_object(&what, || describe_asg(c, &asg)).await?;
            check_owned(&g, s)?;
        }
    }
    Ok(lt_id)
}

/// Refuses an Auto Scaling group of the group's name whose identity tags do
/// not make it the group's.
fn check_owned(
    g: &aws_sdk_autoscaling::types::AutoScalingGroup,
    s: &GroupSpec<'_>,
) -> Result<(), OpError> {
    let asg = rules::asg_name(s.system, s.group);
    ownership::check(
        "Auto Scaling group",
        &asg,
        &tags::from_asg(g),
        s.system,
        Some(s.group),
    )
}

pub(super) fn asg_tags(asg: &str, t: &tags::Tags) -> Vec<AsgTag> {
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

pub async fn set_capacity(
    c: &Clients,
    asg: &str,
    min: i64,
    max: i64,
    desired: i64,
) -> Result<(), OpError> {
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

/// Brings the group's tags (and its launch template's) to `new`.
pub async fn update_tags(c: &Clients, st: &GroupState, new: &tags::Tags) -> Result<(), OpError> {
    let (removed, changed) = tag_changes(&st.tags, new);
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

/// The tag keys to remove and the tags to set that take `old` to `new`; the
/// created marker stays (it is not in the configuration's tags).
fn tag_changes(old: &tags::Tags, new: &tags::Tags) -> (Vec<String>, tags::Tags) {
    let (mut removed, changed) = tags::diff(old, new);
    removed.retain(|k| k != rules::TAG_CREATED);
    (removed, changed)
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
) -> Result<(), OpError> {
    let Some(st) = read_group(c, system, group).await? else {
        return Ok(());
    };
    let current = fingerprint(&st.instance_type, &st.image_id, &st.node);
    let ids: Vec<String> = st.instances.iter().map(|i| i.id.clone()).collect();
    let old = outdated(instance_fingerprints(c, &ids).await?, &current);
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
            Err(e) if !(e.is_not_found() || e.is_autoscaling_not_found()) => return Err(e.into()),
            _ => {}
        }
        let what = format!("instance {id} of {} to be replaced", st.asg_name);
        Waiter::new(timeout)
            .until(&what, cancel, || async {
                let now = read_group(c, system, group).await?;
                let done = now.is_some_and(|s| replaced(&s, &id));
                Ok::<_, OpError>(if done { Poll::Done(()) } else { Poll::Pending })
            })
            .await
            .map_err(OpError::from)?;
    }
    Ok(())
}

/// The instances a roll replaces, in the order AWS listed them: those whose
/// fingerprint is not `current` (an untagged one included).
fn outdated(fingerprints: Vec<(String, String)>, current: &str) -> Vec<String> {
    fingerprints
        .into_iter()
        .filter(|(_, fp)| fp != current)
        .map(|(id, _)| id)
        .collect()
}

/// How many of the group's nodes are in service.
fn in_service_count(s: &GroupState) -> i64 {
    let n = s
        .instances
        .iter()
        .filter(|i| i.lifecycle == "InService")
        .count();
    i64::try_from(n).unwrap_or(0)
}

/// Whether a roll's terminated node `id` is gone and the group whole again.
fn replaced(s: &GroupState, id: &str) -> bool {
    !s.instances.iter().any(|i| i.id == id) && in_service_count(s) >= s.desired
}

/// Whether the group has exactly `desired` nodes, all in service.
fn all_in_service(s: &GroupState, desired: i64) -> bool {
    in_service_count(s) == desired && i64::try_from(s.instances.len()).unwrap_or(0) == desired
}

/// The fingerprint tag of each of the group's instances.
async fn instance_fingerprints(
    c: &Clients,
    ids: &[String],
) -> Result<Vec<(String, String)>, OpError> {
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

/// Deletes the Auto Scaling group (waiting for its nodes to go), the launch
/// template and the node role. Anything already gone counts as deleted.
pub async fn delete_group(
    c: &Clients,
    system: &str,
    group: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
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
            Err(e) if !(e.is_not_found() || e.is_autoscaling_not_found()) => return Err(e.into()),
            _ => {}
        }
    }
    let group_gone = async {
        if !ours {
            return Ok(());
        }
        let what = format!("Auto Scaling group {asg} to be deleted");
        Waiter::new(timeout)
            .until(&what, cancel, || async {
                Ok::<_, OpError>(if describe_asg(c, &asg).await?.is_none() {
                    Poll::Done(())
                } else {
                    Poll::Pending
                })
            })
            .await
            .map_err(OpError::from)
    };
    // The load balancer goes while the nodes are terminated (AWS lets it, and
    // its network interfaces start lingering sooner); the target group once
    // both are gone, as the group and the listener use it until then.
    let (target_group, ()) = tokio::try_join!(delete_load_balancer(c, system, group), group_gone)?;
    delete_target_group(c, system, group, &target_group, cancel).await?;
    // The load balancer's security group waits out its network interfaces
    // beside the rest.
    let lb_group = super::lb_security_group::delete(c, system, group, timeout, cancel);
    let rest = async {
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
    };
    tokio::try_join!(lb_group, rest).map(|_| ())
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
) -> Result<(), OpError> {
    let what = format!(
        "{} nodes of {} to be in service",
        desired,
        rules::asg_name(system, group)
    );
    Waiter::new(timeout)
        .until(&what, cancel, || async {
            let st = read_group(c, system, group).await?;
            let ready = st.is_some_and(|s| all_in_service(&s, desired));
            Ok::<_, OpError>(if ready { Poll::Done(()) } else { Poll::Pending })
        })
        .await
        .map_err(OpError::from)
}

/// The image of a group's nodes: its latest launch template version's, or,
/// when that version has none (made outside Terraform), the system's primary
/// group's, else the region's default image (what a create uses).
pub async fn image_of(c: &Clients, g: &GroupState, system: &str) -> Result<String, OpError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_autoscaling::types::{
        AutoScalingGroup, Instance as AsgInstance, LaunchTemplateSpecification as AsgLt,
        LifecycleState, TagDescription,
    };
    use aws_sdk_ec2::types::{LaunchTemplateVersion, ResponseLaunchTemplateData};

    use crate::resources::testing::identity;

    fn node(id: &str, lifecycle: &str) -> Instance {
        Instance {
            id: id.into(),
            lifecycle: lifecycle.into(),
        }
    }

    fn group_of(desired: i64, instances: Vec<Instance>) -> GroupState {
        GroupState {
            desired,
            instances,
            ..Default::default()
        }
    }

    fn fps(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_roll_replaces_only_nodes_of_another_fingerprint_in_listed_order() {
        let old = outdated(
            fps(&[
                ("i-3", "old"),
                ("i-1", "new"),
                ("i-2", "older"),
                ("i-4", ""),
            ]),
            "new",
        );
        assert_eq!(old, vec!["i-3", "i-2", "i-4"]);
    }

    #[test]
    fn a_roll_of_an_up_to_date_or_empty_group_replaces_nothing() {
        assert!(outdated(fps(&[("i-1", "new"), ("i-2", "new")]), "new").is_empty());
        assert!(outdated(Vec::new(), "new").is_empty());
    }

    #[test]
    fn a_replaced_node_is_gone_and_the_group_whole_again() {
        let whole = group_of(2, vec![node("i-2", "InService"), node("i-9", "InService")]);
        assert!(replaced(&whole, "i-1"));
        // The old node still listed (terminating): not yet.
        let lingering = group_of(
            2,
            vec![
                node("i-1", "Terminating"),
                node("i-2", "InService"),
                node("i-9", "InService"),
            ],
        );
        assert!(!replaced(&lingering, "i-1"));
        // Its replacement still pending: not yet.
        let pending = group_of(2, vec![node("i-2", "InService"), node("i-9", "Pending")]);
        assert!(!replaced(&pending, "i-1"));
        // More in service than desired (a scale-in to come) is whole.
        let more = group_of(1, vec![node("i-2", "InService"), node("i-9", "InService")]);
        assert!(replaced(&more, "i-1"));
    }

    #[test]
    fn in_service_means_exactly_desired_nodes_all_in_service() {
        let two = group_of(2, vec![node("a", "InService"), node("b", "InService")]);
        assert!(all_in_service(&two, 2));
        assert!(!all_in_service(&two, 1));
        assert!(!all_in_service(&two, 3));
        let one_pending = group_of(2, vec![node("a", "InService"), node("b", "Pending")]);
        assert!(!all_in_service(&one_pending, 2));
        let extra = group_of(
            2,
            vec![
                node("a", "InService"),
                node("b", "InService"),
                node("c", "Terminating"),
            ],
        );
        assert!(!all_in_service(&extra, 2));
        assert!(all_in_service(&group_of(0, Vec::new()), 0));
        assert!(!all_in_service(&group_of(1, Vec::new()), 1));
    }

    #[test]
    fn a_tag_update_never_removes_the_created_marker() {
        let mut old = identity("s", "primary");
        old.insert(rules::TAG_CREATED.into(), "token".into());
        old.insert("team".into(), "a".into());
        old.insert("gone".into(), "x".into());
        let mut new = identity("s", "primary");
        new.insert("team".into(), "b".into());
        let (removed, changed) = tag_changes(&old, &new);
        assert_eq!(removed, vec!["gone"]);
        assert_eq!(
            changed,
            [("team".to_string(), "b".to_string())]
                .into_iter()
                .collect()
        );
    }

    #[test]
    fn group_ownership_needs_system_and_group() {
        let t = identity("s", "q1");
        assert!(is_group_of(&t, "s", "q1"));
        assert!(!is_group_of(&t, "s", "q2"));
        assert!(!is_group_of(&t, "other", "q1"));
        let mut foreign = t.clone();
        foreign.insert(rules::TAG_MANAGED_BY.into(), "someone-else".into());
        assert!(!is_group_of(&foreign, "s", "q1"));
        assert!(!is_group_of(&tags::Tags::new(), "s", "q1"));
    }

    #[test]
    fn asg_tags_propagate_to_nodes_and_name_the_group() {
        let out = asg_tags("s-primary", &identity("s", "primary"));
        assert_eq!(out.len(), 3);
        for t in &out {
            assert_eq!(t.propagate_at_launch(), Some(true));
            assert_eq!(t.resource_id(), Some("s-primary"));
            assert_eq!(t.resource_type(), Some("auto-scaling-group"));
        }
        assert!(out
            .iter()
            .any(|t| t.key() == Some(rules::TAG_GROUP) && t.value() == Some("primary")));
        assert!(asg_tags("x", &tags::Tags::new()).is_empty());
    }

    fn asg(t: &tags::Tags) -> AutoScalingGroup {
        let mut b = AutoScalingGroup::builder()
            .auto_scaling_group_name("s-primary")
            .auto_scaling_group_arn("arn:asg")
            .min_size(1)
            .max_size(3)
            .desired_capacity(2)
            .vpc_zone_identifier("subnet-a, subnet-b,,")
            .target_group_arns("arn:tg")
            .launch_template(AsgLt::builder().launch_template_id("lt-1").build())
            .instances(
                AsgInstance::builder()
                    .instance_id("i-1")
                    .lifecycle_state(LifecycleState::InService)
                    .build(),
            )
            .instances(AsgInstance::builder().instance_id("i-2").build());
        for (k, v) in t {
            b = b.tags(TagDescription::builder().key(k).value(v).build());
        }
        b.build()
    }

    #[test]
    fn group_state_reads_the_group_and_its_latest_version() {
        let version = LaunchTemplateVersion::builder()
            .version_number(7)
            .launch_template_data(
                ResponseLaunchTemplateData::builder()
                    .instance_type(aws_sdk_ec2::types::InstanceType::from("t3.large"))
                    .image_id("ami-1")
                    .security_group_ids("sg-1")
                    .security_group_ids("sg-2")
                    .build(),
            )
            .build();
        let st = group_state(
            &asg(&identity("s", "primary")),
            Some(&version),
            "s",
            "primary",
        )
        .expect("our group");
        assert_eq!(st.asg_name, rules::asg_name("s", "primary"));
        assert_eq!(st.arn, "arn:asg");
        assert_eq!((st.min, st.max, st.desired), (1, 3, 2));
        assert_eq!(st.subnet_ids, vec!["subnet-a", "subnet-b"]);
        assert_eq!(st.target_group_arns, vec!["arn:tg"]);
        assert_eq!(st.instances.len(), 2);
        assert_eq!(st.instances[0].id, "i-1");
        assert_eq!(st.instances[0].lifecycle, "InService");
        assert_eq!(st.instances[1].lifecycle, "");
        assert_eq!(st.launch_template_id, "lt-1");
        assert_eq!(st.launch_template_version, 7);
        assert_eq!(st.instance_type, "t3.large");
        assert_eq!(st.image_id, "ami-1");
        // The first security group is the nodes'.
        assert_eq!(st.security_group_id, "sg-1");
        // No user data: the default node configuration.
        assert_eq!(st.node, NodeConfig::default());
    }

    #[test]
    fn group_state_without_a_version_leaves_the_template_data_empty() {
        let st =
            group_state(&asg(&identity("s", "primary")), None, "s", "primary").expect("our group");
        assert_eq!(st.launch_template_id, "lt-1");
        assert_eq!(st.launch_template_version, 0);
        assert!(st.instance_type.is_empty() && st.image_id.is_empty());
        assert!(st.security_group_id.is_empty());
    }

    #[test]
    fn a_group_of_our_name_with_foreign_tags_is_not_ours() {
        assert!(group_state(&asg(&identity("s", "q1")), None, "s", "primary").is_none());
        let mut t = identity("s", "primary");
        t.remove(rules::TAG_MANAGED_BY);
        assert!(group_state(&asg(&t), None, "s", "primary").is_none());
        assert!(group_state(&asg(&tags::Tags::new()), None, "s", "primary").is_none());
    }
}
