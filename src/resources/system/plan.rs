//! Plan-time logic of `datomic_system`: validation of the configuration,
//! the plan's derived values and checks, and the destroy warning. Works on
//! values, where unknowns matter.

use super::model::attr;
use super::{role_of, PRIMARY_GROUP};
use crate::aws::{Clients, Lookup};
use crate::plugin::{Ctx, Diagnostics, Plan, Value};
use crate::resources::common::*;
use crate::resources::{compute, storage};
use crate::rules::{self, Topology, Violation};

pub(super) fn validate(config: &Value, diags: &mut Diagnostics) {
    if let Some(n) = str_attr(config, attr::NAME) {
        check(diags, rules::check_system_name(&n));
    }
    let topology =
        str_attr(config, attr::TOPOLOGY).and_then(|t| check(diags, rules::parse_topology(&t)));
    if let Some(a) = str_attr(config, attr::APPLICATION_NAME) {
        check(
            diags,
            rules::check_application_name(attr::APPLICATION_NAME, &a),
        );
    }
    if let (Some(t), Some(it)) = (topology, str_attr(config, attr::INSTANCE_TYPE)) {
        check(diags, rules::check_instance_type(t.primary_role(), &it));
    }
    if let Some(arn) = str_attr(config, attr::NODE_POLICY_ARN) {
        check(diags, rules::check_node_policy_arn(&arn));
    }
    check_whole_numbers(config, &[attr::NODE_COUNT], diags);
    if let (Some(t), Some(n)) = (topology, int_attr(config, attr::NODE_COUNT)) {
        check(diags, rules::check_node_count(t, n));
    }
    if let Some(t) = map_attr(config, attr::TAGS) {
        check_all(diags, rules::check_tags(&t));
    }
    let sets = |a: &str| config.get(a).is_some_and(|v| !v.is_null());
    if sets(attr::VPC_ID) != sets(attr::SUBNET_IDS) {
        // On the argument that is set (an absent one has no line to
        // point at), as the AWS provider's RequiredWith does.
        let (given, missing) = if sets(attr::VPC_ID) {
            (attr::VPC_ID, attr::SUBNET_IDS)
        } else {
            (attr::SUBNET_IDS, attr::VPC_ID)
        };
        diags.attribute_error(
            crate::plugin::AttrPath::root(given),
            "Incomplete existing network",
            format!("{given} is set without {missing}: vpc_id and subnet_ids go together; set both to use an existing network, or neither to let the provider create one."),
        );
    }
    if let Some(subnets) = list_attr(config, attr::SUBNET_IDS) {
        if subnets.len() < 2 {
            diags.attribute_error(
                crate::plugin::AttrPath::root(attr::SUBNET_IDS),
                "Too few subnets",
                format!("{} subnet(s) given; a Datomic system needs subnets in at least 2 availability zones.", subnets.len()),
            );
        }
    }
    for (i, cidr) in list_attr(config, attr::CLIENT_CIDR_BLOCKS)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        // Set elements have no index: the diagnostic goes on the attribute.
        check(
            diags,
            rules::check_cidr_block(i, cidr).map_err(|v| Violation { index: None, ..v }),
        );
        if let Some(w) = rules::open_to_everyone(cidr) {
            diags.attribute_warning(
                crate::plugin::AttrPath::root(w.attribute),
                w.summary,
                w.detail,
            );
        }
    }
    for (i, id) in list_attr(config, attr::CLIENT_SECURITY_GROUP_IDS)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        check(
            diags,
            rules::check_security_group_id(i, id).map_err(|v| Violation { index: None, ..v }),
        );
    }
    validate_timeouts(config, diags);
}

pub(super) async fn modify_plan(ctx: &Ctx<Clients>, plan: &mut Plan, diags: &mut Diagnostics) {
    let topology = str_attr(&plan.planned, attr::TOPOLOGY);
    // Derived values follow the topology on every plan when unset.
    if let Some(t) = topology.as_deref().and_then(Topology::parse) {
        if !plan.config_sets(attr::INSTANCE_TYPE) {
            plan.set(
                attr::INSTANCE_TYPE,
                Value::string(rules::default_instance_type(t.primary_role())),
            );
        }
        if !plan.config_sets(attr::NODE_COUNT) {
            plan.set(attr::NODE_COUNT, Value::int(rules::default_node_count(t)));
        }
        if let (Some(from), false) = (
            str_attr(&plan.prior, attr::TOPOLOGY)
                .as_deref()
                .and_then(Topology::parse),
            plan.is_create(),
        ) {
            check(diags, rules::check_topology_change(from, t));
        }
    } else if is_unknown(&plan.planned, attr::TOPOLOGY) {
        if !plan.config_sets(attr::INSTANCE_TYPE) {
            plan.set(attr::INSTANCE_TYPE, Value::Unknown);
        }
        if !plan.config_sets(attr::NODE_COUNT) {
            plan.set(attr::NODE_COUNT, Value::Unknown);
        }
    }
    if !plan.config_sets(attr::APPLICATION_NAME) {
        let n = plan.get(attr::NAME).clone();
        plan.set(attr::APPLICATION_NAME, n);
    }
    // A launch template version made outside Terraform without an image:
    // the apply writes back the default image, known only then.
    if !plan.is_create()
        && !plan.config_sets(attr::IMAGE_ID)
        && plan.prior_get(attr::IMAGE_ID).as_str() == Some("")
    {
        plan.set(attr::IMAGE_ID, Value::Unknown);
    }
    // A system made before storage had a KMS key, a catalog table, a log
    // group and a file system: the apply adds them.
    for added in [
        attr::KMS_KEY_ARN,
        attr::CATALOG_TABLE_NAME,
        attr::LOG_GROUP_NAME,
        attr::FILE_SYSTEM_ID,
    ] {
        if !plan.is_create()
            && str_attr(&plan.prior, added)
                .filter(|k| !k.is_empty())
                .is_none()
        {
            plan.set(added, Value::Unknown);
        }
    }
    // A network the provider made in two zones, in a region with a third:
    // the apply adds its subnet in place (the groups spread over it).
    if !plan.is_create()
        && !plan.config_sets(attr::SUBNET_IDS)
        && bool_attr(&plan.prior, attr::NETWORK_MANAGED).unwrap_or(true)
    {
        if let (Some(c), Some(have)) = (
            ctx.data.as_deref(),
            list_attr(&plan.prior, attr::SUBNET_IDS),
        ) {
            match storage::lacks_zones(c, have.len()).await {
                Ok(true) => plan.recompute_in_place(attr::SUBNET_IDS),
                Ok(false) => {}
                Err(e) => diags.warning(
                    "Could not check the region's availability zones",
                    e.to_string(),
                ),
            }
        }
    }
    if plan.is_create() {
        // Names derived from the system's name are known now.
        if let Some(n) = str_attr(&plan.planned, attr::NAME) {
            plan.set(attr::ID, Value::string(&n));
            plan.set(
                attr::AUTOSCALING_GROUP_NAME,
                Value::string(rules::asg_name(&n, PRIMARY_GROUP)),
            );
            plan.set(
                attr::NODE_ROLE_NAME,
                Value::string(rules::node_role_name(&n, PRIMARY_GROUP)),
            );
            plan.set(attr::TABLE_NAME, Value::string(rules::table_name(&n)));
            plan.set(
                attr::CATALOG_TABLE_NAME,
                Value::string(rules::catalog_table_name(&n)),
            );
            plan.set(
                attr::LOG_GROUP_NAME,
                Value::string(rules::log_group_name(&n)),
            );
            // Named after the account: known now when the account id is.
            if let Some(b) = ctx
                .data
                .as_deref()
                .and_then(|c| storage::known_bucket_name(c, &n))
            {
                plan.set(attr::BUCKET_NAME, Value::string(b));
            }
        }
    }
    // Re-check the derived combination (the instance type may come from config).
    if let (Some(role), Some(it)) = (
        topology.as_deref().and_then(role_of),
        str_attr(&plan.planned, attr::INSTANCE_TYPE),
    ) {
        if plan.config_sets(attr::INSTANCE_TYPE) {
            check(diags, rules::check_instance_type(role, &it));
        }
    }
    plan_tags_all(plan, ctx.data.as_deref().map(|c| &c.default_tags));
    // What the last read found broken outside Terraform: repaired in place.
    crate::resources::repair::plan(plan);
    // Never take over a live system of another state (an interrupted
    // create of this one is adopted instead).
    if plan.is_create() {
        if let (Some(c), Some(n)) = (ctx.data.as_deref(), str_attr(&plan.planned, attr::NAME)) {
            match compute::check_not_taken(c, &n, PRIMARY_GROUP, Lookup::Plan).await {
                Ok(Some(why)) => diags.attribute_error(
                    crate::plugin::AttrPath::root(attr::NAME),
                    format!("Datomic system {n:?} already exists"),
                    why,
                ),
                Ok(None) => {}
                Err(e) => diags.warning("Could not check whether the system exists", e.to_string()),
            }
        }
    }
    if plan.is_create() && !is_unknown(&plan.config, attr::VPC_ID) {
        let managed = !plan.config_sets(attr::VPC_ID);
        plan.set(attr::NETWORK_MANAGED, Value::bool(managed));
    }
    // A network the user brings must exist and fit: checked at plan when
    // its ids are known (and again at create, before any write).
    if plan.is_create() {
        if let (Some(c), Some(vpc), Some(subnets)) = (
            ctx.data.as_deref(),
            str_attr(&plan.planned, attr::VPC_ID),
            list_attr(&plan.planned, attr::SUBNET_IDS),
        ) {
            if !diags.has_error() {
                match storage::check_existing_network(c, &vpc, &subnets, Lookup::Plan).await {
                    Ok(None) => {}
                    Ok(Some((attr, problem))) => diags.attribute_error(
                        crate::plugin::AttrPath::root(attr),
                        "Unusable existing network",
                        problem,
                    ),
                    Err(e) => diags.warning(
                        "Could not check the existing network",
                        format!("{e} (it is checked again before the create writes anything)"),
                    ),
                }
            }
        }
    }
}

pub(super) fn plan_destroy(prior: &Value, diags: &mut Diagnostics) {
    let name = str_attr(prior, attr::NAME).unwrap_or_default();
    if bool_attr(prior, attr::RETAIN_STORAGE).unwrap_or(true) {
        diags.warning(
            format!("Destroying Datomic system {name:?} keeps its storage"),
            format!(
                "The primary compute group (Auto Scaling group, launch template, node role, security group) will be deleted. The storage is retained: VPC {}, S3 bucket {}, DynamoDB table {}, KMS key {}. A new datomic_system named {name:?} adopts it. Set retain_storage = false and apply before destroying to delete it too.",
                str_attr(prior, attr::VPC_ID).unwrap_or_default(),
                str_attr(prior, attr::BUCKET_NAME).unwrap_or_default(),
                str_attr(prior, attr::TABLE_NAME).unwrap_or_default(),
                str_attr(prior, attr::KMS_KEY_ARN)
                    .unwrap_or_else(|| rules::key_alias(&name))
            ),
        );
    } else if bool_attr(prior, attr::NETWORK_MANAGED).unwrap_or(true) {
        diags.warning(
            format!("Destroying Datomic system {name:?} deletes its storage"),
            "retain_storage is false: the VPC, S3 bucket (with all its objects) and DynamoDB table are deleted with the system, and its KMS key is scheduled for deletion (7 days). This loses the system's data.",
        );
    } else {
        diags.warning(
            format!("Destroying Datomic system {name:?} deletes its storage"),
            format!(
                "retain_storage is false: the S3 bucket (with all its objects) and DynamoDB table are deleted with the system, and its KMS key is scheduled for deletion (7 days). This loses the system's data. The network you brought (VPC {}) is kept.",
                str_attr(prior, attr::VPC_ID).unwrap_or_default()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::schema;
    use super::*;
    use crate::plugin::diag::Severity;
    use crate::plugin::plan::plan_change;
    use crate::plugin::PathStepExt;

    fn config(pairs: &[(&str, Value)]) -> Value {
        crate::resources::testing::config(&schema(), pairs)
    }

    fn strings(items: &[&str]) -> Vec<Value> {
        items.iter().map(|s| Value::string(*s)).collect()
    }

    /// The attributes of the diagnostics of one severity, in order.
    fn at(d: &Diagnostics, severity: Severity) -> Vec<String> {
        d.iter()
            .filter(|x| x.severity == severity)
            .map(|x| x.path.as_ref().map(|p| p.first_attr()).unwrap_or_default())
            .collect()
    }

    fn validated(pairs: &[(&str, Value)]) -> Diagnostics {
        let mut all = vec![
            (attr::NAME, Value::string("s")),
            (attr::TOPOLOGY, Value::string("production")),
        ];
        all.extend(pairs.iter().cloned());
        let mut d = Diagnostics::new();
        validate(&config(&all), &mut d);
        d
    }

    #[test]
    fn a_node_policy_arn_must_be_a_policy_arn() {
        let ok = "arn:aws:iam::aws:policy/ReadOnlyAccess";
        assert!(!validated(&[(attr::NODE_POLICY_ARN, Value::string(ok))]).has_error());
        let d = validated(&[(
            attr::NODE_POLICY_ARN,
            Value::string("arn:aws:iam::123456789012:role/x"),
        )]);
        assert_eq!(at(&d, Severity::Error), vec![attr::NODE_POLICY_ARN]);
    }

    #[test]
    fn an_existing_network_needs_both_ids_and_two_subnets() {
        let two = Value::List(strings(&["subnet-a", "subnet-b"]));
        let d = validated(&[(attr::VPC_ID, Value::string("vpc-1"))]);
        assert_eq!(at(&d, Severity::Error), vec![attr::VPC_ID]);
        let d = validated(&[(attr::SUBNET_IDS, two.clone())]);
        assert_eq!(at(&d, Severity::Error), vec![attr::SUBNET_IDS]);
        let d = validated(&[
            (attr::VPC_ID, Value::string("vpc-1")),
            (attr::SUBNET_IDS, Value::List(strings(&["subnet-a"]))),
        ]);
        assert_eq!(at(&d, Severity::Error), vec![attr::SUBNET_IDS]);
        assert!(d.iter().any(|x| x.summary == "Too few subnets"));
        let d = validated(&[
            (attr::VPC_ID, Value::string("vpc-1")),
            (attr::SUBNET_IDS, two),
        ]);
        assert!(!d.has_error(), "{:?}", at(&d, Severity::Error));
        // Unknown ids (from another resource) are set: no error yet.
        let d = validated(&[
            (attr::VPC_ID, Value::Unknown),
            (attr::SUBNET_IDS, Value::Unknown),
        ]);
        assert!(!d.has_error());
    }

    #[test]
    fn client_access_is_checked_on_the_attribute_and_open_blocks_warned() {
        let d = validated(&[(
            attr::CLIENT_CIDR_BLOCKS,
            Value::Set(strings(&["10.0.0.0/8", "0.0.0.0/0"])),
        )]);
        assert!(!d.has_error());
        assert_eq!(at(&d, Severity::Warning), vec![attr::CLIENT_CIDR_BLOCKS]);

        let d = validated(&[(
            attr::CLIENT_CIDR_BLOCKS,
            Value::Set(strings(&["10.0.0.0/8", "10.0.0.1"])),
        )]);
        assert_eq!(at(&d, Severity::Error), vec![attr::CLIENT_CIDR_BLOCKS]);
        // A set element has no index: the error is on the attribute itself.
        let path = d.iter().find_map(|x| x.path.clone()).expect("a path");
        assert_eq!(
            path,
            crate::plugin::AttrPath::root(attr::CLIENT_CIDR_BLOCKS)
        );

        let d = validated(&[(
            attr::CLIENT_SECURITY_GROUP_IDS,
            Value::Set(strings(&["sg-0123456789abcdef0", "group"])),
        )]);
        assert_eq!(
            at(&d, Severity::Error),
            vec![attr::CLIENT_SECURITY_GROUP_IDS]
        );
    }

    #[test]
    fn unknown_values_are_not_validated() {
        let mut d = Diagnostics::new();
        validate(
            &config(&[
                (attr::NAME, Value::Unknown),
                (attr::TOPOLOGY, Value::Unknown),
                // Only wrong for a topology, which is unknown.
                (attr::INSTANCE_TYPE, Value::string("t2.small")),
                (attr::NODE_COUNT, Value::int(1)),
                (attr::TAGS, Value::Unknown),
            ]),
            &mut d,
        );
        assert!(!d.has_error(), "{:?}", at(&d, Severity::Error));
    }

    async fn planned(prior: &Value, cfg: &Value) -> (Plan, Diagnostics) {
        let ctx = Ctx {
            data: None,
            cancel: tokio_util::sync::CancellationToken::new(),
        };
        let mut proposed = cfg.clone();
        if !prior.is_null() {
            for a in &schema().block.attributes {
                if a.computed && cfg.get(a.name).is_none_or(Value::is_null) {
                    proposed.set_attr(a.name, prior.get(a.name).cloned().unwrap_or(Value::Null));
                }
            }
        }
        let mut p = plan_change(&schema(), prior, &proposed, cfg);
        let mut d = Diagnostics::new();
        modify_plan(&ctx, &mut p, &mut d).await;
        (p, d)
    }

    #[tokio::test]
    async fn a_create_knows_the_derived_names_but_the_bucket() {
        let cfg = config(&[
            (attr::NAME, Value::string("s")),
            (attr::TOPOLOGY, Value::string("production")),
            (attr::APPLICATION_NAME, Value::string("app")),
        ]);
        let (p, d) = planned(&Value::Null, &cfg).await;
        assert!(!d.has_error());
        assert_eq!(p.get(attr::ID), &Value::string("s"));
        assert_eq!(p.get(attr::APPLICATION_NAME), &Value::string("app"));
        assert_eq!(
            p.get(attr::AUTOSCALING_GROUP_NAME),
            &Value::string(rules::asg_name("s", PRIMARY_GROUP))
        );
        assert_eq!(
            p.get(attr::NODE_ROLE_NAME),
            &Value::string(rules::node_role_name("s", PRIMARY_GROUP))
        );
        assert_eq!(
            p.get(attr::TABLE_NAME),
            &Value::string(rules::table_name("s"))
        );
        // Without clients the account, and so the bucket's name, is unknown.
        assert_eq!(p.get(attr::BUCKET_NAME), &Value::Unknown);
        // No vpc_id: the provider makes the network.
        assert_eq!(p.get(attr::NETWORK_MANAGED), &Value::bool(true));
    }

    #[tokio::test]
    async fn a_network_given_is_not_managed_and_an_unknown_one_not_yet_known() {
        let mut cfg = config(&[
            (attr::NAME, Value::string("s")),
            (attr::TOPOLOGY, Value::string("solo")),
            (attr::VPC_ID, Value::string("vpc-1")),
            (
                attr::SUBNET_IDS,
                Value::List(strings(&["subnet-a", "subnet-b"])),
            ),
        ]);
        let (p, _) = planned(&Value::Null, &cfg).await;
        assert_eq!(p.get(attr::NETWORK_MANAGED), &Value::bool(false));
        cfg.set_attr(attr::VPC_ID, Value::Unknown);
        let (p, _) = planned(&Value::Null, &cfg).await;
        assert_eq!(p.get(attr::NETWORK_MANAGED), &Value::Unknown);
    }

    #[tokio::test]
    async fn an_unknown_topology_leaves_its_defaults_unknown() {
        let cfg = config(&[
            (attr::NAME, Value::string("s")),
            (attr::TOPOLOGY, Value::Unknown),
        ]);
        let (p, d) = planned(&Value::Null, &cfg).await;
        assert!(!d.has_error());
        assert_eq!(p.get(attr::INSTANCE_TYPE), &Value::Unknown);
        assert_eq!(p.get(attr::NODE_COUNT), &Value::Unknown);
        // What the config sets stays.
        let cfg = config(&[
            (attr::NAME, Value::string("s")),
            (attr::TOPOLOGY, Value::Unknown),
            (attr::INSTANCE_TYPE, Value::string("i3.xlarge")),
            (attr::NODE_COUNT, Value::int(3)),
        ]);
        let (p, _) = planned(&Value::Null, &cfg).await;
        assert_eq!(p.get(attr::INSTANCE_TYPE), &Value::string("i3.xlarge"));
        assert_eq!(p.get(attr::NODE_COUNT), &Value::int(3));
    }

    #[tokio::test]
    async fn an_instance_type_of_the_config_is_checked_against_the_topology() {
        let cfg = config(&[
            (attr::NAME, Value::string("s")),
            (attr::TOPOLOGY, Value::string("production")),
            (attr::INSTANCE_TYPE, Value::string("t2.small")),
        ]);
        let (_, d) = planned(&Value::Null, &cfg).await;
        assert_eq!(at(&d, Severity::Error), vec![attr::INSTANCE_TYPE]);
        let cfg = config(&[
            (attr::NAME, Value::string("s")),
            (attr::TOPOLOGY, Value::string("production")),
            (attr::INSTANCE_TYPE, Value::string("i3.xlarge")),
        ]);
        let (p, d) = planned(&Value::Null, &cfg).await;
        assert!(!d.has_error());
        assert_eq!(p.get(attr::INSTANCE_TYPE), &Value::string("i3.xlarge"));
    }

    #[tokio::test]
    async fn an_image_lost_outside_terraform_is_planned_unknown() {
        let cfg = config(&[
            (attr::NAME, Value::string("s")),
            (attr::TOPOLOGY, Value::string("solo")),
        ]);
        let (p, _) = planned(&Value::Null, &cfg).await;
        let mut prior = p.planned.clone();
        prior.set_attr(attr::TAGS_ALL, Value::Map(Default::default()));
        prior.set_attr(attr::IMAGE_ID, Value::string(""));
        let (p, _) = planned(&prior, &cfg).await;
        assert_eq!(p.get(attr::IMAGE_ID), &Value::Unknown);
        prior.set_attr(attr::IMAGE_ID, Value::string("ami-1"));
        let (p, _) = planned(&prior, &cfg).await;
        assert_eq!(p.get(attr::IMAGE_ID), &Value::string("ami-1"));
    }

    fn destroy_warning(pairs: &[(&str, Value)]) -> (String, String) {
        let mut all = vec![
            (attr::NAME, Value::string("s")),
            (attr::VPC_ID, Value::string("vpc-1")),
            (attr::BUCKET_NAME, Value::string("bucket-1")),
            (attr::TABLE_NAME, Value::string("table-1")),
        ];
        all.extend(pairs.iter().cloned());
        let mut d = Diagnostics::new();
        plan_destroy(&config(&all), &mut d);
        let w: Vec<_> = d.iter().collect();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].severity, Severity::Warning);
        (w[0].summary.clone(), w[0].detail.clone())
    }

    #[test]
    fn a_destroy_says_what_storage_it_keeps_or_deletes() {
        // retain_storage unset (states before it): kept, named.
        let (summary, detail) = destroy_warning(&[]);
        assert_eq!(summary, "Destroying Datomic system \"s\" keeps its storage");
        for part in [
            "VPC vpc-1",
            "S3 bucket bucket-1",
            "DynamoDB table table-1",
            "KMS key alias/datomic-s",
        ] {
            assert!(detail.contains(part), "{detail}");
        }
        let (summary, _) = destroy_warning(&[(attr::RETAIN_STORAGE, Value::bool(true))]);
        assert!(summary.ends_with("keeps its storage"));

        let (summary, detail) = destroy_warning(&[(attr::RETAIN_STORAGE, Value::bool(false))]);
        assert_eq!(
            summary,
            "Destroying Datomic system \"s\" deletes its storage"
        );
        assert!(detail.contains("the VPC, S3 bucket"), "{detail}");
        assert!(
            detail.contains("KMS key is scheduled for deletion"),
            "{detail}"
        );

        // A network the user brought is kept, and said so.
        let (summary, detail) = destroy_warning(&[
            (attr::RETAIN_STORAGE, Value::bool(false)),
            (attr::NETWORK_MANAGED, Value::bool(false)),
        ]);
        assert!(summary.ends_with("deletes its storage"));
        assert!(!detail.contains("the VPC, S3 bucket"), "{detail}");
        assert!(detail.contains("(VPC vpc-1) is kept"), "{detail}");
    }
}
