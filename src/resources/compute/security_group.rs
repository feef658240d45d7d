//! The system's node security group: found by name and identity tags, made
//! admitting the system's own nodes, the load balancers' health checks from
//! the system's subnets and the clients the configuration lists; deleted once
//! the nodes' network interfaces are gone.

use std::time::Duration;

use aws_sdk_ec2::types::Filter;
use tokio_util::sync::CancellationToken;

use super::GroupState;
use crate::aws::{eventual, tags, AwsError, Clients};
use crate::resources::error::OpError;
use crate::resources::ownership;
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
/// name and a stranger's tags), which admits the system's own nodes. Also
/// says whether this call created it (then it has no client rules yet).
pub async fn ensure(
    c: &Clients,
    system: &str,
    vpc: &str,
    t: &tags::Tags,
) -> Result<(String, bool), OpError> {
    use aws_sdk_ec2::types::{
        Filter, IpPermission, ResourceType, TagSpecification, UserIdGroupPair,
    };
    let name = rules::security_group_name(system);
    let out = c
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(&name).build())
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    let found = match out.security_groups().first() {
        Some(g) => {
            ownership::check(
                "security group",
                &name,
                &tags::from_ec2(g.tags()),
                system,
                None,
            )?;
            g.group_id().map(str::to_string)
        }
        None => None,
    };
    let fresh = found.is_none();
    let created = match found {
        // Found (e.g. a create interrupted before its ingress rule): the rule
        // below is (re)applied all the same.
        Some(id) => Ok(id),
        None => c
            .ec2
            .create_security_group()
            .group_name(&name)
            .description(format!("Datomic system {system} nodes"))
            .vpc_id(vpc)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::SecurityGroup)
                    .set_tags(Some(tags::ec2(t)))
                    .build(),
            )
            .send()
            .await
            .map_err(AwsError::from_sdk)
            .map(|out| out.group_id().unwrap_or_default().to_string()),
    };
    let (id, fresh) = match created {
        Ok(id) => (id, fresh),
        // A create retried after a lost response: it is there, maybe with
        // rules of that first try.
        Err(e) if e.is_already_exists() => (find(c, system).await?.ok_or(e)?, false),
        Err(e) => return Err(e.into()),
    };
    let authorized = c
        .ec2
        .authorize_security_group_ingress()
        .group_id(&id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(0)
                .to_port(65535)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(&id).build())
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(AwsError::from_sdk);
    AwsError::tolerate_exists(authorized)?;
    Ok((id, fresh))
}

/// Description of the rules that admit the load balancers' health checks.
const HEALTH_CHECKS: &str = "Datomic load balancer health checks";

/// Admits the load balancers' health checks: they come from the load
/// balancer's own addresses in the system's subnets, so each subnet's CIDR
/// block may reach the client port (client traffic keeps the client's address
/// and meets the client rules).
pub async fn sync_health_rules(
    c: &Clients,
    sg: &str,
    subnet_ids: &[String],
) -> Result<(), OpError> {
    use aws_sdk_ec2::types::{IpPermission, IpRange};
    if subnet_ids.is_empty() {
        return Ok(());
    }
    // Subnets just created may not be found yet (eventual consistency).
    let out = eventual::new_object(&format!("subnets {}", subnet_ids.join(", ")), || async {
        c.ec2
            .describe_subnets()
            .set_subnet_ids(Some(subnet_ids.to_vec()))
            .send()
            .await
            .map(Some)
            .map_err(AwsError::from_sdk)
    })
    .await?;
    let ranges: Vec<IpRange> = out
        .subnets()
        .iter()
        .filter_map(|s| s.cidr_block())
        .map(|cidr| {
            IpRange::builder()
                .cidr_ip(cidr)
                .description(HEALTH_CHECKS)
                .build()
        })
        .collect();
    for range in ranges {
        AwsError::tolerate_exists(
            c.ec2
                .authorize_security_group_ingress()
                .group_id(sg)
                .ip_permissions(
                    IpPermission::builder()
                        .ip_protocol("tcp")
                        .from_port(rules::CLIENT_PORT)
                        .to_port(rules::CLIENT_PORT)
                        .ip_ranges(range)
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(AwsError::from_sdk),
        )?;
    }
    Ok(())
}

/// Client access rules of the nodes' security group: (CIDR blocks, security groups).
pub async fn client_rules(c: &Clients, sg: &str) -> Result<(Vec<String>, Vec<String>), OpError> {
    // A group just created may not be found yet (eventual consistency).
    let out = eventual::new_object(&format!("security group {sg}"), || async {
        c.ec2
            .describe_security_groups()
            .group_ids(sg)
            .send()
            .await
            .map(Some)
            .map_err(AwsError::from_sdk)
    })
    .await?;
    Ok(client_rules_of(out.security_groups()))
}

/// The client access rules among a security group's ingress rules: those on
/// the client port, health check ranges left out; sorted, no duplicates.
fn client_rules_of(sgs: &[aws_sdk_ec2::types::SecurityGroup]) -> (Vec<String>, Vec<String>) {
    let mut cidrs = Vec::new();
    let mut groups = Vec::new();
    for g in sgs {
        for p in g.ip_permissions() {
            if p.from_port() != Some(rules::CLIENT_PORT) || p.to_port() != Some(rules::CLIENT_PORT)
            {
                continue;
            }
            cidrs.extend(
                p.ip_ranges()
                    .iter()
                    .filter(|r| r.description() != Some(HEALTH_CHECKS))
                    .filter_map(|r| r.cidr_ip().map(str::to_string)),
            );
            // The provider writes no IPv6 rule: one added by hand is drift.
            cidrs.extend(
                p.ipv6_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ipv6().map(str::to_string)),
            );
            groups.extend(
                p.user_id_group_pairs()
                    .iter()
                    .filter_map(|u| u.group_id().map(str::to_string)),
            );
        }
    }
    cidrs.sort();
    cidrs.dedup();
    groups.sort();
    groups.dedup();
    (cidrs, groups)
}

/// Brings the client access rules to `want_cidrs` and `want_groups`.
pub async fn sync_client_rules(
    c: &Clients,
    sg: &str,
    want_cidrs: &[String],
    want_groups: &[String],
) -> Result<(), OpError> {
    let now = client_rules(c, sg).await?;
    write_client_rules(c, sg, now, want_cidrs, want_groups).await
}

/// Adds the client access rules to a security group this create just made:
/// it has none, and is not read back (AWS may not find it yet).
pub async fn add_client_rules(
    c: &Clients,
    sg: &str,
    want_cidrs: &[String],
    want_groups: &[String],
) -> Result<(), OpError> {
    write_client_rules(c, sg, (Vec::new(), Vec::new()), want_cidrs, want_groups).await
}

/// Revokes and authorizes what takes the client rules from `now` (CIDR
/// blocks, security groups) to the wanted ones.
async fn write_client_rules(
    c: &Clients,
    sg: &str,
    (cidrs, groups): (Vec<String>, Vec<String>),
    want_cidrs: &[String],
    want_groups: &[String],
) -> Result<(), OpError> {
    use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, UserIdGroupPair};
    let perm = |add_cidrs: Vec<&String>, add_groups: Vec<&String>| {
        let (v6, v4): (Vec<&String>, Vec<&String>) =
            add_cidrs.into_iter().partition(|x| x.contains(':'));
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(rules::CLIENT_PORT)
            .to_port(rules::CLIENT_PORT)
            .set_ipv6_ranges((!v6.is_empty()).then(|| {
                v6.into_iter()
                    .map(|x| Ipv6Range::builder().cidr_ipv6(x).build())
                    .collect()
            }))
            .set_ip_ranges(Some(
                v4.into_iter()
                    .map(|x| {
                        IpRange::builder()
                            .cidr_ip(x)
                            .description("Datomic clients")
                            .build()
                    })
                    .collect(),
            ))
            .set_user_id_group_pairs(Some(
                add_groups
                    .into_iter()
                    .map(|x| {
                        UserIdGroupPair::builder()
                            .group_id(x)
                            .description("Datomic clients")
                            .build()
                    })
                    .collect(),
            ))
            .build()
    };
    let (add_c, del_c) = changes(&cidrs, want_cidrs);
    let (add_g, del_g) = changes(&groups, want_groups);
    if !del_c.is_empty() || !del_g.is_empty() {
        c.ec2
            .revoke_security_group_ingress()
            .group_id(sg)
            .ip_permissions(perm(del_c, del_g))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
    if !add_c.is_empty() || !add_g.is_empty() {
        AwsError::tolerate_exists(
            c.ec2
                .authorize_security_group_ingress()
                .group_id(sg)
                .ip_permissions(perm(add_c, add_g))
                .send()
                .await
                .map(|_| ())
                .map_err(AwsError::from_sdk),
        )?;
    }
    Ok(())
}

/// What takes the rules `now` to `want`: (to add, to revoke), each in the
/// order of its list.
fn changes<'a>(now: &'a [String], want: &'a [String]) -> (Vec<&'a String>, Vec<&'a String>) {
    let add = want.iter().filter(|x| !now.contains(x)).collect();
    let del = now.iter().filter(|x| !want.contains(x)).collect();
    (add, del)
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, SecurityGroup, UserIdGroupPair};

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn on_port(from: i32, to: i32) -> aws_sdk_ec2::types::builders::IpPermissionBuilder {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(from)
            .to_port(to)
    }

    #[test]
    fn changes_add_what_is_missing_and_revoke_what_is_not_wanted() {
        let now = strings(&["10.0.0.0/16", "192.168.0.0/24"]);
        let want = strings(&["10.0.0.0/16", "172.16.0.0/12", "::/0"]);
        let (add, del) = changes(&now, &want);
        assert_eq!(add, vec!["172.16.0.0/12", "::/0"]);
        assert_eq!(del, vec!["192.168.0.0/24"]);
    }

    #[test]
    fn changes_from_or_to_nothing() {
        let some = strings(&["sg-1", "sg-2"]);
        let (add, del) = changes(&[], &some);
        assert_eq!(add, vec!["sg-1", "sg-2"]);
        assert!(del.is_empty());
        let (add, del) = changes(&some, &[]);
        assert!(add.is_empty());
        assert_eq!(del, vec!["sg-1", "sg-2"]);
        let (add, del) = changes(&some, &some);
        assert!(add.is_empty() && del.is_empty());
        let (add, del) = changes(&[], &[]);
        assert!(add.is_empty() && del.is_empty());
    }

    #[test]
    fn client_rules_are_those_on_the_client_port_without_health_checks() {
        let port = rules::CLIENT_PORT;
        let sg = SecurityGroup::builder()
            .ip_permissions(
                on_port(port, port)
                    .ip_ranges(IpRange::builder().cidr_ip("10.1.0.0/16").build())
                    .ip_ranges(
                        IpRange::builder()
                            .cidr_ip("10.0.1.0/24")
                            .description(HEALTH_CHECKS)
                            .build(),
                    )
                    .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("2001:db8::/32").build())
                    .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-b").build())
                    .build(),
            )
            .ip_permissions(
                on_port(port, port)
                    .ip_ranges(IpRange::builder().cidr_ip("10.1.0.0/16").build())
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-a").build())
                    .build(),
            )
            // The nodes' own rule (all ports) and another port: not client rules.
            .ip_permissions(
                on_port(0, 65535)
                    .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-self").build())
                    .build(),
            )
            .ip_permissions(
                on_port(22, 22)
                    .ip_ranges(IpRange::builder().cidr_ip("1.2.3.4/32").build())
                    .build(),
            )
            .build();
        let (cidrs, groups) = client_rules_of(&[sg]);
        assert_eq!(
            cidrs,
            strings(&["0.0.0.0/0", "10.1.0.0/16", "2001:db8::/32"])
        );
        assert_eq!(groups, strings(&["sg-a", "sg-b"]));
    }

    #[test]
    fn a_range_only_starting_at_the_client_port_is_not_a_client_rule() {
        let port = rules::CLIENT_PORT;
        let sg = SecurityGroup::builder()
            .ip_permissions(
                on_port(port, port + 1)
                    .ip_ranges(IpRange::builder().cidr_ip("10.9.0.0/16").build())
                    .build(),
            )
            .build();
        let (cidrs, groups) = client_rules_of(&[sg]);
        assert!(cidrs.is_empty() && groups.is_empty());
        let (cidrs, groups) = client_rules_of(&[]);
        assert!(cidrs.is_empty() && groups.is_empty());
    }
}
