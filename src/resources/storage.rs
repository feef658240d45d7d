//! A system's storage: its network (VPC and subnets in two availability
//! zones: Datomic counts the network as storage), S3 bucket and DynamoDB
//! table. Found by identity tags (and names), so a system re-created with the
//! same name adopts what a previous one retained; an object with our name
//! but not our tags is never adopted, changed or deleted (see
//! [`super::ownership`]), and the bucket must belong to the account.

use aws_sdk_ec2::types::{Filter, ResourceType, TagSpecification};

use super::journal;
use crate::aws::{tags, AwsError, Clients, Found};
use crate::rules;

pub const VPC_CIDR: &str = "10.213.0.0/16";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Storage {
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub bucket: String,
    pub table: String,
    /// The table's ARN when it was just described ("" otherwise: looked up when needed).
    pub table_arn: String,
}

/// The system's bucket name: it carries the account id, so that no other
/// account can guess it and take it first.
pub async fn bucket_name(c: &Clients, system: &str) -> Result<String, AwsError> {
    Ok(rules::bucket_name(system, &c.account().await?))
}

/// The bucket name when the account id is known without asking AWS (plans).
pub fn known_bucket_name(c: &Clients, system: &str) -> Option<String> {
    c.account_id().map(|a| rules::bucket_name(system, a))
}

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

fn spec(rt: ResourceType, t: &tags::Tags) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rt)
        .set_tags(Some(tags::ec2(t)))
        .build()
}

pub async fn find_vpc(c: &Clients, system: &str) -> Result<Option<String>, AwsError> {
    Ok(vpc_ids(c, system).await?.into_iter().next())
}

/// The ids of the VPCs tagged as `system`'s, sorted (more than one only after
/// a create retried when its response was lost).
async fn vpc_ids(c: &Clients, system: &str) -> Result<Vec<String>, AwsError> {
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

fn one_per_zone(subnets: &[(String, String)]) -> Vec<String> {
    let extra = duplicates(subnets);
    subnets
        .iter()
        .filter(|(_, id)| !extra.contains(id))
        .map(|(_, id)| id.clone())
        .collect()
}

/// The system's subnets in its VPC as (availability zone, subnet id),
/// sorted by zone: only those tagged as the system's (a subnet someone adds
/// to the VPC is neither adopted nor deleted).
pub async fn find_subnets(
    c: &Clients,
    system: &str,
    vpc_id: &str,
) -> Result<Vec<(String, String)>, AwsError> {
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

/// An S3 bucket or DynamoDB table looked up by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Named {
    Missing,
    /// It exists and its identity tags make it the system's.
    Ours,
    /// It exists and is not the system's: the error to give when it matters.
    NotOurs(String),
}

/// The system's bucket: S3 answers 403 to HeadBucket with an expected owner
/// that is not the bucket's, so a bucket of another account is never taken
/// for ours; one of this account is ours only by its tags, or when this
/// working directory's journal says it created it (a create interrupted
/// before the tags were set).
async fn find_bucket(c: &Clients, system: &str, bucket: &str) -> Result<Named, AwsError> {
    let account = c.account().await?;
    if let Err(e) =
        c.s3.head_bucket()
            .bucket(bucket)
            .expected_bucket_owner(&account)
            .send()
            .await
    {
        let forbidden = e.raw_response().is_some_and(|r| r.status().as_u16() == 403);
        let e = AwsError::from_sdk(e);
        if forbidden {
            return Ok(Named::NotOurs(format!(
                "The S3 bucket \"{bucket}\" exists but is not owned by this AWS account ({account}): S3 bucket names are global, and the provider never writes to a bucket of another account. Allowed: another system name, or ask the bucket's owner to delete it."
            )));
        }
        if e.is_not_found() || e.message.contains("404") {
            return Ok(Named::Missing);
        }
        return Err(e);
    }
    let tags = bucket_tags(c, bucket).await?;
    Ok(match rules::ownership(&tags, system, None) {
        rules::Ownership::Ours => Named::Ours,
        _ if tags.is_empty() && journal::recall(bucket).is_some() => Named::Ours,
        rules::Ownership::NotOurs { found } => Named::NotOurs(rules::not_ours_detail(
            "S3 bucket",
            bucket,
            system,
            None,
            &found,
        )),
    })
}

/// A bucket's tags (none when it has no tag set).
async fn bucket_tags(c: &Clients, bucket: &str) -> Result<tags::Tags, AwsError> {
    let account = c.account().await?;
    match c
        .s3
        .get_bucket_tagging()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()),
        Err(e) => {
            let e = AwsError::from_sdk(e);
            if e.code_is(&["NoSuchTagSet"]) {
                Ok(tags::Tags::new())
            } else {
                Err(e)
            }
        }
    }
}

/// The system's table, with its ARN when it exists.
async fn find_table(c: &Clients, system: &str, table: &str) -> Result<(Named, String), AwsError> {
    let Some(arn) = c
        .dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?
        .map(|o| {
            o.table()
                .and_then(|t| t.table_arn())
                .unwrap_or_default()
                .to_string()
        })
    else {
        return Ok((Named::Missing, String::new()));
    };
    let named = match rules::ownership(&table_tags(c, &arn).await?, system, None) {
        rules::Ownership::Ours => Named::Ours,
        rules::Ownership::NotOurs { found } => Named::NotOurs(rules::not_ours_detail(
            "DynamoDB table",
            table,
            system,
            None,
            &found,
        )),
    };
    Ok((named, arn))
}

/// A table's tags.
async fn table_tags(c: &Clients, arn: &str) -> Result<tags::Tags, AwsError> {
    let mut t = tags::Tags::new();
    let mut next: Option<String> = None;
    loop {
        let page = c
            .dynamodb
            .list_tags_of_resource()
            .resource_arn(arn)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        for tag in page.tags() {
            t.insert(tag.key().to_string(), tag.value().to_string());
        }
        match page.next_token() {
            Some(n) if !n.is_empty() => next = Some(n.to_string()),
            _ => return Ok(t),
        }
    }
}

/// The storage of `system` as it exists now: the parts that exist and are
/// the system's (by identity tags). Also what was found with the system's
/// names that is not its own, for a create to refuse.
async fn find_with_strangers(
    c: &Clients,
    system: &str,
) -> Result<(Storage, Vec<String>), AwsError> {
    let mut s = Storage::default();
    let mut strangers = Vec::new();
    if let Some(vpc) = find_vpc(c, system).await? {
        s.subnet_ids = one_per_zone(&find_subnets(c, system, &vpc).await?);
        s.vpc_id = vpc;
    }
    let bucket = bucket_name(c, system).await?;
    match find_bucket(c, system, &bucket).await? {
        Named::Ours => s.bucket = bucket,
        Named::NotOurs(why) => strangers.push(why),
        Named::Missing => {}
    }
    let table = rules::table_name(system);
    match find_table(c, system, &table).await? {
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
pub async fn find(c: &Clients, system: &str) -> Result<Storage, AwsError> {
    Ok(find_with_strangers(c, system).await?.0)
}

/// Checks a network the user brings (`vpc_id` + `subnet_ids`): the VPC and
/// every subnet exist, the subnets are in that VPC, and they span at least 2
/// availability zones. When it does not fit: the attribute at fault and a
/// message for the user.
///
/// `probe`: through the plan-time client (one retry, short timeouts).
pub async fn check_existing_network(
    c: &Clients,
    vpc_id: &str,
    subnet_ids: &[String],
    probe: bool,
) -> Result<Option<(&'static str, String)>, AwsError> {
    let ec2 = if probe { &c.ec2_probe } else { &c.ec2 };
    match ec2.describe_vpcs().vpc_ids(vpc_id).send().await {
        Ok(o) if o.vpcs().iter().any(|v| v.vpc_id() == Some(vpc_id)) => {}
        Ok(_) => return Ok(Some(("vpc_id", missing_vpc(c, vpc_id)))),
        Err(e) => {
            let e = AwsError::from_sdk(e);
            if e.is_not_found() {
                return Ok(Some(("vpc_id", missing_vpc(c, vpc_id))));
            }
            return Err(e);
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
) -> Result<Option<String>, AwsError> {
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
            return Err(e);
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
    if zones.len() < 2 {
        return Ok(Some(format!(
            "The subnets span {} availability zone(s) ({}); a Datomic system spreads its nodes over at least 2.",
            zones.len(),
            zones.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(None)
}

/// Creates whatever part of the storage is missing; returns the whole and
/// whether anything already existed (adopted from a retained system). With
/// `network` (a VPC and subnets the user brings) no network is created.
pub async fn ensure(
    c: &Clients,
    system: &str,
    t: &tags::Tags,
    network: Option<(String, Vec<String>)>,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(Storage, bool), AwsError> {
    let (mut s, strangers) = find_with_strangers(c, system).await?;
    if !strangers.is_empty() {
        return Err(AwsError::new(None, strangers.join(" ")));
    }
    let adopted = !s.vpc_id.is_empty() || !s.bucket.is_empty() || !s.table.is_empty();
    if let Some((vpc, subnets)) = network {
        s.vpc_id = vpc;
        s.subnet_ids = subnets;
        ensure_data(c, system, t, &mut s, cancel).await?;
        if adopted {
            retag(c, &s, false, t).await?;
        }
        return Ok((s, adopted));
    }

    if s.vpc_id.is_empty() {
        c.ec2
            .create_vpc()
            .cidr_block(VPC_CIDR)
            .tag_specifications(spec(ResourceType::Vpc, &named(t, system)))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        s.vpc_id = dedupe_vpcs(c, system).await?;
    }
    let existing = find_subnets(c, system, &s.vpc_id).await?;
    let azs = c
        .ec2
        .describe_availability_zones()
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    let zones: Vec<String> = azs
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_string))
        .take(2)
        .collect();
    if zones.len() < 2 {
        return Err(AwsError::new(
            None,
            format!(
                "region {} has fewer than 2 availability zones; a Datomic system spreads over 2",
                c.region
            ),
        ));
    }
    let mut created = false;
    for (i, zone) in zones.iter().enumerate() {
        if existing.iter().any(|(z, _)| z == zone) {
            continue;
        }
        let result = c
            .ec2
            .create_subnet()
            .vpc_id(&s.vpc_id)
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
            Err(e) if !e.code_is(&["InvalidSubnet.Conflict"]) => return Err(e),
            _ => {}
        }
        created = true;
    }
    let subnets = if created {
        find_subnets(c, system, &s.vpc_id).await?
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
    s.subnet_ids = one_per_zone(&subnets);
    ensure_data(c, system, t, &mut s, cancel).await?;
    if adopted {
        // What a previous system retained carries its tags: make them this one's.
        retag(c, &s, true, t).await?;
    }
    Ok((s, adopted))
}

/// The S3 bucket and DynamoDB table, created when missing.
async fn ensure_data(
    c: &Clients,
    system: &str,
    t: &tags::Tags,
    s: &mut Storage,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), AwsError> {
    // Always (re)applied: the bucket may remain from a create interrupted
    // before its settings or tags were set, and an adopted table may lack
    // its protection.
    let bucket = bucket_name(c, system).await?;
    create_bucket(c, system, &bucket, t, s.bucket.is_empty()).await?;
    s.bucket = bucket;
    let table = rules::table_name(system);
    if s.table.is_empty() {
        create_table(c, &table, t).await?;
        s.table = table.clone();
    }
    protect_table(c, &table, cancel).await
}

/// The system's VPC after a create: if a retried create made two, the
/// extra one (empty) is deleted.
async fn dedupe_vpcs(c: &Clients, system: &str) -> Result<String, AwsError> {
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

/// The bucket policy every system bucket carries: requests without TLS are
/// refused, whoever makes them.
fn tls_only_policy(bucket: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    })
    .to_string()
}

/// Creates the bucket (when `create`), then sets its encryption, public
/// access block, ownership (bucket owner enforced), versioning, TLS-only
/// policy and tags: idempotent PUTs, safe to repeat. Every call names the
/// account as the bucket's expected owner.
async fn create_bucket(
    c: &Clients,
    system: &str,
    bucket: &str,
    t: &tags::Tags,
    create: bool,
) -> Result<(), AwsError> {
    use aws_sdk_s3::types::{
        BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
        ObjectOwnership, OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration,
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule, VersioningConfiguration,
    };
    let account = c.account().await?;
    let mut req = c.s3.create_bucket().bucket(bucket);
    if c.region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(c.region.as_str()))
                .build(),
        );
    }
    if create {
        // Its tags come after the create: until then, this working
        // directory's journal is what says the bucket is ours.
        journal::remember(bucket);
        match req.send().await.map_err(AwsError::from_sdk) {
            Ok(_) => {}
            // A create retried after its response was lost, or a bucket made
            // meanwhile: ours only if find_bucket says so.
            Err(e) if e.code_is(&["BucketAlreadyOwnedByYou"]) => {
                if let Named::NotOurs(why) = find_bucket(c, system, bucket).await? {
                    return Err(AwsError::new(e.code.as_deref(), why));
                }
            }
            Err(e) if e.code_is(&["BucketAlreadyExists"]) => {
                journal::forget(bucket);
                return Err(AwsError::new(
                    e.code.as_deref(),
                    format!("The S3 bucket \"{bucket}\" already exists in another AWS account (S3 bucket names are global), so it cannot be this system's: the provider never writes to it. Allowed: another system name."),
                ));
            }
            Err(e) => return Err(e),
        }
    }
    let bad = |e: aws_sdk_s3::error::BuildError| AwsError::new(None, e.to_string());
    let sse = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::Aes256)
                        .build()
                        .map_err(bad)?,
                )
                .build(),
        )
        .build()
        .map_err(bad)?;
    c.s3.put_bucket_encryption()
        .bucket(bucket)
        .expected_bucket_owner(&account)
        .server_side_encryption_configuration(sse)
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    c.s3.put_public_access_block()
        .bucket(bucket)
        .expected_bucket_owner(&account)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .block_public_policy(true)
                .ignore_public_acls(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    c.s3.put_bucket_ownership_controls()
        .bucket(bucket)
        .expected_bucket_owner(&account)
        .ownership_controls(
            OwnershipControls::builder()
                .rules(
                    OwnershipControlsRule::builder()
                        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                        .build()
                        .map_err(bad)?,
                )
                .build()
                .map_err(bad)?,
        )
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    c.s3.put_bucket_versioning()
        .bucket(bucket)
        .expected_bucket_owner(&account)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    c.s3.put_bucket_policy()
        .bucket(bucket)
        .expected_bucket_owner(&account)
        .policy(tls_only_policy(bucket))
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    put_bucket_tags(c, bucket, t).await?;
    journal::forget(bucket);
    Ok(())
}

/// Sets the bucket's tags to `t` (S3 replaces the whole set).
async fn put_bucket_tags(c: &Clients, bucket: &str, t: &tags::Tags) -> Result<(), AwsError> {
    use aws_sdk_s3::types::{Tag, Tagging};
    let bad = |e: aws_sdk_s3::error::BuildError| AwsError::new(None, e.to_string());
    let tag_set = t
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(bad))
        .collect::<Result<Vec<_>, _>>()?;
    c.s3.put_bucket_tagging()
        .bucket(bucket)
        .expected_bucket_owner(c.account().await?)
        .tagging(
            Tagging::builder()
                .set_tag_set(Some(tag_set))
                .build()
                .map_err(bad)?,
        )
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    Ok(())
}

async fn create_table(c: &Clients, table: &str, t: &tags::Tags) -> Result<(), AwsError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        SseSpecification,
    };
    let bad = |e: aws_sdk_dynamodb::error::BuildError| AwsError::new(None, e.to_string());
    let created = c
        .dynamodb
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(bad)?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .map_err(bad)?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .sse_specification(SseSpecification::builder().enabled(true).build())
        .deletion_protection_enabled(true)
        .set_tags(Some(tags::dynamodb(t)))
        .send()
        .await
        .map(|_| ())
        .map_err(AwsError::from_sdk);
    AwsError::tolerate_exists(created)
}

/// Keeps the table's data safe: deletion protection on (lifted only inside
/// a storage delete the user asked for) and point-in-time recovery, both
/// (re)applied to an adopted table. Waits for the table to be ACTIVE first,
/// as DynamoDB refuses backups settings while it is being created: the
/// system's create goes on with an ACTIVE table.
/// How long a new table may take to become ACTIVE (DynamoDB: seconds to minutes).
const TABLE_ACTIVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

async fn protect_table(
    c: &Clients,
    table: &str,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), AwsError> {
    use aws_sdk_dynamodb::types::PointInTimeRecoverySpecification;
    crate::aws::states::table_active(c, table, TABLE_ACTIVE_TIMEOUT, cancel).await?;
    let desc = c
        .dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    let protected = desc
        .table()
        .and_then(|t| t.deletion_protection_enabled())
        .unwrap_or(false);
    if !protected {
        c.dynamodb
            .update_table()
            .table_name(table)
            .deletion_protection_enabled(true)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
    let backups = c
        .dynamodb
        .describe_continuous_backups()
        .table_name(table)
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    let pitr_on = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .is_some_and(|s| s.as_str() == "ENABLED");
    if !pitr_on {
        let bad = |e: aws_sdk_dynamodb::error::BuildError| AwsError::new(None, e.to_string());
        c.dynamodb
            .update_continuous_backups()
            .table_name(table)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(true)
                    .build()
                    .map_err(bad)?,
            )
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
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

/// The first object of the storage whose tags, but for the `identity` keys,
/// are not `expected` (tags changed by hand): its description and its tags.
pub async fn differing_tags(
    c: &Clients,
    s: &Storage,
    network_managed: bool,
    expected: &tags::Tags,
    identity: &[&str],
) -> Result<Option<(String, tags::Tags)>, AwsError> {
    let expected_network = without_name(expected);
    for (object, now) in tags_now(c, s, network_managed).await? {
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
    network_managed: bool,
) -> Result<Vec<(Tagged, tags::Tags)>, AwsError> {
    let mut out = Vec::new();
    if network_managed && !s.vpc_id.is_empty() {
        let ids: Vec<String> = std::iter::once(s.vpc_id.clone())
            .chain(s.subnet_ids.iter().cloned())
            .collect();
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
        out.extend(by_id.into_iter().map(|(id, t)| (Tagged::Network(id), t)));
    }
    if !s.bucket.is_empty() {
        out.push((Tagged::Bucket, bucket_tags(c, &s.bucket).await?));
    }
    if !s.table.is_empty() {
        let arn = table_arn(c, s).await?;
        let t = table_tags(c, &arn).await?;
        out.push((Tagged::Table(arn), t));
    }
    Ok(out)
}

async fn table_arn(c: &Clients, s: &Storage) -> Result<String, AwsError> {
    if !s.table_arn.is_empty() {
        return Ok(s.table_arn.clone());
    }
    Ok(c.dynamodb
        .describe_table()
        .table_name(&s.table)
        .send()
        .await
        .map_err(AwsError::from_sdk)?
        .table()
        .and_then(|t| t.table_arn())
        .unwrap_or_default()
        .to_string())
}

/// Brings every object of the storage to the tags `want` (the system's
/// tags, `default_tags` and identity): reads what each has now and writes
/// only what differs, so tags changed by hand on one object are mended too.
/// The network is retagged only when the provider made it; the `Name` tags of
/// the VPC and subnets stay the provider's.
pub async fn retag(
    c: &Clients,
    s: &Storage,
    network_managed: bool,
    want: &tags::Tags,
) -> Result<(), AwsError> {
    let want_network = without_name(want);
    for (object, now) in tags_now(c, s, network_managed).await? {
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
            Tagged::Network(id) => {
                if !changed.is_empty() {
                    c.ec2
                        .create_tags()
                        .resources(&id)
                        .set_tags(Some(tags::ec2(&changed)))
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
                        .resources(&id)
                        .set_tags(Some(gone))
                        .send()
                        .await
                        .map_err(AwsError::from_sdk)?;
                }
            }
            // S3 replaces the whole set: keep the ignored tags it has.
            Tagged::Bucket => {
                put_bucket_tags(c, &s.bucket, &tags::keep_ignored(&now, target)).await?
            }
            Tagged::Table(arn) => {
                if !changed.is_empty() {
                    c.dynamodb
                        .tag_resource()
                        .resource_arn(&arn)
                        .set_tags(Some(tags::dynamodb(&changed)))
                        .send()
                        .await
                        .map_err(AwsError::from_sdk)?;
                }
                if !removed.is_empty() {
                    c.dynamodb
                        .untag_resource()
                        .resource_arn(&arn)
                        .set_tag_keys(Some(removed))
                        .send()
                        .await
                        .map_err(AwsError::from_sdk)?;
                }
            }
        }
    }
    Ok(())
}

/// Deletes the storage (only when the user opted out of retaining it).
/// Subnets and VPC wait out `DependencyViolation` (network interfaces of
/// nodes and load balancers just deleted) until `timeout`. Returns what it
/// kept although asked to delete it, and why (for a warning).
pub async fn delete(
    c: &Clients,
    system: &str,
    timeout: std::time::Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Vec<String>, AwsError> {
    use crate::aws::eventual::{delete_network, Network};
    // Only what is the system's by its identity tags: find leaves the rest out.
    let s = find(c, system).await?;
    let mut kept = Vec::new();
    if !s.table.is_empty() {
        // Deletion protection is lifted here only: the user asked for it.
        let lifted = c
            .dynamodb
            .update_table()
            .table_name(&s.table)
            .deletion_protection_enabled(false)
            .send()
            .await
            .map_err(AwsError::from_sdk)
            .found()?;
        if lifted.is_some() {
            c.dynamodb
                .delete_table()
                .table_name(&s.table)
                .send()
                .await
                .map_err(AwsError::from_sdk)
                .found()?;
            crate::aws::states::table_deleted(c, &s.table, timeout, cancel).await?;
        }
    }
    if !s.bucket.is_empty() {
        let account = c.account().await?;
        empty_bucket(c, &s.bucket, &account).await?;
        c.s3.delete_bucket()
            .bucket(&s.bucket)
            .expected_bucket_owner(&account)
            .send()
            .await
            .map_err(AwsError::from_sdk)
            .found()?;
    }
    // Every subnet tagged as the system's (duplicates of a retried create too).
    let subnets: Vec<String> = if s.vpc_id.is_empty() {
        Vec::new()
    } else {
        find_subnets(c, system, &s.vpc_id)
            .await?
            .into_iter()
            .map(|(_, id)| id)
            .collect()
    };
    for subnet in &subnets {
        delete_network(c, Network::Subnet(subnet), timeout, cancel).await?;
    }
    if !s.vpc_id.is_empty() {
        let others = other_subnets(c, &s.vpc_id, &subnets).await?;
        if others.is_empty() {
            delete_network(c, Network::Vpc(&s.vpc_id), timeout, cancel).await?;
        } else {
            kept.push(format!(
                "The VPC {} was kept: it holds subnets the system did not make ({}), and the provider never deletes what is not its own. Delete them and then the VPC yourself if nobody needs them.",
                s.vpc_id,
                others.join(", ")
            ));
        }
    }
    Ok(kept)
}

/// Subnets in the system's VPC that are not the system's (added by someone).
async fn other_subnets(c: &Clients, vpc: &str, ours: &[String]) -> Result<Vec<String>, AwsError> {
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

/// Deletes every object version and delete marker (the bucket is versioned).
async fn empty_bucket(c: &Clients, bucket: &str, account: &str) -> Result<(), AwsError> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    loop {
        let out =
            c.s3.list_object_versions()
                .bucket(bucket)
                .expected_bucket_owner(account)
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
        let versions = out.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = out
            .delete_markers()
            .iter()
            .map(|m| (m.key(), m.version_id()));
        let keys: Vec<ObjectIdentifier> = versions
            .chain(markers)
            .filter_map(|(key, version)| {
                ObjectIdentifier::builder()
                    .set_key(key.map(str::to_string))
                    .set_version_id(version.map(str::to_string))
                    .build()
                    .ok()
            })
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        let del = Delete::builder()
            .set_objects(Some(keys))
            .build()
            .map_err(|e| AwsError::new(None, e.to_string()))?;
        c.s3.delete_objects()
            .bucket(bucket)
            .expected_bucket_owner(account)
            .delete(del)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
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
