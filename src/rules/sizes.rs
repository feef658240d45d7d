//! Compute roles and the instance-size table: which instance types each
//! kind of compute group may run, and its default.

use super::{q, quoted_list, Violation};

/// What a compute group is, which decides its allowed sizes and node rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComputeRole {
    SoloPrimary,
    ProductionPrimary,
    QueryGroup,
}

impl ComputeRole {
    /// All roles, in table order.
    pub const ALL: [ComputeRole; 3] = [
        ComputeRole::SoloPrimary,
        ComputeRole::ProductionPrimary,
        ComputeRole::QueryGroup,
    ];

    /// This role's row of [`INSTANCE_SIZES`].
    pub fn sizes(self) -> &'static InstanceSizeRule {
        match self {
            ComputeRole::SoloPrimary => &SOLO_PRIMARY_SIZES,
            ComputeRole::ProductionPrimary => &PRODUCTION_PRIMARY_SIZES,
            ComputeRole::QueryGroup => &QUERY_GROUP_SIZES,
        }
    }

    /// Short table label, e.g. "production primary".
    pub fn label(self) -> &'static str {
        self.sizes().label
    }

    /// In words for details, e.g. "a production system's primary compute group".
    pub fn description(self) -> &'static str {
        match self {
            ComputeRole::SoloPrimary => "a solo system's primary compute group",
            ComputeRole::ProductionPrimary => "a production system's primary compute group",
            ComputeRole::QueryGroup => "a query group",
        }
    }

    /// For summaries, e.g. "a production primary compute group".
    fn summary_noun(self) -> &'static str {
        match self {
            ComputeRole::SoloPrimary => "a solo primary compute group",
            ComputeRole::ProductionPrimary => "a production primary compute group",
            ComputeRole::QueryGroup => "a query group",
        }
    }
}

/// One row of the instance-size table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceSizeRule {
    pub role: ComputeRole,
    /// Table label, e.g. "production primary".
    pub label: &'static str,
    /// Instance types Datomic Cloud supports for this role.
    pub allowed: &'static [&'static str],
    /// Used when `instance_type` is unset.
    pub default: &'static str,
    /// The node rule, in words (docs and details).
    pub nodes: &'static str,
    /// Why only these sizes (ends details).
    pub why: &'static str,
}

const SOLO_PRIMARY_SIZES: InstanceSizeRule = InstanceSizeRule {
    role: ComputeRole::SoloPrimary,
    label: "solo primary",
    allowed: &["t2.small"],
    default: "t2.small",
    nodes: "exactly 1, never HA",
    why: "a solo system is one small node for development; for larger nodes use topology \"production\"",
};

const PRODUCTION_PRIMARY_SIZES: InstanceSizeRule = InstanceSizeRule {
    role: ComputeRole::ProductionPrimary,
    label: "production primary",
    allowed: &["i3.large", "i3.xlarge"],
    default: "i3.large",
    nodes: "2 by default, up to 10 by explicit choice, spread over availability zones; never autoscaled",
    why: "Datomic Cloud supports only these sizes for production primary nodes",
};

const QUERY_GROUP_SIZES: InstanceSizeRule = InstanceSizeRule {
    role: ComputeRole::QueryGroup,
    label: "query group",
    allowed: &["t2.medium", "m5.large", "i3.large", "i3.xlarge"],
    default: "t2.medium",
    nodes: "min/max/desired (max up to 100), autoscaled; more than 1 node is HA",
    why: "Datomic Cloud supports only these sizes for query groups",
};

/// The instance-size table: one row per [`ComputeRole`], in [`ComputeRole::ALL`] order.
pub const INSTANCE_SIZES: &[InstanceSizeRule] = &[
    SOLO_PRIMARY_SIZES,
    PRODUCTION_PRIMARY_SIZES,
    QUERY_GROUP_SIZES,
];

/// Instance types allowed for `role`.
pub fn allowed_instance_types(role: ComputeRole) -> &'static [&'static str] {
    role.sizes().allowed
}

/// Instance type used when `instance_type` is unset.
pub fn default_instance_type(role: ComputeRole) -> &'static str {
    role.sizes().default
}

/// The instance-size table as a markdown table, for generated docs.
pub fn instance_size_table_markdown() -> String {
    let mut out =
        String::from("| Compute group | Allowed | Default | Nodes |\n|---|---|---|---|\n");
    for row in INSTANCE_SIZES {
        let allowed = row
            .allowed
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "| {} | {} | `{}` | {} |\n",
            row.label, allowed, row.default, row.nodes
        ));
    }
    out
}

/// Refuses an `instance_type` the table does not allow for `role`.
pub fn check_instance_type(role: ComputeRole, instance_type: &str) -> Result<(), Violation> {
    let row = role.sizes();
    if row.allowed.contains(&instance_type) {
        return Ok(());
    }
    Err(Violation::new(
        "instance_type",
        format!("Invalid instance type for {}", role.summary_noun()),
        format!(
            "{} is not a supported size for {}. Allowed: {} ({}).",
            q(instance_type),
            role.description(),
            quoted_list(row.allowed),
            row.why
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{assert_v, err};
    use crate::rules::{MAX_PRODUCTION_NODES, MAX_QUERY_GROUP_SIZE};

    #[test]
    fn table_has_one_consistent_row_per_role() {
        assert_eq!(INSTANCE_SIZES.len(), ComputeRole::ALL.len());
        for (row, role) in INSTANCE_SIZES.iter().zip(ComputeRole::ALL) {
            assert_eq!(row.role, role);
            assert_eq!(role.sizes(), row);
            assert!(row.allowed.contains(&row.default), "{role:?}");
            assert_eq!(allowed_instance_types(role), row.allowed);
            assert_eq!(default_instance_type(role), row.default);
            assert!(check_instance_type(role, default_instance_type(role)).is_ok());
        }
        assert_eq!(default_instance_type(ComputeRole::SoloPrimary), "t2.small");
        assert_eq!(
            default_instance_type(ComputeRole::ProductionPrimary),
            "i3.large"
        );
        assert_eq!(default_instance_type(ComputeRole::QueryGroup), "t2.medium");
        assert_eq!(
            allowed_instance_types(ComputeRole::QueryGroup),
            ["t2.medium", "m5.large", "i3.large", "i3.xlarge"]
        );
    }

    #[test]
    fn node_texts_name_the_bounds() {
        assert!(ComputeRole::ProductionPrimary
            .sizes()
            .nodes
            .contains(&format!("up to {MAX_PRODUCTION_NODES}")));
        assert!(ComputeRole::QueryGroup
            .sizes()
            .nodes
            .contains(&format!("up to {MAX_QUERY_GROUP_SIZE}")));
    }

    #[test]
    fn markdown_table_renders_every_row_and_matches_module_doc() {
        let md = instance_size_table_markdown();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines.len(), 2 + INSTANCE_SIZES.len());
        assert_eq!(lines[0], "| Compute group | Allowed | Default | Nodes |");
        assert_eq!(lines[3], "| production primary | `i3.large`, `i3.xlarge` | `i3.large` | 2 by default, up to 10 by explicit choice, spread over availability zones; never autoscaled |");
        let source = include_str!("mod.rs");
        for line in lines {
            assert!(
                source.contains(&format!("//! {line}\n")),
                "module doc out of date: {line}"
            );
        }
    }
    #[test]
    fn instance_types_per_role() {
        for role in ComputeRole::ALL {
            for t in allowed_instance_types(role) {
                assert!(check_instance_type(role, t).is_ok());
            }
        }
        let v = err(check_instance_type(
            ComputeRole::ProductionPrimary,
            "i3.2xlarge",
        ));
        assert_eq!(
            v.summary,
            "Invalid instance type for a production primary compute group"
        );
        assert_eq!(v.detail, "\"i3.2xlarge\" is not a supported size for a production system's primary compute group. Allowed: \"i3.large\", \"i3.xlarge\" (Datomic Cloud supports only these sizes for production primary nodes).");
        assert_v(
            &err(check_instance_type(ComputeRole::SoloPrimary, "i3.large")),
            "instance_type",
            &["\"i3.large\"", "\"t2.small\"", "solo system"],
        );
        assert_v(
            &err(check_instance_type(ComputeRole::QueryGroup, "t2.small")),
            "instance_type",
            &["\"t2.small\"", "\"m5.large\"", "query group"],
        );
        assert!(check_instance_type(ComputeRole::QueryGroup, "").is_err());
    }
}
