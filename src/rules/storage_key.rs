//! The system's customer-managed KMS key: its alias and its key policy.
//!
//! The key encrypts what the system's storage holds (bucket, table). Its
//! policy gives the account's root full control (so IAM policies, the node
//! role's among them, can grant its use) and lets the EC2 Auto Scaling
//! service-linked role use it for the nodes' encrypted root volumes, as AWS
//! documents for customer-managed keys on EBS volumes launched by Auto
//! Scaling (a key use statement and a `CreateGrant` for AWS resources).

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

/// The key policy of a system's key in `account` (partition `partition`).
pub fn key_policy(partition: &str, account: &str) -> String {
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
            serde_json::from_str(&key_policy("aws", "123456789012")).expect("json");
        let admin = statement(&p, "AccountAdmin");
        assert_eq!(admin["Principal"]["AWS"], "arn:aws:iam::123456789012:root");
        assert_eq!(admin["Action"], "kms:*");
        assert_eq!(p["Statement"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn auto_scaling_may_use_the_key_and_grant_it_to_aws_resources_only() {
        let p: serde_json::Value =
            serde_json::from_str(&key_policy("aws-us-gov", "1")).expect("json");
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
}
