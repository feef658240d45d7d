//! Plan-time logic of `datomic_query_group`: validation of the
//! configuration and the plan's derived values and checks. Works on values,
//! where unknowns matter.

use super::check_system;
use super::model::attr;
use crate::aws::{Clients, Lookup};
use crate::plugin::{Ctx, Diagnostics, Plan, Value};
use crate::resources::common::*;
use crate::resources::compute;
use crate::rules::{self, ComputeRole};

/// The `autoscaling` block's target, when the block is set.
fn cpu_target_of(v: &Value) -> Option<f64> {
    v.get(attr::AUTOSCALING)?
        .get(attr::autoscaling::TARGET_CPU_UTILIZATION)?
        .as_number()?
        .as_f64()
}

pub(super) fn validate(config: &Value, diags: &mut Diagnostics) {
    if let Some(n) = str_attr(config, attr::NAME) {
        check(diags, rules::check_query_group_name(&n));
    }
    if let Some(s) = str_attr(config, attr::SYSTEM) {
        check(
            diags,
            rules::check_system_name(&s).map_err(|mut v| {
                v.attribute = attr::SYSTEM;
                v
            }),
        );
    }
    if let Some(a) = str_attr(config, attr::APPLICATION_NAME) {
        check(
            diags,
            rules::check_application_name(attr::APPLICATION_NAME, &a),
        );
    }
    if let Some(it) = str_attr(config, attr::INSTANCE_TYPE) {
        check(
            diags,
            rules::check_instance_type(ComputeRole::QueryGroup, &it),
        );
    }
    if let Some(arn) = str_attr(config, attr::NODE_POLICY_ARN) {
        check(diags, rules::check_node_policy_arn(&arn));
    }
    check_whole_numbers(
        config,
        &[attr::MIN_SIZE, attr::MAX_SIZE, attr::DESIRED_CAPACITY],
        diags,
    );
    let known = |a: &str| !is_unknown(config, a);
    if known(attr::MIN_SIZE) && known(attr::MAX_SIZE) && known(attr::DESIRED_CAPACITY) {
        let min = int_attr(config, attr::MIN_SIZE).unwrap_or(rules::DEFAULT_MIN_SIZE);
        let max = int_attr(config, attr::MAX_SIZE).unwrap_or(rules::DEFAULT_MAX_SIZE);
        check_all(
            diags,
            rules::check_capacity(min, max, int_attr(config, attr::DESIRED_CAPACITY)),
        );
    }
    if let Some(p) = map_attr(config, attr::PARAMETERS) {
        check_all(diags, rules::check_parameters(&p));
    }
    if let Some(target) = cpu_target_of(config) {
        if let Err(mut v) = rules::check_target_cpu_utilization(target) {
            diags.attribute_error(
                crate::plugin::AttrPath::root(attr::AUTOSCALING)
                    .attr(attr::autoscaling::TARGET_CPU_UTILIZATION),
                std::mem::take(&mut v.summary),
                v.detail,
            );
        }
    }
    let has_autoscaling = config.get(attr::AUTOSCALING).is_some_and(|a| !a.is_null());
    check(
        diags,
        rules::check_autoscaling_conflicts(
            has_autoscaling,
            config
                .get(attr::DESIRED_CAPACITY)
                .is_some_and(|d| !d.is_null()),
        ),
    );
    if let Some(t) = map_attr(config, attr::TAGS) {
        check_all(diags, rules::check_tags(&t));
    }
    validate_timeouts(config, diags);
}

pub(super) async fn modify_plan(ctx: &Ctx<Clients>, plan: &mut Plan, diags: &mut Diagnostics) {
    if !plan.config_sets(attr::APPLICATION_NAME) {
        let n = plan.get(attr::NAME).clone();
        plan.set(attr::APPLICATION_NAME, n);
    }
    if let (Some(s), Some(n)) = (
        str_attr(&plan.planned, attr::SYSTEM),
        str_attr(&plan.planned, attr::NAME),
    ) {
        plan.set(attr::ID, Value::string(rules::query_group_id(&s, &n)));
    }
    // desired_capacity: the config's value; else keep what AWS runs while it
    // fits [min, max] (autoscaling is not drift); else min_size.
    if !plan.config_sets(attr::DESIRED_CAPACITY) {
        match (
            int_attr(&plan.planned, attr::MIN_SIZE),
            int_attr(&plan.planned, attr::MAX_SIZE),
        ) {
            (Some(min), Some(max)) => {
                let d = int_attr(&plan.prior, attr::DESIRED_CAPACITY)
                    .filter(|d| (min..=max).contains(d))
                    .unwrap_or(min);
                plan.set(attr::DESIRED_CAPACITY, Value::int(d));
            }
            _ => plan.set(attr::DESIRED_CAPACITY, Value::Unknown),
        }
    }
    plan_tags_all(plan, ctx.data.as_deref().map(|c| &c.default_tags));
    // What the last read found broken outside Terraform: repaired in place.
    crate::resources::repair::plan(plan);
    // A query group needs an existing production system: check it when it
    // exists already (a system created in the same apply is checked at create).
    if plan.is_create() {
        if let (Some(c), Some(system), Some(name)) = (
            ctx.data.as_deref(),
            str_attr(&plan.planned, attr::SYSTEM),
            str_attr(&plan.planned, attr::NAME),
        ) {
            // Never take over a live group of another state.
            match compute::check_not_taken(c, &system, &name, Lookup::Plan).await {
                Ok(Some(why)) => diags.attribute_error(
                    crate::plugin::AttrPath::root(attr::NAME),
                    format!("Datomic query group {name:?} already exists"),
                    why,
                ),
                Ok(None) => {}
                Err(e) => diags.warning(
                    "Could not check whether the query group exists",
                    e.to_string(),
                ),
            }
        }
        if let (Some(c), Some(system)) =
            (ctx.data.as_deref(), str_attr(&plan.planned, attr::SYSTEM))
        {
            match check_system(c, &system, Lookup::Plan).await {
                Ok(Some(mut v)) if v.summary != "Datomic system not found" => {
                    v.detail.push_str(&format!(" If this same plan upgrades system {system:?} to production, apply that first (terraform apply -target=<the datomic_system>), then apply again."));
                    violation(diags, &v)
                }
                Ok(_) => {}
                Err(e) => diags.warning("Could not check the query group's system", e.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::schema;
    use super::*;
    use crate::plugin::plan::plan_change;
    use crate::plugin::{AttrPath, PathStepExt};

    fn config(pairs: &[(&str, Value)]) -> Value {
        crate::resources::testing::config(&schema(), pairs)
    }

    fn autoscaling(target: Value) -> Value {
        Value::Object(
            [(
                attr::autoscaling::TARGET_CPU_UTILIZATION.to_string(),
                target,
            )]
            .into(),
        )
    }

    fn validated(pairs: &[(&str, Value)]) -> Diagnostics {
        let mut all = vec![
            (attr::SYSTEM, Value::string("prod")),
            (attr::NAME, Value::string("q")),
        ];
        all.extend(pairs.iter().cloned());
        let mut d = Diagnostics::new();
        validate(&config(&all), &mut d);
        d
    }

    fn errors_at(d: &Diagnostics) -> Vec<String> {
        d.iter()
            .filter_map(|x| x.path.as_ref().map(|p| p.first_attr()))
            .collect()
    }

    #[test]
    fn a_node_policy_arn_must_be_a_policy_arn() {
        let ok = "arn:aws:iam::123456789012:policy/nodes";
        assert!(!validated(&[(attr::NODE_POLICY_ARN, Value::string(ok))]).has_error());
        let d = validated(&[(attr::NODE_POLICY_ARN, Value::string("nodes"))]);
        assert_eq!(errors_at(&d), vec![attr::NODE_POLICY_ARN]);
    }

    #[test]
    fn the_cpu_target_is_read_only_from_a_set_block() {
        assert_eq!(cpu_target_of(&config(&[])), None);
        let v = config(&[(attr::AUTOSCALING, autoscaling(Value::int(60)))]);
        assert_eq!(cpu_target_of(&v), Some(60.0));
        let v = config(&[(attr::AUTOSCALING, autoscaling(Value::Unknown))]);
        assert_eq!(cpu_target_of(&v), None);
    }

    #[test]
    fn an_autoscaling_target_is_checked_inside_its_block() {
        assert!(!validated(&[(attr::AUTOSCALING, autoscaling(Value::int(100)))]).has_error());
        for bad in [0, 101] {
            let d = validated(&[(attr::AUTOSCALING, autoscaling(Value::int(bad)))]);
            let paths: Vec<_> = d.iter().filter_map(|x| x.path.clone()).collect();
            assert_eq!(
                paths,
                vec![AttrPath::root(attr::AUTOSCALING)
                    .attr(attr::autoscaling::TARGET_CPU_UTILIZATION)],
                "{bad}"
            );
        }
    }

    #[test]
    fn autoscaling_and_a_desired_capacity_conflict() {
        let d = validated(&[
            (attr::AUTOSCALING, autoscaling(Value::int(60))),
            (attr::MAX_SIZE, Value::int(4)),
            (attr::DESIRED_CAPACITY, Value::int(2)),
        ]);
        assert_eq!(errors_at(&d), vec![attr::DESIRED_CAPACITY.to_string()]);
        // An unknown desired capacity is set too.
        let d = validated(&[
            (attr::AUTOSCALING, autoscaling(Value::int(60))),
            (attr::DESIRED_CAPACITY, Value::Unknown),
        ]);
        assert_eq!(errors_at(&d), vec![attr::DESIRED_CAPACITY.to_string()]);
    }

    #[test]
    fn capacity_is_checked_with_defaults_and_only_when_known() {
        // max_size unset is 1: a desired capacity of 2 does not fit.
        let d = validated(&[(attr::DESIRED_CAPACITY, Value::int(2))]);
        assert_eq!(errors_at(&d), vec![attr::DESIRED_CAPACITY.to_string()]);
        // min_size unset is 1: max_size 1 fits it.
        assert!(!validated(&[(attr::MAX_SIZE, Value::int(1))]).has_error());
        // One unknown size: the others cannot be compared with it yet.
        let d = validated(&[
            (attr::MIN_SIZE, Value::Unknown),
            (attr::MAX_SIZE, Value::int(2)),
            (attr::DESIRED_CAPACITY, Value::int(5)),
        ]);
        assert!(!d.has_error(), "{:?}", errors_at(&d));
    }

    async fn planned(prior: &Value, proposed: &Value, cfg: &Value) -> Plan {
        let ctx = Ctx {
            data: None,
            cancel: tokio_util::sync::CancellationToken::new(),
        };
        let mut p = plan_change(&schema(), prior, proposed, cfg);
        let mut d = Diagnostics::new();
        modify_plan(&ctx, &mut p, &mut d).await;
        assert!(!d.has_error());
        p
    }

    #[tokio::test]
    async fn desired_capacity_follows_config_or_falls_back_to_min() {
        let base = [
            (attr::SYSTEM, Value::string("p")),
            (attr::NAME, Value::string("q")),
            (attr::MIN_SIZE, Value::int(2)),
            (attr::MAX_SIZE, Value::int(4)),
        ];
        // The config's value, whatever the prior.
        let mut pairs = base.to_vec();
        pairs.push((attr::DESIRED_CAPACITY, Value::int(3)));
        let cfg = config(&pairs);
        let p = planned(&Value::Null, &cfg, &cfg).await;
        assert_eq!(p.get(attr::DESIRED_CAPACITY), &Value::int(3));

        // A prior outside [min, max] (the sizes changed): min_size.
        let cfg = config(&base);
        let mut prior = config(&base);
        prior.set_attr(attr::DESIRED_CAPACITY, Value::int(7));
        let mut proposed = cfg.clone();
        proposed.set_attr(attr::DESIRED_CAPACITY, Value::int(7));
        let p = planned(&prior, &proposed, &cfg).await;
        assert_eq!(p.get(attr::DESIRED_CAPACITY), &Value::int(2));
        // At max exactly: kept.
        prior.set_attr(attr::DESIRED_CAPACITY, Value::int(4));
        proposed.set_attr(attr::DESIRED_CAPACITY, Value::int(4));
        let p = planned(&prior, &proposed, &cfg).await;
        assert_eq!(p.get(attr::DESIRED_CAPACITY), &Value::int(4));

        // An unknown size: the capacity is known only at apply.
        let mut pairs = base.to_vec();
        pairs[3] = (attr::MAX_SIZE, Value::Unknown);
        let cfg = config(&pairs);
        let p = planned(&Value::Null, &cfg, &cfg).await;
        assert_eq!(p.get(attr::DESIRED_CAPACITY), &Value::Unknown);
    }

    #[tokio::test]
    async fn the_id_and_application_follow_the_names() {
        let cfg = config(&[
            (attr::SYSTEM, Value::string("p")),
            (attr::NAME, Value::string("q")),
            (attr::APPLICATION_NAME, Value::string("app")),
        ]);
        let p = planned(&Value::Null, &cfg, &cfg).await;
        assert_eq!(p.get(attr::ID), &Value::string("p/q"));
        assert_eq!(p.get(attr::APPLICATION_NAME), &Value::string("app"));
        // An unknown name: the id is left as planned (unknown).
        let cfg = config(&[
            (attr::SYSTEM, Value::string("p")),
            (attr::NAME, Value::Unknown),
        ]);
        let p = planned(&Value::Null, &cfg, &cfg).await;
        assert_eq!(p.get(attr::ID), &Value::Unknown);
        assert_eq!(p.get(attr::APPLICATION_NAME), &Value::Unknown);
    }
}
