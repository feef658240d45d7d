//! Topology: solo or production, the only change allowed in place, and
//! which systems query groups may attach to.

use std::fmt;

use super::{q, quoted_list, ComputeRole, Violation};

/// A system's topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topology {
    Solo,
    Production,
}

impl Topology {
    /// All topologies, in the order docs list them.
    pub const ALL: [Topology; 2] = [Topology::Solo, Topology::Production];

    /// `"solo"` / `"production"`; anything else is `None` (see [`parse_topology`]).
    pub fn parse(s: &str) -> Option<Topology> {
        Topology::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Topology::Solo => "solo",
            Topology::Production => "production",
        }
    }

    /// The role of this topology's primary compute group.
    pub fn primary_role(self) -> ComputeRole {
        match self {
            Topology::Solo => ComputeRole::SoloPrimary,
            Topology::Production => ComputeRole::ProductionPrimary,
        }
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `solo`/`production`, or a violation on `topology` listing both.
pub fn parse_topology(s: &str) -> Result<Topology, Violation> {
    Topology::parse(s).ok_or_else(|| {
        let allowed: Vec<&str> = Topology::ALL.iter().map(|t| t.as_str()).collect();
        Violation::new(
            "topology",
            "Invalid topology",
            format!(
                "{} is not a Datomic Cloud topology. Allowed: {} (\"solo\" is one small node for development; \"production\" is highly available with query groups).",
                q(s),
                quoted_list(&allowed)
            ),
        )
    })
}

/// Refuses production -> solo; every other change (or none) is fine in place.
pub fn check_topology_change(from: Topology, to: Topology) -> Result<(), Violation> {
    if !(from == Topology::Production && to == Topology::Solo) {
        return Ok(());
    }
    Err(Violation::new(
        "topology",
        "Cannot change a production system to solo",
        "Given topology \"solo\" for a system that is \"production\". Allowed: \"production\" (a system can only move solo -> production in place). Going back to solo would drop high availability and capacity, and query groups cannot run on a solo system. To do it on purpose, create a new solo datomic_system with a different name and move the applications to it, then destroy this system (its storage is retained by default).",
    ))
}

/// Query groups attach only to production systems.
pub fn check_query_group_target(system: &str, system_topology: Topology) -> Result<(), Violation> {
    if system_topology == Topology::Production {
        return Ok(());
    }
    Err(Violation::new(
        "system",
        "Query groups require a production system",
        format!(
            "System {} has topology {}. Allowed: a system with topology \"production\" (a solo system is a single node and cannot host query groups). Change the system's topology to \"production\" (in place, no data loss) or point this query group at a production system.",
            q(system),
            q(system_topology.as_str())
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{assert_v, err};

    #[test]
    fn topology_parses_and_prints() {
        for t in Topology::ALL {
            assert_eq!(Topology::parse(t.as_str()), Some(t));
            assert_eq!(parse_topology(&t.to_string()), Ok(t));
        }
        assert_eq!(Topology::Solo.primary_role(), ComputeRole::SoloPrimary);
        assert_eq!(
            Topology::Production.primary_role(),
            ComputeRole::ProductionPrimary
        );
        assert_eq!(Topology::parse("Production"), None);
        let v = err(parse_topology("prod"));
        assert_v(&v, "topology", &["\"prod\"", "\"solo\", \"production\""]);
    }

    #[test]
    fn topology_change_only_upward() {
        use Topology::*;
        for (from, to) in [(Solo, Solo), (Solo, Production), (Production, Production)] {
            assert!(check_topology_change(from, to).is_ok());
        }
        let v = err(check_topology_change(Production, Solo));
        assert_v(
            &v,
            "topology",
            &[
                "\"solo\"",
                "\"production\"",
                "high availability",
                "new solo",
                "different name",
                "retained",
            ],
        );
    }

    #[test]
    fn query_groups_need_production() {
        assert!(check_query_group_target("prod", Topology::Production).is_ok());
        let v = err(check_query_group_target("dev", Topology::Solo));
        assert_v(&v, "system", &["\"dev\"", "\"solo\"", "\"production\""]);
    }
}
