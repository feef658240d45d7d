//! A compute group's `node_policy_arn`: Datomic's NodePolicyARN, one
//! customer managed IAM policy the group's node role gets beside each
//! application's `iam_policy`. Checked as terraform-provider-aws checks a
//! policy ARN: `arn:<partition>:iam::<account or aws>:policy/<path/name>`.

use super::{q, Violation};

/// The attribute on `datomic_system` and `datomic_query_group`.
pub const NODE_POLICY_ARN: &str = "node_policy_arn";

/// IAM's limits on a managed policy's name and path (CreatePolicy).
const MAX_POLICY_NAME_LEN: usize = 128;
const MAX_POLICY_PATH_LEN: usize = 512;

/// `node_policy_arn`: an IAM managed policy's ARN.
pub fn check_node_policy_arn(arn: &str) -> Result<(), Violation> {
    match policy_arn_problem(arn) {
        None => Ok(()),
        Some(why) => Err(Violation::new(
            NODE_POLICY_ARN,
            "Invalid IAM policy ARN",
            format!(
                "{} is not an IAM managed policy ARN: {why}. Expected arn:<partition>:iam::<account id or aws>:policy/<path/><name>, e.g. \"arn:aws:iam::123456789012:policy/datomic-nodes\".",
                q(arn)
            ),
        )),
    }
}

/// What is wrong with `arn` as a policy ARN, if anything.
fn policy_arn_problem(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Some("it needs six colon-separated parts".into());
    };
    if prefix != "arn" {
        return Some("it must start with \"arn:\"".into());
    }
    if !is_partition(partition) {
        return Some(format!("{} is not an AWS partition", q(partition)));
    }
    if service != "iam" {
        return Some(format!("the service is {}, not \"iam\"", q(service)));
    }
    if !region.is_empty() {
        return Some("IAM ARNs have no region".into());
    }
    if account != "aws" && !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) {
        return Some(format!(
            "{} is neither a 12-digit account id nor \"aws\"",
            q(account)
        ));
    }
    let Some(path_name) = resource.strip_prefix("policy/") else {
        return Some("the resource must start with \"policy/\"".into());
    };
    let (path, name) = path_name.rsplit_once('/').unwrap_or(("", path_name));
    let name_ok = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if name.is_empty() || name.len() > MAX_POLICY_NAME_LEN || !name.chars().all(name_ok) {
        return Some(format!(
            "the policy name {} must be 1-{MAX_POLICY_NAME_LEN} characters of letters, digits and +=,.@_-",
            q(name)
        ));
    }
    // The path between `policy` and the name: printable ASCII, no empty segment.
    let path_ok = |c: char| c.is_ascii_graphic();
    if path.len() + 2 > MAX_POLICY_PATH_LEN
        || !path.chars().all(path_ok)
        || (!path.is_empty() && path.split('/').any(str::is_empty))
    {
        return Some(format!(
            "the policy path {} is not a valid IAM path",
            q(path)
        ));
    }
    None
}

/// `aws`, `aws-cn`, `aws-us-gov`, `aws-iso-b` and the like.
fn is_partition(p: &str) -> bool {
    p.strip_prefix("aws").is_some_and(|rest| {
        rest.is_empty()
            || rest.strip_prefix('-').is_some_and(|r| {
                r.split('-')
                    .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase()))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::assert_v;

    #[test]
    fn policy_arns_of_every_partition_and_path_are_accepted() {
        for arn in [
            "arn:aws:iam::123456789012:policy/datomic-nodes",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:iam::aws:policy/service-role/AmazonSSMManagedInstanceCore",
            "arn:aws-cn:iam::123456789012:policy/team/app/nodes+extra=1,a.b@c_d",
            "arn:aws-us-gov:iam::123456789012:policy/x",
            "arn:aws-iso-b:iam::123456789012:policy/x",
        ] {
            assert_eq!(check_node_policy_arn(arn), Ok(()), "{arn}");
        }
    }

    #[test]
    fn other_strings_are_refused_on_the_attribute() {
        for (arn, needle) in [
            ("", "six"),
            ("datomic-nodes", "six"),
            ("arn:aws:iam::123456789012:role/datomic-nodes", "policy/"),
            ("arn:aws:s3::123456789012:policy/x", "\"s3\""),
            ("arn:aws:iam:us-east-1:123456789012:policy/x", "region"),
            ("arn:aws:iam::12345:policy/x", "12-digit"),
            ("arn:aws:iam::123456789012:policy/", "name"),
            ("arn:aws:iam::123456789012:policy/bad name", "name"),
            ("arn:gcp:iam::123456789012:policy/x", "partition"),
            ("arn:aws-:iam::123456789012:policy/x", "partition"),
            ("arn:aws:iam::123456789012:policy/a//x", "path"),
            ("arm:aws:iam::123456789012:policy/x", "arn:"),
        ] {
            let v = check_node_policy_arn(arn).expect_err(arn);
            assert_v(&v, NODE_POLICY_ARN, &[needle]);
        }
    }
}
