//! The system's CloudWatch log group, `datomic-<system>`: where its nodes
//! write their logs. Found by name and identity tags, made encrypted with
//! the system's key and kept for ever (Datomic's documents name no
//! retention, and CloudWatch Logs' default is never to expire), deleted only
//! in a storage delete the user asked for.

use std::collections::HashMap;

use super::Named;
use crate::aws::{eventual, tags, AwsError, Clients, Found};
use crate::resources::error::OpError;
use crate::rules;

/// The log group as CloudWatch Logs describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogGroup {
    /// Its ARN without the `:*` of the streams (what tags are set on).
    pub arn: String,
    /// The KMS key it is encrypted with ("" when CloudWatch Logs' own).
    pub key: String,
}

/// The log group named `name` (`None`: none). DescribeLogGroups takes a
/// prefix: only the exact name counts.
async fn describe(c: &Clients, name: &str) -> Result<Option<LogGroup>, AwsError> {
    let mut next: Option<String> = None;
    loop {
        let page = c
            .logs
            .describe_log_groups()
            .log_group_name_prefix(name)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        if let Some(g) = page
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name))
        {
            return Ok(Some(log_group_of(g)));
        }
        match page.next_token() {
            Some(n) if !n.is_empty() => next = Some(n.to_string()),
            _ => return Ok(None),
        }
    }
}

fn log_group_of(g: &aws_sdk_cloudwatchlogs::types::LogGroup) -> LogGroup {
    // `logGroupArn` is the bare ARN; the older `arn` ends in `:*`.
    let arn = g
        .log_group_arn()
        .or_else(|| g.arn().map(|a| a.trim_end_matches(":*")))
        .unwrap_or_default();
    LogGroup {
        arn: arn.to_string(),
        key: g.kms_key_id().unwrap_or_default().to_string(),
    }
}

/// The system's log group: ours (with it) or not.
pub async fn find(c: &Clients, system: &str) -> Result<(Named, Option<LogGroup>), OpError> {
    let name = rules::log_group_name(system);
    let Some(g) = describe(c, &name).await? else {
        return Ok((Named::Missing, None));
    };
    let named = named_by_tags(&tags(c, &g.arn).await?, system, &name);
    Ok((named, Some(g)))
}

/// The ARN of the log group named `name` in the clients' account and region.
pub async fn arn_of(c: &Clients, name: &str) -> Result<String, OpError> {
    let account = c.account().await?;
    Ok(format!(
        "arn:aws:logs:{}:{account}:log-group:{name}",
        c.region
    ))
}

/// Whose a log group is: the system's by its identity tags only.
fn named_by_tags(tags: &tags::Tags, system: &str, name: &str) -> Named {
    match rules::ownership(tags, system, None) {
        rules::Ownership::Ours => Named::Ours,
        rules::Ownership::NotOurs { found } => Named::NotOurs(rules::not_ours_detail(
            "CloudWatch log group",
            name,
            system,
            None,
            &found,
        )),
    }
}

/// A log group's tags.
pub async fn tags(c: &Clients, arn: &str) -> Result<tags::Tags, AwsError> {
    let out = c
        .logs
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    Ok(out
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default())
}

fn logs_tags(t: &tags::Tags) -> HashMap<String, String> {
    t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Makes the log group, encrypted with `key_arn` and tagged. One already
/// there (a create retried after its answer was lost, or made meanwhile by
/// a run of the same system) is checked as any found one: ours, or refused.
pub async fn create(
    c: &Clients,
    system: &str,
    t: &tags::Tags,
    key_arn: &str,
) -> Result<LogGroup, OpError> {
    let name = rules::log_group_name(system);
    // The key was just made or its policy written: CloudWatch Logs refuses
    // it until the policy propagates.
    let what = format!("CloudWatch log group {name}");
    let made = eventual::new_key_policy(&what, || async {
        let made = c
            .logs
            .create_log_group()
            .log_group_name(&name)
            .kms_key_id(key_arn)
            .set_tags(Some(logs_tags(t)))
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk);
        AwsError::tolerate_exists(made)
    })
    .await;
    made.map_err(OpError::from)?;
    // Read back once CloudWatch Logs shows it (its reads may lag the create),
    // with its tags: ours only by them.
    let (g, found) = eventual::new_object(&what, || async {
        let Some(g) = describe(c, &name).await? else {
            return Ok(None);
        };
        Ok(tags(c, &g.arn).await.found()?.map(|t| (g, t)))
    })
    .await?;
    match named_by_tags(&found, system, &name) {
        Named::NotOurs(detail) => Err(crate::resources::error::NotOurs { detail }.into()),
        _ => Ok(g),
    }
}

/// Writes the `changed` tags of the log group and removes the `removed` ones.
pub async fn retag(
    c: &Clients,
    arn: &str,
    changed: &tags::Tags,
    removed: Vec<String>,
) -> Result<(), OpError> {
    if !changed.is_empty() {
        c.logs
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(logs_tags(changed)))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
    if !removed.is_empty() {
        c.logs
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
    Ok(())
}

/// Deletes the log group when it is the system's (by its identity tags); a
/// stranger's is left alone, one already gone counts as done.
pub async fn delete(c: &Clients, system: &str) -> Result<(), OpError> {
    let (Named::Ours, Some(_)) = find(c, system).await? else {
        return Ok(());
    };
    c.logs
        .delete_log_group()
        .log_group_name(rules::log_group_name(system))
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::tags as t;

    #[test]
    fn a_log_group_is_the_systems_by_its_tags_only() {
        let ours = t(&[
            (rules::TAG_MANAGED_BY, rules::MANAGED_BY_VALUE),
            (rules::TAG_SYSTEM, "s"),
        ]);
        assert_eq!(named_by_tags(&ours, "s", "datomic-s"), Named::Ours);
        let Named::NotOurs(why) = named_by_tags(&tags::Tags::new(), "s", "datomic-s") else {
            panic!("an untagged log group is not ours");
        };
        assert!(why.contains("datomic-s"), "{why}");
    }

    #[test]
    fn a_description_gives_the_bare_arn_and_the_key() {
        let g = aws_sdk_cloudwatchlogs::types::LogGroup::builder()
            .log_group_name("datomic-s")
            .arn("arn:aws:logs:us-east-1:1:log-group:datomic-s:*")
            .kms_key_id("arn:aws:kms:us-east-1:1:key/k")
            .build();
        assert_eq!(
            log_group_of(&g),
            LogGroup {
                arn: "arn:aws:logs:us-east-1:1:log-group:datomic-s".into(),
                key: "arn:aws:kms:us-east-1:1:key/k".into(),
            }
        );
    }
}
