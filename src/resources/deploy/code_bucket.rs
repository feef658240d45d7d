//! The region's ion code bucket (tagged `datomic:code`), where `ion push`
//! puts revisions: one per account and region, shared by every system, made
//! when missing and never deleted by the provider. Every call names the
//! account as the bucket's expected owner.

use crate::aws::error::code;
use crate::aws::{AwsError, Clients};
use crate::resources::error::{NotOurs, OpError};
use crate::resources::journal;
use crate::resources::storage;
use crate::rules;

/// The code bucket's name in this account and region.
pub async fn name(c: &Clients) -> Result<String, OpError> {
    Ok(rules::code_bucket_name(&c.account().await?, &c.region))
}

/// Whether the bucket is there: Ok(false) when missing; an error when it is
/// another account's, or this account's without the `datomic:code` tag
/// (someone else's bucket that happens to have the name), unless it has no
/// tags at all and this working directory's journal says the provider made
/// it (a create cut short before its tags: it is finished, tags included).
pub async fn exists(c: &Clients, bucket: &str) -> Result<bool, OpError> {
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
            return Err(NotOurs {
                detail: format!("The S3 bucket \"{bucket}\" (the region's ion code bucket by name) exists but is not owned by this AWS account ({account}). The provider never writes to a bucket of another account."),
            }
            .into());
        }
        if e.is_http_not_found() {
            return Ok(false);
        }
        return Err(e.into());
    }
    let found = storage::bucket_tags_owned_by(c, bucket, &account).await?;
    if found.is_empty() && journal::recall(bucket).is_some() {
        return Ok(false);
    }
    if !found.contains_key(rules::TAG_CODE) {
        return Err(NotOurs {
            detail: format!("The S3 bucket \"{bucket}\" has the name of the region's ion code bucket but not its tag {}: it is not used for revisions. Allowed: tag it {}=true if it is your code bucket, or delete it.", rules::TAG_CODE, rules::TAG_CODE),
        }
        .into());
    }
    Ok(true)
}

/// The code bucket, made when missing: private (public access blocked),
/// tagged `datomic:code` and with the provider's default tags.
pub async fn ensure(c: &Clients) -> Result<String, OpError> {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, Tag, Tagging};
    let bucket = name(c).await?;
    if exists(c, &bucket).await? {
        return Ok(bucket);
    }
    let account = c.account().await?;
    let mut req = c.s3.create_bucket().bucket(&bucket);
    if c.region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(c.region.as_str()))
                .build(),
        );
    }
    // Until its tags are on, this working directory's journal says it is ours.
    journal::remember(&bucket);
    match req.send().await.map_err(AwsError::from_sdk) {
        Ok(_) => {}
        // Made meanwhile (another system's apply): fine when it is tagged.
        Err(e) if e.code_is(&[code::BUCKET_ALREADY_OWNED_BY_YOU]) => {}
        Err(e) if e.code_is(&[code::BUCKET_ALREADY_EXISTS]) => {
            journal::forget(&bucket);
            return Err(NotOurs {
                detail: format!("The S3 bucket \"{bucket}\" (the region's ion code bucket by name) already exists in another AWS account: the provider never writes to it."),
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    }
    let bad = |e: aws_sdk_s3::error::BuildError| OpError::request("S3", e);
    storage::block_public_access(c, &bucket, &account).await?;
    let mut t = storage::bucket_tags_owned_by(c, &bucket, &account).await?;
    for (k, v) in &c.default_tags {
        t.entry(k.clone()).or_insert_with(|| v.clone());
    }
    t.insert(rules::TAG_CODE.to_string(), "true".to_string());
    t.insert(
        rules::TAG_MANAGED_BY.to_string(),
        rules::MANAGED_BY_VALUE.to_string(),
    );
    let tag_set = t
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(bad))
        .collect::<Result<Vec<_>, _>>()?;
    c.s3.put_bucket_tagging()
        .bucket(&bucket)
        .expected_bucket_owner(&account)
        .tagging(
            Tagging::builder()
                .set_tag_set(Some(tag_set))
                .build()
                .map_err(bad)?,
        )
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    journal::forget(&bucket);
    Ok(bucket)
}

/// Whether the object `key` is in the bucket.
pub async fn has_object(c: &Clients, bucket: &str, key: &str) -> Result<bool, OpError> {
    let account = c.account().await?;
    match c
        .s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .expected_bucket_owner(&account)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = AwsError::from_sdk(e);
            if e.is_http_not_found() {
                Ok(false)
            } else {
                Err(e.into())
            }
        }
    }
}
