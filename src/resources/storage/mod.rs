//! A system's storage: its network (VPC and subnets in three availability
//! zones, two where the region has two: Datomic counts the network as
//! storage), customer-managed KMS key, S3 bucket, DynamoDB tables (the log's
//! and the catalog's), CloudWatch log group and EFS file system (all
//! encrypted with the key). Found by identity tags (and names), so a system re-created with the
//! same name adopts what a previous one retained; an object with our name
//! but not our tags is never adopted, changed or deleted (see
//! [`super::ownership`]), and the bucket must belong to the account.
//!
//! One file per AWS object (`network.rs`, `key.rs`, `bucket.rs`, `table.rs`,
//! `log_group.rs`, `file_system.rs`), each with
//! its find, ensure and delete; this module puts them together, and tags
//! them all alike.

use crate::aws::{tags, Clients};
use crate::resources::error::{NotOurs, OpError};
use crate::rules;

mod bucket;
mod file_system;
mod key;
mod log_group;
mod network;
mod table;

pub use bucket::{
    block_public_access, bucket_name, known_bucket_name, tags_owned_by as bucket_tags_owned_by,
};
pub use network::{check_existing_network, VPC_CIDR};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Storage {
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub bucket: String,
    pub table: String,
    /// The table's ARN when it was just described ("" otherwise: looked up when needed).
    pub table_arn: String,
    /// The catalog's table ("" when missing: a system of an earlier build).
    pub catalog: String,
    /// Its ARN when it was just described ("" otherwise: looked up when needed).
    pub catalog_arn: String,
    /// The KMS key's ARN ("" when there is none: a system of an earlier build).
    pub key_arn: String,
    /// The CloudWatch log group ("" when missing: a system of an earlier build).
    pub log_group: String,
    /// Its ARN when it was just described ("" otherwise: looked up when needed).
    pub log_group_arn: String,
    /// The EFS file system's id ("" when there is none: a system of an earlier build).
    pub file_system_id: String,
    /// Its ARN when it was just found ("" otherwise).
    pub file_system_arn: String,
    /// The tables' tags as [`find`] read them (by table name), so that a
    /// read does not ask for them twice.
    pub seen: std::collections::BTreeMap<String, tags::Tags>,
}

impl Storage {
    /// Whether any part exists (left by a previous system: adopted).
    fn has_any(&self) -> bool {
        !self.vpc_id.is_empty()
            || !self.bucket.is_empty()
            || !self.table.is_empty()
            || !self.catalog.is_empty()
            || !self.key_arn.is_empty()
            || !self.log_group.is_empty()
            || !self.file_system_id.is_empty()
    }
}

/// A create refuses the system's names when objects of another carry them:
/// one error that names them all.
fn refuse_strangers(strangers: &[String]) -> Result<(), OpError> {
    if strangers.is_empty() {
        return Ok(());
    }
    Err(NotOurs {
        detail: strangers.join(" "),
    }
    .into())
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
    match key::find(c, system).await? {
        (Named::Ours, Some(k)) => s.key_arn = k.arn,
        (Named::NotOurs(why), _) => strangers.push(why),
        _ => {}
    }
    match log_group::find(c, system).await? {
        (Named::Ours, Some(g)) => {
            s.log_group = rules::log_group_name(system);
            s.log_group_arn = g.arn;
        }
        (Named::NotOurs(why), _) => strangers.push(why),
        _ => {}
    }
    let bucket = bucket_name(c, system).await?;
    match bucket::find(c, system, &bucket).await? {
        Named::Ours => s.bucket = bucket,
        Named::NotOurs(why) => strangers.push(why),
        Named::Missing => {}
    }
    let table = rules::table_name(system);
    match table::find(c, system, &table).await? {
        (Named::Ours, arn, t) => {
            s.seen.insert(table.clone(), t);
            s.table = table;
            s.table_arn = arn;
        }
        (Named::NotOurs(why), _, _) => strangers.push(why),
        (Named::Missing, _, _) => {}
    }
    let catalog = rules::catalog_table_name(system);
    match table::find(c, system, &catalog).await? {
        (Named::Ours, arn, t) => {
            s.seen.insert(catalog.clone(), t);
            s.catalog = catalog;
            s.catalog_arn = arn;
        }
        (Named::NotOurs(why), _, _) => strangers.push(why),
        (Named::Missing, _, _) => {}
    }
    match file_system::find(c, system).await? {
        (Named::Ours, Some(fs)) => {
            s.file_system_id = fs.id;
            s.file_system_arn = fs.arn;
        }
        (Named::NotOurs(why), _) => strangers.push(why),
        _ => {}
    }
    if let (Named::NotOurs(why), _) = file_system::find_group(c, system).await? {
        strangers.push(why);
    }
    Ok((s, strangers))
}

/// The storage of `system` as it exists now (parts may be missing; objects
/// with its names that are not its own are not part of it).
pub async fn find(c: &Clients, system: &str) -> Result<Storage, OpError> {
    Ok(find_with_strangers(c, system).await?.0)
}

/// The ARN of the system's KMS key (None: it has none, or not its own).
pub async fn key_arn(c: &Clients, system: &str) -> Result<Option<String>, OpError> {
    Ok(match key::find(c, system).await? {
        (Named::Ours, Some(k)) => Some(k.arn),
        _ => None,
    })
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
    timeout: std::time::Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(Storage, bool), OpError> {
    let (mut s, strangers) = find_with_strangers(c, system).await?;
    refuse_strangers(&strangers)?;
    let adopted = s.has_any();
    let owner = if network.is_none() {
        NetworkOwner::Provider
    } else {
        NetworkOwner::User
    };
    // The network and the data depend on each other in nothing: made at once,
    // each to its end even if the other fails (a bucket dropped is untagged).
    let found_vpc = s.vpc_id.clone();
    let net = async {
        match network {
            Some(given) => Ok(given),
            None => network::ensure(c, system, t, &found_vpc).await,
        }
    };
    let (net, data) = tokio::join!(net, ensure_data(c, system, t, &mut s));
    ((s.vpc_id, s.subnet_ids), ()) = (net?, data?);
    // In the network, encrypted with the key: after both.
    ensure_file_system(c, system, t, &mut s, timeout, cancel).await?;
    if adopted {
        protect(c, &s, cancel).await?;
        // What a previous system retained carries its tags: make them this one's.
        retag(c, system, &s, owner, t).await?;
    }
    Ok((s, adopted))
}

/// The KMS key, S3 bucket, DynamoDB tables (log and catalog) and log
/// group, created when missing (the key first: the others are encrypted
/// with it).
async fn ensure_data(
    c: &Clients,
    system: &str,
    t: &tags::Tags,
    s: &mut Storage,
) -> Result<(), OpError> {
    ensure_key(c, system, t, s).await?;
    ensure_log_group(c, system, t, s).await?;
    // Always (re)applied: the bucket may remain from a create interrupted
    // before its settings or tags were set.
    let bucket = bucket_name(c, system).await?;
    let found = if s.bucket.is_empty() {
        bucket::Existing::Missing
    } else {
        bucket::Existing::Ours
    };
    bucket::create(c, system, &bucket, t, found, &s.key_arn).await?;
    s.bucket = bucket;
    let table = rules::table_name(system);
    if s.table.is_empty() {
        table::create(c, &table, t, &s.key_arn).await?;
        s.table = table.clone();
    }
    ensure_catalog(c, system, t, s).await
}

/// The catalog's table, created when missing (left `CREATING`: see [`protect`]).
async fn ensure_catalog(
    c: &Clients,
    system: &str,
    t: &tags::Tags,
    s: &mut Storage,
) -> Result<(), OpError> {
    if s.catalog.is_empty() {
        let catalog = rules::catalog_table_name(system);
        table::create(c, &catalog, t, &s.key_arn).await?;
        s.catalog = catalog;
    }
    Ok(())
}

/// The log group, created when missing. The key's policy is put back first
/// when it differs: a key made before the log group existed does not let
/// CloudWatch Logs use it, and CreateLogGroup refuses such a key.
async fn ensure_log_group(
    c: &Clients,
    system: &str,
    t: &tags::Tags,
    s: &mut Storage,
) -> Result<(), OpError> {
    if !s.log_group.is_empty() {
        return Ok(());
    }
    match log_group::find(c, system).await? {
        (Named::Ours, Some(g)) => s.log_group_arn = g.arn,
        (Named::NotOurs(detail), _) => return Err(NotOurs { detail }.into()),
        _ => {
            key::ensure_policy(c, system, &s.key_arn).await?;
            s.log_group_arn = log_group::create(c, system, t, &s.key_arn).await?.arn;
        }
    }
    s.log_group = rules::log_group_name(system);
    Ok(())
}

/// The system's key: made when missing, brought back to use when found
/// (see `key.rs`: a key scheduled for deletion is restored).
async fn ensure_key(
    c: &Clients,
    system: &str,
    t: &tags::Tags,
    s: &mut Storage,
) -> Result<(), OpError> {
    match key::find(c, system).await? {
        (Named::Ours, Some(k)) => {
            key::adopt(c, system, &k).await?;
            s.key_arn = k.arn;
        }
        (Named::NotOurs(detail), _) => return Err(NotOurs { detail }.into()),
        _ => s.key_arn = key::create(c, system, t).await?.arn,
    }
    Ok(())
}

/// The file system, made when missing, with a mount target in each subnet's
/// zone (a zone the network gained gets one too). `timeout` bounds each of
/// its waits (the operation's `timeouts`).
pub async fn ensure_file_system(
    c: &Clients,
    system: &str,
    t: &tags::Tags,
    s: &mut Storage,
    timeout: std::time::Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), OpError> {
    let fs = Box::pin(file_system::ensure(c, system, t, s, timeout, cancel)).await?;
    s.file_system_id = fs.id;
    s.file_system_arn = fs.arn;
    Ok(())
}

/// The ARN of the system's file system, when it has one of its own.
pub async fn file_system_arn(c: &Clients, system: &str) -> Result<Option<String>, OpError> {
    Ok(match file_system::find(c, system).await? {
        (Named::Ours, Some(fs)) => Some(fs.arn).filter(|a| !a.is_empty()),
        _ => None,
    })
}

/// Lets the nodes' security group reach the file system's mount targets.
pub async fn admit_nodes(c: &Clients, system: &str, nodes: &str) -> Result<(), OpError> {
    file_system::nfs_from_nodes(c, system, nodes, file_system::Nfs::Admit).await
}

/// Takes the nodes' security group off the file system's (before it is deleted).
pub async fn forget_nodes(c: &Clients, system: &str, nodes: &str) -> Result<(), OpError> {
    Box::pin(file_system::nfs_from_nodes(
        c,
        system,
        nodes,
        file_system::Nfs::Forget,
    ))
    .await
}

/// Deletes the file system (its mount targets first, waited on) and its
/// security group, when they are the system's.
pub async fn delete_file_system(
    c: &Clients,
    system: &str,
    timeout: std::time::Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), OpError> {
    // Boxed: the destroy's future, which holds this one, is large already.
    Box::pin(file_system::delete(c, system, timeout, cancel)).await
}

/// Gives a system of an earlier build what its storage lacks: its KMS key
/// (its bucket and table are moved to it in place: S3 encrypts new objects
/// with it, DynamoDB re-encrypts the table's keys), its catalog table and
/// its log group and file system.
/// Returns the storage as it is then.
pub async fn add_missing(
    c: &Clients,
    system: &str,
    t: &tags::Tags,
    mut s: Storage,
    timeout: std::time::Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Storage, OpError> {
    if s.key_arn.is_empty() {
        ensure_key(c, system, t, &mut s).await?;
    }
    ensure_catalog(c, system, t, &mut s).await?;
    ensure_log_group(c, system, t, &mut s).await?;
    if !s.bucket.is_empty() {
        bucket::create(c, system, &s.bucket, t, bucket::Existing::Ours, &s.key_arn).await?;
    }
    if !s.table.is_empty() {
        protect(c, &s, cancel).await?;
    }
    if !s.vpc_id.is_empty() {
        ensure_file_system(c, system, t, &mut s, timeout, cancel).await?;
    }
    Ok(s)
}

/// Gives the system's own network (`vpc_id`) the zones it lacks (an earlier
/// build made two): returns its subnets then, one per zone.
pub async fn widen_network(
    c: &Clients,
    system: &str,
    t: &tags::Tags,
    vpc_id: &str,
) -> Result<Vec<String>, OpError> {
    Ok(network::ensure(c, system, t, vpc_id).await?.1)
}

/// Whether a network the provider made with `have` subnets lacks zones the
/// region has (see [`rules::lacks_zones`]).
pub async fn lacks_zones(c: &Clients, have: usize) -> Result<bool, OpError> {
    if have >= rules::WANTED_ZONES {
        return Ok(false);
    }
    Ok(rules::lacks_zones(
        have,
        network::region_zones(c).await?.len(),
    ))
}

/// Waits for the table to be `ACTIVE` and keeps its data safe (deletion
/// protection and point-in-time recovery, (re)applied: an adopted table, or
/// one of an interrupted create, may lack them).
pub async fn protect(
    c: &Clients,
    s: &Storage,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), OpError> {
    let catalog = async {
        if s.catalog.is_empty() {
            return Ok(());
        }
        table::protect(c, &s.catalog, &s.key_arn, cancel).await
    };
    tokio::try_join!(table::protect(c, &s.table, &s.key_arn, cancel), catalog)?;
    Ok(())
}

/// One object of a system's storage that carries the system's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tagged {
    /// The VPC or a subnet (only when the provider made the network).
    Network(String),
    Bucket,
    /// The DynamoDB table, by ARN.
    Table(String),
    /// The catalog's DynamoDB table, by ARN.
    Catalog(String),
    /// The KMS key, by ARN.
    Key(String),
    /// The CloudWatch log group, by ARN.
    LogGroup(String),
    /// The EFS file system, by id.
    FileSystem(String),
    /// Its mount targets' security group, by id (made by the provider
    /// whoever made the network).
    FileSystemGroup(String),
}

impl Tagged {
    fn describe(&self, s: &Storage) -> String {
        match self {
            Tagged::Network(id) => format!("network object {id}"),
            Tagged::Bucket => format!("S3 bucket {}", s.bucket),
            Tagged::Table(_) => format!("DynamoDB table {}", s.table),
            Tagged::Catalog(_) => format!("DynamoDB table {}", s.catalog),
            Tagged::Key(arn) => format!("KMS key {arn}"),
            Tagged::LogGroup(_) => format!("CloudWatch log group {}", s.log_group),
            Tagged::FileSystem(id) => format!("EFS file system {id}"),
            Tagged::FileSystemGroup(id) => format!("security group {id}"),
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
    system: &str,
    s: &Storage,
    network: NetworkOwner,
    expected: &tags::Tags,
    identity: &[&str],
) -> Result<Option<(String, tags::Tags)>, OpError> {
    let now = tags_now(c, system, s, network).await?;
    Ok(first_differing(now, expected, identity).map(|(object, own)| (object.describe(s), own)))
}

/// The first object whose own tags (but for the `identity` keys) are not
/// `expected` (`Name` aside on the network), with those tags.
fn first_differing(
    now: Vec<(Tagged, tags::Tags)>,
    expected: &tags::Tags,
    identity: &[&str],
) -> Option<(Tagged, tags::Tags)> {
    let expected_network = without_name(expected);
    now.into_iter().find_map(|(object, now)| {
        let own = tags::user_tags(&now, identity);
        let want = target_of(&object, expected, &expected_network);
        (&own != want).then_some((object, own))
    })
}

/// The tags an object is brought to: `want`, but for the network's `Name`.
fn target_of<'a>(
    object: &Tagged,
    want: &'a tags::Tags,
    want_network: &'a tags::Tags,
) -> &'a tags::Tags {
    // The file system's and its group's `Name` are the provider's too.
    if matches!(
        object,
        Tagged::Network(_) | Tagged::FileSystem(_) | Tagged::FileSystemGroup(_)
    ) {
        want_network
    } else {
        want
    }
}

/// The tags each object of the storage has now, the network's only when the
/// provider made it and without their `Name` (which stays the provider's).
async fn tags_now(
    c: &Clients,
    system: &str,
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
        let t = match s.seen.get(&s.table) {
            Some(t) => t.clone(),
            None => table::tags(c, &arn).await?,
        };
        out.push((Tagged::Table(arn), t));
    }
    if !s.catalog.is_empty() {
        let arn = if s.catalog_arn.is_empty() {
            table::arn_of(c, &s.catalog).await?
        } else {
            s.catalog_arn.clone()
        };
        let t = match s.seen.get(&s.catalog) {
            Some(t) => t.clone(),
            None => table::tags(c, &arn).await?,
        };
        out.push((Tagged::Catalog(arn), t));
    }
    if !s.key_arn.is_empty() {
        let t = key::tags(c, &s.key_arn).await?;
        out.push((Tagged::Key(s.key_arn.clone()), t));
    }
    if !s.log_group.is_empty() {
        let arn = if s.log_group_arn.is_empty() {
            log_group::arn_of(c, &s.log_group).await?
        } else {
            s.log_group_arn.clone()
        };
        let t = log_group::tags(c, &arn).await?;
        out.push((Tagged::LogGroup(arn), t));
    }
    if !s.file_system_id.is_empty() {
        let t = file_system::tags(c, &s.file_system_id).await?;
        out.push((Tagged::FileSystem(s.file_system_id.clone()), t));
        if let Some((id, t)) = file_system::group_tags(c, system).await? {
            out.push((Tagged::FileSystemGroup(id), t));
        }
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
    system: &str,
    s: &Storage,
    network: NetworkOwner,
    want: &tags::Tags,
) -> Result<(), OpError> {
    let want_network = without_name(want);
    for (object, now) in tags_now(c, system, s, network).await? {
        let target = target_of(&object, want, &want_network);
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
            Tagged::Catalog(arn) => table::retag(c, &arn, &changed, removed).await?,
            Tagged::Key(arn) => key::retag(c, &arn, &changed, removed).await?,
            Tagged::LogGroup(arn) => log_group::retag(c, &arn, &changed, removed).await?,
            Tagged::FileSystem(id) => file_system::retag(c, &id, &changed, removed).await?,
            Tagged::FileSystemGroup(id) => network::retag(c, &id, &changed, &removed).await?,
        }
    }
    Ok(())
}

// A storage delete (only when the user opted out of retaining it) runs in
// four parts, each when nothing needs it any more: the table at once, the
// bucket once no node can write to it, the key once the bucket and table
// are gone, the network once the network interfaces of the nodes and load
// balancers are gone.

/// Deletes the tables (log and catalog), each when it is the system's (by
/// its identity tags), and waits until they are gone. It depends on no other object: a destroy deletes
/// it beside the compute (nodes being terminated lose it a little sooner).
pub async fn delete_table(
    c: &Clients,
    system: &str,
    timeout: std::time::Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), OpError> {
    let one = |table: String| async move {
        if table::find(c, system, &table).await?.0 == Named::Ours {
            table::delete(c, &table, timeout, cancel).await?;
        }
        Ok::<_, OpError>(())
    };
    tokio::try_join!(
        one(rules::table_name(system)),
        one(rules::catalog_table_name(system))
    )?;
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

/// Deletes the log group, then the key's alias, and schedules the key's
/// deletion (KMS keeps it `PendingDeletion` for seven days, when it can
/// still be restored), each when it is the system's (by its identity tags).
/// After the table and bucket, and once the nodes are gone (they write to
/// the log group): all are encrypted with the key.
pub async fn delete_key(c: &Clients, system: &str) -> Result<(), OpError> {
    log_group::delete(c, system).await?;
    key::delete(c, system).await
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::resources::testing::tags as t;

    fn storage() -> Storage {
        Storage {
            vpc_id: "vpc-1".into(),
            subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
            bucket: "datomic-s-123".into(),
            table: "datomic-s".into(),
            table_arn: String::new(),
            catalog: "datomic-s--catalog".into(),
            catalog_arn: String::new(),
            key_arn: "arn:aws:kms:us-east-1:1:key/k-1".into(),
            log_group: "datomic-s".into(),
            log_group_arn: String::new(),
            file_system_id: "fs-1".into(),
            file_system_arn: String::new(),
            seen: Default::default(),
        }
    }

    #[test]
    fn any_found_part_makes_the_storage_adopted() {
        assert!(!Storage::default().has_any());
        // Subnets alone are never found without their VPC: not counted.
        let subnets_only = Storage {
            subnet_ids: vec!["subnet-a".into()],
            ..Storage::default()
        };
        assert!(!subnets_only.has_any());
        for s in [
            Storage {
                vpc_id: "vpc-1".into(),
                ..Storage::default()
            },
            Storage {
                bucket: "b".into(),
                ..Storage::default()
            },
            Storage {
                table: "t".into(),
                ..Storage::default()
            },
            Storage {
                key_arn: "arn:aws:kms:us-east-1:1:key/k".into(),
                ..Storage::default()
            },
            Storage {
                catalog: "c".into(),
                ..Storage::default()
            },
            Storage {
                log_group: "datomic-s".into(),
                ..Storage::default()
            },
        ] {
            assert!(s.has_any(), "{s:?}");
        }
    }

    #[test]
    fn strangers_refuse_the_create_in_one_error() {
        assert!(refuse_strangers(&[]).is_ok());
        let e = refuse_strangers(&["The bucket is not ours.".into(), "Nor the table.".into()])
            .expect_err("strangers refuse");
        assert!(matches!(e, OpError::NotOurs(_)), "{e:?}");
        assert_eq!(e.to_string(), "The bucket is not ours. Nor the table.");
    }

    #[test]
    fn the_network_is_compared_without_its_name() {
        let all = t(&[("Name", "datomic-s"), ("team", "data"), ("name", "lower")]);
        assert_eq!(
            without_name(&all),
            t(&[("team", "data"), ("name", "lower")])
        );
        assert_eq!(without_name(&tags::Tags::new()), tags::Tags::new());
    }

    #[test]
    fn the_network_is_the_providers_unless_the_state_says_otherwise() {
        assert_eq!(NetworkOwner::of_state(None), NetworkOwner::Provider);
        assert_eq!(NetworkOwner::of_state(Some(true)), NetworkOwner::Provider);
        assert_eq!(NetworkOwner::of_state(Some(false)), NetworkOwner::User);
    }

    #[test]
    fn objects_are_described_by_kind() {
        let s = storage();
        assert_eq!(
            Tagged::Network("subnet-a".into()).describe(&s),
            "network object subnet-a"
        );
        assert_eq!(Tagged::Bucket.describe(&s), "S3 bucket datomic-s-123");
        // The table by its name, not by the ARN it is tagged by.
        assert_eq!(
            Tagged::Table("arn:aws:dynamodb:x:1:table/datomic-s".into()).describe(&s),
            "DynamoDB table datomic-s"
        );
        assert_eq!(
            Tagged::Catalog("arn:aws:dynamodb:x:1:table/datomic-s--catalog".into()).describe(&s),
            "DynamoDB table datomic-s--catalog"
        );
        assert_eq!(
            Tagged::Key(s.key_arn.clone()).describe(&s),
            "KMS key arn:aws:kms:us-east-1:1:key/k-1"
        );
        assert_eq!(
            Tagged::LogGroup("arn:aws:logs:x:1:log-group:datomic-s".into()).describe(&s),
            "CloudWatch log group datomic-s"
        );
    }

    #[test]
    fn only_the_network_is_retagged_without_name() {
        let want = t(&[("Name", "n"), ("team", "data")]);
        let want_network = without_name(&want);
        assert_eq!(
            target_of(&Tagged::Network("vpc-1".into()), &want, &want_network),
            &t(&[("team", "data")])
        );
        assert_eq!(target_of(&Tagged::Bucket, &want, &want_network), &want);
        assert_eq!(
            target_of(&Tagged::Table("arn".into()), &want, &want_network),
            &want
        );
    }

    #[test]
    fn the_first_object_with_other_tags_is_the_drift() {
        let identity = [rules::TAG_SYSTEM, rules::TAG_MANAGED_BY];
        let expected = t(&[("Name", "mine"), ("team", "data")]);
        let with_identity = |pairs: &[(&str, &str)]| {
            let mut x = t(pairs);
            x.insert(rules::TAG_SYSTEM.into(), "s".into());
            x.insert(rules::TAG_MANAGED_BY.into(), "terraform".into());
            x.insert("aws:cloudformation:stack".into(), "x".into());
            x
        };
        // Identity and AWS keys aside, every object as expected (the
        // network without the `Name` it is read without): no drift.
        let same = vec![
            (
                Tagged::Network("vpc-1".into()),
                with_identity(&[("team", "data")]),
            ),
            (
                Tagged::Bucket,
                with_identity(&[("Name", "mine"), ("team", "data")]),
            ),
            (
                Tagged::Table("arn".into()),
                with_identity(&[("Name", "mine"), ("team", "data")]),
            ),
        ];
        assert_eq!(first_differing(same, &expected, &identity), None);
        assert_eq!(first_differing(Vec::new(), &expected, &identity), None);

        // Two objects changed by hand: the first is reported, with its own tags.
        let drifted = vec![
            (
                Tagged::Network("vpc-1".into()),
                with_identity(&[("team", "data")]),
            ),
            (
                Tagged::Bucket,
                with_identity(&[("Name", "mine"), ("team", "ops")]),
            ),
            (Tagged::Table("arn".into()), with_identity(&[])),
        ];
        assert_eq!(
            first_differing(drifted, &expected, &identity),
            Some((Tagged::Bucket, t(&[("Name", "mine"), ("team", "ops")])))
        );

        // A network object with an extra tag differs too.
        let extra = vec![(
            Tagged::Network("subnet-a".into()),
            with_identity(&[("team", "data"), ("cost", "1")]),
        )];
        assert_eq!(
            first_differing(extra, &expected, &identity),
            Some((
                Tagged::Network("subnet-a".into()),
                t(&[("team", "data"), ("cost", "1")])
            ))
        );
    }

    #[test]
    fn a_retag_removes_and_sets_only_what_differs() {
        let want = t(&[("Name", "n"), ("team", "data"), ("env", "prod")]);
        let want_network = without_name(&want);
        // The network as read (no `Name`): the `Name` of `want` is not written.
        let now = t(&[("team", "ops"), ("old", "x"), ("aws:reserved", "y")]);
        let (removed, changed) = tags::diff(
            &now,
            target_of(&Tagged::Network("vpc-1".into()), &want, &want_network),
        );
        assert_eq!(removed, vec!["old".to_string()]);
        assert_eq!(changed, t(&[("team", "data"), ("env", "prod")]));
        // The table gets the `Name` too.
        let (removed, changed) = tags::diff(
            &now,
            target_of(&Tagged::Table("arn".into()), &want, &want_network),
        );
        assert_eq!(removed, vec!["old".to_string()]);
        assert_eq!(changed, want);
        // Nothing to write when it has the tags already.
        let (removed, changed) =
            tags::diff(&want, target_of(&Tagged::Bucket, &want, &want_network));
        assert!(removed.is_empty() && changed.is_empty());
    }
}
