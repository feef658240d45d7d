//! The client endpoint of a compute group: an internal network load balancer
//! with its own security group (`lb_security_group`), its target group and
//! listener on the client port; found by name and identity tags, made or
//! repaired, attached to the group, and deleted.

use crate::aws::error::code;
use crate::resources::error::OpError;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::lb_security_group;
use super::sdk;
use super::GroupState;
use crate::aws::wait::{Poll, Waiter};
use crate::aws::{tags, Clients, Found};
use crate::resources::ownership;
use crate::rules;

/// A compute group's client endpoint: an internal Network Load Balancer in
/// the system's subnets whose TCP listener on [`rules::CLIENT_PORT`]
/// forwards to a target group the Auto Scaling group registers its nodes in.
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    pub dns_name: String,
    pub load_balancer_arn: String,
    pub target_group_arn: String,
    /// The load balancer's security group ("" for one made without, by an
    /// earlier build: see [`ensure_endpoint`]).
    pub security_group_id: String,
    /// Whether [`ensure_endpoint`] just made the security group (no rules yet).
    pub new_security_group: bool,
}

impl Endpoint {
    /// The DNS name when the load balancer, with its security group, and its
    /// target group exist, else "" (which the next plan repairs: a load
    /// balancer without a security group is replaced by one with).
    pub fn usable_dns(&self) -> &str {
        if self.load_balancer_arn.is_empty()
            || self.target_group_arn.is_empty()
            || self.security_group_id.is_empty()
        {
            ""
        } else {
            &self.dns_name
        }
    }
}

/// The group's endpoint as it exists (parts may be missing). During a
/// refresh it comes from the snapshot; otherwise see `read_endpoint`.
pub async fn find_endpoint(c: &Clients, system: &str, group: &str) -> Result<Endpoint, OpError> {
    let name = rules::load_balancer_name(system, group);
    if let Some(snap) = c.snapshot(rules::TAG_MANAGED_BY).await {
        return Ok(from_snapshot(&snap, &name));
    }
    Ok(read_endpoint(c, system, group).await?.0)
}

/// The endpoint of load balancer and target group name `name` in a refresh's
/// snapshot; missing parts left empty.
fn from_snapshot(snap: &crate::aws::snapshot::Snapshot, name: &str) -> Endpoint {
    let mut e = Endpoint::default();
    if let Some((dns, arn)) = snap.load_balancers.get(name) {
        e.dns_name = dns.clone();
        e.load_balancer_arn = arn.clone();
    }
    e.security_group_id = snap
        .load_balancer_groups
        .get(name)
        .and_then(|g| g.first())
        .cloned()
        .unwrap_or_default();
    e.target_group_arn = snap.target_groups.get(name).cloned().unwrap_or_default();
    e
}

/// The endpoint's parts found by name, read from AWS, with the tags of each
/// (load balancer's, target group's).
pub(super) async fn read_endpoint(
    c: &Clients,
    system: &str,
    group: &str,
) -> Result<(Endpoint, tags::Tags, tags::Tags), OpError> {
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
        e.security_group_id = lb.security_groups().first().cloned().unwrap_or_default();
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
    if arns.is_empty() {
        return Ok((e, tags::Tags::new(), tags::Tags::new()));
    }
    let out = c
        .elbv2
        .describe_tags()
        .set_resource_arns(Some(arns))
        .send()
        .await
        .map_err(sdk)?;
    let (lb_tags, tg_tags) = tags_of_parts(&e, out.tag_descriptions());
    Ok((e, lb_tags, tg_tags))
}

/// The tags of the endpoint's load balancer and target group among tag
/// descriptions (empty for a part not described); others' are ignored.
fn tags_of_parts(
    e: &Endpoint,
    descriptions: &[aws_sdk_elasticloadbalancingv2::types::TagDescription],
) -> (tags::Tags, tags::Tags) {
    let (mut lb_tags, mut tg_tags) = (tags::Tags::new(), tags::Tags::new());
    for d in descriptions {
        let t = tags::from_elb(d.tags());
        match d.resource_arn() {
            Some(a) if a == e.load_balancer_arn => lb_tags = t,
            Some(a) if a == e.target_group_arn => tg_tags = t,
            _ => {}
        }
    }
    (lb_tags, tg_tags)
}

/// The endpoint's parts that exist and are ours; an error when a part of
/// its name exists that is not.
async fn our_endpoint(c: &Clients, system: &str, group: &str) -> Result<Endpoint, OpError> {
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

/// Creates whatever part of the endpoint is missing. A load balancer without
/// a security group (made by an earlier build) is replaced: AWS
/// never gives one to a Network Load Balancer made without, and the nodes
/// admit client traffic only from the load balancers' groups. Its DNS name
/// changes (the plan showed the endpoint as known after apply).
pub async fn ensure_endpoint(
    c: &Clients,
    system: &str,
    group: &str,
    vpc_id: &str,
    subnet_ids: &[String],
    t: &tags::Tags,
) -> Result<Endpoint, OpError> {
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, ProtocolEnum,
        TargetTypeEnum,
    };
    let name = rules::load_balancer_name(system, group);
    let mut e = our_endpoint(c, system, group).await?;
    if !e.load_balancer_arn.is_empty() && e.security_group_id.is_empty() {
        crate::plugin::log::info(
            "replacing a load balancer made without a security group",
            &[("load_balancer", &name)],
        );
        c.elbv2
            .delete_load_balancer()
            .load_balancer_arn(&e.load_balancer_arn)
            .send()
            .await
            .map_err(sdk)
            .found()?;
        e.load_balancer_arn.clear();
        e.dns_name.clear();
    }
    let (sg, fresh) = lb_security_group::ensure(c, system, group, vpc_id, t).await?;
    e.new_security_group = fresh;
    if e.load_balancer_arn.is_empty() {
        let out = c
            .elbv2
            .create_load_balancer()
            .name(&name)
            .r#type(LoadBalancerTypeEnum::Network)
            .scheme(LoadBalancerSchemeEnum::Internal)
            .set_subnets(Some(subnet_ids.to_vec()))
            .security_groups(&sg)
            .set_tags(Some(elb_tags(t)))
            .send()
            .await
            .map_err(sdk)?;
        if let Some(lb) = out.load_balancers().first() {
            e.dns_name = lb.dns_name().unwrap_or_default().to_string();
            e.load_balancer_arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        }
    } else if e.security_group_id != sg {
        // Its groups changed by hand (AWS lets a load balancer made with
        // groups have others): ours again.
        c.elbv2
            .set_security_groups()
            .load_balancer_arn(&e.load_balancer_arn)
            .security_groups(&sg)
            .send()
            .await
            .map_err(sdk)?;
    }
    e.security_group_id = sg;
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
pub async fn attach_endpoint(c: &Clients, g: &GroupState, e: &Endpoint) -> Result<(), OpError> {
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

/// Deletes the endpoint (the listener goes with the load balancer, its
/// security group after it).
pub async fn delete_endpoint(
    c: &Clients,
    system: &str,
    group: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    let tg = delete_load_balancer(c, system, group).await?;
    delete_target_group(c, system, group, &tg, cancel).await?;
    lb_security_group::delete(c, system, group, timeout, cancel).await
}

/// Deletes the endpoint's load balancer (its listener goes with it), when it
/// is ours; AWS deletes it while its targets still drain. Returns the ARN of
/// the endpoint's target group when it is ours ("" otherwise), for
/// [`delete_target_group`] once nothing uses it.
pub async fn delete_load_balancer(
    c: &Clients,
    system: &str,
    group: &str,
) -> Result<String, OpError> {
    let (e, lb_tags, tg_tags) = read_endpoint(c, system, group).await?;
    let e = deletable(e, &lb_tags, &tg_tags, system, group);
    if !e.load_balancer_arn.is_empty() {
        c.elbv2
            .delete_load_balancer()
            .load_balancer_arn(&e.load_balancer_arn)
            .send()
            .await
            .map_err(sdk)
            .found()?;
    }
    Ok(e.target_group_arn)
}

/// The parts of an endpoint a delete may touch: those whose tags (load
/// balancer's, target group's) make them the group's; others' ARNs cleared.
fn deletable(
    mut e: Endpoint,
    lb_tags: &tags::Tags,
    tg_tags: &tags::Tags,
    system: &str,
    group: &str,
) -> Endpoint {
    let name = rules::load_balancer_name(system, group);
    if !e.load_balancer_arn.is_empty()
        && !ownership::may_delete("load balancer", &name, lb_tags, system, Some(group))
    {
        e.load_balancer_arn.clear();
    }
    if !e.target_group_arn.is_empty()
        && !ownership::may_delete("target group", &name, tg_tags, system, Some(group))
    {
        e.target_group_arn.clear();
    }
    e
}

/// Deletes the endpoint's target group `arn` (none when ""), retrying while
/// it is in use (until its load balancer is gone).
pub async fn delete_target_group(
    c: &Clients,
    system: &str,
    group: &str,
    arn: &str,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    if arn.is_empty() {
        return Ok(());
    }
    // A target group is in use until its load balancer is gone.
    let what = format!(
        "target group {} to be deleted",
        rules::load_balancer_name(system, group)
    );
    Waiter::new(Duration::from_secs(300))
        .until(&what, cancel, || async {
            match c
                .elbv2
                .delete_target_group()
                .target_group_arn(arn)
                .send()
                .await
                .map_err(sdk)
            {
                Ok(_) => Ok(Poll::Done(())),
                Err(err) if err.is_not_found() => Ok(Poll::Done(())),
                Err(err) if err.code_is(&[code::RESOURCE_IN_USE]) => Ok(Poll::Pending),
                Err(err) => Err(err),
            }
        })
        .await
        .map_err(OpError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticloadbalancingv2::types::{Tag, TagDescription};

    use crate::resources::testing::identity;

    fn endpoint(lb: &str, tg: &str) -> Endpoint {
        Endpoint {
            dns_name: "lb.example".into(),
            load_balancer_arn: lb.into(),
            target_group_arn: tg.into(),
            security_group_id: "sg-lb".into(),
            new_security_group: false,
        }
    }

    fn described(arn: &str, k: &str, v: &str) -> TagDescription {
        TagDescription::builder()
            .resource_arn(arn)
            .tags(Tag::builder().key(k).value(v).build())
            .build()
    }

    #[test]
    fn the_dns_name_is_usable_only_with_both_parts() {
        assert_eq!(endpoint("arn:lb", "arn:tg").usable_dns(), "lb.example");
        assert_eq!(endpoint("arn:lb", "").usable_dns(), "");
        assert_eq!(endpoint("", "arn:tg").usable_dns(), "");
        assert_eq!(Endpoint::default().usable_dns(), "");
        // Made by an older version, without a security group: replaced.
        let mut legacy = endpoint("arn:lb", "arn:tg");
        legacy.security_group_id.clear();
        assert_eq!(legacy.usable_dns(), "");
    }

    #[test]
    fn elb_tags_carry_every_tag() {
        let out = elb_tags(&identity("s", "q"));
        assert_eq!(out.len(), 3);
        assert!(out
            .iter()
            .any(|t| t.key() == Some(rules::TAG_GROUP) && t.value() == Some("q")));
        assert!(elb_tags(&tags::Tags::new()).is_empty());
    }

    #[test]
    fn the_snapshot_gives_the_parts_it_has() {
        let mut snap = crate::aws::snapshot::Snapshot::default();
        snap.load_balancers
            .insert("n".into(), ("n.elb".into(), "arn:lb".into()));
        snap.target_groups.insert("n".into(), "arn:tg".into());
        snap.target_groups.insert("other".into(), "arn:tg2".into());
        snap.load_balancer_groups
            .insert("n".into(), vec!["sg-1".into(), "sg-2".into()]);
        let e = from_snapshot(&snap, "n");
        assert_eq!(e.security_group_id, "sg-1");
        assert_eq!(e.dns_name, "n.elb");
        assert_eq!(e.load_balancer_arn, "arn:lb");
        assert_eq!(e.target_group_arn, "arn:tg");
        let only_tg = from_snapshot(&snap, "other");
        assert_eq!(only_tg.load_balancer_arn, "");
        assert_eq!(only_tg.dns_name, "");
        assert_eq!(only_tg.target_group_arn, "arn:tg2");
        assert_eq!(only_tg.security_group_id, "");
        let none = from_snapshot(&snap, "missing");
        assert!(none.load_balancer_arn.is_empty() && none.target_group_arn.is_empty());
    }

    #[test]
    fn tags_go_to_the_part_of_their_arn_others_ignored() {
        let e = endpoint("arn:lb", "arn:tg");
        let (lb, tg) = tags_of_parts(
            &e,
            &[
                described("arn:tg", "t", "2"),
                described("arn:other", "x", "9"),
                described("arn:lb", "l", "1"),
            ],
        );
        assert_eq!(lb.get("l").map(String::as_str), Some("1"));
        assert_eq!(lb.len(), 1);
        assert_eq!(tg.get("t").map(String::as_str), Some("2"));
        assert_eq!(tg.len(), 1);
        let (lb, tg) = tags_of_parts(&e, &[]);
        assert!(lb.is_empty() && tg.is_empty());
    }

    #[test]
    fn a_missing_load_balancer_never_takes_tags_of_a_description_without_arn() {
        // No load balancer: its ARN is "", which no description's may match.
        let e = endpoint("", "arn:tg");
        let d = TagDescription::builder()
            .tags(Tag::builder().key("k").value("v").build())
            .build();
        let (lb, tg) = tags_of_parts(&e, &[d]);
        assert!(lb.is_empty() && tg.is_empty());
    }

    #[test]
    fn a_delete_touches_only_the_groups_parts() {
        let ours = identity("s", "q");
        let e = deletable(endpoint("arn:lb", "arn:tg"), &ours, &ours, "s", "q");
        assert_eq!(
            (e.load_balancer_arn.as_str(), e.target_group_arn.as_str()),
            ("arn:lb", "arn:tg")
        );
        // Another group's load balancer, a stranger's target group.
        let e = deletable(
            endpoint("arn:lb", "arn:tg"),
            &identity("s", "other"),
            &tags::Tags::new(),
            "s",
            "q",
        );
        assert_eq!(e.load_balancer_arn, "");
        assert_eq!(e.target_group_arn, "");
        let e = deletable(endpoint("arn:lb", ""), &ours, &tags::Tags::new(), "s", "q");
        assert_eq!(e.load_balancer_arn, "arn:lb");
        assert_eq!(e.target_group_arn, "");
    }
}
