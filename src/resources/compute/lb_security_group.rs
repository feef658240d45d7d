//! Each load balancer's own security group, `datomic-<system>--<group>-lb`:
//! made before its load balancer (AWS gives a Network Load Balancer security
//! groups only at creation; one made without can never get any), admitting
//! the clients the system's configuration lists. The nodes' group admits the
//! client port from these groups and from the nodes themselves, nothing else.
//! Deleted after its load balancer, once that one's network interfaces are gone.

use std::time::Duration;

use aws_sdk_ec2::types::{Filter, SecurityGroup};

use tokio_util::sync::CancellationToken;

use super::owned_sg::{self, OwnedGroup};
use super::security_group;
use super::sg_rules::{self, Rule, Source};
use crate::aws::{eventual, tags, AwsError, Clients};
use crate::resources::error::OpError;
use crate::resources::ownership;
use crate::rules;

/// Description of the rules admitting clients on a load balancer's group.
const CLIENTS: &str = "Datomic clients";
/// Description of the nodes' rules admitting a load balancer and each other.
const NODES: &str = "Datomic load balancer and nodes";

/// Finds or makes the group's load balancer security group in `vpc`,
/// refusing one with its name and a stranger's tags. Also says whether this
/// call made it (then it has no rules yet, and AWS may not find it yet).
pub async fn ensure(
    c: &Clients,
    system: &str,
    group: &str,
    vpc: &str,
    t: &tags::Tags,
) -> Result<(String, bool), OpError> {
    let name = rules::load_balancer_security_group_name(system, group);
    let g = OwnedGroup {
        system,
        group: Some(group),
        name: &name,
        vpc,
        description: format!(
            "Datomic load balancer {}",
            rules::load_balancer_name(system, group)
        ),
        tags: t,
    };
    owned_sg::ensure(c, &g).await
}

/// What the clients may reach through a load balancer whose group is `sg`:
/// (CIDR blocks, security groups) as its rules have them, rules added by
/// hand included (see [`sg_rules::client_access_of`]). Nothing for "" (a
/// load balancer without a group). During a refresh, from the snapshot.
pub async fn client_access(c: &Clients, sg: &str) -> Result<(Vec<String>, Vec<String>), OpError> {
    if sg.is_empty() {
        return Ok(Default::default());
    }
    if let Some(snap) = c.snapshot(rules::TAG_MANAGED_BY).await {
        if let Some(g) = snap.security_groups.get(sg) {
            return Ok(sg_rules::client_access_of(&sg_rules::rules_of(
                g.ip_permissions(),
            )));
        }
    }
    let found = read(c, sg).await?;
    Ok(sg_rules::client_access_of(&sg_rules::rules_of(
        found.ip_permissions(),
    )))
}

/// What the nodes' group `nodes` admits besides the nodes themselves and the
/// system's load balancers' groups (a rule added by hand, or left by an
/// earlier build): (CIDR blocks, security groups), to read back as client
/// access the configuration does not list, so that it shows as drift; the
/// next apply's [`sync`] revokes it. `known`: a load balancer's group known
/// already (maybe just made, and not yet listed by AWS). During a refresh,
/// from the snapshot.
pub async fn node_extras(
    c: &Clients,
    system: &str,
    nodes: &str,
    known: &str,
) -> Result<(Vec<String>, Vec<String>), OpError> {
    if nodes.is_empty() {
        return Ok(Default::default());
    }
    let snap = c.snapshot(rules::TAG_MANAGED_BY).await;
    let found = match snap.as_ref().and_then(|s| s.security_groups.get(nodes)) {
        Some(g) => g.clone(),
        None => read(c, nodes).await?,
    };
    let rules = sg_rules::rules_of(found.ip_permissions());
    let others: Vec<String> = rules
        .iter()
        .filter_map(|r| match &r.source {
            Source::Group(g) if g != nodes && g != known => Some(g.clone()),
            _ => None,
        })
        .collect();
    // The groups the rules name: from the snapshot, else one listing (by
    // filter: a group gone or elsewhere is no error).
    let mut named: Vec<SecurityGroup> = Vec::new();
    let mut missing = Vec::new();
    for id in &others {
        match snap.as_ref().and_then(|s| s.security_groups.get(id)) {
            Some(g) => named.push(g.clone()),
            None => missing.push(id.clone()),
        }
    }
    if !missing.is_empty() {
        let out = c
            .ec2
            .describe_security_groups()
            .filters(
                Filter::builder()
                    .name("group-id")
                    .set_values(Some(missing))
                    .build(),
            )
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        named.extend(out.security_groups().iter().cloned());
    }
    let load_balancers: Vec<String> = named
        .iter()
        .filter(|g| load_balancer_group_of(g, system).is_some())
        .filter_map(|g| g.group_id().map(str::to_string))
        .chain(std::iter::once(known.to_string()))
        .collect();
    Ok(extras(&rules, nodes, &load_balancers))
}

/// The sources of the nodes' rules that are neither the nodes' group itself
/// (on any port: what earlier builds wrote is no client access) nor one of
/// `load_balancers`.
fn extras(rules: &[Rule], nodes: &str, load_balancers: &[String]) -> (Vec<String>, Vec<String>) {
    let rest: Vec<Rule> = rules
        .iter()
        .filter(|r| match &r.source {
            Source::Group(g) => g != nodes && !load_balancers.contains(g),
            _ => true,
        })
        .cloned()
        .collect();
    sg_rules::client_access_of(&rest)
}

/// The compute group whose load balancer's group `g` is, if its name and
/// identity tags make it one of the system's.
fn load_balancer_group_of(g: &SecurityGroup, system: &str) -> Option<String> {
    let t = tags::from_ec2(g.tags());
    let group = t.get(rules::TAG_GROUP)?;
    let named = g.group_name() == Some(&rules::load_balancer_security_group_name(system, group));
    (named && rules::ownership(&t, system, Some(group)) == rules::Ownership::Ours)
        .then(|| group.clone())
}

/// The security group `sg`, waiting out AWS not finding one just made.
async fn read(c: &Clients, sg: &str) -> Result<SecurityGroup, OpError> {
    let found = eventual::new_object(&format!("security group {sg}"), || async {
        let out = c
            .ec2
            .describe_security_groups()
            .group_ids(sg)
            .send()
            .await
            .map_err(AwsError::from_sdk);
        match out {
            Ok(out) => Ok(out.security_groups().first().cloned()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    })
    .await?;
    Ok(found)
}

/// Which clients the load balancers' groups admit in a [`sync`].
pub enum ClientAccess<'a> {
    /// These CIDR blocks and security groups, on every load balancer of the
    /// system (the `datomic_system`'s `client_cidr_blocks` and
    /// `client_security_group_ids`).
    Set(&'a [String], &'a [String]),
    /// Those of the primary group's load balancer, on this group's (a query
    /// group: its clients are the system's).
    LikePrimary,
}

/// The load balancer whose group a [`sync`] knows of already (made or
/// checked just before, maybe not yet found by a listing).
pub struct Own<'a> {
    pub group: &'a str,
    pub security_group: &'a str,
    /// Made by this run: no rules yet.
    pub fresh: bool,
}

/// A group of the system's in a listing: (compute group, id, rules).
type Listed = (String, String, Vec<Rule>);

/// Brings the system's rules to what they should be: the nodes' group
/// `nodes` admits the client port from itself and from every load balancer's
/// group of the system; the load balancers' groups admit the clients
/// `access` says. Reads once, writes only what differs.
pub async fn sync(
    c: &Clients,
    system: &str,
    vpc: &str,
    nodes: &str,
    own: Own<'_>,
    access: ClientAccess<'_>,
) -> Result<(), OpError> {
    let (node_rules, mut lbs) = system_groups(c, system, vpc, nodes).await?;
    if !own.security_group.is_empty() {
        match lbs.iter_mut().find(|(_, id, _)| id == own.security_group) {
            // A group just made has no rules, whatever a listing says.
            Some(found) if own.fresh => found.2.clear(),
            Some(_) => {}
            None => lbs.push((own.group.into(), own.security_group.into(), Vec::new())),
        }
    }
    if !nodes.is_empty() {
        let ids: Vec<String> = lbs.iter().map(|(_, id, _)| id.clone()).collect();
        let want = sg_rules::node_rules(nodes, &ids);
        write(c, nodes, &node_rules, &want, NODES).await?;
    }
    match access {
        ClientAccess::Set(cidrs, groups) => {
            let want = sg_rules::client_rules(cidrs, groups);
            for (_, id, now) in &lbs {
                write(c, id, now, &want, CLIENTS).await?;
            }
        }
        ClientAccess::LikePrimary => {
            let primary = lbs.iter().find(|(g, _, _)| g == rules::PRIMARY_GROUP);
            let want = primary.map(|(_, _, r)| r.clone()).unwrap_or_default();
            if let Some((_, id, now)) = lbs.iter().find(|(g, _, _)| g == own.group) {
                write(c, id, now, &want, CLIENTS).await?;
            }
        }
    }
    Ok(())
}

/// One listing of the system's security groups in `vpc`: the rules of the
/// nodes' group `nodes` (none when not listed: just made), and each load
/// balancer's group whose name and identity tags make it the system's.
async fn system_groups(
    c: &Clients,
    system: &str,
    vpc: &str,
    nodes: &str,
) -> Result<(Vec<Rule>, Vec<Listed>), OpError> {
    let out = c
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(
            Filter::builder()
                .name(format!("tag:{}", rules::TAG_SYSTEM))
                .values(system)
                .build(),
        )
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    Ok(split_groups(out.security_groups(), system, nodes))
}

/// The nodes' group's rules and the load balancers' groups among a listing.
fn split_groups(sgs: &[SecurityGroup], system: &str, nodes: &str) -> (Vec<Rule>, Vec<Listed>) {
    let mut node_rules = Vec::new();
    let mut lbs = Vec::new();
    for g in sgs {
        let id = g.group_id().unwrap_or_default();
        if !nodes.is_empty() && id == nodes {
            node_rules = sg_rules::rules_of(g.ip_permissions());
            continue;
        }
        let Some(group) = load_balancer_group_of(g, system) else {
            continue;
        };
        if !id.is_empty() {
            lbs.push((
                group,
                id.to_string(),
                sg_rules::rules_of(g.ip_permissions()),
            ));
        }
    }
    (node_rules, lbs)
}

/// Revokes and authorizes what takes the ingress rules of `sg` from `now`
/// to `want`; nothing when they agree.
async fn write(
    c: &Clients,
    sg: &str,
    now: &[Rule],
    want: &[Rule],
    description: &str,
) -> Result<(), OpError> {
    let (add, revoke) = sg_rules::diff(now, want);
    if !revoke.is_empty() {
        let r = c
            .ec2
            .revoke_security_group_ingress()
            .group_id(sg)
            .set_ip_permissions(Some(
                revoke.iter().map(|r| r.permission(description)).collect(),
            ))
            .send()
            .await
            .map_err(AwsError::from_sdk);
        match r {
            // Revoked meanwhile (another run): as wanted.
            Err(e) if !e.is_not_found() => return Err(e.into()),
            _ => {}
        }
    }
    if !add.is_empty() {
        AwsError::tolerate_exists(
            c.ec2
                .authorize_security_group_ingress()
                .group_id(sg)
                .set_ip_permissions(Some(
                    add.iter().map(|r| r.permission(description)).collect(),
                ))
                .send()
                .await
                .map(|_| ())
                .map_err(AwsError::from_sdk),
        )?;
    }
    Ok(())
}

/// Deletes the group's load balancer security group when it is ours: first
/// the nodes' rules naming it (AWS refuses to delete a group another group's
/// rules refer to), then the group, retrying while the deleted load
/// balancer's network interfaces linger.
pub async fn delete(
    c: &Clients,
    system: &str,
    group: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    let name = rules::load_balancer_security_group_name(system, group);
    let Some(found) = owned_sg::by_name(c, &name, None).await? else {
        return Ok(());
    };
    let found_tags = tags::from_ec2(found.tags());
    if !ownership::may_delete("security group", &name, &found_tags, system, Some(group)) {
        return Ok(());
    }
    let id = found.group_id().unwrap_or_default().to_string();
    if id.is_empty() {
        return Ok(());
    }
    if let Some(nodes) = security_group::find(c, system).await? {
        let now = sg_rules::rules_of(read(c, &nodes).await?.ip_permissions());
        let want: Vec<Rule> = now
            .iter()
            .filter(|r| r.source != Source::Group(id.clone()))
            .cloned()
            .collect();
        write(c, &nodes, &now, &want, NODES).await?;
    }
    let sg = eventual::Network::SecurityGroup(&id);
    eventual::delete_network(c, sg, timeout, cancel).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{IpPermission, UserIdGroupPair};

    use crate::resources::testing::identity;

    fn group(id: &str, name: &str, t: &tags::Tags, from: &[&str]) -> SecurityGroup {
        let mut p = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(rules::CLIENT_PORT)
            .to_port(rules::CLIENT_PORT);
        for f in from {
            p = p.user_id_group_pairs(UserIdGroupPair::builder().group_id(*f).build());
        }
        SecurityGroup::builder()
            .group_id(id)
            .group_name(name)
            .set_tags(Some(tags::ec2(t)))
            .ip_permissions(p.build())
            .build()
    }

    #[test]
    fn a_listing_gives_the_nodes_rules_and_the_systems_load_balancer_groups() {
        let lb = rules::load_balancer_security_group_name;
        let sgs = [
            group(
                "sg-n",
                &rules::security_group_name("s"),
                &identity("s", "primary"),
                &["sg-n"],
            ),
            group("sg-p", &lb("s", "primary"), &identity("s", "primary"), &[]),
            group("sg-q", &lb("s", "q"), &identity("s", "q"), &[]),
            // Another group's tags on this name, a stranger's, a user's own group.
            group("sg-x", &lb("s", "q2"), &identity("s", "other"), &[]),
            group("sg-y", &lb("s", "q3"), &tags::Tags::new(), &[]),
            group("sg-z", "app-servers", &identity("s", "q"), &[]),
        ];
        let (nodes, lbs) = split_groups(&sgs, "s", "sg-n");
        assert_eq!(nodes, vec![Rule::client_port(Source::Group("sg-n".into()))]);
        let ids: Vec<(&str, &str)> = lbs
            .iter()
            .map(|(g, id, _)| (g.as_str(), id.as_str()))
            .collect();
        assert_eq!(ids, vec![("primary", "sg-p"), ("q", "sg-q")]);
        let (nodes, lbs) = split_groups(&[], "s", "sg-n");
        assert!(nodes.is_empty() && lbs.is_empty());
    }

    #[test]
    fn the_nodes_extras_are_what_is_neither_the_nodes_nor_a_load_balancer() {
        let port = rules::CLIENT_PORT;
        let rules = sg_rules::rules_of(&[
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(0)
                .to_port(65535)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-n").build())
                .build(),
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-lb").build())
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-app").build())
                .ipv6_ranges(
                    aws_sdk_ec2::types::Ipv6Range::builder()
                        .cidr_ipv6("::/0")
                        .build(),
                )
                .build(),
        ]);
        let (cidrs, groups) = extras(&rules, "sg-n", &["sg-lb".to_string()]);
        assert_eq!(cidrs, vec!["::/0".to_string()]);
        assert_eq!(groups, vec!["sg-app".to_string()]);
        let (cidrs, groups) = extras(
            &sg_rules::node_rules("sg-n", &["sg-lb".into()]),
            "sg-n",
            &["sg-lb".into()],
        );
        assert!(cidrs.is_empty() && groups.is_empty());
    }
}
