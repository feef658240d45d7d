//! The groups' names in their system's zone: each a CNAME of its load
//! balancer, read (from a refresh's snapshot when there is one), made,
//! repaired and deleted.

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use tokio_util::sync::CancellationToken;

use super::{choose, find_zone, wait_insync, zone_name, ZoneChoice, ZoneSeen};
use crate::aws::error::code;
use crate::aws::snapshot::{dns_key, Snapshot};
use crate::aws::{Clients, Found};
use crate::resources::compute::sdk;
use crate::resources::error::OpError;
use crate::rules;

/// The CNAME target of `name` in zone `zone_id`, if it has one.
async fn record_target(c: &Clients, zone_id: &str, name: &str) -> Result<Option<String>, OpError> {
    let out = c
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(name)
        .start_record_type(RrType::Cname)
        .max_items(1)
        .send()
        .await
        .map_err(sdk)
        .found()?;
    Ok(out
        .as_ref()
        .and_then(|o| o.resource_record_sets().first())
        .filter(|r| rules::same_dns_name(r.name(), name) && r.r#type() == &RrType::Cname)
        .and_then(|r| r.resource_records().first())
        .map(|r| r.value().to_string()))
}

/// Whether the group's name in its system's zone points at `lb_dns`: false
/// when the zone or the record is missing, or the record points elsewhere
/// (the next plan then repairs it).
pub async fn resolves_to(
    c: &Clients,
    system: &str,
    group: &str,
    lb_dns: &str,
) -> Result<bool, OpError> {
    if lb_dns.is_empty() {
        return Ok(false);
    }
    if let Some(snap) = c.snapshot(rules::TAG_MANAGED_BY).await {
        return Ok(resolves_in(&snap, &c.region, system, group, lb_dns));
    }
    let Some(zone) = find_zone(c, system).await? else {
        return Ok(false);
    };
    let name = rules::group_dns_name(system, &c.region, group);
    Ok(record_target(c, &zone, &name)
        .await?
        .is_some_and(|t| rules::same_dns_name(&t, lb_dns)))
}

/// [`resolves_to`] as a refresh's snapshot has the zones and their names.
fn resolves_in(snap: &Snapshot, region: &str, system: &str, group: &str, lb_dns: &str) -> bool {
    let zones: Vec<ZoneSeen> = snap
        .zones
        .get(&dns_key(&rules::dns_zone_name(system, region)))
        .map(|zs| {
            zs.iter()
                .map(|z| ZoneSeen {
                    id: z.id.clone(),
                    caller_reference: z.caller_reference.clone(),
                    tags: z.tags.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let ZoneChoice::Ours(id) = choose(&zones, system) else {
        return false;
    };
    let name = dns_key(&rules::group_dns_name(system, region, group));
    snap.zones
        .values()
        .flatten()
        .find(|z| z.id == id)
        .and_then(|z| z.cnames.get(&name))
        .is_some_and(|t| rules::same_dns_name(t, lb_dns))
}

/// The group's client endpoint URL as read: the URL when its load balancer
/// (`lb_dns`, "" when broken), the system's zone and the group's name in it
/// all hold; else "", which the next plan repairs.
pub async fn read_endpoint(
    c: &Clients,
    system: &str,
    group: &str,
    lb_dns: &str,
) -> Result<String, OpError> {
    let resolves = resolves_to(c, system, group, lb_dns).await?;
    Ok(endpoint_as_read(&c.region, system, group, lb_dns, resolves))
}

fn endpoint_as_read(
    region: &str,
    system: &str,
    group: &str,
    lb_dns: &str,
    resolves: bool,
) -> String {
    if lb_dns.is_empty() || !resolves {
        String::new()
    } else {
        rules::endpoint_url(system, region, group)
    }
}

/// The change batch that makes `name` a CNAME of `target`.
pub fn upsert_cname(name: &str, target: &str) -> Result<ChangeBatch, OpError> {
    let set = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Cname)
        .ttl(rules::RECORD_TTL)
        .resource_records(
            ResourceRecord::builder()
                .value(target)
                .build()
                .map_err(build)?,
        )
        .build()
        .map_err(build)?;
    batch(ChangeAction::Upsert, set)
}

fn batch(action: ChangeAction, set: ResourceRecordSet) -> Result<ChangeBatch, OpError> {
    ChangeBatch::builder()
        .changes(
            Change::builder()
                .action(action)
                .resource_record_set(set)
                .build()
                .map_err(build)?,
        )
        .build()
        .map_err(build)
}

fn build(e: aws_sdk_route53::error::BuildError) -> OpError {
    OpError::Aws(crate::aws::AwsError::new(None, e.to_string()))
}

async fn change(
    c: &Clients,
    zone: &str,
    b: ChangeBatch,
    what: &str,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    let out = c
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(b)
        .send()
        .await
        .map_err(sdk)?;
    if let Some(info) = out.change_info() {
        wait_insync(c, info.id(), what, cancel).await?;
    }
    Ok(())
}

/// Points the group's name in zone `zone` at its load balancer `lb_dns`,
/// unless it does already.
pub async fn ensure_record(
    c: &Clients,
    zone: &str,
    system: &str,
    group: &str,
    lb_dns: &str,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    let name = rules::group_dns_name(system, &c.region, group);
    if record_target(c, zone, &name)
        .await?
        .is_some_and(|t| rules::same_dns_name(&t, lb_dns))
    {
        return Ok(());
    }
    let what = format!("DNS name {name} to be published");
    change(c, zone, upsert_cname(&name, lb_dns)?, &what, cancel).await
}

/// Points a query group's name at its load balancer, in its system's zone
/// (which the system makes: an error when it has none).
pub async fn ensure_group_record(
    c: &Clients,
    system: &str,
    group: &str,
    lb_dns: &str,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    let Some(zone) = find_zone(c, system).await? else {
        return Err(OpError::Vanished(format!(
            "the private DNS zone {} of system {system:?} is missing, so query group {group:?} cannot be given its client endpoint; apply the system first (its plan shows the repair)",
            zone_name(c, system)
        )));
    };
    ensure_record(c, &zone, system, group, lb_dns, cancel).await
}

/// Every record set of a zone but its own SOA and NS at the apex.
pub(super) async fn own_records(
    c: &Clients,
    zone: &str,
) -> Result<Vec<ResourceRecordSet>, OpError> {
    let mut out = Vec::new();
    let mut next: Option<(String, RrType, Option<String>)> = None;
    loop {
        let mut req = c.route53.list_resource_record_sets().hosted_zone_id(zone);
        if let Some((name, ty, id)) = next.take() {
            req = req
                .start_record_name(name)
                .start_record_type(ty)
                .set_start_record_identifier(id);
        }
        let page = req.send().await.map_err(sdk)?;
        out.extend(
            page.resource_record_sets()
                .iter()
                .filter(|r| !matches!(r.r#type(), RrType::Soa | RrType::Ns))
                .cloned(),
        );
        match (
            page.is_truncated(),
            page.next_record_name(),
            page.next_record_type(),
        ) {
            (true, Some(n), Some(t)) => {
                next = Some((
                    n.to_string(),
                    t.clone(),
                    page.next_record_identifier().map(str::to_string),
                ))
            }
            _ => return Ok(out),
        }
    }
}

/// Deletes the group's name from its system's zone, when both exist.
pub async fn delete_record(
    c: &Clients,
    system: &str,
    group: &str,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    let Some(zone) = find_zone(c, system).await? else {
        return Ok(());
    };
    let name = rules::group_dns_name(system, &c.region, group);
    let sets: Vec<ResourceRecordSet> = own_records(c, &zone)
        .await?
        .into_iter()
        .filter(|r| rules::same_dns_name(r.name(), &name) && r.r#type() == &RrType::Cname)
        .collect();
    delete_sets(
        c,
        &zone,
        sets,
        &format!("DNS name {name} to be deleted"),
        cancel,
    )
    .await
}

/// Deletes record sets as they are (Route53 deletes only an exact match);
/// one already gone is no error.
pub(super) async fn delete_sets(
    c: &Clients,
    zone: &str,
    sets: Vec<ResourceRecordSet>,
    what: &str,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    if sets.is_empty() {
        return Ok(());
    }
    let changes = sets
        .into_iter()
        .map(|s| {
            Change::builder()
                .action(ChangeAction::Delete)
                .resource_record_set(s)
                .build()
                .map_err(build)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let b = ChangeBatch::builder()
        .set_changes(Some(changes))
        .build()
        .map_err(build)?;
    match change(c, zone, b, what, cancel).await {
        Err(OpError::Aws(e))
            if e.code_is(&[code::INVALID_CHANGE_BATCH])
                && e.message.contains(code::RECORD_NOT_FOUND_NEEDLE) =>
        {
            Ok(())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::tags;
    use crate::resources::testing::{identity, tags as t};
    use crate::rules::PRIMARY_GROUP;

    #[test]
    fn a_record_is_upserted_as_a_short_lived_cname() {
        let b = upsert_cname("entry.s.r.datomic.net", "lb.example").expect("valid batch");
        let [ch] = b.changes() else {
            panic!("one change: {b:?}")
        };
        assert_eq!(ch.action(), &ChangeAction::Upsert);
        let set = ch.resource_record_set().expect("a record set");
        assert_eq!(set.name(), "entry.s.r.datomic.net");
        assert_eq!(set.r#type(), &RrType::Cname);
        assert_eq!(set.ttl(), Some(rules::RECORD_TTL));
        let values: Vec<&str> = set.resource_records().iter().map(|r| r.value()).collect();
        assert_eq!(values, vec!["lb.example"]);
    }

    #[test]
    fn the_endpoint_reads_back_only_when_every_part_holds() {
        let lb = "internal-s.elb.amazonaws.com";
        assert_eq!(
            endpoint_as_read("eu-west-1", "s", PRIMARY_GROUP, lb, true),
            "http://entry.s.eu-west-1.datomic.net:8182/"
        );
        assert_eq!(
            endpoint_as_read("eu-west-1", "s", "web", lb, true),
            "http://web.s.eu-west-1.datomic.net:8182/"
        );
        // A missing load balancer, zone or record: "" (repaired by the next plan).
        assert_eq!(
            endpoint_as_read("eu-west-1", "s", PRIMARY_GROUP, "", true),
            ""
        );
        assert_eq!(
            endpoint_as_read("eu-west-1", "s", PRIMARY_GROUP, lb, false),
            ""
        );
    }

    #[test]
    fn a_refresh_reads_the_names_from_its_snapshot() {
        use crate::aws::snapshot::Zone;
        let mut snap = Snapshot::default();
        let zone = |id: &str, tags: tags::Tags, cnames: &[(&str, &str)]| Zone {
            id: id.into(),
            caller_reference: "datomic:s:1".into(),
            tags,
            cnames: cnames
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        snap.zones.insert(
            "s.r.datomic.net".into(),
            vec![
                zone(
                    "Z0",
                    t(&[("team", "net")]),
                    &[("web.s.r.datomic.net", "theirs.example")],
                ),
                zone(
                    "Z1",
                    identity("s", rules::PRIMARY_GROUP),
                    &[
                        ("entry.s.r.datomic.net", "lb.example."),
                        ("web.s.r.datomic.net", "old.example"),
                    ],
                ),
            ],
        );
        assert!(resolves_in(&snap, "r", "s", PRIMARY_GROUP, "lb.example"));
        // Pointing elsewhere, missing, or in a zone of another system: broken.
        assert!(!resolves_in(&snap, "r", "s", "web", "web-lb.example"));
        assert!(!resolves_in(&snap, "r", "s", "api", "api-lb.example"));
        assert!(!resolves_in(&snap, "r", "s2", PRIMARY_GROUP, "lb.example"));
    }
}
