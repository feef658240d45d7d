//! A compute group's `node_policy_arn` (Datomic's NodePolicyARN): one
//! customer managed policy attached to the group's node role, beside each
//! application's inline `iam_policy`. The policy is the user's: it is only
//! ever attached and detached, never changed or deleted, and the only
//! policy ever detached is the one the state names (or, on destroy, every
//! policy on our own role, which IAM needs before the role can go).

use super::sdk;
use crate::aws::error::code;
use crate::aws::{eventual, AwsError, Clients, Found};
use crate::plugin::{AttrPath, Diagnostics};
use crate::resources::common::aws_error;
use crate::resources::error::OpError;
use crate::rules;

/// Why `arn` cannot be attached, in words naming `node_policy_arn`, when
/// IAM does not know it; None when it exists. Asked before any write, so a
/// wrong ARN leaves nothing half made.
pub async fn missing(c: &Clients, arn: &str) -> Result<Option<String>, OpError> {
    let found = c
        .iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(sdk)
        .found()?;
    Ok(match found.and_then(|o| o.policy().cloned()) {
        Some(_) => None,
        None => Some(not_found(arn)),
    })
}

/// Before a create writes anything: a `node_policy_arn` IAM does not know
/// is refused on the attribute. False when refused (said in `diags`).
pub async fn check_before_create(
    c: &Clients,
    arn: Option<&str>,
    what: &str,
    diags: &mut Diagnostics,
) -> bool {
    let Some(arn) = arn else {
        return true;
    };
    match missing(c, arn).await {
        Ok(None) => true,
        Ok(Some(why)) => {
            diags.attribute_error(
                AttrPath::root(rules::NODE_POLICY_ARN),
                "IAM policy not found",
                why,
            );
            false
        }
        Err(e) => {
            aws_error(diags, &format!("creating {what}"), e);
            false
        }
    }
}

fn not_found(arn: &str) -> String {
    format!(
        "{}: the IAM policy {arn} does not exist in this account (or is not attachable). Create the policy first, or fix the ARN.",
        rules::NODE_POLICY_ARN
    )
}

/// Moves the group's node role from the policy `from` (the state's) to `to`
/// (the plan's): the new one is attached before the old one is detached, so
/// the nodes never lack both.
pub async fn sync(
    c: &Clients,
    system: &str,
    group: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(), OpError> {
    if from == to {
        return Ok(());
    }
    let role = rules::node_role_name(system, group);
    if let Some(arn) = to {
        attach(c, &role, arn).await?;
    }
    if let Some(arn) = from {
        detach(c, &role, arn).await?;
    }
    Ok(())
}

/// Attaches `arn` to `role`. A policy made a moment ago may be refused for
/// a few seconds (NoSuchEntity, "not attachable") as IAM propagates it:
/// retried for a bounded time once GetPolicy has found it.
pub async fn attach(c: &Clients, role: &str, arn: &str) -> Result<(), OpError> {
    if let Some(why) = missing(c, arn).await? {
        return Err(AwsError::new(Some(code::NO_SUCH_ENTITY), why).into());
    }
    let what = format!(
        "the policy {arn} ({}) to be attachable",
        rules::NODE_POLICY_ARN
    );
    eventual::new_policy(&what, || async {
        c.iam
            .attach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk)
    })
    .await
    .map_err(|e| match e {
        crate::aws::wait::WaitError::Failed(e) if e.is_not_found() => {
            OpError::from(AwsError::new(Some(code::NO_SUCH_ENTITY), not_found(arn)))
        }
        other => OpError::from(other),
    })
}

/// Detaches `arn` from `role`; already detached (or gone) is fine.
pub async fn detach(c: &Clients, role: &str, arn: &str) -> Result<(), AwsError> {
    c.iam
        .detach_role_policy()
        .role_name(role)
        .policy_arn(arn)
        .send()
        .await
        .map_err(sdk)
        .found()?;
    Ok(())
}

/// `node_policy_arn` as a read reports it from the policies attached to the
/// role: the state's when it is still attached; otherwise the one policy
/// attached, if exactly one is (an import, or one attached by hand: the plan
/// then shows it leaving); otherwise none (the plan then attaches the
/// configured one). `attached` is None when the role could not be read.
pub fn as_read(attached: Option<&[String]>, prior: Option<&str>) -> Option<String> {
    let Some(attached) = attached else {
        return prior.map(str::to_string);
    };
    match prior {
        Some(p) if attached.iter().any(|a| a == p) => Some(p.to_string()),
        _ => match attached {
            [one] => Some(one.clone()),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arns(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_states_policy_reads_back_while_attached() {
        let a = arns(&["arn:x", "arn:y"]);
        assert_eq!(as_read(Some(&a), Some("arn:y")), Some("arn:y".into()));
        // Detached outside Terraform: the plan attaches it again.
        assert_eq!(as_read(Some(&arns(&[])), Some("arn:y")), None);
        assert_eq!(as_read(Some(&a), Some("arn:z")), None);
    }

    #[test]
    fn one_policy_found_reads_back_for_an_import_or_by_hand() {
        assert_eq!(as_read(Some(&arns(&["arn:x"])), None), Some("arn:x".into()));
        assert_eq!(
            as_read(Some(&arns(&["arn:x"])), Some("arn:z")),
            Some("arn:x".into())
        );
        assert_eq!(as_read(Some(&arns(&["arn:x", "arn:y"])), None), None);
        assert_eq!(as_read(Some(&arns(&[])), None), None);
    }

    #[test]
    fn an_unread_role_keeps_the_state() {
        assert_eq!(as_read(None, Some("arn:x")), Some("arn:x".into()));
        assert_eq!(as_read(None, None), None);
    }
}
