//! The permissions boundary of a system's node roles: one IAM managed policy
//! per system, put on every node role. Whatever an application's
//! `iam_policy` or a policy attached by hand grants, a node can never change
//! IAM, Organizations or the account (reading IAM stays allowed), so a node
//! that is broken into cannot grant itself, or anyone, more. Made with the
//! system's first node role, deleted with the system once no role uses it.

use crate::resources::error::OpError;
use aws_sdk_iam::types::{Policy, PolicyUsageType};

use super::same_policy;
use super::sdk;
use crate::aws::{tags, AwsError, Clients, Found};
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
    Ok(c.iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(sdk)
        .found()?
        .and_then(|o| o.policy().cloned()))
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

/// Finds or makes the system's boundary and returns its ARN. One with our
/// name and a stranger's tags stops the create; one of ours whose document
/// was changed by hand gets ours back as its default version. `t` are the
/// tags of the group being made: the boundary carries them without the
/// group's identity, as it belongs to the whole system.
pub async fn ensure(c: &Clients, system: &str, t: &tags::Tags) -> Result<String, OpError> {
    let arn = arn(c, system).await?;
    let name = rules::node_boundary_name(system);
    match find(c, &arn).await? {
        Some(p) => {
            ownership::check(
                "IAM policy",
                &name,
                &policy_tags(c, &arn).await?,
                system,
                None,
            )?;
            let version = p.default_version_id().unwrap_or("v1");
            let doc = c
                .iam
                .get_policy_version()
                .policy_arn(&arn)
                .version_id(version)
                .send()
                .await
                .map_err(sdk)?
                .policy_version()
                .and_then(|v| v.document().map(str::to_string))
                .unwrap_or_default();
            if !same_policy(&doc, DOCUMENT) {
                put_document(c, &arn).await?;
            }
        }
        None => {
            let mut own = t.clone();
            own.remove(rules::TAG_GROUP);
            own.remove(rules::TAG_CREATED);
            AwsError::tolerate_exists(
                c.iam
                    .create_policy()
                    .policy_name(&name)
                    .path(rules::NODE_BOUNDARY_PATH)
                    .description(format!(
                        "Permissions boundary of the node roles of Datomic system {system}"
                    ))
                    .policy_document(DOCUMENT)
                    .set_tags(Some(tags::iam(&own)))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(sdk),
            )?;
        }
    }
    Ok(arn)
}

/// Makes [`DOCUMENT`] the default version, deleting the oldest other
/// version first when IAM's five are taken.
async fn put_document(c: &Clients, arn: &str) -> Result<(), OpError> {
    let versions = c
        .iam
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .map_err(sdk)?;
    let mut others: Vec<_> = versions
        .versions()
        .iter()
        .filter(|v| !v.is_default_version())
        .filter_map(|v| Some((v.create_date()?.secs(), v.version_id()?.to_string())))
        .collect();
    others.sort();
    if versions.versions().len() >= MAX_VERSIONS {
        if let Some((_, oldest)) = others.first() {
            delete_version(c, arn, oldest).await?;
        }
    }
    c.iam
        .create_policy_version()
        .policy_arn(arn)
        .policy_document(DOCUMENT)
        .set_as_default(true)
        .send()
        .await
        .map_err(sdk)?;
    Ok(())
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
