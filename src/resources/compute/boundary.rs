//! The permissions boundary of a system's node roles: one IAM managed policy
//! per system, put on every node role. Whatever an application's
//! `iam_policy` or a policy attached by hand grants, a node can never change
//! IAM, Organizations or the account (reading IAM stays allowed), so a node
//! that is broken into cannot grant itself, or anyone, more. Made with the
//! system's first node role, deleted with the system once no role uses it.

use crate::aws::error::code;
use crate::resources::error::OpError;
use std::time::Duration;

use aws_sdk_iam::types::{Policy, PolicyUsageType};
use tokio_util::sync::CancellationToken;

use super::same_policy;
use super::sdk;
use crate::aws::{eventual, tags, AwsError, Clients, Found};
use crate::plugin::log;
use crate::resources::ownership;
use crate::rules;

/// Everything but IAM, Organizations and account writes; IAM reads stay.
/// A boundary grants nothing by itself: the node's permissions are what its
/// own policies allow within it.
pub const DOCUMENT: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllButIdentityAndAccount","Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Sid":"ReadIdentity","Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}]}"#;

/// IAM keeps at most five versions of a managed policy.
const MAX_VERSIONS: usize = 5;

/// The boundary's ARN in the system's account.
pub async fn arn(c: &Clients, system: &str) -> Result<String, OpError> {
    let account = c.account().await?;
    Ok(format!(
        "arn:aws:iam::{account}:policy{}{}",
        rules::NODE_BOUNDARY_PATH,
        rules::node_boundary_name(system)
    ))
}

async fn find(c: &Clients, arn: &str) -> Result<Option<Policy>, OpError> {
    Ok(get_policy(c, arn).await.found()?.flatten())
}

/// `GetPolicy`; `Ok(None)` only if IAM answers without the policy.
async fn get_policy(c: &Clients, arn: &str) -> Result<Option<Policy>, AwsError> {
    Ok(c.iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(sdk)?
        .policy()
        .cloned())
}

async fn policy_tags(c: &Clients, arn: &str) -> Result<tags::Tags, OpError> {
    let out = c
        .iam
        .list_policy_tags()
        .policy_arn(arn)
        .send()
        .await
        .map_err(sdk)?;
    Ok(tags::from_iam(out.tags()))
}

/// The system's boundary as [`ensure`] left it.
#[derive(Debug, Clone)]
pub struct Boundary {
    pub arn: String,
    /// Made a moment ago (by this call or another group's): IAM may refuse
    /// it for a few seconds as a role's boundary ([`Boundary::use_new`]).
    pub fresh: bool,
}

impl Boundary {
    /// Runs `op`, a call that names the boundary (`CreateRole`,
    /// `PutRolePermissionsBoundary`). A fresh boundary may not be usable
    /// yet: IAM answers "no such policy" for a few seconds, retried for a
    /// bounded time. An older one is asked once: a policy that is really
    /// missing gets AWS's error at once.
    pub async fn use_new<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, OpError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        if self.fresh {
            Ok(eventual::new_policy(what, op).await?)
        } else {
            Ok(op().await?)
        }
    }
}

/// Whether a policy made at `created` (seconds since the epoch) may still be
/// unknown to parts of IAM at `now`.
fn is_fresh(created: i64, now: i64) -> bool {
    let window = i64::try_from(eventual::PROPAGATION_TIMEOUT.as_secs()).unwrap_or(i64::MAX);
    now.saturating_sub(created) < window
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Finds or makes the system's boundary. One with our name and a stranger's
/// tags stops the create; one of ours whose document was changed by hand
/// gets ours back as its default version (`put_document`). `t` are the
/// tags of the group being made: the boundary carries them without the
/// group's identity, as it belongs to the whole system.
pub async fn ensure(c: &Clients, system: &str, t: &tags::Tags) -> Result<Boundary, OpError> {
    let arn = arn(c, system).await?;
    if let Some(p) = find(c, &arn).await? {
        return checked(c, system, arn, &p).await;
    }
    let made = c
        .iam
        .create_policy()
        .policy_name(rules::node_boundary_name(system))
        .path(rules::NODE_BOUNDARY_PATH)
        .description(format!(
            "Permissions boundary of the node roles of Datomic system {system}"
        ))
        .policy_document(DOCUMENT)
        .set_tags(Some(tags::iam(&system_tags(t))))
        .send()
        .await
        .map_err(sdk);
    match made {
        Ok(_) => Ok(Boundary { arn, fresh: true }),
        // Made between our read and our create: by another group of the
        // system, or by a stranger. Either way it is checked as any boundary
        // found is, once IAM shows it.
        Err(e) if e.is_already_exists() => {
            let p = eventual::until_found(
                &format!("IAM policy {arn}"),
                eventual::PROPAGATION_TIMEOUT,
                eventual::READ_BACKOFF,
                &CancellationToken::new(),
                || get_policy(c, &arn),
            )
            .await?;
            checked(c, system, arn, &p).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The boundary `p` found at `arn`, once its tags say it is the system's
/// (else the create stops), with our document as its default version.
async fn checked(c: &Clients, system: &str, arn: String, p: &Policy) -> Result<Boundary, OpError> {
    ownership::check(
        "IAM policy",
        &rules::node_boundary_name(system),
        &policy_tags(c, &arn).await?,
        system,
        None,
    )?;
    put_document(c, &arn, p.default_version_id().map(str::to_string)).await?;
    // Another group of the system may have made it a moment ago.
    let fresh = p
        .create_date()
        .is_some_and(|d| is_fresh(d.secs(), now_secs()));
    Ok(Boundary { arn, fresh })
}

/// Gives the system's boundary the system's tags `t` (a system's tags
/// changed). A boundary that is gone, or not the system's, is left as it
/// is: the next node role's create makes or refuses it.
pub async fn retag(c: &Clients, system: &str, t: &tags::Tags) -> Result<(), OpError> {
    let arn = arn(c, system).await?;
    let Some(now) = policy_tags(c, &arn).await.found()? else {
        return Ok(());
    };
    if rules::ownership(&now, system, None) != rules::Ownership::Ours {
        return Ok(());
    }
    let (removed, changed) = tags::diff(&now, &system_tags(t));
    if !changed.is_empty() {
        c.iam
            .tag_policy()
            .policy_arn(&arn)
            .set_tags(Some(tags::iam(&changed)))
            .send()
            .await
            .map_err(sdk)?;
    }
    if !removed.is_empty() {
        c.iam
            .untag_policy()
            .policy_arn(&arn)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(sdk)?;
    }
    Ok(())
}

/// The tags of the boundary: those of the group being made without what
/// names the group (its name, application, revision, creation mark), so
/// that it says the same whichever group of the system made it.
fn system_tags(t: &tags::Tags) -> tags::Tags {
    let mut own = t.clone();
    for key in [
        rules::TAG_GROUP,
        rules::TAG_APPLICATION,
        rules::TAG_REVISION,
        rules::TAG_CREATED,
    ] {
        own.remove(key);
    }
    own
}

/// One version of the boundary, as `ListPolicyVersions` has it.
#[derive(Debug, Clone, PartialEq)]
struct Version {
    id: String,
    default: bool,
    /// Seconds since the epoch.
    created: i64,
}

/// Whether the boundary needs ours put back, from its default version's
/// document as IAM has it now (None: unreadable, or no such version).
fn needs_repair(default_doc: Option<&str>) -> bool {
    !default_doc.is_some_and(|d| same_policy(d, DOCUMENT))
}

/// The version to delete before a new one can be made: none while IAM's
/// five are not all taken, else the oldest that is not the default (the
/// same one in every group repairing at once).
fn version_to_delete(versions: &[Version]) -> Option<String> {
    if versions.len() < MAX_VERSIONS {
        return None;
    }
    versions
        .iter()
        .filter(|v| !v.default)
        .min_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)))
        .map(|v| v.id.clone())
}

/// How often [`put_document`] reads IAM again after losing a race.
const REPAIR_ATTEMPTS: u32 = 5;

/// Answers of IAM when another writer of the same policy got there first:
/// its new version took the fifth place (`LimitExceeded`), the version we
/// meant to read or delete is gone (`NoSuchEntity`), or its write is under
/// way (`ConcurrentModification`).
const RACE_CODES: &[&str] = &[
    code::LIMIT_EXCEEDED,
    code::NO_SUCH_ENTITY,
    code::CONCURRENT_MODIFICATION,
];

/// Makes [`DOCUMENT`] the boundary's default version unless it is already.
/// Several groups of a system made at once may all repair it: each reads
/// IAM again when it lost a race and stops as soon as the default version
/// is ours. `default` is the default version id just read, if any.
async fn put_document(c: &Clients, arn: &str, default: Option<String>) -> Result<(), OpError> {
    let mut known = default;
    let mut attempt = 0;
    loop {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
        match repair_once(c, arn, known.take()).await {
            Err(e) if e.code_is(RACE_CODES) && attempt + 1 < REPAIR_ATTEMPTS => attempt += 1,
            other => return other,
        }
    }
}

async fn repair_once(c: &Clients, arn: &str, default: Option<String>) -> Result<(), OpError> {
    let default = match default {
        Some(v) => v,
        None => find(c, arn)
            .await?
            .and_then(|p| p.default_version_id().map(str::to_string))
            .unwrap_or_else(|| "v1".to_string()),
    };
    // NoSuchEntity here: another group replaced that version since.
    let doc = c
        .iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(&default)
        .send()
        .await
        .map_err(sdk)?
        .policy_version()
        .and_then(|v| v.document().map(str::to_string));
    if !needs_repair(doc.as_deref()) {
        return Ok(());
    }
    let listed = c
        .iam
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .map_err(sdk)?;
    let versions: Vec<Version> = listed
        .versions()
        .iter()
        .filter_map(|v| {
            Some(Version {
                id: v.version_id()?.to_string(),
                default: v.is_default_version(),
                created: v.create_date().map(|d| d.secs()).unwrap_or(0),
            })
        })
        .collect();
    if let Some(oldest) = version_to_delete(&versions) {
        delete_version(c, arn, &oldest).await?;
    }
    c.iam
        .create_policy_version()
        .policy_arn(arn)
        .policy_document(DOCUMENT)
        .set_as_default(true)
        .send()
        .await
        .map_err(sdk)?;
    log::info(
        "put the node permissions boundary's document back",
        &[("policy", arn)],
    );
    Ok(())
}

/// The document of the boundary's default version; None without the
/// policy (a read: a race with a repair reads as a change, repaired next).
async fn default_document(c: &Clients, arn: &str) -> Result<Option<String>, OpError> {
    let Some(p) = find(c, arn).await? else {
        return Ok(None);
    };
    let version = p.default_version_id().unwrap_or("v1");
    Ok(c.iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map_err(sdk)
        .found()?
        .and_then(|o| {
            o.policy_version()
                .and_then(|v| v.document().map(str::to_string))
        }))
}

async fn delete_version(c: &Clients, arn: &str, version: &str) -> Result<(), AwsError> {
    c.iam
        .delete_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map_err(sdk)
        .found()?;
    Ok(())
}

/// Whether the document of the boundary `arn` was changed outside the
/// provider, as the refresh snapshot (or IAM, outside a refresh) has it. A
/// boundary that is gone counts as changed: the repair makes it again.
pub async fn document_drifted(c: &Clients, arn: &str) -> Result<bool, OpError> {
    let doc = match c.snapshot(rules::TAG_MANAGED_BY).await {
        Some(snap) => snap.policies.get(arn).cloned(),
        None => default_document(c, arn).await?,
    };
    Ok(needs_repair(doc.as_deref()))
}

/// Deletes the system's boundary when it is ours and no role uses it any
/// more. Returns why it was kept otherwise: roles it still bounds (a query
/// group of another configuration), whose nodes must not lose it.
pub async fn delete(c: &Clients, system: &str) -> Result<Option<String>, OpError> {
    let arn = arn(c, system).await?;
    let name = rules::node_boundary_name(system);
    if find(c, &arn).await?.is_none() {
        return Ok(None);
    }
    if !ownership::may_delete(
        "IAM policy",
        &name,
        &policy_tags(c, &arn).await?,
        system,
        None,
    ) {
        return Ok(None);
    }
    let users = c
        .iam
        .list_entities_for_policy()
        .policy_arn(&arn)
        .policy_usage_filter(PolicyUsageType::PermissionsBoundary)
        .send()
        .await
        .map_err(sdk)?;
    let roles: Vec<&str> = users
        .policy_roles()
        .iter()
        .filter_map(|r| r.role_name())
        .collect();
    if !roles.is_empty() {
        let why = format!(
            "The IAM policy {name} was kept: it is the permissions boundary of the roles {}, which are not this configuration's to delete. Delete it once they are gone.",
            roles.join(", ")
        );
        log::warn(
            "kept the node permissions boundary",
            &[("roles", &roles.join(", "))],
        );
        return Ok(Some(why));
    }
    crate::aws::eventual::while_conflict(&format!("IAM policy {name}"), || async {
        let versions = c
            .iam
            .list_policy_versions()
            .policy_arn(&arn)
            .send()
            .await
            .map_err(sdk)
            .found()?;
        for v in versions
            .iter()
            .flat_map(|o| o.versions())
            .filter(|v| !v.is_default_version())
        {
            if let Some(id) = v.version_id() {
                delete_version(c, &arn, id).await?;
            }
        }
        c.iam
            .delete_policy()
            .policy_arn(&arn)
            .send()
            .await
            .map_err(sdk)
            .found()
    })
    .await?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: &str, default: bool, created: i64) -> Version {
        Version {
            id: id.into(),
            default,
            created,
        }
    }

    #[test]
    fn only_a_default_version_that_is_not_ours_is_repaired() {
        // Another group put it back first: nothing more to do.
        assert!(!needs_repair(Some(DOCUMENT)));
        let reformatted = urlencoded(DOCUMENT);
        assert!(!needs_repair(Some(&reformatted)));
        assert!(needs_repair(Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
        )));
        assert!(needs_repair(None));
    }

    fn urlencoded(s: &str) -> String {
        s.replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22")
    }

    #[test]
    fn below_five_versions_none_is_deleted() {
        let two = [v("v1", false, 10), v("v2", true, 20)];
        assert_eq!(version_to_delete(&two), None);
    }

    #[test]
    fn with_five_versions_the_oldest_other_than_the_default_goes_first() {
        let five = [
            v("v3", false, 30),
            v("v1", true, 10),
            v("v2", false, 20),
            v("v5", false, 50),
            v("v4", false, 40),
        ];
        assert_eq!(version_to_delete(&five).as_deref(), Some("v2"));
        // Made in the same second: the lowest id, the same choice in every racer.
        let tied = [
            v("v9", false, 5),
            v("v8", false, 5),
            v("v7", true, 1),
            v("v6", false, 5),
            v("v10", false, 5),
        ];
        assert_eq!(version_to_delete(&tied).as_deref(), Some("v10"));
    }

    #[test]
    fn a_policy_is_fresh_for_the_propagation_time() {
        assert!(is_fresh(1_000, 1_000));
        assert!(is_fresh(1_000, 1_119));
        assert!(!is_fresh(1_000, 1_120));
        assert!(!is_fresh(0, i64::MAX));
    }

    #[test]
    fn the_boundary_carries_no_group_identity() {
        let t: tags::Tags = [
            (rules::TAG_SYSTEM, "s"),
            (rules::TAG_GROUP, "q"),
            (rules::TAG_CREATED, "true"),
            (rules::TAG_APPLICATION, "web"),
            (rules::TAG_REVISION, "r1"),
            ("team", "data"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let own = system_tags(&t);
        assert_eq!(own.get(rules::TAG_SYSTEM).map(String::as_str), Some("s"));
        assert!(!own.contains_key(rules::TAG_GROUP));
        assert!(!own.contains_key(rules::TAG_CREATED));
        assert!(!own.contains_key(rules::TAG_APPLICATION));
        assert!(!own.contains_key(rules::TAG_REVISION));
        assert_eq!(own.get("team").map(String::as_str), Some("data"));
    }
}
