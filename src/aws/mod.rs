//! Thin helpers over the AWS SDK: the client set, tagging, waiters and error
//! classes. Nothing here knows Terraform; `rules` gives the names.

pub mod error;
pub mod eventual;
pub mod regions;
pub mod retry;
pub mod snapshot;
pub mod states;
pub mod step;
pub mod tags;
pub mod wait;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use aws_types::SdkConfig;

pub use error::{AwsError, Found};

/// Whether a look-up is made for a plan or for an apply: a plan's goes
/// through the plan-time clients (few retries, short timeouts: AWS out of
/// reach makes a plan go on with a warning, not hang) and may answer from the
/// plan's batched listings; an apply's asks AWS as usual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Plan,
    Apply,
}

impl Lookup {
    pub fn autoscaling(self, c: &Clients) -> &aws_sdk_autoscaling::Client {
        match self {
            Lookup::Plan => &c.autoscaling_probe,
            Lookup::Apply => &c.autoscaling,
        }
    }

    pub fn ec2(self, c: &Clients) -> &aws_sdk_ec2::Client {
        match self {
            Lookup::Plan => &c.ec2_probe,
            Lookup::Apply => &c.ec2,
        }
    }
}

/// One set of SDK clients per configured provider, shared by all resources.
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    /// For plan-time look-ups: few retries and short timeouts, so that a plan
    /// with AWS out of reach goes on (with a warning) instead of hanging.
    pub autoscaling_probe: aws_sdk_autoscaling::Client,
    /// EC2 for plan-time look-ups, likewise.
    pub ec2_probe: aws_sdk_ec2::Client,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sts: aws_sdk_sts::Client,
    /// STS for the configure-time identity check: a short deadline, so that
    /// an unreachable endpoint fails `plan` in seconds.
    sts_check: aws_sdk_sts::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    /// SSM Parameter Store: applications' secret parameters.
    pub ssm: aws_sdk_ssm::Client,
    /// Route53: the system's private DNS zone and its groups' names. A
    /// global service: the SDK resolves it to `route53.amazonaws.com` and
    /// signs for `us-east-1` whatever the region (see the test below).
    pub route53: aws_sdk_route53::Client,
    /// CodeDeploy: applications' ion deploys.
    pub codedeploy: aws_sdk_codedeploy::Client,
    /// KMS: the key each system's storage is encrypted with.
    pub kms: aws_sdk_kms::Client,
    /// CloudWatch Logs: the system's log group.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub efs: aws_sdk_efs::Client,
    pub region: String,
    /// Tags from the provider's `default_tags` block.
    pub default_tags: BTreeMap<String, String>,
    account_id: OnceLock<String>,
    /// The account id asked of STS later, when configure skipped it: kept
    /// apart so that plans never depend on whether a read happened first.
    fetched_account_id: tokio::sync::OnceCell<String>,
    /// The refresh-time view, loaded at the first read (see [`snapshot`]).
    snapshot: tokio::sync::OnceCell<Option<Arc<snapshot::Snapshot>>>,
    /// Plan-time views of the Auto Scaling groups tagged `key=value`, by (key, value).
    tagged: std::sync::Mutex<BTreeMap<(String, String), Arc<TaggedGroupsCell>>>,
    wrote: AtomicBool,
}

/// Why the configure-time identity check failed.
#[derive(Debug, thiserror::Error)]
pub enum CallerError {
    /// STS never answered: wrong region or endpoint, or no network.
    #[error("{0}")]
    Unreachable(AwsError),
    /// STS answered with an error: the credentials (or their permissions).
    #[error("{0}")]
    Refused(AwsError),
}

/// Auto Scaling group name -> its tags.
pub type TaggedGroups = BTreeMap<String, tags::Tags>;
type TaggedGroupsCell = tokio::sync::OnceCell<Result<Arc<TaggedGroups>, AwsError>>;

impl Clients {
    pub fn new(
        sdk: &SdkConfig,
        endpoints: &BTreeMap<String, String>,
        default_tags: BTreeMap<String, String>,
    ) -> Self {
        let ep = |s: &str| endpoints.get(s).cloned();
        macro_rules! client {
            ($krate:ident, $svc:literal) => {{
                let mut b = $krate::config::Builder::from(sdk)
                    .interceptor(step::Recorder)
                    .interceptor(retry::CapDispatchRetries);
                if let Some(url) = ep($svc) {
                    b = b.endpoint_url(url);
                }
                $krate::Client::from_conf(b.build())
            }};
        }
        let s3 = {
            let mut b = aws_sdk_s3::config::Builder::from(sdk)
                .interceptor(step::Recorder)
                .interceptor(retry::CapDispatchRetries);
            if let Some(url) = ep("s3") {
                // Custom endpoints (emulators, VPC endpoints) need path-style addressing.
                b = b.endpoint_url(url).force_path_style(true);
            }
            aws_sdk_s3::Client::from_conf(b.build())
        };
        // Plan-time clients: one retry, short timeouts.
        macro_rules! probe {
            ($krate:ident, $svc:literal) => {
                probe!($krate, $svc, 3, 10)
            };
            ($krate:ident, $svc:literal, $connect:literal, $operation:literal) => {{
                use aws_config::retry::RetryConfig;
                use aws_config::timeout::TimeoutConfig;
                let mut b = $krate::config::Builder::from(sdk)
                    .interceptor(step::Recorder)
                    .interceptor(retry::CapDispatchRetries)
                    .retry_config(RetryConfig::standard().with_max_attempts(2))
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(std::time::Duration::from_secs($connect))
                            .operation_timeout(std::time::Duration::from_secs($operation))
                            .build(),
                    );
                if let Some(url) = ep($svc) {
                    b = b.endpoint_url(url);
                }
                $krate::Client::from_conf(b.build())
            }};
        }
        let autoscaling_probe = probe!(aws_sdk_autoscaling, "autoscaling");
        let ec2_probe = probe!(aws_sdk_ec2, "ec2");
        let sts_check = probe!(aws_sdk_sts, "sts", 2, 5);
        Clients {
            autoscaling_probe,
            ec2_probe,
            ec2: client!(aws_sdk_ec2, "ec2"),
            iam: client!(aws_sdk_iam, "iam"),
            autoscaling: client!(aws_sdk_autoscaling, "autoscaling"),
            s3,
            dynamodb: client!(aws_sdk_dynamodb, "dynamodb"),
            sts: client!(aws_sdk_sts, "sts"),
            sts_check,
            elbv2: client!(aws_sdk_elasticloadbalancingv2, "elbv2"),
            ssm: client!(aws_sdk_ssm, "ssm"),
            route53: client!(aws_sdk_route53, "route53"),
            codedeploy: client!(aws_sdk_codedeploy, "codedeploy"),
            kms: client!(aws_sdk_kms, "kms"),
            logs: client!(aws_sdk_cloudwatchlogs, "logs"),
            efs: client!(aws_sdk_efs, "efs"),
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            default_tags,
            account_id: OnceLock::new(),
            fetched_account_id: tokio::sync::OnceCell::new(),
            snapshot: tokio::sync::OnceCell::new(),
            tagged: std::sync::Mutex::new(BTreeMap::new()),
            wrote: AtomicBool::new(false),
        }
    }

    /// STS GetCallerIdentity at configure time: validates the credentials
    /// and names the account. Fails within seconds when STS is out of reach
    /// (see [`CallerError`]).
    pub async fn caller_account(&self) -> Result<String, CallerError> {
        match self.sts_check.get_caller_identity().send().await {
            Ok(out) => Ok(out.account().unwrap_or_default().to_string()),
            Err(e) => {
                let unreachable = error::dispatch_failure_of(&e).is_some()
                    || matches!(
                        e,
                        aws_smithy_runtime_api::client::result::SdkError::TimeoutError(_)
                    );
                let err = AwsError::from_sdk(e);
                Err(if unreachable {
                    CallerError::Unreachable(err)
                } else {
                    CallerError::Refused(err)
                })
            }
        }
    }

    /// Records that this process changed AWS: reads no longer use the snapshot.
    pub fn mark_write(&self) {
        self.wrote.store(true, Ordering::SeqCst);
    }

    /// The batched view of everything tagged `tag_key`, loaded once and
    /// shared by concurrent reads; None once this process has written
    /// anything, or when loading it failed (reads then ask AWS directly).
    pub async fn snapshot(&self, tag_key: &str) -> Option<Arc<snapshot::Snapshot>> {
        if self.wrote.load(Ordering::SeqCst) {
            return None;
        }
        self.snapshot
            .get_or_init(|| async {
                match snapshot::Snapshot::load(self, tag_key).await {
                    Ok(s) => {
                        crate::plugin::log::debug(
                            "loaded the refresh snapshot",
                            &[
                                ("aws_calls", &s.calls.to_string()),
                                ("groups", &s.groups.len().to_string()),
                            ],
                        );
                        Some(Arc::new(s))
                    }
                    Err(e) => {
                        crate::plugin::log::warn(
                            "refresh snapshot failed; reading objects one by one",
                            &[("error", &e.to_string())],
                        );
                        None
                    }
                }
            })
            .await
            .clone()
    }

    /// Whether this process changed AWS (see [`Clients::mark_write`]).
    pub fn has_written(&self) -> bool {
        self.wrote.load(Ordering::SeqCst)
    }

    /// The Auto Scaling groups tagged `key=value` with their tags, through
    /// the plan-time client: one paginated DescribeAutoScalingGroups per
    /// (key, value) and process, shared by every plan that asks (planning
    /// N new groups of one system costs one call per 100 groups, not N).
    /// Meant for plan-time checks, before this process writes anything.
    pub async fn tagged_groups(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Arc<TaggedGroups>, AwsError> {
        let cell = {
            let mut map = self
                .tagged
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.entry((key.to_string(), value.to_string()))
                .or_default()
                .clone()
        };
        cell.get_or_init(|| async {
            use aws_sdk_autoscaling::types::Filter;
            let mut out = TaggedGroups::new();
            let mut pages = self
                .autoscaling_probe
                .describe_auto_scaling_groups()
                .filters(
                    Filter::builder()
                        .name(format!("tag:{key}"))
                        .values(value)
                        .build(),
                )
                .max_records(100)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(AwsError::from_sdk)?;
                for g in page.auto_scaling_groups() {
                    if let Some(name) = g.auto_scaling_group_name() {
                        out.insert(name.to_string(), tags::from_asg(g));
                    }
                }
            }
            Ok(Arc::new(out))
        })
        .await
        .clone()
    }

    pub fn set_account_id(&self, id: String) {
        let _ = self.account_id.set(id);
    }

    /// The account id when it was requested, else None.
    pub fn account_id(&self) -> Option<&str> {
        self.account_id.get().map(String::as_str)
    }

    /// The account id: as requested at configure, else asked of STS once
    /// (with `skip_requesting_account_id`): a system's bucket name carries it
    /// and every S3 call names it as the bucket's expected owner.
    pub async fn account(&self) -> Result<String, AwsError> {
        if let Some(a) = self.account_id() {
            return Ok(a.to_string());
        }
        self.fetched_account_id
            .get_or_try_init(|| async {
                // Through the operations' STS client, with their retries: the
                // configure-time check's client gives up after two attempts, which
                // a throttled STS outlasts.
                let a = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map(|out| out.account().unwrap_or_default().to_string())
                    .map_err(|e| {
                        let e = AwsError::from_sdk(e);
                        AwsError::new(
                            e.code.as_deref(),
                            format!("the AWS account id is needed (a system's S3 bucket is named after it, and S3 calls check the bucket belongs to it) and STS GetCallerIdentity failed: {e}"),
                        )
                    })?;
                if a.is_empty() {
                    return Err(AwsError::new(
                        None,
                        "STS GetCallerIdentity named no account: the AWS account id is needed to name a system's S3 bucket",
                    ));
                }
                Ok(a)
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_route53::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};

    #[tokio::test]
    async fn route53_is_global_signed_for_us_east_1_from_any_region() {
        let params = Params::builder()
            .region("eu-west-1")
            .build()
            .expect("valid parameters");
        let e = DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .expect("an endpoint");
        assert_eq!(e.url(), "https://route53.amazonaws.com");
        let schemes = format!("{e:?}");
        assert!(
            schemes.contains("signingRegion") && schemes.contains("us-east-1"),
            "{schemes}"
        );
    }
}
