//! One batched look at the objects a refresh reads, taken once per provider
//! process and shared by every concurrent read that follows: all Auto Scaling
//! groups carrying a tag key, the latest version of every launch template,
//! their scaling policies, load balancers (with their security groups and
//! those groups' rules), target groups, the IAM roles
//! with their policies and the account's own managed policies (one
//! GetAccountAuthorizationDetails listing), and the private hosted zones
//! named `*.datomic.net` with their tags and, for those carrying the tag key,
//! their CNAME records. A refresh of N
//! groups then costs a few paginated calls instead of several calls per group.
//!
//! It is a refresh-time view only: once the process writes anything
//! ([`Clients::mark_write`](super::Clients::mark_write)) reads go to AWS again.

use std::collections::HashMap;

use aws_sdk_autoscaling::types::{AutoScalingGroup, Filter as AsgFilter};
use aws_sdk_ec2::types::{Filter as Ec2Filter, LaunchTemplateVersion, SecurityGroup};

use super::{AwsError, Clients};

#[derive(Debug, Default)]
pub struct Snapshot {
    /// By Auto Scaling group name.
    pub groups: HashMap<String, AutoScalingGroup>,
    /// Latest version, by launch template id.
    pub latest_versions: HashMap<String, LaunchTemplateVersion>,
    /// Target-tracking targets by (Auto Scaling group, policy name).
    pub targets: HashMap<(String, String), f64>,
    /// DNS name by load balancer name.
    pub load_balancers: HashMap<String, (String, String)>,
    /// The security groups of each load balancer, by load balancer name.
    pub load_balancer_groups: HashMap<String, Vec<String>>,
    /// The security groups carrying the tag key, by id.
    pub security_groups: HashMap<String, SecurityGroup>,
    /// ARN by target group name.
    pub target_groups: HashMap<String, String>,
    /// IAM roles by name: their trust policy, inline and attached policies.
    pub roles: HashMap<String, RolePolicies>,
    /// The account's own managed policies by ARN: their default version's
    /// document (URL-encoded as IAM returns it).
    pub policies: HashMap<String, String>,
    /// Private hosted zones named `<...>.datomic.net`, by name (lower case,
    /// without the root's dot).
    pub zones: HashMap<String, Vec<Zone>>,
    /// EFS file systems named `datomic-...`, by creation token.
    pub file_systems: HashMap<String, aws_sdk_efs::types::FileSystemDescription>,
    /// How many AWS calls it took (for logs and benchmarks).
    pub calls: usize,
}

/// What an IAM role allows: its trust policy, inline policies (name ->
/// document, URL-encoded as IAM returns them), attached managed policies and
/// its permissions boundary.
#[derive(Debug, Default, Clone)]
pub struct RolePolicies {
    pub trust: String,
    pub inline: HashMap<String, String>,
    pub attached: Vec<String>,
    /// The ARN of its permissions boundary, if it has one.
    pub boundary: Option<String>,
}

/// A private hosted zone as listed: bare id, caller reference, tags, and
/// (for one carrying the snapshot's tag key) its CNAME records, name (lower
/// case, without the root's dot) -> target.
#[derive(Debug, Default, Clone)]
pub struct Zone {
    pub id: String,
    pub caller_reference: String,
    pub tags: super::tags::Tags,
    pub cnames: HashMap<String, String>,
}

/// The suffix of the zones the snapshot lists (Datomic's).
const ZONE_SUFFIX: &str = ".datomic.net";

type Listed<T> = Result<(T, usize), AwsError>;

impl Snapshot {
    /// Loads everything tagged with `tag_key`. The nine listings run side by
    /// side: a refresh waits for the longest one, not for their sum.
    pub async fn load(c: &Clients, tag_key: &str) -> Result<Snapshot, AwsError> {
        let (groups, versions, targets, lbs, tgs, roles, sgs, zones, fss) = tokio::try_join!(
            groups(c, tag_key),
            latest_versions(c),
            targets(c),
            load_balancers(c),
            target_groups(c),
            roles(c),
            security_groups(c, tag_key),
            zones(c, tag_key),
            file_systems(c),
        )?;
        let ((roles, policies), iam_calls) = roles;
        let ((lbs, lb_groups), lb_calls) = lbs;
        Ok(Snapshot {
            calls: groups.1
                + versions.1
                + targets.1
                + lb_calls
                + tgs.1
                + iam_calls
                + sgs.1
                + zones.1
                + fss.1,
            load_balancer_groups: lb_groups,
            security_groups: sgs.0,
            zones: zones.0,
            file_systems: fss.0,
            roles,
            policies,
            groups: groups.0,
            latest_versions: versions.0,
            targets: targets.0,
            load_balancers: lbs,
            target_groups: tgs.0,
        })
    }
}

/// A DNS name as the snapshot keys it: lower case, without the root's dot.
pub fn dns_key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

async fn zones(c: &Clients, tag_key: &str) -> Listed<HashMap<String, Vec<Zone>>> {
    use aws_sdk_route53::types::{RrType, TagResourceType};
    let mut calls = 0;
    let mut found: Vec<(String, Zone)> = Vec::new();
    let mut pages = c.route53.list_hosted_zones().into_paginator().send();
    while let Some(page) = pages.next().await {
        calls += 1;
        let page = page.map_err(AwsError::from_sdk)?;
        for z in page.hosted_zones() {
            let name = dns_key(z.name());
            if name.ends_with(ZONE_SUFFIX) && z.config().is_some_and(|cfg| cfg.private_zone()) {
                let zone = Zone {
                    id: z.id().rsplit('/').next().unwrap_or(z.id()).to_string(),
                    caller_reference: z.caller_reference().to_string(),
                    ..Default::default()
                };
                found.push((name, zone));
            }
        }
    }
    // Route53 gives the tags of at most 10 zones per call.
    for chunk in found.chunks_mut(10) {
        calls += 1;
        let ids: Vec<String> = chunk.iter().map(|(_, z)| z.id.clone()).collect();
        let out = c
            .route53
            .list_tags_for_resources()
            .resource_type(TagResourceType::Hostedzone)
            .set_resource_ids(Some(ids))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        for set in out.resource_tag_sets() {
            if let Some((_, z)) = chunk
                .iter_mut()
                .find(|(_, z)| Some(z.id.as_str()) == set.resource_id())
            {
                z.tags = super::tags::from_route53(set.tags());
            }
        }
    }
    for (_, z) in found
        .iter_mut()
        .filter(|(_, z)| z.tags.contains_key(tag_key))
    {
        // No paginator in the SDK: Route53 names where the next page starts.
        let mut next: Option<(String, RrType)> = None;
        loop {
            let mut req = c.route53.list_resource_record_sets().hosted_zone_id(&z.id);
            if let Some((name, ty)) = next.take() {
                req = req.start_record_name(name).start_record_type(ty);
            }
            calls += 1;
            let page = req.send().await.map_err(AwsError::from_sdk)?;
            for r in page.resource_record_sets() {
                if r.r#type() == &RrType::Cname {
                    if let Some(v) = r.resource_records().first() {
                        z.cnames.insert(dns_key(r.name()), v.value().to_string());
                    }
                }
            }
            match (
                page.is_truncated(),
                page.next_record_name(),
                page.next_record_type(),
            ) {
                (true, Some(n), Some(t)) => next = Some((n.to_string(), t.clone())),
                _ => break,
            }
        }
    }
    let mut out: HashMap<String, Vec<Zone>> = HashMap::new();
    for (name, z) in found {
        out.entry(name).or_default().push(z);
    }
    Ok((out, calls))
}

async fn groups(c: &Clients, tag_key: &str) -> Listed<HashMap<String, AutoScalingGroup>> {
    let (mut out, mut calls) = (HashMap::new(), 0);
    let mut pages = c
        .autoscaling
        .describe_auto_scaling_groups()
        .filters(AsgFilter::builder().name("tag-key").values(tag_key).build())
        .max_records(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        calls += 1;
        let page = page.map_err(AwsError::from_sdk)?;
        for g in page.auto_scaling_groups() {
            if let Some(name) = g.auto_scaling_group_name() {
                out.insert(name.to_string(), g.clone());
            }
        }
    }
    Ok((out, calls))
}

async fn latest_versions(c: &Clients) -> Listed<HashMap<String, LaunchTemplateVersion>> {
    let (mut out, mut calls) = (HashMap::new(), 0);
    let mut pages = c
        .ec2
        .describe_launch_template_versions()
        .versions("$Latest")
        .max_results(200)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        calls += 1;
        let page = page.map_err(AwsError::from_sdk)?;
        for v in page.launch_template_versions() {
            if let Some(id) = v.launch_template_id() {
                out.insert(id.to_string(), v.clone());
            }
        }
    }
    Ok((out, calls))
}

async fn targets(c: &Clients) -> Listed<HashMap<(String, String), f64>> {
    let (mut out, mut calls) = (HashMap::new(), 0);
    let mut pages = c
        .autoscaling
        .describe_policies()
        .max_records(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        calls += 1;
        let page = page.map_err(AwsError::from_sdk)?;
        for p in page.scaling_policies() {
            if let (Some(g), Some(n), Some(t)) = (
                p.auto_scaling_group_name(),
                p.policy_name(),
                p.target_tracking_configuration()
                    .and_then(|t| t.target_value()),
            ) {
                out.insert((g.to_string(), n.to_string()), t);
            }
        }
    }
    Ok((out, calls))
}

type LoadBalancers = (
    HashMap<String, (String, String)>,
    HashMap<String, Vec<String>>,
);

async fn load_balancers(c: &Clients) -> Listed<LoadBalancers> {
    let (mut out, mut groups, mut calls) = (HashMap::new(), HashMap::new(), 0);
    // 400 per page, the most AWS allows (its default; some emulators use 50).
    let mut pages = c
        .elbv2
        .describe_load_balancers()
        .page_size(400)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        calls += 1;
        let page = page.map_err(AwsError::from_sdk)?;
        for lb in page.load_balancers() {
            if let Some(name) = lb.load_balancer_name() {
                groups.insert(name.to_string(), lb.security_groups().to_vec());
                out.insert(
                    name.to_string(),
                    (
                        lb.dns_name().unwrap_or_default().to_string(),
                        lb.load_balancer_arn().unwrap_or_default().to_string(),
                    ),
                );
            }
        }
    }
    Ok(((out, groups), calls))
}

async fn security_groups(c: &Clients, tag_key: &str) -> Listed<HashMap<String, SecurityGroup>> {
    let (mut out, mut calls) = (HashMap::new(), 0);
    let mut pages = c
        .ec2
        .describe_security_groups()
        .filters(Ec2Filter::builder().name("tag-key").values(tag_key).build())
        .max_results(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        calls += 1;
        let page = page.map_err(AwsError::from_sdk)?;
        for g in page.security_groups() {
            if let Some(id) = g.group_id() {
                out.insert(id.to_string(), g.clone());
            }
        }
    }
    Ok((out, calls))
}

/// The file systems whose creation token is a Datomic system's name
/// (`datomic-<system>`).
async fn file_systems(
    c: &Clients,
) -> Listed<HashMap<String, aws_sdk_efs::types::FileSystemDescription>> {
    let (mut out, mut calls) = (HashMap::new(), 0);
    let mut pages = c.efs.describe_file_systems().into_paginator().send();
    while let Some(page) = pages.next().await {
        calls += 1;
        let page = page.map_err(AwsError::from_sdk)?;
        for d in page.file_systems() {
            if d.creation_token().starts_with("datomic-") {
                out.insert(d.creation_token().to_string(), d.clone());
            }
        }
    }
    Ok((out, calls))
}

async fn target_groups(c: &Clients) -> Listed<HashMap<String, String>> {
    let (mut out, mut calls) = (HashMap::new(), 0);
    let mut pages = c
        .elbv2
        .describe_target_groups()
        .page_size(400)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        calls += 1;
        let page = page.map_err(AwsError::from_sdk)?;
        for tg in page.target_groups() {
            if let Some(name) = tg.target_group_name() {
                out.insert(
                    name.to_string(),
                    tg.target_group_arn().unwrap_or_default().to_string(),
                );
            }
        }
    }
    Ok((out, calls))
}

type RolesAndPolicies = (HashMap<String, RolePolicies>, HashMap<String, String>);

async fn roles(c: &Clients) -> Listed<RolesAndPolicies> {
    use aws_sdk_iam::types::EntityType;
    let (mut out, mut policies, mut calls) = (HashMap::new(), HashMap::new(), 0);
    let mut pages = c
        .iam
        .get_account_authorization_details()
        .filter(EntityType::Role)
        .filter(EntityType::LocalManagedPolicy)
        .max_items(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        calls += 1;
        let page = page.map_err(AwsError::from_sdk)?;
        for r in page.role_detail_list() {
            let Some(name) = r.role_name() else { continue };
            out.insert(
                name.to_string(),
                RolePolicies {
                    trust: r
                        .assume_role_policy_document()
                        .unwrap_or_default()
                        .to_string(),
                    inline: r
                        .role_policy_list()
                        .iter()
                        .filter_map(|p| {
                            Some((
                                p.policy_name()?.to_string(),
                                p.policy_document().unwrap_or_default().to_string(),
                            ))
                        })
                        .collect(),
                    attached: r
                        .attached_managed_policies()
                        .iter()
                        .filter_map(|p| p.policy_arn().map(str::to_string))
                        .collect(),
                    boundary: r
                        .permissions_boundary()
                        .and_then(|b| b.permissions_boundary_arn())
                        .map(str::to_string),
                },
            );
        }
        for p in page.policies() {
            let default = p
                .policy_version_list()
                .iter()
                .find(|v| v.is_default_version())
                .and_then(|v| v.document());
            if let (Some(arn), Some(doc)) = (p.arn(), default) {
                policies.insert(arn.to_string(), doc.to_string());
            }
        }
    }
    Ok(((out, policies), calls))
}
