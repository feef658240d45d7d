//! Ion deploys of `datomic_application`: the revision ion push put in the
//! region's code bucket, deployed by CodeDeploy to the compute group's
//! deployment group, in place, one node at a time, rolled back on failure.
//!
//! The deployment group (with its service role and, when missing, the
//! CodeDeploy application) is made by `datomic_application`, not by the
//! compute group: the CodeDeploy application is named after the Datomic
//! application, a deployment group is only of use to something that deploys,
//! and a compute group without an application keeps costing no CodeDeploy
//! calls. It goes with the application's destroy; nodes launched later by
//! the Auto Scaling group get the running revision from CodeDeploy, since the
//! deployment group is tied to that Auto Scaling group.

pub mod code_bucket;
pub mod codedeploy;
pub mod package;
pub mod role;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use codedeploy::{Running, Target};

use crate::aws::{tags, Clients};
use crate::resources::error::OpError;
use crate::rules;

/// The code bucket (made when missing), when `revision` is in it; else the
/// violation to show on `revision`. Asked before anything else is written.
pub async fn check_pushed(
    c: &Clients,
    application: &str,
    revision: &str,
) -> Result<Result<String, rules::Violation>, OpError> {
    let bucket = code_bucket::ensure(c).await?;
    let key = rules::revision_key(application, revision);
    if code_bucket::has_object(c, &bucket, &key).await? {
        Ok(Ok(bucket))
    } else {
        Ok(Err(rules::revision_not_pushed(
            application,
            revision,
            &bucket,
        )))
    }
}

/// Makes sure the group can be deployed to (deploy role, CodeDeploy
/// application and deployment group), then deploys `revision` from `bucket`
/// (see [`check_pushed`]) unless the group already runs it. Returns what
/// runs afterwards.
pub async fn deploy(
    c: &Clients,
    t: &Target<'_>,
    bucket: &str,
    revision: &str,
    identity: &tags::Tags,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Running, OpError> {
    let role_arn = role::ensure(c, t.system, t.group, identity).await?;
    codedeploy::ensure_application(c, t.application).await?;
    codedeploy::ensure_group(c, t, &role_arn, identity, cancel).await?;
    if let Some(Some(r)) = codedeploy::running(c, t).await? {
        if r.revision.as_deref() == Some(revision) {
            return Ok(r);
        }
    }
    let key = rules::revision_key(t.application, revision);
    let id = codedeploy::deploy(c, t, bucket, &key, revision, timeout, cancel).await?;
    Ok(Running {
        deployment_id: id,
        revision: Some(revision.to_string()),
    })
}

/// Whether a revision is in the code bucket, for a plan: None when that
/// cannot be told yet (no bucket: the apply makes it, then checks).
pub async fn pushed_at_plan(
    c: &Clients,
    application: &str,
    revision: &str,
) -> Result<Option<Result<(), rules::Violation>>, OpError> {
    let bucket = code_bucket::name(c).await?;
    if !code_bucket::exists(c, &bucket).await? {
        return Ok(None);
    }
    let key = rules::revision_key(application, revision);
    Ok(Some(if code_bucket::has_object(c, &bucket, &key).await? {
        Ok(())
    } else {
        Err(rules::revision_not_pushed(application, revision, &bucket))
    }))
}

/// Removes the group's deployment group, its deploy role and (when unused
/// and the provider's) the CodeDeploy application. The code bucket stays.
pub async fn remove(c: &Clients, t: &Target<'_>) -> Result<(), OpError> {
    codedeploy::remove(c, t).await?;
    role::delete(c, t.system, t.group).await
}
