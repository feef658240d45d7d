//! CodeDeploy as ion deploys use it: the application named after the
//! Datomic application (shared by every group and system that runs it), one
//! deployment group per compute group tied to its Auto Scaling group, and
//! in-place deployments of S3 zips, one node at a time, rolled back on
//! failure.

use std::time::Duration;

use aws_sdk_codedeploy::types::{
    AutoRollbackConfiguration, AutoRollbackEvent, BundleType, ComputePlatform, DeploymentGroupInfo,
    DeploymentOption, DeploymentStatus, DeploymentStyle, DeploymentType, LifecycleEventStatus,
    RevisionLocation, RevisionLocationType, S3Location, Tag,
};
use tokio_util::sync::CancellationToken;

use crate::aws::error::code;
use crate::aws::wait::{Poll, Waiter};
use crate::aws::{tags, AwsError, Clients, Found};
use crate::resources::error::OpError;
use crate::resources::ownership;
use crate::rules;

fn cd_tags(t: &tags::Tags) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

async fn tags_of(c: &Clients, arn: &str) -> Result<tags::Tags, OpError> {
    let out = c
        .codedeploy
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    Ok(out
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect())
}

/// One compute group's deployment group.
pub struct Target<'a> {
    pub system: &'a str,
    pub group: &'a str,
    pub application: &'a str,
}

impl Target<'_> {
    pub fn name(&self) -> String {
        rules::deployment_group_name(self.system, self.group)
    }

    pub async fn arn(&self, c: &Clients) -> Result<String, OpError> {
        Ok(rules::deployment_group_arn(
            "aws",
            &c.region,
            &c.account().await?,
            self.application,
            &self.name(),
        ))
    }
}

/// The CodeDeploy application, made (and tagged as the provider's) when
/// missing. One made by someone else (Datomic's own templates) is used as
/// it is: only its deployment groups are the provider's.
pub async fn ensure_application(c: &Clients, application: &str) -> Result<(), OpError> {
    let found = c
        .codedeploy
        .get_application()
        .application_name(application)
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?;
    if found.is_some() {
        return Ok(());
    }
    let mut t = c.default_tags.clone();
    t.insert(
        rules::TAG_MANAGED_BY.to_string(),
        rules::MANAGED_BY_VALUE.to_string(),
    );
    t.insert(rules::TAG_APPLICATION.to_string(), application.to_string());
    let made = c
        .codedeploy
        .create_application()
        .application_name(application)
        .compute_platform(ComputePlatform::Server)
        .set_tags(Some(cd_tags(&t)))
        .send()
        .await
        .map(|_| ())
        .map_err(AwsError::from_sdk);
    AwsError::tolerate_exists(made)?;
    Ok(())
}

/// Whether the deployment group has the settings of an ion deploy group.
fn settled(g: &DeploymentGroupInfo, asg: &str, role_arn: &str) -> bool {
    let asgs: Vec<&str> = g
        .auto_scaling_groups()
        .iter()
        .filter_map(|a| a.name())
        .collect();
    let rollback = g
        .auto_rollback_configuration()
        .is_some_and(|r| r.enabled() && r.events().contains(&AutoRollbackEvent::DeploymentFailure));
    asgs == [asg]
        && g.service_role_arn() == Some(role_arn)
        && g.deployment_config_name() == Some(rules::DEPLOYMENT_CONFIG)
        && rollback
}

fn style() -> DeploymentStyle {
    DeploymentStyle::builder()
        .deployment_type(DeploymentType::InPlace)
        .deployment_option(DeploymentOption::WithoutTrafficControl)
        .build()
}

fn rollback() -> AutoRollbackConfiguration {
    AutoRollbackConfiguration::builder()
        .enabled(true)
        .events(AutoRollbackEvent::DeploymentFailure)
        .build()
}

async fn get_group(c: &Clients, t: &Target<'_>) -> Result<Option<DeploymentGroupInfo>, OpError> {
    Ok(c.codedeploy
        .get_deployment_group()
        .application_name(t.application)
        .deployment_group_name(t.name())
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?
        .and_then(|o| o.deployment_group_info().cloned()))
}

/// The deployment group, made when missing and set back to an ion deploy
/// group's settings when changed. One found by its name is used only when its
/// identity tags make it this group's. CodeDeploy refuses a role made a
/// moment ago (`InvalidRoleException`) until IAM has propagated it: retried.
pub async fn ensure_group(
    c: &Clients,
    t: &Target<'_>,
    role_arn: &str,
    identity: &tags::Tags,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    let name = t.name();
    let asg = rules::asg_name(t.system, t.group);
    if let Some(g) = get_group(c, t).await? {
        check_owned(c, t).await?;
        if settled(&g, &asg, role_arn) {
            return Ok(());
        }
        return retry_role(&name, cancel, || async {
            c.codedeploy
                .update_deployment_group()
                .application_name(t.application)
                .current_deployment_group_name(&name)
                .service_role_arn(role_arn)
                .auto_scaling_groups(&asg)
                .deployment_config_name(rules::DEPLOYMENT_CONFIG)
                .deployment_style(style())
                .auto_rollback_configuration(rollback())
                .send()
                .await
                .map(|_| ())
                .map_err(AwsError::from_sdk)
        })
        .await;
    }
    let existed = std::sync::atomic::AtomicBool::new(false);
    retry_role(&name, cancel, || async {
        let made = c
            .codedeploy
            .create_deployment_group()
            .application_name(t.application)
            .deployment_group_name(&name)
            .service_role_arn(role_arn)
            .auto_scaling_groups(&asg)
            .deployment_config_name(rules::DEPLOYMENT_CONFIG)
            .deployment_style(style())
            .auto_rollback_configuration(rollback())
            .set_tags(Some(cd_tags(identity)))
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk);
        match made {
            Err(e) if e.is_already_exists() => {
                existed.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
            other => other,
        }
    })
    .await?;
    // A create retried after its answer was lost, or a group made meanwhile
    // by someone else: ours only by its tags.
    if existed.load(std::sync::atomic::Ordering::Relaxed) {
        check_owned(c, t).await?;
    }
    Ok(())
}

/// Refuses the deployment group unless its identity tags make it the
/// compute group's.
async fn check_owned(c: &Clients, t: &Target<'_>) -> Result<(), OpError> {
    let found = tags_of(c, &t.arn(c).await?).await?;
    ownership::check(
        "CodeDeploy deployment group",
        &t.name(),
        &found,
        t.system,
        Some(t.group),
    )
}

/// Runs `op` while CodeDeploy cannot assume the new role yet.
async fn retry_role<F, Fut>(
    what: &str,
    cancel: &CancellationToken,
    mut op: F,
) -> Result<(), OpError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), AwsError>>,
{
    let waiting = format!("CodeDeploy to accept the service role of deployment group {what}");
    Waiter::new(crate::aws::eventual::PROPAGATION_TIMEOUT)
        .until(&waiting, cancel, || {
            let attempt = op();
            async move {
                match attempt.await {
                    Ok(()) => Ok(Poll::Done(())),
                    Err(e) if e.code_is(&[code::INVALID_ROLE]) => Ok(Poll::Pending),
                    Err(e) => Err(e),
                }
            }
        })
        .await
        .map_err(OpError::from)
}

/// What a deployment group runs: its last successful deployment and that
/// deployment's revision (None when the key is not an ion push's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub deployment_id: String,
    pub revision: Option<String>,
}

/// None when the deployment group does not exist; Some(None) when it has
/// never deployed successfully.
pub async fn running(c: &Clients, t: &Target<'_>) -> Result<Option<Option<Running>>, OpError> {
    let Some(g) = get_group(c, t).await? else {
        return Ok(None);
    };
    let Some(id) = g
        .last_successful_deployment()
        .and_then(|d| d.deployment_id())
        .filter(|d| !d.is_empty())
    else {
        return Ok(Some(None));
    };
    let revision = revision_key(c, id)
        .await?
        .and_then(|k| rules::revision_of_key(t.application, &k));
    Ok(Some(Some(Running {
        deployment_id: id.to_string(),
        revision,
    })))
}

/// Deploys `s3://bucket/key` to the deployment group and waits until the
/// deployment ends: its id when it succeeded, else an error with
/// CodeDeploy's own words (see `failure`).
pub async fn deploy(
    c: &Clients,
    t: &Target<'_>,
    bucket: &str,
    key: &str,
    revision: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<String, OpError> {
    let location = RevisionLocation::builder()
        .revision_type(RevisionLocationType::S3)
        .s3_location(
            S3Location::builder()
                .bucket(bucket)
                .key(key)
                .bundle_type(BundleType::Zip)
                .build(),
        )
        .build();
    // A deployment group runs one deployment at a time (AWS refuses a second
    // with DeploymentLimitExceededException): one of this revision still
    // running (an apply interrupted, or a create retried after its answer
    // was lost) is waited for instead of made again; another one is waited
    // out first.
    let id = match active(c, t).await? {
        Some((id, k)) if k == key => id,
        other => {
            if let Some((id, _)) = other {
                let what = format!("CodeDeploy deployment {id} to {} to end", t.name());
                end_of(c, &id, &what, timeout, cancel).await?;
            }
            let made = c
                .codedeploy
                .create_deployment()
                .application_name(t.application)
                .deployment_group_name(t.name())
                .revision(location)
                .description(format!("revision {revision} (terraform-provider-datomic)"))
                .send()
                .await
                .map_err(AwsError::from_sdk);
            match made {
                Ok(out) => out.deployment_id().unwrap_or_default().to_string(),
                Err(e) if e.code_is(&[code::DEPLOYMENT_LIMIT_EXCEEDED]) => {
                    match active(c, t).await? {
                        Some((id, k)) if k == key => id,
                        _ => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let what = format!(
        "CodeDeploy deployment {id} of revision {revision} to {}",
        t.name()
    );
    match end_of(c, &id, &what, timeout, cancel).await? {
        (DeploymentStatus::Succeeded, _) => Ok(id),
        (s, info) => Err(OpError::Deployment(failure(c, &id, s.as_str(), info).await)),
    }
}

/// The deployment group's deployment that has not ended, if any: its id and
/// revision key.
async fn active(c: &Clients, t: &Target<'_>) -> Result<Option<(String, String)>, OpError> {
    let out = c
        .codedeploy
        .list_deployments()
        .application_name(t.application)
        .deployment_group_name(t.name())
        .include_only_statuses(DeploymentStatus::Created)
        .include_only_statuses(DeploymentStatus::Queued)
        .include_only_statuses(DeploymentStatus::InProgress)
        .include_only_statuses(DeploymentStatus::Ready)
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    let Some(id) = out.deployments().first() else {
        return Ok(None);
    };
    let key = revision_key(c, id).await?.unwrap_or_default();
    Ok(Some((id.clone(), key)))
}

/// The S3 key of the revision the deployment `id` deploys.
async fn revision_key(c: &Clients, id: &str) -> Result<Option<String>, OpError> {
    let d = c
        .codedeploy
        .get_deployment()
        .deployment_id(id)
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    Ok(d.deployment_info()
        .and_then(|i| i.revision())
        .and_then(|r| r.s3_location())
        .and_then(|s| s.key())
        .map(str::to_string))
}

type Ended = (
    DeploymentStatus,
    Option<aws_sdk_codedeploy::types::DeploymentInfo>,
);

/// Waits until the deployment `id` ends: its last status and description.
async fn end_of(
    c: &Clients,
    id: &str,
    what: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Ended, OpError> {
    Ok(Waiter::new(timeout)
        .until(what, cancel, || async {
            let d = c
                .codedeploy
                .get_deployment()
                .deployment_id(id)
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            let info = d.deployment_info().cloned();
            Ok::<_, AwsError>(match info.as_ref().and_then(|i| i.status()) {
                Some(
                    s @ (DeploymentStatus::Succeeded
                    | DeploymentStatus::Failed
                    | DeploymentStatus::Stopped),
                ) => Poll::Done((s.clone(), info)),
                _ => Poll::Pending,
            })
        })
        .await?)
}

/// The words of a failed deployment: CodeDeploy's errorInformation, the
/// first failed lifecycle event of its targets (best effort: a failure to
/// read them leaves them out), the rollback.
async fn failure(
    c: &Clients,
    id: &str,
    status: &str,
    info: Option<aws_sdk_codedeploy::types::DeploymentInfo>,
) -> String {
    let error = info.as_ref().and_then(|i| i.error_information()).map(|e| {
        (
            e.code().map(|c| c.as_str().to_string()).unwrap_or_default(),
            e.message().unwrap_or_default().to_string(),
        )
    });
    let rolled_back = info
        .as_ref()
        .and_then(|i| i.rollback_info())
        .and_then(|r| r.rollback_deployment_id())
        .map(str::to_string);
    let event = failed_event(c, id).await.ok().flatten();
    rules::deployment_failure(
        id,
        status,
        error.as_ref().map(|(c, m)| (c.as_str(), m.as_str())),
        event.as_ref(),
        rolled_back.as_deref(),
    )
}

async fn failed_event(c: &Clients, id: &str) -> Result<Option<rules::FailedEvent>, AwsError> {
    let targets = c
        .codedeploy
        .list_deployment_targets()
        .deployment_id(id)
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    let ids: Vec<String> = targets.target_ids().iter().take(25).cloned().collect();
    if ids.is_empty() {
        return Ok(None);
    }
    let got = c
        .codedeploy
        .batch_get_deployment_targets()
        .deployment_id(id)
        .set_target_ids(Some(ids))
        .send()
        .await
        .map_err(AwsError::from_sdk)?;
    for t in got.deployment_targets() {
        let Some(i) = t.instance_target() else {
            continue;
        };
        for e in i.lifecycle_events() {
            if e.status() != Some(&LifecycleEventStatus::Failed) {
                continue;
            }
            let d = e.diagnostics();
            return Ok(Some(rules::FailedEvent {
                target: i.target_id().unwrap_or_default().to_string(),
                event: e.lifecycle_event_name().unwrap_or_default().to_string(),
                error_code: d
                    .and_then(|d| d.error_code())
                    .map(|c| c.as_str().to_string()),
                message: d.and_then(|d| d.message()).map(str::to_string),
                script: d.and_then(|d| d.script_name()).map(str::to_string),
                log_tail: d.and_then(|d| d.log_tail()).map(str::to_string),
            }));
        }
    }
    Ok(None)
}

/// Deletes the deployment group when its identity tags make it this
/// group's, then the CodeDeploy application when the provider made it (its
/// tags) and no deployment group of any system is left in it.
pub async fn remove(c: &Clients, t: &Target<'_>) -> Result<(), OpError> {
    let name = t.name();
    if get_group(c, t).await?.is_some() {
        let found = tags_of(c, &t.arn(c).await?).await?;
        if ownership::may_delete(
            "CodeDeploy deployment group",
            &name,
            &found,
            t.system,
            Some(t.group),
        ) {
            c.codedeploy
                .delete_deployment_group()
                .application_name(t.application)
                .deployment_group_name(&name)
                .send()
                .await
                .map_err(AwsError::from_sdk)
                .found()?;
        }
    }
    let left = c
        .codedeploy
        .list_deployment_groups()
        .application_name(t.application)
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?;
    let Some(left) = left else {
        return Ok(());
    };
    if !left.deployment_groups().is_empty() {
        return Ok(());
    }
    let arn =
        rules::codedeploy_application_arn("aws", &c.region, &c.account().await?, t.application);
    let app_tags = tags_of(c, &arn).await?;
    if app_tags.get(rules::TAG_MANAGED_BY).map(String::as_str) != Some(rules::MANAGED_BY_VALUE) {
        return Ok(());
    }
    c.codedeploy
        .delete_application()
        .application_name(t.application)
        .send()
        .await
        .map_err(AwsError::from_sdk)
        .found()?;
    Ok(())
}
