//! The system's S3 bucket: named with the account id, found by HeadBucket
//! with the account as expected owner and by identity tags, made versioned,
//! encrypted, TLS-only and owner-enforced, and emptied (every version) before
//! its delete.

use super::super::journal;
use super::Named;
use crate::aws::error::code;
use crate::aws::{tags, AwsError, Clients, Found};
use crate::resources::error::{NotOurs, OpError};
use crate::rules;

/// The system's bucket name: it carries the account id, so that no other
/// account can guess it and take it first.
pub async fn bucket_name(c: &Clients, system: &str) -> Result<String, OpError> {
    Ok(rules::bucket_name(system, &c.account().await?))
}

/// The bucket name when the account id is known without asking AWS (plans).
pub fn known_bucket_name(c: &Clients, system: &str) -> Option<String> {
    c.account_id().map(|a| rules::bucket_name(system, a))
}

/// The system's bucket: S3 answers 403 to HeadBucket with an expected owner
/// that is not the bucket's, so a bucket of another account is never taken
/// for ours; one of this account is ours only by its tags, or when this
/// working directory's journal says it created it (a create interrupted
/// before the tags were set).
pub async fn find(c: &Clients, system: &str, bucket: &str) -> Result<Named, OpError> {
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
        if e.is_http_not_found() {
            return Ok(Named::Missing);
        }
        return Err(e.into());
    }
    let tags = tags(c, bucket).await?;
    Ok(named_by_tags(&tags, system, bucket, || {
        journal::recall(bucket).is_some()
    }))
}

/// Whose a bucket of this account is: the system's by its identity tags,
/// or when it has none and `created_here` (this working directory's journal
/// says its create was cut short before its tags).
fn named_by_tags(
    tags: &tags::Tags,
    system: &str,
    bucket: &str,
    created_here: impl FnOnce() -> bool,
) -> Named {
    match rules::ownership(tags, system, None) {
        rules::Ownership::Ours => Named::Ours,
        _ if tags.is_empty() && created_here() => Named::Ours,
        rules::Ownership::NotOurs { found } => Named::NotOurs(rules::not_ours_detail(
            "S3 bucket",
            bucket,
            system,
            None,
            &found,
        )),
    }
}

/// A bucket's tags (none when it has no tag set).
pub async fn tags(c: &Clients, bucket: &str) -> Result<tags::Tags, OpError> {
    let account = c.account().await?;
    tags_owned_by(c, bucket, &account).await
}

/// The tags of a bucket of account `account` (none when it has no tag set).
pub async fn tags_owned_by(
    c: &Clients,
    bucket: &str,
    account: &str,
) -> Result<tags::Tags, OpError> {
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
            if e.code_is(&[code::NO_SUCH_TAG_SET]) {
                Ok(tags::Tags::new())
            } else {
                Err(e.into())
            }
        }
    }
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

/// The bucket's default encryption: SSE-KMS with the system's key, with an
/// S3 bucket key (fewer KMS requests, so lower cost and no KMS throttling).
fn encryption(
    key_arn: &str,
) -> Result<aws_sdk_s3::types::ServerSideEncryptionConfiguration, OpError> {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let bad = |e: aws_sdk_s3::error::BuildError| OpError::request("S3", e);
    ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::AwsKms)
                        .kms_master_key_id(key_arn)
                        .build()
                        .map_err(bad)?,
                )
                .bucket_key_enabled(true)
                .build(),
        )
        .build()
        .map_err(bad)
}

/// What a look-up found of the system's bucket before [`create`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// No bucket yet: [`create`] makes it.
    Missing,
    /// The system's own (by its tags): [`create`] only sets its settings.
    Ours,
}

/// Blocks every kind of public access to a bucket of `account` (the
/// system's bucket and the region's code bucket alike).
pub async fn block_public_access(c: &Clients, bucket: &str, account: &str) -> Result<(), OpError> {
    use aws_sdk_s3::types::PublicAccessBlockConfiguration;
    c.s3.put_public_access_block()
        .bucket(bucket)
        .expected_bucket_owner(account)
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
    Ok(())
}

/// Creates the bucket (when `Existing::Missing`), then sets its encryption, public
/// access block, ownership (bucket owner enforced), versioning, TLS-only
/// policy and tags: idempotent PUTs, safe to repeat. Every call names the
/// account as the bucket's expected owner.
pub async fn create(
    c: &Clients,
    system: &str,
    bucket: &str,
    t: &tags::Tags,
    found: Existing,
    key_arn: &str,
) -> Result<(), OpError> {
    use aws_sdk_s3::types::{
        BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
        ObjectOwnership, OwnershipControls, OwnershipControlsRule, VersioningConfiguration,
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
    if found == Existing::Missing {
        // Its tags come after the create: until then, this working
        // directory's journal is what says the bucket is ours.
        journal::remember(bucket);
        match req.send().await.map_err(AwsError::from_sdk) {
            Ok(_) => {}
            // A create retried after its response was lost, or a bucket made
            // meanwhile: ours only if [`find`] says so.
            Err(e) if e.code_is(&[code::BUCKET_ALREADY_OWNED_BY_YOU]) => {
                if let Named::NotOurs(detail) = find(c, system, bucket).await? {
                    return Err(NotOurs { detail }.into());
                }
            }
            Err(e) if e.code_is(&[code::BUCKET_ALREADY_EXISTS]) => {
                journal::forget(bucket);
                return Err(NotOurs {
                    detail: format!("The S3 bucket \"{bucket}\" already exists in another AWS account (S3 bucket names are global), so it cannot be this system's: the provider never writes to it. Allowed: another system name."),
                }
                .into());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let bad = |e: aws_sdk_s3::error::BuildError| OpError::request("S3", e);
    c.s3.put_bucket_encryption()
        .bucket(bucket)
        .expected_bucket_owner(&account)
        .server_side_encryption_configuration(encryption(key_arn)?)
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    block_public_access(c, bucket, &account).await?;
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
    put_tags(c, bucket, t).await?;
    journal::forget(bucket);
    Ok(())
}

/// Sets the bucket's tags to `t` (S3 replaces the whole set).
pub async fn put_tags(c: &Clients, bucket: &str, t: &tags::Tags) -> Result<(), OpError> {
    use aws_sdk_s3::types::{Tag, Tagging};
    let bad = |e: aws_sdk_s3::error::BuildError| OpError::request("S3", e);
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

/// Empties the bucket (every version) and deletes it; a bucket already gone
/// counts as deleted.
pub async fn delete(c: &Clients, bucket: &str) -> Result<(), OpError> {
    let account = c.account().await?;
    empty(c, bucket, &account).await?;
    c.s3.delete_bucket()
        .bucket(bucket)
        .expected_bucket_owner(&account)
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?;
    Ok(())
}

/// Deletes every object version and delete marker (the bucket is versioned).
async fn empty(c: &Clients, bucket: &str, account: &str) -> Result<(), OpError> {
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
            .map_err(|e| OpError::request("S3", e))?;
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

    fn ours(system: &str) -> tags::Tags {
        [
            (rules::TAG_MANAGED_BY, rules::MANAGED_BY_VALUE),
            (rules::TAG_SYSTEM, system),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn a_bucket_is_the_systems_by_its_tags_or_the_journal_when_untagged() {
        let never = || -> bool { panic!("the journal is asked only of an untagged bucket") };
        assert_eq!(named_by_tags(&ours("s"), "s", "b", never), Named::Ours);
        // Another system's tags: the journal does not make it ours.
        let Named::NotOurs(why) = named_by_tags(&ours("t"), "s", "b", never) else {
            panic!("another system's bucket is not ours");
        };
        assert!(why.contains("S3 bucket \"b\""), "{why}");
        assert!(why.contains("datomic:system=\"t\""), "{why}");
        // Untagged: ours only when this working directory created it.
        assert_eq!(
            named_by_tags(&tags::Tags::new(), "s", "b", || true),
            Named::Ours
        );
        assert!(matches!(
            named_by_tags(&tags::Tags::new(), "s", "b", || false),
            Named::NotOurs(_)
        ));
        // Tagged by someone else (no identity tags): never the journal's.
        let other: tags::Tags = [("team".to_string(), "x".to_string())].into();
        assert!(matches!(
            named_by_tags(&other, "s", "b", never),
            Named::NotOurs(_)
        ));
    }

    #[test]
    fn the_policy_refuses_every_request_without_tls() {
        let p: serde_json::Value =
            serde_json::from_str(&tls_only_policy("datomic-s-1")).expect("JSON");
        assert_eq!(p["Version"], "2012-10-17");
        let statements = p["Statement"].as_array().expect("statements");
        assert_eq!(statements.len(), 1);
        let st = &statements[0];
        assert_eq!(st["Effect"], "Deny");
        assert_eq!(st["Principal"], "*");
        assert_eq!(st["Action"], "s3:*");
        assert_eq!(
            st["Resource"],
            serde_json::json!(["arn:aws:s3:::datomic-s-1", "arn:aws:s3:::datomic-s-1/*"])
        );
        assert_eq!(
            st["Condition"]["Bool"]["aws:SecureTransport"],
            serde_json::json!("false")
        );
    }

    #[test]
    fn the_bucket_is_encrypted_with_the_systems_key() {
        let key = "arn:aws:kms:us-east-1:1:key/k-1";
        let sse = encryption(key).expect("a valid configuration");
        let rules = sse.rules();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].bucket_key_enabled(), Some(true));
        let by_default = rules[0]
            .apply_server_side_encryption_by_default()
            .expect("a default encryption");
        assert_eq!(
            by_default.sse_algorithm(),
            &aws_sdk_s3::types::ServerSideEncryption::AwsKms
        );
        assert_eq!(by_default.kms_master_key_id(), Some(key));
    }
}
