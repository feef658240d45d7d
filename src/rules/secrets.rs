//! Secret parameters: an application's write-only settings, kept as SSM
//! Parameter Store SecureString parameters under one path per application
//! and compute group, never in the state or the launch template.
//!
//! The path follows the convention Datomic ions read parameters by
//! (`ion/get-params` under `/datomic-shared/<env>/<app-name>/`), with the
//! environment being the compute group: `/datomic-shared/<system>/<group>/
//! <application>/`. The group is part of it because one application may run
//! on several groups of a system (a stage per query group), each with its own
//! values and its own `datomic_application`: destroying one never touches
//! another's, and each group's nodes may read only their own.

use std::collections::BTreeMap;

use super::{q, Violation};

/// The attribute these rules speak of.
const ATTRIBUTE: &str = "secret_parameters_wo";

/// Where every application's parameters live, as in Datomic ions.
pub const SECRETS_ROOT: &str = "/datomic-shared";

/// Longest secret name (the last segment of the parameter's name).
pub const MAX_SECRET_NAME_LEN: usize = 128;

/// Longest value of a standard-tier parameter (4 KB; SSM counts characters).
pub const MAX_SECRET_VALUE_LEN: usize = 4096;

/// The SSM path (with its trailing `/`) of an application's secrets on a
/// compute group (`primary` for the primary compute group). The names
/// checked by [`super::check_system_name`] and friends are valid segments.
pub fn secrets_path(system: &str, group: &str, application: &str) -> String {
    format!("{SECRETS_ROOT}/{system}/{group}/{application}/")
}

/// The SSM parameter name of one secret.
pub fn secret_parameter_name(path: &str, name: &str) -> String {
    format!("{path}{name}")
}

/// The name of the inline policy on the node role that lets the nodes read
/// the secrets. It starts as the application's own policy does (so the role
/// checks count it as ours); `.` never occurs in an application name, so it
/// cannot be another application's policy.
pub fn secrets_policy_name(application: &str) -> String {
    format!("datomic-app-{application}.secrets")
}

fn is_secret_name(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Secret names are SSM name segments: 1-128 of `A-Z a-z 0-9 _ . -`.
/// Values are 1-4096 characters (SSM refuses an empty value). A value is
/// never quoted back: it is secret.
pub fn check_secret_parameters(map: &BTreeMap<String, String>) -> Vec<Violation> {
    let mut out = Vec::new();
    for (k, v) in map {
        if !is_secret_name(k) || k.chars().count() > MAX_SECRET_NAME_LEN {
            out.push(Violation::new(
                ATTRIBUTE,
                "Invalid secret parameter name",
                format!("The name {} is not a valid SSM parameter name segment. Allowed: 1-{MAX_SECRET_NAME_LEN} characters of letters, digits, `_`, `.` and `-` (each secret becomes the parameter `{SECRETS_ROOT}/<system>/<group>/<application>/<name>`).", q(k)),
            ).at_key(k.clone()));
        }
        let len = v.chars().count();
        if len == 0 || len > MAX_SECRET_VALUE_LEN {
            out.push(
                Violation::new(
                    ATTRIBUTE,
                    "Invalid secret parameter value",
                    format!("The value is {len} characters long. Allowed: 1-{MAX_SECRET_VALUE_LEN} characters (an SSM standard parameter; SSM refuses an empty value)."),
                )
                .at_key(k.clone()),
            );
        }
    }
    out
}

/// The node role's permission to read the secrets: exactly the path (and
/// what is under it), and decrypting them through SSM only.
pub fn secrets_policy(partition: &str, region: &str, account: &str, path: &str) -> String {
    let base = path.trim_end_matches('/');
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadSecretParameters",
                "Effect": "Allow",
                "Action": ["ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter"],
                "Resource": [
                    format!("arn:{partition}:ssm:{region}:{account}:parameter{base}"),
                    format!("arn:{partition}:ssm:{region}:{account}:parameter{base}/*"),
                ]
            },
            {
                "Sid": "DecryptSecretParameters",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": format!("arn:{partition}:kms:{region}:{account}:key/*"),
                "Condition": {"StringEquals": {"kms:ViaService": format!("ssm.{region}.amazonaws.com")}}
            }
        ]
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::map;
    use crate::rules::{check_application_name, check_iam_policy};

    #[test]
    fn path_and_names() {
        let p = secrets_path("prod", "stage", "web");
        assert_eq!(p, "/datomic-shared/prod/stage/web/");
        assert_eq!(
            secret_parameter_name(&p, "DB_PASSWORD"),
            "/datomic-shared/prod/stage/web/DB_PASSWORD"
        );
        // Never an application's own policy name.
        assert!(check_application_name("name", "web.secrets").is_err());
        assert_eq!(secrets_policy_name("web"), "datomic-app-web.secrets");
    }

    #[test]
    fn secret_names_and_values() {
        assert!(
            check_secret_parameters(&map(&[("DB_PASSWORD", "x"), ("api.key-2", "y")])).is_empty()
        );
        let long = "A".repeat(MAX_SECRET_NAME_LEN + 1);
        let huge = "v".repeat(MAX_SECRET_VALUE_LEN + 1);
        let vs = check_secret_parameters(&map(&[
            ("a/b", "x"),
            ("", "x"),
            (&long, "x"),
            ("EMPTY", ""),
            ("HUGE", &huge),
        ]));
        assert_eq!(vs.len(), 5, "{vs:?}");
        assert!(vs.iter().all(|v| v.attribute == ATTRIBUTE));
        // A value never shows in a detail.
        let vs = check_secret_parameters(&map(&[("K", &format!("hunter2{huge}"))]));
        assert!(!vs[0].detail.contains("hunter2"), "{}", vs[0].detail);
    }

    #[test]
    fn the_policy_reads_exactly_the_path_and_passes_the_checks() {
        let doc = secrets_policy(
            "aws",
            "us-east-1",
            "123456789012",
            "/datomic-shared/prod/primary/tx/",
        );
        assert!(
            check_iam_policy(&doc).is_empty(),
            "{:?}",
            check_iam_policy(&doc)
        );
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap_or_default();
        assert_eq!(
            v["Statement"][0]["Resource"],
            serde_json::json!([
                "arn:aws:ssm:us-east-1:123456789012:parameter/datomic-shared/prod/primary/tx",
                "arn:aws:ssm:us-east-1:123456789012:parameter/datomic-shared/prod/primary/tx/*"
            ])
        );
        assert_eq!(
            v["Statement"][1]["Condition"]["StringEquals"]["kms:ViaService"],
            "ssm.us-east-1.amazonaws.com"
        );
    }
}
