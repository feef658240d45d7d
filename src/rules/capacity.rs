//! How many nodes a compute group runs: the primary group's node count,
//! query group capacity and autoscaling.

use super::{Topology, Violation};

/// Upper bound of a production primary group's `node_count` (this provider's rule).
pub const MAX_PRODUCTION_NODES: i64 = 10;
/// Upper bound of a query group's `max_size` (this provider's rule).
pub const MAX_QUERY_GROUP_SIZE: i64 = 100;
/// Query group `min_size` when unset.
pub const DEFAULT_MIN_SIZE: i64 = 1;
/// Query group `max_size` when unset.
pub const DEFAULT_MAX_SIZE: i64 = 1;

/// `node_count` when unset: 1 for solo, 2 for production.
pub fn default_node_count(topology: Topology) -> i64 {
    match topology {
        Topology::Solo => 1,
        Topology::Production => 2,
    }
}

/// Solo: exactly 1. Production: 2..=[`MAX_PRODUCTION_NODES`].
pub fn check_node_count(topology: Topology, n: i64) -> Result<(), Violation> {
    match topology {
        Topology::Solo if n != 1 => Err(Violation::new(
            "node_count",
            "Invalid node count for a solo system",
            format!(
                "Given node_count {n}. Allowed: 1 (a solo system runs exactly one node and is never highly available; for more nodes use topology \"production\")."
            ),
        )),
        Topology::Production if !(2..=MAX_PRODUCTION_NODES).contains(&n) => Err(Violation::new(
            "node_count",
            "Invalid node count for a production system",
            format!(
                "Given node_count {n}. Allowed: 2 to {MAX_PRODUCTION_NODES} (a production primary group needs at least 2 nodes spread over availability zones to be highly available; the upper bound is this provider's guard against launching many i3 instances by mistake)."
            ),
        )),
        _ => Ok(()),
    }
}

/// `desired_capacity` when unset: `min_size`.
pub fn default_desired_capacity(min: i64, desired: Option<i64>) -> i64 {
    desired.unwrap_or(min)
}

/// Target-tracking autoscaling of a query group: the average CPU
/// utilization (percent) AWS keeps the group at, 1-100 exclusive of 0.
pub fn check_target_cpu_utilization(target: f64) -> Result<(), Violation> {
    if target > 0.0 && target <= 100.0 {
        Ok(())
    } else {
        Err(Violation::new(
            "autoscaling",
            "Invalid autoscaling target",
            format!("target_cpu_utilization {target} is not a percentage. Allowed: more than 0 and at most 100 (AWS keeps the group's average CPU utilization near this value)."),
        ))
    }
}

/// With autoscaling, AWS owns the group's desired capacity.
pub fn check_autoscaling_conflicts(
    has_autoscaling: bool,
    desired_set: bool,
) -> Result<(), Violation> {
    if has_autoscaling && desired_set {
        Err(Violation::new(
            "desired_capacity",
            "Conflicting capacity settings",
            "desired_capacity cannot be set together with an autoscaling block: the target-tracking policy decides the number of nodes between min_size and max_size. Remove desired_capacity.",
        ))
    } else {
        Ok(())
    }
}

/// Query group capacity: `0 <= min <= max`, `1 <= max <= MAX_QUERY_GROUP_SIZE`,
/// `min <= desired <= max`. Every problem found is returned.
pub fn check_capacity(min: i64, max: i64, desired: Option<i64>) -> Vec<Violation> {
    let mut out = Vec::new();
    let min_ok = min >= 0;
    let max_ok = (1..=MAX_QUERY_GROUP_SIZE).contains(&max);
    if !min_ok {
        out.push(Violation::new(
            "min_size",
            "Invalid query group minimum size",
            format!("Given min_size {min}. Allowed: 0 to max_size ({max}); a group cannot have fewer than 0 nodes."),
        ));
    }
    if !max_ok {
        out.push(Violation::new(
            "max_size",
            "Invalid query group maximum size",
            format!("Given max_size {max}. Allowed: 1 to {MAX_QUERY_GROUP_SIZE} (a query group needs room for at least one node; the upper bound is this provider's guard against runaway scaling)."),
        ));
    }
    if min_ok && max_ok && min > max {
        out.push(Violation::new(
            "min_size",
            "Query group minimum size exceeds maximum size",
            format!("Given min_size {min} with max_size {max}. Allowed: min_size at most max_size; raise max_size or lower min_size."),
        ));
    }
    if let Some(d) = desired {
        if min <= max && !(min..=max).contains(&d) {
            out.push(Violation::new(
                "desired_capacity",
                "Query group desired capacity out of range",
                format!("Given desired_capacity {d}. Allowed: {min} to {max} (between min_size and max_size; unset means min_size)."),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{assert_v, err};

    #[test]
    fn node_counts() {
        assert_eq!(default_node_count(Topology::Solo), 1);
        assert_eq!(default_node_count(Topology::Production), 2);
        assert!(check_node_count(Topology::Solo, 1).is_ok());
        for n in [0, 2, -1] {
            assert_v(
                &err(check_node_count(Topology::Solo, n)),
                "node_count",
                &[&n.to_string(), "Allowed: 1"],
            );
        }
        for n in [2, 3, MAX_PRODUCTION_NODES] {
            assert!(check_node_count(Topology::Production, n).is_ok());
        }
        for n in [1, 0, MAX_PRODUCTION_NODES + 1, i64::MAX] {
            assert_v(
                &err(check_node_count(Topology::Production, n)),
                "node_count",
                &[&n.to_string(), "2 to 10", "availability zones"],
            );
        }
    }

    #[test]
    fn capacity_accepted() {
        assert!(check_capacity(DEFAULT_MIN_SIZE, DEFAULT_MAX_SIZE, None).is_empty());
        assert!(check_capacity(0, 1, Some(0)).is_empty());
        assert!(check_capacity(2, 8, Some(5)).is_empty());
        assert!(check_capacity(
            MAX_QUERY_GROUP_SIZE,
            MAX_QUERY_GROUP_SIZE,
            Some(MAX_QUERY_GROUP_SIZE)
        )
        .is_empty());
        assert_eq!(default_desired_capacity(3, None), 3);
        assert_eq!(default_desired_capacity(3, Some(4)), 4);
    }

    #[test]
    fn capacity_refused() {
        let attrs = |vs: Vec<Violation>| vs.iter().map(|v| v.attribute).collect::<Vec<_>>();
        let v = check_capacity(-1, 2, None);
        assert_eq!(attrs(v.clone()), ["min_size"]);
        assert_v(&v[0], "min_size", &["-1", "0 to"]);
        let v = check_capacity(0, 0, None);
        assert_v(&v[0], "max_size", &["max_size 0", "1 to 100"]);
        assert_eq!(
            attrs(check_capacity(1, MAX_QUERY_GROUP_SIZE + 1, None)),
            ["max_size"]
        );
        let v = check_capacity(3, 2, Some(9));
        assert_eq!(attrs(v.clone()), ["min_size"]);
        assert_v(&v[0], "min_size", &["min_size 3", "max_size 2"]);
        let v = check_capacity(2, 4, Some(5));
        assert_eq!(attrs(v.clone()), ["desired_capacity"]);
        assert_v(&v[0], "desired_capacity", &["5", "2 to 4"]);
        assert_eq!(attrs(check_capacity(2, 4, Some(1))), ["desired_capacity"]);
        assert_eq!(
            attrs(check_capacity(-1, 0, Some(-5))),
            ["min_size", "max_size", "desired_capacity"]
        );
    }
    #[test]
    fn autoscaling_targets_and_conflicts() {
        assert!(check_target_cpu_utilization(60.0).is_ok());
        assert!(check_target_cpu_utilization(100.0).is_ok());
        for bad in [0.0, -5.0, 100.5, f64::NAN] {
            let v = check_target_cpu_utilization(bad).unwrap_err();
            assert_eq!(v.attribute, "autoscaling");
        }
        assert_eq!(
            check_autoscaling_conflicts(true, true)
                .unwrap_err()
                .attribute,
            "desired_capacity"
        );
        assert!(check_autoscaling_conflicts(true, false).is_ok());
        assert!(check_autoscaling_conflicts(false, true).is_ok());
    }
}
