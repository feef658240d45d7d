//! Plan-time repairs of a compute group (a system's primary group, a query
//! group) that the last read found broken outside Terraform. The read marks
//! what is broken with an empty string in a computed attribute; the plan
//! turns that into "known after apply", so that `terraform plan` shows the
//! repair and the update makes it in place (no replacement, no data lost).
//! Both resources name these attributes alike.

use crate::plugin::{Plan, Value};

/// The node role's policies changed: the update repairs the role.
const NODE_ROLE_NAME: &str = "node_role_name";
/// The Auto Scaling group is gone but other objects remain (a create that
/// failed half-way, or a group deleted by hand): the update re-runs the
/// create, which adopts what exists.
const AUTOSCALING_GROUP_NAME: &str = "autoscaling_group_name";
/// The ARN of the Auto Scaling group: a new group has a new one.
const ARN: &str = "arn";
/// The load balancer, listener or target group, the system's DNS zone or the
/// group's name in it is gone (or points elsewhere): the update makes it again.
const ENDPOINT: &str = "endpoint";
/// The load balancer, listener or target group is gone: a new load balancer
/// has a new DNS name.
const LOAD_BALANCER_DNS_NAME: &str = "load_balancer_dns_name";
/// The launch template's latest version lacks what this build writes (the
/// volumes' key): the update writes a new version and rolls the nodes.
const LAUNCH_TEMPLATE_ID: &str = "launch_template_id";

/// Plans every repair the last read asked for.
pub fn plan(plan: &mut Plan) {
    if plan.is_create() {
        return;
    }
    if marked_broken(plan, ENDPOINT) {
        plan.set(ENDPOINT, Value::Unknown);
    }
    if marked_broken(plan, LOAD_BALANCER_DNS_NAME) {
        plan.set(LOAD_BALANCER_DNS_NAME, Value::Unknown);
    }
    if marked_broken(plan, AUTOSCALING_GROUP_NAME) {
        plan.set(AUTOSCALING_GROUP_NAME, Value::Unknown);
        plan.set(ARN, Value::Unknown);
    }
    if marked_broken(plan, NODE_ROLE_NAME) {
        plan.set(NODE_ROLE_NAME, Value::Unknown);
    }
    if marked_broken(plan, LAUNCH_TEMPLATE_ID) {
        plan.set(LAUNCH_TEMPLATE_ID, Value::Unknown);
    }
}

/// The read left `attr` empty: what it names is broken.
fn marked_broken(plan: &Plan, attr: &str) -> bool {
    plan.prior_get(attr).as_str() == Some("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn object(pairs: &[(&str, &str)]) -> Value {
        let m: BTreeMap<String, Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::string(*v)))
            .collect();
        Value::Object(m)
    }

    fn plan_from(prior: Value) -> Plan {
        Plan {
            planned: prior.clone(),
            config: prior.clone(),
            prior,
            requires_replace: vec![],
            in_place: vec![],
        }
    }

    #[test]
    fn what_the_read_marked_broken_becomes_known_after_apply() {
        let prior = object(&[
            (ENDPOINT, ""),
            (LOAD_BALANCER_DNS_NAME, ""),
            (AUTOSCALING_GROUP_NAME, ""),
            (ARN, "arn:old"),
            (NODE_ROLE_NAME, ""),
            (LAUNCH_TEMPLATE_ID, ""),
        ]);
        let mut p = plan_from(prior);
        plan(&mut p);
        for a in [
            ENDPOINT,
            LOAD_BALANCER_DNS_NAME,
            AUTOSCALING_GROUP_NAME,
            ARN,
            NODE_ROLE_NAME,
            LAUNCH_TEMPLATE_ID,
        ] {
            assert_eq!(p.get(a), &Value::Unknown, "{a}");
        }
    }

    #[test]
    fn a_missing_dns_name_keeps_the_load_balancers() {
        // The zone or record is gone, the load balancer is not: only the
        // endpoint is made again, and the client configuration never changes.
        let prior = object(&[
            (ENDPOINT, ""),
            (LOAD_BALANCER_DNS_NAME, "lb.example"),
            ("client_config", "x"),
        ]);
        let mut p = plan_from(prior);
        plan(&mut p);
        assert_eq!(p.get(ENDPOINT), &Value::Unknown);
        assert_eq!(p.get(LOAD_BALANCER_DNS_NAME), &Value::string("lb.example"));
        assert_eq!(p.get("client_config"), &Value::string("x"));
    }

    #[test]
    fn nothing_broken_plans_nothing() {
        let prior = object(&[
            (ENDPOINT, "lb.example"),
            (AUTOSCALING_GROUP_NAME, "a--primary"),
            (ARN, "arn:x"),
            (NODE_ROLE_NAME, "a--primary-node"),
        ]);
        let mut p = plan_from(prior.clone());
        plan(&mut p);
        assert_eq!(p.planned, prior);
        // A create has no prior to repair.
        let mut p = plan_from(Value::Null);
        p.planned = object(&[(ENDPOINT, "")]);
        plan(&mut p);
        assert_eq!(p.get(ENDPOINT), &Value::string(""));
    }

    #[test]
    fn both_resources_have_these_attributes() {
        use crate::plugin::Resource;
        use crate::resources::{query_group, system};
        let system = system::SystemResource::new();
        let group = query_group::QueryGroupResource::new();
        for a in [
            ENDPOINT,
            LOAD_BALANCER_DNS_NAME,
            AUTOSCALING_GROUP_NAME,
            ARN,
            NODE_ROLE_NAME,
        ] {
            for (r, s) in [("system", system.schema()), ("query group", group.schema())] {
                assert!(s.block.attributes.iter().any(|x| x.name == a), "{r} {a}");
            }
        }
    }
}
