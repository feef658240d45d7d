//! Ion deploys, as Datomic makes them: the region's code bucket, where
//! `ion push` puts a revision, and the CodeDeploy names, documents and
//! messages of a deployment to a compute group.

use super::{asg_name, q, Violation};

/// The tag that marks the region's ion code bucket (any value).
pub const TAG_CODE: &str = "datomic:code";

/// Longest S3 bucket name.
const MAX_BUCKET_NAME_LEN: usize = 63;

/// The region's code bucket: `datomic-code-<account>-<region>`, one per
/// account and region, shared by every system there. An account id (12
/// digits) and the longest region name fit S3's 63 characters; anything
/// longer is cut.
pub fn code_bucket_name(account: &str, region: &str) -> String {
    let clean = |s: &str| {
        s.chars()
            .flat_map(char::to_lowercase)
            .map(|c| {
                if c.is_ascii_lowercase() || c.is_ascii_digit() {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>()
    };
    let mut name = format!("datomic-code-{}-{}", clean(account), clean(region));
    name.truncate(MAX_BUCKET_NAME_LEN);
    name.trim_end_matches('-').to_string()
}

/// Where ion push puts a revision: `datomic/apps/<application>/<revision>.zip`.
pub fn revision_key(application: &str, revision: &str) -> String {
    format!("datomic/apps/{application}/{revision}.zip")
}

/// The revision of a key made by [`revision_key`] for `application`.
pub fn revision_of_key(application: &str, key: &str) -> Option<String> {
    key.strip_prefix(&format!("datomic/apps/{application}/"))?
        .strip_suffix(".zip")
        .filter(|r| !r.is_empty() && !r.contains('/'))
        .map(str::to_string)
}

/// A compute group's CodeDeploy deployment group: its Auto Scaling group's
/// name, `<system>--<group>`.
pub fn deployment_group_name(system: &str, group: &str) -> String {
    asg_name(system, group)
}

/// The ARN of a deployment group.
pub fn deployment_group_arn(
    partition: &str,
    region: &str,
    account: &str,
    application: &str,
    deployment_group: &str,
) -> String {
    format!("arn:{partition}:codedeploy:{region}:{account}:deploymentgroup:{application}/{deployment_group}")
}

/// The ARN of a CodeDeploy application.
pub fn codedeploy_application_arn(
    partition: &str,
    region: &str,
    account: &str,
    application: &str,
) -> String {
    format!("arn:{partition}:codedeploy:{region}:{account}:application:{application}")
}

/// The IAM role CodeDeploy acts as for a compute group:
/// `<system>--<group>-deploy` (at most 57 of IAM's 64 characters).
pub fn deploy_role_name(system: &str, group: &str) -> String {
    format!("{}-deploy", asg_name(system, group))
}

/// The deployment configuration of ion deploys: one node at a time.
pub const DEPLOYMENT_CONFIG: &str = "CodeDeployDefault.OneAtATime";

/// The deploy role's inline policy name.
pub const DEPLOY_ROLE_POLICY_NAME: &str = "codedeploy";

/// The deploy role's inline policy: what AWS's managed AWSCodeDeployRole
/// grants for in-place EC2 / Auto Scaling deployments (lifecycle hooks on the
/// group, instance and tag look-ups, alarms and notifications), inline so
/// that it holds where the managed policy cannot be attached (partitions,
/// emulators) and says exactly what CodeDeploy may do. No `iam:PassRole`, no
/// instance launches: blue/green deployments are not made.
pub const DEPLOY_ROLE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"InPlaceDeployments","Effect":"Allow","Action":["autoscaling:CompleteLifecycleAction","autoscaling:DeleteLifecycleHook","autoscaling:DescribeAutoScalingGroups","autoscaling:DescribeLifecycleHooks","autoscaling:PutLifecycleHook","autoscaling:RecordLifecycleActionHeartbeat","autoscaling:DescribeScalingActivities","autoscaling:SuspendProcesses","autoscaling:ResumeProcesses","ec2:DescribeInstances","ec2:DescribeInstanceStatus","tag:GetResources","sns:Publish","cloudwatch:DescribeAlarms","elasticloadbalancing:DescribeLoadBalancers","elasticloadbalancing:DescribeInstanceHealth","elasticloadbalancing:DescribeTargetGroups","elasticloadbalancing:DescribeTargetHealth"],"Resource":"*"}]}"#;

/// The deploy role's trust policy: CodeDeploy may assume it.
pub const DEPLOY_ROLE_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codedeploy.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// How to push a revision with Datomic's tooling.
pub const PUSH_HINT: &str = "clojure -A:ion-dev '{:op :push :uname \"<revision>\"}'";

/// A revision that is not in the code bucket.
pub fn revision_not_pushed(application: &str, revision: &str, bucket: &str) -> Violation {
    let key = revision_key(application, revision);
    Violation::new(
        "revision",
        "Application revision not pushed",
        format!(
            "Revision {} of application {} is not in the region's code bucket: s3://{bucket}/{key} was looked for and not found. Push it first, from the application's project: `clojure -A:ion-dev '{{:op :push}}'` (its git sha is the revision) or `{}`; or upload the zip to that key yourself.",
            q(revision),
            q(application),
            PUSH_HINT.replace("<revision>", revision)
        ),
    )
}

/// A CodeDeploy lifecycle event that failed on one node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailedEvent {
    pub target: String,
    pub event: String,
    pub error_code: Option<String>,
    pub message: Option<String>,
    pub script: Option<String>,
    pub log_tail: Option<String>,
}

/// What a failed deployment says: CodeDeploy's own error, the first failed
/// lifecycle event, and what happened after (rollback).
pub fn deployment_failure(
    deployment_id: &str,
    status: &str,
    error: Option<(&str, &str)>,
    event: Option<&FailedEvent>,
    rolled_back: Option<&str>,
) -> String {
    let mut s = format!("CodeDeploy deployment {deployment_id} ended {status}");
    match error {
        Some((code, message)) => s.push_str(&format!(": {code}: {message}")),
        None => s.push('.'),
    }
    if let Some(e) = event {
        s.push_str(&format!(
            "\nFailed lifecycle event: {} on {}",
            e.event, e.target
        ));
        if let Some(c) = &e.error_code {
            s.push_str(&format!(" ({c})"));
        }
        if let Some(sc) = &e.script {
            s.push_str(&format!(", script {sc}"));
        }
        if let Some(m) = &e.message {
            s.push_str(&format!(": {m}"));
        }
        if let Some(t) = e.log_tail.as_deref().filter(|t| !t.trim().is_empty()) {
            s.push_str(&format!("\nLog tail:\n{}", t.trim_end()));
        }
    }
    match rolled_back {
        Some(id) => s.push_str(&format!("\nCodeDeploy rolled the group back to the revision it ran before (deployment {id}); the state keeps that revision.")),
        None => s.push_str("\nThe state keeps the revision the group ran before."),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_bucket_is_named_by_account_and_region() {
        assert_eq!(
            code_bucket_name("123456789012", "us-east-1"),
            "datomic-code-123456789012-us-east-1"
        );
        let long = code_bucket_name("123456789012", "ap-southeast-5-with-a-much-longer-name-x");
        assert!(long.len() <= 63, "{long}");
        assert!(!long.ends_with('-'));
        assert_eq!(
            code_bucket_name("AB_1", "eu-west-2"),
            "datomic-code-ab-1-eu-west-2"
        );
    }

    #[test]
    fn revision_keys_are_ion_pushs() {
        let k = revision_key("web", "0f3c2a9");
        assert_eq!(k, "datomic/apps/web/0f3c2a9.zip");
        assert_eq!(revision_of_key("web", &k).as_deref(), Some("0f3c2a9"));
        assert_eq!(revision_of_key("other", &k), None);
        assert_eq!(revision_of_key("web", "datomic/apps/web/.zip"), None);
        assert_eq!(revision_of_key("web", "datomic/apps/web/a/b.zip"), None);
    }

    #[test]
    fn deployment_group_names_and_arns() {
        assert_eq!(deployment_group_name("prod", "primary"), "prod--primary");
        assert_eq!(
            deployment_group_arn("aws", "us-east-1", "123456789012", "web", "prod--primary"),
            "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:web/prod--primary"
        );
        assert_eq!(
            deploy_role_name("prod", "analytics"),
            "prod--analytics-deploy"
        );
        let longest = deploy_role_name(&"s".repeat(24), &"g".repeat(24));
        assert!(longest.len() <= 64);
        let trust: serde_json::Value = serde_json::from_str(DEPLOY_ROLE_TRUST).unwrap();
        assert_eq!(
            trust["Statement"][0]["Principal"]["Service"],
            "codedeploy.amazonaws.com"
        );
        let policy: serde_json::Value = serde_json::from_str(DEPLOY_ROLE_POLICY).unwrap();
        let actions = policy["Statement"][0]["Action"].as_array().unwrap();
        assert!(actions.iter().any(|a| a == "autoscaling:PutLifecycleHook"));
        assert!(!actions
            .iter()
            .any(|a| a.as_str().unwrap().starts_with("iam:")));
    }

    #[test]
    fn a_revision_not_pushed_says_where_and_how() {
        let v = revision_not_pushed("web", "r9", "datomic-code-1-us-east-1");
        assert_eq!(v.attribute, "revision");
        for needle in [
            "s3://datomic-code-1-us-east-1/datomic/apps/web/r9.zip",
            ":op :push",
            "\"r9\"",
        ] {
            assert!(v.detail.contains(needle), "{needle}: {}", v.detail);
        }
    }

    #[test]
    fn a_failure_says_codedeploys_error_and_the_event() {
        let e = FailedEvent {
            target: "i-1".into(),
            event: "ValidateService".into(),
            error_code: Some("ScriptFailed".into()),
            message: Some("Script at specified location: validate.sh run as user root failed with exit code 1".into()),
            script: Some("validate.sh".into()),
            log_tail: Some("boom\n".into()),
        };
        let s = deployment_failure(
            "d-1",
            "Failed",
            Some(("HEALTH_CONSTRAINTS", "The overall deployment failed")),
            Some(&e),
            Some("d-2"),
        );
        for needle in [
            "d-1 ended Failed: HEALTH_CONSTRAINTS: The overall deployment failed",
            "ValidateService on i-1 (ScriptFailed), script validate.sh",
            "exit code 1",
            "boom",
            "deployment d-2",
        ] {
            assert!(s.contains(needle), "{needle}: {s}");
        }
        let bare = deployment_failure("d-3", "Stopped", None, None, None);
        assert!(bare.contains("d-3 ended Stopped."), "{bare}");
    }
}
