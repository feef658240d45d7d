//! The system's customer-managed KMS key: found by its alias
//! (`alias/datomic-<system>`) and identity tags, made with the key policy of
//! [`rules::key_policy`], and scheduled for deletion (KMS deletes no key at
//! once: seven days at the least) only in a storage delete the user asked for.
//!
//! An alias pointing at a key that is not ours by its tags is refused, never
//! adopted. A key of ours found `PendingDeletion` (a storage deleted less
//! than seven days ago, then a system of the same name made again) is brought
//! back: its deletion is cancelled and it is enabled again. It is what the
//! retained data of that system, if any remains, is encrypted with, and
//! making a second key under the same alias would orphan the first.

use super::Named;
use crate::aws::{eventual, tags, AwsError, Clients, Found};
use crate::resources::error::{NotOurs, OpError};
use crate::rules;

/// The key as KMS describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Key {
    pub arn: String,
    pub id: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`... ("" when KMS gives none).
    pub state: String,
}

/// What the key's state asks of an adoption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Revive {
    /// Usable as it is.
    Nothing,
    /// Disabled (by hand, or by a cancelled deletion): enable it.
    Enable,
    /// Scheduled for deletion: cancel it, then enable it.
    CancelDeletion,
}

fn revive_of(state: &str) -> Revive {
    match state {
        "PendingDeletion" => Revive::CancelDeletion,
        "Disabled" => Revive::Enable,
        _ => Revive::Nothing,
    }
}

/// The key the alias points at (`None`: no such alias).
async fn describe(c: &Clients, key_or_alias: &str) -> Result<Option<Key>, OpError> {
    let out = c
        .kms
        .describe_key()
        .key_id(key_or_alias)
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?;
    Ok(out.and_then(|o| o.key_metadata().map(key_of)))
}

fn key_of(m: &aws_sdk_kms::types::KeyMetadata) -> Key {
    Key {
        arn: m.arn().unwrap_or_default().to_string(),
        id: m.key_id().to_string(),
        state: m
            .key_state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
    }
}

/// The system's key, found by its alias: ours (with the key) or not.
pub async fn find(c: &Clients, system: &str) -> Result<(Named, Option<Key>), OpError> {
    let alias = rules::key_alias(system);
    let Some(key) = describe(c, &alias).await? else {
        return Ok((Named::Missing, None));
    };
    let named = named_by_tags(&tags(c, &key.id).await?, system, &alias);
    Ok((named, Some(key)))
}

/// Whose the key behind the alias is: the system's by its identity tags only.
fn named_by_tags(tags: &tags::Tags, system: &str, alias: &str) -> Named {
    match rules::ownership(tags, system, None) {
        rules::Ownership::Ours => Named::Ours,
        rules::Ownership::NotOurs { found } => Named::NotOurs(rules::not_ours_detail(
            "KMS key behind alias",
            alias,
            system,
            None,
            &found,
        )),
    }
}

/// A key's tags.
pub async fn tags(c: &Clients, key_id: &str) -> Result<tags::Tags, OpError> {
    let mut t = tags::Tags::new();
    let mut marker: Option<String> = None;
    loop {
        let page = c
            .kms
            .list_resource_tags()
            .key_id(key_id)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        for tag in page.tags() {
            t.insert(tag.tag_key().to_string(), tag.tag_value().to_string());
        }
        match page.next_marker() {
            Some(m) if page.truncated() && !m.is_empty() => marker = Some(m.to_string()),
            _ => return Ok(t),
        }
    }
}

/// Makes the key (tagged, with its policy) and its alias. When the alias
/// cannot be made the new key is scheduled for deletion, so that no key is
/// left that nothing finds; an alias made meanwhile by a run of the same
/// system is used instead.
pub async fn create(c: &Clients, system: &str, t: &tags::Tags) -> Result<Key, OpError> {
    let role_just_made = autoscaling_service_role(c).await?;
    let account = c.account().await?;
    let create_key = || {
        c.kms
            .create_key()
            .description(rules::key_description(system))
            .policy(rules::key_policy("aws", &c.region, &account, system))
            .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
            .key_spec(aws_sdk_kms::types::KeySpec::SymmetricDefault)
            .set_tags(Some(tags::kms(t)))
            .send()
    };
    let made = if role_just_made {
        eventual::new_principal("KMS key policy", || async {
            create_key().await.map_err(AwsError::from_sdk)
        })
        .await?
    } else {
        create_key().await.map_err(AwsError::from_sdk)?
    };
    let key = made.key_metadata().map(key_of).unwrap_or_default();
    let alias = rules::key_alias(system);
    let aliased = c
        .kms
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&key.id)
        .send()
        .await
        .map_err(AwsError::from_sdk);
    let e = match aliased {
        Ok(_) => return Ok(key),
        Err(e) => e,
    };
    if !e.is_already_exists() {
        schedule_deletion(c, &key.id).await?;
        return Err(e.into());
    }
    // A CreateAlias retried after its answer was lost finds its own alias:
    // the key just made is the one. Any other key behind it is used (ours)
    // or refused (not ours), and the key just made goes.
    let found = find(c, system).await?;
    if matches!(&found, (Named::Ours, Some(k)) if k.id == key.id) {
        return Ok(key);
    }
    schedule_deletion(c, &key.id).await?;
    match found {
        (Named::Ours, Some(other)) => Ok(other),
        (Named::NotOurs(detail), _) => Err(NotOurs { detail }.into()),
        _ => Err(e.into()),
    }
}

/// The EC2 Auto Scaling service-linked role, by its name.
const AUTOSCALING_SERVICE_ROLE: &str = "AWSServiceRoleForAutoScaling";

/// Makes sure the EC2 Auto Scaling service-linked role exists: KMS refuses a
/// key policy naming a principal that does not, and Auto Scaling makes that
/// role only with the account's first group, after the storage. Read first:
/// most accounts have it, and a create is an IAM write the caller may not be
/// allowed. True when it was made just now.
async fn autoscaling_service_role(c: &Clients) -> Result<bool, OpError> {
    let found = c
        .iam
        .get_role()
        .role_name(AUTOSCALING_SERVICE_ROLE)
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?;
    if found.is_some() {
        return Ok(false);
    }
    // Made meanwhile by another run, or by Auto Scaling: as good as found.
    let made = c
        .iam
        .create_service_linked_role()
        .aws_service_name("autoscaling.amazonaws.com")
        .send()
        .await
        .map(|_| ())
        .map_err(AwsError::from_sdk);
    match made {
        Ok(()) => Ok(true),
        Err(e) if e.is_service_role_taken() || e.is_already_exists() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Makes an adopted key usable again (see the module's comment) and puts
/// its policy back as the provider writes it.
pub async fn adopt(c: &Clients, system: &str, key: &Key) -> Result<(), OpError> {
    let revive = revive_of(&key.state);
    if revive == Revive::CancelDeletion {
        c.kms
            .cancel_key_deletion()
            .key_id(&key.id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
    if revive != Revive::Nothing {
        c.kms
            .enable_key()
            .key_id(&key.id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
    put_policy(c, system, &key.id).await
}

/// The key policy the provider gives the system's key, in the clients'
/// account and region.
async fn policy_of(c: &Clients, system: &str) -> Result<String, OpError> {
    let account = c.account().await?;
    Ok(rules::key_policy("aws", &c.region, &account, system))
}

async fn put_policy(c: &Clients, system: &str, key_id: &str) -> Result<(), OpError> {
    c.kms
        .put_key_policy()
        .key_id(key_id)
        .policy_name("default")
        .policy(policy_of(c, system).await?)
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    Ok(())
}

/// Puts the key's policy back as the provider writes it when it differs
/// (a key made by an earlier build lacks the log group's statement, and
/// CloudWatch Logs refuses a key it may not use). Documents are compared
/// as JSON: KMS may give the policy back with other spacing.
pub async fn ensure_policy(c: &Clients, system: &str, key_arn: &str) -> Result<(), OpError> {
    let now = c
        .kms
        .get_key_policy()
        .key_id(key_arn)
        .policy_name("default")
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    let want = policy_of(c, system).await?;
    if same_policy(now.policy().unwrap_or_default(), &want) {
        return Ok(());
    }
    put_policy(c, system, key_arn).await
}

/// Whether two policy documents say the same (as JSON values).
fn same_policy(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Writes the `changed` tags of the key and removes the `removed` ones.
pub async fn retag(
    c: &Clients,
    key_id: &str,
    changed: &tags::Tags,
    removed: Vec<String>,
) -> Result<(), OpError> {
    if !changed.is_empty() {
        c.kms
            .tag_resource()
            .key_id(key_id)
            .set_tags(Some(tags::kms(changed)))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
    if !removed.is_empty() {
        c.kms
            .untag_resource()
            .key_id(key_id)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
    }
    Ok(())
}

/// Schedules the key's deletion (the shortest window KMS allows); a key
/// already gone or already scheduled counts as done.
async fn schedule_deletion(c: &Clients, key_id: &str) -> Result<(), OpError> {
    let scheduled = c
        .kms
        .schedule_key_deletion()
        .key_id(key_id)
        .pending_window_in_days(rules::KEY_DELETION_WINDOW_DAYS)
        .send()
        .await
        .map(|_| ())
        .map_err(AwsError::from_sdk);
    match scheduled {
        Err(e) if e.code_is(&[crate::aws::error::code::KMS_INVALID_STATE]) => Ok(()),
        other => Ok(other.found().map(|_| ())?),
    }
}

/// Deletes the alias and schedules the key's deletion, when the key is the
/// system's (by its identity tags). A stranger's key is left alone.
pub async fn delete(c: &Clients, system: &str) -> Result<(), OpError> {
    let (Named::Ours, Some(key)) = find(c, system).await? else {
        return Ok(());
    };
    c.kms
        .delete_alias()
        .alias_name(rules::key_alias(system))
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?;
    if key.state != "PendingDeletion" {
        schedule_deletion(c, &key.id).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::tags as t;

    #[test]
    fn a_key_is_the_systems_by_its_tags_only() {
        let ours = t(&[
            (rules::TAG_MANAGED_BY, rules::MANAGED_BY_VALUE),
            (rules::TAG_SYSTEM, "s"),
        ]);
        assert_eq!(named_by_tags(&ours, "s", "alias/datomic-s"), Named::Ours);
        let Named::NotOurs(why) = named_by_tags(&ours, "t", "alias/datomic-t") else {
            panic!("another system's key is not ours");
        };
        assert!(why.contains("alias/datomic-t"), "{why}");
        assert!(matches!(
            named_by_tags(&tags::Tags::new(), "s", "alias/datomic-s"),
            Named::NotOurs(_)
        ));
    }

    #[test]
    fn policies_are_compared_as_json() {
        assert!(same_policy(
            r#"{"Version": "2012-10-17", "Statement": []}"#,
            r#"{"Statement":[],"Version":"2012-10-17"}"#
        ));
        assert!(!same_policy(
            r#"{"Version":"2012-10-17","Statement":[]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"LogGroup"}]}"#
        ));
        assert!(!same_policy("not json", "not json"));
    }

    #[test]
    fn an_adopted_key_is_brought_back_to_use() {
        assert_eq!(revive_of("Enabled"), Revive::Nothing);
        assert_eq!(revive_of("Disabled"), Revive::Enable);
        assert_eq!(revive_of("PendingDeletion"), Revive::CancelDeletion);
    }

    #[test]
    fn a_description_gives_arn_id_and_state() {
        let m = aws_sdk_kms::types::KeyMetadata::builder()
            .key_id("k-1")
            .arn("arn:aws:kms:us-east-1:1:key/k-1")
            .key_state(aws_sdk_kms::types::KeyState::PendingDeletion)
            .build()
            .expect("metadata");
        assert_eq!(
            key_of(&m),
            Key {
                arn: "arn:aws:kms:us-east-1:1:key/k-1".into(),
                id: "k-1".into(),
                state: "PendingDeletion".into(),
            }
        );
    }
}
