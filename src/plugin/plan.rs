//! The generic part of PlanResourceChange, the same for every resource:
//! defaults, "known after apply" for computed values, UseStateForUnknown and
//! RequiresReplace. Resources refine the result in `Resource::modify_plan`.

use super::resource::Plan;
use super::schema::{PlanModifier, Schema};
use super::value::Value;

/// Builds the initial plan from what Terraform proposed.
pub fn plan_change(schema: &Schema, prior: &Value, proposed: &Value, config: &Value) -> Plan {
    let mut planned = proposed.clone();
    let create = prior.is_null();
    let attrs = &schema.block.attributes;

    // Defaults apply whenever the configuration leaves the attribute unset.
    for a in attrs.iter().filter(|a| a.computed) {
        let unset = config.get(a.name).is_none_or(Value::is_null);
        if unset {
            if let Some(d) = &a.default {
                planned.set_attr(a.name, d.clone());
            } else if create {
                planned.set_attr(a.name, Value::Unknown);
            }
        }
    }

    // On update, computed values the provider may recompute become unknown
    // when anything changes; UseStateForUnknown keeps the prior value.
    if !create && planned != *prior {
        for a in attrs.iter().filter(|a| a.computed && a.default.is_none()) {
            let unset = config.get(a.name).is_none_or(Value::is_null);
            if unset && !a.has(PlanModifier::UseStateForUnknown) {
                planned.set_attr(a.name, Value::Unknown);
            }
        }
    }

    Plan {
        prior: prior.clone(),
        config: config.clone(),
        planned,
        requires_replace: Vec::new(),
        in_place: Vec::new(),
    }
}

/// Adds the RequiresReplace attributes that changed (run after the resource's
/// own plan refinements, so derived values count too).
pub fn apply_requires_replace(schema: &Schema, plan: &mut Plan) {
    if plan.is_create() {
        return;
    }
    for a in schema
        .block
        .attributes
        .iter()
        .filter(|a| a.has(PlanModifier::RequiresReplace))
    {
        plan.replace_if_changed(a.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::schema::{Attribute, Block};
    use crate::plugin::value::Type;

    fn schema() -> Schema {
        Schema::new(
            0,
            Block::new("t")
                .attr(Attribute::computed("id", Type::String, "id").use_state_for_unknown())
                .attr(Attribute::required("name", Type::String, "n").requires_replace())
                .attr(Attribute::optional("size", Type::Number, "s").default(Value::int(1)))
                .attr(Attribute::computed("version", Type::Number, "v"))
                .attr(Attribute::optional("note", Type::String, "x")),
        )
    }

    fn obj(pairs: &[(&str, Value)]) -> Value {
        let mut v = Value::null_object(&schema().ty());
        for (k, x) in pairs {
            v.set_attr(k, x.clone());
        }
        v
    }

    #[test]
    fn create_sets_defaults_and_unknowns() {
        let config = obj(&[("name", Value::string("a"))]);
        let p = plan_change(&schema(), &Value::Null, &config, &config);
        assert_eq!(p.get("id"), &Value::Unknown);
        assert_eq!(p.get("size"), &Value::int(1));
        assert_eq!(p.get("version"), &Value::Unknown);
        assert_eq!(p.get("note"), &Value::Null);
    }

    #[test]
    fn no_change_keeps_prior_state() {
        let prior = obj(&[
            ("id", Value::string("a")),
            ("name", Value::string("a")),
            ("size", Value::int(1)),
            ("version", Value::int(3)),
        ]);
        let config = obj(&[("name", Value::string("a"))]);
        let mut p = plan_change(&schema(), &prior, &prior, &config);
        apply_requires_replace(&schema(), &mut p);
        assert_eq!(p.planned, prior);
        assert!(p.requires_replace.is_empty());
    }

    #[test]
    fn change_marks_computed_unknown_but_keeps_stable_ones() {
        let prior = obj(&[
            ("id", Value::string("a")),
            ("name", Value::string("a")),
            ("size", Value::int(1)),
            ("version", Value::int(3)),
        ]);
        let config = obj(&[("name", Value::string("a")), ("note", Value::string("n"))]);
        let mut proposed = prior.clone();
        proposed.set_attr("note", Value::string("n"));
        let mut p = plan_change(&schema(), &prior, &proposed, &config);
        apply_requires_replace(&schema(), &mut p);
        assert_eq!(p.get("id"), &Value::string("a"));
        assert_eq!(p.get("version"), &Value::Unknown);
        assert!(p.requires_replace.is_empty());
    }

    #[test]
    fn unset_default_reverts_drift_and_name_change_replaces() {
        let prior = obj(&[
            ("id", Value::string("a")),
            ("name", Value::string("a")),
            ("size", Value::int(5)),
            ("version", Value::int(3)),
        ]);
        let config = obj(&[("name", Value::string("b"))]);
        let mut proposed = prior.clone();
        proposed.set_attr("name", Value::string("b"));
        let mut p = plan_change(&schema(), &prior, &proposed, &config);
        apply_requires_replace(&schema(), &mut p);
        assert_eq!(p.get("size"), &Value::int(1));
        assert_eq!(p.requires_replace, vec!["name".to_string()]);
    }

    #[test]
    fn an_attribute_recomputed_in_place_never_replaces() {
        let prior = obj(&[
            ("id", Value::string("a")),
            ("name", Value::string("a")),
            ("size", Value::int(1)),
            ("version", Value::int(3)),
        ]);
        let config = obj(&[("name", Value::string("a"))]);
        let mut p = plan_change(&schema(), &prior, &prior, &config);
        p.recompute_in_place("name");
        apply_requires_replace(&schema(), &mut p);
        assert_eq!(p.get("name"), &Value::Unknown);
        assert!(p.requires_replace.is_empty());
        // Set unknown otherwise, it replaces as before.
        let mut p = plan_change(&schema(), &prior, &prior, &config);
        p.set("name", Value::Unknown);
        apply_requires_replace(&schema(), &mut p);
        assert_eq!(p.requires_replace, vec!["name".to_string()]);
    }
}
