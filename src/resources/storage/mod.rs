//! A system's storage: its network (VPC and subnets in two availability
//! zones: Datomic counts the network as storage), S3 bucket and DynamoDB
//! table. Found by identity tags (and names), so a system re-created with the
//! same name adopts what a previous one retained; an object with our name
//! but not our tags is never adopted, changed or deleted (see
//! [`super::ownership`]), and the bucket must belong to the account.
//!
//! One file per AWS object (`network.rs`, `bucket.rs`, `table.rs`), each with
//! its find, ensure and delete; this module puts them together, and tags
//! them all alike.

use crate::aws::{tags, Clients};
use crate::resources::error::{NotOurs, OpError};
use crate::rules;

mod bucket;
mod network;
mod table;

pub use bucket::{bucket_name, known_bucket_name};
pub use network::{check_existing_network, VPC_CIDR};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Storage {
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub bucket: String,
    pub table: String,
    /// The table's ARN when it was just described ("" otherwise: looked up when needed).
    pub table_arn: String,
}

/// An S3 bucket or DynamoDB table looked up by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Named {
    Missing,
    /// It exists and its identity tags make it the system's.
    Ours,
    /// It exists and is not the system's: the error to give when it matters.
    NotOurs(String),
}

/// The storage of `system` as it exists now: the parts that exist and are
/// the system's (by identity tags). Also what was found with the system's
/// names that is not its own, for a create to refuse.
async fn find_with_strangers(c: &Clients, system: &str) -> Result<(Storage, Vec<String>), OpError> {
    let mut s = Storage::default();
    let mut strangers = Vec::new();
    if let Some((vpc, subnets)) = network::find(c, system).await? {
        s.vpc_id = vpc;
        s.subnet_ids = subnets;
    }
    let bucket = bucket_name(c, system).await?;
    match bucket::find(c, system, &bucket).await? {
        Named::Ours => s.bucket = bucket,
        Named::NotOurs(why) => strangers.push(why),
        Named::Missing => {}
    }
    let table = rules::table_name(system);
    match table::find(c, system, &table).await? {
        (Named::Ours, arn) => {
            s.table = table;
            s.table_arn = arn;
        }
        (Named::NotOurs(why), _) => strangers.push(why),
        (Named::Missing, _) => {}
    }
    Ok((s, strangers))
}

/// The storage of `system` as it exists now (parts may be missing; objects
/// with its names that are not its own are not part of it).
pub async fn find(c: &Clients, system: &str) -> Result<Storage, OpError> {
    Ok(find_with_strangers(c, system).await?.0)
}

/// Creates whatever part of the storage is missing; returns the whole and
/// whether anything already existed (adopted from a retained system). With
/// `network` (a VPC and subnets the user brings) no network is created.
///
/// A new table is left `CREATING`: nothing of the compute needs it active
/// (the node policy names it), so the create calls [`protect`] beside the
/// compute and waits for it before it returns. Adopted storage is protected
/// here, before it is retagged.
pub async fn ensure(
    c: &Clients,
    system: &str,
    t: &tags::Tags,
    network: Option<(String, Vec<String>)>,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(Storage, bool), OpError> {
    let (mut s, strangers) = find_with_strangers(c, system).await?;
    if !strangers.is_empty() {
        return Err(NotOurs {
            detail: strangers.join(" "),
        }
        .into());
    }
    let adopted = !s.vpc_id.is_empty() || !s.bucket.is_empty() || !s.table.is_empty();
    let owner = if network.is_none() {
        NetworkOwner::Provider
    } else {
        NetworkOwner::User
    };
    // The network and the data depend on each other in nothing: made at once.
    let found_vpc = s.vpc_id.clone();
    let net = async {
        match network {
            Some(given) => Ok(given),
            None => network::ensure(c, system, t, &found_vpc).await,
        }
    };
    ((s.vpc_id, s.subnet_ids), ()) = tokio::try_join!(net, ensure_data(c, system, t, &mut s))?;
    if adopted {
        protect(c, &s, cancel).await?;
        // What a previous system retained carries its tags: make them this one's.
        retag(c, &s, owner, t).await?;
    }
    Ok((s, adopted))
}

/// The S3 bucket and DynamoDB table, created when missing.
async fn ensure_data(
    c: &Clients,
    system: &str,
    t: &tags::Tags,
    s: &mut Storage,
) -> Result<(), OpError> {
    // Always (re)applied: the bucket may remain from a create interrupted
    // before its settings or tags were set.
    let bucket = bucket_name(c, system).await?;
    let found = if s.bucket.is_empty() {
        bucket::Existing::Missing
    } else {
        bucket::Existing::Ours
    };
    bucket::create(c, system, &bucket, t, found).await?;
    s.bucket = bucket;
    let table = rules::table_name(system);
    if s.table.is_empty() {
        table::create(c, &table, t).await?;
        s.table = table.clone();
    }
    Ok(())
}

/// Waits for the table to be `ACTIVE` and keeps its data safe (deletion
/// protection and point-in-time recovery, (re)applied: an adopted table, or
/// one of an interrupted create, may lack them).
pub async fn protect(
    c: &Clients,
    s: &Storage,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), OpError> {
    table::protect(c, &s.table, cancel).await
}

/// One object of a system's storage that carries the system's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tagged {
    /// The VPC or a subnet (only when the provider made the network).
    Network(String),
    Bucket,
    /// The DynamoDB table, by ARN.
    Table(String),
}

impl Tagged {
    fn describe(&self, s: &Storage) -> String {
        match self {
            Tagged::Network(id) => format!("network object {id}"),
            Tagged::Bucket => format!("S3 bucket {}", s.bucket),
            Tagged::Table(_) => format!("DynamoDB table {}", s.table),
        }
    }
}

/// The tags a network object is compared on: all but `Name`, which stays the provider's.
fn without_name(t: &tags::Tags) -> tags::Tags {
    t.iter()
        .filter(|(k, _)| k.as_str() != "Name")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Who made the system's VPC and subnets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkOwner {
    /// The provider: tagged as the system's, retagged and deleted with the
    /// rest of its storage.
    Provider,
    /// The user (`vpc_id` and `subnet_ids`): never retagged nor deleted.
    User,
}

impl NetworkOwner {
    /// From the state's `network_managed` (unknown: the provider, as for
    /// states written before it existed).
    pub fn of_state(network_managed: Option<bool>) -> Self {
        if network_managed.unwrap_or(true) {
            NetworkOwner::Provider
        } else {
            NetworkOwner::User
        }
    }
}

/// The first object of the storage whose tags, but for the `identity` keys,
/// are not `expected` (tags changed by hand): its description and its tags.
pub async fn differing_tags(
    c: &Clients,
    s: &Storage,
    network: NetworkOwner,
    expected: &tags::Tags,
    identity: &[&str],
) -> Result<Option<(String, tags::Tags)>, OpError> {
    let expected_network = without_name(expected);
    for (object, now) in tags_now(c, s, network).await? {
        let own = tags::user_tags(&now, identity);
        let want = match object {
            Tagged::Network(_) => &expected_network,
            _ => expected,
        };
        if &own != want {
            return Ok(Some((object.describe(s), own)));
        }
    }
    Ok(None)
}

/// The tags each object of the storage has now, the network's only when the
/// provider made it and without their `Name` (which stays the provider's).
async fn tags_now(
    c: &Clients,
    s: &Storage,
    network: NetworkOwner,
) -> Result<Vec<(Tagged, tags::Tags)>, OpError> {
    let mut out = Vec::new();
    if network == NetworkOwner::Provider && !s.vpc_id.is_empty() {
        let ids: Vec<String> = std::iter::once(s.vpc_id.clone())
            .chain(s.subnet_ids.iter().cloned())
            .collect();
        let by_id = network::tags(c, ids).await?;
        out.extend(by_id.into_iter().map(|(id, t)| (Tagged::Network(id), t)));
    }
    if !s.bucket.is_empty() {
        out.push((Tagged::Bucket, bucket::tags(c, &s.bucket).await?));
    }
    if !s.table.is_empty() {
        let arn = table::arn(c, s).await?;
        let t = table::tags(c, &arn).await?;
        out.push((Tagged::Table(arn), t));
    }
    Ok(out)
}

/// Brings every object of the storage to the tags `want` (the system's
/// tags, `default_tags` and identity): reads what each has now and writes
/// only what differs, so tags changed by hand on one object are mended too.
/// The network is retagged only when the provider made it; the `Name` tags of
/// the VPC and subnets stay the provider's.
pub async fn retag(
    c: &Clients,
    s: &Storage,
    network: NetworkOwner,
    want: &tags::Tags,
) -> Result<(), OpError> {
    let want_network = without_name(want);
    for (object, now) in tags_now(c, s, network).await? {
        let target = if matches!(object, Tagged::Network(_)) {
            &want_network
        } else {
            want
        };
        let (removed, changed) = tags::diff(&now, target);
        if removed.is_empty() && changed.is_empty() {
            continue;
        }
        match object {
            Tagged::Network(id) => network::retag(c, &id, &changed, &removed).await?,
            // S3 replaces the whole set: keep the ignored tags it has.
            Tagged::Bucket => {
                bucket::put_tags(c, &s.bucket, &tags::keep_ignored(&now, target)).await?
            }
            Tagged::Table(arn) => table::retag(c, &arn, &changed, removed).await?,
        }
    }
    Ok(())
}

// A storage delete (only when the user opted out of retaining it) runs in
// three parts, each when nothing needs it any more: the table at once, the
// bucket once no node can write to it, the network once the network
// interfaces of the nodes and load balancers are gone.

/// Deletes the table, when it is the system's (by its identity tags), and
/// waits until it is gone. It depends on no other object: a destroy deletes
/// it beside the compute (nodes being terminated lose it a little sooner).
pub async fn delete_table(
    c: &Clients,
    system: &str,
    timeout: std::time::Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), OpError> {
    let table = rules::table_name(system);
    if table::find(c, system, &table).await?.0 == Named::Ours {
        table::delete(c, &table, timeout, cancel).await?;
    }
    Ok(())
}

/// Empties and deletes the bucket, when it is the system's (by its identity
/// tags). Only once the system's nodes are gone: one still running could
/// write to it after it was emptied (then S3 refuses the delete).
pub async fn delete_bucket(c: &Clients, system: &str) -> Result<(), OpError> {
    let bucket = bucket_name(c, system).await?;
    if bucket::find(c, system, &bucket).await? == Named::Ours {
        bucket::delete(c, &bucket).await?;
    }
    Ok(())
}

/// Deletes the VPC and subnets when the provider made them (by their
/// identity tags), once nothing uses them: after the compute is gone.
/// Returns what it kept although asked to delete it, and why.
pub async fn delete_network(
    c: &Clients,
    system: &str,
    timeout: std::time::Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Vec<String>, OpError> {
    let mut kept = Vec::new();
    if let Some((vpc, _)) = network::find(c, system).await? {
        kept.extend(network::delete(c, system, &vpc, timeout, cancel).await?);
    }
    Ok(kept)
}
