//! What makes an interrupted create recoverable without adopting a
//! stranger's objects: the not-taken check before a create, the created
//! marker tag, the working directory's journal, and plan-time repair of a
//! group left half made.

use super::endpoint::read_endpoint;
use super::group::group_tags;
use super::group::{asg_tags, is_group_of};
use super::launch_template::find_launch_template;
use super::sdk;
use crate::aws::{tags, Clients, Found, Lookup};
use crate::resources::error::OpError;
use crate::resources::journal;
use crate::rules;

/// Whether objects of a group remain although its Auto Scaling group is
/// gone: a create that failed half-way, or a group deleted outside Terraform.
/// Only objects whose identity tags make them the group's count.
pub async fn has_leftovers(c: &Clients, system: &str, group: &str) -> Result<bool, OpError> {
    if find_launch_template(c, &rules::launch_template_name(system, group))
        .await?
        .is_some_and(|t| is_group_of(&t.tags, system, group))
    {
        return Ok(true);
    }
    if c.iam
        .get_role()
        .role_name(rules::node_role_name(system, group))
        .send()
        .await
        .map_err(sdk)
        .found()?
        .and_then(|o| o.role().map(|r| tags::from_iam(r.tags())))
        .is_some_and(|t| is_group_of(&t, system, group))
    {
        return Ok(true);
    }
    let (e, lb_tags, _) = read_endpoint(c, system, group).await?;
    Ok(!e.load_balancer_arn.is_empty() && is_group_of(&lb_tags, system, group))
}

/// Marks the group's create as finished (see [`rules::TAG_CREATED`]), with
/// a token this working directory remembers first (see [`journal`]).
pub async fn mark_created(c: &Clients, asg: &str) -> Result<(), OpError> {
    let token = journal::remember(asg);
    let t: tags::Tags = [(rules::TAG_CREATED.to_string(), token)]
        .into_iter()
        .collect();
    c.autoscaling
        .create_or_update_tags()
        .set_tags(Some(asg_tags(asg, &t)))
        .send()
        .await
        .map_err(sdk)?;
    Ok(())
}

/// The group was read from a state: tracked from now on, its create needs
/// no journal entry any more.
pub fn tracked(system: &str, group: &str) {
    journal::forget(&rules::asg_name(system, group));
}

/// Refuses to create a group whose finished twin already exists: it belongs
/// to another Terraform state (or was created outside Terraform). Adopted
/// instead: the remains of an interrupted create (no created tag), and a
/// group this working directory finished but whose result never reached the
/// state (its created tag holds the token of [`journal`]).
pub async fn check_not_taken(
    c: &Clients,
    system: &str,
    group: &str,
    lookup: Lookup,
) -> Result<Option<String>, OpError> {
    let Some(t) = group_tags(c, system, group, lookup).await? else {
        return Ok(None);
    };
    let asg = rules::asg_name(system, group);
    match verdict(&t, || journal::recall(&asg)) {
        Verdict::Interrupted => Ok(None),
        Verdict::FinishedHere => {
            crate::plugin::log::info(
                "adopting a group this working directory finished creating but never recorded in the state",
                &[("autoscaling_group", &asg)],
            );
            Ok(None)
        }
        Verdict::Taken => Ok(Some(taken_message(system, group))),
    }
}

/// What a create makes of an existing group of its name (see
/// [`check_not_taken`]).
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// No created tag: the remains of an interrupted create, adopted.
    Interrupted,
    /// Its created tag holds the token this working directory remembers.
    FinishedHere,
    /// Finished elsewhere: refused.
    Taken,
}

/// The verdict on a group's tags `t`; `recall` (the journal's token) is
/// only asked when the group has a created tag.
fn verdict(t: &tags::Tags, recall: impl FnOnce() -> Option<String>) -> Verdict {
    let Some(created) = t.get(rules::TAG_CREATED) else {
        return Verdict::Interrupted;
    };
    if recall().as_deref() == Some(created.as_str()) {
        Verdict::FinishedHere
    } else {
        Verdict::Taken
    }
}

/// Why a create of a group whose finished twin exists is refused.
fn taken_message(system: &str, group: &str) -> String {
    format!(
        "The Auto Scaling group {} already exists and belongs to a finished {}: it is managed by another Terraform state, or was left out of this one. The provider never takes over a live compute group. Allowed: a name no live group uses, or importing this one (terraform import <address> {}).",
        rules::asg_name(system, group),
        rules::group_label(system, group),
        if group == rules::PRIMARY_GROUP { rules::system_id(system) } else { rules::query_group_id(system, group) }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn created(token: &str) -> tags::Tags {
        [(rules::TAG_CREATED.to_string(), token.to_string())]
            .into_iter()
            .collect()
    }

    #[test]
    fn a_group_without_created_tag_is_adopted_without_asking_the_journal() {
        let asked = Cell::new(false);
        let v = verdict(&tags::Tags::new(), || {
            asked.set(true);
            Some("t".into())
        });
        assert_eq!(v, Verdict::Interrupted);
        assert!(!asked.get());
    }

    #[test]
    fn a_group_finished_here_is_adopted() {
        assert_eq!(
            verdict(&created("tok-1"), || Some("tok-1".into())),
            Verdict::FinishedHere
        );
    }

    #[test]
    fn a_group_finished_elsewhere_is_taken() {
        assert_eq!(
            verdict(&created("tok-1"), || Some("tok-2".into())),
            Verdict::Taken
        );
        assert_eq!(verdict(&created("tok-1"), || None), Verdict::Taken);
        // An empty token is no match for a journal without an entry.
        assert_eq!(verdict(&created(""), || None), Verdict::Taken);
    }

    #[test]
    fn other_tags_never_make_a_group_adoptable() {
        let mut t = created("tok-1");
        t.insert(rules::TAG_MANAGED_BY.into(), rules::MANAGED_BY_VALUE.into());
        t.insert("team".into(), "tok-1".into());
        assert_eq!(verdict(&t, || Some("tok-2".into())), Verdict::Taken);
    }

    #[test]
    fn the_refusal_names_the_group_and_its_import_id() {
        let m = taken_message("s", rules::PRIMARY_GROUP);
        assert!(
            m.contains(&rules::asg_name("s", rules::PRIMARY_GROUP)),
            "{m}"
        );
        assert!(
            m.contains(&rules::group_label("s", rules::PRIMARY_GROUP)),
            "{m}"
        );
        assert!(m.ends_with("(terraform import <address> s)."), "{m}");
        let m = taken_message("s", "q1");
        assert!(m.contains(&rules::group_label("s", "q1")), "{m}");
        assert!(m.ends_with("(terraform import <address> s/q1)."), "{m}");
    }
}
