//! The one ownership rule, applied to AWS objects found by their names: an
//! object is ours only when its identity tags say so ([`rules::ownership`]).
//! A create or adoption refuses anything else with an error naming the
//! object and its tags; a delete leaves it alone (and says so in the log).

use crate::aws::tags;
use crate::plugin::log;
use crate::resources::error::{NotOurs, OpError};
use crate::rules::{self, Ownership};

/// Ok when `tags` make the object `kind` `name` ours; else the error to show.
pub fn check(
    kind: &str,
    name: &str,
    tags: &tags::Tags,
    system: &str,
    group: Option<&str>,
) -> Result<(), OpError> {
    match rules::ownership(tags, system, group) {
        Ownership::Ours => Ok(()),
        Ownership::NotOurs { found } => Err(NotOurs {
            detail: rules::not_ours_detail(kind, name, system, group, &found),
        }
        .into()),
    }
}

/// Whether a delete may touch the object: true when it is ours; when it is
/// not, the delete leaves it where it is and logs why.
pub fn may_delete(
    kind: &str,
    name: &str,
    tags: &tags::Tags,
    system: &str,
    group: Option<&str>,
) -> bool {
    match rules::ownership(tags, system, group) {
        Ownership::Ours => true,
        Ownership::NotOurs { found } => {
            log::warn(
                "left an AWS object alone that has our name but not our identity tags",
                &[("object", &format!("{kind} {name}")), ("tags", &found)],
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::resources::testing::tags as t;

    #[test]
    fn refuses_an_object_with_our_name_but_not_our_tags() {
        let ours = t(&[
            (rules::TAG_MANAGED_BY, rules::MANAGED_BY_VALUE),
            (rules::TAG_SYSTEM, "a"),
            (rules::TAG_GROUP, "b-primary"),
        ]);
        assert!(check(
            "Auto Scaling group",
            "a--b-primary",
            &ours,
            "a",
            Some("b-primary")
        )
        .is_ok());
        assert!(may_delete(
            "Auto Scaling group",
            "a--b-primary",
            &ours,
            "a",
            Some("b-primary")
        ));
        let e = check("IAM role", "a--primary-node", &ours, "a", Some("primary")).unwrap_err();
        assert!(matches!(e, OpError::NotOurs(_)), "{e:?}");
        assert!(e.to_string().contains("\"a--primary-node\""), "{e}");
        assert!(e.to_string().contains("datomic:group=\"b-primary\""), "{e}");
        assert!(!may_delete("IAM role", "x", &t(&[]), "a", Some("primary")));
    }
}
