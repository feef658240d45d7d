//! The system's DynamoDB tables (the log's and the catalog's, alike but for
//! their names): each found by name and identity tags, made
//! encrypted with deletion protection, kept safe (deletion protection and
//! point-in-time recovery, (re)applied to an adopted table) and deleted only
//! in a storage delete the user asked for. One DescribeTable ([`describe`])
//! serves the finder and the waits.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Named, Storage};
use crate::aws::states::{self, Seen};
use crate::aws::wait::{Poll, Waiter};
use crate::aws::{tags, AwsError, Clients, Found};
use crate::resources::error::OpError;
use crate::rules;

/// How long a new table may take to become ACTIVE (DynamoDB: seconds to minutes).
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(600);

/// What DescribeTable says of a table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Described {
    pub arn: String,
    /// `CREATING`, `ACTIVE`, `DELETING`... (none when DynamoDB gives none).
    pub status: Option<String>,
    pub deletion_protection: bool,
    /// The KMS key it is encrypted with ("" when DynamoDB's own key).
    pub sse_key: String,
}

/// The table as DynamoDB describes it now. A missing table is an error
/// (not found): [`Found::found`] makes it `None` where absence is an answer.
async fn describe(c: &Clients, table: &str) -> Result<Described, OpError> {
    let out = c
        .dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    Ok(described(out.table()))
}

/// What a DescribeTable answer says (fields DynamoDB left out: empty, off).
fn described(t: Option<&aws_sdk_dynamodb::types::TableDescription>) -> Described {
    Described {
        arn: t
            .and_then(|t| t.table_arn())
            .unwrap_or_default()
            .to_string(),
        status: t
            .and_then(|t| t.table_status())
            .map(|s| s.as_str().to_string()),
        deletion_protection: t
            .and_then(|t| t.deletion_protection_enabled())
            .unwrap_or(false),
        sse_key: t
            .and_then(|t| t.sse_description())
            .and_then(|d| d.kms_master_key_arn())
            .unwrap_or_default()
            .to_string(),
    }
}

/// The system's table, with its ARN and tags when it exists.
pub async fn find(
    c: &Clients,
    system: &str,
    table: &str,
) -> Result<(Named, String, tags::Tags), OpError> {
    let Some(arn) = describe(c, table).await.found()?.map(|d| d.arn) else {
        return Ok((Named::Missing, String::new(), tags::Tags::new()));
    };
    let t = tags(c, &arn).await?;
    Ok((named_by_tags(&t, system, table), arn, t))
}

/// Whose a table is: the system's by its identity tags only.
fn named_by_tags(tags: &tags::Tags, system: &str, table: &str) -> Named {
    match rules::ownership(tags, system, None) {
        rules::Ownership::Ours => Named::Ours,
        rules::Ownership::NotOurs { found } => Named::NotOurs(rules::not_ours_detail(
            "DynamoDB table",
            table,
            system,
            None,
            &found,
        )),
    }
}

/// A table's tags.
pub async fn tags(c: &Clients, arn: &str) -> Result<tags::Tags, OpError> {
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

/// The ARN of a table, described now.
pub async fn arn_of(c: &Clients, table: &str) -> Result<String, OpError> {
    Ok(describe(c, table).await?.arn)
}

/// The ARN of the storage's table: the one found with it, or described now.
pub async fn arn(c: &Clients, s: &Storage) -> Result<String, OpError> {
    if !s.table_arn.is_empty() {
        return Ok(s.table_arn.clone());
    }
    Ok(describe(c, &s.table).await?.arn)
}

/// Encryption with the system's KMS key.
fn sse(key_arn: &str) -> aws_sdk_dynamodb::types::SseSpecification {
    aws_sdk_dynamodb::types::SseSpecification::builder()
        .enabled(true)
        .sse_type(aws_sdk_dynamodb::types::SseType::Kms)
        .kms_master_key_id(key_arn)
        .build()
}

/// Creates the table: pay per request, encrypted with the system's key,
/// deletion protection on, tagged (one already there, from a create retried
/// after a lost response, is no error).
pub async fn create(
    c: &Clients,
    table: &str,
    t: &tags::Tags,
    key_arn: &str,
) -> Result<(), OpError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let bad = |e: aws_sdk_dynamodb::error::BuildError| OpError::request("DynamoDB", e);
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
        .sse_specification(sse(key_arn))
        .deletion_protection_enabled(true)
        .set_tags(Some(tags::dynamodb(t)))
        .send()
        .await
        .map(|_| ())
        .map_err(AwsError::from_sdk);
    Ok(AwsError::tolerate_exists(created)?)
}

/// Keeps the table's data safe: deletion protection on (lifted only inside
/// a storage delete the user asked for), point-in-time recovery and
/// encryption with the system's key, all (re)applied to an adopted table
/// (a table of an earlier build is encrypted with DynamoDB's own key: it is
/// moved to the system's, which DynamoDB does in place). Waits for the table to be ACTIVE first,
/// as DynamoDB refuses backups settings while it is being created: the
/// system's create runs this beside its compute and returns once the table
/// is ACTIVE and protected.
pub async fn protect(
    c: &Clients,
    table: &str,
    key_arn: &str,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    use aws_sdk_dynamodb::types::PointInTimeRecoverySpecification;
    // The look that saw it ACTIVE says whether it is protected.
    let seen = wait_active(c, table, ACTIVE_TIMEOUT, cancel).await?;
    let rekey = !key_arn.is_empty() && seen.sse_key != key_arn;
    if !seen.deletion_protection || rekey {
        c.dynamodb
            .update_table()
            .table_name(table)
            .deletion_protection_enabled(true)
            .set_sse_specification(rekey.then(|| sse(key_arn)))
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
    if !pitr_on(&backups) {
        let bad = |e: aws_sdk_dynamodb::error::BuildError| OpError::request("DynamoDB", e);
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

/// Whether point-in-time recovery is on (not said: off, so it is set).
fn pitr_on(
    backups: &aws_sdk_dynamodb::operation::describe_continuous_backups::DescribeContinuousBackupsOutput,
) -> bool {
    backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .is_some_and(|s| s.as_str() == "ENABLED")
}

/// Writes the `changed` tags of the table (by ARN) and removes the `removed` ones.
pub async fn retag(
    c: &Clients,
    arn: &str,
    changed: &tags::Tags,
    removed: Vec<String>,
) -> Result<(), OpError> {
    if !changed.is_empty() {
        c.dynamodb
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags::dynamodb(changed)))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
    if !removed.is_empty() {
        c.dynamodb
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
    Ok(())
}

/// Lifts the table's deletion protection (only here: the user asked for the
/// delete), deletes it and waits until it is gone; a table already gone
/// counts as deleted.
pub async fn delete(
    c: &Clients,
    table: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    // Deletion protection is lifted here only: the user asked for it.
    let lifted = c
        .dynamodb
        .update_table()
        .table_name(table)
        .deletion_protection_enabled(false)
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?;
    if lifted.is_some() {
        c.dynamodb
            .delete_table()
            .table_name(table)
            .send()
            .await
            .map_err(AwsError::from_sdk)
            .found()?;
        wait_deleted(c, table, timeout, cancel).await?;
    }
    Ok(())
}

/// The table's status as a step of its state machine, with what was seen
/// (`None`: no such table).
async fn status(c: &Clients, table: &str) -> Result<(Seen, Option<Described>), OpError> {
    let seen = describe(c, table).await.found()?;
    let status = seen.as_ref().and_then(|d| d.status.as_deref());
    Ok((states::table_state(status), seen))
}

/// Waits until the table is `ACTIVE` (a table just created is `CREATING`;
/// one not visible yet right after its create counts as pending): returns
/// what the look that saw it ACTIVE said of it.
async fn wait_active(
    c: &Clients,
    table: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Described, OpError> {
    let what = format!("DynamoDB table {table} to be ACTIVE");
    Waiter::new(timeout)
        .until(&what, cancel, || async {
            match status(c, table).await? {
                (Seen::Ready, Some(seen)) => Ok(Poll::Done(seen)),
                (Seen::Failed, seen) => Ok(Poll::Stuck(format!(
                    "DynamoDB table {table} is {}",
                    seen.and_then(|d| d.status).as_deref().unwrap_or("?")
                ))),
                _ => Ok::<_, OpError>(Poll::Pending),
            }
        })
        .await
        .map_err(OpError::from)
}

/// Waits until the table is gone (`DELETING` until then).
async fn wait_deleted(
    c: &Clients,
    table: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    let what = format!("DynamoDB table {table} to be deleted");
    Waiter::new(timeout)
        .until(&what, cancel, || async {
            Ok::<_, OpError>(match status(c, table).await?.0 {
                Seen::Gone => Poll::Done(()),
                _ => Poll::Pending,
            })
        })
        .await
        .map_err(OpError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::describe_continuous_backups::DescribeContinuousBackupsOutput;
    use aws_sdk_dynamodb::types::{
        ContinuousBackupsDescription, ContinuousBackupsStatus, PointInTimeRecoveryDescription,
        PointInTimeRecoveryStatus, TableDescription, TableStatus,
    };

    #[test]
    fn a_table_is_the_systems_by_its_tags_only() {
        let ours: tags::Tags = [
            (rules::TAG_MANAGED_BY, rules::MANAGED_BY_VALUE),
            (rules::TAG_SYSTEM, "s"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(named_by_tags(&ours, "s", "datomic-s"), Named::Ours);
        let Named::NotOurs(why) = named_by_tags(&ours, "t", "datomic-t") else {
            panic!("another system's table is not ours");
        };
        assert!(why.contains("DynamoDB table \"datomic-t\""), "{why}");
        // Untagged (no journal for tables): never ours.
        let Named::NotOurs(why) = named_by_tags(&tags::Tags::new(), "s", "datomic-s") else {
            panic!("an untagged table is not ours");
        };
        assert!(why.contains("identity tags are none"), "{why}");
    }

    #[test]
    fn a_description_gives_arn_status_and_protection() {
        let t = TableDescription::builder()
            .table_arn("arn:aws:dynamodb:eu-west-1:1:table/datomic-s")
            .table_status(TableStatus::Creating)
            .deletion_protection_enabled(true)
            .build();
        assert_eq!(
            described(Some(&t)),
            Described {
                arn: "arn:aws:dynamodb:eu-west-1:1:table/datomic-s".into(),
                status: Some("CREATING".into()),
                deletion_protection: true,
                sse_key: String::new(),
            }
        );
        // What DynamoDB leaves out: no ARN, no status, unprotected.
        assert_eq!(
            described(Some(&TableDescription::builder().build())),
            Described::default()
        );
        assert_eq!(described(None), Described::default());
    }

    #[test]
    fn point_in_time_recovery_is_on_only_when_said_enabled() {
        let with = |status: Option<PointInTimeRecoveryStatus>| {
            DescribeContinuousBackupsOutput::builder()
                .continuous_backups_description(
                    ContinuousBackupsDescription::builder()
                        .continuous_backups_status(ContinuousBackupsStatus::Enabled)
                        .set_point_in_time_recovery_description(Some(
                            PointInTimeRecoveryDescription::builder()
                                .set_point_in_time_recovery_status(status)
                                .build(),
                        ))
                        .build()
                        .expect("a description"),
                )
                .build()
        };
        assert!(pitr_on(&with(Some(PointInTimeRecoveryStatus::Enabled))));
        assert!(!pitr_on(&with(Some(PointInTimeRecoveryStatus::Disabled))));
        assert!(!pitr_on(&with(None)));
        assert!(!pitr_on(
            &DescribeContinuousBackupsOutput::builder().build()
        ));
    }
}
