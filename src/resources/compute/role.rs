//! The node IAM role and its instance profile: the trust policy (EC2 only),
//! the `datomic-node` inline policy put on it (its document: `node_policy.rs`), the
//! applications' policies and `node_policy_arn`, drift read from the refresh snapshot and its repair,
//! and deletion once the profile and policies are detached.

use crate::aws::error::code;
use crate::resources::error::OpError;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::node_policy::{system_node_policy, NODE_POLICY_NAME};
use super::{percent_decode, same_policy, sdk};
use crate::aws::wait::{Poll, Waiter};
use crate::aws::{eventual, tags, AwsError, Clients, Found};
use crate::resources::ownership;
use crate::rules;

/// The node role's trust policy: EC2 instances only.
const ASSUME_ROLE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// The node role as a read reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAsRead {
    /// `node_role_name`: the role's name, or "" when the role drifted from
    /// what the provider gives it (see [`node_role_drift`]), so that the
    /// next plan repairs it (`resources::repair`).
    pub name: String,
    /// `node_policy_arn` (see [`super::node_policy_arn::as_read`]).
    pub node_policy_arn: Option<String>,
}

/// The node role of a group as a read reports it; `prior_policy_arn` is the
/// state's `node_policy_arn`.
pub async fn node_role_as_read(
    c: &Clients,
    system: &str,
    group: &str,
    prior_policy_arn: Option<&str>,
) -> Result<RoleAsRead, OpError> {
    let role = rules::node_role_name(system, group);
    if c.has_written() {
        return Ok(RoleAsRead {
            name: role,
            node_policy_arn: prior_policy_arn.map(str::to_string),
        });
    }
    let found = role_policies(c, &role).await?;
    let node_policy_arn = super::node_policy_arn::as_read(
        found.as_ref().map(|r| r.attached.as_slice()),
        prior_policy_arn,
    );
    let drift = match &found {
        Some(r) => {
            let policy = system_node_policy(c, system).await?;
            drift_of(c, system, r, &policy, node_policy_arn.as_deref()).await?
        }
        None => Vec::new(),
    };
    if drift.is_empty() {
        return Ok(RoleAsRead {
            name: role,
            node_policy_arn,
        });
    }
    crate::plugin::log::warn(
        "node role changed outside Terraform; the next apply puts it back",
        &[("role", &role), ("changed", &drift.join(", "))],
    );
    Ok(RoleAsRead {
        name: String::new(),
        node_policy_arn,
    })
}

/// What differs on a group's node role from what the provider gives it: its
/// trust policy, its `datomic-node` policy, its permissions boundary (see
/// [`super::boundary`]) or that boundary's document, inline policies that
/// are neither that nor an application's (`datomic-app-*`), attached managed
/// policies other than `node_policy_arn` (`keep`).
/// Empty when it is as it should be, or when it cannot be told: after this
/// process's own writes (IAM is eventually consistent) or without the role.
pub async fn node_role_drift(
    c: &Clients,
    system: &str,
    group: &str,
    expected_policy: &str,
    keep: Option<&str>,
) -> Result<Vec<String>, OpError> {
    if c.has_written() {
        return Ok(Vec::new());
    }
    let role = rules::node_role_name(system, group);
    let Some(r) = role_policies(c, &role).await? else {
        return Ok(Vec::new());
    };
    drift_of(c, system, &r, expected_policy, keep).await
}

/// The role's policies, from the refresh's snapshot when there is one.
async fn role_policies(
    c: &Clients,
    role: &str,
) -> Result<Option<crate::aws::snapshot::RolePolicies>, OpError> {
    Ok(match c.snapshot(rules::TAG_MANAGED_BY).await {
        Some(snap) => snap.roles.get(role).cloned(),
        None => read_role_policies(c, role).await?,
    })
}

/// [`node_role_drift`] of a role's policies as found.
async fn drift_of(
    c: &Clients,
    system: &str,
    r: &crate::aws::snapshot::RolePolicies,
    expected_policy: &str,
    keep: Option<&str>,
) -> Result<Vec<String>, OpError> {
    let mut drift = policy_drift(r, expected_policy, keep);
    let boundary = super::boundary::arn(c, system).await?;
    if r.boundary.as_deref() != Some(boundary.as_str()) {
        drift.push("its permissions boundary".to_string());
    } else if super::boundary::document_drifted(c, &boundary).await? {
        drift.push("its permissions boundary's document".to_string());
    }
    drift.sort();
    Ok(drift)
}

/// What differs on a role's policies, its boundary aside (see
/// [`node_role_drift`]), unsorted. `keep`: the group's `node_policy_arn`,
/// which is no drift.
fn policy_drift(
    r: &crate::aws::snapshot::RolePolicies,
    expected_policy: &str,
    keep: Option<&str>,
) -> Vec<String> {
    let mut drift = Vec::new();
    if !same_policy(&r.trust, ASSUME_ROLE_POLICY) {
        drift.push("its trust policy".to_string());
    }
    match r.inline.get(NODE_POLICY_NAME) {
        Some(doc) if same_policy(doc, expected_policy) => {}
        _ => drift.push(format!("its {NODE_POLICY_NAME} policy")),
    }
    for name in r.inline.keys().filter(|n| !is_our_inline_policy(n)) {
        drift.push(format!("inline policy {name}"));
    }
    for arn in r.attached.iter().filter(|a| Some(a.as_str()) != keep) {
        drift.push(format!("attached policy {arn}"));
    }
    drift
}

/// Inline policies the provider puts on node roles: the nodes' own and each
/// application's.
fn is_our_inline_policy(name: &str) -> bool {
    name == NODE_POLICY_NAME || name.starts_with(&rules::application_policy_name(""))
}

/// A role's policies read one by one (outside a refresh's snapshot).
async fn read_role_policies(
    c: &Clients,
    role: &str,
) -> Result<Option<crate::aws::snapshot::RolePolicies>, OpError> {
    let Some(r) = c
        .iam
        .get_role()
        .role_name(role)
        .send()
        .await
        .map_err(sdk)
        .found()?
        .and_then(|o| o.role().cloned())
    else {
        return Ok(None);
    };
    let mut out = crate::aws::snapshot::RolePolicies {
        trust: r
            .assume_role_policy_document()
            .unwrap_or_default()
            .to_string(),
        boundary: r
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_string),
        ..Default::default()
    };
    let names = c
        .iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(sdk)?;
    for name in names.policy_names() {
        if let Some(doc) = get_role_policy_doc(c, role, name).await? {
            out.inline.insert(name.clone(), doc);
        }
    }
    let attached = c
        .iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(sdk)?;
    out.attached = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect();
    Ok(Some(out))
}

async fn get_role_policy_doc(
    c: &Clients,
    role: &str,
    name: &str,
) -> Result<Option<String>, OpError> {
    Ok(c.iam
        .get_role_policy()
        .role_name(role)
        .policy_name(name)
        .send()
        .await
        .map_err(sdk)
        .found()?
        .map(|o| o.policy_document().to_string()))
}

/// An inline policy of a group's node role, decoded (IAM returns it
/// URL-encoded); None when the role has no such policy.
pub async fn get_role_policy(
    c: &Clients,
    system: &str,
    group: &str,
    name: &str,
) -> Result<Option<String>, OpError> {
    let role = rules::node_role_name(system, group);
    Ok(get_role_policy_doc(c, &role, name)
        .await?
        .map(|doc| percent_decode(&doc)))
}

/// Creates the node role and instance profile unless they exist. A role or
/// profile found by its name is used only when its identity tags make it
/// this group's; an adopted role gets our trust policy and the system's
/// permissions boundary back.
pub async fn ensure_role(
    c: &Clients,
    system: &str,
    group: &str,
    t: &tags::Tags,
    policy: &str,
    cancel: &CancellationToken,
) -> Result<String, OpError> {
    let role = rules::node_role_name(system, group);
    let profile = rules::instance_profile_name(system, group);
    let found = c
        .iam
        .get_role()
        .role_name(&role)
        .send()
        .await
        .map_err(sdk)
        .found()?
        .and_then(|o| o.role().cloned());
    // Both checked before anything is written.
    let existing = instance_profile(c, &profile).await?;
    if let Some(p) = &existing {
        owned("IAM instance profile", &profile, p.tags(), system, group)?;
    }
    if let Some(r) = &found {
        owned("IAM role", &role, r.tags(), system, group)?;
    }
    let boundary = super::boundary::ensure(c, system, t).await?;
    // A boundary made a moment ago may be refused for a few seconds
    // (NoSuchEntity): `use_new` retries those calls then.
    let what = format!("the boundary {} of IAM role {role}", boundary.arn);
    match found {
        Some(r) => {
            let bound = r
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn());
            if bound != Some(boundary.arn.as_str()) {
                boundary
                    .use_new(&what, || async {
                        c.iam
                            .put_role_permissions_boundary()
                            .role_name(&role)
                            .permissions_boundary(&boundary.arn)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(sdk)
                    })
                    .await?;
            }
            let trust = r.assume_role_policy_document().unwrap_or_default();
            if !same_policy(trust, ASSUME_ROLE_POLICY) {
                c.iam
                    .update_assume_role_policy()
                    .role_name(&role)
                    .policy_document(ASSUME_ROLE_POLICY)
                    .send()
                    .await
                    .map_err(sdk)?;
            }
        }
        None => {
            let made = boundary
                .use_new(&what, || async {
                    let made = c
                        .iam
                        .create_role()
                        .role_name(&role)
                        .assume_role_policy_document(ASSUME_ROLE_POLICY)
                        .permissions_boundary(&boundary.arn)
                        .description(format!(
                            "Nodes of Datomic compute group {group} of system {system}"
                        ))
                        .set_tags(Some(tags::iam(t)))
                        .send()
                        .await
                        .map_err(sdk);
                    match made {
                        Ok(_) => Ok(true),
                        Err(e) if e.is_already_exists() => Ok(false),
                        Err(e) => Err(e),
                    }
                })
                .await?;
            // EntityAlreadyExists: an earlier attempt (the SDK's retry) made
            // it and its answer was lost, or someone made it a moment ago
            // and `GetRole` did not show it yet. Ours only by its tags.
            if !made {
                let r = eventual::existing_role(c, &role).await?;
                owned("IAM role", &role, r.tags(), system, group)?;
            }
        }
    }
    c.iam
        .put_role_policy()
        .role_name(&role)
        .policy_name(NODE_POLICY_NAME)
        .policy_document(policy)
        .send()
        .await
        .map_err(sdk)?;
    let has_role = existing
        .as_ref()
        .is_some_and(|p| p.roles().iter().any(|r| r.role_name() == role));
    if existing.is_none() {
        let made = c
            .iam
            .create_instance_profile()
            .instance_profile_name(&profile)
            .set_tags(Some(tags::iam(t)))
            .send()
            .await
            .map_err(sdk);
        match made {
            Ok(_) => {}
            // As the role's: ours only by its tags, once IAM shows it.
            Err(e) if e.is_already_exists() => {
                let p = eventual::new_object(&format!("IAM instance profile {profile}"), || {
                    instance_profile(c, &profile)
                })
                .await?;
                owned("IAM instance profile", &profile, p.tags(), system, group)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    if !has_role {
        // IAM is eventually consistent: a role or profile just created may
        // not be found yet, so NoSuchEntity is retried for a while. A profile
        // holds one role: LimitExceeded is fine only when that role is ours.
        let what = format!("IAM role {role} to be visible");
        Waiter::new(Duration::from_secs(120))
            .until(
            &what,
            cancel,
            || async {
                match c
                    .iam
                    .add_role_to_instance_profile()
                    .instance_profile_name(&profile)
                    .role_name(&role)
                    .send()
                    .await
                    .map_err(sdk)
                {
                    Ok(_) => Ok(Poll::Done(())),
                    Err(e) if e.code_is(&[code::LIMIT_EXCEEDED]) => {
                        let holds = instance_profile(c, &profile).await?.map(|p| {
                            p.roles()
                                .iter()
                                .map(|r| r.role_name().to_string())
                                .collect::<Vec<_>>()
                        });
                        match holds {
                            Some(roles) if roles.contains(&role) => Ok(Poll::Done(())),
                            Some(roles) => Err(AwsError::new(
                                e.code.as_deref(),
                                format!(
                                    "the instance profile {profile} holds the role {} instead of {role}; the provider never replaces a role it did not put there",
                                    roles.join(", ")
                                ),
                            )),
                            None => Ok(Poll::Pending),
                        }
                    }
                    Err(e) if e.is_not_found() => Ok(Poll::Pending),
                    Err(e) => Err(e),
                }
            },
        )
        .await
        .map_err(OpError::from)?;
    }
    Ok(role)
}

/// Refuses an IAM role or instance profile whose identity tags do not make
/// it the group's.
fn owned(
    kind: &str,
    name: &str,
    found: &[aws_sdk_iam::types::Tag],
    system: &str,
    group: &str,
) -> Result<(), OpError> {
    ownership::check(kind, name, &tags::from_iam(found), system, Some(group))
}

async fn instance_profile(
    c: &Clients,
    profile: &str,
) -> Result<Option<aws_sdk_iam::types::InstanceProfile>, AwsError> {
    Ok(c.iam
        .get_instance_profile()
        .instance_profile_name(profile)
        .send()
        .await
        .map_err(sdk)
        .found()?
        .and_then(|o| o.instance_profile().cloned()))
}

/// Puts the node role back as the provider makes it (see [`node_role_drift`]):
/// trust and `datomic-node` policies rewritten, other inline policies deleted
/// (applications' kept), managed policies detached but `keep` (the planned
/// `node_policy_arn`).
pub async fn repair_node_role(
    c: &Clients,
    system: &str,
    group: &str,
    t: &tags::Tags,
    policy: &str,
    keep: Option<&str>,
    cancel: &CancellationToken,
) -> Result<(), OpError> {
    let role = ensure_role(c, system, group, t, policy, cancel).await?;
    let names = c
        .iam
        .list_role_policies()
        .role_name(&role)
        .send()
        .await
        .map_err(sdk)?;
    for name in names
        .policy_names()
        .iter()
        .filter(|n| !is_our_inline_policy(n))
    {
        c.iam
            .delete_role_policy()
            .role_name(&role)
            .policy_name(name)
            .send()
            .await
            .map_err(sdk)
            .found()?;
    }
    detach_managed(c, &role, keep.as_slice()).await?;
    Ok(())
}

/// Detaches every managed policy attached to `role` but those in `keep`
/// (detached only, never deleted: they are the user's). A role already gone
/// has none.
async fn detach_managed(c: &Clients, role: &str, keep: &[&str]) -> Result<(), AwsError> {
    let attached = c
        .iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(sdk)
        .found()?;
    for arn in attached
        .iter()
        .flat_map(|out| out.attached_policies())
        .filter_map(|p| p.policy_arn())
        .filter(|a| !keep.contains(a))
    {
        super::node_policy_arn::detach(c, role, arn).await?;
    }
    Ok(())
}

/// Inline policy on a group's node role (applications' own permissions).
pub async fn put_role_policy(
    c: &Clients,
    system: &str,
    group: &str,
    name: &str,
    doc: &str,
) -> Result<(), OpError> {
    c.iam
        .put_role_policy()
        .role_name(rules::node_role_name(system, group))
        .policy_name(name)
        .policy_document(doc)
        .send()
        .await
        .map_err(sdk)?;
    Ok(())
}

pub async fn delete_role_policy(
    c: &Clients,
    system: &str,
    group: &str,
    name: &str,
) -> Result<(), OpError> {
    c.iam
        .delete_role_policy()
        .role_name(rules::node_role_name(system, group))
        .policy_name(name)
        .send()
        .await
        .map_err(sdk)
        .found()?;
    Ok(())
}

/// Deletes the node role and instance profile, each only when its identity
/// tags make it this group's.
pub async fn delete_role(c: &Clients, system: &str, group: &str) -> Result<(), OpError> {
    let role = rules::node_role_name(system, group);
    let profile = rules::instance_profile_name(system, group);
    let role_ours = match c
        .iam
        .get_role()
        .role_name(&role)
        .send()
        .await
        .map_err(sdk)
        .found()?
        .and_then(|o| o.role().cloned())
    {
        Some(r) => ownership::may_delete(
            "IAM role",
            &role,
            &tags::from_iam(r.tags()),
            system,
            Some(group),
        ),
        None => false,
    };
    if let Some(p) = instance_profile(c, &profile).await? {
        if ownership::may_delete(
            "IAM instance profile",
            &profile,
            &tags::from_iam(p.tags()),
            system,
            Some(group),
        ) {
            for r in p.roles() {
                c.iam
                    .remove_role_from_instance_profile()
                    .instance_profile_name(&profile)
                    .role_name(r.role_name())
                    .send()
                    .await
                    .map_err(sdk)
                    .found()?;
            }
            c.iam
                .delete_instance_profile()
                .instance_profile_name(&profile)
                .send()
                .await
                .map_err(sdk)
                .found()?;
        }
    }
    if !role_ours {
        return Ok(());
    }
    // DeleteConflict: a policy the listing did not show yet (a role just
    // created), or a removal not propagated yet: list and delete again.
    // Managed policies (`node_policy_arn`, or one attached by hand) are
    // detached, never deleted: IAM keeps a role that still has one.
    crate::aws::eventual::while_conflict(&format!("IAM role {role}"), || async {
        detach_managed(c, &role, &[]).await?;
        let policies = c
            .iam
            .list_role_policies()
            .role_name(&role)
            .send()
            .await
            .map_err(sdk)
            .found()?;
        for p in policies.iter().flat_map(|out| out.policy_names()) {
            c.iam
                .delete_role_policy()
                .role_name(&role)
                .policy_name(p)
                .send()
                .await
                .map_err(sdk)
                .found()?;
        }
        c.iam
            .delete_role()
            .role_name(&role)
            .send()
            .await
            .map_err(sdk)
            .found()
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::snapshot::RolePolicies;

    const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

    fn as_made() -> RolePolicies {
        RolePolicies {
            trust: ASSUME_ROLE_POLICY.to_string(),
            inline: [(NODE_POLICY_NAME.to_string(), POLICY.to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_role_as_made_has_no_drift() {
        assert!(policy_drift(&as_made(), POLICY, None).is_empty());
    }

    #[test]
    fn url_encoded_and_reformatted_documents_are_no_drift() {
        let mut r = as_made();
        // IAM's way: URL-encoded, other spacing and key order.
        r.trust = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ec2.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%2C%20%22Version%22%3A%222012-10-17%22%7D".into();
        r.inline.insert(
            NODE_POLICY_NAME.into(),
            serde_json::to_string_pretty(
                &serde_json::from_str::<serde_json::Value>(POLICY).unwrap_or_default(),
            )
            .unwrap_or_default(),
        );
        assert!(policy_drift(&r, POLICY, None).is_empty());
    }

    #[test]
    fn a_changed_trust_or_node_policy_is_drift() {
        let mut r = as_made();
        r.trust = ASSUME_ROLE_POLICY.replace("ec2.amazonaws.com", "lambda.amazonaws.com");
        assert_eq!(policy_drift(&r, POLICY, None), vec!["its trust policy"]);
        let mut r = as_made();
        r.inline
            .insert(NODE_POLICY_NAME.into(), POLICY.replace("GetObject", "*"));
        assert_eq!(
            policy_drift(&r, POLICY, None),
            vec!["its datomic-node policy"]
        );
        // Unreadable documents are drift too.
        let mut r = as_made();
        r.trust = "not json".into();
        assert_eq!(policy_drift(&r, POLICY, None), vec!["its trust policy"]);
    }

    #[test]
    fn a_missing_node_policy_is_drift() {
        let mut r = as_made();
        r.inline.clear();
        assert_eq!(
            policy_drift(&r, POLICY, None),
            vec!["its datomic-node policy"]
        );
    }

    #[test]
    fn foreign_inline_and_attached_policies_are_drift_applications_are_not() {
        let mut r = as_made();
        r.inline
            .insert(rules::application_policy_name("shop"), "{}".into());
        r.inline.insert("admin".into(), "{}".into());
        r.attached = vec!["arn:aws:iam::aws:policy/AdministratorAccess".into()];
        let mut d = policy_drift(&r, POLICY, None);
        d.sort();
        assert_eq!(
            d,
            vec![
                "attached policy arn:aws:iam::aws:policy/AdministratorAccess",
                "inline policy admin",
            ]
        );
    }

    #[test]
    fn the_groups_node_policy_arn_is_no_drift_others_are() {
        let mut r = as_made();
        let ours = "arn:aws:iam::123456789012:policy/nodes";
        r.attached = vec![ours.into(), "arn:aws:iam::aws:policy/ReadOnlyAccess".into()];
        assert_eq!(
            policy_drift(&r, POLICY, Some(ours)),
            vec!["attached policy arn:aws:iam::aws:policy/ReadOnlyAccess"]
        );
        r.attached.pop();
        assert!(policy_drift(&r, POLICY, Some(ours)).is_empty());
    }

    #[test]
    fn our_inline_policies_are_the_nodes_and_the_applications() {
        assert!(is_our_inline_policy(NODE_POLICY_NAME));
        assert!(is_our_inline_policy(&rules::application_policy_name("a")));
        assert!(!is_our_inline_policy("datomic-nodes"));
        assert!(!is_our_inline_policy("admin"));
        assert!(!is_our_inline_policy(""));
    }
}
