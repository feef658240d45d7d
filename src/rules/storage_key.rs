//! The system's customer-managed KMS key: its alias and its key policy.
//!
//! The key encrypts what the system's storage holds (bucket, table). Its
//! policy gives the account's root full control (so IAM policies, the node
//! role's among them, can grant its use) and lets the EC2 Auto Scaling
//! service-linked role use it for the nodes' encrypted root volumes, as AWS
//! documents for customer-managed keys on EBS volumes launched by Auto
//! Scaling (a key use statement and a `CreateGrant` for AWS resources), and
//! lets CloudWatch Logs use it for the system's log group only, as AWS
//! documents for log groups encrypted with a customer-managed key.

/// KMS refuses a shorter pending window than this (days): a scheduled
/// deletion can be cancelled until then.
pub const KEY_DELETION_WINDOW_DAYS: i32 = 7;

/// The alias the system's key is found by: `alias/datomic-<system>`.
pub fn key_alias(system: &str) -> String {
    format!("alias/datomic-{system}")
}

/// The description the key is made with (shown in the KMS console).
pub fn key_description(system: &str) -> String {
    format!("Datomic system {system}: encrypts its storage")
}

/// The key policy of system `system`'s key in `account` and `region`
/// (partition `partition`).
pub fn key_policy(partition: &str, region: &str, account: &str, system: &str) -> String {
    let log_group = super::log_group_arn(partition, region, account, system);
    let root = format!("arn:{partition}:iam::{account}:root");
    let autoscaling = format!(
        "arn:{partition}:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    );
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdmin",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "AutoScalingVolumes",
                "Effect": "Allow",
                "Principal": {"AWS": autoscaling},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*"
            },
            {
                "Sid": "AutoScalingVolumeGrants",
                "Effect": "Allow",
                "Principal": {"AWS": autoscaling},
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": true}}
            },
            {
                "Sid": "LogGroup",
                "Effect": "Allow",
                "Principal": {"Service": format!("logs.{region}.amazonaws.com")},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_group}}
            }
        ]
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement<'a>(p: &'a serde_json::Value, sid: &str) -> &'a serde_json::Value {
        p["Statement"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["Sid"] == sid))
            .unwrap_or_else(|| panic!("no statement {sid} in {p}"))
    }

    #[test]
    fn the_alias_names_the_system() {
        assert_eq!(key_alias("prod"), "alias/datomic-prod");
        assert!(key_description("prod").contains("prod"));
    }

    #[test]
    fn the_account_administers_the_key() {
        let p: serde_json::Value =
            serde_json::from_str(&key_policy("aws", "us-east-1", "123456789012", "s"))
                .expect("json");
        let admin = statement(&p, "AccountAdmin");
        assert_eq!(admin["Principal"]["AWS"], "arn:aws:iam::123456789012:root");
        assert_eq!(admin["Action"], "kms:*");
        assert_eq!(p["Statement"].as_array().map(Vec::len), Some(4));
    }

    #[test]
    fn auto_scaling_may_use_the_key_and_grant_it_to_aws_resources_only() {
        let p: serde_json::Value =
            serde_json::from_str(&key_policy("aws-us-gov", "us-gov-west-1", "1", "s"))
                .expect("json");
        let slr = "arn:aws-us-gov:iam::1:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling";
        let usage = statement(&p, "AutoScalingVolumes");
        assert_eq!(usage["Principal"]["AWS"], slr);
        assert!(usage["Action"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "kms:GenerateDataKey*")));
        let grants = statement(&p, "AutoScalingVolumeGrants");
        assert_eq!(grants["Principal"]["AWS"], slr);
        assert_eq!(grants["Action"], "kms:CreateGrant");
        assert_eq!(
            grants["Condition"]["Bool"]["kms:GrantIsForAWSResource"],
            true
        );
    }

    #[test]
    fn cloudwatch_logs_may_use_the_key_for_the_systems_log_group_only() {
        let p: serde_json::Value =
            serde_json::from_str(&key_policy("aws", "eu-west-1", "1", "prod")).expect("json");
        let logs = statement(&p, "LogGroup");
        assert_eq!(logs["Principal"]["Service"], "logs.eu-west-1.amazonaws.com");
        assert_eq!(
            logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"],
            "arn:aws:logs:eu-west-1:1:log-group:datomic-prod"
        );
        assert!(logs["Action"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "kms:GenerateDataKey*")));
    }
}
