//! The IAM role CodeDeploy acts as for one compute group
//! (`<system>--<group>-deploy`): trusted by codedeploy.amazonaws.com, with
//! what AWS's managed AWSCodeDeployRole grants for in-place deployments as an
//! inline policy (see `rules::DEPLOY_ROLE_POLICY`), tagged with the group's identity
//! like the node role (see `compute::role`), and deleted with the group's
//! deployment group. One per group, not per system: it lives and dies with
//! its deployment group, so no count of users is needed.

use crate::aws::{eventual, tags, AwsError, Clients, Found};
use crate::resources::error::OpError;
use crate::resources::ownership;
use crate::rules;
use aws_sdk_iam::types::Role;

/// The deploy role's ARN, made when missing. A role found by its name is
/// used only when its identity tags make it this group's.
pub async fn ensure(
    c: &Clients,
    system: &str,
    group: &str,
    t: &tags::Tags,
) -> Result<String, OpError> {
    let name = rules::deploy_role_name(system, group);
    let found = c
        .iam
        .get_role()
        .role_name(&name)
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?
        .and_then(|o| o.role().cloned());
    let arn = match found {
        Some(r) => owned_arn(&r, system, group)?,
        None => {
            let made = c
                .iam
                .create_role()
                .role_name(&name)
                .assume_role_policy_document(rules::DEPLOY_ROLE_TRUST)
                .description(format!(
                    "CodeDeploy's role for ion deploys to {}",
                    rules::group_label(system, group)
                ))
                .set_tags(Some(tags::iam(t)))
                .send()
                .await
                .map_err(AwsError::from_sdk);
            match made {
                Ok(o) => o.role().map(|r| r.arn().to_string()).unwrap_or_default(),
                // A create retried after its answer was lost, or a role made
                // a moment ago that IAM's reads do not show yet (the first
                // `GetRole` said "no such entity"): ours only by its tags,
                // once IAM shows it.
                Err(e) if e.is_already_exists() => {
                    owned_arn(&eventual::existing_role(c, &name).await?, system, group)?
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    // Idempotent: the same document again changes nothing.
    c.iam
        .put_role_policy()
        .role_name(&name)
        .policy_name(rules::DEPLOY_ROLE_POLICY_NAME)
        .policy_document(rules::DEPLOY_ROLE_POLICY)
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    Ok(arn)
}

/// The role's ARN when its identity tags make it the group's; else the
/// refusal that names it.
fn owned_arn(r: &Role, system: &str, group: &str) -> Result<String, OpError> {
    ownership::check(
        "IAM role",
        r.role_name(),
        &tags::from_iam(r.tags()),
        system,
        Some(group),
    )?;
    Ok(r.arn().to_string())
}

/// Deletes the deploy role when its identity tags make it this group's.
pub async fn delete(c: &Clients, system: &str, group: &str) -> Result<(), OpError> {
    let name = rules::deploy_role_name(system, group);
    let Some(r) = c
        .iam
        .get_role()
        .role_name(&name)
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?
        .and_then(|o| o.role().cloned())
    else {
        return Ok(());
    };
    if !ownership::may_delete(
        "IAM role",
        &name,
        &tags::from_iam(r.tags()),
        system,
        Some(group),
    ) {
        return Ok(());
    }
    let inline = c
        .iam
        .list_role_policies()
        .role_name(&name)
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?;
    for p in inline.iter().flat_map(|o| o.policy_names()) {
        c.iam
            .delete_role_policy()
            .role_name(&name)
            .policy_name(p)
            .send()
            .await
            .map_err(AwsError::from_sdk)
            .found()?;
    }
    let attached = c
        .iam
        .list_attached_role_policies()
        .role_name(&name)
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?;
    for p in attached.iter().flat_map(|o| o.attached_policies()) {
        if let Some(arn) = p.policy_arn() {
            c.iam
                .detach_role_policy()
                .role_name(&name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(AwsError::from_sdk)
                .found()?;
        }
    }
    c.iam
        .delete_role()
        .role_name(&name)
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?;
    Ok(())
}
