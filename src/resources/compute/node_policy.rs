//! The nodes' own inline policy, `datomic-node`: what a node of the system
//! may do on the system's storage (its bucket, tables, KMS key, log group
//! and file system), and nothing else.

use crate::aws::Clients;
use crate::resources::error::OpError;
use crate::rules;

pub const NODE_POLICY_NAME: &str = "datomic-node";

/// The node's own permissions: its system's bucket, tables, KMS key and
/// log group (its streams), nothing else. The bucket statement holds only for a bucket of the
/// system's account (`s3:ResourceAccount`), whoever names a bucket like it
/// elsewhere.
pub async fn node_policy(
    c: &Clients,
    system: &str,
    bucket: &str,
    table: &str,
) -> Result<String, OpError> {
    let account = c.account().await?;
    let fs = crate::resources::storage::file_system_arn(c, system).await?;
    Ok(node_policy_document(
        "aws",
        &c.region,
        &account,
        system,
        bucket,
        table,
        fs.as_deref(),
    ))
}

/// The `datomic-node` policy document. The key is named by its alias
/// (`kms:ResourceAliases`) rather than its ARN: the policy then follows from
/// the system's name alone, as the bucket and table statements do, so the
/// role-drift check of every read needs no KMS look-up, and it stays the
/// same when a system of an earlier build gets its key (its roles, made
/// without this statement, show as drifted once and are repaired by the
/// next apply). Only keys of the account and region that carry the
/// system's alias match.
fn node_policy_document(
    partition: &str,
    region: &str,
    account: &str,
    system: &str,
    bucket: &str,
    table: &str,
    file_system: Option<&str>,
) -> String {
    let log_group = rules::log_group_arn(partition, region, account, system);
    let mut doc = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SystemBucket",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
                "Resource": [format!("arn:{partition}:s3:::{bucket}"), format!("arn:{partition}:s3:::{bucket}/*")],
                "Condition": {"StringEquals": {"s3:ResourceAccount": account}}
            },
            {
                "Sid": "SystemTable",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable"],
                "Resource": [
                    format!("arn:{partition}:dynamodb:{region}:{account}:table/{table}"),
                    format!("arn:{partition}:dynamodb:{region}:{account}:table/{}", rules::catalog_table_name(system))
                ]
            },
            {
                "Sid": "SystemKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": format!("arn:{partition}:kms:{region}:{account}:key/*"),
                "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": rules::key_alias(system)}}
            },
            {
                "Sid": "SystemLogGroup",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [log_group.clone(), format!("{log_group}:*")]
            }
        ]
    });
    // The system's file system, by its ARN (none yet: a system of an earlier build).
    if let (Some(fs), Some(all)) = (file_system, doc["Statement"].as_array_mut()) {
        all.push(serde_json::json!({
            "Sid": "SystemFileSystem",
            "Effect": "Allow",
            "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            "Resource": fs
        }));
    }
    doc.to_string()
}

/// The `datomic-node` policy of every node role of `system`.
pub async fn system_node_policy(c: &Clients, system: &str) -> Result<String, OpError> {
    let bucket = crate::resources::storage::bucket_name(c, system).await?;
    node_policy(c, system, &bucket, &rules::table_name(system)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_policy_names_only_the_systems_objects() {
        let doc = node_policy_document(
            "aws",
            "us-east-1",
            "123456789012",
            "s",
            "datomic-s-123456789012-storage",
            "datomic-s",
            Some("arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-1"),
        );
        let p: serde_json::Value = serde_json::from_str(&doc).expect("json");
        let by_sid = |sid: &str| {
            p["Statement"]
                .as_array()
                .and_then(|s| s.iter().find(|s| s["Sid"] == sid))
                .cloned()
                .unwrap_or_else(|| panic!("no {sid}"))
        };
        assert_eq!(
            by_sid("SystemTable")["Resource"],
            serde_json::json!([
                "arn:aws:dynamodb:us-east-1:123456789012:table/datomic-s",
                "arn:aws:dynamodb:us-east-1:123456789012:table/datomic-s--catalog"
            ])
        );
        let key = by_sid("SystemKey");
        assert_eq!(
            key["Action"],
            serde_json::json!(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"])
        );
        assert_eq!(key["Resource"], "arn:aws:kms:us-east-1:123456789012:key/*");
        assert_eq!(
            key["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"],
            "alias/datomic-s"
        );
        // The system's log group and its streams, no other group.
        let logs = by_sid("SystemLogGroup");
        assert_eq!(
            logs["Resource"],
            serde_json::json!([
                "arn:aws:logs:us-east-1:123456789012:log-group:datomic-s",
                "arn:aws:logs:us-east-1:123456789012:log-group:datomic-s:*"
            ])
        );
        assert_eq!(
            logs["Action"],
            serde_json::json!([
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams"
            ])
        );
        let fs = by_sid("SystemFileSystem");
        assert_eq!(
            fs["Action"],
            serde_json::json!([
                "elasticfilesystem:ClientMount",
                "elasticfilesystem:ClientWrite"
            ])
        );
        assert_eq!(
            fs["Resource"],
            "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-1"
        );
        // No action of any statement is a wildcard.
        for s in p["Statement"].as_array().into_iter().flatten() {
            for a in s["Action"].as_array().into_iter().flatten() {
                assert!(!a.as_str().unwrap_or("*").contains('*'), "{a}");
            }
        }
    }
}
