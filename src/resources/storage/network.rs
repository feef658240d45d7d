//! The system's network: its VPC and a subnet in each of three availability
//! zones (two where the region has two), found by identity tags, made when
//! missing and deleted with the storage; or a VPC and subnets the user brings, checked and never changed.

use crate::aws::error::code;
use crate::resources::error::OpError;
use aws_sdk_ec2::types::{Filter, ResourceType, TagSpecification};

use crate::aws::{tags, AwsError, Clients, Found, Lookup};
use crate::rules;

pub const VPC_CIDR: &str = "10.213.0.0/16";

/// Identity-tag filters: the system's, made by this provider.
fn system_filters(system: &str) -> [Filter; 2] {
    [
        Filter::builder()
            .name(format!("tag:{}", rules::TAG_SYSTEM))
            .values(system)
            .build(),
        Filter::builder()
            .name(format!("tag:{}", rules::TAG_MANAGED_BY))
            .values(rules::MANAGED_BY_VALUE)
            .build(),
    ]
}

/// The system's network: its VPC and one of its subnets per availability
/// zone (`None`: it has no VPC).
pub async fn find(c: &Clients, system: &str) -> Result<Option<(String, Vec<String>)>, OpError> {
    let Some(vpc) = find_vpc(c, system).await? else {
        return Ok(None);
    };
    let subnets = one_per_zone(&find_subnets(c, system, &vpc).await?);
    Ok(Some((vpc, subnets)))
}

/// The system's VPC (the first by id, should a retried create have made two).
pub async fn find_vpc(c: &Clients, system: &str) -> Result<Option<String>, OpError> {
    Ok(vpc_ids(c, system).await?.into_iter().next())
}

/// The ids of the VPCs tagged as `system`'s, sorted (more than one only after
/// a create retried when its response was lost).
async fn vpc_ids(c: &Clients, system: &str) -> Result<Vec<String>, OpError> {
    let out = c
        .ec2
        .describe_vpcs()
        .set_filters(Some(system_filters(system).to_vec()))
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    let mut ids: Vec<String> = out
        .vpcs()
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_string))
        .collect();
    ids.sort();
    Ok(ids)
}

/// The system's subnets in its VPC as (availability zone, subnet id),
/// sorted by zone: only those tagged as the system's (a subnet someone adds
/// to the VPC is neither adopted nor deleted).
pub async fn find_subnets(
    c: &Clients,
    system: &str,
    vpc_id: &str,
) -> Result<Vec<(String, String)>, OpError> {
    let out = c
        .ec2
        .describe_subnets()
        .set_filters(Some(
            std::iter::once(Filter::builder().name("vpc-id").values(vpc_id).build())
                .chain(system_filters(system))
                .collect(),
        ))
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    let mut subnets: Vec<(String, String)> = out
        .subnets()
        .iter()
        .filter_map(|s| {
            Some((
                s.availability_zone().unwrap_or_default().to_string(),
                s.subnet_id()?.to_string(),
            ))
        })
        .collect();
    subnets.sort();
    Ok(subnets)
}

/// One subnet id per availability zone, of the system's subnets.
fn one_per_zone(subnets: &[(String, String)]) -> Vec<String> {
    let extra = duplicates(subnets);
    subnets
        .iter()
        .filter(|(_, id)| !extra.contains(id))
        .map(|(_, id)| id.clone())
        .collect()
}

/// Keeps one of each duplicate (a create retried after its response was
/// lost makes a second object): the smallest id wins, the others go.
fn duplicates<K: Ord + Clone>(items: &[(K, String)]) -> Vec<String> {
    let mut kept: std::collections::BTreeMap<K, &String> = std::collections::BTreeMap::new();
    let mut extra = Vec::new();
    for (k, id) in items {
        match kept.get(k) {
            Some(first) if *first <= id => extra.push(id.clone()),
            Some(first) => {
                extra.push((*first).clone());
                kept.insert(k.clone(), id);
            }
            None => {
                kept.insert(k.clone(), id);
            }
        }
    }
    extra
}

/// Checks a network the user brings (`vpc_id` + `subnet_ids`): the VPC and
/// every subnet exist, the subnets are in that VPC, and they span at least
/// [`rules::MIN_ZONES`] availability zones. When it does not fit: the attribute at fault and a
/// message for the user.
///
pub async fn check_existing_network(
    c: &Clients,
    vpc_id: &str,
    subnet_ids: &[String],
    lookup: Lookup,
) -> Result<Option<(&'static str, String)>, OpError> {
    let ec2 = lookup.ec2(c);
    match ec2.describe_vpcs().vpc_ids(vpc_id).send().await {
        Ok(o) if o.vpcs().iter().any(|v| v.vpc_id() == Some(vpc_id)) => {}
        Ok(_) => return Ok(Some(("vpc_id", missing_vpc(c, vpc_id)))),
        Err(e) => {
            let e = AwsError::from_sdk(e);
            if e.is_not_found() {
                return Ok(Some(("vpc_id", missing_vpc(c, vpc_id))));
            }
            return Err(e.into());
        }
    }
    Ok(check_subnets(ec2, vpc_id, subnet_ids)
        .await?
        .map(|m| ("subnet_ids", m)))
}

fn missing_vpc(c: &Clients, vpc_id: &str) -> String {
    format!(
        "VPC {vpc_id} does not exist in region {}. Allowed: the id of an existing VPC of this account and region, or no vpc_id (the system then creates its own network).",
        c.region
    )
}

async fn check_subnets(
    ec2: &aws_sdk_ec2::Client,
    vpc_id: &str,
    subnet_ids: &[String],
) -> Result<Option<String>, OpError> {
    let out = match ec2
        .describe_subnets()
        .set_subnet_ids(Some(subnet_ids.to_vec()))
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) => {
            let e = AwsError::from_sdk(e);
            if e.is_not_found() {
                return Ok(Some(format!(
                    "Not every subnet of {subnet_ids:?} exists: {e}"
                )));
            }
            return Err(e.into());
        }
    };
    let mut zones = std::collections::BTreeSet::new();
    for s in out.subnets() {
        if s.vpc_id() != Some(vpc_id) {
            return Ok(Some(format!(
                "Subnet {} is in VPC {}, not in vpc_id {vpc_id}.",
                s.subnet_id().unwrap_or_default(),
                s.vpc_id().unwrap_or_default()
            )));
        }
        zones.insert(s.availability_zone().unwrap_or_default().to_string());
    }
    if out.subnets().len() != subnet_ids.len() {
        return Ok(Some(format!("Not every subnet of {subnet_ids:?} exists.")));
    }
    if zones.len() < rules::MIN_ZONES {
        return Ok(Some(format!(
            "The subnets span {} availability zone(s) ({}); a Datomic system spreads its nodes over at least {}.",
            zones.len(),
            zones.into_iter().collect::<Vec<_>>().join(", "),
            rules::MIN_ZONES
        )));
    }
    Ok(None)
}

/// The region's availability zones, by name (AWS lists them sorted).
pub async fn region_zones(c: &Clients) -> Result<Vec<String>, OpError> {
    let azs = c
        .ec2
        .describe_availability_zones()
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    let mut zones: Vec<String> = azs
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    zones.sort();
    Ok(zones)
}

/// Makes what is missing of the system's own network: the VPC (when `vpc_id`
/// is empty) and a subnet in each of the region's first availability zones
/// (three, two where the region has two: see [`rules::zone_count`]); a
/// network an earlier build made in two zones gets its third. Returns the
/// VPC and one subnet per zone (duplicates of a retried create are deleted).
pub async fn ensure(
    c: &Clients,
    system: &str,
    t: &tags::Tags,
    vpc_id: &str,
) -> Result<(String, Vec<String>), OpError> {
    let vpc_id = if vpc_id.is_empty() {
        c.ec2
            .create_vpc()
            .cidr_block(VPC_CIDR)
            .tag_specifications(spec(ResourceType::Vpc, &named(t, system)))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        dedupe_vpcs(c, system).await?
    } else {
        vpc_id.to_string()
    };
    let existing = find_subnets(c, system, &vpc_id).await?;
    let mut zones = region_zones(c).await?;
    let Some(count) = rules::zone_count(zones.len()) else {
        return Err(OpError::Unsupported(format!(
            "region {} has fewer than {} availability zones; a Datomic system spreads over at least {}",
            c.region,
            rules::MIN_ZONES,
            rules::MIN_ZONES
        )));
    };
    zones.truncate(count);
    let mut created = false;
    for (i, zone) in zones.iter().enumerate() {
        if existing.iter().any(|(z, _)| z == zone) {
            continue;
        }
        let result = c
            .ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(format!("10.213.{i}.0/24"))
            .availability_zone(zone)
            .tag_specifications(spec(
                ResourceType::Subnet,
                &named(t, &format!("{system}-{zone}")),
            ))
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk);
        // Retried after a lost response: the subnet is there already.
        match result {
            Err(e) if !e.code_is(&[code::SUBNET_CONFLICT]) => return Err(e.into()),
            _ => {}
        }
        created = true;
    }
    let subnets = if created {
        find_subnets(c, system, &vpc_id).await?
    } else {
        existing
    };
    for extra in duplicates(&subnets) {
        c.ec2
            .delete_subnet()
            .subnet_id(&extra)
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk)
            .found()?;
    }
    Ok((vpc_id, one_per_zone(&subnets)))
}

/// The system's VPC after a create: if a retried create made two, the
/// extra one (empty) is deleted.
async fn dedupe_vpcs(c: &Clients, system: &str) -> Result<String, OpError> {
    let mut it = vpc_ids(c, system).await?.into_iter();
    let keep = it.next().ok_or_else(|| {
        AwsError::new(
            None,
            format!("the VPC of system {system} is not visible after creating it"),
        )
    })?;
    for extra in it {
        c.ec2
            .delete_vpc()
            .vpc_id(&extra)
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk)
            .found()?;
    }
    Ok(keep)
}

fn named(t: &tags::Tags, name: &str) -> tags::Tags {
    let mut t = t.clone();
    t.insert("Name".into(), name.into());
    t
}

fn spec(rt: ResourceType, t: &tags::Tags) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rt)
        .set_tags(Some(tags::ec2(t)))
        .build()
}

/// The tags of each of `ids` (VPC and subnets) now, without their `Name`
/// (which stays the provider's), by id.
pub async fn tags(
    c: &Clients,
    ids: Vec<String>,
) -> Result<std::collections::BTreeMap<String, tags::Tags>, OpError> {
    let mut by_id: std::collections::BTreeMap<String, tags::Tags> = ids
        .iter()
        .map(|id| (id.clone(), tags::Tags::new()))
        .collect();
    let mut pages = c
        .ec2
        .describe_tags()
        .filters(
            Filter::builder()
                .name("resource-id")
                .set_values(Some(ids))
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for t in page.map_err(AwsError::from_sdk)?.tags() {
            if let (Some(id), Some(k)) = (t.resource_id(), t.key()) {
                if k != "Name" {
                    by_id
                        .entry(id.to_string())
                        .or_default()
                        .insert(k.to_string(), t.value().unwrap_or_default().to_string());
                }
            }
        }
    }
    Ok(by_id)
}

/// Writes the `changed` tags of a network object and removes the `removed` ones.
pub async fn retag(
    c: &Clients,
    id: &str,
    changed: &tags::Tags,
    removed: &[String],
) -> Result<(), OpError> {
    if !changed.is_empty() {
        c.ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(tags::ec2(changed)))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
    if !removed.is_empty() {
        let gone = removed
            .iter()
            .map(|k| aws_sdk_ec2::types::Tag::builder().key(k).build())
            .collect();
        c.ec2
            .delete_tags()
            .resources(id)
            .set_tags(Some(gone))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
    Ok(())
}

/// Deletes every subnet tagged as the system's in `vpc_id` (duplicates of a
/// retried create too), then the VPC, each waiting out `DependencyViolation`
/// until `timeout`. A VPC that holds subnets the system did not make is kept:
/// returns why, for a warning.
pub async fn delete(
    c: &Clients,
    system: &str,
    vpc_id: &str,
    timeout: std::time::Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Option<String>, OpError> {
    use crate::aws::eventual::{delete_network, Network};
    let subnets: Vec<String> = find_subnets(c, system, vpc_id)
        .await?
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    for subnet in &subnets {
        delete_network(c, Network::Subnet(subnet), timeout, cancel).await?;
    }
    let others = other_subnets(c, vpc_id, &subnets).await?;
    if !others.is_empty() {
        return Ok(Some(format!(
            "The VPC {vpc_id} was kept: it holds subnets the system did not make ({}), and the provider never deletes what is not its own. Delete them and then the VPC yourself if nobody needs them.",
            others.join(", ")
        )));
    }
    delete_network(c, Network::Vpc(vpc_id), timeout, cancel).await?;
    Ok(None)
}

/// Subnets in the system's VPC that are not the system's (added by someone).
async fn other_subnets(c: &Clients, vpc: &str, ours: &[String]) -> Result<Vec<String>, OpError> {
    let out = c
        .ec2
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    Ok(out
        .subnets()
        .iter()
        .filter_map(|x| x.subnet_id())
        .filter(|id| !ours.iter().any(|o| o == id))
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn duplicates_keep_the_smallest_id_per_key() {
        let s = pairs(&[("a", "subnet-2"), ("a", "subnet-1"), ("b", "subnet-3")]);
        assert_eq!(duplicates(&s), vec!["subnet-2".to_string()]);
        assert_eq!(
            one_per_zone(&s),
            vec!["subnet-1".to_string(), "subnet-3".to_string()]
        );
        assert!(duplicates(&pairs(&[("a", "x"), ("b", "y")])).is_empty());
    }
}
