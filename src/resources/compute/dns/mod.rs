//! The names clients connect to, as Datomic has them: the system's Route53
//! private hosted zone `<system>.<region>.datomic.net`, associated with the
//! system's VPC, where `entry` names the primary group's load balancer and
//! `<group>` each query group's.
//!
//! The zone points at load balancers, which go with the compute: it is made
//! with the primary group and deleted with it (never kept with the storage).
//! A group's name is a CNAME to its load balancer's DNS name: it works alike
//! on AWS and on the emulator, and needs nothing but the DNS name the
//! endpoint already has (an alias would need the load balancer's canonical
//! hosted zone too). Its short TTL ([`rules::RECORD_TTL`]) lets clients follow
//! a load balancer made again after a repair.
//!
//! Route53 takes no tags at CreateHostedZone: a zone is tagged right after.
//! A zone of our name without tags whose caller reference names the system
//! ([`rules::zone_caller_prefix`]) is one whose create was cut short before
//! the tagging, and is finished; any other zone of our name that is not ours
//! (a team's own private zone of that name, say) is refused, never adopted,
//! changed or deleted.

use std::time::Duration;

use aws_sdk_route53::types::{
    ChangeStatus, HostedZoneConfig, Tag, TagResourceType, Vpc, VpcRegion,
};
use tokio_util::sync::CancellationToken;

mod records;

use super::sdk;
use crate::aws::error::code;
use crate::aws::wait::{Poll, Waiter};
use crate::aws::{tags, Clients, Found};
use crate::resources::error::{NotOurs, OpError};
use crate::rules::{self, PRIMARY_GROUP};
pub use records::{delete_record, ensure_group_record, ensure_record, read_endpoint};
use records::{delete_sets, own_records};

/// How long a change may take to reach every Route53 server (seconds on AWS).
const INSYNC_TIMEOUT: Duration = Duration::from_secs(300);
/// What ownership errors call the zone.
const KIND: &str = "Route53 private hosted zone";

/// A private hosted zone named as the system's, as ListHostedZonesByName
/// and ListTagsForResource have it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZoneSeen {
    /// The bare id (without `/hostedzone/`).
    pub id: String,
    pub caller_reference: String,
    pub tags: tags::Tags,
}

/// Which of the zones named as the system's is its own.
#[derive(Debug, Clone, PartialEq)]
pub enum ZoneChoice {
    /// None with that name.
    Missing,
    /// Tagged as the system's.
    Ours(String),
    /// Made by the system's create, which stopped before tagging it.
    Untagged(String),
    /// Only others': the tags of the first, for the error.
    Stranger(tags::Tags),
}

/// The system's zone among the private zones of its name (see the module).
pub fn choose(zones: &[ZoneSeen], system: &str) -> ZoneChoice {
    if let Some(z) = zones.iter().find(|z| {
        matches!(
            rules::ownership(&z.tags, system, None),
            rules::Ownership::Ours
        )
    }) {
        return ZoneChoice::Ours(z.id.clone());
    }
    if let Some(z) = zones.iter().find(|z| {
        z.tags.is_empty()
            && z.caller_reference
                .starts_with(&rules::zone_caller_prefix(system))
    }) {
        return ZoneChoice::Untagged(z.id.clone());
    }
    match zones.first() {
        Some(z) => ZoneChoice::Stranger(z.tags.clone()),
        None => ZoneChoice::Missing,
    }
}

fn bare_zone_id(id: &str) -> String {
    id.rsplit('/').next().unwrap_or(id).to_string()
}

fn zone_name(c: &Clients, system: &str) -> String {
    rules::dns_zone_name(system, &c.region)
}

/// The private zones named as the system's, with their tags.
async fn zones_seen(c: &Clients, system: &str) -> Result<Vec<ZoneSeen>, OpError> {
    let name = zone_name(c, system);
    let out = c
        .route53
        .list_hosted_zones_by_name()
        .dns_name(&name)
        .max_items(100)
        .send()
        .await
        .map_err(sdk)?;
    let mut zones = Vec::new();
    // Sorted by name from `name` on: those of our name come first.
    for z in out.hosted_zones() {
        if !rules::same_dns_name(z.name(), &name) {
            break;
        }
        if !z.config().is_some_and(|cfg| cfg.private_zone()) {
            continue; // a public zone never answers inside the VPC in its place
        }
        let id = bare_zone_id(z.id());
        let t = c
            .route53
            .list_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(&id)
            .send()
            .await
            .map_err(sdk)
            .found()?;
        let Some(t) = t else { continue }; // deleted meanwhile
        zones.push(ZoneSeen {
            id,
            caller_reference: z.caller_reference().to_string(),
            tags: t
                .resource_tag_set()
                .map(|s| tags::from_route53(s.tags()))
                .unwrap_or_default(),
        });
    }
    Ok(zones)
}

/// The system's own zone's id, if it has one.
pub async fn find_zone(c: &Clients, system: &str) -> Result<Option<String>, OpError> {
    Ok(match choose(&zones_seen(c, system).await?, system) {
        ZoneChoice::Ours(id) => Some(id),
        _ => None,
    })
}

/// Before a system's create writes anything: an error when a private zone of
/// its name exists that is not its own.
pub async fn check_zone_free(c: &Clients, system: &str) -> Result<(), OpError> {
    match choose(&zones_seen(c, system).await?, system) {
        ZoneChoice::Stranger(found) => {
            Err(not_ours(&zone_name(c, system), &found, system, &c.region).into())
        }
        _ => Ok(()),
    }
}

/// Waits for a Route53 change to reach every server (INSYNC).
pub(super) async fn wait_insync(
    c: &Clients,
    change_id: &str,
    what: &str,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    let id = change_id.rsplit('/').next().unwrap_or(change_id);
    Waiter::new(INSYNC_TIMEOUT)
        .until(what, cancel, || async {
            let out = c.route53.get_change().id(id).send().await.map_err(sdk)?;
            Ok::<_, crate::aws::AwsError>(match out.change_info().map(|i| i.status()) {
                Some(ChangeStatus::Insync) => Poll::Done(()),
                _ => Poll::Pending,
            })
        })
        .await
        .map_err(OpError::from)
}

fn route53_tags(t: &tags::Tags) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Route53 takes at most 10 tags (and 10 keys to remove) per request.
const TAGS_PER_REQUEST: usize = 10;

async fn tag_zone(c: &Clients, zone: &str, t: &tags::Tags) -> Result<(), OpError> {
    change_zone_tags(c, zone, t, &[]).await
}

/// Adds (or overwrites) tags `add` and removes keys `remove`, in requests
/// Route53 takes.
async fn change_zone_tags(
    c: &Clients,
    zone: &str,
    add: &tags::Tags,
    remove: &[String],
) -> Result<(), OpError> {
    let add = route53_tags(add);
    let (mut adds, mut removes) = (
        add.chunks(TAGS_PER_REQUEST),
        remove.chunks(TAGS_PER_REQUEST),
    );
    loop {
        let (a, r) = (adds.next(), removes.next());
        if a.is_none() && r.is_none() {
            return Ok(());
        }
        c.route53
            .change_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(zone)
            .set_add_tags(a.map(<[Tag]>::to_vec))
            .set_remove_tag_keys(r.map(<[String]>::to_vec))
            .send()
            .await
            .map_err(sdk)?;
    }
}

/// Gives the zone tags `t` when it has others (the system's changed), AWS's
/// own (`aws:`) and the provider's `ignore_tags` left alone.
async fn retag_zone(
    c: &Clients,
    zone: &str,
    had: &tags::Tags,
    t: &tags::Tags,
) -> Result<(), OpError> {
    let (gone, changed) = tags::diff(had, t);
    change_zone_tags(c, zone, &changed, &gone).await
}

/// Why a zone of the system's name that is not its own is refused: a team
/// may well have a private zone of that name for its own purposes.
fn not_ours(name: &str, found: &tags::Tags, system: &str, region: &str) -> NotOurs {
    let found = match rules::ownership(found, system, None) {
        rules::Ownership::NotOurs { found } => found,
        rules::Ownership::Ours => "the system's".to_string(),
    };
    NotOurs {
        detail: format!(
            "{} Datomic clients find the system through this zone (`{}` names its primary compute group), so the provider cannot make its own beside it: a private zone of that name may serve other purposes in this account.",
            rules::not_ours_detail(KIND, name, system, None, &found),
            rules::group_dns_name(system, region, PRIMARY_GROUP),
        ),
    }
}

/// Makes the system's zone (or finishes one cut short), associated with
/// `vpc_id` and tagged `t`; refuses a zone of its name that is not ours.
/// Returns its id.
pub async fn ensure_zone(
    c: &Clients,
    system: &str,
    vpc_id: &str,
    t: &tags::Tags,
    cancel: &CancellationToken,
) -> Result<String, OpError> {
    let name = zone_name(c, system);
    let seen = zones_seen(c, system).await?;
    let zone = match choose(&seen, system) {
        ZoneChoice::Ours(id) => {
            let had = seen
                .iter()
                .find(|z| z.id == id)
                .map(|z| z.tags.clone())
                .unwrap_or_default();
            retag_zone(c, &id, &had, t).await?;
            id
        }
        ZoneChoice::Untagged(id) => {
            tag_zone(c, &id, t).await?;
            id
        }
        ZoneChoice::Stranger(found) => {
            return Err(not_ours(&name, &found, system, &c.region).into())
        }
        ZoneChoice::Missing => {
            let nonce = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let made = c
                .route53
                .create_hosted_zone()
                .name(&name)
                .caller_reference(rules::zone_caller_reference(system, &nonce.to_string()))
                .hosted_zone_config(
                    HostedZoneConfig::builder()
                        .private_zone(true)
                        .comment(format!("Datomic system {system}: client endpoints"))
                        .build(),
                )
                .vpc(system_vpc(c, vpc_id))
                .send()
                .await
                .map_err(sdk);
            let out = match made {
                Ok(out) => out,
                // A retry of a create whose answer was lost: the zone exists,
                // untagged, with our caller reference.
                Err(e) if e.code_is(&[code::HOSTED_ZONE_ALREADY_EXISTS]) => {
                    match choose(&zones_seen(c, system).await?, system) {
                        ZoneChoice::Untagged(id) | ZoneChoice::Ours(id) => {
                            tag_zone(c, &id, t).await?;
                            associate(c, &id, vpc_id, cancel).await?;
                            return Ok(id);
                        }
                        _ => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            };
            let id = out
                .hosted_zone()
                .map(|z| bare_zone_id(z.id()))
                .unwrap_or_default();
            tag_zone(c, &id, t).await?;
            if let Some(change) = out.change_info() {
                wait_insync(c, change.id(), &format!("{KIND} {name} to be made"), cancel).await?;
            }
            return Ok(id);
        }
    };
    associate(c, &zone, vpc_id, cancel).await?;
    Ok(zone)
}

/// The system's VPC as Route53 names it: id and the clients' region.
fn system_vpc(c: &Clients, vpc_id: &str) -> Vpc {
    Vpc::builder()
        .vpc_id(vpc_id)
        .vpc_region(VpcRegion::from(c.region.as_str()))
        .build()
}

/// Associates the system's VPC with its zone, unless it is.
async fn associate(
    c: &Clients,
    zone: &str,
    vpc_id: &str,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    let out = c
        .route53
        .get_hosted_zone()
        .id(zone)
        .send()
        .await
        .map_err(sdk)?;
    if out.vpcs().iter().any(|v| v.vpc_id() == Some(vpc_id)) {
        return Ok(());
    }
    let out = c
        .route53
        .associate_vpc_with_hosted_zone()
        .hosted_zone_id(zone)
        .vpc(system_vpc(c, vpc_id))
        .send()
        .await
        .map_err(sdk)?;
    if let Some(change) = out.change_info() {
        wait_insync(
            c,
            change.id(),
            "the VPC to be associated with the zone",
            cancel,
        )
        .await?;
    }
    Ok(())
}

/// Deletes the system's zone, with the records in it (Route53 refuses to
/// delete a zone that has any). Zones of its name that are not ours are
/// left alone.
pub async fn delete_zone(
    c: &Clients,
    system: &str,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    let name = zone_name(c, system);
    for zone in deletable(&zones_seen(c, system).await?, system) {
        let sets = match own_records(c, &zone).await {
            Err(OpError::Aws(e)) if e.is_not_found() => continue,
            other => other?,
        };
        let what = format!("the records of {name} to be deleted");
        delete_sets(c, &zone, sets, &what, cancel).await?;
        c.route53
            .delete_hosted_zone()
            .id(&zone)
            .send()
            .await
            .map_err(sdk)
            .found()?;
    }
    Ok(())
}

/// The zones of the system's name a destroy deletes: those tagged as the
/// system's, and those its create made but did not tag; never another's.
fn deletable(zones: &[ZoneSeen], system: &str) -> Vec<String> {
    zones
        .iter()
        .filter(|z| {
            matches!(
                choose(std::slice::from_ref(z), system),
                ZoneChoice::Ours(_) | ZoneChoice::Untagged(_)
            )
        })
        .map(|z| z.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{identity, tags as t};

    fn seen(id: &str, reference: &str, tags: tags::Tags) -> ZoneSeen {
        ZoneSeen {
            id: id.into(),
            caller_reference: reference.into(),
            tags,
        }
    }

    #[test]
    fn the_systems_zone_is_the_one_tagged_as_its() {
        let ours = identity("s", rules::PRIMARY_GROUP);
        assert_eq!(choose(&[], "s"), ZoneChoice::Missing);
        let zones = [
            seen("Z1", "theirs", t(&[("team", "net")])),
            seen("Z2", "datomic:s:1", ours.clone()),
        ];
        assert_eq!(choose(&zones, "s"), ZoneChoice::Ours("Z2".into()));
        // Another system's zone is a stranger's to this one.
        assert!(matches!(
            choose(
                &[seen("Z2", "datomic:other:1", identity("other", "primary"))],
                "s"
            ),
            ZoneChoice::Stranger(_)
        ));
    }

    #[test]
    fn an_untagged_zone_is_ours_only_by_our_caller_reference() {
        assert_eq!(
            choose(&[seen("Z1", "datomic:s:17", tags::Tags::new())], "s"),
            ZoneChoice::Untagged("Z1".into())
        );
        // A team's own zone of that name, untagged or not: refused.
        assert_eq!(
            choose(&[seen("Z1", "console-2024", tags::Tags::new())], "s"),
            ZoneChoice::Stranger(tags::Tags::new())
        );
        assert!(matches!(
            choose(&[seen("Z1", "datomic:s:17", t(&[("team", "net")]))], "s"),
            ZoneChoice::Stranger(_)
        ));
        // Another system's half-made zone is not this one's.
        assert!(matches!(
            choose(&[seen("Z1", "datomic:s2:17", tags::Tags::new())], "s"),
            ZoneChoice::Stranger(_)
        ));
    }

    #[test]
    fn a_strangers_zone_is_refused_with_what_it_has() {
        let e = not_ours("s.r.datomic.net", &t(&[("team", "net")]), "s", "r");
        assert!(e.detail.contains("s.r.datomic.net"), "{}", e.detail);
        assert!(e.detail.contains("entry.s.r.datomic.net"), "{}", e.detail);
        assert!(e.detail.contains("none"), "{}", e.detail);
    }

    #[test]
    fn a_destroy_deletes_only_the_systems_zones() {
        let zones = [
            seen("Z1", "theirs", t(&[("team", "net")])),
            seen("Z2", "datomic:s:1", identity("s", rules::PRIMARY_GROUP)),
            seen("Z3", "datomic:s:2", tags::Tags::new()),
            seen("Z4", "console", tags::Tags::new()),
            seen("Z5", "datomic:s2:1", tags::Tags::new()),
        ];
        assert_eq!(
            deletable(&zones, "s"),
            vec!["Z2".to_string(), "Z3".to_string()]
        );
        assert!(deletable(&zones[..1], "s").is_empty());
    }

    #[test]
    fn zone_ids_lose_their_prefix() {
        assert_eq!(bare_zone_id("/hostedzone/Z123"), "Z123");
        assert_eq!(bare_zone_id("Z123"), "Z123");
    }

    #[test]
    fn zone_tags_carry_every_tag() {
        let out = route53_tags(&identity("s", "primary"));
        assert_eq!(out.len(), 3);
        assert!(out
            .iter()
            .any(|x| x.key() == Some(rules::TAG_SYSTEM) && x.value() == Some("s")));
    }
}
